//! Test support: a throwaway PostgreSQL cluster in a temporary directory on
//! a free port, stopped when dropped. As root it runs the server as the
//! `postgres` user (PostgreSQL refuses to run as root).
//!
//! When the server binaries are missing, [`PostgresCluster::start`] panics
//! with how to install them: a PostgreSQL test that cannot get PostgreSQL
//! fails, it never passes without having run (`scripts/test.sh` installs
//! them).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One connection of its own to a store's database (`url`), outside the
/// store's pools: to read its tables, or to run statements on a connection
/// the test chooses (PostgreSQL keeps plans per connection).
pub async fn one_connection(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::pool::PoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap()
}

/// A running throwaway cluster.
pub struct PostgresCluster {
    bin: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

fn find_bin() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    candidates.reverse();
    candidates.push(PathBuf::from("/usr/local/bin"));
    candidates.push(PathBuf::from("/usr/bin"));
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PostgresCluster {
    /// Starts a cluster; panics when it cannot (see the module doc).
    pub fn start() -> Self {
        let Some(bin) = find_bin() else {
            panic!(
                "PostgreSQL server binaries (initdb, pg_ctl) not found; \
                 install them with: apt-get install postgresql (scripts/test.sh does)"
            );
        };
        let dir = tempfile::Builder::new()
            .prefix("evo-pg-")
            .tempdir()
            .expect("temporary directory");
        let data = dir.path().join("data");
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown of the cluster directory failed");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let cluster = PostgresCluster {
            bin,
            data,
            _dir: dir,
            port,
            as_postgres,
        };
        cluster.run(
            "initdb",
            &[
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
                &cluster.data_str(),
            ],
        );
        cluster.pg_start();
        cluster
    }

    fn pg_start(&self) {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.socket_dir().display()
        );
        // Diagnostics for a run (e.g. `-c shared_preload_libraries=pg_stat_statements
        // -c pg_stat_statements.track=all`): server settings that cannot be
        // set per connection (`PGOPTIONS` does those).
        if let Ok(extra) = std::env::var("EVO_TEST_PG_SETTINGS") {
            options.push(' ');
            options.push_str(&extra);
        }
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data_str(),
                "-o",
                &options,
                "-w",
                "-l",
                &self.log_path(),
                "start",
            ],
        );
    }

    /// Stops the server as an operator would (`pg_ctl stop -m fast`: open
    /// connections are cut, nothing committed is lost).
    pub fn stop_fast(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data_str(), "-m", "fast", "-w", "stop"],
        );
    }

    /// Starts a stopped server again, on the same port.
    pub fn start_again(&self) {
        self.pg_start();
    }

    /// For a cluster kept in a static (a test binary's shared server),
    /// which is never dropped: a small watcher stops it and deletes its
    /// directory once this process has exited.
    // The watcher must outlive this process, so it is never waited for.
    #[allow(clippy::zombie_processes)]
    pub fn stop_when_process_exits(&self) {
        let me = std::process::id();
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.as_postgres {
            format!(
                "runuser -u postgres -- {} -D {} -m immediate stop",
                pg_ctl.display(),
                self.data_str()
            )
        } else {
            format!(
                "{} -D {} -m immediate stop",
                pg_ctl.display(),
                self.data_str()
            )
        };
        let dir = self._dir.path().display().to_string();
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'"
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawning the cluster's watcher");
    }

    fn data_str(&self) -> String {
        self.data.display().to_string()
    }

    fn socket_dir(&self) -> &Path {
        self.data.parent().unwrap_or(Path::new("/tmp"))
    }

    fn log_path(&self) -> String {
        self.socket_dir().join("server.log").display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .output()
            .expect("running a PostgreSQL tool");
        assert!(
            output.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The port the cluster listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for a new, empty database named `name`.
    pub fn create_database(&self, name: &str) -> String {
        let output = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                name,
            ])
            .output()
            .or_else(|_| {
                Command::new("createdb")
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &self.port.to_string(),
                        "-U",
                        "postgres",
                        name,
                    ])
                    .output()
            })
            .expect("createdb");
        assert!(
            output.status.success(),
            "createdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data_str(), "-m", "immediate", "stop"])
            .output();
    }
}

/// Runs `statement` on the SQLite store in `data_dir` over a connection of
/// its own, as another process, node or administrator would: a write the
/// store's own pools did not make. Panics (the test fails) if it fails.
pub async fn execute_in_sqlite(data_dir: &Path, statement: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = crate::sql::sqlite_url(data_dir);
    let mut connection = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query(statement)
        .execute(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
}

/// The cast the store's own tests use: account `acc1` ("Acme"), number
/// `num1` ("Main") ringing one agent, `usr1` (alice).
pub fn one_agent_cast() -> evo_core::scenario::Cast {
    evo_core::scenario::Cast {
        account_id: "acc1".into(),
        account_name: "Acme".into(),
        customer: None,
        breadcrumb: vec![],
        number: ("num1".into(), "+15550100".into(), "Main".into()),
        agents: vec![("usr1".into(), "alice".into(), "Alice".into())],
        caller: "+15557770000".into(),
    }
}

/// `plan`'s open (with the lookup key `key`) and its first `count` events
/// as consecutive changes, each version computed from the one before: the
/// chain a voice webhook submits, which the store writes as one change.
pub fn consecutive_versions(
    plan: &evo_core::scenario::Scenario,
    count: usize,
    key: String,
) -> Vec<crate::SessionChange> {
    let mut session =
        evo_core::reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
    let mut changes = vec![crate::SessionChange {
        session: session.clone(),
        event: None,
        expected_version: None,
        keys: vec![key],
    }];
    for event in &plan.events[..count] {
        let next = evo_core::reducer::apply(&session, event);
        changes.push(crate::SessionChange {
            session: next.clone(),
            event: Some(event.clone()),
            expected_version: Some(session.version()),
            keys: vec![],
        });
        session = next;
    }
    changes
}
