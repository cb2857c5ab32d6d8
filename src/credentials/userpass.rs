//! The username and password of `[auth_user_pass]` (OpenVPN's `auth-user-pass`): from OpenVPN's
//! two-line file, the config, a password file or variable, or the terminal — asked once, then
//! remembered for reloads ([`PromptCache`]).
//!
//! Must not: log or print the password (or the auth file's second line).

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;

use zeroize::Zeroizing;

use super::password::{self, Password, PromptCache, TerminalPrompt};
use super::CredentialsError;
use crate::config::{AuthUserPass, PasswordSource};

/// A username and its password (wiped when dropped; `Debug` shows the username only).
pub struct UserPass {
    pub username: String,
    pub password: Password,
}

impl std::fmt::Debug for UserPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserPass({:?}, <password>)", self.username)
    }
}

/// Reads the username and password `config` describes; what it does not give is asked for on
/// the terminal (once per run: `cache` keeps the answers for reloads).
pub fn load_user_pass(
    config: &AuthUserPass,
    cache: &PromptCache,
) -> Result<UserPass, CredentialsError> {
    let (username, file_password) = match &config.file {
        Some(path) => {
            let (user, pass) = read_auth_file(path)?;
            (Some(user), pass)
        }
        None => (config.username.clone(), None),
    };
    let username = match username {
        Some(name) => name,
        None => cache.ask_username(ask_username)?,
    };
    let password = match (file_password, &config.password) {
        (Some(pass), _) => pass,
        (None, PasswordSource::File(path)) => password::from_file(path)?,
        (None, PasswordSource::Env(var)) => password::from_env(var)?,
        (None, PasswordSource::Unset) => {
            let label = format!("VPN user {username}");
            cache.ask(Path::new(&label), &TerminalPrompt)?
        }
    };
    Ok(UserPass { username, password })
}

/// OpenVPN's auth-user-pass file: the username on line 1, the password (if any) on line 2.
fn read_auth_file(path: &Path) -> Result<(String, Option<Password>), CredentialsError> {
    let bytes =
        Zeroizing::new(
            std::fs::read(path).map_err(|source| CredentialsError::AuthFile {
                path: path.to_owned(),
                source,
            })?,
        );
    let text = std::str::from_utf8(&bytes).map_err(|_| CredentialsError::AuthFileNotUtf8 {
        path: path.to_owned(),
    })?;
    let mut lines = text.lines().map(|line| line.trim_end_matches('\r'));
    let username = lines.next().unwrap_or("").to_owned();
    if username.is_empty() {
        return Err(CredentialsError::AuthFileNoUsername {
            path: path.to_owned(),
        });
    }
    let password = lines
        .next()
        .filter(|line| !line.is_empty())
        .map(|line| Zeroizing::new(line.to_owned()));
    Ok((username, password))
}

/// Asks for the username on the terminal (echoed), if standard input is one.
fn ask_username() -> Result<String, CredentialsError> {
    if !io::stdin().is_terminal() {
        return Err(CredentialsError::UserPassRequired { what: "username" });
    }
    let mut out = io::stderr();
    let _ = write!(out, "VPN username: ");
    let _ = out.flush();
    let mut line = String::new();
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|source| CredentialsError::UserPassPrompt { source })?;
    let name = line.trim_end_matches(['\r', '\n']).to_owned();
    if name.is_empty() {
        return Err(CredentialsError::UserPassRequired { what: "username" });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn auth_file_gives_both_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "a.auth", "alice\r\ns3cret\r\n");
        let config = AuthUserPass {
            file: Some(file),
            username: None,
            password: PasswordSource::Unset,
        };
        let got = load_user_pass(&config, &PromptCache::default()).unwrap();
        assert_eq!(got.username, "alice");
        assert_eq!(got.password.as_str(), "s3cret");
        assert!(!format!("{got:?}").contains("s3cret"));
    }

    #[test]
    fn password_from_env_when_the_file_has_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "a.auth", "bob\n");
        let var = "TAPCLIENT_TEST_USERPASS_ENV";
        std::env::set_var(var, "from-env");
        let config = AuthUserPass {
            file: Some(file),
            username: None,
            password: PasswordSource::Env(var.into()),
        };
        let got = load_user_pass(&config, &PromptCache::default()).unwrap();
        assert_eq!(
            (got.username.as_str(), got.password.as_str()),
            ("bob", "from-env")
        );
    }

    #[test]
    fn username_in_config_password_file() {
        let dir = tempfile::tempdir().unwrap();
        let pass = write(dir.path(), "p", "pw\nignored\n");
        let config = AuthUserPass {
            file: None,
            username: Some("carol".into()),
            password: PasswordSource::File(pass),
        };
        let got = load_user_pass(&config, &PromptCache::default()).unwrap();
        assert_eq!(
            (got.username.as_str(), got.password.as_str()),
            ("carol", "pw")
        );
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.auth");
        let config = AuthUserPass {
            file: Some(missing),
            username: None,
            password: PasswordSource::Unset,
        };
        let err = load_user_pass(&config, &PromptCache::default()).unwrap_err();
        assert!(err.to_string().contains("missing.auth"), "{err}");
        let empty = write(dir.path(), "empty.auth", "\nsecret\n");
        let config = AuthUserPass {
            file: Some(empty),
            ..config
        };
        let err = load_user_pass(&config, &PromptCache::default()).unwrap_err();
        assert!(
            err.to_string().contains("empty.auth") && err.to_string().contains("username"),
            "{err}"
        );
        assert!(!err.to_string().contains("secret"));
    }
}
