//! A damaged counts store, in the real window started with `--data-dir`:
//! set aside, counting goes on, the PIN still opens the steward area (no
//! first-start setup for whoever stands at the kiosk), and the steward reads
//! what happened in their own language until they acknowledge it.

use dps_e2e::{enabled, set_up_steward_with, Error, Kiosk, Launch, STAND_PLACE};

use crate::steward::{other_help_visit, unlock, wait_visits};

#[tokio::test]
async fn a_damaged_store_is_set_aside_and_the_steward_told_in_their_language() -> Result<(), Error>
{
    if !enabled("a_damaged_store_is_set_aside_and_the_steward_told_in_their_language") {
        return Ok(());
    }
    let home = tempfile::tempdir()?;
    // The global --data-dir, not the XDG default the other tests use.
    let data = home.path().join("kiosk-data");
    set_up_steward_with(&data, |store| {
        store.set_steward_language(dps_model::Language::Nl)?;
        Ok(())
    })?;
    // Damaged the way the tally crate's corruption tests damage it.
    let db = data.join(dps_tally::STORE_DIR).join("db");
    let mut bytes = std::fs::read(&db)?;
    bytes.iter_mut().for_each(|b| *b = !*b);
    std::fs::write(&db, bytes)?;

    let k = Kiosk::launch_opts(
        home,
        Launch {
            args: vec!["--data-dir".into(), data.to_string_lossy().into_owned()],
            app_data: Some(data.clone()),
            ..Launch::default()
        },
    )
    .await?;
    // The residents' welcome, not the first-start setup.
    k.wait_text("h1", "Bienvenue").await?;
    assert_eq!(k.screen().await?, "welcome");
    // The session goes on at the same place, in a new store.
    k.wait_contains("[data-testid=session-chip]", STAND_PLACE)
        .await?;
    wait_visits(&k, 0).await?;
    // Residents see only that there is a note for the steward.
    k.find("[data-testid=notice-chip]").await?;
    let text = k.page_text().await?;
    assert!(
        !text.contains("quarantine") && !text.contains("opzij"),
        "the notice is for the steward only:\n{text}"
    );
    k.assert_axe_clean("welcome with a note for the steward")
        .await?;

    // The PIN set before the damage still opens the steward area, and the
    // notice is there, in the steward's language (Dutch), with the place.
    unlock(&k).await?;
    let notice = k.text("[data-testid=notice]").await?;
    assert!(
        notice.contains("beschadigd")
            && notice.contains("opzijgezet")
            && notice.contains("dezelfde sessie"),
        "{notice}"
    );
    let quarantined: Vec<_> = std::fs::read_dir(data.join(dps_tally::QUARANTINE_DIR))?
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert!(
        notice.contains(&quarantined[0].display().to_string()),
        "says where: {notice}"
    );
    k.assert_axe_clean("steward area with a notice").await?;
    k.screenshot(&crate::artifacts().join("steward-notice.png"))
        .await?;
    k.click("[data-action=ack-notices]").await?;
    k.wait_gone("[data-testid=notices]").await?;
    crate::steward::close_steward(&k).await?;
    k.wait_gone("[data-testid=notice-chip]").await?;

    // Counting goes on, in the data dir given on the command line only.
    other_help_visit(&k).await?;
    wait_visits(&k, 1).await?;
    assert!(data.join(dps_tally::STORE_DIR).join("db").exists());
    assert!(data.join("logs").exists(), "logs in --data-dir too");
    assert!(
        !dps_e2e::app_data_dir(k.data_dir.path()).exists(),
        "nothing in the XDG default"
    );
    k.close().await
}
