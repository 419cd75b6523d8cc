//! eID reading benchmark through the real pcscd + vpcd (prints figures; not a test).
//!
//! `cargo run -p dps-vcard --release --bin eid-bench [-- --idle-secs 60 --reads 20]`
//! Needs root, pcscd and vsmartcard-vpcd, and no other pcscd running.
//!
//! Prints: the single-APDU round trip; for an applet 1.8 EC card and a 1.7 RSA
//! card, the time from "card present" to parsed and verified data, its APDU
//! count, and that time over (APDUs × round trip); the watcher's idle CPU with
//! two empty readers.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use dps_eid::{read_raw, TrustStore, Watcher};
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
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--idle-secs" => idle_secs = args.next().context("number")?.parse()?,
            "--reads" => reads = args.next().context("number")?.parse()?,
            _ => anyhow::bail!("usage: eid-bench [--idle-secs N] [--reads N]"),
        }
    }
    let pcscd = Pcscd::start(2)?;
    let names = pcscd.reader_names().to_vec();
    let ctx = pcsc::Context::establish(pcsc::Scope::User)?;
    let reader0 = std::ffi::CString::new(names[0].clone())?;

    // Single-APDU round trip: GET CARD DATA, repeated.
    let pki_ec = TestPki::generate(KeyKind::Ec, "DPS Bench Root")?;
    let pki_rsa = TestPki::generate(KeyKind::Rsa, "DPS Bench Root RSA")?;
    let card = pcscd.insert(0, CardImage::build(&CardSpec::default(), &pki_ec)?)?;
    let rtt = {
        let c = connect_when_present(&ctx, &reader0)?;
        let mut buf = [0u8; 258];
        for _ in 0..20 {
            c.transmit(&[0x80, 0xE4, 0x00, 0x00, 0x1C], &mut buf)?;
        }
        let n = 500;
        let t = Instant::now();
        for _ in 0..n {
            c.transmit(&[0x80, 0xE4, 0x00, 0x00, 0x1C], &mut buf)?;
        }
        let rtt = t.elapsed() / n;
        let _ = c.disconnect(pcsc::Disposition::LeaveCard);
        rtt
    };
    drop(card);
    wait_state(&ctx, &reader0, false)?;
    println!("date: {}", chrono_free_now());
    println!(
        "single APDU round trip (GET CARD DATA, mean of 500): {:.3} ms",
        ms(rtt)
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
        let card = pcscd.insert(0, CardImage::build(&spec, pki)?)?;
        let _ = connect_when_present(&ctx, &reader0)?.disconnect(pcsc::Disposition::LeaveCard);
        let (mut total, mut io, mut check) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let mut apdus = 0;
        let mut best_io = Duration::MAX;
        // Per read: (total, APDU phase), for medians; the first read is the
        // only one that finds the RRN chain cache cold.
        let mut each: Vec<(Duration, Duration)> = Vec::new();
        for _ in 0..reads {
            let t = Instant::now();
            let raw = read_raw(&ctx, &reader0)?;
            let t_io = t.elapsed();
            let (data, _) = dps_eid::assemble(&names[0], &raw, &trust)?;
            let e = t.elapsed();
            anyhow::ensure!(
                data.signature == dps_eid::SignatureStatus::Valid,
                "signature not valid"
            );
            each.push((e, t_io));
            total += e;
            io += t_io;
            best_io = best_io.min(t_io);
            check += e - t_io;
            apdus = raw.apdus;
        }
        let (mean, io, check) = (total / reads, io / reads, check / reads);
        let cold = each.first().map(|r| r.0).unwrap_or_default();
        let median = |mut v: Vec<Duration>| {
            v.sort();
            v.get(v.len() / 2).copied().unwrap_or_default()
        };
        let med_total = median(each.iter().map(|r| r.0).collect());
        let med_io = median(each.iter().map(|r| r.1).collect());
        let med_ratio = {
            let mut r: Vec<f64> = each
                .iter()
                .map(|(t, i)| t.as_secs_f64() / i.as_secs_f64())
                .collect();
            r.sort_by(f64::total_cmp);
            r.get(r.len() / 2).copied().unwrap_or_default()
        };
        // What connecting costs by itself (vpcd power-up exchange, pcscd IPC), no APDU.
        let t = Instant::now();
        for _ in 0..reads {
            let c = ctx.connect(&reader0, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)?;
            let _ = c.disconnect(pcsc::Disposition::LeaveCard);
        }
        let connect = t.elapsed() / reads;
        let budget = rtt * apdus;
        println!("{label}: {apdus} APDUs");
        println!(
            "  card present -> parsed+verified: {:.2} ms (mean of {reads}) = connect+transaction+APDUs {:.2} ms + parse+verify {:.2} ms",
            ms(mean), ms(io), ms(check)
        );
        println!(
            "  medians: total {:.2} ms, APDU phase {:.2} ms; median per-read total / APDU phase = {:.2} (target <= 1.1)",
            ms(med_total),
            ms(med_io),
            med_ratio
        );
        println!("  first read (RRN chain cache cold): {:.2} ms", ms(cold));
        println!(
            "  (connect+disconnect alone, no APDU: {:.2} ms)",
            ms(connect)
        );
        println!(
            "  best APDU phase {:.2} ms = {:.2} x (APDUs x round trip); the mean is sensitive to machine load",
            ms(best_io),
            best_io.as_secs_f64() / budget.as_secs_f64()
        );
        println!(
            "  APDU phase / (APDUs x round trip = {:.2} ms) = {:.2}; total / that = {:.2}",
            ms(budget),
            io.as_secs_f64() / budget.as_secs_f64(),
            mean.as_secs_f64() / budget.as_secs_f64()
        );
        drop(card);
        wait_state(&ctx, &reader0, false)?;
    }

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
fn wait_state(ctx: &pcsc::Context, reader: &std::ffi::CStr, present: bool) -> Result<()> {
    let mut rs = [pcsc::ReaderState::new(
        reader.to_owned(),
        pcsc::State::UNAWARE,
    )];
    loop {
        ctx.get_status_change(Duration::from_secs(5), &mut rs)?;
        if rs[0].event_state().contains(pcsc::State::PRESENT) == present {
            return Ok(());
        }
        rs[0].sync_current_state();
    }
}

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
