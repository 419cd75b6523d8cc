use dps_directory::{assets_dir, Directory, DirectoryError, Nearby, DIRECTORY_FILE};
use dps_model::Municipality;
use expect_test::{expect, Expect};

fn bundled() -> Directory {
    Directory::load(&assets_dir().join(DIRECTORY_FILE)).unwrap()
}

fn show(n: &Nearby<'_>) -> String {
    let line = |s: &&dps_directory::Site| format!("{} ({})", s.id, s.municipality);
    format!(
        "residence: {}\nown: {}\nneighbouring: {}\nothers: {}\n",
        n.residence,
        n.own.iter().map(line).collect::<Vec<_>>().join(", "),
        n.neighbouring
            .iter()
            .map(line)
            .collect::<Vec<_>>()
            .join(", "),
        n.others.len(),
    )
}

fn check_nearby(postcode: &str, expect: Expect) {
    expect.assert_eq(&show(&bundled().nearby(postcode)));
}

#[test]
fn the_bundled_directory_loads_with_every_listed_space() {
    let dir = bundled();
    assert_eq!(dir.sites().len(), 26);
    // Every site has its municipality's postcode and a unique id, or loading failed.
    let anderlecht = dir
        .sites()
        .iter()
        .filter(|s| s.municipality == Municipality::Anderlecht);
    assert_eq!(anderlecht.count(), 4);
    assert_eq!(
        dir.site("wolu-cyber-cite").map(|s| s.municipality),
        Some(Municipality::WoluweSaintLambert)
    );
    // Borders are symmetric and every municipality has at least one.
    for m in Municipality::ALL {
        let ns: Vec<_> = dir.neighbours(m).collect();
        assert!(!ns.is_empty(), "{m} has no neighbour");
        for n in ns {
            assert!(dir.neighbours(n).any(|x| x == m), "{m} - {n} not symmetric");
        }
    }
}

#[test]
fn own_municipality_first_then_neighbours() {
    check_nearby(
        "1030",
        expect![[r#"
            residence: schaerbeek
            own: de-schakel (schaerbeek), dps1030 (schaerbeek), cyberogier (schaerbeek)
            neighbouring: arc (bruxelles), riches-claires (bruxelles), bravvo (bruxelles), mobile-dps (bruxelles), laeken-library (bruxelles), entrela (evere), sapiens (saint-josse-ten-noode), wolu-cyber-cite (woluwe-saint-lambert)
            others: 15
        "#]],
    );
    // Auderghem has no certified space of its own: neighbours only.
    check_nearby(
        "1160",
        expect![[r#"
            residence: auderghem
            own: 
            neighbouring: ixelles-library (ixelles), watermael-boitsfort (watermael-boitsfort)
            others: 24
        "#]],
    );
    // Laeken (1020) is part of the City of Brussels.
    check_nearby(
        "1020",
        expect![[r#"
            residence: bruxelles
            own: arc (bruxelles), riches-claires (bruxelles), bravvo (bruxelles), mobile-dps (bruxelles), laeken-library (bruxelles)
            neighbouring: open-atelier-110-anderlecht (anderlecht), scheut (anderlecht), goujons (anderlecht), neve-andertech (anderlecht), entrela (evere), ixelles-library (ixelles), bibliojette (jette), open-atelier-110-molenbeek (molenbeek-saint-jean), study-kids-support (molenbeek-saint-jean), atelier-du-web (saint-gilles), sapiens (saint-josse-ten-noode), de-schakel (schaerbeek), dps1030 (schaerbeek), cyberogier (schaerbeek), uccle (uccle), phare (uccle), watermael-boitsfort (watermael-boitsfort)
            others: 4
        "#]],
    );
    check_nearby(
        "9000",
        expect![[r#"
            residence: other_be
            own: 
            neighbouring: 
            others: 26
        "#]],
    );
}

#[test]
fn every_problem_is_listed_with_its_line() {
    let text = r#"
borders = [
  ["ixelles", "ixelles"],
  ["ixelles", "atlantis"],
  ["uccle"],
  ["uccle", "forest"],
  ["forest", "uccle"],
]

[[site]]
id = "Bad Id"
name = " "
addresses = []
postcode = "1030"
municipality = "ixelles"
phone = "02 123 45 67"

[[site]]
id = "ok"
name = "Somewhere"
addresses = ["Rue 1"]
postcode = "9000"
municipality = "gent"

[[site]]
id = "ok"
name = "Twice"
addresses = ["Rue 2"]
postcode = "1050"
municipality = "ixelles"
"#;
    let Err(DirectoryError::Invalid(problems)) = Directory::parse("dir.toml", text) else {
        panic!("accepted a broken directory");
    };
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    expect![[r#"
        dir.toml:3:3: ixelles cannot border itself
        dir.toml:4:15: unknown municipality "atlantis" (use a slug such as "saint-gilles")
        dir.toml:5:3: a border is a pair of two municipalities
        dir.toml:7:3: the border forest - uccle is listed twice
        dir.toml:11:6: site id "Bad Id" must be lowercase letters, digits, '-' or '_'
        dir.toml:12:8: a site needs a name
        dir.toml:13:13: a site needs at least one address
        dir.toml:14:12: postcode 1030 is in schaerbeek, not in ixelles
        dir.toml:16:9: phone "02 123 45 67" must be written +32 followed by 8 or 9 digits
        dir.toml:23:16: unknown municipality "gent" (use a slug such as "saint-gilles")
        dir.toml:22:12: postcode "9000" is not a postcode of the Brussels-Capital Region
        dir.toml:26:6: site id "ok" is used twice"#]]
    .assert_eq(&listed.join("\n"));
}

#[test]
fn a_syntax_error_is_located() {
    let Err(err) = Directory::parse("dir.toml", "[[site]]\nid = \n") else {
        panic!("accepted")
    };
    let msg = err.to_string();
    assert!(msg.starts_with("dir.toml:2:"), "{msg}");
}
