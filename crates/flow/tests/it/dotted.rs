//! Texts may be written as dotted keys (`title.fr = "…"`), the way a person
//! editing a long text naturally writes them.
#[test]
fn dotted_keys_and_multi_line_texts_are_accepted() {
    let flow = crate::harness::inline(
        r#"
id = "dotted"
version = 1
languages = ["fr", "nl", "en", "de"]
title.fr = "t"
title.nl = "t"
title.en = "t"
title.de = "t"
summary = { fr = "s", nl = "s", en = "s", de = "s" }
pictogram = "help"

[[step]]
id = "done"
kind = "end"
outcome = "ok"
pictogram = "check"
title = { fr = "t", nl = "t", en = "t", de = "t" }
body.fr = """
Un.

Deux."""
body.nl = "Een."
body.en = "One."
body.de = "Eins."
"#,
    );
    assert_eq!(flow.steps.len(), 1);
}
