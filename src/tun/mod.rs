//! The local TUN device: bare IPv4/IPv6 packets in and out.
//!
//! [`PacketDevice`] is what the driver sees; [`OsTun`] implements it on the operating system's
//! TUN through the `tun` crate (Linux: `/dev/net/tun` with `IFF_TUN | IFF_NO_PI`; macOS: a
//! `utun` control socket whose 4-byte address-family header the crate adds and strips), and
//! tests use [`memory::MemoryTun`]. This module opens the device and moves packets; it never
//! configures addresses, MTU or routes — that is `netcfg`'s job, so all changes to the system
//! go through one undo journal.

pub mod memory;

use std::future::Future;
use std::io;

use tokio::io::unix::AsyncFd;

/// A device that moves whole IP packets.
pub trait PacketDevice {
    /// Waits for the next packet and copies it into `buf`, returning its length.
    fn recv(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>>;
    /// The next packet if one is ready now, without waiting (for draining a burst in one go).
    fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    /// Hands one packet to the local stack. Never waits: a packet the OS will not take now is
    /// reported as an error for the caller to count.
    fn send(&mut self, packet: &[u8]) -> io::Result<()>;
}

/// Why the TUN could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TunError {
    #[error("cannot open the TUN device{}: {source} (tapclient needs root, or CAP_NET_ADMIN on Linux)", .name.as_deref().map(|n| format!(" {n}")).unwrap_or_default())]
    Open {
        name: Option<String>,
        #[source]
        source: tun::Error,
    },
    #[error("cannot use the TUN device {name}: {source}")]
    Setup {
        name: String,
        #[source]
        source: io::Error,
    },
}

/// The operating system's TUN device, registered with tokio.
pub struct OsTun {
    fd: AsyncFd<tun::Device>,
    name: String,
}

impl OsTun {
    /// Creates the TUN (`name`, or one the OS picks). The interface is left down and
    /// unaddressed; it disappears, with its addresses and routes, when this value is dropped.
    pub fn open(name: Option<&str>) -> Result<OsTun, TunError> {
        let mut config = tun::Configuration::default();
        config.layer(tun::Layer::L3);
        if let Some(name) = name {
            config.tun_name(name);
        }
        let device = tun::create(&config).map_err(|source| TunError::Open {
            name: name.map(str::to_owned),
            source,
        })?;
        let name = tun::AbstractDevice::tun_name(&device).map_err(|source| TunError::Open {
            name: name.map(str::to_owned),
            source,
        })?;
        let setup = |source| TunError::Setup {
            name: name.clone(),
            source,
        };
        device.set_nonblock().map_err(setup)?;
        // SAFETY: `tun::Device` owns its descriptor: it stays open and the same for as long as
        // the device lives, which is as long as the `AsyncFd` that owns it.
        let fd = unsafe { AsyncFd::register_with_interest(device, tokio::io::Interest::READABLE) }
            .map_err(|e| setup(e.into_parts().1))?;
        Ok(OsTun { fd, name })
    }

    /// The interface name the OS gave the device (`tun0`, `utun4`, …).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl PacketDevice for OsTun {
    async fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|dev| dev.get_ref().recv(buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.fd.get_ref().recv(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        let n = self.fd.get_ref().send(packet)?;
        if n == packet.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("TUN took {n} of {} bytes", packet.len()),
            ))
        }
    }
}
