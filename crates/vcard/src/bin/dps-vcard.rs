//! Inserts a described virtual card into a vpcd slot until Enter is pressed.
//!
//! `dps-vcard [--port 35963] [--spec card.json] [--trust-root-out root.pem]`
//! The card description is a JSON `CardSpec` (fields default to a synthetic resident).

use anyhow::{bail, Context, Result};
use dps_vcard::{vpcd, CardImage, CardSpec, TestPki};

fn main() -> Result<()> {
    let mut port = dps_vcard::harness::BASE_PORT;
    let mut spec = CardSpec::default();
    let mut root_out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().context("--port needs a number")?.parse()?,
            "--spec" => {
                let path = args.next().context("--spec needs a file")?;
                let text = std::fs::read_to_string(&path).with_context(|| path.clone())?;
                spec = serde_json::from_str(&text).context("card description")?;
            }
            "--trust-root-out" => {
                root_out = Some(args.next().context("--trust-root-out needs a file")?)
            }
            "-h" | "--help" => {
                println!("dps-vcard [--port PORT] [--spec card.json] [--trust-root-out root.pem]");
                return Ok(());
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let pki = TestPki::generate(spec.key, "DPS Test Root")?;
    if let Some(out) = root_out {
        std::fs::write(&out, &pki.root_pem).with_context(|| out.clone())?;
        eprintln!("test root written to {out} (pass it to --trust-root)");
    }
    let card = CardImage::build(&spec, &pki)?;
    let inserted = vpcd::insert(port, card)?;
    eprintln!("virtual card inserted on port {port}; press Enter to remove it");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let log = inserted.remove();
    eprintln!("removed after {} APDUs", log.apdus.len());
    Ok(())
}
