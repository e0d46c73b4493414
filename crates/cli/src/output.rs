//! Writing results to standard output or a file.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Write `bytes` to `path` (atomically: a temporary file renamed into place), or to standard
/// output when `path` is `None`. A closed pipe (`| head`) is not an error.
pub fn write_output(bytes: &[u8], path: Option<&Path>) -> Result<()> {
    match path {
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
