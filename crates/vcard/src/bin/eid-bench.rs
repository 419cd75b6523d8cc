//! eID reading benchmark through the real pcscd + vpcd (prints figures; not a test).
//!
//! `cargo run -p dps-vcard --release --bin eid-bench [-- --idle-secs 60 --reads 50]
//! [--card-latency-us N]]`
//! Needs root, pcscd and vsmartcard-vpcd, and no other pcscd running.
//!
//! Prints: the single-APDU round trip; for an applet 1.8 EC card and a 1.7 RSA
//! card, the time from "card present" to parsed and verified data through
//! the kiosk's own read path (`read_reader`, as the watcher calls it), its
//! APDU count, and the figure: that time over (APDU count × the
//! single-APDU round trip), with where the time goes (connect and begin the
//! transaction, the APDU phase, what follows the last answer); then the
//! watcher's idle CPU with two empty readers.
//!
//! `--card-latency-us N` makes the virtual card wait N µs before every answer,
//! as a real card does: vpcd on loopback answers in ~0.08 ms, a real eID
//! behind a USB reader in milliseconds, and how much of the verification
//! hides between APDUs depends on that gap.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use dps_eid::{read_reader_timed, Phases, TrustStore, Watcher};
use dps_vcard::harness::Pcscd;
use dps_vcard::{Applet, CardImage, CardSpec, KeyKind, TestPki};

fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn pid_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit(')').next()?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the comm.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Some(Duration::from_micros(ticks * 1_000_000 / hz.max(1)))
}

fn main() -> Result<()> {
    let mut idle_secs = 60u64;
    let mut reads = 20u32;
    let mut latency_us = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--idle-secs" => idle_secs = args.next().context("number")?.parse()?,
            "--reads" => reads = args.next().context("number")?.parse()?,
            "--card-latency-us" => latency_us = args.next().context("number")?.parse()?,
            _ => {
                anyhow::bail!("usage: eid-bench [--idle-secs N] [--reads N] [--card-latency-us N]")
            }
        }
    }
    // As the kiosk's watcher does when it starts: the verification worker
    // and the generator's table are ready before the first card.
    dps_eid::verify::warm_up();
    let pcscd = Pcscd::start(2)?;
    let names = pcscd.reader_names().to_vec();
    let ctx = pcsc::Context::establish(pcsc::Scope::User)?;
    let reader0 = std::ffi::CString::new(names[0].clone())?;

    // Single-APDU round trip: GET CARD DATA, repeated on a connected card.
    let pki_ec = TestPki::generate(KeyKind::Ec, "DPS Bench Root")?;
    let pki_rsa = TestPki::generate(KeyKind::Rsa, "DPS Bench Root RSA")?;
    let slow = |mut spec: CardSpec| {
        spec.behaviour.answer_delay_us = latency_us;
        spec
    };
    let card = pcscd.insert(0, CardImage::build(&slow(CardSpec::default()), &pki_ec)?)?;
    let (rtt, rtt_mean) = {
        let c = connect_when_present(&ctx, &reader0)?;
        let mut buf = [0u8; 258];
        for _ in 0..50 {
            c.transmit(&[0x80, 0xE4, 0x00, 0x00, 0x1C], &mut buf)?;
        }
        let n = 2000;
        let mut each = Vec::with_capacity(n);
        let t = Instant::now();
        for _ in 0..n {
            let t1 = Instant::now();
            c.transmit(&[0x80, 0xE4, 0x00, 0x00, 0x1C], &mut buf)?;
            each.push(t1.elapsed());
        }
        let mean = t.elapsed() / n as u32;
        let _ = c.disconnect(pcsc::Disposition::LeaveCard);
        (median(each), mean)
    };
    drop(card);
    pcscd.wait_card(0, false, Duration::from_secs(5))?;
    println!("date: {}", chrono_free_now());
    println!("load average at start: {}", loadavg());
    if latency_us > 0 {
        println!("virtual card answering each APDU after {latency_us} us (--card-latency-us)");
    }
    println!(
        "single APDU round trip (GET CARD DATA, 2000 times): median {:.3} ms, mean {:.3} ms",
        ms(rtt),
        ms(rtt_mean)
    );

    for (label, spec, pki) in [
        (
            "applet 1.8, ECDSA P-384",
            CardSpec {
                applet: Applet::V18,
                key: KeyKind::Ec,
                ..CardSpec::default()
            },
            &pki_ec,
        ),
        (
            "applet 1.7, RSA-2048",
            CardSpec {
                applet: Applet::V17,
                key: KeyKind::Rsa,
                ..CardSpec::default()
            },
            &pki_rsa,
        ),
    ] {
        let mut trust = TrustStore::belgium();
        trust.add_pem(&pki.root_pem)?;
        let card = pcscd.insert(0, CardImage::build(&slow(spec), pki)?)?;
        let _ = connect_when_present(&ctx, &reader0)?.disconnect(pcsc::Disposition::LeaveCard);
        // Per read: (total, before the first APDU, APDU phase, after the last
        // answer), and the round trip measured just before it (a busy
        // machine drifts: each read is compared with the APDU speed of its moment).
        let mut each: Vec<[Duration; 4]> = Vec::new();
        let mut rtts: Vec<Duration> = Vec::new();
        let mut apdus = 0;
        let mut cold = Duration::ZERO;
        for i in 0..=reads {
            let rtt_now = round_trip(&ctx, &reader0, 21)?;
            let (read, phases) = read_reader_timed(&ctx, &reader0, &trust);
            let read = read?;
            anyhow::ensure!(
                read.data.signature == dps_eid::SignatureStatus::Valid,
                "signature not valid"
            );
            apdus = read.apdus;
            let p = split(&phases).context("a read without APDUs")?;
            if i == 0 {
                // The only read that finds the RRN chain cache (and key tables) cold.
                cold = p[0];
            } else {
                each.push(p);
                rtts.push(rtt_now);
            }
        }
        let col = |k: usize| median(each.iter().map(|p| p[k]).collect());
        let (total, before, io, after) = (col(0), col(1), col(2), col(3));
        // The read whose total is the median, phase by phase (the medians of
        // each phase need not add up to the median total on a busy machine).
        let mid = {
            let mut sorted = each.clone();
            sorted.sort_by_key(|p| p[0]);
            sorted.get(sorted.len() / 2).copied().unwrap_or_default()
        };
        let mean_total = each.iter().map(|p| p[0]).sum::<Duration>() / reads;
        let budget = rtt * apdus;
        let ratio_of = |t: Duration, r: Duration| t.as_secs_f64() / (r * apdus).as_secs_f64();
        let ratios: Vec<f64> = each.iter().map(|p| ratio_of(p[0], rtt)).collect();
        let ratio = median_f(ratios.clone());
        let best = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let ratio_local = median_f(
            each.iter()
                .zip(&rtts)
                .map(|(p, r)| ratio_of(p[0], *r))
                .collect(),
        );
        let io_local = median_f(
            each.iter()
                .zip(&rtts)
                .map(|(p, r)| ratio_of(p[2], *r))
                .collect(),
        );
        // The same exchange with nothing else going on: connect, transaction
        // and APDUs only (read_raw: no verification worker, no parsing).
        let mut raw_total = Vec::new();
        for _ in 0..reads {
            let t = Instant::now();
            let raw = dps_eid::read_raw(&ctx, &reader0)?;
            raw_total.push(t.elapsed());
            anyhow::ensure!(raw.apdus == apdus, "another APDU count");
        }
        let raw_total = median(raw_total);
        // What connecting costs by itself (vpcd power-up exchange, pcscd IPC), no APDU.
        let t = Instant::now();
        for _ in 0..reads {
            let c = ctx.connect(&reader0, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)?;
            let _ = c.disconnect(pcsc::Disposition::LeaveCard);
        }
        let connect = t.elapsed() / reads;
        println!("{label}: {apdus} APDUs");
        println!(
            "  card present -> parsed+verified: median {:.2} ms, mean {:.2} ms ({reads} reads); first read (RRN chain cache and key table cold) {:.2} ms",
            ms(total),
            ms(mean_total),
            ms(cold)
        );
        println!(
            "  median read: {:.2} ms = connect+begin transaction {:.2} + APDU phase {:.2} + after the last answer {:.2}",
            ms(mid[0]),
            ms(mid[1]),
            ms(mid[2]),
            ms(mid[3])
        );
        println!(
            "  medians of each phase: connect+begin transaction {:.2} ms | APDU phase {:.2} ms | after the last answer {:.2} ms",
            ms(before),
            ms(io),
            ms(after)
        );
        println!(
            "  issue's ratio: total / (APDUs x round trip = {apdus} x {:.3} = {:.2} ms) = {:.2} (median of reads; best {:.2}; target <= 1.1)",
            ms(rtt),
            ms(budget),
            ratio,
            best
        );
        println!(
            "  same, each read against the round trip measured just before it (median of 21): {:.2}; its APDU phase alone: {:.2}",
            ratio_local, io_local
        );
        println!(
            "  APDU phase / (APDUs x round trip) = {:.2}; connect+disconnect alone, no APDU: {:.2} ms",
            io.as_secs_f64() / budget.as_secs_f64(),
            ms(connect)
        );
        println!(
            "  the exchange alone (connect, transaction, APDUs; no checking, no parsing): median {:.2} ms = {:.2} x (APDUs x round trip)",
            ms(raw_total),
            raw_total.as_secs_f64() / budget.as_secs_f64()
        );
        drop(card);
        pcscd.wait_card(0, false, Duration::from_secs(5))?;
    }
    println!("load average at end: {}", loadavg());

    // Idle CPU of the watcher thread with two empty readers.
    let (watcher, rx) = Watcher::start_channel(TrustStore::belgium())?;
    let _ = rx.recv_timeout(Duration::from_secs(5));
    let _ = rx.recv_timeout(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(500));
    let pcscd_pid = std::fs::read_to_string("/run/pcscd/pcscd.pid")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let before = cpu_time(libc::RUSAGE_SELF);
    let pcscd_before = pcscd_pid.and_then(pid_cpu);
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(idle_secs));
    let wall = t.elapsed();
    let used = cpu_time(libc::RUSAGE_SELF) - before;
    println!(
        "watcher idle, 2 readers, no card, {idle_secs} s: {:.3} % of a core ({:.1} ms CPU)",
        100.0 * used.as_secs_f64() / wall.as_secs_f64(),
        ms(used)
    );
    if let (Some(pid), Some(b)) = (pcscd_pid, pcscd_before) {
        if let Some(a) = pid_cpu(pid) {
            println!(
                "  (for reference, pcscd itself with vpcd's 400 ms presence polling: {:.3} % of a core)",
                100.0 * (a - b).as_secs_f64() / wall.as_secs_f64()
            );
        }
    }
    watcher.stop();
    Ok(())
}

/// Median round trip of `n` GET CARD DATA on a fresh connection to the card.
fn round_trip(ctx: &pcsc::Context, reader: &std::ffi::CStr, n: usize) -> Result<Duration> {
    let c = ctx.connect(reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)?;
    let mut buf = [0u8; 258];
    let mut each = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        c.transmit(&[0x80, 0xE4, 0x00, 0x00, 0x1C], &mut buf)?;
        each.push(t.elapsed());
    }
    let _ = c.disconnect(pcsc::Disposition::LeaveCard);
    Ok(median(each))
}

/// (total, before the first APDU, APDU phase, after the last answer).
fn split(p: &Phases) -> Option<[Duration; 4]> {
    let first = p.first_apdu?;
    let last = p.last_answer?;
    let done = p.done?;
    Some([done - p.start, first - p.start, last - first, done - last])
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn median_f(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn chrono_free_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Waits (blocking in get_status_change, no polling) until the reader is empty
/// (`present == false`) or holds a card.
/// Waits (blocking in get_status_change, no polling) until the card is
/// present, then connects.
fn connect_when_present(ctx: &pcsc::Context, reader: &std::ffi::CStr) -> Result<pcsc::Card> {
    let mut rs = [pcsc::ReaderState::new(
        reader.to_owned(),
        pcsc::State::UNAWARE,
    )];
    loop {
        ctx.get_status_change(Duration::from_secs(5), &mut rs)?;
        if rs[0].event_state().contains(pcsc::State::PRESENT) {
            return Ok(ctx.connect(reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)?);
        }
        rs[0].sync_current_state();
    }
}
