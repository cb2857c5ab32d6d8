pub mod config;
pub mod ether;
#[cfg(test)]
pub(crate) mod testutil;
