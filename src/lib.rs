pub mod domain;
pub mod service;
pub mod store;

pub use service::{Actor, Error, Velvet};
pub use store::Store;
pub mod api;
pub mod cli;
pub mod config;
pub mod console;
pub mod report;
pub mod secret;
pub mod serve;
pub mod sim;
pub mod worker;
