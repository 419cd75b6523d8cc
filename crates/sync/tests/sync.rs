//! dps-sync on its own: backoff, plain-word errors, the in-memory replica's
//! contract and the wire format. (Client against a real hub: dps-hub's tests.)

use std::time::Duration;

use chrono::NaiveDate;
use dps_model::{AgeBand, CellKey, Channel, Code, Language, Municipality, PnCount, Residence};
use dps_sync::wire::{codes, ApiError, PushRequest, WireCell};
use dps_sync::{Backoff, MemSource, ReplicaSource, SyncError};
use expect_test::expect;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn cell(day: u32) -> CellKey {
    CellKey {
        day: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
        site: Code::new("dps-molenbeek").unwrap(),
        procedure: Code::new("bruvax-registration").unwrap(),
        outcome: Code::new("done").unwrap(),
        language: Language::Fr,
        channel: Channel::Eid,
        age_band: AgeBand::From65To74,
        residence: Residence::Brussels(Municipality::MolenbeekSaintJean),
    }
}

#[test]
fn backoff_starts_within_two_seconds_and_caps_at_ten_minutes() {
    let b = Backoff::default();
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..1000 {
        let first = b.delay(1, &mut rng);
        assert!(
            first <= Duration::from_secs(2) && first >= Duration::from_millis(500),
            "{first:?}"
        );
        for n in [11, 20, 64, u32::MAX] {
            let d = b.delay(n, &mut rng);
            assert!(
                d <= Duration::from_secs(600) && d >= Duration::from_secs(300),
                "{n}: {d:?}"
            );
        }
    }
    // Grows, with jitter: the nominal doubles each time.
    let nominal: Vec<u64> = (1..=11).map(|n| b.delay(n, &mut rng).as_secs()).collect();
    for (i, s) in nominal.iter().enumerate() {
        let top = (1u64 << i).min(600);
        assert!(*s <= top && *s >= top / 2, "retry {}: {s}", i + 1);
    }
    // Jitter: two fleets of kiosks do not retry in lockstep.
    let mut a = StdRng::seed_from_u64(1);
    let mut c = StdRng::seed_from_u64(2);
    let da: Vec<_> = (1..8).map(|n| b.delay(n, &mut a)).collect();
    let dc: Vec<_> = (1..8).map(|n| b.delay(n, &mut c)).collect();
    assert_ne!(da, dc);
}

#[test]
fn errors_are_told_in_plain_words() {
    let api = |c: &str| ApiError {
        code: c.into(),
        message: "m".into(),
    };
    let cases = [
        SyncError::NotEnrolled,
        SyncError::Unreachable("tcp connect error: Connection refused".into()),
        SyncError::Timeout,
        SyncError::from_api(401, api(codes::UNAUTHORIZED)),
        SyncError::from_api(401, api(codes::REVOKED)),
        SyncError::from_api(401, api(codes::BAD_CODE)),
        SyncError::from_api(403, api(codes::FORBIDDEN_REPLICA)),
        SyncError::from_api(409, api(codes::DEVICE_ACTIVE)),
        SyncError::from_api(400, api(codes::UNSUPPORTED_VERSION)),
        SyncError::from_api(
            413,
            ApiError {
                code: codes::TOO_LARGE.into(),
                message: "too many cells".into(),
            },
        ),
        SyncError::from_api(503, api(codes::INTERNAL)),
    ];
    let text: Vec<String> = cases
        .iter()
        .map(|e| format!("{} | {}", e.is_transient(), e.plain()))
        .collect();
    expect![[r#"
        false | this kiosk is not enrolled with a hub yet: enrol it with a code from the coordination
        true | the hub could not be reached (no connection?): the kiosk will retry by itself
        true | the hub did not answer in time: the kiosk will retry by itself
        false | the hub refused this device: ask the coordination for a new code
        false | the hub refused this device: ask the coordination for a new code
        false | this enrolment code is wrong, already used or expired: ask the coordination for a new one
        false | the hub says these counts belong to another device: ask the coordination for a new code
        false | this kiosk is still enrolled and active on the hub, so the code was not used: it keeps syncing as before (to move it to a new code, the coordination revokes this device first)
        false | the hub speaks another version of the sync protocol: this kiosk needs an update
        false | the hub rejected the counts (too many cells): tell the coordination
        true | the hub had a problem (error 503): the kiosk will retry by itself"#]]
    .assert_eq(&text.join("\n"));
}

#[test]
fn mem_source_keeps_the_tally_store_contract() {
    let k = MemSource::new("inc1");
    assert_eq!(k.replica().device, "unenrolled");
    k.put_setting(dps_sync::keys::DEVICE, "dev-x").unwrap();
    assert_eq!(k.replica().device, "dev-x");
    k.record(cell(1), false); // seq 1
    k.record(cell(2), false); // seq 2
    k.record(cell(1), false); // seq 3: cell 1 moves to 3
    assert_eq!(
        k.pending(0, 10).unwrap(),
        (
            vec![
                (cell(2), PnCount { inc: 1, ret: 0 }),
                (cell(1), PnCount { inc: 2, ret: 0 })
            ],
            3
        )
    );
    assert_eq!(
        k.pending(0, 1).unwrap(),
        (vec![(cell(2), PnCount { inc: 1, ret: 0 })], 2)
    );
    assert_eq!(k.pending(3, 10).unwrap(), (vec![], 3));
    assert_eq!(k.pending_count().unwrap(), 2);
    k.set_acked(2).unwrap();
    assert_eq!(k.pending_count().unwrap(), 1);
    k.set_acked(1).unwrap();
    assert_eq!(k.acked().unwrap(), 2, "acks never move backwards");
    k.record(cell(1), true);
    assert_eq!(k.totals().get(&cell(1)), Some(&1));
}

#[test]
fn the_wire_format_is_flat_and_small() {
    let req = PushRequest {
        v: 1,
        replica: dps_model::ReplicaId {
            device: "dev-0123456789ab".into(),
            incarnation: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
        },
        after: 41,
        upto: 42,
        cells: vec![WireCell::new(cell(5), PnCount { inc: 3, ret: 1 })],
        kiosk_time: chrono::DateTime::parse_from_rfc3339("2026-03-05T10:00:00Z")
            .unwrap()
            .into(),
        pending: 0,
    };
    let json = serde_json::to_string(&req).unwrap();
    expect![[r#"{"v":1,"replica":{"device":"dev-0123456789ab","incarnation":"0f1e2d3c4b5a69788796a5b4c3d2e1f0"},"after":41,"upto":42,"cells":[{"day":"2026-03-05","site":"dps-molenbeek","procedure":"bruvax-registration","outcome":"done","language":"fr","channel":"eid","age_band":"65_74","residence":"molenbeek-saint-jean","inc":3,"ret":1}],"kiosk_time":"2026-03-05T10:00:00Z","pending":0}"#]]
    .assert_eq(&json);
    assert!(
        json.len() < 1024,
        "one visit must fit in well under 1 KB: {}",
        json.len()
    );
    let back: PushRequest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, req);
    // Unknown codes are refused at the door (no free text on the wire).
    assert!(serde_json::from_str::<PushRequest>(&json.replace("\"fr\"", "\"xx\"")).is_err());
}

/// A first enrolment carries no device id (unchanged for old hubs); a
/// re-enrolment carries the kiosk's own, and old kiosks' requests still parse.
#[test]
fn an_enrolment_names_the_device_only_when_there_is_one() {
    use dps_sync::wire::EnrolRequest;
    let first = EnrolRequest {
        v: 1,
        code: "7KQ2-M9XD".into(),
        device: None,
    };
    let again = EnrolRequest {
        device: Some("dev-0123456789ab".into()),
        ..first.clone()
    };
    let text = [&first, &again].map(|r| serde_json::to_string(r).unwrap());
    expect![[r#"
        [
            "{\"v\":1,\"code\":\"7KQ2-M9XD\"}",
            "{\"v\":1,\"code\":\"7KQ2-M9XD\",\"device\":\"dev-0123456789ab\"}",
        ]"#]]
    .assert_eq(&format!("{text:#?}"));
    let old: EnrolRequest = serde_json::from_str(r#"{"v":1,"code":"7KQ2-M9XD"}"#).unwrap();
    assert_eq!(old, first);
}
