//! The wire types of sync protocol version 1, shared by kiosk and hub.
//!
//! Everything here is anonymous by construction: a cell key is bands and
//! categories ([`CellKey`]), a replica id is a device id and a random
//! incarnation. See `docs/sync-protocol.md` for the exchange itself.

use chrono::{DateTime, Utc};
use dps_model::{CellKey, Code, PnCount, ReplicaId};
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks. A hub refuses other versions with
/// `400 unsupported_version` so an old kiosk gets a clear message instead of
/// a silent misunderstanding.
pub const PROTOCOL_VERSION: u32 = 1;

/// Most cells in one push. Bounds the hub's transaction and memory per request;
/// a larger backlog goes in several batches.
pub const MAX_BATCH_CELLS: usize = 2_000;

/// Largest request body the hub accepts. A full batch of the widest cells is
/// well under this (~300 bytes per cell as JSON).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Paths, versioned so a future protocol can live next to this one.
pub const PATH_ENROL: &str = "/api/v1/enrol";
pub const PATH_PUSH: &str = "/api/v1/push";
pub const PATH_HEALTH: &str = "/healthz";

/// `POST /api/v1/enrol`: redeem a one-time code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub v: u32,
    pub code: String,
    /// The kiosk's device id when it already has one (re-enrolment after a
    /// revocation, or with a hub restored from a copy older than the
    /// enrolment). The hub then re-keys *that* device instead of making a new
    /// one, so the kiosk's replica stays the same and counts it sent before
    /// merge by maximum instead of being counted again under a new id.
    /// Absent on a first enrolment (and from kiosks older than this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// The answer to a redeemed code. `token` is shown once, here, and the hub
/// keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub v: u32,
    pub device: String,
    pub token: String,
    pub site: Code,
    pub hub_time: DateTime<Utc>,
}

/// One cell of a replica with its *absolute* counts (never a delta), so that
/// any resend or reorder merges to the same value.
///
/// On the wire the key's fields and the counts are one flat JSON object
/// (`{"day":…,"residence":…,"inc":3,"ret":1}`). That shape is written out by
/// hand ([`FlatCell`]) rather than with `#[serde(flatten)]`, which makes
/// serde buffer every field of every cell before decoding it: on a year's
/// backlog that was the largest single cost of a sync on the hub.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "FlatCell")]
pub struct WireCell {
    pub key: CellKey,
    pub inc: u64,
    pub ret: u64,
}

/// [`WireCell`] exactly as it is on the wire (field order included).
#[derive(Deserialize)]
struct FlatCell {
    day: chrono::NaiveDate,
    site: Code,
    procedure: Code,
    outcome: Code,
    language: dps_model::Language,
    channel: dps_model::Channel,
    age_band: dps_model::AgeBand,
    residence: dps_model::Residence,
    inc: u64,
    ret: u64,
}

impl From<FlatCell> for WireCell {
    fn from(f: FlatCell) -> WireCell {
        WireCell {
            key: CellKey {
                day: f.day,
                site: f.site,
                procedure: f.procedure,
                outcome: f.outcome,
                language: f.language,
                channel: f.channel,
                age_band: f.age_band,
                residence: f.residence,
            },
            inc: f.inc,
            ret: f.ret,
        }
    }
}

impl Serialize for WireCell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let k = &self.key;
        let mut st = s.serialize_struct("WireCell", 10)?;
        st.serialize_field("day", &k.day)?;
        st.serialize_field("site", &k.site)?;
        st.serialize_field("procedure", &k.procedure)?;
        st.serialize_field("outcome", &k.outcome)?;
        st.serialize_field("language", &k.language)?;
        st.serialize_field("channel", &k.channel)?;
        st.serialize_field("age_band", &k.age_band)?;
        st.serialize_field("residence", &k.residence)?;
        st.serialize_field("inc", &self.inc)?;
        st.serialize_field("ret", &self.ret)?;
        st.end()
    }
}

impl WireCell {
    pub fn new(key: CellKey, c: PnCount) -> WireCell {
        WireCell {
            key,
            inc: c.inc,
            ret: c.ret,
        }
    }
    pub fn count(&self) -> PnCount {
        PnCount {
            inc: self.inc,
            ret: self.ret,
        }
    }
}

/// `POST /api/v1/push` (bearer token): the cells of `replica` changed in the
/// kiosk's sequence range `(after, upto]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    pub v: u32,
    pub replica: ReplicaId,
    pub after: u64,
    pub upto: u64,
    pub cells: Vec<WireCell>,
    /// The kiosk's clock when it sent this, for the hub's skew record.
    pub kiosk_time: DateTime<Utc>,
    /// Cells still waiting on the kiosk after this batch (for the device list).
    pub pending: u64,
}

/// The hub's answer to a push, after the merge is committed.
///
/// `watermark` is how far the hub holds this replica *contiguously*. When it
/// is below the request's `after`, the hub has lost data (e.g. its store was
/// restored from an older copy) and the kiosk resends from `watermark`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    pub v: u32,
    pub watermark: u64,
    pub stored: u64,
    pub hub_time: DateTime<Utc>,
}

/// Every error body the hub sends: a stable machine `code` and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

/// The error codes a kiosk acts on. Kept as constants so both sides agree.
pub mod codes {
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const REVOKED: &str = "revoked";
    pub const FORBIDDEN_REPLICA: &str = "forbidden_replica";
    pub const BAD_REQUEST: &str = "bad_request";
    pub const UNSUPPORTED_VERSION: &str = "unsupported_version";
    pub const TOO_LARGE: &str = "too_large";
    pub const BAD_CODE: &str = "bad_code";
    pub const INTERNAL: &str = "internal";
    pub const TIMEOUT: &str = "timeout";
    /// Re-enrolment refused: the device is enrolled and not revoked, so a
    /// code may not take over its replica (409; the code stays usable).
    pub const DEVICE_ACTIVE: &str = "device_active";
}
