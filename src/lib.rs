//! velvet, in layers (arrows point down only; README "How it is built"):
//! front ends (`cli`, `console`, `api`, `sim`) call `service`, the only way
//! anything changes; `service` uses `domain` (pure rules) and `store` (the
//! SQLite and PostgreSQL queries). `limiter`, `secret` and `worker` are the
//! mechanisms `serve` runs beside the API.

pub mod domain;
pub mod service;
pub mod store;

pub use service::{Actor, Error, Velvet};
pub use store::Store;
pub mod api;
pub mod cli;
pub mod config;
pub mod console;
pub mod limiter;
pub mod ops;
pub mod secret;
pub mod serve;
pub mod sim;
pub mod worker;
