//! The read card as the window and `card read --json` see it.

use dps_person::{NationalNumber, PartialDate, SecretString, Sex};

use crate::apdu::{RawCard, ReadError};
use crate::fields;
use crate::verify::{verify_card, SignatureStatus, TrustStore};

/// A read card. Field names and shapes are exactly those of `card read
/// --json`; absent values are `null`. Personal fields are zeroized on drop.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
pub struct CardData {
    pub reader: String,
    /// "1.7" or "1.8".
    pub applet: String,
    #[ts(type = "string | null")]
    pub card_number: Option<SecretString>,
    /// "1" eID, "6" Kids-ID, "11".."36" foreigner cards (leading zero removed).
    pub document_type: Option<String>,
    /// ISO dates.
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub issuing_municipality: Option<String>,
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
    pub nationality: Option<String>,
    #[ts(type = "string | null")]
    pub birth_place: Option<SecretString>,
    /// ISO 8601, partial when the card's date is ("1962", "1962-03").
    #[ts(type = "string | null")]
    pub birth_date: Option<PartialDate>,
    #[ts(type = "\"M\" | \"F\" | null")]
    pub sex: Option<Sex>,
    pub address: Option<CardAddress>,
    pub signature: SignatureStatus,
}

#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
pub struct CardAddress {
    #[ts(type = "string | null")]
    pub street: Option<SecretString>,
    #[ts(type = "string | null")]
    pub postcode: Option<SecretString>,
    #[ts(type = "string | null")]
    pub municipality: Option<SecretString>,
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

fn some_text(s: String) -> Option<String> {
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
    let id = fields::parse_identity(&raw.identity)
        .map_err(|e| ReadError::Damaged(format!("identity file: {e}")))?;
    let addr = fields::parse_address(&raw.address)
        .map_err(|e| ReadError::Damaged(format!("address file: {e}")))?;
    let signature = verify_card(
        &raw.identity,
        &raw.identity_sig,
        &raw.address,
        &raw.address_sig,
        &raw.rrn_cert,
        id.photo_hash_len,
        trust,
    );
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
        document_type: some_text(id.document_type),
        valid_from: id.valid_from.map(|d| d.format("%Y-%m-%d").to_string()),
        valid_until: id.valid_until.map(|d| d.format("%Y-%m-%d").to_string()),
        issuing_municipality: some_text(id.issuing_municipality),
        national_number: some(id.national_number),
        surname: some(id.surname),
        given_names: some(id.given_names),
        third_initial: some(id.third_initial),
        nationality: some_text(id.nationality),
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
