//! Where the PKCS#12 password comes from: a file (first line), an environment variable, or a
//! prompt on the terminal. Every password lives in a `Zeroizing` buffer and is never logged.

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::Zeroizing;

use super::CredentialsError;

/// A password, wiped when dropped.
pub(crate) type Password = Zeroizing<String>;

/// Asks the user for the password of a file, if there is someone to ask.
pub(crate) trait Prompt {
    /// `None` when nobody can be asked (no terminal); otherwise the answer or the I/O error.
    fn ask(&self, file: &Path) -> Option<io::Result<Password>>;
}

/// Asks on the controlling terminal without echo, if standard input is a terminal.
pub(crate) struct TerminalPrompt;

impl Prompt for TerminalPrompt {
    fn ask(&self, file: &Path) -> Option<io::Result<Password>> {
        if !io::stdin().is_terminal() {
            return None;
        }
        let question = format!("Password for {}: ", file.display());
        Some(rpassword::prompt_password(question).map(Zeroizing::new))
    }
}

/// Answers typed at the terminal, kept for the whole run so a reload (SIGHUP) re-reads files
/// without asking again. Keyed by what was asked for (a file, or a VPN user).
#[derive(Default)]
pub struct PromptCache {
    answers: Mutex<Vec<(PathBuf, Password)>>,
    username: Mutex<Option<String>>,
}

impl PromptCache {
    /// The answer for `label`: remembered, or asked through `prompt` (a VPN password: no
    /// terminal → [`CredentialsError::UserPassRequired`]).
    pub(crate) fn ask(
        &self,
        label: &Path,
        prompt: &dyn Prompt,
    ) -> Result<Password, CredentialsError> {
        match self.caching(prompt).ask(label) {
            None => Err(CredentialsError::UserPassRequired { what: "password" }),
            Some(Err(source)) => Err(CredentialsError::UserPassPrompt { source }),
            Some(Ok(answer)) => Ok(answer),
        }
    }

    /// The VPN username: remembered, or from `ask`.
    pub(crate) fn ask_username(
        &self,
        ask: impl FnOnce() -> Result<String, CredentialsError>,
    ) -> Result<String, CredentialsError> {
        let mut known = self.username.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = known.as_ref() {
            return Ok(name.clone());
        }
        let name = ask()?;
        *known = Some(name.clone());
        Ok(name)
    }

    /// `prompt`, answering from (and filling) this cache.
    pub(crate) fn caching<'a>(&'a self, prompt: &'a dyn Prompt) -> impl Prompt + 'a {
        Caching {
            cache: self,
            inner: prompt,
        }
    }
}

struct Caching<'a> {
    cache: &'a PromptCache,
    inner: &'a dyn Prompt,
}

impl Prompt for Caching<'_> {
    fn ask(&self, file: &Path) -> Option<io::Result<Password>> {
        let mut known = self.cache.answers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, answer)) = known.iter().find(|(label, _)| label == file) {
            return Some(Ok(answer.clone()));
        }
        let answer = self.inner.ask(file)?;
        if let Ok(answer) = &answer {
            known.push((file.to_owned(), answer.clone()));
        }
        Some(answer)
    }
}

/// The first line of `path`, trailing CR/LF removed (like OpenVPN's `askpass FILE`).
pub(crate) fn from_file(path: &Path) -> Result<Password, CredentialsError> {
    let bytes =
        Zeroizing::new(
            std::fs::read(path).map_err(|source| CredentialsError::PasswordFile {
                path: path.to_owned(),
                source,
            })?,
        );
    let first_line = first_line(&bytes);
    match std::str::from_utf8(first_line) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(CredentialsError::PasswordFileNotUtf8 {
            path: path.to_owned(),
        }),
    }
}

/// The value of the environment variable `var`.
pub(crate) fn from_env(var: &str) -> Result<Password, CredentialsError> {
    match std::env::var(var) {
        Ok(value) => Ok(Zeroizing::new(value)),
        Err(std::env::VarError::NotPresent) => Err(CredentialsError::PasswordEnvMissing {
            var: var.to_owned(),
        }),
        Err(std::env::VarError::NotUnicode(_)) => Err(CredentialsError::PasswordEnvNotUnicode {
            var: var.to_owned(),
        }),
    }
}

fn first_line(bytes: &[u8]) -> &[u8] {
    let line = match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => &bytes[..end],
        None => bytes,
    };
    let mut end = line.len();
    while end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_strips_line_endings() {
        assert_eq!(first_line(b"secret\n"), b"secret");
        assert_eq!(first_line(b"secret\r\nsecond line\n"), b"secret");
        assert_eq!(first_line(b"secret"), b"secret");
        assert_eq!(first_line(b" spaces kept \r\r\n"), b" spaces kept ");
        assert_eq!(first_line(b"\nsecret"), b"");
        assert_eq!(first_line(b""), b"");
    }

    #[test]
    fn password_file_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass.txt");
        std::fs::write(&path, "hunter2\r\nignored\n").unwrap();
        assert_eq!(from_file(&path).unwrap().as_str(), "hunter2");
    }

    #[test]
    fn password_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pass");
        let err = from_file(&missing).unwrap_err();
        assert!(
            matches!(err, CredentialsError::PasswordFile { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("missing.pass"), "{err}");

        let binary = dir.path().join("binary.pass");
        std::fs::write(&binary, [0xff, 0xfe, b'\n']).unwrap();
        let err = from_file(&binary).unwrap_err();
        assert!(
            matches!(err, CredentialsError::PasswordFileNotUtf8 { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn password_env() {
        let var = "TAPCLIENT_TEST_PASSWORD_ENV_UNIT";
        std::env::set_var(var, "from-env");
        assert_eq!(from_env(var).unwrap().as_str(), "from-env");
        std::env::remove_var(var);
        let err = from_env(var).unwrap_err();
        assert!(
            matches!(err, CredentialsError::PasswordEnvMissing { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(var), "{err}");
    }
}
