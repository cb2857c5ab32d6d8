//! Writing the import's output: credential files (mode 0600) and the TOML.
//!
//! Each file is written to a temporary name in its final folder, created there with its final
//! mode (so a key is never readable by others, not even for a moment), synced, then moved into
//! place: without `--force` with a hard link, which fails if the name exists (so a file that
//! appeared since the check is not overwritten either); with `--force` with a rename, which
//! replaces the old file and its mode. When a later file fails, the files this run created are
//! removed again.
//!
//! Must not: decide names or contents (`place` and `emit` do).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Mode of extracted credentials and of the TOML: owner only.
pub const PRIVATE: u32 = 0o600;

/// A file to write.
pub struct OutputFile {
    pub path: PathBuf,
    pub contents: Zeroizing<Vec<u8>>,
    pub mode: u32,
}

impl std::fmt::Debug for OutputFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputFile")
            .field("path", &self.path)
            .field("len", &self.contents.len())
            .field("mode", &format_args!("{:o}", self.mode))
            .finish()
    }
}

/// Why the output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{} already exist{}; use --force to overwrite, or -o to write elsewhere",
        list(paths), if paths.len() == 1 { "s" } else { "" }
    )]
    Exists { paths: Vec<PathBuf> },
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The paths among `files` that exist already (as anything, even a dangling link).
pub fn existing(files: &[OutputFile]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| fs::symlink_metadata(&f.path).is_ok())
        .map(|f| f.path.clone())
        .collect()
}

/// Writes every file, in order; all or none (as far as this run created them).
pub fn write_all(files: &[OutputFile], force: bool) -> Result<(), WriteError> {
    if !force {
        let exist = existing(files);
        if !exist.is_empty() {
            return Err(WriteError::Exists { paths: exist });
        }
    }
    let mut created: Vec<&Path> = Vec::new();
    for file in files {
        let existed = fs::symlink_metadata(&file.path).is_ok();
        if let Err(e) = write_one(file, force) {
            for path in created {
                let _ = fs::remove_file(path);
            }
            return Err(e);
        }
        if !existed {
            created.push(&file.path);
        }
    }
    Ok(())
}

/// Removes files written by [`write_all`] (when a later step failed).
pub fn remove_all(files: &[OutputFile]) {
    for file in files {
        let _ = fs::remove_file(&file.path);
    }
}

/// Runs `check` on `file` written under a temporary name beside its final path (with its
/// mode), then removes it: for checks that need a path, before anything final is written.
pub fn check_in_place<T>(
    file: &OutputFile,
    check: impl FnOnce(&Path) -> T,
) -> Result<T, WriteError> {
    let temp = temp_name(&file.path);
    let result = write_temp(file, &temp).map(|()| check(&temp));
    let _ = fs::remove_file(&temp);
    result.map_err(|source| WriteError::Io {
        path: file.path.clone(),
        source,
    })
}

fn write_one(file: &OutputFile, force: bool) -> Result<(), WriteError> {
    let io_error = |source| WriteError::Io {
        path: file.path.clone(),
        source,
    };
    let temp = temp_name(&file.path);
    // A leftover temp file of an earlier run is an I/O problem, not "the output exists".
    write_temp(file, &temp).map_err(|e| {
        if e.kind() != io::ErrorKind::AlreadyExists {
            let _ = fs::remove_file(&temp);
        }
        io_error(e)
    })?;
    let result = if force {
        fs::rename(&temp, &file.path)
    } else {
        fs::hard_link(&temp, &file.path)
    };
    let _ = fs::remove_file(&temp);
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !force => Err(WriteError::Exists {
            paths: vec![file.path.clone()],
        }),
        Err(e) => Err(io_error(e)),
    }
}

/// Writes `file`'s contents to the new file `temp`, created with `file`'s mode (never wider
/// for a moment), and syncs it.
fn write_temp(file: &OutputFile, temp: &Path) -> io::Result<()> {
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(file.mode)
        .open(temp)?;
    out.write_all(&file.contents)?;
    out.sync_all()
}

/// `.NAME.tapclient-import-PID` beside `path`.
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tapclient-import-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn file(dir: &Path, name: &str, text: &str) -> OutputFile {
        OutputFile {
            path: dir.join(name),
            contents: Zeroizing::new(text.as_bytes().to_vec()),
            mode: PRIVATE,
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_written_with_their_mode_and_nothing_else_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            file(dir.path(), "a.key", "secret\n"),
            file(dir.path(), "b.crt", "pem\n"),
        ];
        write_all(&files, false).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("a.key")).unwrap(),
            "secret\n"
        );
        assert_eq!(mode(&dir.path().join("a.key")), 0o600);
        assert_eq!(mode(&dir.path().join("b.crt")), 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn existing_files_are_refused_without_force_and_replaced_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("b.crt");
        fs::write(&old, "old").unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o644)).unwrap();
        let files = [
            file(dir.path(), "a.key", "new a"),
            file(dir.path(), "b.crt", "new b"),
        ];
        match write_all(&files, false) {
            Err(WriteError::Exists { paths }) => assert_eq!(paths, std::slice::from_ref(&old)),
            other => panic!("{other:?}"),
        }
        assert!(
            !dir.path().join("a.key").exists(),
            "nothing is written when one exists"
        );
        assert_eq!(fs::read_to_string(&old).unwrap(), "old");
        write_all(&files, true).unwrap();
        assert_eq!(fs::read_to_string(&old).unwrap(), "new b");
        assert_eq!(mode(&old), 0o600, "the replaced file takes the new mode");
    }

    #[test]
    fn a_failure_removes_what_this_run_created() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            file(dir.path(), "a.key", "a"),
            file(&dir.path().join("missing-folder"), "b.key", "b"),
        ];
        let err = write_all(&files, false).unwrap_err();
        assert!(matches!(err, WriteError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("missing-folder/b.key"), "{err}");
        assert!(!dir.path().join("a.key").exists());
    }
}
