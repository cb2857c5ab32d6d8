//! System network configuration: plans (pure data, see [`plan`]) and the one place that carries
//! them out, with an undo journal.
//!
//! Every change made is recorded in a [`Journal`] together with the command that takes it back.
//! The journal is undone in reverse order on every exit path: explicitly on a clean stop, and by
//! `Drop` on errors and panics (unwinding). A plan that fails half-way undoes what it did.

pub mod plan;
pub mod underlay;

use std::io;
use std::process::Stdio;

pub use plan::{interface_plan, Command, InterfaceSettings, Os, Redirect, Step};
pub use underlay::UnderlayRoute;

/// A configuration command that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum NetcfgError {
    #[error("cannot run `{command}`: {source}{hint}")]
    Spawn {
        command: String,
        hint: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot understand the output of `{command}`: {output}")]
    Unparsed { command: String, output: String },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// Runs one command, capturing its error output for the message.
pub fn run(command: &Command) -> Result<(), NetcfgError> {
    output(command).map(drop)
}

/// Runs one command and returns its standard output.
pub fn output(command: &Command) -> Result<String, NetcfgError> {
    let output = std::process::Command::new(command.program)
        .args(&command.args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| NetcfgError::Spawn {
            command: command.to_string(),
            hint: if source.kind() == io::ErrorKind::NotFound {
                match command.program {
                    "ip" => " (install iproute2)",
                    _ => " (not found)",
                }
            } else {
                ""
            },
            source,
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(NetcfgError::Failed {
            command: command.to_string(),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// The changes made so far, newest last, each with its undo command.
#[derive(Debug, Default)]
pub struct Journal {
    undo: Vec<Command>,
}

impl Journal {
    pub fn new() -> Journal {
        Journal::default()
    }

    /// Carries out `steps` in order, recording their undos. On a failure, undoes this plan's
    /// completed steps (newest first) and returns the error; earlier entries stay.
    pub fn apply(&mut self, steps: &[Step]) -> Result<(), NetcfgError> {
        let mark = self.undo.len();
        for step in steps {
            tracing::debug!(command = %step.apply, "network configuration");
            if let Err(e) = run(&step.apply) {
                self.undo_to(mark);
                return Err(e);
            }
            if let Some(undo) = &step.undo {
                self.undo.push(undo.clone());
            }
        }
        Ok(())
    }

    /// Undoes everything recorded, newest first. Failures are logged, not fatal: undo keeps
    /// going so one stubborn route does not leave the rest behind.
    pub fn undo_all(&mut self) {
        self.undo_to(0);
    }

    fn undo_to(&mut self, mark: usize) {
        while self.undo.len() > mark {
            let Some(command) = self.undo.pop() else {
                break;
            };
            tracing::debug!(command = %command, "undo network configuration");
            if let Err(e) = run(&command) {
                tracing::warn!("could not undo a network change: {e}");
            }
        }
    }

    /// Number of changes that would be undone.
    pub fn len(&self) -> usize {
        self.undo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.undo.is_empty()
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.undo_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(program: &'static str, args: &[&str]) -> Command {
        Command {
            program,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn journal_undoes_in_reverse_and_rolls_back_a_failed_plan() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let log_s = log.to_str().unwrap().to_owned();
        let echo = |word: &str| {
            cmd(
                "sh",
                &["-c", &format!("echo {word} >> \"$0\""), log_s.as_str()],
            )
        };
        let mut journal = Journal::new();
        journal
            .apply(&[
                Step {
                    apply: echo("a"),
                    undo: Some(echo("undo-a")),
                },
                Step {
                    apply: echo("b"),
                    undo: None,
                },
            ])
            .unwrap();
        let failed = journal.apply(&[
            Step {
                apply: echo("c"),
                undo: Some(echo("undo-c")),
            },
            Step {
                apply: cmd("false", &[]),
                undo: Some(echo("never")),
            },
        ]);
        assert!(
            matches!(failed, Err(NetcfgError::Failed { .. })),
            "{failed:?}"
        );
        assert_eq!(
            journal.len(),
            1,
            "the failed plan rolled back, the first stays"
        );
        drop(journal);
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text, "a\nb\nc\nundo-c\nundo-a\n");
    }

    #[test]
    fn missing_program_names_the_command() {
        let err = run(&cmd("tapclient-no-such-program", &["x"])).unwrap_err();
        assert!(
            err.to_string().contains("tapclient-no-such-program x"),
            "{err}"
        );
    }
}
