//! `pg-bench [CELLS] [DEVICES]`: the hub's ingest on PostgreSQL next to a raw
//! `COPY` of the same rows into the same table layout, in one run on one
//! throw-away cluster (see `dps_hub_pg::testing::TempCluster`).
//!
//! Ingest goes through `Store::ingest` in protocol-sized batches
//! (`MAX_BATCH_CELLS`), one transaction each, from one thread; COPY streams
//! every row in one statement into `cells_copy (LIKE cells INCLUDING ALL)`, so
//! both maintain the same primary key. Each is measured on a fresh database,
//! best of three rounds. Also printed: a full resend of the same batches
//! (every cell conflicts, nothing grows) and ingest from 4 threads.
//!
//! Next to wall time, each phase's CPU time (this process plus every process
//! of the cluster, from /proc) is printed: on a machine shared with other
//! work, wall time mostly measures how long each round trip waits for a core,
//! while CPU time is the work itself. Both ratios are printed.
//!
//! Run: `cargo run -p dps-hub-pg --release --bin pg-bench` (needs the
//! `postgresql` package; the cluster runs with fsync off, like the tests).
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use dps_hub_pg::testing::{synth, TempCluster};
use dps_hub_pg::PgStore;
use dps_hub_store::{Device, PendingEnrolment, Store};
use dps_model::{Code, ReplicaId};
use dps_sync::wire::{PushRequest, MAX_BATCH_CELLS};

struct Round {
    ingest: Duration,
    resend: Duration,
    copy: Duration,
    parallel: Duration,
    ingest_cpu: f64,
    copy_cpu: f64,
}

/// CPU seconds (user + system) used so far by this process and by the
/// cluster's live processes (the postmaster and its children: backends,
/// WAL writer, checkpointer).
fn cpu_seconds(cluster: &TempCluster) -> anyhow::Result<f64> {
    // SAFETY: sysconf and getrusage only write into what we pass them.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut own = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: as above; RUSAGE_SELF counts every thread of this process.
    let own = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, own.as_mut_ptr());
        own.assume_init()
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let mut total = tv(own.ru_utime) + tv(own.ru_stime);
    let pid_file = std::fs::read_to_string(cluster.dir().join("data/postmaster.pid"))
        .context("postmaster.pid")?;
    let postmaster: u64 = pid_file
        .lines()
        .next()
        .context("empty postmaster.pid")?
        .trim()
        .parse()?;
    for e in std::fs::read_dir("/proc")? {
        let e = e?;
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        // A process may end while we look: skip it.
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces) in parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ppid: u64 = f.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
        if pid == postmaster || ppid == postmaster {
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            total += (ticks(11) + ticks(12)) / tick;
        }
    }
    Ok(total)
}

fn enrol_all(store: &PgStore, devices: usize, now: DateTime<Utc>) -> anyhow::Result<()> {
    for d in 0..devices {
        // Any distinct 32 bytes will do as the code's hash here: the bench
        // never redeems through HTTP.
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(d as u64).to_be_bytes());
        store.add_enrolment(
            &hash,
            &PendingEnrolment {
                site: Code::new("bus-2")?,
                expires: now + chrono::Duration::hours(1),
            },
        )?;
        let device = Device {
            id: format!("dev-{d:04}"),
            site: Code::new("unknown")?,
            token_hash: "bench".into(),
            enrolled: now,
            last_sync: None,
            clock_skew_secs: None,
            pending: None,
            revoked: None,
        };
        store
            .redeem(&hash, now, device)?
            .context("bench enrolment refused")?;
    }
    Ok(())
}

fn replica(d: usize) -> ReplicaId {
    ReplicaId {
        device: format!("dev-{d:04}"),
        incarnation: "i1".into(),
    }
}

/// Every batch of every device, built before any clock starts: the hub's
/// store receives already-parsed requests.
fn pushes(devices: &[usize], batches: usize, now: DateTime<Utc>) -> Vec<PushRequest> {
    devices
        .iter()
        .flat_map(|&d| (0..batches).map(move |b| synth::push(&replica(d), b, MAX_BATCH_CELLS, now)))
        .collect()
}

fn ingest_all(store: &PgStore, pushes: &[PushRequest], now: DateTime<Utc>) -> anyhow::Result<()> {
    for p in pushes {
        store.ingest(&p.replica.device, p, now)?;
    }
    Ok(())
}

fn round(cluster: &TempCluster, n: usize, devices: usize, batches: usize) -> anyhow::Result<Round> {
    let now = Utc::now();
    let all: Vec<usize> = (0..devices).collect();

    let url = cluster.create_database(&format!(
        "bench_{n}_{}",
        now.timestamp_nanos_opt().unwrap_or(0).unsigned_abs()
    ))?;
    let store = PgStore::connect(&url)?;
    enrol_all(&store, devices, now)?;
    let input = pushes(&all, batches, now);
    let c0 = cpu_seconds(cluster)?;
    let t = Instant::now();
    ingest_all(&store, &input, now)?;
    let ingest = t.elapsed();
    let ingest_cpu = cpu_seconds(cluster)? - c0;
    let t = Instant::now();
    ingest_all(&store, &input, now)?;
    let resend = t.elapsed();

    // COPY the same rows (same replica ids) into the same layout, same database.
    let mut c = store.raw_connection()?;
    c.batch_execute("CREATE TABLE cells_copy (LIKE cells INCLUDING ALL)")?;
    let ids: Vec<(i64, String)> = c
        .query("SELECT id, device FROM replicas ORDER BY device", &[])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // The COPY text is formatted before the clock starts too: COPY gets its
    // input as ready as ingest gets its parsed requests.
    let mut text = Vec::with_capacity(n * ids.len() * 100);
    for (id, _) in &ids {
        for i in 0..n {
            let (k, cnt) = (synth::cell(i), synth::count(i));
            writeln!(
                text,
                "{id}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                k.day,
                k.site,
                k.procedure,
                k.outcome,
                k.language.code(),
                k.channel.code(),
                k.age_band.code(),
                k.residence.code(),
                cnt.inc,
                cnt.ret
            )?;
        }
    }
    let c0 = cpu_seconds(cluster)?;
    let t = Instant::now();
    let mut tx = c.transaction()?;
    {
        let mut w = tx.copy_in(
            "COPY cells_copy (replica, day, site, procedure, outcome, language, channel, age_band, residence, inc, ret) FROM STDIN",
        )?;
        for chunk in text.chunks(1 << 20) {
            w.write_all(chunk)?;
        }
        w.finish()?;
    }
    tx.commit()?;
    let copy = t.elapsed();
    let copy_cpu = cpu_seconds(cluster)? - c0;
    let copied: i64 = c.query_one("SELECT count(*) FROM cells_copy", &[])?.get(0);
    let ingested: i64 = c.query_one("SELECT count(*) FROM cells", &[])?.get(0);
    anyhow::ensure!(
        copied == ingested && copied as usize == n * devices,
        "row counts differ: {copied} vs {ingested}"
    );
    drop(c);
    drop(store);

    // 4 threads (as from 4 hub processes' blocking pools) on a fresh database.
    let url = cluster.create_database(&format!(
        "benchp_{n}_{}",
        now.timestamp_nanos_opt().unwrap_or(0).unsigned_abs()
    ))?;
    let store = PgStore::connect(&url)?;
    enrol_all(&store, devices, now)?;
    let inputs: Vec<Vec<PushRequest>> = (0..4)
        .map(|k| {
            pushes(
                &all.iter()
                    .copied()
                    .filter(|d| d % 4 == k)
                    .collect::<Vec<_>>(),
                batches,
                now,
            )
        })
        .collect();
    let t = Instant::now();
    std::thread::scope(|sc| -> anyhow::Result<()> {
        let hs: Vec<_> = inputs
            .iter()
            .map(|mine| {
                let store = &store;
                sc.spawn(move || ingest_all(store, mine, now))
            })
            .collect();
        for h in hs {
            h.join()
                .map_err(|_| anyhow::anyhow!("ingest thread panicked"))??;
        }
        Ok(())
    })?;
    let parallel = t.elapsed();
    Ok(Round {
        ingest,
        resend,
        copy,
        parallel,
        ingest_cpu,
        copy_cpu,
    })
}

fn rate(cells: usize, d: Duration) -> f64 {
    cells as f64 / d.as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args
        .first()
        .map(|s| s.parse())
        .transpose()
        .context("CELLS")?
        .unwrap_or(200_000);
    let devices: usize = args
        .get(1)
        .map(|s| s.parse())
        .transpose()
        .context("DEVICES")?
        .unwrap_or(50);
    // Whole batches per device, so every push is a full protocol batch.
    let batches = (total / devices / MAX_BATCH_CELLS).max(1);
    let n = batches * MAX_BATCH_CELLS;
    let cells = n * devices;
    println!("pg-bench: {devices} devices x {n} cells = {cells} cells, batches of {MAX_BATCH_CELLS}; PostgreSQL 15 throw-away cluster (fsync off)");
    let cluster = TempCluster::start()?;
    let mut best: Option<Round> = None;
    for r in 0..3 {
        let x = round(&cluster, n, devices, batches)?;
        println!(
            "  round {}: ingest {:.2}s (CPU {:.2}s), resend {:.2}s, COPY {:.2}s (CPU {:.2}s), ingest x4 threads {:.2}s; wall ratio {:.2}x, CPU ratio {:.2}x",
            r + 1,
            x.ingest.as_secs_f64(),
            x.ingest_cpu,
            x.resend.as_secs_f64(),
            x.copy.as_secs_f64(),
            x.copy_cpu,
            x.parallel.as_secs_f64(),
            x.copy.as_secs_f64() / x.ingest.as_secs_f64(),
            x.copy_cpu / x.ingest_cpu,
        );
        best = Some(match best {
            None => x,
            Some(b) => Round {
                ingest: b.ingest.min(x.ingest),
                resend: b.resend.min(x.resend),
                copy: b.copy.min(x.copy),
                parallel: b.parallel.min(x.parallel),
                ingest_cpu: b.ingest_cpu.min(x.ingest_cpu),
                copy_cpu: b.copy_cpu.min(x.copy_cpu),
            },
        });
    }
    let b = best.context("no round ran")?;
    let (ing, cp) = (rate(cells, b.ingest), rate(cells, b.copy));
    println!("best of 3:");
    println!(
        "  Store::ingest (1 thread, new cells)    {:>10.0} cells/s",
        ing
    );
    println!(
        "  Store::ingest (1 thread, full resend)  {:>10.0} cells/s",
        rate(cells, b.resend)
    );
    println!(
        "  Store::ingest (4 threads, new cells)   {:>10.0} cells/s",
        rate(cells, b.parallel)
    );
    println!(
        "  raw COPY of the same rows              {:>10.0} cells/s",
        cp
    );
    println!(
        "  ratio ingest / COPY                    {:>10.2}x (target >= 0.5x)",
        ing / cp
    );
    println!(
        "  CPU (hub + PostgreSQL): ingest {:.2}s, COPY {:.2}s, ratio {:.2}x",
        b.ingest_cpu,
        b.copy_cpu,
        b.copy_cpu / b.ingest_cpu
    );
    Ok(())
}
