//! Privacy in the real window: many synthetic residents, each on a virtual
//! eID through the real pcscd, each a counted visit; then the steward writes
//! a support bundle to a (directory standing for a) USB stick; then every
//! file the app could have written — its data dir (store, settings, logs),
//! WebKit's cache and local storage, its temp files, and every entry of the
//! bundle — is searched for every resident's national number, names, street
//! and birth date in all their usual forms: 0 hits allowed.
//!
//! Speed, so hundreds of visits fit: each phase of a visit is one WebDriver
//! call running a small script in the page that clicks the window's own
//! buttons and waits for the next screen (instead of a round trip per click),
//! and the next card goes in as soon as the window has seen the last one
//! leave (vpcd notices a card within its 400 ms presence poll either way).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use dps_e2e::{enabled, Error, Kiosk};
use dps_person::synthetic::{national_number, number_and_date_forms, word};
use dps_vcard::harness::Pcscd;
use dps_vcard::{CardImage, CardSpec, KeyKind, TestPki};
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::steward::{unlock, wait_visits};

/// Visits in the default run (`DPS_E2E_PRIVACY_VISITS` overrides it).
const DEFAULT_VISITS: usize = 250;

struct Resident {
    number: String,
    birth: NaiveDate,
    surname: String,
    given: String,
    street: String,
    postcode: &'static str,
    /// Tag 0C as this card writes it, in one of the card's languages.
    card_birth: String,
}

const MONTHS_FR: [&str; 12] = [
    "JAN", "FEV", "MARS", "AVR", "MAI", "JUIN", "JUIL", "AOUT", "SEPT", "OCT", "NOV", "DEC",
];
const MONTHS_NL: [&str; 12] = [
    "JAN", "FEB", "MAAR", "APR", "MEI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEC",
];
const MONTHS_DE: [&str; 12] = [
    "JAN", "FEB", "MÄR", "APR", "MAI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEZ",
];

fn residents(n: usize) -> Vec<Resident> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    // Brussels and elsewhere, so "find a DPS" takes both of its paths.
    const POSTCODES: [&str; 8] = [
        "1000", "1030", "1060", "1080", "1210", "1190", "4000", "1300",
    ];
    (0..n)
        .map(|i| {
            let birth = NaiveDate::from_ymd_opt(
                rng.gen_range(1930..2006),
                rng.gen_range(1..=12),
                rng.gen_range(1..=28),
            )
            .unwrap_or_default();
            let months = [MONTHS_FR, MONTHS_NL, MONTHS_DE][i % 3];
            Resident {
                number: national_number(birth, (i % 997 + 1) as u32),
                birth,
                surname: word(i, 3),
                given: format!("{} {}", word(i, 5), word(i, 9)),
                street: format!("Rue {} {}", word(i, 11), 1 + i % 250),
                postcode: POSTCODES[i % POSTCODES.len()],
                card_birth: format!(
                    "{:02} {} {}",
                    birth.day(),
                    months[birth.month0() as usize],
                    birth.year()
                ),
            }
        })
        .collect()
}

/// Every way the resident's data could be written, as bytes: UTF-8, and
/// UTF-16LE for names and numbers (WebKit keeps some strings that way).
fn needles(r: &Resident) -> Vec<Vec<u8>> {
    let d = &r.number;
    let (y, m, dd) = (r.birth.year(), r.birth.month(), r.birth.day());
    let mut text: Vec<String> = number_and_date_forms(d, r.birth)
        .into_iter()
        .map(|(_, form)| form)
        .collect();
    text.extend([r.surname.clone(), r.given.clone(), r.street.clone()]);
    text.extend(r.given.split(' ').map(str::to_owned));
    for months in [MONTHS_FR, MONTHS_NL, MONTHS_DE] {
        text.push(format!("{dd:02} {} {y:04}", months[m as usize - 1]));
    }
    text.push(r.card_birth.clone());
    let mut out: Vec<Vec<u8>> = text.iter().map(|t| t.as_bytes().to_vec()).collect();
    for t in [d, &r.surname, &r.given, &r.street] {
        out.push(t.encode_utf16().flat_map(u16::to_le_bytes).collect());
    }
    out.sort();
    out.dedup();
    out
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&p, out),
            Ok(t) if t.is_file() => {
                if let Ok(b) = std::fs::read(&p) {
                    out.push((p, b));
                }
            }
            _ => {}
        }
    }
}

/// Runs `script` in the page as one asynchronous WebDriver call. The script
/// gets `until(predicate)` (resolves with the first truthy value, checked
/// every 10 ms, rejects after 15 s) and `$` (querySelector), and ends with
/// `done(value)`.
async fn in_page(k: &Kiosk, script: &str, args: Vec<serde_json::Value>) -> Result<String, Error> {
    let wrapped = format!(
        "const done = arguments[arguments.length - 1];
         const $ = (s) => document.querySelector(s);
         const until = (f) => new Promise((ok, no) => {{
           const t0 = Date.now();
           const tick = () => {{
             let v = null;
             try {{ v = f(); }} catch (e) {{ return no(e); }}
             if (v) return ok(v);
             if (Date.now() - t0 > 15000) return no(new Error('timed out at ' + (($('main') || {{}}).outerHTML || '').slice(0, 300)));
             setTimeout(tick, 10);
           }};
           tick();
         }});
         (async () => {{ {script} }})().then(done, (e) => done('ERROR ' + e));"
    );
    let v = k.client.execute_async(&wrapped, args).await?;
    let s = v.as_str().unwrap_or_default().to_owned();
    if s.starts_with("ERROR") {
        return Err(s.into());
    }
    Ok(s)
}

/// With the card in: greeted, then a whole procedure to its end, "finish",
/// and "take your card". Clicks the window's own buttons.
const JOURNEY: &str = "
  const [procedure] = arguments;
  await until(() => $('[data-testid=greeting]'));
  $('[data-action=start]').click();
  await until(() => $(`[data-procedure=${procedure}]`)).then((b) => b.click());
  for (let i = 0; i < 40; i++) {
    const main = await until(() => $('main[data-screen=journey]'));
    const step = main.dataset.step;
    const kind = main.dataset.kind;
    if (kind === 'end') { $('[data-action=finish]').click(); break; }
    if (kind === 'info') $('[data-action=next]').click();
    else if (kind === 'check') $('[data-action=tick]').click();
    else if (kind === 'choice') $('[data-option]').click();
    else throw new Error('step ' + step + ' of kind ' + kind);
    await until(() => { const m = $('main[data-screen]'); return m && (m.dataset.step !== step || m.dataset.screen !== 'journey'); });
  }
  await until(() => $('main[data-screen=take_card]'));
  done('ok');
";

/// With the card out: back on welcome, the visit counted.
const BACK_HOME: &str = "
  const [visits] = arguments;
  await until(() => $('main[data-screen=welcome]') && !$('[data-testid=greeting]')
    && $(`[data-testid=session-chip][data-visits=\"${visits}\"]`));
  done('ok');
";

/// Presses "write the support bundle", at the bottom of the steward area
/// (scrolled into view first: WebKitWebDriver does not scroll the dialog's
/// own scroll box by itself).
async fn write_bundle(k: &Kiosk) -> Result<(), Error> {
    k.find("[data-action=support-bundle]:not([disabled])")
        .await?;
    k.client
        .execute(
            "document.querySelector('[data-action=support-bundle]').scrollIntoView({block: 'center'}); return null",
            vec![],
        )
        .await?;
    k.click("[data-action=support-bundle]").await
}

#[tokio::test]
async fn nothing_personal_is_left_anywhere_after_hundreds_of_card_visits() -> Result<(), Error> {
    if !enabled("nothing_personal_is_left_anywhere_after_hundreds_of_card_visits") {
        return Ok(());
    }
    let n: usize = std::env::var("DPS_E2E_PRIVACY_VISITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_VISITS);
    let pcscd = Pcscd::start(1)?;
    let pki = TestPki::generate(KeyKind::Ec, "DPS e2e Root")?;
    let data_dir = tempfile::tempdir()?;
    // The "USB sticks" are sub-directories of a real directory the app is
    // pointed at; it lies inside the searched tree, so the bundle is searched
    // as files too.
    let media = data_dir.path().join("media");
    std::fs::create_dir_all(&media)?;
    let media_env = media.to_string_lossy().into_owned();
    dps_e2e::set_up_steward(&dps_e2e::app_data_dir(data_dir.path()))?;
    let k = Kiosk::launch_opts(
        data_dir,
        dps_e2e::Launch {
            env: &[("DPS_REMOVABLE_MEDIA_ROOT", media_env.as_str())],
            ..dps_e2e::Launch::default()
        },
    )
    .await?;
    wait_visits(&k, 0).await?;

    let people = residents(n);
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for (i, r) in people.iter().enumerate() {
        let t = Instant::now();
        let card = pcscd.insert(
            0,
            CardImage::build(
                &CardSpec {
                    national_number: r.number.clone(),
                    surname: r.surname.clone(),
                    given_names: r.given.clone(),
                    street: r.street.clone(),
                    postcode: r.postcode.into(),
                    birth_date: r.card_birth.clone(),
                    ..CardSpec::default()
                },
                &pki,
            )?,
        )?;
        // Mostly "find a DPS" (short, uses the card's address); every tenth
        // a whole BRUVAX registration, which shows the national number.
        let procedure = if i % 10 == 0 {
            "bruvax-registration"
        } else {
            "find-dps"
        };
        in_page(&k, JOURNEY, vec![json!(procedure)])
            .await
            .map_err(|e| format!("visit {i}: {e}"))?;
        drop(card);
        in_page(&k, BACK_HOME, vec![json!((i + 1).to_string())])
            .await
            .map_err(|e| format!("visit {i}, card out: {e}"))?;
        slowest = slowest.max(t.elapsed());
    }
    let took = started.elapsed();
    eprintln!(
        "privacy: {n} card visits in {:.1} s ({:.0} ms each, slowest {} ms)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / n.max(1) as f64,
        slowest.as_millis()
    );

    // The support bundle from the steward area: no stick, said plainly;
    // then a stick, and the bundle is on it.
    unlock(&k).await?;
    write_bundle(&k).await?;
    k.wait_contains("[data-testid=steward-error]", "Aucune clé USB")
        .await?;
    std::fs::create_dir_all(media.join("KINGSTON"))?;
    write_bundle(&k).await?;
    let shown = k.find("[data-testid=support-bundle-path]").await?;
    let path = PathBuf::from(shown.attr("data-path").await?.unwrap_or_default());
    assert!(path.starts_with(media.join("KINGSTON")), "{path:?}");
    assert!(
        shown.text().await?.contains(&path.display().to_string()),
        "the steward reads where it went"
    );
    k.assert_axe_clean("steward area, support bundle written")
        .await?;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path)?)?;
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes)?;
        entries.push((
            PathBuf::from(format!("{}!{}", path.display(), f.name())),
            bytes,
        ));
    }
    let names: Vec<String> = entries
        .iter()
        .map(|(p, _)| {
            p.to_string_lossy()
                .rsplit('!')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(names.iter().any(|n| n == "doctor.txt"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("logs/")), "{names:?}");
    let doctor = &entries[names.iter().position(|n| n == "doctor.txt").unwrap_or(0)].1;
    assert!(
        String::from_utf8_lossy(doctor).contains("in use by the kiosk window"),
        "the doctor ran beside the window"
    );

    // Search everything the app could have written.
    let mut files = Vec::new();
    files_under(k.data_dir.path(), &mut files);
    assert!(
        files
            .iter()
            .any(|(p, _)| p.starts_with(k.app_data().join("logs"))),
        "the app writes logs into its data dir"
    );
    files.extend(entries);
    let all: Vec<Vec<u8>> = people.iter().flat_map(needles).collect();
    let owner: Vec<usize> = people
        .iter()
        .enumerate()
        .flat_map(|(i, r)| std::iter::repeat_n(i, needles(r).len()))
        .collect();
    let ac = aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(&all)?;
    let mut hits = Vec::new();
    for (path, bytes) in &files {
        for m in ac.find_iter(bytes) {
            hits.push(format!(
                "resident {}: {:?} in {}",
                owner[m.pattern().as_usize()],
                String::from_utf8_lossy(&all[m.pattern().as_usize()]),
                path.display()
            ));
        }
    }
    assert!(
        hits.is_empty(),
        "personal data found ({} files searched): {:#?}",
        files.len(),
        &hits[..hits.len().min(50)]
    );
    eprintln!(
        "privacy: {} residents, {} needles, {} files ({} bytes) searched: 0 hits",
        n,
        all.len(),
        files.len(),
        files.iter().map(|(_, b)| b.len()).sum::<usize>()
    );
    k.close().await
}
