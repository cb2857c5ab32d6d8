pub mod config;
pub mod ether;
