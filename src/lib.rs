pub mod domain;
pub mod service;
pub mod store;

pub use service::{Actor, Error, Velvet};
pub use store::Store;
pub mod cli;
pub mod config;
pub mod api;
pub mod worker;
pub mod serve;
pub mod secret;
pub mod console;
pub mod sim;
pub mod report;
