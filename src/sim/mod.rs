//! Made-up but believable traffic: the seeder (and, later, the simulator).

pub mod rng;
pub mod seed;
pub mod traffic;
