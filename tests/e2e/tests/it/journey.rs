//! The guided journeys in the real window, with real pcscd and virtual cards.

use dps_e2e::{enabled, Error, Kiosk};
use dps_vcard::harness::Pcscd;
use dps_vcard::{CardImage, CardSpec, InsertedCard, KeyKind, TestPki};

/// A stand for a card test: a private pcscd with one reader (started before
/// the window, so its watcher finds the reader) and a throw-away PKI.
struct Stand {
    pcscd: Pcscd,
    pki: TestPki,
}

impl Stand {
    async fn open(env: &[(&str, &str)]) -> Result<(Stand, Kiosk), Error> {
        let pcscd = Pcscd::start(1)?;
        let pki = TestPki::generate(KeyKind::Ec, "DPS e2e Root")?;
        let k = Kiosk::launch_with(env).await?;
        Ok((Stand { pcscd, pki }, k))
    }

    /// Inserts a card into the reader; dropping it pulls the card out.
    fn insert(&self, spec: &CardSpec) -> Result<InsertedCard, Error> {
        Ok(self.pcscd.insert(0, CardImage::build(spec, &self.pki)?)?)
    }

    fn resident(&self, birth_date: &str, postcode: &str) -> Result<InsertedCard, Error> {
        self.insert(&resident(birth_date, postcode))
    }
}

fn resident(birth_date: &str, postcode: &str) -> CardSpec {
    CardSpec {
        birth_date: birth_date.into(),
        postcode: postcode.into(),
        ..CardSpec::default()
    }
}

/// Takes the journey on screen to its end: the given option where a choice
/// offers it, else the first; "next"/"done" otherwise. Checks axe on every
/// screen and returns the (step, kind) path and the outcome shown.
async fn walk(k: &Kiosk, prefer: &[&str]) -> Result<(Vec<String>, String), Error> {
    let mut path = Vec::new();
    for _ in 0..40 {
        let main = k.find("main[data-screen=journey]").await?;
        let step = main.attr("data-step").await?.unwrap_or_default();
        let kind = main.attr("data-kind").await?.unwrap_or_default();
        k.assert_axe_clean(&format!("step {step}")).await?;
        path.push(format!("{step}:{kind}"));
        match kind.as_str() {
            "info" => k.click("[data-action=next]").await?,
            "check" => k.click("[data-action=tick]").await?,
            "choice" => {
                let mut chosen = None;
                for p in prefer {
                    if k.client
                        .find(fantoccini::Locator::Css(&format!("[data-option='{p}']")))
                        .await
                        .is_ok()
                    {
                        chosen = Some(format!("[data-option='{p}']"));
                        break;
                    }
                }
                k.click(chosen.as_deref().unwrap_or("[data-option]"))
                    .await?;
            }
            "end" => {
                let outcome = main.attr("data-outcome").await?.unwrap_or_default();
                return Ok((path, outcome));
            }
            other => return Err(format!("unexpected step kind {other} at {step}").into()),
        }
        // Wait for the next screen (the step id changes).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let now = k.find("main[data-screen]").await?;
            if now.attr("data-step").await?.as_deref() != Some(step.as_str()) {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("stuck on {step}").into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    Err("journey did not end in 40 steps".into())
}

async fn start_bruvax(k: &Kiosk) -> Result<(), Error> {
    k.click("[data-action=start]").await?;
    k.wait_for("main[data-screen=procedures]").await?;
    k.assert_axe_clean("procedures").await?;
    k.click("[data-procedure=bruvax-registration]").await
}

#[tokio::test]
async fn bruvax_with_a_card_in_each_age_phase() -> Result<(), Error> {
    if !enabled("bruvax_with_a_card_in_each_age_phase") {
        return Ok(());
    }
    let (stand, k) = Stand::open(&[]).await?;
    k.wait_text(
        "[data-testid=reader-text]",
        "Mettez votre carte d'identité dans le lecteur.",
    )
    .await?;
    k.assert_axe_clean("welcome with reader").await?;

    // Born in 1985: today (phase 3, from 7 June 2021) everyone born in 2003
    // or before books an appointment.
    let card = stand.resident("30 JUIL 1985", "1030")?;
    k.wait_text("[data-testid=greeting]", "Bonjour Émilie !")
        .await?;
    start_bruvax(&k).await?;
    // The card already in identifies the resident: the identify step is passed.
    k.wait_for("main[data-step=open-site]").await?;
    let (path, outcome) = walk(&k, &["sms", "yes"]).await?;
    assert_eq!(outcome, "appointment_booked", "{path:?}");
    assert!(path.iter().any(|s| s == "type-number:check"), "{path:?}");
    k.click("[data-action=finish]").await?;
    k.wait_for("main[data-screen=take_card]").await?;
    k.assert_axe_clean("take card").await?;
    drop(card);
    k.wait_for("main[data-screen=welcome]").await?;
    k.wait_gone("[data-testid=greeting]").await?;

    // Born in 2006: waiting list. Born in 2012: not yet eligible.
    for (birth, want) in [
        ("15 MARS 2006", "waiting_list"),
        ("03 MEI 2012", "not_yet_eligible"),
    ] {
        let card = stand.resident(birth, "1210")?;
        k.wait_for("[data-testid=greeting]").await?;
        start_bruvax(&k).await?;
        let (path, outcome) = walk(&k, &[]).await?;
        assert_eq!(outcome, want, "{birth}: {path:?}");
        drop(card);
        k.wait_for("main[data-screen=welcome]").await?;
    }
    k.close().await
}

#[tokio::test]
async fn the_number_shown_large_is_grouped_as_on_the_card() -> Result<(), Error> {
    if !enabled("the_number_shown_large_is_grouped_as_on_the_card") {
        return Ok(());
    }
    let (stand, k) = Stand::open(&[]).await?;
    let _card = stand.resident("30 JUIL 1985", "1030")?;
    k.wait_for("[data-testid=greeting]").await?;
    start_bruvax(&k).await?;
    k.wait_for("main[data-step=open-site]").await?;
    // The number is on no screen but the one that needs it.
    assert!(
        !k.page_text().await?.contains("85.07.30"),
        "number shown too early"
    );
    k.click("[data-action=tick]").await?;
    k.wait_text("[data-testid=national-number]", "85.07.30-033.28")
        .await?;
    k.click("[data-action=tick]").await?;
    k.wait_for("main[data-step=type-postcode]").await?;
    assert!(
        !k.page_text().await?.contains("85.07.30"),
        "number left on screen"
    );
    k.close().await
}

#[tokio::test]
async fn manual_entry_with_a_typo_then_the_right_number() -> Result<(), Error> {
    if !enabled("manual_entry_with_a_typo_then_the_right_number") {
        return Ok(());
    }
    let (_stand, k) = Stand::open(&[]).await?;
    k.click("button[data-lang=en]").await?;
    k.wait_text("h1", "Welcome").await?;
    start_bruvax(&k).await?;
    k.wait_for("main[data-step=identify]").await?;
    k.assert_axe_clean("identify").await?;
    // One digit wrong: the check digits catch it, and say so plainly.
    k.find("#manual-number")
        .await?
        .send_keys("85.07.30-033.29")
        .await?;
    k.find("#manual-postcode").await?.send_keys("1080").await?;
    k.click("[data-action=manual-submit]").await?;
    let err = k.find("[data-testid=step-error]").await?;
    assert_eq!(
        err.attr("data-code").await?.as_deref(),
        Some("number_check_digits")
    );
    let message = err.text().await?;
    assert!(message.to_lowercase().contains("digit"), "{message}");
    assert!(
        !message.contains("85"),
        "the error must not echo the number: {message}"
    );
    k.assert_axe_clean("identify with error").await?;
    // The typed values were cleared; type the right number.
    assert_eq!(
        k.find("#manual-number")
            .await?
            .prop("value")
            .await?
            .as_deref(),
        Some("")
    );
    k.find("#manual-number")
        .await?
        .send_keys("85073003328")
        .await?;
    k.find("#manual-postcode").await?.send_keys("1080").await?;
    k.click("[data-action=manual-submit]").await?;
    // Typed by hand: the number is read back to the resident first.
    k.wait_for("main[data-step=read-back]").await?;
    k.wait_text("[data-testid=national-number]", "85.07.30-033.28")
        .await?;
    k.close().await
}

#[tokio::test]
async fn pulling_the_card_mid_journey_wipes_it_and_goes_home() -> Result<(), Error> {
    if !enabled("pulling_the_card_mid_journey_wipes_it_and_goes_home") {
        return Ok(());
    }
    let (stand, k) = Stand::open(&[]).await?;
    let card = stand.resident("30 JUIL 1985", "1030")?;
    k.wait_for("[data-testid=greeting]").await?;
    start_bruvax(&k).await?;
    k.wait_for("main[data-step=open-site]").await?;
    k.click("[data-action=tick]").await?;
    k.wait_for("[data-testid=national-number]").await?;
    drop(card);
    k.wait_for("main[data-screen=welcome]").await?;
    let text = k.page_text().await?;
    for personal in ["Émilie", "85.07.30", "85073003328", "Dupont", "Haecht"] {
        assert!(
            !text.contains(personal),
            "{personal} still on screen:\n{text}"
        );
    }
    k.close().await
}

#[tokio::test]
async fn idle_timeout_warns_then_wipes() -> Result<(), Error> {
    if !enabled("idle_timeout_warns_then_wipes") {
        return Ok(());
    }
    // 60 s in the field (warning at 45 s); 6 s here with the same logic.
    let (stand, k) = Stand::open(&[("DPS_IDLE_SECONDS", "6")]).await?;
    let _card = stand.resident("30 JUIL 1985", "1030")?;
    k.wait_for("[data-testid=greeting]").await?;
    start_bruvax(&k).await?;
    k.wait_for("main[data-step=open-site]").await?;
    k.wait_for("[data-testid=idle-warning]").await?;
    k.assert_axe_clean("idle warning").await?;
    k.wait_for("main[data-screen=welcome]").await?;
    k.wait_gone("[data-testid=greeting]").await?;
    k.close().await
}

#[tokio::test]
async fn the_journey_in_dutch_and_german() -> Result<(), Error> {
    if !enabled("the_journey_in_dutch_and_german") {
        return Ok(());
    }
    let (stand, k) = Stand::open(&[]).await?;
    for (lang, greeting, take) in [
        ("nl", "Hallo Émilie!", "Dank u!"),
        ("de", "Hallo Émilie!", "Danke!"),
    ] {
        k.click(&format!("button[data-lang={lang}]")).await?;
        let card = stand.resident("30 JUIL 1985", "1030")?;
        k.wait_text("[data-testid=greeting]", greeting).await?;
        start_bruvax(&k).await?;
        let (path, outcome) = walk(&k, &["sms", "yes"]).await?;
        assert_eq!(outcome, "appointment_booked", "{lang}: {path:?}");
        k.click("[data-action=finish]").await?;
        k.wait_text("h1", take).await?;
        drop(card);
        k.wait_for("main[data-screen=welcome]").await?;
    }
    k.close().await
}

#[tokio::test]
async fn reader_states_are_always_visible() -> Result<(), Error> {
    if !enabled("reader_states_are_always_visible") {
        return Ok(());
    }
    let (stand, k) = Stand::open(&[]).await?;
    k.wait_for("header[data-reader=insert_card]").await?;
    // A slow card: held 1.5 s before its 5th answer, the window says it is
    // reading (and not to take the card out), then that it was read.
    let mut spec = resident("30 JUIL 1985", "1030");
    spec.behaviour.pause_at_apdu = Some((5, 1500));
    let card = stand.insert(&spec)?;
    k.wait_for("header[data-reader=reading]").await?;
    k.wait_text(
        "[data-testid=reader-text]",
        "Lecture de la carte… Ne retirez pas la carte.",
    )
    .await?;
    assert!(!k.page_text().await?.contains("Émilie"), "not read yet");
    k.assert_axe_clean("reading").await?;
    k.wait_for("header[data-reader=read]").await?;
    k.wait_text("[data-testid=reader-text]", "Carte lue.")
        .await?;
    k.wait_text("[data-testid=greeting]", "Bonjour Émilie !")
        .await?;
    drop(card);
    k.wait_for("header[data-reader=insert_card]").await?;
    k.wait_gone("[data-testid=greeting]").await?;
    let mut spec = resident("30 JUIL 1985", "1030");
    spec.behaviour.not_eid = true;
    let card = stand.insert(&spec)?;
    k.wait_for("header[data-reader=not_eid]").await?;
    k.wait_text(
        "[data-testid=reader-text]",
        "Ce n'est pas une carte d'identité belge.",
    )
    .await?;
    k.assert_axe_clean("not an eID").await?;
    drop(card);
    // vpcd looks for the card every 400 ms: a card put back sooner can
    // replace the old one unseen (no removal, no new read). A resident cannot
    // swap cards that fast; wait as they would. The window shows nothing new
    // on this removal (a failed read keeps saying why), so there is no
    // on-screen signal to wait for instead.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let mut spec = resident("30 JUIL 1985", "1030");
    spec.behaviour.remove_at_apdu = Some(4);
    let _card = stand.insert(&spec)?;
    k.wait_for("header[data-reader=removed_too_early]").await?;
    k.assert_axe_clean("removed too early").await?;
    assert!(!k.page_text().await?.contains("Émilie"));
    k.close().await
}

// The guard is the harness's "one pcscd at a time" turn, held on purpose
// while the window runs without a card service; nothing else in this
// single-threaded test runtime takes it.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn no_card_service_then_no_reader_then_back_to_insert_card() -> Result<(), Error> {
    if !enabled("no_card_service_then_no_reader_then_back_to_insert_card") {
        return Ok(());
    }
    // No pcscd at all when the kiosk starts: it says so in plain words.
    let none = dps_vcard::harness::without_pcscd()?;
    let k = Kiosk::launch_with(&[]).await?;
    k.wait_for("header[data-reader=service_unavailable]")
        .await?;
    k.wait_text(
        "[data-testid=reader-text]",
        "Le service des cartes ne fonctionne pas. L'animateur doit redémarrer l'ordinateur.",
    )
    .await?;
    k.assert_axe_clean("card service not running").await?;
    drop(none);
    // pcscd starts, with no reader configured: "plug in the reader".
    let pcscd = Pcscd::start(0)?;
    k.wait_for("header[data-reader=no_reader]").await?;
    k.wait_text(
        "[data-testid=reader-text]",
        "Aucun lecteur de carte. Branchez le lecteur.",
    )
    .await?;
    k.assert_axe_clean("no reader").await?;
    // The service stops again, then comes back with a reader: back to
    // "insert your card", without restarting the kiosk.
    drop(pcscd);
    k.wait_for("header[data-reader=service_unavailable]")
        .await?;
    let _pcscd = Pcscd::start(1)?;
    k.wait_for("header[data-reader=insert_card]").await?;
    k.wait_text(
        "[data-testid=reader-text]",
        "Mettez votre carte d'identité dans le lecteur.",
    )
    .await?;
    k.close().await
}

#[tokio::test]
async fn waiting_list_and_find_a_dps_in_other_languages() -> Result<(), Error> {
    if !enabled("waiting_list_and_find_a_dps_in_other_languages") {
        return Ok(());
    }
    let (stand, k) = Stand::open(&[]).await?;

    // The waiting list, in English: open from 12 May to 25 June 2021 (data
    // in the flow), so today it says the list is closed.
    k.click("button[data-lang=en]").await?;
    let card = stand.resident("30 JUIL 1985", "1060")?;
    k.wait_text("[data-testid=greeting]", "Hello Émilie!")
        .await?;
    k.click("[data-action=start]").await?;
    k.click("[data-procedure=bruvax-waiting-list]").await?;
    let (path, outcome) = walk(&k, &[]).await?;
    assert_eq!(outcome, "waiting_list_closed", "{path:?}");
    k.click("[data-action=finish]").await?;
    drop(card);
    k.wait_for("main[data-screen=welcome]").await?;

    // Find a DPS, in Dutch, for a resident of Molenbeek (1080): the DPSs of
    // their own municipality come first, then the neighbours'.
    k.click("button[data-lang=nl]").await?;
    let _card = stand.resident("30 JUIL 1985", "1080")?;
    k.wait_for("[data-testid=greeting]").await?;
    k.click("[data-action=start]").await?;
    k.click("[data-procedure=find-dps]").await?;
    let (path, outcome) = walk(&k, &[]).await?;
    assert_eq!(outcome, "referred", "{path:?}");
    k.wait_text(
        "#nearby-title",
        "Openbare digitale ruimtes bij u in de buurt",
    )
    .await?;
    let nearness: Vec<String> = {
        let mut v = Vec::new();
        for li in k
            .client
            .find_all(fantoccini::Locator::Css(".nearby li"))
            .await?
        {
            v.push(li.attr("data-nearness").await?.unwrap_or_default());
        }
        v
    };
    assert!(
        nearness.first().map(String::as_str) == Some("own"),
        "{nearness:?}"
    );
    assert!(nearness.iter().any(|n| n == "neighbouring"), "{nearness:?}");
    let first_own = k.text(".nearby li[data-nearness=own]").await?;
    assert!(first_own.contains("Molenbeek"), "{first_own}");
    k.assert_axe_clean("find a DPS list").await?;
    k.close().await
}

#[tokio::test]
async fn a_broken_flow_file_is_refused_and_the_steward_sees_why() -> Result<(), Error> {
    if !enabled("a_broken_flow_file_is_refused_and_the_steward_sees_why") {
        return Ok(());
    }
    // A copy of the assets with one broken procedure added.
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let assets = tempfile::tempdir()?;
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo.join("assets/."))
        .arg(assets.path())
        .status()?;
    assert!(status.success());
    std::fs::copy(
        repo.join("crates/flow/tests/fixtures/flows/dangling.toml"),
        assets.path().join("flows/zz-broken.toml"),
    )?;
    let dir = assets.path().to_string_lossy().into_owned();
    let k = Kiosk::launch_with(&[("DPS_ASSETS_DIR", dir.as_str())]).await?;
    let problems = k.text("[data-testid=flow-problems]").await?;
    assert!(problems.contains("zz-broken.toml"), "{problems}");
    k.click("[data-action=start]").await?;
    k.wait_for("main[data-screen=procedures]").await?;
    let offered = k
        .client
        .find_all(fantoccini::Locator::Css("[data-procedure]"))
        .await?
        .len();
    assert_eq!(offered, 4, "only the four good procedures are offered");
    k.close().await
}
