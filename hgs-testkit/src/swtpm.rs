//! A software TPM for tests, `hgs demo` and `hgs swtpm start`: manufactured by `swtpm_setup`
//! (RSA-2048 and ECC P-384 EKs with certificates from swtpm's local CA, a platform certificate,
//! SHA-1 and SHA-256 PCR banks) and served by `swtpm socket` on free loopback ports.
//!
//! [`Swtpm::start`] owns the process: dropping the value kills exactly the PID it spawned and
//! removes the temporary state directory.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long we wait for `swtpm socket` to accept connections before giving up.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at picking free ports (another process may grab a port between our probe and swtpm's bind).
const PORT_ATTEMPTS: usize = 5;

/// Errors from the harness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SwtpmError {
    /// A required program is not installed.
    #[error("{program} not found on PATH: install the Debian/Ubuntu packages `swtpm swtpm-tools` (and `libtss2-dev tpm2-tools` for the TPM stack)")]
    NotInstalled {
        /// The program.
        program: &'static str,
    },
    /// `swtpm_setup` failed.
    #[error("swtpm_setup failed ({status}): {output}")]
    Setup {
        /// Its exit status.
        status: String,
        /// Its output (stdout + stderr).
        output: String,
    },
    /// `swtpm socket` did not come up.
    #[error("swtpm socket did not start: {message}")]
    Start {
        /// What happened.
        message: String,
    },
    /// An I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// File or program involved.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// True when `program` is found on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn require(program: &'static str) -> Result<(), SwtpmError> {
    if on_path(program) {
        Ok(())
    } else {
        Err(SwtpmError::NotInstalled { program })
    }
}

/// Manufactures a TPM 2.0 into `state_dir` (created if missing): EK certificates, platform
/// certificate, locked NV, SHA-1 + SHA-256 banks.
pub fn manufacture(state_dir: &Path) -> Result<(), SwtpmError> {
    require("swtpm_setup")?;
    require("swtpm")?;
    std::fs::create_dir_all(state_dir).map_err(|source| SwtpmError::Io {
        path: state_dir.to_path_buf(),
        source,
    })?;
    let out = Command::new("swtpm_setup")
        .arg("--tpm2")
        .arg("--tpmstate")
        .arg(state_dir)
        .args([
            "--create-ek-cert",
            "--create-platform-cert",
            "--lock-nvram",
            "--pcr-banks",
            "sha1,sha256",
            "--overwrite",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| SwtpmError::Io {
            path: "swtpm_setup".into(),
            source,
        })?;
    if !out.status.success() {
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        return Err(SwtpmError::Setup {
            status: out.status.to_string(),
            output: output.trim().replace('\n', " | "),
        });
    }
    Ok(())
}

/// Picks a free loopback port `p` such that `p + 1` is free too: the `swtpm:` TCTI always talks
/// to the control channel on the command port + 1.
fn free_port_pair() -> Result<(u16, u16), SwtpmError> {
    let io = |source| SwtpmError::Io {
        path: "127.0.0.1:0".into(),
        source,
    };
    for _ in 0..64 {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io)?;
        let port = l.local_addr().map_err(io)?.port();
        let Some(ctrl) = port.checked_add(1) else {
            continue;
        };
        if TcpListener::bind((Ipv4Addr::LOCALHOST, ctrl)).is_ok() {
            return Ok((port, ctrl));
        }
    }
    Err(SwtpmError::Start {
        message: "no free pair of adjacent loopback ports".into(),
    })
}

/// Absolute form of `dir` (`swtpm --daemon` changes directory to `/`, so relative paths break).
fn absolute(dir: &Path) -> Result<PathBuf, SwtpmError> {
    std::fs::canonicalize(dir).map_err(|source| SwtpmError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// The `swtpm socket` command line for a state directory and ports.
fn socket_command(state_dir: &Path, port: u16, ctrl: u16) -> Command {
    let mut cmd = Command::new("swtpm");
    cmd.arg("socket")
        .arg("--tpm2")
        .arg("--tpmstate")
        .arg(format!("dir={}", state_dir.display()))
        .arg("--server")
        .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
        .arg("--ctrl")
        .arg(format!("type=tcp,port={ctrl},bindaddr=127.0.0.1"))
        .args(["--flags", "not-need-init,startup-clear"])
        .arg("--log")
        .arg(format!(
            "file={},level=1",
            state_dir.join("swtpm.log").display()
        ));
    cmd
}

/// The TCTI string for a swtpm on `port`.
pub fn tcti_for(port: u16) -> String {
    format!("swtpm:host=127.0.0.1,port={port}")
}

/// A running software TPM owned by this value.
#[derive(Debug)]
pub struct Swtpm {
    child: Child,
    port: u16,
    state_dir: PathBuf,
    remove_dir: bool,
}

impl Swtpm {
    /// Manufactures a fresh TPM in a new temporary directory and starts it.
    pub fn start() -> Result<Swtpm, SwtpmError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hgs-swtpm-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        manufacture(&dir)?;
        let mut tpm = Swtpm::start_existing(&dir)?;
        tpm.remove_dir = true;
        Ok(tpm)
    }

    /// Starts `swtpm socket` on an already manufactured state directory (kept on drop).
    pub fn start_existing(state_dir: &Path) -> Result<Swtpm, SwtpmError> {
        require("swtpm")?;
        let state_dir = &absolute(state_dir)?;
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let (port, ctrl) = free_port_pair()?;
            let mut child = socket_command(state_dir, port, ctrl)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|source| SwtpmError::Io {
                    path: "swtpm".into(),
                    source,
                })?;
            match wait_ready(&mut child, port, ctrl) {
                Ok(()) => {
                    return Ok(Swtpm {
                        child,
                        port,
                        state_dir: state_dir.to_path_buf(),
                        remove_dir: false,
                    })
                }
                Err(msg) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = msg;
                }
            }
        }
        Err(SwtpmError::Start { message: last })
    }

    /// Power-cycles the TPM: stops `swtpm` and starts it again on the same state (the same EK,
    /// every key blob still loadable), with its PCRs reset — the host rebooting. The ports (so
    /// [`Swtpm::tcti`]) change.
    pub fn reboot(&mut self) -> Result<(), SwtpmError> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut next = Swtpm::start_existing(&self.state_dir)?;
        std::mem::swap(&mut self.child, &mut next.child);
        self.port = next.port;
        // `next` now owns the dead child and keeps the directory on drop.
        drop(next);
        Ok(())
    }

    /// The TCTI string to reach this TPM (`swtpm:host=127.0.0.1,port=N`).
    pub fn tcti(&self) -> String {
        tcti_for(self.port)
    }

    /// The TPM command port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// PID of the `swtpm` process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }
}

/// Waits until both the command port and the control port (the `swtpm:` TCTI opens both)
/// accept connections, or swtpm exits (for instance because another process took a port).
fn wait_ready(child: &mut Child, port: u16, ctrl: u16) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return Err(format!("swtpm exited ({status}): {}", err.trim()));
        }
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
            && TcpStream::connect((Ipv4Addr::LOCALHOST, ctrl)).is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("port {port} not accepting after {START_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        // Child::kill signals exactly the PID we spawned.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.remove_dir {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

/// Starts `swtpm socket` as a daemon on `state_dir` (manufacturing it first if it holds no TPM
/// state), for `hgs swtpm start`. Returns the TCTI and the daemon's PID (also written to
/// `state_dir/swtpm.pid`); stop it with [`stop_daemon`].
pub fn start_daemon(state_dir: &Path) -> Result<(String, u32), SwtpmError> {
    if !state_dir.join("tpm2-00.permall").exists() {
        manufacture(state_dir)?;
    }
    let state_dir = &absolute(state_dir)?;
    let pid_file = state_dir.join("swtpm.pid");
    if let Ok(pid) = read_pid(&pid_file) {
        if Path::new(&format!("/proc/{pid}")).exists() {
            return Err(SwtpmError::Start {
                message: format!(
                    "a swtpm (pid {pid}) already serves {}; stop it first",
                    state_dir.display()
                ),
            });
        }
    }
    let _ = std::fs::remove_file(&pid_file);
    let mut last = String::new();
    for _ in 0..PORT_ATTEMPTS {
        let (port, ctrl) = free_port_pair()?;
        let status = socket_command(state_dir, port, ctrl)
            .arg("--daemon")
            .arg("--pid")
            .arg(format!("file={}", pid_file.display()))
            .stdin(Stdio::null())
            .status()
            .map_err(|source| SwtpmError::Io {
                path: "swtpm".into(),
                source,
            })?;
        if !status.success() {
            last = format!("swtpm --daemon exited {status}");
            continue;
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                let pid = read_pid(&pid_file)?;
                return Ok((tcti_for(port), pid));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        last = format!("port {port} not accepting");
    }
    Err(SwtpmError::Start { message: last })
}

fn read_pid(pid_file: &Path) -> Result<u32, SwtpmError> {
    let text = std::fs::read_to_string(pid_file).map_err(|source| SwtpmError::Io {
        path: pid_file.to_path_buf(),
        source,
    })?;
    text.trim().parse().map_err(|_| SwtpmError::Start {
        message: format!("{}: not a PID: {:?}", pid_file.display(), text.trim()),
    })
}

/// Stops the daemon started by [`start_daemon`] on `state_dir`, by the PID in its pid file.
pub fn stop_daemon(state_dir: &Path) -> Result<u32, SwtpmError> {
    let pid_file = state_dir.join("swtpm.pid");
    let pid = read_pid(&pid_file)?;
    let status = Command::new("kill")
        .arg(pid.to_string())
        .status()
        .map_err(|source| SwtpmError::Io {
            path: "kill".into(),
            source,
        })?;
    if !status.success() {
        return Err(SwtpmError::Start {
            message: format!("kill {pid} failed ({status})"),
        });
    }
    let _ = std::fs::remove_file(&pid_file);
    Ok(pid)
}
