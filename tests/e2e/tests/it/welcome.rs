//! The welcome screen: languages, each named in itself, and accessibility.

use crate::artifacts;
use dps_e2e::{enabled, Error, Kiosk};

#[tokio::test]
async fn welcome_screen_switches_language_and_passes_axe() -> Result<(), Error> {
    if !enabled("welcome_screen_switches_language_and_passes_axe") {
        return Ok(());
    }
    let k = Kiosk::launch().await?;
    // French by default, every language named in itself.
    k.wait_text("h1", "Bienvenue").await?;
    assert_eq!(k.text("button[data-lang=nl]").await?, "Nederlands");
    assert_eq!(k.text("button[data-lang=de]").await?, "Deutsch");
    assert_eq!(k.text("button[data-lang=fr]").await?, "Français");
    assert_eq!(k.text("button[data-lang=en]").await?, "English");
    assert_eq!(k.text("[data-action=start]").await?, "Commencer");
    let violations = k.axe_violations().await?;
    assert!(
        violations.is_empty(),
        "axe on welcome (fr): {violations:#?}"
    );
    k.screenshot(&artifacts().join("welcome-fr.png")).await?;

    k.click("button[data-lang=nl]").await?;
    k.wait_text("h1", "Welkom").await?;
    assert_eq!(k.text("[data-action=start]").await?, "Beginnen");
    assert_eq!(k.text("#choose-language").await?, "Kies uw taal");
    let lang = k
        .client
        .execute("return document.documentElement.lang", vec![])
        .await?;
    assert_eq!(lang, "nl");
    let violations = k.axe_violations().await?;
    assert!(
        violations.is_empty(),
        "axe on welcome (nl): {violations:#?}"
    );

    k.click("button[data-lang=de]").await?;
    k.wait_text("h1", "Willkommen").await?;
    assert_eq!(k.text("#choose-language").await?, "Wählen Sie Ihre Sprache");
    assert_eq!(k.text("button[data-lang=de]").await?.as_str(), "Deutsch");
    let pressed = k
        .find("button[data-lang=de]")
        .await?
        .attr("aria-pressed")
        .await?;
    assert_eq!(pressed.as_deref(), Some("true"));
    let violations = k.axe_violations().await?;
    assert!(
        violations.is_empty(),
        "axe on welcome (de): {violations:#?}"
    );
    k.screenshot(&artifacts().join("welcome-de.png")).await?;
    k.close().await
}
