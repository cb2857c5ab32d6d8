//! Compression framing of the data-channel plaintext (§9, `comp.h`, `compstub.c`).
//!
//! This client never compresses; it only speaks the framing the server negotiated, so that the
//! server reads our payloads (and pings) as "not compressed", and it strips the framing from
//! what the server sends. Payloads the server really compressed (LZO, LZ4) are refused with
//! [`DataError::UnsupportedCompression`]; a stock 2.6 server only sends them with
//! `allow-compression yes`. Everything happens in place, without allocation.

use super::error::{CompressionAlgorithm, DataError};

/// `comp-lzo` framing: "not compressed".
const LZO_NONE: u8 = 0xFA;
/// `comp-lzo` framing: LZO1X-compressed remainder.
const LZO_COMPRESSED: u8 = 0x66;
/// `compress` v1 framing: "not compressed", first byte swapped to the end.
const SWAP_NONE: u8 = 0xFB;
/// `compress lz4` v1 framing: LZ4-compressed, swapped.
const SWAP_LZ4: u8 = 0x69;
/// `compress` v2 framing: escape byte; the next byte names the algorithm.
const V2_ESCAPE: u8 = 0x50;
/// v2 algorithm byte: none.
const V2_NONE: u8 = 0x00;
/// v2 algorithm byte: LZ4.
const V2_LZ4: u8 = 0x01;
/// What stock 2.6 actually writes for "none" (an enum value instead of the byte 0; §9).
const V2_NONE_STOCK_BUG: u8 = 0x0A;

/// The compression framing negotiated for this connection (from the pushed options).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// No compression option: the payload is sent as is.
    #[default]
    None,
    /// `comp-lzo` (any mode, including `no`) and `compress lzo`: one `0xFA` byte in front.
    CompLzo,
    /// `compress` (stub) and `compress lz4`: `0xFB` in front, the payload's first byte moved
    /// to the end.
    Stub,
    /// `compress stub-v2` and `compress lz4-v2`: raw, except a payload starting with `0x50`
    /// gets the escape `0x50 0x00` in front.
    StubV2,
}

impl Compression {
    /// The most bytes the framing adds to a payload.
    pub const fn max_overhead(self) -> usize {
        match self {
            Compression::None => 0,
            Compression::CompLzo | Compression::Stub => 1,
            Compression::StubV2 => 2,
        }
    }

    /// Length of the framed concatenation of `parts`.
    pub(crate) fn framed_len(self, parts: &[&[u8]]) -> usize {
        let len = parts
            .iter()
            .fold(0usize, |sum, part| sum.saturating_add(part.len()));
        let first = first_byte(parts);
        match self {
            Compression::None => len,
            Compression::CompLzo | Compression::Stub => len.saturating_add(1),
            Compression::StubV2 if first == Some(V2_ESCAPE) => len.saturating_add(2),
            Compression::StubV2 => len,
        }
    }

    /// Writes the framed concatenation of `parts` to the start of `out`, returning its length.
    /// `out` must hold at least `framed_len` bytes (the caller checked).
    pub(crate) fn frame_into(self, parts: &[&[u8]], out: &mut [u8]) -> usize {
        match self {
            Compression::None => copy_parts(parts, out),
            Compression::CompLzo => {
                out[0] = LZO_NONE;
                1 + copy_parts(parts, &mut out[1..])
            }
            Compression::Stub => {
                let len = copy_parts(parts, out);
                if len > 0 {
                    out[len] = out[0];
                }
                out[0] = SWAP_NONE;
                len + 1
            }
            Compression::StubV2 => {
                if first_byte(parts) == Some(V2_ESCAPE) {
                    out[..2].copy_from_slice(&[V2_ESCAPE, V2_NONE]);
                    2 + copy_parts(parts, &mut out[2..])
                } else {
                    copy_parts(parts, out)
                }
            }
        }
    }

    /// Removes the framing from a decrypted plaintext, in place; returns the payload.
    pub fn unframe(self, plain: &mut [u8]) -> Result<&mut [u8], DataError> {
        match self {
            Compression::None => Ok(plain),
            Compression::CompLzo => match plain.first() {
                Some(&LZO_NONE) => Ok(&mut plain[1..]),
                Some(&LZO_COMPRESSED) => Err(unsupported(CompressionAlgorithm::Lzo)),
                other => Err(bad_byte(other)),
            },
            Compression::Stub => match plain.first() {
                Some(&SWAP_NONE) => {
                    let last = plain.len() - 1;
                    plain[0] = plain[last];
                    Ok(&mut plain[..last])
                }
                Some(&SWAP_LZ4) => Err(unsupported(CompressionAlgorithm::Lz4)),
                other => Err(bad_byte(other)),
            },
            Compression::StubV2 => unframe_v2(plain),
        }
    }
}

fn unframe_v2(plain: &mut [u8]) -> Result<&mut [u8], DataError> {
    if plain.first() != Some(&V2_ESCAPE) {
        return Ok(plain);
    }
    match plain.get(1) {
        Some(&(V2_NONE | V2_NONE_STOCK_BUG)) => Ok(&mut plain[2..]),
        Some(&V2_LZ4) => Err(unsupported(CompressionAlgorithm::Lz4)),
        Some(&other) => Err(DataError::BadCompressionByte(other)),
        None => Err(DataError::TooShort {
            len: plain.len(),
            min: 2,
        }),
    }
}

fn unsupported(algorithm: CompressionAlgorithm) -> DataError {
    DataError::UnsupportedCompression(algorithm)
}

fn bad_byte(byte: Option<&u8>) -> DataError {
    match byte {
        Some(&byte) => DataError::BadCompressionByte(byte),
        None => DataError::TooShort { len: 0, min: 1 },
    }
}

fn first_byte(parts: &[&[u8]]) -> Option<u8> {
    parts.iter().find_map(|part| part.first().copied())
}

fn copy_parts(parts: &[&[u8]], out: &mut [u8]) -> usize {
    let mut at = 0;
    for part in parts {
        out[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 4] = [
        Compression::None,
        Compression::CompLzo,
        Compression::Stub,
        Compression::StubV2,
    ];

    fn frame(compression: Compression, parts: &[&[u8]]) -> Vec<u8> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let framed = compression.framed_len(parts);
        assert!(framed <= len + compression.max_overhead());
        let mut out = vec![0xEE; framed + 3];
        assert_eq!(compression.frame_into(parts, &mut out), framed);
        out.truncate(framed);
        out
    }

    fn unframe(compression: Compression, mut plain: Vec<u8>) -> Result<Vec<u8>, DataError> {
        compression.unframe(&mut plain).map(|p| p.to_vec())
    }

    #[test]
    fn send_framing_matches_the_wire() {
        let payload: &[u8] = &[0x01, 0x02, 0x03];
        assert_eq!(frame(Compression::None, &[payload]), [1, 2, 3]);
        assert_eq!(frame(Compression::CompLzo, &[payload]), [0xFA, 1, 2, 3]);
        assert_eq!(frame(Compression::Stub, &[payload]), [0xFB, 2, 3, 1]);
        assert_eq!(frame(Compression::StubV2, &[payload]), [1, 2, 3]);
        let escaped: &[u8] = &[0x50, 0x00, 0x00];
        assert_eq!(
            frame(Compression::StubV2, &[escaped]),
            [0x50, 0, 0x50, 0, 0]
        );
        // Parts are concatenated, even when the first part is empty.
        assert_eq!(
            frame(Compression::StubV2, &[&[], &[0x50], &[7]]),
            [0x50, 0, 0x50, 7]
        );
        assert_eq!(frame(Compression::Stub, &[&[9], &[8, 7]]), [0xFB, 8, 7, 9]);
        assert_eq!(frame(Compression::Stub, &[]), [0xFB]);
    }

    #[test]
    fn every_framing_round_trips() {
        let payloads: [&[u8]; 6] = [&[], &[0x50], &[0x50, 0x0A], &[0xFA, 1], &[0xFB], &[1, 2, 3]];
        for compression in ALL {
            for payload in payloads {
                let framed = frame(compression, &[payload]);
                assert_eq!(
                    unframe(compression, framed),
                    Ok(payload.to_vec()),
                    "{compression:?} {payload:02x?}"
                );
            }
        }
    }

    #[test]
    fn stock_v2_escape_bug_is_accepted() {
        let framed = vec![0x50, 0x0A, 0x50, 0x00, 0x00];
        assert_eq!(
            unframe(Compression::StubV2, framed),
            Ok(vec![0x50, 0x00, 0x00])
        );
    }

    #[test]
    fn compressed_payloads_are_refused_with_the_algorithm() {
        let lzo = DataError::UnsupportedCompression(CompressionAlgorithm::Lzo);
        let lz4 = DataError::UnsupportedCompression(CompressionAlgorithm::Lz4);
        assert_eq!(unframe(Compression::CompLzo, vec![0x66, 1, 2]), Err(lzo));
        assert_eq!(
            unframe(Compression::Stub, vec![0x69, 1, 2]),
            Err(lz4.clone())
        );
        assert_eq!(unframe(Compression::StubV2, vec![0x50, 0x01, 2]), Err(lz4));
    }

    #[test]
    fn bad_framing_bytes_are_refused() {
        assert_eq!(
            unframe(Compression::CompLzo, vec![0x2A, 1]),
            Err(DataError::BadCompressionByte(0x2A))
        );
        assert_eq!(
            unframe(Compression::Stub, vec![0xFA, 1]),
            Err(DataError::BadCompressionByte(0xFA))
        );
        assert_eq!(
            unframe(Compression::StubV2, vec![0x50, 0x02, 1]),
            Err(DataError::BadCompressionByte(0x02))
        );
        for compression in [Compression::CompLzo, Compression::Stub] {
            assert!(matches!(
                unframe(compression, vec![]),
                Err(DataError::TooShort { .. })
            ));
        }
        assert!(matches!(
            unframe(Compression::StubV2, vec![0x50]),
            Err(DataError::TooShort { .. })
        ));
        assert_eq!(unframe(Compression::None, vec![]), Ok(vec![]));
        assert_eq!(unframe(Compression::StubV2, vec![]), Ok(vec![]));
    }
}
