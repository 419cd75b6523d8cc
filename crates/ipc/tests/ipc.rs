//! The committed TypeScript bindings must be exactly what the Rust types say.
//! `UPDATE_BINDINGS=1 cargo test -p dps-ipc` (or `make bindings`) rewrites them.

use std::path::PathBuf;

#[test]
fn typescript_bindings_are_fresh() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings.ts");
    let want = dps_ipc::typescript();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "ui/src/lib/bindings.ts is stale: run `make bindings` and commit the result"
    );
}

#[test]
fn errors_serialise_as_code_and_params() {
    let e = dps_ipc::IpcError::new("unknown_language").with("value", "xx");
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"code":"unknown_language","params":{"value":"xx"}}"#
    );
}
