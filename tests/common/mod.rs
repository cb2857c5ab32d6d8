pub mod client;
pub mod lan_peer;
pub mod ovpn_net;
pub mod ovpn_server;
pub mod tls_server;
