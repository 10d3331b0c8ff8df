//! A fresh local broker (Tansu, in-memory engine) on a free loopback port.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::process::Measured;

/// The broker process, killed when dropped.
pub struct Broker {
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// The sampled process.
    pub process: Measured,
}

impl Broker {
    /// Starts `tansu` with its log in `log` and waits (up to 20 s) until
    /// it accepts connections.
    pub fn start(tansu: &Path, log: &Path) -> anyhow::Result<Broker> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let mut command = Command::new(tansu);
        command
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"]);
        let mut process = Measured::spawn("broker", command, log)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&address).is_err() {
            if let Some(status) = process.try_finished()? {
                bail!("the broker exited with {status}; see {}", log.display());
            }
            if Instant::now() > deadline {
                bail!("the broker did not listen on {address} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Broker { address, process })
    }
}
