//! The steward's side of the real window: first start, the PIN, outreach
//! sessions, counting and undo, training mode, leaving the kiosk.

use std::time::Duration;

use crate::artifacts;
use dps_e2e::{enabled, Error, Kiosk, STAND_PLACE, STEWARD_PIN};

/// Opens the steward area with the PIN.
pub async fn unlock(k: &Kiosk) -> Result<(), Error> {
    k.click("[data-action=steward]").await?;
    k.find("[data-screen=steward][data-unlocked=no]").await?;
    k.find("#steward-pin").await?.send_keys(STEWARD_PIN).await?;
    k.click("[data-action=unlock]").await?;
    k.find("[data-screen=steward][data-unlocked=yes]").await?;
    Ok(())
}

pub async fn close_steward(k: &Kiosk) -> Result<(), Error> {
    k.click("[data-action=steward-close]").await?;
    k.wait_gone("[data-screen=steward]").await
}

/// Waits until the status bar's session chip shows `visits`.
pub async fn wait_visits(k: &Kiosk, visits: u64) -> Result<(), Error> {
    let want = visits.to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let chip = k.find("[data-testid=session-chip]").await?;
        if chip.attr("data-visits").await?.as_deref() == Some(want.as_str()) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "the session chip never showed {visits} visits: {:?}",
                chip.text().await?
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Walks "other digital help" (no card needed) to its end: one visit.
pub async fn other_help_visit(k: &Kiosk) -> Result<(), Error> {
    k.click("[data-action=start]").await?;
    k.click("[data-procedure=other-help]").await?;
    for _ in 0..20 {
        let main = k.find("main[data-screen]").await?;
        if main.attr("data-screen").await?.as_deref() != Some("journey") {
            return Ok(());
        }
        let step = main.attr("data-step").await?.unwrap_or_default();
        match main.attr("data-kind").await?.as_deref() {
            Some("info") => k.click("[data-action=next]").await?,
            Some("check") => k.click("[data-action=tick]").await?,
            Some("choice") => k.click("[data-option]").await?,
            Some("end") => {
                k.click("[data-action=finish]").await?;
                // Welcome, or "take your card" when a card is still in.
                k.find("main[data-screen=welcome], main[data-screen=take_card]")
                    .await?;
                return Ok(());
            }
            other => return Err(format!("unexpected step kind {other:?}").into()),
        }
        // The next screen (another step, or the end of the journey).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let now = k.find("main[data-screen]").await?;
            if now.attr("data-step").await?.as_deref() != Some(step.as_str()) {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("stuck on step {step}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Err("the journey did not end".into())
}

#[tokio::test]
async fn first_start_sets_the_pin_and_opens_a_session() -> Result<(), Error> {
    if !enabled("first_start_sets_the_pin_and_opens_a_session") {
        return Ok(());
    }
    let k = Kiosk::launch_fresh(&[]).await?;
    k.find("main[data-screen=setup]").await?;
    k.assert_axe_clean("first-start setup").await?;
    // The steward picks Dutch for themselves; a mistyped PIN is caught.
    k.click("[data-steward-lang=nl]").await?;
    k.wait_text("main[data-screen=setup] h1", "Deze kiosk instellen")
        .await?;
    k.find("#setup-pin").await?.send_keys("4826").await?;
    k.find("#setup-confirm").await?.send_keys("4862").await?;
    k.click("[data-action=set-pin]").await?;
    k.wait_contains("[data-testid=setup-error]", "niet gelijk")
        .await?;
    k.find("#setup-pin").await?.clear().await?;
    k.find("#setup-confirm").await?.clear().await?;
    k.find("#setup-pin").await?.send_keys("4826").await?;
    k.find("#setup-confirm").await?.send_keys("4826").await?;
    k.click("[data-action=set-pin]").await?;
    // The steward area opens at once, in Dutch, to start a session.
    k.find("[data-screen=steward][data-unlocked=yes]").await?;
    k.wait_text("#steward-title", "Begeleidersruimte").await?;
    k.assert_axe_clean("steward area, no session").await?;
    // A pop-up place with no name is refused in plain words.
    k.click("input[name=site-kind][value=pop_up]").await?;
    k.click("[data-action=start-session]").await?;
    k.wait_contains("[data-testid=steward-error]", "plek")
        .await?;
    k.find("#place").await?.send_keys("Marché du Midi").await?;
    k.find("#municipality")
        .await?
        .select_by_value("saint-gilles")
        .await?;
    k.click("[data-action=start-session]").await?;
    k.wait_contains(
        "[data-testid=session-site]",
        "Marché du Midi (Saint-Gilles)",
    )
    .await?;
    k.screenshot(&artifacts().join("steward-session.png"))
        .await?;
    close_steward(&k).await?;
    // The welcome screen is in French for residents; the steward's chip in Dutch.
    k.wait_text("h1", "Bienvenue").await?;
    k.wait_contains("[data-testid=session-chip]", "Sessie: Marché du Midi")
        .await?;
    wait_visits(&k, 0).await?;
    k.assert_axe_clean("welcome with a session").await?;
    Ok(())
}

#[tokio::test]
async fn visits_are_counted_undone_and_summed_in_the_steward_area() -> Result<(), Error> {
    if !enabled("visits_are_counted_undone_and_summed_in_the_steward_area") {
        return Ok(());
    }
    let k = Kiosk::launch_with(&[]).await?;
    k.wait_contains("[data-testid=session-chip]", STAND_PLACE)
        .await?;
    wait_visits(&k, 0).await?;
    other_help_visit(&k).await?;
    wait_visits(&k, 1).await?;
    other_help_visit(&k).await?;
    wait_visits(&k, 2).await?;

    // A wrong PIN is refused and says how many tries are left.
    k.click("[data-action=steward]").await?;
    k.find("#steward-pin").await?.send_keys("0000").await?;
    k.click("[data-action=unlock]").await?;
    k.wait_contains("[data-testid=steward-error]", "4").await?;
    k.find("#steward-pin").await?.send_keys(STEWARD_PIN).await?;
    k.click("[data-action=unlock]").await?;
    k.find("[data-screen=steward][data-unlocked=yes]").await?;
    let total = k.find("[data-testid=session-summary-total]").await?;
    assert_eq!(total.attr("data-visits").await?.as_deref(), Some("2"));
    // Procedures and outcomes by name, in the steward's language, not ids.
    let summary = k.text("[data-testid=session-summary]").await?;
    assert!(
        summary.contains("Autre aide numérique") && summary.contains("Aide pour les e-mails"),
        "{summary}"
    );
    assert!(
        !summary.contains("other-help") && !summary.contains("help_email"),
        "{summary}"
    );
    k.find("[data-testid=session-summary] tr[data-procedure=other-help][data-outcome=help_email]")
        .await?;
    k.assert_axe_clean("steward area with a session").await?;

    // The steward mis-tapped: undo the last visit.
    k.click("[data-action=undo-visit]").await?;
    k.wait_contains("[data-testid=undone]", "2").await?;
    let total = k.find("[data-testid=session-summary-total]").await?;
    assert_eq!(total.attr("data-visits").await?.as_deref(), Some("1"));
    let today = k.find("[data-testid=today-summary-total]").await?;
    assert_eq!(today.attr("data-visits").await?.as_deref(), Some("1"));

    // The steward's language changes the steward area, not the resident's.
    k.click("[data-steward-lang=en]").await?;
    k.wait_text("#steward-title", "Steward area").await?;
    k.wait_contains("[data-testid=today-summary]", "Other digital help")
        .await?;
    k.wait_contains("[data-testid=today-summary]", "Help with e-mails")
        .await?;

    // End of the session: its summary stays, counting stops.
    k.click("[data-action=end-session]").await?;
    let ended = k.find("[data-testid=ended-summary-total]").await?;
    assert_eq!(ended.attr("data-visits").await?.as_deref(), Some("1"));
    close_steward(&k).await?;
    k.wait_text("h1", "Bienvenue").await?;
    k.wait_contains("[data-testid=session-chip]", "No session open")
        .await?;
    let chip = k.find("[data-testid=session-chip]").await?;
    assert_eq!(
        chip.attr("data-counting").await?.as_deref(),
        Some("no_session")
    );
    k.screenshot(&artifacts().join("steward-no-session.png"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn training_visits_are_never_counted() -> Result<(), Error> {
    if !enabled("training_visits_are_never_counted") {
        return Ok(());
    }
    let k = Kiosk::launch_with(&[]).await?;
    wait_visits(&k, 0).await?;
    unlock(&k).await?;
    k.click("[data-action=training]").await?;
    k.find("[data-testid=training-banner]").await?;
    close_steward(&k).await?;
    // A sample resident "inserts her card" and is greeted.
    k.click("[data-training-card='0']").await?;
    k.wait_contains("[data-testid=greeting]", "Marie").await?;
    k.assert_axe_clean("welcome in training").await?;
    k.screenshot(&artifacts().join("training.png")).await?;
    other_help_visit(&k).await?;
    k.click("[data-action=training-card-out]").await?;
    k.wait_gone("[data-testid=greeting]").await?;
    // A whole journey in training: still 0, here and in today's tally.
    wait_visits(&k, 0).await?;
    unlock(&k).await?;
    let today = k.find("[data-testid=today-summary-total]").await?;
    assert_eq!(today.attr("data-visits").await?.as_deref(), Some("0"));
    k.click("[data-action=training]").await?;
    k.wait_gone("[data-testid=training-banner]").await?;
    close_steward(&k).await?;
    // Out of training, the same journey counts.
    other_help_visit(&k).await?;
    wait_visits(&k, 1).await?;
    Ok(())
}

/// Whether a `dps-kiosk` process runs with this data dir.
fn kiosk_running(xdg_data_home: &std::path::Path) -> bool {
    let want = format!("XDG_DATA_HOME={}", xdg_data_home.display());
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        let exe = std::fs::read_link(p.path().join("exe")).unwrap_or_default();
        exe.file_name().is_some_and(|n| n == "dps-kiosk")
            && std::fs::read(p.path().join("environ"))
                .map(|env| env.split(|b| *b == 0).any(|v| v == want.as_bytes()))
                .unwrap_or(false)
    })
}

#[tokio::test]
async fn a_resident_cannot_leave_and_a_second_start_focuses_the_first() -> Result<(), Error> {
    if !enabled("a_resident_cannot_leave_and_a_second_start_focuses_the_first") {
        return Ok(());
    }
    let k = Kiosk::launch_with(&[]).await?;
    k.wait_text("h1", "Bienvenue").await?;
    k.click("[data-action=start]").await?;
    k.find("main[data-screen=procedures]").await?;
    // Reload and close shortcuts do nothing: the page is not reloaded.
    k.client
        .execute("window.__still_here = 'yes'; return null", vec![])
        .await
        .map_err(|e| format!("marking the page: {e:?}"))?;
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    for (modifier, key) in [
        (None, char::from(Key::F5)),
        (Some(Key::Control), 'r'),
        (Some(Key::Control), 'w'),
        (Some(Key::Control), 'q'),
        (Some(Key::Alt), char::from(Key::Left)),
    ] {
        let mut keys = KeyActions::new("keyboard".into());
        if let Some(m) = modifier {
            keys = keys.then(KeyAction::Down { value: m.into() });
        }
        keys = keys
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        if let Some(m) = modifier {
            keys = keys.then(KeyAction::Up { value: m.into() });
        }
        k.client
            .perform_actions(keys)
            .await
            .map_err(|e| format!("keys {modifier:?}+{key:?}: {e:?}"))?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = k
        .client
        .execute("return window.__still_here || null", vec![])
        .await?;
    assert_eq!(
        still,
        serde_json::json!("yes"),
        "a shortcut reloaded the page"
    );
    k.find("main[data-screen=procedures]").await?;

    // A second start does not open a second kiosk: it brings the first forward.
    let out = std::process::Command::new(dps_e2e::app_binary())
        .env("DISPLAY", k.display())
        .env("XDG_DATA_HOME", k.data_dir.path())
        .env("WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS", "1")
        .output()?;
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already open"),
        "{out:?}"
    );
    assert!(kiosk_running(k.data_dir.path()));

    // Only the steward's "quit", behind the PIN, ends the kiosk.
    k.click("[data-action=home]").await.ok();
    unlock(&k).await?;
    // The app exits while WebDriver waits for the click's answer, which may
    // then fail: what counts is that the process is gone.
    let _ = k.click("[data-action=quit]").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while kiosk_running(k.data_dir.path()) {
        if std::time::Instant::now() > deadline {
            return Err("the kiosk did not quit".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
