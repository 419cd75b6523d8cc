//! A throw-away test PKI, generated at test time with the `openssl` command:
//! a root and an RRN certificate it signs (RSA-2048 or ECDSA P-384), and the
//! RRN key to sign virtual cards' files. Nothing here is ever trusted outside tests.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::VcardError;

/// Key type of the RRN certificate (and of the root that signs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// RSA-2048, PKCS#1 v1.5 signatures with SHA-256 (a re-signed RSA card).
    #[default]
    Rsa,
    /// ECDSA P-384 with SHA-384 (applet 1.8 cards).
    Ec,
}

/// A generated root + RRN certificate; files live in a temporary directory
/// that disappears with this value.
pub struct TestPki {
    dir: TempDir,
    pub kind: KeyKind,
    /// The root certificate in PEM, for `--trust-root` / `TrustStore::add_pem`.
    pub root_pem: String,
    /// The RRN certificate in DER, as stored in file 503C.
    pub rrn_der: Vec<u8>,
}

fn openssl(dir: &Path, args: &[&str]) -> Result<Vec<u8>, VcardError> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            VcardError::Pki(format!("cannot run openssl (apt-get install openssl): {e}"))
        })?;
    if !out.status.success() {
        return Err(VcardError::Pki(format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(out.stdout)
}

impl TestPki {
    /// Generates a fresh root "CN=<root_name>" and an RRN certificate under it.
    pub fn generate(kind: KeyKind, root_name: &str) -> Result<TestPki, VcardError> {
        let dir = tempfile::tempdir().map_err(|e| VcardError::Pki(e.to_string()))?;
        let p = dir.path();
        let (newkey, md): (&[&str], &str) = match kind {
            KeyKind::Rsa => (&["-newkey", "rsa:2048"], "-sha256"),
            KeyKind::Ec => (
                &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1"],
                "-sha384",
            ),
        };
        let subj = format!("/C=BE/CN={root_name}");
        let mut args = vec![
            "req", "-x509", "-nodes", "-keyout", "root.key", "-out", "root.pem",
        ];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-subj", &subj, "-days", "3650", md]);
        openssl(p, &args)?;
        let mut args = vec![
            "req", "-new", "-nodes", "-keyout", "rrn.key", "-out", "rrn.csr",
        ];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-subj", "/C=BE/O=Test RRN/CN=RRN"]);
        openssl(p, &args)?;
        openssl(
            p,
            &[
                "x509",
                "-req",
                "-in",
                "rrn.csr",
                "-CA",
                "root.pem",
                "-CAkey",
                "root.key",
                "-set_serial",
                "4242",
                "-days",
                "3650",
                md,
                "-outform",
                "DER",
                "-out",
                "rrn.der",
            ],
        )?;
        let read = |f: &str| std::fs::read(p.join(f)).map_err(|e| VcardError::Pki(e.to_string()));
        let root_pem = String::from_utf8_lossy(&read("root.pem")?).into_owned();
        let rrn_der = read("rrn.der")?;
        Ok(TestPki {
            dir,
            kind,
            root_pem,
            rrn_der,
        })
    }

    /// Signs `data` with the RRN key the way the card's files are signed:
    /// RSA PKCS#1 v1.5 / SHA-256, or a DER ECDSA P-384 / SHA-384 signature.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, VcardError> {
        let md = match self.kind {
            KeyKind::Rsa => "-sha256",
            KeyKind::Ec => "-sha384",
        };
        let mut child = Command::new("openssl")
            .args(["dgst", md, "-sign", "rrn.key"])
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| VcardError::Pki(format!("cannot run openssl: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(data)
                .map_err(|e| VcardError::Pki(e.to_string()))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| VcardError::Pki(e.to_string()))?;
        if !out.status.success() {
            return Err(VcardError::Pki(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        Ok(out.stdout)
    }

    /// Where the root certificate is, as a file (for `--trust-root PEM`).
    pub fn root_pem_path(&self) -> std::path::PathBuf {
        self.dir.path().join("root.pem")
    }
}
