//! The hub's one integration-test binary: a real hub on loopback and real
//! kiosk sync clients. In every scenario the hub's totals must equal the sum
//! of the kiosks' totals exactly.

mod auth;
mod browser;
mod cli;
mod common;
mod coord;
mod coord_pg;
mod deploy;
mod e2e;
mod faults;
mod openapi;
mod pg;
mod process;
mod props;
mod store;
