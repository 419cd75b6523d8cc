//! The read card as the window and `card read --json` see it.

use std::fmt;

use dps_person::{NationalNumber, PartialDate, SecretString, Sex, Zeroizing};

use crate::apdu::{RawCard, ReadError};
use crate::fields;
use crate::verify::{verify_card, SignatureStatus, TrustStore};

/// A read card. Field names and shapes are exactly those of `card read
/// --json`; absent values are `null`.
///
/// Everything about the resident (and the card, which identifies them) is in
/// zeroize-on-drop types, and `Debug` prints only the reader, applet and
/// verdict. Only `reader`, `applet` and `signature` are plain.
#[derive(Clone, serde::Serialize, ts_rs::TS)]
pub struct CardData {
    pub reader: String,
    /// "1.7" or "1.8".
    pub applet: String,
    #[ts(type = "string | null")]
    pub card_number: Option<SecretString>,
    /// "1" eID, "6" Kids-ID, "11".."36" foreigner cards (leading zero removed).
    #[ts(type = "string | null")]
    pub document_type: Option<SecretString>,
    /// ISO dates.
    #[ts(type = "string | null")]
    pub valid_from: Option<SecretString>,
    #[ts(type = "string | null")]
    pub valid_until: Option<SecretString>,
    #[ts(type = "string | null")]
    pub issuing_municipality: Option<SecretString>,
    /// The 11 digits as on the card (specimen cards may break the rules: see warnings).
    #[ts(type = "string | null")]
    pub national_number: Option<SecretString>,
    #[ts(type = "string | null")]
    pub surname: Option<SecretString>,
    /// The first two given names, space separated. Greet with the first one only.
    #[ts(type = "string | null")]
    pub given_names: Option<SecretString>,
    #[ts(type = "string | null")]
    pub third_initial: Option<SecretString>,
    #[ts(type = "string | null")]
    pub nationality: Option<SecretString>,
    #[ts(type = "string | null")]
    pub birth_place: Option<SecretString>,
    /// ISO 8601, partial when the card's date is ("1962", "1962-03").
    #[ts(type = "string | null")]
    #[serde(serialize_with = "inner")]
    pub birth_date: Option<Zeroizing<PartialDate>>,
    #[ts(type = "\"M\" | \"F\" | null")]
    #[serde(serialize_with = "inner")]
    pub sex: Option<Zeroizing<Sex>>,
    pub address: Option<CardAddress>,
    pub signature: SignatureStatus,
}

/// Serialises what a `Zeroizing` holds (zeroize's own serde support would
/// rebuild half the dependency tree with another feature set).
fn inner<T, S>(v: &Option<Zeroizing<T>>, s: S) -> Result<S::Ok, S::Error>
where
    T: serde::Serialize + dps_person::Zeroize,
    S: serde::Serializer,
{
    serde::Serialize::serialize(&v.as_deref(), s)
}

/// Redacted: a `{:?}` of a card (or of an event carrying one) says which
/// reader and applet and what the verification found, nothing about the resident.
impl fmt::Debug for CardData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardData")
            .field("reader", &self.reader)
            .field("applet", &self.applet)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, serde::Serialize, ts_rs::TS)]
pub struct CardAddress {
    #[ts(type = "string | null")]
    pub street: Option<SecretString>,
    #[ts(type = "string | null")]
    pub postcode: Option<SecretString>,
    #[ts(type = "string | null")]
    pub municipality: Option<SecretString>,
}

impl fmt::Debug for CardAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardAddress { .. }")
    }
}

impl CardData {
    /// The first given name, for greeting the resident.
    pub fn first_given_name(&self) -> Option<&str> {
        self.given_names
            .as_ref()
            .and_then(|g| g.expose().split_whitespace().next())
    }
}

fn some(s: SecretString) -> Option<SecretString> {
    (!s.is_empty()).then_some(s)
}

/// Turns raw files into [`CardData`], verifying signatures. Returns warnings
/// in plain words (no personal data in them) for rule-breaking values:
/// specimen numbers, unreadable dates.
pub fn assemble(
    reader: &str,
    raw: &RawCard,
    trust: &TrustStore,
) -> Result<(CardData, Vec<String>), ReadError> {
    assemble_with(reader, raw, || {
        verify_card(
            &raw.identity,
            &raw.identity_sig,
            &raw.address,
            &raw.address_sig,
            &raw.rrn_cert,
            trust,
        )
    })
}

/// [`assemble`] with the verdict from `verdict` (a [`crate::CardCheck`]
/// that followed the read), asked for once the files are parsed, so that
/// parsing overlaps the last check.
pub fn assemble_with(
    reader: &str,
    raw: &RawCard,
    verdict: impl FnOnce() -> SignatureStatus,
) -> Result<(CardData, Vec<String>), ReadError> {
    let id = fields::parse_identity(&raw.identity)
        .map_err(|e| ReadError::Damaged(format!("identity file: {e}")))?;
    let addr = fields::parse_address(&raw.address)
        .map_err(|e| ReadError::Damaged(format!("address file: {e}")))?;
    let signature = verdict();
    let mut warnings = Vec::new();
    if !id.national_number.is_empty() {
        if let Err(e) = NationalNumber::parse(id.national_number.expose()) {
            warnings.push(format!(
                "national number breaks the rules (specimen card?): {e}"
            ));
        }
    }
    if id.birth_date.is_none() && !id.birth_date_raw.is_empty() {
        warnings.push("the birth date on the card is in an unknown form".to_owned());
    }
    let applet = format!("{}.{}", raw.applet >> 4, raw.applet & 0x0F);
    let data = CardData {
        reader: reader.to_owned(),
        applet,
        card_number: some(id.card_number),
        document_type: some(id.document_type),
        valid_from: some(id.valid_from),
        valid_until: some(id.valid_until),
        issuing_municipality: some(id.issuing_municipality),
        national_number: some(id.national_number),
        surname: some(id.surname),
        given_names: some(id.given_names),
        third_initial: some(id.third_initial),
        nationality: some(id.nationality),
        birth_place: some(id.birth_place),
        birth_date: id.birth_date,
        sex: id.sex,
        address: Some(CardAddress {
            street: some(addr.street),
            postcode: some(addr.postcode),
            municipality: some(addr.municipality),
        }),
        signature,
    };
    Ok((data, warnings))
}
