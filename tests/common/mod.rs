pub mod client;
pub mod lan_peer;
