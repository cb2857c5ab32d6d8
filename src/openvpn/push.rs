//! Control messages after the key exchange (§7): the NUL-separated text stream inside TLS,
//! the server's messages (`PUSH_REPLY`, `AUTH_FAILED`, `RESTART`, …) and the pushed options
//! turned into a typed [`PushedConfig`].
//!
//! Sources: OpenVPN `forward.c` (`check_incoming_control_channel`), `push.c`
//! (`push-continuation`, `AUTH_FAILED`, `RESTART`/`HALT`), `options.c` (`add_option` for each
//! pushed option), `options_util.c` (`AUTH_FAILED,TEMP` flags).
//!
//! Calling order for the session engine:
//! 1. feed every chunk of decrypted TLS application data (after the server's key-method
//!    message) to [`ControlStream::handle_plaintext`], then drain
//!    [`ControlStream::poll_message`] (drops come back as errors to count and log);
//! 2. [`ControlMessage::parse`] each message;
//! 3. hand each [`ControlMessage::PushReply`] to [`PushAssembler::handle_reply`]; it returns
//!    the [`PushedConfig`] once the last part (`push-continuation 1`, or none) has arrived.
//!
//! Nothing here applies anything (addresses, routes, keys): the config is data for the engine
//! and `netcfg`. Unknown options are collected for one log line, never fatal; a known option
//! with a malformed value is a [`PushError`] naming it.

mod config;

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

pub use config::{
    AuthToken, CompLzo, Compression, CompressionFraming, DhcpOption, KeyDerivation, ProtocolFlags,
    PushedConfig, RedirectGateway, Route, RouteGateway, RouteVia, Topology,
};

/// Our request for the pushed configuration (only needed without IV_PROTO bit 2, §7.1).
pub const PUSH_REQUEST: &[u8] = b"PUSH_REQUEST\0";
/// Our goodbye before closing, allowed when `cc-exit` was pushed (§7.3).
pub const EXIT: &[u8] = b"EXIT\0";
/// Longest control message we assemble; longer ones are dropped. The server sends at most
/// ~1 KiB per message (`PUSH_BUNDLE_SIZE`); 4 KiB leaves room for long INFO texts.
pub const MAX_CONTROL_MESSAGE_LEN: usize = 4096;
/// Most PUSH_REPLY parts assembled into one configuration (70 routes took 3).
pub const MAX_PUSH_PARTS: usize = 64;
/// Most options accepted in one assembled configuration.
pub const MAX_PUSHED_OPTIONS: usize = 4096;

/// A data-channel cipher name as pushed (`cipher X`) or announced (`IV_CIPHERS`).
/// Names compare case-insensitively, as OpenVPN's do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
    Aes128Cbc,
    Aes256Cbc,
    /// Any other name, kept as written.
    Other(String),
}

impl Cipher {
    pub fn from_name(name: &str) -> Cipher {
        const KNOWN: [(&str, Cipher); 5] = [
            ("AES-128-GCM", Cipher::Aes128Gcm),
            ("AES-256-GCM", Cipher::Aes256Gcm),
            ("CHACHA20-POLY1305", Cipher::Chacha20Poly1305),
            ("AES-128-CBC", Cipher::Aes128Cbc),
            ("AES-256-CBC", Cipher::Aes256Cbc),
        ];
        KNOWN
            .into_iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map_or_else(|| Cipher::Other(name.to_owned()), |(_, cipher)| cipher)
    }

    /// The OpenVPN name (upper case for the known ciphers).
    pub fn name(&self) -> &str {
        match self {
            Cipher::Aes128Gcm => "AES-128-GCM",
            Cipher::Aes256Gcm => "AES-256-GCM",
            Cipher::Chacha20Poly1305 => "CHACHA20-POLY1305",
            Cipher::Aes128Cbc => "AES-128-CBC",
            Cipher::Aes256Cbc => "AES-256-CBC",
            Cipher::Other(name) => name,
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a pushed configuration is refused. Blamed on the peer (its push is incompatible with
/// what we understand); the session stops with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("pushed option `{option}` is malformed: `{line}` (expected {expected})")]
    Malformed {
        option: &'static str,
        /// The option line, secrets redacted.
        line: String,
        expected: &'static str,
    },
    #[error("pushed option has an unterminated quote: `{line}`")]
    UnterminatedQuote { line: String },
    #[error("the pushed configuration has more than {max} options")]
    TooManyOptions { max: usize },
    #[error("the pushed configuration has more than {max} PUSH_REPLY parts")]
    TooManyParts { max: usize },
}

/// Why a control message was dropped by [`ControlStream`] (count and log; not fatal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlStreamError {
    #[error("control message with non-printable characters dropped ({len} bytes)")]
    NonPrintable { len: usize },
    #[error("control message longer than {max} bytes dropped")]
    Oversize { max: usize },
}

/// Splits the decrypted control stream into messages (§2, §7): NUL ends a message, trailing
/// CR/LF are stripped, empty messages are skipped, messages with characters outside printable
/// ASCII are dropped (as the stock peer does). A message may span several chunks.
#[derive(Debug, Default)]
pub struct ControlStream {
    partial: Vec<u8>,
    /// True while skipping the rest of an oversize message.
    discarding: bool,
    ready: VecDeque<Result<String, ControlStreamError>>,
}

impl ControlStream {
    pub fn new() -> ControlStream {
        ControlStream::default()
    }

    /// Takes one chunk of TLS application data.
    pub fn handle_plaintext(&mut self, mut data: &[u8]) {
        while let Some(nul) = data.iter().position(|&b| b == 0) {
            self.append(&data[..nul]);
            self.finish_message();
            data = &data[nul + 1..];
        }
        self.append(data);
    }

    /// The next complete message (or drop report), in stream order.
    pub fn poll_message(&mut self) -> Option<Result<String, ControlStreamError>> {
        self.ready.pop_front()
    }

    /// True when bytes of an unfinished message are buffered.
    pub fn has_partial(&self) -> bool {
        !self.partial.is_empty() || self.discarding
    }

    fn append(&mut self, bytes: &[u8]) {
        if self.discarding || bytes.is_empty() {
            return;
        }
        if self.partial.len() + bytes.len() > MAX_CONTROL_MESSAGE_LEN {
            self.partial.clear();
            self.discarding = true;
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    fn finish_message(&mut self) {
        if std::mem::take(&mut self.discarding) {
            self.ready.push_back(Err(ControlStreamError::Oversize {
                max: MAX_CONTROL_MESSAGE_LEN,
            }));
            return;
        }
        let mut bytes = std::mem::take(&mut self.partial);
        while bytes.last().is_some_and(|&b| b == b'\r' || b == b'\n') {
            bytes.pop();
        }
        if bytes.is_empty() {
            return;
        }
        let len = bytes.len();
        let message = String::from_utf8(bytes)
            .ok()
            .filter(|s| s.bytes().all(|b| (0x20..=0x7e).contains(&b)))
            .ok_or(ControlStreamError::NonPrintable { len });
        self.ready.push_back(message);
    }
}

/// One part of a PUSH_REPLY: its options (without `push-continuation`) and whether more
/// parts follow.
#[derive(Clone, PartialEq, Eq)]
pub struct PushReply {
    pub options: Vec<String>,
    /// `push-continuation 2`: more parts follow; `1` or absent: this is the last one.
    pub more_follows: bool,
}

impl fmt::Debug for PushReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.options.iter().map(|o| redact_line(o)).collect();
        f.debug_struct("PushReply")
            .field("options", &shown)
            .field("more_follows", &self.more_follows)
            .finish()
    }
}

/// How an `AUTH_FAILED` should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Plain `AUTH_FAILED[,reason]`: stop.
    Permanent,
    /// `AUTH_FAILED,TEMP[flags]:msg`: retry later.
    Temporary {
        backoff: Option<Duration>,
        advance: Option<Advance>,
    },
    /// `AUTH_FAILED,SESSION:msg`: the auth-token expired; reconnect with real credentials.
    SessionExpired,
}

/// `advance` flag of a temporary failure: which remote to try next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    Addr,
    Remote,
    No,
}

/// `RESTART` flags (`[P]`, `[N]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestartFlags {
    /// `P`: keep cached credentials.
    pub keep_credentials: bool,
    /// `N`: try the next server.
    pub next_server: bool,
}

/// A message from the server on the control channel (§7.1, §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlMessage {
    PushReply(PushReply),
    AuthFailed {
        failure: AuthFailure,
        reason: String,
    },
    AuthPending {
        timeout: Option<Duration>,
    },
    /// `INFO,text` or (with `pre`) `INFO_PRE,text`.
    Info {
        pre: bool,
        text: String,
    },
    Restart {
        flags: RestartFlags,
        message: String,
    },
    Halt {
        message: String,
    },
    Exit,
    /// Anything else, kept for the log.
    Unknown(String),
}

impl ControlMessage {
    /// Parses one message from [`ControlStream`]. Never fails: what is not recognised is
    /// [`ControlMessage::Unknown`].
    pub fn parse(message: &str) -> ControlMessage {
        if let Some(rest) = keyword(message, "PUSH_REPLY") {
            return ControlMessage::PushReply(parse_push_reply(rest));
        }
        if let Some(rest) = keyword(message, "AUTH_FAILED") {
            let (failure, reason) = parse_auth_failed(rest);
            return ControlMessage::AuthFailed { failure, reason };
        }
        if let Some(rest) = keyword(message, "AUTH_PENDING") {
            let timeout = rest.split(',').find_map(|flag| {
                let secs = flag.trim().strip_prefix("timeout")?.trim().parse().ok()?;
                Some(Duration::from_secs(secs))
            });
            return ControlMessage::AuthPending { timeout };
        }
        if let Some(text) = keyword(message, "INFO_PRE") {
            let text = text.to_owned();
            return ControlMessage::Info { pre: true, text };
        }
        if let Some(text) = keyword(message, "INFO") {
            let text = text.to_owned();
            return ControlMessage::Info { pre: false, text };
        }
        if let Some(rest) = keyword(message, "RESTART") {
            let (flags, message) = parse_restart(rest);
            return ControlMessage::Restart { flags, message };
        }
        if let Some(message) = keyword(message, "HALT") {
            let message = message.to_owned();
            return ControlMessage::Halt { message };
        }
        if message == "EXIT" {
            return ControlMessage::Exit;
        }
        ControlMessage::Unknown(message.to_owned())
    }
}

/// `Some(rest)` when `message` is `word` alone (rest empty) or `word,rest`.
fn keyword<'a>(message: &'a str, word: &str) -> Option<&'a str> {
    match message.strip_prefix(word)? {
        "" => Some(""),
        rest => rest.strip_prefix(','),
    }
}

fn parse_push_reply(rest: &str) -> PushReply {
    let mut more_follows = false;
    let mut options = Vec::new();
    for option in rest.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let mut words = option.split_ascii_whitespace();
        if words.next() == Some("push-continuation") {
            match (words.next(), words.next()) {
                (Some("2"), None) => {
                    more_follows = true;
                    continue;
                }
                (Some("1"), None) => continue,
                // Malformed: kept, so PushedConfig reports it.
                _ => {}
            }
        }
        options.push(option.to_owned());
    }
    PushReply {
        options,
        more_follows,
    }
}

/// `rest` after `AUTH_FAILED,`: `TEMP[flags]:msg`, `SESSION:msg` or a plain reason.
fn parse_auth_failed(rest: &str) -> (AuthFailure, String) {
    if let Some(session) = rest.strip_prefix("SESSION") {
        if session.is_empty() || session.starts_with(':') {
            let reason = session.strip_prefix(':').unwrap_or(session);
            return (AuthFailure::SessionExpired, reason.to_owned());
        }
    }
    let Some(temp) = rest.strip_prefix("TEMP") else {
        return (AuthFailure::Permanent, rest.to_owned());
    };
    let (flags, reason) = match temp.strip_prefix('[').and_then(|t| t.split_once(']')) {
        Some((flags, reason)) => (flags, reason),
        None if temp.is_empty() || temp.starts_with(':') => ("", temp),
        None => return (AuthFailure::Permanent, rest.to_owned()),
    };
    let (mut backoff, mut advance) = (None, None);
    for flag in flags.split(',').map(str::trim) {
        if let Some(secs) = flag.strip_prefix("backoff ") {
            backoff = secs.trim().parse().ok().map(Duration::from_secs);
        } else if let Some(target) = flag.strip_prefix("advance ") {
            advance = match target.trim() {
                "addr" => Some(Advance::Addr),
                "remote" => Some(Advance::Remote),
                "no" => Some(Advance::No),
                _ => advance,
            };
        }
    }
    let reason = reason.strip_prefix(':').unwrap_or(reason).to_owned();
    (AuthFailure::Temporary { backoff, advance }, reason)
}

/// `rest` after `RESTART,`: optional `[flags]` then the message.
fn parse_restart(rest: &str) -> (RestartFlags, String) {
    let Some((flags, message)) = rest.strip_prefix('[').and_then(|r| r.split_once(']')) else {
        return (RestartFlags::default(), rest.to_owned());
    };
    let flags = RestartFlags {
        keep_credentials: flags.contains('P'),
        next_server: flags.contains('N'),
    };
    (flags, message.to_owned())
}

/// Collects PUSH_REPLY parts until the last one, then parses the whole configuration
/// (options are applied only after the last part, §7.1).
#[derive(Debug, Default)]
pub struct PushAssembler {
    options: Vec<String>,
    parts: usize,
}

impl PushAssembler {
    pub fn new() -> PushAssembler {
        PushAssembler::default()
    }

    /// `Ok(None)` while more parts are expected; the configuration after the last one. The
    /// assembler starts over after a result or an error.
    pub fn handle_reply(&mut self, reply: PushReply) -> Result<Option<PushedConfig>, PushError> {
        self.parts += 1;
        if self.parts > MAX_PUSH_PARTS {
            self.reset();
            return Err(PushError::TooManyParts {
                max: MAX_PUSH_PARTS,
            });
        }
        if self.options.len() + reply.options.len() > MAX_PUSHED_OPTIONS {
            self.reset();
            return Err(PushError::TooManyOptions {
                max: MAX_PUSHED_OPTIONS,
            });
        }
        self.options.extend(reply.options);
        if reply.more_follows {
            return Ok(None);
        }
        let options = std::mem::take(&mut self.options);
        self.reset();
        PushedConfig::from_options(&options).map(Some)
    }

    /// True after a part with `push-continuation 2`.
    pub fn in_progress(&self) -> bool {
        self.parts > 0
    }

    /// Forgets collected parts (e.g. on reconnect).
    pub fn reset(&mut self) {
        self.options.clear();
        self.parts = 0;
    }
}

/// The option line with the values of secret options replaced, for errors and logs.
fn redact_line(line: &str) -> String {
    let keyword = line.split_ascii_whitespace().next().unwrap_or("");
    if keyword == "auth-token" {
        "auth-token <redacted>".to_owned()
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests;
