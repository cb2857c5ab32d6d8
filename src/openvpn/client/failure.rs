//! How a connection ends: [`Event::Restart`] and [`Event::Fatal`] with a reason a user can act
//! on, and the guess at why a connection that dropped before the tunnel was up failed (over TCP
//! a stock server reports nothing; it logs the problem and hangs up).

use super::key_state::{KeyStateError, Stage};
use super::{Client, Event};

impl Client {
    /// Why a connection that ends now probably failed, judged by how far the handshake got.
    /// Over TCP a stock server reports nothing to the client: it logs the problem and hangs up.
    /// `None` once established (a loss then is just a loss).
    pub fn handshake_failure(&self) -> Option<&'static str> {
        if self.data.is_some() {
            return None;
        }
        Some(if !self.server_heard {
            "the server hung up without answering our first packet: with tls-auth or tls-crypt, \
             check that the key file and key_direction match the server's; otherwise check that \
             this is an OpenVPN server over TCP"
        } else {
            match self.key.stage {
                // A server that requires auth-user-pass drops a login without one right after
                // reading our key-method-2 message ("Auth Username/Password was not provided").
                Stage::AwaitKeyExchange if self.settings.user_pass.is_none() => {
                    "the server hung up during the TLS handshake or key exchange: it rejected our \
                     client certificate (is it issued by a CA the server trusts, and still \
                     valid?) or it requires a username and password (auth_user_pass)"
                }
                Stage::AwaitReset | Stage::Handshake | Stage::AwaitKeyExchange => {
                    "the server hung up during the TLS handshake: it most likely rejected our \
                     client certificate (is it issued by a CA the server trusts, and still valid?)"
                }
                Stage::KeysExchanged => {
                    "the server hung up after the key exchange, before sending its configuration: \
                     it refused the session (its log says why)"
                }
            }
        })
    }

    pub(super) fn fail_key_state(&mut self, e: KeyStateError) {
        match &e {
            // A renegotiation that fails on an established tunnel: reconnect, like a stock
            // client's soft restart; a new connection checks the server afresh.
            KeyStateError::Tls(tls) if self.data.is_some() => {
                self.restart(&format!("TLS failed during a renegotiation: {tls}"))
            }
            KeyStateError::Tls(tls) => {
                let authentication = matches!(
                    tls,
                    rustls::Error::InvalidCertificate(_) | rustls::Error::AlertReceived(_)
                );
                self.fatal_tls(authentication, tls.clone());
            }
            _ => self.restart(&e.to_string()),
        }
    }

    fn fatal_tls(&mut self, authentication: bool, e: rustls::Error) {
        self.events.push_back(Event::Fatal {
            authentication,
            reason: format!("TLS: {e}"),
            tls: Some(e),
        });
        self.done = true;
    }

    pub(super) fn fatal(&mut self, authentication: bool, reason: String) {
        self.events.push_back(Event::Fatal {
            authentication,
            reason,
            tls: None,
        });
        self.done = true;
    }

    pub(super) fn restart(&mut self, reason: &str) {
        self.events.push_back(Event::Restart(reason.to_owned()));
        self.done = true;
    }
}

pub(super) fn rng_error() -> KeyStateError {
    KeyStateError::Io(std::io::Error::other(
        "the system random number generator failed",
    ))
}
