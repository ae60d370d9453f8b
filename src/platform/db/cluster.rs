//! The embedded default database: a private PostgreSQL cluster under the data directory,
//! listening only on a Unix socket inside it. Started on demand, reused across starts, stopped
//! by whoever started it (unless a server still holds the data directory).

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const PORT: u16 = 5432;
pub const SUPERUSER: &str = "postgres";

pub struct PrivateCluster {
    pub dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    /// Whether this process started the postmaster (and so should stop it).
    started_here: bool,
}

/// Finds the PostgreSQL server binaries: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_bindir() -> Option<PathBuf> {
    let has_server = |p: &Path| {
        p.join("pg_ctl").exists() && p.join("initdb").exists() && p.join("postgres").exists()
    };
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server(&p) {
            return Some(p);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, p)| has_server(p))
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

impl PrivateCluster {
    /// Ensures a cluster exists in `dir` and is running. `initdb` refuses to run as root, so as
    /// root the cluster runs as the unprivileged `postgres` system user.
    pub fn start(dir: &Path, for_tests: bool) -> anyhow::Result<Self> {
        let Some(bin) = find_bindir() else {
            bail!(
                "No PostgreSQL server binaries found (initdb, pg_ctl): install them (apt-get install postgresql on Debian/Ubuntu) or set DATABASE_URL."
            );
        };
        // SAFETY: geteuid has no preconditions and cannot fail.
        let run_as = (unsafe { libc::geteuid() } == 0).then(|| SUPERUSER.to_string());
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let mut cluster = PrivateCluster {
            dir,
            bin,
            run_as,
            started_here: false,
        };
        // Serialise initdb/start between concurrent commands on the same data directory.
        let lock = File::create(
            cluster
                .dir
                .parent()
                .unwrap_or(&cluster.dir)
                .join(".pg-start.lock"),
        )?;
        flock(&lock, true)?;
        if !cluster.pgdata().join("PG_VERSION").exists() {
            cluster.initdb(for_tests)?;
        }
        if !cluster.is_running() {
            cluster.pg_ctl_start()?;
            cluster.started_here = true;
        }
        Ok(cluster)
    }

    pub fn pgdata(&self) -> PathBuf {
        self.dir.join("cluster")
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    pub fn port(&self) -> u16 {
        PORT
    }

    pub fn started_here(&self) -> bool {
        self.started_here
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn hand_over(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(user) = &self.run_as {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{user}:"))
                .arg(path)
                .status()?;
            if !status.success() {
                bail!("cannot hand {} to the {user} user", path.display());
            }
        }
        Ok(())
    }

    fn initdb(&self, for_tests: bool) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.pgdata())?;
        std::fs::create_dir_all(self.socket_dir())?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        self.hand_over(&self.dir)?;
        if let Some(user) = &self.run_as {
            // The cluster user must be able to reach its directory.
            let ok = Command::new("runuser")
                .args(["-u", user, "--", "test", "-w"])
                .arg(self.pgdata())
                .status()?
                .success();
            if !ok {
                bail!(
                    "FIRELATER_DATA_DIR: the '{user}' user cannot reach {}; choose a data directory outside private home directories",
                    self.dir.display()
                );
            }
        }
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(self.pgdata()).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        if for_tests {
            cmd.arg("-N");
        }
        let out = cmd.output().context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        // No TCP at all: the socket lives inside the (0700) data directory.
        let mut conf = format!(
            "\n# firelater private cluster\nlisten_addresses = ''\nunix_socket_directories = '{}'\nport = {PORT}\nmax_connections = 200\nshared_buffers = 128MB\n",
            self.socket_dir().display()
        );
        if for_tests {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(self.pgdata().join("postgresql.conf"))?
            .write_all(conf.as_bytes())?;
        Ok(())
    }

    pub fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(self.pgdata())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// The postmaster's process id while it runs (first line of `postmaster.pid`).
    pub fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.pgdata().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let log = self.dir.join("postgres.log");
        let mut cmd = self.command("pg_ctl");
        // Per-statement statistics for operators and `firelater bench` (statements per
        // request), when the server ships the module.
        let has_statements = self.bin.parent().is_some_and(|root| {
            root.join("lib/pg_stat_statements.so").exists()
                || root.join("lib/postgresql/pg_stat_statements.so").exists()
        });
        if has_statements {
            cmd.args(["-o", "-c shared_preload_libraries=pg_stat_statements"]);
        }
        let out = cmd
            .arg("start")
            .arg("-w")
            .args(["-t", "60"])
            .arg("-D")
            .arg(self.pgdata())
            .arg("-l")
            .arg(&log)
            .output()
            .context("running pg_ctl start")?;
        if !out.status.success() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            bail!(
                "the private PostgreSQL did not start: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        Ok(())
    }

    pub fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("stop")
            .args(["-m", "fast", "-w"])
            .arg("-D")
            .arg(self.pgdata())
            .output();
    }
}

/// Advisory whole-file lock (flock). Returns an error when `wait` is false and it is held.
pub fn flock(file: &File, wait: bool) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    let mut op = libc::LOCK_EX;
    if !wait {
        op |= libc::LOCK_NB;
    }
    // SAFETY: the descriptor is valid for the lifetime of `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
    if rc != 0 {
        bail!("lock is held");
    }
    Ok(())
}

/// The lock a running `firelater serve` holds on its data directory.
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let file = File::create(data_dir.join("firelater.lock"))?;
        if flock(&file, false).is_err() {
            bail!(
                "FIRELATER_DATA_DIR: another firelater server is already running on {}",
                data_dir.display()
            );
        }
        Ok(DataDirLock { _file: file })
    }

    /// True when a server currently holds the data directory.
    pub fn is_held(data_dir: &Path) -> bool {
        match File::create(data_dir.join("firelater.lock")) {
            Ok(f) => flock(&f, false).is_err(),
            Err(_) => false,
        }
    }
}
