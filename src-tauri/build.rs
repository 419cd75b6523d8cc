// tauri-build reads tauri.conf.json and capabilities/ beside the root
// Cargo.toml. Listing our commands in the app manifest turns each into a
// permission (`allow-<command>`) that capabilities/kiosk.json must grant:
// a command not granted there cannot be called from the window.
fn main() {
    let attrs =
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&[
            "app_info",
            "set_language",
            "kiosk_view",
            "kiosk_command",
            "steward_status",
            "steward_action",
            "first_screen",
        ]));
    if let Err(e) = tauri_build::try_build(attrs) {
        // Why: a missing ui/dist is the usual cause; say what to run.
        panic!("tauri-build failed: {e:#}. Build the UI first: `make ui`.");
    }
}
