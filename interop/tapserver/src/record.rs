//! The simpletun record format: a big-endian `u16` length followed by exactly that many bytes,
//! one Ethernet frame, no padding. The limits are the ones a real simpletun peer imposes (see
//! `shared/simpletun-wire.md`): it crashes on a record over 2000 bytes and dies when it has to
//! write an empty or runt (< 14 bytes) frame to its TAP. Here those are protocol errors instead.

use std::fmt;
use std::io::{self, Read};

/// Size of the length prefix.
pub const HEADER_LEN: usize = 2;
/// Largest payload simpletun can take (its read buffer).
pub const MAX_FRAME: usize = 2000;
/// Smallest TAP frame: destination MAC, source MAC, EtherType.
pub const MIN_FRAME: usize = 14;

/// A record length that a simpletun peer cannot handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitError {
    /// `len` = 0: simpletun's TAP write of an empty frame fails, which is fatal for it.
    Empty,
    /// 0 < `len` < 14: not even an Ethernet header.
    Runt(usize),
    /// `len` > 2000: overflows simpletun's receive buffer.
    Oversized(usize),
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitError::Empty => write!(f, "record length 0 (an empty frame)"),
            LimitError::Runt(n) => write!(
                f,
                "record length {n} is shorter than an Ethernet header ({MIN_FRAME} bytes)"
            ),
            LimitError::Oversized(n) => {
                write!(f, "record length {n} exceeds the {MAX_FRAME}-byte limit")
            }
        }
    }
}

impl std::error::Error for LimitError {}

/// Checks a payload length against simpletun's limits.
pub fn check_len(len: usize) -> Result<(), LimitError> {
    match len {
        0 => Err(LimitError::Empty),
        n if n < MIN_FRAME => Err(LimitError::Runt(n)),
        n if n > MAX_FRAME => Err(LimitError::Oversized(n)),
        _ => Ok(()),
    }
}

/// The length prefix for `frame`, or why it must not be sent.
pub fn header(frame: &[u8]) -> Result<[u8; HEADER_LEN], LimitError> {
    check_len(frame.len())?;
    // check_len bounds the length to MAX_FRAME, which fits a u16.
    Ok((frame.len() as u16).to_be_bytes())
}

/// Appends one whole record (prefix + frame) to `out`; `out` is untouched on error.
pub fn encode(frame: &[u8], out: &mut Vec<u8>) -> Result<(), LimitError> {
    let hdr = header(frame)?;
    out.reserve(HEADER_LEN + frame.len());
    out.extend_from_slice(&hdr);
    out.extend_from_slice(frame);
    Ok(())
}

/// Why reading the next record failed.
#[derive(Debug)]
pub enum ReadError {
    /// The peer sent a length simpletun could not handle.
    Limit(LimitError),
    /// The stream ended inside a record (`got` of `want` bytes of the header or payload).
    Truncated {
        what: &'static str,
        got: usize,
        want: usize,
    },
    /// The transport failed.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Limit(e) => write!(f, "protocol error: {e}"),
            ReadError::Truncated { what, got, want } => write!(
                f,
                "stream truncated inside a record ({what}: {got} of {want} bytes)"
            ),
            ReadError::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads records one at a time from a byte stream.
pub struct RecordReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: Read> RecordReader<R> {
    pub fn new(inner: R) -> Self {
        RecordReader {
            inner,
            buf: vec![0; MAX_FRAME],
        }
    }

    /// The next frame; `Ok(None)` when the stream ends cleanly at a record boundary.
    pub fn read_record(&mut self) -> Result<Option<&[u8]>, ReadError> {
        let mut hdr = [0u8; HEADER_LEN];
        let got = read_full(&mut self.inner, &mut hdr).map_err(ReadError::Io)?;
        if got == 0 {
            return Ok(None);
        }
        if got < HEADER_LEN {
            return Err(ReadError::Truncated {
                what: "length prefix",
                got,
                want: HEADER_LEN,
            });
        }
        let len = usize::from(u16::from_be_bytes(hdr));
        check_len(len).map_err(ReadError::Limit)?;
        let frame = &mut self.buf[..len];
        let got = read_full(&mut self.inner, frame).map_err(ReadError::Io)?;
        if got < len {
            return Err(ReadError::Truncated {
                what: "frame",
                got,
                want: len,
            });
        }
        Ok(Some(&self.buf[..len]))
    }
}

/// Fills `buf` unless the stream ends first; returns how many bytes were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A one-line summary of an Ethernet frame for `--log-frames`.
pub fn describe_frame(frame: &[u8]) -> String {
    if frame.len() < MIN_FRAME {
        return format!("{} bytes (runt)", frame.len());
    }
    let mac = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    format!(
        "{} bytes {} -> {} type 0x{ethertype:04x}",
        frame.len(),
        mac(&frame[6..12]),
        mac(&frame[0..6])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A 42-byte ARP request as a TAP hands it out: no padding to 60 bytes.
    fn arp_request() -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
        f.extend_from_slice(&[0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 10, 98, 0, 2]);
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 98, 0, 1]);
        assert_eq!(f.len(), 42);
        f
    }

    #[test]
    fn encode_is_length_prefix_plus_frame() {
        let frame = arp_request();
        let mut out = Vec::new();
        encode(&frame, &mut out).unwrap();
        assert_eq!(&out[..2], &[0x00, 0x2a]);
        assert_eq!(&out[2..], &frame[..]);
        assert_eq!(out.len(), 44);
    }

    #[test]
    fn encode_big_endian_length() {
        let frame = vec![0xab; 1514];
        let mut out = Vec::new();
        encode(&frame, &mut out).unwrap();
        assert_eq!(&out[..2], &[0x05, 0xea]);
    }

    #[test]
    fn encode_refuses_what_simpletun_cannot_take() {
        let mut out = vec![7];
        assert_eq!(encode(&[], &mut out), Err(LimitError::Empty));
        assert_eq!(encode(&[0; 13], &mut out), Err(LimitError::Runt(13)));
        assert_eq!(
            encode(&[0; 2001], &mut out),
            Err(LimitError::Oversized(2001))
        );
        assert_eq!(out, vec![7], "nothing appended on error");
        encode(&[0; 14], &mut out).unwrap();
        encode(&[0; 2000], &mut out).unwrap();
        assert_eq!(out.len(), 1 + 2 + 14 + 2 + 2000);
    }

    #[test]
    fn decode_sequence_then_clean_eof() {
        let a = arp_request();
        let b = vec![0x5a; 1514];
        let mut wire = Vec::new();
        encode(&a, &mut wire).unwrap();
        encode(&b, &mut wire).unwrap();
        let mut r = RecordReader::new(Cursor::new(wire));
        assert_eq!(r.read_record().unwrap().unwrap(), &a[..]);
        assert_eq!(r.read_record().unwrap().unwrap(), &b[..]);
        assert!(r.read_record().unwrap().is_none());
    }

    /// A reader that hands out one byte per call, like a slow TCP stream.
    struct Trickle(Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn decode_across_short_reads() {
        let a = arp_request();
        let mut wire = Vec::new();
        encode(&a, &mut wire).unwrap();
        encode(&a, &mut wire).unwrap();
        let mut r = RecordReader::new(Trickle(Cursor::new(wire)));
        assert_eq!(r.read_record().unwrap().unwrap(), &a[..]);
        assert_eq!(r.read_record().unwrap().unwrap(), &a[..]);
        assert!(r.read_record().unwrap().is_none());
    }

    fn first_error(wire: Vec<u8>) -> ReadError {
        let mut r = RecordReader::new(Cursor::new(wire));
        loop {
            match r.read_record() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("expected an error"),
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn decode_limits() {
        assert!(matches!(
            first_error(vec![0, 0]),
            ReadError::Limit(LimitError::Empty)
        ));
        assert!(matches!(
            first_error(vec![0, 13, 1, 2, 3]),
            ReadError::Limit(LimitError::Runt(13))
        ));
        let mut over = vec![0x07, 0xd1];
        over.extend_from_slice(&[0; 2001]);
        assert!(matches!(
            first_error(over),
            ReadError::Limit(LimitError::Oversized(2001))
        ));
        assert!(matches!(
            first_error(vec![0xff, 0xff]),
            ReadError::Limit(LimitError::Oversized(65535))
        ));
        // Exactly at the limits is fine.
        let mut ok = Vec::new();
        encode(&[1; 14], &mut ok).unwrap();
        encode(&[2; 2000], &mut ok).unwrap();
        let mut r = RecordReader::new(Cursor::new(ok));
        assert_eq!(r.read_record().unwrap().unwrap().len(), 14);
        assert_eq!(r.read_record().unwrap().unwrap().len(), 2000);
    }

    #[test]
    fn decode_limit_error_after_good_records() {
        let mut wire = Vec::new();
        encode(&arp_request(), &mut wire).unwrap();
        wire.extend_from_slice(&[0, 0]);
        assert!(matches!(
            first_error(wire),
            ReadError::Limit(LimitError::Empty)
        ));
    }

    #[test]
    fn decode_truncation() {
        assert!(matches!(
            first_error(vec![0]),
            ReadError::Truncated {
                what: "length prefix",
                got: 1,
                want: 2
            }
        ));
        assert!(matches!(
            first_error(vec![0, 42, 1, 2, 3]),
            ReadError::Truncated {
                what: "frame",
                got: 3,
                want: 42
            }
        ));
    }

    #[test]
    fn describe() {
        assert_eq!(
            describe_frame(&arp_request()),
            "42 bytes 02:00:00:00:00:02 -> ff:ff:ff:ff:ff:ff type 0x0806"
        );
        assert_eq!(describe_frame(&[0; 3]), "3 bytes (runt)");
    }
}
