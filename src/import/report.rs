//! What happened to each directive of the profile, and the summary printed for the user.
//!
//! Every directive gets exactly one [`Outcome`]: nothing is dropped silently. The report also
//! carries the problems that are not tied to one directive (no CA, no TCP remote) and the files
//! written. It never contains key material: a directive is shown by name and parameters, an
//! inline block by its tag.

use std::fmt;
use std::path::PathBuf;

/// What became of one directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Translated; the text says into what (`server.remote`, `tls.ca (office-ca.crt)`).
    Mapped(String),
    /// Left out because it is harmless for tapclient; the text says why.
    Ignored(String),
    /// Left out although it matters; the tunnel may still work. The text says why.
    Unsupported(String),
    /// Cannot be honoured and the tunnel cannot work without it: no TOML is written.
    Blocking(String),
}

impl Outcome {
    /// One word for the summary's columns.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Mapped(_) => "mapped",
            Outcome::Ignored(_) => "ignored",
            Outcome::Unsupported(_) => "unsupported",
            Outcome::Blocking(_) => "blocking",
        }
    }

    /// The explanation.
    pub fn text(&self) -> &str {
        match self {
            Outcome::Mapped(t)
            | Outcome::Ignored(t)
            | Outcome::Unsupported(t)
            | Outcome::Blocking(t) => t,
        }
    }
}

/// One directive and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The 1-based line in the profile.
    pub line: usize,
    /// The directive as written (`remote vpn.example.com 1194 udp`, `<ca>`), never a block's
    /// contents.
    pub directive: String,
    pub outcome: Outcome,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {}: {}",
            self.line,
            self.directive,
            self.outcome.text()
        )
    }
}

/// The result of a successful import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The profile that was read.
    pub profile: PathBuf,
    /// The TOML written.
    pub config: PathBuf,
    /// Files written beside it (extracted or built credentials), in writing order.
    pub files: Vec<PathBuf>,
    /// Every directive, in profile order.
    pub entries: Vec<Entry>,
    /// Remarks on the result that are not about one directive (e.g. a referenced file that
    /// does not exist yet).
    pub warnings: Vec<String>,
}

impl Report {
    /// The entries with one outcome kind (by [`Outcome::label`]).
    pub fn with_label<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.outcome.label() == label)
    }

    /// The lines for standard error: unsupported directives and warnings (empty when none).
    pub fn problems(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .with_label("unsupported")
            .map(|e| format!("unsupported: {e}"))
            .collect();
        lines.extend(self.warnings.iter().map(|w| format!("warning: {w}")));
        lines
    }
}

impl fmt::Display for Report {
    /// The summary for standard output: files written, then mapped and ignored directives.
    /// (Unsupported ones are in [`Report::problems`], for standard error.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "imported {} -> {}",
            self.profile.display(),
            self.config.display()
        )?;
        for file in &self.files {
            writeln!(f, "  wrote {} (mode 0600)", file.display())?;
        }
        for label in ["mapped", "ignored"] {
            let count = self.with_label(label).count();
            writeln!(f, "{label}: {count}")?;
            for entry in self.with_label(label) {
                writeln!(f, "  {entry}")?;
            }
        }
        let unsupported = self.with_label("unsupported").count();
        writeln!(
            f,
            "unsupported: {unsupported}{}",
            if unsupported > 0 {
                " (listed on standard error and at the end of the TOML)"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "next: tapclient check --config {}",
            self.config.display()
        )
    }
}
