pub mod lan_peer;
