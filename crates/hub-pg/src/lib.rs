//! PostgreSQL behind the hub's storage trait ([`dps_hub_store::Store`]),
//! the scale path of issue 7: several `dps-hub` processes can serve one
//! database.
//!
//! - [`store`]: [`PgStore`], the trait on PostgreSQL with a connection pool.
//! - [`migrations`]: the versioned schema, applied by the store on connect.
//! - [`testing`]: [`testing::TempCluster`], a throw-away PostgreSQL for tests
//!   and benchmarks.

mod coordination;
pub mod migrations;
pub mod store;
pub mod testing;

pub use store::{PgError, PgStore, DEFAULT_POOL_SIZE};
