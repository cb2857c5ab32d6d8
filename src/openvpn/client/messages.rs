//! Control-channel strings after the key exchange (§7): the server's messages, acted on, and our
//! `EXIT` before a clean disconnect (§7.3).
//!
//! The first `PUSH_REPLY` establishes the tunnel (`Client::handle_push_reply`); a later one only
//! updates the `auth-token` (stock servers send `PUSH_REPLY,auth-token …` after each
//! renegotiation, `push.c` `send_push_reply_auth_token`), everything else in it is ignored.

use super::auth::{auth_failed_reaction, AuthReaction};
use super::key_state::Stage;
use super::{Client, Event};
use crate::openvpn::push::{AuthFailure, ControlMessage, PushReply, PushedConfig, EXIT};

impl Client {
    pub(super) fn handle_control_messages(&mut self, now: std::time::Instant) {
        while let Some(message) = self.key.control.poll_message() {
            if self.done {
                return;
            }
            let text = match message {
                Ok(text) => text,
                Err(e) => {
                    tracing::warn!("dropping a control message: {e}");
                    continue;
                }
            };
            match ControlMessage::parse(&text) {
                ControlMessage::PushReply(reply) if self.data.is_some() => {
                    self.handle_push_update(reply)
                }
                ControlMessage::PushReply(reply) => self.handle_push_reply(now, reply),
                ControlMessage::AuthFailed { failure, reason } => {
                    self.handle_auth_failed(failure, &reason)
                }
                ControlMessage::Halt { message } => {
                    self.fatal(false, format!("the server said HALT: {message}"))
                }
                ControlMessage::Restart { message, flags } if flags.next_server => {
                    let reason = format!("the server sent us to the next server: {message}");
                    self.events.push_back(Event::NextServer(reason));
                    self.done = true;
                }
                ControlMessage::Restart { message, .. } => {
                    self.restart(&format!("the server asked us to reconnect: {message}"))
                }
                ControlMessage::Exit => self.restart("the server is exiting"),
                ControlMessage::AuthPending { .. } => {
                    tracing::info!("authentication pending on the server")
                }
                ControlMessage::Info { text, .. } => tracing::info!("server: {text}"),
                ControlMessage::Unknown(text) => {
                    tracing::debug!("ignoring control message {text:?}")
                }
            }
        }
    }

    /// A `PUSH_REPLY` once the tunnel is up: a renewed `auth-token` (and `auth-token-user`).
    fn handle_push_update(&mut self, reply: PushReply) {
        let options = match self.push.handle_reply(reply) {
            Ok(Some(options)) => options,
            Ok(None) => return,
            Err(e) => return tracing::warn!("ignoring an unusable PUSH_REPLY update: {e}"),
        };
        if self.login.absorb(&options) {
            tracing::debug!("the server renewed the auth-token");
        } else {
            tracing::debug!("ignoring a PUSH_REPLY after the tunnel is up");
        }
    }

    /// `auth-token` in the first push.
    pub(super) fn absorb_login(&mut self, pushed: &PushedConfig) {
        if self.login.absorb(pushed) {
            tracing::debug!("the server pushed an auth-token for renegotiations");
        }
    }

    fn handle_auth_failed(&mut self, failure: AuthFailure, reason: &str) {
        // Stock clients forget a held token on any AUTH_FAILED but TEMP (`receive_auth_failed`).
        let had_token =
            !matches!(failure, AuthFailure::Temporary { .. }) && self.login.forget_token();
        let sent_user_pass = self.settings.user_pass.is_some();
        match auth_failed_reaction(failure, reason, sent_user_pass, had_token) {
            AuthReaction::Restart(why) => self.restart(&why),
            AuthReaction::Fatal(why) => self.fatal(true, why),
        }
    }

    /// Queues `EXIT` for the server before a clean disconnect, when it negotiated `cc-exit`
    /// (`protocol-flags cc-exit`, answering our IV_PROTO bit 7) and the current key state can
    /// carry it. Returns false when there is nothing to wait for: then just close. After a
    /// true, drain [`Client::poll_transmit`] and close once [`Client::exit_acknowledged`] (or
    /// after a short grace period).
    pub fn queue_exit(&mut self) -> bool {
        let cc_exit = self
            .pushed
            .as_ref()
            .is_some_and(|p| p.protocol_flags.cc_exit);
        if self.done || !cc_exit || self.key.stage != Stage::KeysExchanged {
            return false;
        }
        if let Err(e) = self.key.send_control(EXIT) {
            tracing::debug!("cannot send EXIT: {e}");
            return false;
        }
        self.exit_queued = true;
        true
    }

    /// True once the server acknowledged everything we sent on the control channel, the `EXIT`
    /// queued by [`Client::queue_exit`] included.
    pub fn exit_acknowledged(&self) -> bool {
        self.exit_queued && self.key.all_acknowledged()
    }
}
