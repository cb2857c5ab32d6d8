//! A Linux TAP interface (`IFF_TAP | IFF_NO_PI`): each read returns one Ethernet frame, each
//! write injects one. Addresses and link state are left to the caller (as simpletun does).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;

const IFNAMSIZ: usize = 16;

/// `struct ifreq` as far as `TUNSETIFF` uses it: the name, then the flags (a `short`), padded
/// to the size of the kernel's union.
#[repr(C)]
struct IfReqFlags {
    name: [u8; IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// An open TAP interface. The interface lives as long as this handle (and its clones) unless it
/// was created persistent beforehand (e.g. `ip tuntap add mode tap`), in which case it is
/// attached to.
pub struct Tap {
    file: File,
    name: String,
}

impl Tap {
    /// Creates or attaches to the TAP interface `name`.
    pub fn open(name: &str) -> io::Result<Tap> {
        if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(['/', ' ', '\0']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid interface name {name:?} (1 to 15 bytes, no '/', space or NUL)"),
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .map_err(|e| io::Error::new(e.kind(), format!("open /dev/net/tun: {e}")))?;
        let mut req = IfReqFlags {
            name: [0; IFNAMSIZ],
            flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
            _pad: [0; 22],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: TUNSETIFF reads and writes a `struct ifreq`; `req` is a properly sized and
        // aligned stand-in for it that outlives the call.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("TUNSETIFF {name} (IFF_TAP|IFF_NO_PI): {e}"),
            ));
        }
        let end = req.name.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ);
        let name = String::from_utf8_lossy(&req.name[..end]).into_owned();
        Ok(Tap { file, name })
    }

    /// The interface name the kernel settled on.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Another handle on the same interface (a `dup` of the descriptor).
    pub fn try_clone(&self) -> io::Result<Tap> {
        Ok(Tap {
            file: self.file.try_clone()?,
            name: self.name.clone(),
        })
    }

    /// Reads one frame into `buf`; returns its length.
    pub fn read_frame(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
            let n =
                unsafe { libc::read(self.file.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Writes one frame, in one `write` call as the TAP driver requires.
    pub fn write_frame(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: `frame` is valid for reads of `frame.len()` bytes.
            let n =
                unsafe { libc::write(self.file.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
            if n >= 0 {
                if n as usize != frame.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("short TAP write: {n} of {} bytes", frame.len()),
                    ));
                }
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}
