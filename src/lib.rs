pub mod app;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod tls;
pub mod framing;
#[doc(hidden)]
pub mod fuzzing;
pub mod driver;
pub mod netcfg;
pub mod openvpn;
pub mod tun;
pub mod ether;
#[cfg(test)]
pub(crate) mod testutil;
