//! An in-memory stand-in for the TUN, for tests of the driver without root.

use std::io;

use tokio::sync::mpsc;

use super::PacketDevice;

/// The test's end: inject packets as if local applications sent them, and receive what the
/// tunnel delivers.
pub struct MemoryTunHandle {
    pub to_tunnel: mpsc::Sender<Vec<u8>>,
    pub from_tunnel: mpsc::Receiver<Vec<u8>>,
}

/// The driver's end.
pub struct MemoryTun {
    inbound: mpsc::Receiver<Vec<u8>>,
    outbound: mpsc::Sender<Vec<u8>>,
}

impl MemoryTun {
    pub fn pair(capacity: usize) -> (MemoryTun, MemoryTunHandle) {
        let (to_tunnel, inbound) = mpsc::channel(capacity);
        let (outbound, from_tunnel) = mpsc::channel(capacity);
        (
            MemoryTun { inbound, outbound },
            MemoryTunHandle {
                to_tunnel,
                from_tunnel,
            },
        )
    }

    fn copy(packet: Vec<u8>, buf: &mut [u8]) -> io::Result<usize> {
        let dst = buf.get_mut(..packet.len()).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "packet larger than buffer")
        })?;
        dst.copy_from_slice(&packet);
        Ok(packet.len())
    }
}

impl PacketDevice for MemoryTun {
    async fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inbound.recv().await {
            Some(packet) => Self::copy(packet, buf),
            // The test dropped its end: behave like an idle device.
            None => std::future::pending().await,
        }
    }

    fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.inbound.try_recv() {
            Ok(packet) => Self::copy(packet, buf).map(Some),
            Err(_) => Ok(None),
        }
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.outbound
            .try_send(packet.to_vec())
            .map_err(|_| io::Error::new(io::ErrorKind::WouldBlock, "test TUN queue full"))
    }
}
