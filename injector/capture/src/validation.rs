//! `--run-validation`: proof that the rules redirect, as istio-validation
//! gives it under Istio CNI (where a node plugin, not this program, wrote
//! the rules). It listens where the proxy will (the outbound and inbound
//! capture ports on the loopback address) and connects from the loopback
//! address to the passthrough address on the probe port. Nothing listens on
//! the probe port: only a redirect brings the connection to a listener,
//! which reads the original destination to be sure it is the probe's.
//!
//! The rules only redirect the proxy's own loopback traffic to the inbound
//! port, so this must run as the proxy's user, as istio-validation does.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, SockaddrStorage, bind, connect,
    getsockopt, socket, sockopt,
};
use tracing::{debug, info, warn};

/// How often the probe connects while waiting.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("cannot listen on any of {0} for the validation probe")]
    NoListener(String),
    #[error(
        "no connection to {target} reached {listeners} within {timeout:?}: traffic is not \
         captured, so the workload is not ready for the mesh (under Istio CNI: the pod may \
         have started before the node's CNI plugin was ready; it must be recreated)"
    )]
    NotRedirected {
        target: SocketAddr,
        listeners: String,
        timeout: Duration,
    },
}

/// Where the probe listens and connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The proxy's outbound and inbound capture ports.
    pub listen_ports: Vec<u16>,
    pub probe_port: u16,
    pub ipv6: bool,
    pub timeout: Duration,
}

impl Probe {
    fn loopback(&self) -> IpAddr {
        if self.ipv6 {
            Ipv6Addr::LOCALHOST.into()
        } else {
            Ipv4Addr::LOCALHOST.into()
        }
    }

    /// The passthrough address: the proxy's route back to the app, which the
    /// outbound rules redirect to the inbound port.
    fn target(&self) -> SocketAddr {
        let address: IpAddr = if self.ipv6 {
            Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 6).into()
        } else {
            Ipv4Addr::new(127, 0, 0, 6).into()
        };
        SocketAddr::new(address, self.probe_port)
    }
}

pub fn run(probe: &Probe) -> Result<(), ValidationError> {
    info!("validating that traffic is captured");
    let (arrived, arrivals) = mpsc::channel();
    let addresses: Vec<SocketAddr> = probe
        .listen_ports
        .iter()
        .map(|port| SocketAddr::new(probe.loopback(), *port))
        .collect();
    let mut listening = 0;
    for address in &addresses {
        match TcpListener::bind(address) {
            Ok(listener) => {
                listening += 1;
                let arrived = arrived.clone();
                std::thread::spawn(move || report_arrivals(listener, arrived));
            }
            Err(e) => warn!(%address, error = %e, "cannot listen"),
        }
    }
    let listeners = addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if listening == 0 {
        return Err(ValidationError::NoListener(listeners));
    }
    let target = probe.target();
    let deadline = Instant::now() + probe.timeout;
    loop {
        let source = probe.loopback();
        // In its own thread: a connection that is dropped rather than
        // refused must not hold the probe past its deadline.
        std::thread::spawn(move || {
            if let Err(e) = connect_from(source, target) {
                debug!(%target, error = %e, "probe connection failed");
            }
        });
        let left = deadline.saturating_duration_since(Instant::now());
        match arrivals.recv_timeout(left.min(PROBE_INTERVAL)) {
            Ok(port) if port == probe.probe_port => {
                info!("validation passed: traffic is captured");
                return Ok(());
            }
            _ if Instant::now() >= deadline => {
                return Err(ValidationError::NotRedirected {
                    target,
                    listeners,
                    timeout: probe.timeout,
                });
            }
            _ => {}
        }
    }
}

/// Sends the original destination port of every connection accepted.
fn report_arrivals(listener: TcpListener, arrived: mpsc::Sender<u16>) {
    for connection in listener.incoming().flatten() {
        let Some(original) = original_destination(&connection) else {
            continue;
        };
        debug!(%original, "connection redirected to the probe listener");
        // The port, for whoever probes by hand.
        let _ = (&connection).write_all(original.port().to_string().as_bytes());
        if arrived.send(original.port()).is_err() {
            return;
        }
    }
}

/// Where a redirected connection was going, from conntrack.
fn original_destination(connection: &TcpStream) -> Option<SocketAddr> {
    match connection.local_addr().ok()? {
        SocketAddr::V4(_) => {
            let raw = getsockopt(connection, sockopt::OriginalDst).ok()?;
            Some(std::net::SocketAddrV4::from(SockaddrIn::from(raw)).into())
        }
        SocketAddr::V6(_) => {
            let raw = getsockopt(connection, sockopt::Ip6tOriginalDst).ok()?;
            Some(std::net::SocketAddrV6::from(SockaddrIn6::from(raw)).into())
        }
    }
}

/// A TCP connection bound to `source` first: the kernel would otherwise
/// pick the passthrough address itself as the source for `::6`, which the
/// rules let through.
fn connect_from(source: IpAddr, target: SocketAddr) -> nix::Result<OwnedFd> {
    let family = match source {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    bind(
        fd.as_raw_fd(),
        &SockaddrStorage::from(SocketAddr::new(source, 0)),
    )?;
    connect(fd.as_raw_fd(), &SockaddrStorage::from(target))?;
    Ok(fd)
}
