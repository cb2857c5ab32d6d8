//! The Ethernet layer (sans-IO): placeholder module file, replaced by the ether helper.
mod addr;
pub use addr::{AddrParseError, Ipv4Cidr, MacAddr};
