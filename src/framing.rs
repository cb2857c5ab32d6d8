//! The record framing shared by simpletun and OpenVPN over TCP: each record is a 2-byte
//! big-endian length followed by that many bytes.
//!
//! Sans-IO and allocation-free: [`Deframer`] walks records in a caller-owned byte buffer and
//! says how much of it was consumed; [`encode_into`] appends a record to a caller-owned output
//! buffer. The limits come from `simpletun-wire.md`: a `len` of 0 or a record above the peer's
//! maximum (2000 bytes for simpletun) breaks the peer, so we never send one, and we treat one
//! coming in as a protocol error (the stream cannot be trusted to be in sync any more).

use bytes::{BufMut, BytesMut};

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 2;

/// A record that breaks the framing. The connection is dropped on it: after a bad length the
/// stream position can no longer be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("the peer sent a record of length 0")]
    Empty,
    #[error("the peer sent a {len}-byte record, above the {max}-byte limit")]
    Oversize { len: usize, max: usize },
}

/// Why an outgoing record was refused (a caller bug or a misconfigured MTU, never sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("refusing to send a record of {len} bytes (allowed {min}..={max})")]
    BadLength { len: usize, min: usize, max: usize },
}

/// Walks complete records at the front of a receive buffer.
///
/// Usage: read socket bytes into a buffer, call [`Deframer::next_record`] until it returns
/// `Ok(None)`, then drop the consumed prefix (`consumed()`) from the buffer. A record split
/// across reads simply stays in the buffer until the rest arrives.
#[derive(Debug)]
pub struct Deframer<'a> {
    buf: &'a [u8],
    pos: usize,
    max: usize,
}

impl<'a> Deframer<'a> {
    /// `max` is the largest record length accepted.
    pub fn new(buf: &'a [u8], max: usize) -> Self {
        Deframer { buf, pos: 0, max }
    }

    /// The next complete record, `Ok(None)` when the rest of the buffer holds no complete record.
    pub fn next_record(&mut self) -> Result<Option<&'a [u8]>, FramingError> {
        let rest = &self.buf[self.pos..];
        let Some(header) = rest.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([header[0], header[1]]));
        if len == 0 {
            return Err(FramingError::Empty);
        }
        if len > self.max {
            return Err(FramingError::Oversize { len, max: self.max });
        }
        let Some(record) = rest.get(HEADER_LEN..HEADER_LEN + len) else {
            return Ok(None);
        };
        self.pos += HEADER_LEN + len;
        Ok(Some(record))
    }

    /// Bytes taken by the complete records returned so far.
    pub fn consumed(&self) -> usize {
        self.pos
    }
}

/// Reserves a record of `len` bytes at the end of `out` and returns its payload area for the
/// caller to fill. `min..=max` are the lengths the peer accepts.
pub fn reserve_record(
    out: &mut BytesMut,
    len: usize,
    min: usize,
    max: usize,
) -> Result<&mut [u8], EncodeError> {
    if len < min.max(1) || len > max || len > usize::from(u16::MAX) {
        return Err(EncodeError::BadLength { len, min, max });
    }
    out.reserve(HEADER_LEN + len);
    out.put_u16(len as u16);
    let start = out.len();
    out.resize(start + len, 0);
    Ok(&mut out[start..])
}

/// Appends `payload` as one record to `out`.
pub fn encode_into(
    out: &mut BytesMut,
    payload: &[u8],
    min: usize,
    max: usize,
) -> Result<(), EncodeError> {
    reserve_record(out, payload.len(), min, max)?.copy_from_slice(payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(buf: &[u8], max: usize) -> (Vec<Vec<u8>>, usize, Option<FramingError>) {
        let mut d = Deframer::new(buf, max);
        let mut out = Vec::new();
        loop {
            match d.next_record() {
                Ok(Some(r)) => out.push(r.to_vec()),
                Ok(None) => return (out, d.consumed(), None),
                Err(e) => return (out, d.consumed(), Some(e)),
            }
        }
    }

    #[test]
    fn many_records_in_one_read() {
        let buf = [0, 3, 1, 2, 3, 0, 1, 9, 0, 2, 7, 7];
        let (recs, used, err) = records(&buf, 2000);
        assert_eq!(recs, vec![vec![1, 2, 3], vec![9], vec![7, 7]]);
        assert_eq!(used, buf.len());
        assert_eq!(err, None);
    }

    #[test]
    fn record_split_across_reads_waits_for_the_rest() {
        let whole = [0u8, 4, 0xa, 0xb, 0xc, 0xd];
        for cut in 0..whole.len() {
            let (recs, used, err) = records(&whole[..cut], 2000);
            assert!(recs.is_empty(), "cut {cut}");
            assert_eq!(used, 0);
            assert_eq!(err, None);
        }
        let (recs, used, _) = records(&whole, 2000);
        assert_eq!(recs, vec![vec![0xa, 0xb, 0xc, 0xd]]);
        assert_eq!(used, 6);
    }

    #[test]
    fn complete_records_before_a_partial_one_are_returned() {
        let buf = [0, 1, 5, 0, 3, 1];
        let (recs, used, err) = records(&buf, 2000);
        assert_eq!(recs, vec![vec![5]]);
        assert_eq!(used, 3);
        assert_eq!(err, None);
    }

    #[test]
    fn zero_length_is_an_error() {
        let (recs, used, err) = records(&[0, 1, 5, 0, 0, 1, 2], 2000);
        assert_eq!(recs, vec![vec![5]]);
        assert_eq!(used, 3);
        assert_eq!(err, Some(FramingError::Empty));
    }

    #[test]
    fn oversize_is_an_error_even_before_the_body_arrives() {
        // 2001 = 0x07d1: only the header is here, the error must not wait for 2001 bytes.
        let (_, _, err) = records(&[0x07, 0xd1], 2000);
        assert_eq!(
            err,
            Some(FramingError::Oversize {
                len: 2001,
                max: 2000
            })
        );
        let mut exact = vec![0x07, 0xd0];
        exact.extend(std::iter::repeat_n(0xee, 2000));
        let (recs, _, err) = records(&exact, 2000);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].len(), 2000);
        assert_eq!(err, None);
    }

    #[test]
    fn encode_writes_big_endian_length_and_payload() {
        let mut out = BytesMut::new();
        encode_into(&mut out, &[0xaa; 14], 14, 2000).unwrap();
        encode_into(&mut out, &[0xbb; 300], 14, 2000).unwrap();
        assert_eq!(&out[..2], &[0, 14]);
        assert_eq!(&out[16..18], &[0x01, 0x2c]);
        assert_eq!(out.len(), 2 + 14 + 2 + 300);
        let (recs, used, _) = records(&out, 2000);
        assert_eq!(recs, vec![vec![0xaa; 14], vec![0xbb; 300]]);
        assert_eq!(used, out.len());
    }

    #[test]
    fn encode_refuses_empty_runt_and_oversize_records() {
        let mut out = BytesMut::new();
        let bad = |len| EncodeError::BadLength {
            len,
            min: 14,
            max: 2000,
        };
        assert_eq!(encode_into(&mut out, &[], 14, 2000), Err(bad(0)));
        assert_eq!(encode_into(&mut out, &[0; 13], 14, 2000), Err(bad(13)));
        assert_eq!(encode_into(&mut out, &[0; 2001], 14, 2000), Err(bad(2001)));
        assert!(out.is_empty(), "nothing written for refused records");
        // A minimum of 0 still refuses an empty record.
        assert!(encode_into(&mut out, &[], 0, 2000).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u32 = 0x1234_5678;
        let mut buf = Vec::new();
        for _ in 0..2000 {
            buf.clear();
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let n = (x % 64) as usize;
            for i in 0..n {
                buf.push((x >> (i % 24)) as u8);
            }
            let (_, used, _) = records(&buf, 40);
            assert!(used <= buf.len());
        }
    }
}
