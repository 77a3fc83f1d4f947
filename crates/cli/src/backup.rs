//! `backup` and `restore` of the embedded store. PostgreSQL is backed up
//! with its own tools (`pg_dump`/`pg_restore`; see the README).

use anyhow::{bail, Context};

use crate::admin::store_location;
use crate::cli::{BackupArgs, RestoreArgs};

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

/// `evo-voice backup --to FILE`: `VACUUM INTO` over the live store, which
/// reads one consistent snapshot while a server keeps writing (WAL).
pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    if args.store.database_url.is_some() {
        bail!("back PostgreSQL up with pg_dump (see README, Operating evo-voice)");
    }
    let location = store_location(&args.store);
    let store = evo_store::open_store(&location.as_store_url())
        .await
        .with_context(|| format!("opening the store at {} failed", location.as_store_url()))?;
    store
        .backup_into(&args.to)
        .await
        .with_context(|| format!("backing up to {} failed", args.to.display()))?;
    println!("{}", args.to.display());
    Ok(())
}

/// `evo-voice restore --from FILE`: refuses while a server holds the data
/// directory; replaces an existing database only with `--force`.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    if args.store.database_url.is_some() {
        bail!("restore PostgreSQL with pg_restore (see README, Operating evo-voice)");
    }
    let mut header = [0u8; 16];
    {
        use std::io::Read;
        let mut file = std::fs::File::open(&args.from)
            .with_context(|| format!("opening {} failed", args.from.display()))?;
        file.read_exact(&mut header)
            .with_context(|| format!("{} is not an evo-voice backup", args.from.display()))?;
    }
    if header != SQLITE_HEADER {
        bail!(
            "{} is not an evo-voice backup (not SQLite)",
            args.from.display()
        );
    }
    let dir = &args.store.data_dir;
    let _lock = evo_store::lock::lock_data_dir(dir)
        .context("refusing to restore: stop the server using this data directory first")?;
    let database = evo_store::sql::sqlite_file(dir);
    if database.exists() && !args.force {
        bail!(
            "{} exists; pass --force to replace it with {}",
            database.display(),
            args.from.display()
        );
    }
    // Copy beside, then rename: a crash leaves the old or the new database,
    // never half of one. The old WAL must go first: replayed over the new
    // file it would corrupt it.
    let staging = dir.join("evo-voice.db.restoring");
    std::fs::copy(&args.from, &staging)
        .with_context(|| format!("copying {} failed", args.from.display()))?;
    for suffix in ["-wal", "-shm"] {
        let path = dir.join(format!("evo-voice.db{suffix}"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("removing {} failed", path.display()))
            }
        }
    }
    std::fs::rename(&staging, &database)
        .with_context(|| format!("replacing {} failed", database.display()))?;
    // Open once: checks the file and applies migrations newer than the backup.
    evo_store::open_store(&dir.display().to_string())
        .await
        .context("the restored store does not open")?;
    println!("{}", database.display());
    Ok(())
}
