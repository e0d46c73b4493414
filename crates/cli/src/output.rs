//! Writing results to standard output or a file.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Write `bytes` to `path` (atomically: a temporary file renamed into place), or to standard
/// output when `path` is `None`. A path that is not a regular file (`/dev/null`, a FIFO,
/// `/dev/stdout`) is written in place: renaming over it would replace the device. A closed
/// pipe (`| head`) is not an error.
pub fn write_output(bytes: &[u8], path: Option<&Path>) -> Result<()> {
    match path {
        Some(path) if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            file.write_all(bytes)
                .and_then(|()| file.flush())
                .with_context(|| format!("writing {}", path.display()))
        }
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("creating a temporary file beside {}", path.display()))?;
            tmp.write_all(bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            tmp.persist(path)
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(())
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("writing to standard output"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-o /dev/null` once replaced the device with a regular file (the rename of an atomic
    /// write); a device or FIFO is now written in place and stays what it is.
    #[test]
    fn devices_and_fifos_are_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let null = Path::new("/dev/null");
        write_output(b"{}\n", Some(null)).unwrap();
        assert!(
            std::fs::metadata(null)
                .unwrap()
                .file_type()
                .is_char_device()
        );

        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_output(b"report\n", Some(&fifo)).unwrap();
        assert_eq!(reader.join().unwrap(), b"report\n");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

        // A regular file is still replaced atomically.
        let file = dir.path().join("report.json");
        write_output(b"one", Some(&file)).unwrap();
        write_output(b"two", Some(&file)).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
    }
}
