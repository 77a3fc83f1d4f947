//! The embedded store's data-directory lock: a running server holds an
//! advisory lock (`flock`) on `evo-voice.lock` for its whole life, so that
//! `evo-voice restore` can refuse to replace a database in use. Admin
//! commands do not take it: they may run beside the server.

use std::fs::File;
use std::path::Path;

use crate::{StoreError, StoreResult};

/// Held while a server runs on a data directory; released on drop (or when
/// the process dies, by the kernel).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the lock, or says that another process holds it.
pub fn lock_data_dir(data_dir: &Path) -> StoreResult<DataDirLock> {
    std::fs::create_dir_all(data_dir).map_err(|error| {
        StoreError::Corrupt(format!("cannot create {}: {error}", data_dir.display()))
    })?;
    let path = data_dir.join("evo-voice.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| StoreError::Corrupt(format!("cannot open {}: {error}", path.display())))?;
    try_lock(&file).map_err(|_| {
        StoreError::Duplicate(format!(
            "a server using {} (its lock {} is held)",
            data_dir.display(),
            path.display()
        ))
    })?;
    Ok(DataDirLock { _file: file })
}

#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<()> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(std::io::Error::from)
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<()> {
    Ok(())
}
