//! `tapclient import PROFILE [-o FILE] [--force]`: an OpenVPN client profile (`.ovpn`) → a
//! tapclient TOML config, with the profile's inline credentials extracted beside it.
//!
//! The steps, each in its own file:
//! 1. `parse`: the profile's text → directives, read the way OpenVPN reads a config file;
//! 2. `map`: directives → a plan (TOML values, credential sources) and an outcome for every
//!    directive — mapped, ignored (harmless), unsupported (with the reason) or blocking;
//!    `catalog` holds what is said about the options `map` does not translate;
//! 3. `place`: credentials → paths for the TOML and files to write (`pem` builds a PKCS#12
//!    from `cert` + `key` and decodes `<pkcs12>`);
//! 4. `emit`: the TOML text, checked with [`crate::config::parse`] before anything is written;
//! 5. `files`: the files, mode 0600, never overwriting without `--force`; a built PKCS#12 is
//!    opened with [`crate::credentials::load_pkcs12`] before the TOML is written.
//!
//! A profile that cannot work with tapclient (a TUN server, only UDP remotes, no CA, no client
//! certificate, an encrypted PEM key…) writes nothing: the error lists every reason. The user
//! documentation is docs/import.md.
//!
//! Must not: print (the caller prints the [`Report`] and errors), log key material, or change
//! any file but the ones it reports.

mod catalog;
mod emit;
mod files;
mod map;
mod parse;
mod pem;
mod place;
mod report;

pub use files::WriteError;
pub use parse::ParseError;
pub use report::{Entry, Outcome, Report};

use std::io;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::cli::exit;
use crate::config::{self, ConfigError, PasswordSource};
use crate::credentials::{self, CredentialsError};
use files::{OutputFile, PRIVATE};
use place::Target;

/// Why nothing (or not everything) was imported. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the profile {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: ParseError,
    },
    #[error("{} cannot be used with tapclient, so nothing was written:{}", path.display(), bullets(reasons, unsupported))]
    Unusable {
        path: PathBuf,
        /// Why the result could not work.
        reasons: Vec<String>,
        /// Directives left out for other reasons (not blocking), for the full picture.
        unsupported: Vec<String>,
    },
    #[error("the output {} is the profile itself; choose another file with -o", path.display())]
    OutputIsProfile { path: PathBuf },
    #[error("the output {} is a folder; give the TOML's file name, e.g. -o {}", path.display(), path.join("office.toml").display())]
    OutputIsFolder { path: PathBuf },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(
        "the PKCS#12 built from the profile's cert and key does not open ({source}); nothing was \
         written"
    )]
    BuiltPkcs12 {
        #[source]
        source: CredentialsError,
    },
    #[error("the converted config is not accepted by tapclient ({source}); nothing was written")]
    Config {
        #[source]
        source: ConfigError,
    },
}

impl ImportError {
    /// The documented exit code: 2 for a profile that cannot be read or used (and for output
    /// that exists already), 1 when writing failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            ImportError::Write(WriteError::Io { .. }) => exit::RUNTIME,
            _ => exit::USAGE,
        }
    }
}

fn bullets(reasons: &[String], unsupported: &[String]) -> String {
    let mut text: String = reasons.iter().map(|r| format!("\n  - {r}")).collect();
    if !unsupported.is_empty() {
        text.push_str("\nalso not supported (these alone would not stop the import):");
        text.extend(unsupported.iter().map(|r| format!("\n  - {r}")));
    }
    text
}

/// Imports `profile` into `output` (default: the profile's path with `.toml`), extracting and
/// building credentials beside it. Existing files are refused unless `force`.
pub fn run(profile: &Path, output: Option<&Path>, force: bool) -> Result<Report, ImportError> {
    let text = read_profile(profile)?;
    let directives = parse::parse(&text, 1).map_err(|source| ImportError::Parse {
        path: profile.to_owned(),
        source,
    })?;
    drop(text);
    let output = output.map_or_else(|| profile.with_extension("toml"), Path::to_path_buf);
    let (profile_abs, output_abs) = (absolute(profile)?, absolute(&output)?);
    if profile_abs == output_abs {
        return Err(ImportError::OutputIsProfile { path: output });
    }
    if output.is_dir() || output.as_os_str().to_string_lossy().ends_with('/') {
        return Err(ImportError::OutputIsFolder { path: output });
    }
    let target = Target {
        dir: output_abs.parent().unwrap_or(Path::new("/")).to_path_buf(),
        stem: output_abs
            .file_stem()
            .map_or_else(|| "tapclient".into(), |s| s.to_string_lossy().into_owned()),
    };
    let base = profile_abs.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut plan = map::map(&directives, base);
    let placed = place::place(&mut plan, &target);
    let mut reasons = plan.blockers();
    reasons.extend(placed.problems.iter().cloned());
    if !reasons.is_empty() {
        let unsupported = plan
            .entries
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::Unsupported(_)))
            .map(|e| e.to_string())
            .collect();
        return Err(ImportError::Unusable {
            path: profile.to_owned(),
            reasons,
            unsupported,
        });
    }
    let profile_name = profile.file_name().map_or_else(
        || profile.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let toml_text = emit::emit(&plan, &placed, &profile_name);
    config::parse(&toml_text, &output_abs).map_err(|source| ImportError::Config { source })?;
    write(&placed, toml_text, &output, force)?;
    Ok(Report {
        profile: profile.to_owned(),
        config: output,
        files: placed.files.iter().map(|f| f.path.clone()).collect(),
        entries: plan.entries,
        warnings: placed.warnings,
    })
}

/// Writes the credential files, opens a built PKCS#12, then writes the TOML; refuses every
/// existing file first unless `force`.
fn write(
    placed: &place::Placed,
    toml_text: String,
    output: &Path,
    force: bool,
) -> Result<(), ImportError> {
    let toml_file = OutputFile {
        path: output.to_owned(),
        contents: Zeroizing::new(toml_text.into_bytes()),
        mode: PRIVATE,
    };
    if !force {
        let mut exist = files::existing(&placed.files);
        exist.extend(files::existing(std::slice::from_ref(&toml_file)));
        if !exist.is_empty() {
            return Err(WriteError::Exists { paths: exist }.into());
        }
    }
    if let Some(p12) = &placed.built_pkcs12 {
        let file = placed.files.iter().find(|f| &f.path == p12);
        if let Some(file) = file {
            let opened = files::check_in_place(file, |path| {
                credentials::load_pkcs12(path, &PasswordSource::Unset).map(drop)
            })?;
            opened.map_err(|source| ImportError::BuiltPkcs12 { source })?;
        }
    }
    files::write_all(&placed.files, force)?;
    // The TOML last, so it never names a file that is not there.
    if let Err(e) = files::write_all(std::slice::from_ref(&toml_file), force) {
        files::remove_all(&placed.files);
        return Err(e.into());
    }
    Ok(())
}

/// The profile's text (wiped when dropped: it may hold keys). Bytes that are not UTF-8 (a
/// Latin-1 comment, say) become U+FFFD rather than failing the import.
fn read_profile(path: &Path) -> Result<Zeroizing<String>, ImportError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })?);
    Ok(Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()))
}

fn absolute(path: &Path) -> Result<PathBuf, ImportError> {
    std::path::absolute(path).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })
}
