//! Username/password authentication (`auth-user-pass`, §3.1, §7.3): the credentials our
//! key-method-2 message carries, the `auth-token` a server may push to replace the password, and
//! how an `AUTH_FAILED` is answered.
//!
//! Owns: [`UserPass`] (zeroized, never printed), the per-connection token state ([`Login`]), the
//! base64 decoding of `auth-token-user`, and the reaction to each kind of `AUTH_FAILED`.
//! Must not: log or format a username, password or token — not even at trace level.
//!
//! Facts (OpenVPN source, read only): `ssl.c` `key_method_2_write` sends the token as the
//! password, with the username saved from the last real login or the pushed
//! `auth-token-user` (base64, `misc.c` `set_auth_token_user`); `push.c` `receive_auth_failed`
//! treats `AUTH_FAILED,TEMP…` as "retry later", and any other `AUTH_FAILED` while a token is
//! held as an expired token: forget it and reconnect with the real credentials.

use std::fmt;

use zeroize::Zeroizing;

use crate::openvpn::keymethod::MAX_CREDENTIAL_LEN;
use crate::openvpn::push::{AuthFailure, AuthToken, PushedConfig};

/// Longest username or password in bytes (the wire limit counts the trailing NUL).
pub const MAX_USER_PASS_LEN: usize = MAX_CREDENTIAL_LEN - 1;

/// The `auth-user-pass` credentials. Both strings are zeroized on drop; `Debug` shows neither.
pub struct UserPass {
    username: Zeroizing<String>,
    password: Zeroizing<String>,
}

/// Why credentials cannot be sent (a local problem: the message names the field, never a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserPassError {
    #[error("the username is empty")]
    EmptyUsername,
    #[error(
        "the {field} is {len} bytes long; tapclient sends at most {max} (stock OpenVPN servers \
         take 127, Debian's 4095)"
    )]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("the {field} contains a control character (a stray line break or NUL?)")]
    ControlCharacter { field: &'static str },
}

impl UserPass {
    /// Checks and takes the credentials: a non-empty username, both at most
    /// [`MAX_USER_PASS_LEN`] bytes and free of control characters (the password may be empty).
    pub fn new(
        username: impl Into<Zeroizing<String>>,
        password: impl Into<Zeroizing<String>>,
    ) -> Result<UserPass, UserPassError> {
        let (username, password) = (username.into(), password.into());
        if username.is_empty() {
            return Err(UserPassError::EmptyUsername);
        }
        check("username", &username)?;
        check("password", &password)?;
        Ok(UserPass { username, password })
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password, for the key-method-2 message only.
    pub fn expose_password(&self) -> &str {
        &self.password
    }
}

fn check(field: &'static str, text: &str) -> Result<(), UserPassError> {
    if text.len() > MAX_USER_PASS_LEN {
        return Err(UserPassError::TooLong {
            field,
            len: text.len(),
            max: MAX_USER_PASS_LEN,
        });
    }
    if text.chars().any(char::is_control) {
        return Err(UserPassError::ControlCharacter { field });
    }
    Ok(())
}

impl fmt::Debug for UserPass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserPass { <redacted> }")
    }
}

/// A pushed `auth-token` with the username it goes with: what a later connection of the same
/// run may log in with instead of the configured password (see [`super::Client::auth_token`]).
#[derive(Clone)]
pub struct TokenLogin {
    token: AuthToken,
    /// From `auth-token-user` (decoded); `None`: the configured username.
    username: Option<Zeroizing<String>>,
}

impl fmt::Debug for TokenLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenLogin { <redacted> }")
    }
}

/// One connection's login state: the token the server pushed, if any.
#[derive(Default)]
pub(super) struct Login {
    token: Option<TokenLogin>,
}

impl Login {
    pub(super) fn resume(&mut self, token: TokenLogin) {
        self.token = Some(token);
    }

    pub(super) fn token(&self) -> Option<&TokenLogin> {
        self.token.as_ref()
    }

    /// The username and password of the next key-method-2 message: the token with its username
    /// when there is one (and a username to go with it), else the configured credentials, else
    /// empty strings (certificate-only).
    pub(super) fn credentials<'a>(
        &'a self,
        configured: Option<&'a UserPass>,
    ) -> (&'a str, &'a str) {
        let configured_user = configured.map_or("", UserPass::username);
        if let Some(login) = &self.token {
            let username = login.username.as_deref().map_or(configured_user, |u| u);
            if !username.is_empty() {
                return (username, login.token.expose());
            }
        }
        configured.map_or(("", ""), |up| (up.username(), up.expose_password()))
    }

    /// Takes `auth-token` / `auth-token-user` from a push (the first one or a later update).
    /// Returns true when a token was pushed.
    pub(super) fn absorb(&mut self, pushed: &PushedConfig) -> bool {
        let pushed_user = pushed.auth_token_user.as_deref().and_then(|b64| {
            let decoded = decode_username(b64);
            if decoded.is_none() {
                tracing::warn!("ignoring a pushed auth-token-user that is not base64 text");
            }
            decoded
        });
        // A token we could not send (too long, control characters) would fail every later
        // key exchange: keep logging in with the configured password instead.
        let token = pushed.auth_token.as_ref().filter(|token| {
            let usable = check("auth-token", token.expose()).is_ok();
            if !usable {
                tracing::warn!("ignoring a pushed auth-token tapclient cannot send back");
            }
            usable
        });
        match (token, &mut self.token) {
            (Some(token), _) => {
                let username = pushed_user.or_else(|| self.token.take()?.username);
                self.token = Some(TokenLogin {
                    token: token.clone(),
                    username,
                });
                true
            }
            (None, Some(login)) => {
                if pushed_user.is_some() {
                    login.username = pushed_user;
                }
                false
            }
            (None, None) => false,
        }
    }

    /// Forgets the token; true if there was one.
    pub(super) fn forget_token(&mut self) -> bool {
        self.token.take().is_some()
    }
}

/// What the connection does about an `AUTH_FAILED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AuthReaction {
    /// Reconnect (a temporary refusal, or an expired token: the next login uses the password).
    Restart(String),
    /// Stop: retrying with the same credentials cannot succeed.
    Fatal(String),
}

/// The reaction to `AUTH_FAILED` of kind `failure` with the server's `reason` text. `sent_user_pass`:
/// our key-method-2 message carried configured credentials; `had_token`: a token was held (it
/// has been forgotten by the caller).
pub(super) fn auth_failed_reaction(
    failure: AuthFailure,
    reason: &str,
    sent_user_pass: bool,
    had_token: bool,
) -> AuthReaction {
    let said = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    match failure {
        AuthFailure::Temporary { backoff, .. } => {
            let wait = backoff.map_or(String::new(), |b| {
                format!("; it asks to wait {} s", b.as_secs())
            });
            AuthReaction::Restart(format!(
                "the server refused authentication for now (AUTH_FAILED,TEMP{said}){wait}"
            ))
        }
        AuthFailure::SessionExpired => AuthReaction::Restart(format!(
            "the server's auth-token expired (AUTH_FAILED,SESSION{said}); logging in again"
        )),
        AuthFailure::Permanent if had_token => AuthReaction::Restart(format!(
            "the server refused our auth-token (AUTH_FAILED{said}); logging in again with the \
             configured username and password"
        )),
        AuthFailure::Permanent if sent_user_pass => AuthReaction::Fatal(format!(
            "the server refused the configured username and password (AUTH_FAILED{said}): check \
             them (auth_user_pass)"
        )),
        AuthFailure::Permanent => AuthReaction::Fatal(format!(
            "the server refused authentication (AUTH_FAILED{said}): it may require a username \
             and password (auth_user_pass), or share no data cipher with us"
        )),
    }
}

/// Decodes a base64 (standard alphabet, padding optional) username; `None` if it is not base64
/// of printable UTF-8 within [`MAX_USER_PASS_LEN`] bytes.
fn decode_username(b64: &str) -> Option<Zeroizing<String>> {
    let data = b64.trim_end_matches('=');
    if b64.len() - data.len() > 2 {
        return None;
    }
    let bytes =
        Zeroizing::new(<base64ct::Base64Unpadded as base64ct::Encoding>::decode_vec(data).ok()?);
    let text = Zeroizing::new(String::from_utf8(bytes.to_vec()).ok()?);
    let ok = !text.is_empty() && check("username", &text).is_ok();
    ok.then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pushed(options: &[&str]) -> PushedConfig {
        PushedConfig::from_options(options).unwrap()
    }

    #[test]
    fn user_pass_is_checked_and_never_printed() {
        let up = UserPass::new("alice".to_owned(), "s3cret pw".to_owned()).unwrap();
        assert_eq!(up.username(), "alice");
        assert_eq!(up.expose_password(), "s3cret pw");
        let shown = format!("{up:?}");
        assert!(
            !shown.contains("alice") && !shown.contains("s3cret"),
            "{shown}"
        );
        assert_eq!(
            UserPass::new(String::new(), "x".to_owned()).unwrap_err(),
            UserPassError::EmptyUsername
        );
        assert!(UserPass::new("bob".to_owned(), String::new()).is_ok());
        let long = "p".repeat(MAX_USER_PASS_LEN + 1);
        let err = UserPass::new("bob".to_owned(), long).unwrap_err();
        assert_eq!(
            err,
            UserPassError::TooLong {
                field: "password",
                len: MAX_USER_PASS_LEN + 1,
                max: MAX_USER_PASS_LEN
            }
        );
        assert!(UserPass::new("p".repeat(MAX_USER_PASS_LEN), String::new()).is_ok());
        let err = UserPass::new("bob\r".to_owned(), "x".to_owned()).unwrap_err();
        assert_eq!(err, UserPassError::ControlCharacter { field: "username" });
        assert!(!err.to_string().contains("bob"));
    }

    #[test]
    fn the_token_replaces_the_password_with_the_same_or_the_pushed_username() {
        let up = UserPass::new("alice".to_owned(), "pw".to_owned()).unwrap();
        let mut login = Login::default();
        assert_eq!(login.credentials(Some(&up)), ("alice", "pw"));
        assert_eq!(login.credentials(None), ("", ""));
        assert!(login.absorb(&pushed(&["auth-token SESS_1"])));
        assert_eq!(login.credentials(Some(&up)), ("alice", "SESS_1"));
        // Without a username to go with it, the token is not used (stock: not "defined").
        assert_eq!(login.credentials(None), ("", ""));
        // `auth-token-user` (base64 of "carol") replaces the username, also when sent alone.
        assert!(!login.absorb(&pushed(&["auth-token-user Y2Fyb2w="])));
        assert_eq!(login.credentials(Some(&up)), ("carol", "SESS_1"));
        assert_eq!(login.credentials(None), ("carol", "SESS_1"));
        // A renewed token keeps the pushed username.
        assert!(login.absorb(&pushed(&["auth-token SESS_2"])));
        assert_eq!(login.credentials(Some(&up)), ("carol", "SESS_2"));
        let saved = login.token().cloned().unwrap();
        assert!(!format!("{saved:?}").contains("SESS"));
        assert!(login.forget_token());
        assert!(!login.forget_token());
        assert_eq!(login.credentials(Some(&up)), ("alice", "pw"));
        login.resume(saved);
        assert_eq!(login.credentials(Some(&up)), ("carol", "SESS_2"));
        // A push without auth options changes nothing.
        assert!(!login.absorb(&pushed(&["ping 10"])));
        assert_eq!(login.credentials(Some(&up)), ("carol", "SESS_2"));
    }

    #[test]
    fn a_bad_auth_token_user_is_ignored() {
        let up = UserPass::new("alice".to_owned(), "pw".to_owned()).unwrap();
        let mut login = Login::default();
        // "a\nb" (a control character) and text that is not base64.
        login.absorb(&pushed(&["auth-token T", "auth-token-user YQpi"]));
        assert_eq!(login.credentials(Some(&up)), ("alice", "T"));
        login.absorb(&pushed(&["auth-token-user not*base64"]));
        assert_eq!(login.credentials(Some(&up)), ("alice", "T"));
    }

    #[test]
    fn an_unsendable_auth_token_is_ignored() {
        let up = UserPass::new("alice".to_owned(), "pw".to_owned()).unwrap();
        let mut login = Login::default();
        let long = format!("auth-token {}", "t".repeat(MAX_USER_PASS_LEN + 1));
        assert!(!login.absorb(&pushed(&[long.as_str()])));
        assert_eq!(login.credentials(Some(&up)), ("alice", "pw"));
        assert!(login.token().is_none());
    }

    #[test]
    fn base64_usernames() {
        let decode = |s| decode_username(s).map(|u| u.to_string());
        assert_eq!(decode("Y2Fyb2w=").as_deref(), Some("carol"));
        assert_eq!(decode("Y2Fyb2w").as_deref(), Some("carol"));
        assert_eq!(decode("dXNlcjE=").as_deref(), Some("user1"));
        assert_eq!(decode("dXNlcg==").as_deref(), Some("user"));
        assert_eq!(decode("am9zw6k=").as_deref(), Some("jos\u{e9}"));
        for bad in [
            "",
            "====",
            "Y2Fyb2w===",
            "Y2Fyb2x=",
            "Y",
            "Y2F*b2w=",
            "AA==",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn auth_failed_reactions() {
        use AuthReaction::{Fatal, Restart};
        let temp = AuthFailure::Temporary {
            backoff: Some(Duration::from_secs(30)),
            advance: None,
        };
        let Restart(why) = auth_failed_reaction(temp, "busy", true, false) else {
            panic!("TEMP restarts")
        };
        assert!(why.contains("TEMP: busy") && why.contains("30 s"), "{why}");
        let session = auth_failed_reaction(AuthFailure::SessionExpired, "", true, true);
        assert!(matches!(session, Restart(why) if why.contains("SESSION")));
        let token = auth_failed_reaction(AuthFailure::Permanent, "", true, true);
        assert!(matches!(token, Restart(why) if why.contains("auth-token")));
        let Fatal(why) = auth_failed_reaction(AuthFailure::Permanent, "bad pw", true, false) else {
            panic!("a refused password is fatal")
        };
        assert!(why.contains("username and password") && why.contains("AUTH_FAILED: bad pw"));
        let Fatal(why) = auth_failed_reaction(AuthFailure::Permanent, "", false, false) else {
            panic!("a refused certificate-only login is fatal")
        };
        assert!(
            why.contains("(AUTH_FAILED)") && why.contains("may require"),
            "{why}"
        );
    }
}
