//! The crash test: a child process counts visits and prints each one it got
//! a receipt for; the parent SIGKILLs it at random points, reopens the store
//! and checks every acknowledged visit (and undo) is counted exactly once.
//! Only the one operation in flight at the kill may or may not have landed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use dps_model::PnCount;
use dps_tally::{OpenStatus, TallyStore};
use rand::{Rng, SeedableRng};

pub const CHILD: &str = env!("CARGO_BIN_EXE_tally-crash-child");

#[derive(Debug, Clone, Copy, PartialEq)]
enum InFlight {
    None,
    Rec,
    Undo,
}

/// `var` as a number, or `default`.
pub fn env_or(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn killed_at_random_points_every_acknowledged_visit_counts_exactly_once() {
    let rounds = env_or("DPS_TALLY_CRASH_ROUNDS", 200);
    let seed = env_or("DPS_TALLY_CRASH_SEED", rand::thread_rng().gen());
    println!("crash test: {rounds} rounds, DPS_TALLY_CRASH_SEED={seed}");
    let dir = tempfile::tempdir().unwrap();
    let (acked_ops, _) = kill_at_random(dir.path(), rounds, seed, &[], (40, 3000), |_, _| {});
    assert!(
        acked_ops >= rounds,
        "the child must get real work done between kills"
    );
}

/// Runs `tally-crash-child DIR SEED <child_args>` `rounds` times, kills it
/// after up to `wait.0` protocol lines plus up to `wait.1` µs, then
/// reopens the store and checks that every acknowledged visit and undo is
/// counted exactly once (only the operation in flight may or may not have
/// landed), that the incarnation never changes, and that the sync watermark
/// and a setting the parent wrote before the round are unchanged.
/// `after_kill(round, dir)` runs before each reopen. Returns the number of
/// acknowledged operations and of compactions the child reported.
pub fn kill_at_random(
    dir: &Path,
    rounds: u64,
    seed: u64,
    child_args: &[&str],
    wait: (i64, u64),
    mut after_kill: impl FnMut(u64, &Path),
) -> (u64, u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // cell JSON -> counts acknowledged so far (the store's, if `dir` has one)
    let mut expected: BTreeMap<String, PnCount> = BTreeMap::new();
    let mut incarnation = None;
    if TallyStore::exists(dir) {
        let store = TallyStore::open(dir, chrono::Utc::now()).unwrap().store;
        expected = cell_map(&store);
        incarnation = Some(store.replica().incarnation);
    }
    let (mut acked_ops, mut landed_in_flight, mut lost_in_flight) = (0u64, 0u64, 0u64);
    let mut compactions = 0u64;
    // (watermark, setting) the parent wrote after the last round's checks.
    let mut parent_wrote: Option<(u64, String)> = None;

    for round in 0..rounds {
        let mut child = Command::new(CHILD)
            .arg(dir)
            .arg((seed ^ round).to_string())
            .args(child_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        // Kill points: sometimes while the store is still opening, otherwise
        // after a random number of protocol lines plus a random extra delay,
        // so the kill lands anywhere inside record/undo.
        let kill_after: i64 = if rng.gen_ratio(1, 10) {
            -1
        } else {
            rng.gen_range(0..wait.0)
        };
        let mut line = String::new();
        let mut seen = -2i64;
        while seen < kill_after {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            lines.push(line.trim_end().to_owned());
            seen += 1;
        }
        if rng.gen_bool(0.5) {
            std::thread::sleep(std::time::Duration::from_micros(rng.gen_range(0..wait.1)));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        lines.extend(rest.lines().map(str::to_owned));
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(
            err.is_empty(),
            "round {round}: child said {err:?} ({status})"
        );

        let mut in_flight = InFlight::None;
        for l in &lines {
            match l.as_str() {
                "ready" => {}
                "compacted" => compactions += 1,
                "begin rec" => in_flight = InFlight::Rec,
                "begin undo" => in_flight = InFlight::Undo,
                "nothing undo" => in_flight = InFlight::None,
                l => {
                    let (kind, cell) = l.split_at(l.find(' ').map_or(l.len(), |i| i + 1));
                    let rest = cell;
                    let (op, cell) = rest.split_once(' ').unwrap_or_else(|| panic!("line {l:?}"));
                    assert_eq!(kind, "ack ", "round {round}: line {l:?}");
                    let e = expected.entry(cell.to_owned()).or_default();
                    match op {
                        "rec" => e.inc += 1,
                        "undo" => e.ret += 1,
                        _ => panic!("line {l:?}"),
                    }
                    acked_ops += 1;
                    in_flight = InFlight::None;
                }
            }
        }

        after_kill(round, dir);
        let opened = TallyStore::open(dir, chrono::Utc::now()).unwrap();
        match &opened.status {
            OpenStatus::Existing => {}
            OpenStatus::New => assert!(expected.is_empty(), "round {round}: counts vanished"),
            other => panic!("round {round}: store not reopened as is: {other:?}"),
        }
        let inc = opened.store.replica().incarnation;
        if !expected.is_empty() {
            assert_eq!(
                incarnation.get_or_insert(inc.clone()),
                &inc,
                "round {round}"
            );
        }
        let actual = cell_map(&opened.store);
        let mut extra = Vec::new();
        for (cell, a) in &actual {
            let e = expected.get(cell).copied().unwrap_or_default();
            assert!(
                a.inc >= e.inc && a.ret >= e.ret,
                "round {round}: acknowledged count lost in {cell}: {a:?} < {e:?}"
            );
            if *a != e {
                extra.push((a.inc - e.inc, a.ret - e.ret));
            }
        }
        for cell in expected.keys() {
            assert!(actual.contains_key(cell), "round {round}: cell lost {cell}");
        }
        match (in_flight, extra.as_slice()) {
            (_, []) => lost_in_flight += u64::from(in_flight != InFlight::None),
            (InFlight::Rec, [(1, 0)]) | (InFlight::Undo, [(0, 1)]) => landed_in_flight += 1,
            _ => panic!("round {round}: counted twice or unexplained: {extra:?} with {in_flight:?} in flight"),
        }
        expected = actual;

        let store = opened.store;
        if let Some((acked, setting)) = &parent_wrote {
            assert_eq!(store.acked().unwrap(), *acked, "round {round}: watermark");
            assert_eq!(
                store.get_setting("hub_url").unwrap().as_ref(),
                Some(setting),
                "round {round}: setting"
            );
        }
        // Acknowledge part of what is pending, as a sync would, and change a
        // setting: the child never touches either, so the next reopen must
        // find them exactly so.
        let (_, latest) = store.pending(0, usize::MAX).unwrap();
        let acked = store.acked().unwrap();
        let acked = acked + (latest - acked) / 2;
        store.set_acked(acked).unwrap();
        let setting = format!("https://hub-{round}.example");
        store.put_setting("hub_url", &setting).unwrap();
        parent_wrote = Some((acked, setting));
    }
    println!(
        "crash test: {acked_ops} acknowledged operations ({compactions} compactions) over \
         {rounds} kills; in-flight op landed {landed_in_flight} times, did not land \
         {lost_in_flight} times"
    );
    (acked_ops, compactions)
}

/// cell JSON -> counts of every cell in `store`.
fn cell_map(store: &TallyStore) -> BTreeMap<String, PnCount> {
    store
        .cells()
        .unwrap()
        .into_iter()
        .map(|c| (serde_json::to_string(&c.cell).unwrap(), c.count()))
        .collect()
}
