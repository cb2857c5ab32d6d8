//! OpenVPN packet headers: the opcode/key_id byte and the plain control packet (§1.2–§1.6).
//!
//! Owns the byte layout only; it knows nothing of tls-auth/tls-crypt (see [`super::wrap`], which
//! turns a wrapped packet back into this plain layout before anything parses it) nor of
//! reliability (see [`super::reliable`]). Layout of a plain control packet (`ssl_pkt.h`,
//! `reliable.c`):
//!
//! ```text
//! opcode<<3|key_id (1) | own session id (8) | n (1) | n × acked message id (u32 BE)
//! | remote session id (8, only if n > 0) | message id (u32 BE, absent in P_ACK_V1) | payload
//! ```
//!
//! [`ControlPacket`] is the checked view (once `new_checked` passed, no accessor can panic);
//! [`ControlRepr`] the high-level form with `parse`/`buffer_len`/`emit`. Parse errors
//! ([`WireError`]) are always blamed on the input; emit errors ([`EmitError`]) on the caller.

use std::fmt;

/// Bytes of a session id (`session_id.h`).
pub const SESSION_ID_LEN: usize = 8;
/// Most acknowledgements a packet may carry; a receiver rejects more (`RELIABLE_ACK_SIZE`).
pub const MAX_ACKS: usize = 8;
/// Opcode byte, own session id and ACK count: the shortest possible control packet.
pub const MIN_LEN: usize = 1 + SESSION_ID_LEN + 1;

/// The 5-bit opcode of the first byte (§1.2). Code points we do not know are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    HardResetClientV1,
    HardResetServerV1,
    SoftResetV1,
    ControlV1,
    AckV1,
    DataV1,
    HardResetClientV2,
    HardResetServerV2,
    DataV2,
    HardResetClientV3,
    ControlWkcV1,
    /// Any other 5-bit value.
    Unknown(u8),
}

impl Opcode {
    /// The opcode in the high 5 bits of `byte0`.
    pub fn from_byte0(byte0: u8) -> Opcode {
        match byte0 >> 3 {
            1 => Opcode::HardResetClientV1,
            2 => Opcode::HardResetServerV1,
            3 => Opcode::SoftResetV1,
            4 => Opcode::ControlV1,
            5 => Opcode::AckV1,
            6 => Opcode::DataV1,
            7 => Opcode::HardResetClientV2,
            8 => Opcode::HardResetServerV2,
            9 => Opcode::DataV2,
            10 => Opcode::HardResetClientV3,
            11 => Opcode::ControlWkcV1,
            other => Opcode::Unknown(other),
        }
    }

    /// The 5-bit code point; `None` for an `Unknown` value that does not fit 5 bits.
    pub fn value(self) -> Option<u8> {
        let v = match self {
            Opcode::HardResetClientV1 => 1,
            Opcode::HardResetServerV1 => 2,
            Opcode::SoftResetV1 => 3,
            Opcode::ControlV1 => 4,
            Opcode::AckV1 => 5,
            Opcode::DataV1 => 6,
            Opcode::HardResetClientV2 => 7,
            Opcode::HardResetServerV2 => 8,
            Opcode::DataV2 => 9,
            Opcode::HardResetClientV3 => 10,
            Opcode::ControlWkcV1 => 11,
            Opcode::Unknown(v) => v,
        };
        (v < 32).then_some(v)
    }

    /// Packets with the control layout of this module (everything but data and unknown opcodes).
    pub fn is_control(self) -> bool {
        !matches!(self, Opcode::DataV1 | Opcode::DataV2 | Opcode::Unknown(_))
    }

    /// Whether the packet carries a message id (every control opcode except `P_ACK_V1`).
    pub fn has_message_id(self) -> bool {
        self.is_control() && self != Opcode::AckV1
    }
}

/// A key generation, 0..=7: the low 3 bits of the first byte. 0 is the first session's key;
/// renegotiations use 1..=7 and wrap 7 → 1 (§0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct KeyId(u8);

impl KeyId {
    pub const ZERO: KeyId = KeyId(0);

    /// `Some` for 0..=7.
    pub fn new(id: u8) -> Option<KeyId> {
        (id < 8).then_some(KeyId(id))
    }

    /// The key id in the low 3 bits of `byte0`.
    pub fn from_byte0(byte0: u8) -> KeyId {
        KeyId(byte0 & 0x07)
    }

    pub fn value(self) -> u8 {
        self.0
    }

    /// The key id of the next renegotiation: 0 → 1 → … → 7 → 1.
    pub fn next(self) -> KeyId {
        KeyId(if self.0 >= 7 { 1 } else { self.0 + 1 })
    }
}

/// The first byte of a packet: `opcode << 3 | key_id`; `None` for an opcode above 5 bits.
pub fn byte0(opcode: Opcode, key_id: KeyId) -> Option<u8> {
    Some((opcode.value()? << 3) | key_id.0)
}

/// A 64-bit session id, chosen at random by each side once per connection (§1.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionId(pub [u8; SESSION_ID_LEN]);

impl SessionId {
    /// Stock peers never use the all-zero id.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; SESSION_ID_LEN]
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// Up to [`MAX_ACKS`] acknowledged message ids, in wire order. Fixed size, never allocates.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct AckList {
    ids: [u32; MAX_ACKS],
    len: u8,
}

impl AckList {
    pub fn new() -> AckList {
        AckList::default()
    }

    /// `None` if `ids` holds more than [`MAX_ACKS`] entries.
    pub fn from_slice(ids: &[u32]) -> Option<AckList> {
        let mut list = AckList::new();
        ids.iter().try_for_each(|&id| list.push(id).ok())?;
        Some(list)
    }

    /// Appends `id`; gives it back when the list is full.
    pub fn push(&mut self, id: u32) -> Result<(), u32> {
        let slot = self.ids.get_mut(usize::from(self.len)).ok_or(id)?;
        *slot = id;
        self.len += 1;
        Ok(())
    }

    pub fn as_slice(&self) -> &[u32] {
        &self.ids[..usize::from(self.len)]
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, id: u32) -> bool {
        self.as_slice().contains(&id)
    }
}

impl fmt::Debug for AckList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// Why bytes are not a valid plain control packet. Always blamed on the input (drop, count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated control packet: {needed} bytes needed, {got} present")]
    Truncated { needed: usize, got: usize },
    #[error("opcode {0:?} does not have the control packet layout")]
    NotControl(Opcode),
    #[error("control packet lists {0} ACKs, more than the 8 allowed")]
    TooManyAcks(u8),
    #[error("P_ACK_V1 followed by {0} unexpected bytes")]
    TrailingBytes(usize),
}

/// Why a [`ControlRepr`] could not be written. A caller bug: the packet is never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error("output buffer of {got} bytes is shorter than the {needed}-byte packet")]
    BufferTooShort { needed: usize, got: usize },
    #[error("opcode {0:?} is not a control opcode")]
    NotControl(Opcode),
    #[error("message id must be present exactly when the opcode is not P_ACK_V1")]
    MessageIdMismatch,
    #[error("remote session id must be present exactly when ACKs are")]
    RemoteSessionMismatch,
    #[error("P_ACK_V1 cannot carry a payload")]
    AckWithPayload,
}

/// Offsets of the variable fields, computed once by [`ControlPacket::new_checked`].
#[derive(Debug, Clone, Copy)]
struct Layout {
    acks: usize,
    /// Offset of the message id, or of the payload when there is none.
    after_acks: usize,
    payload: usize,
}

const ACKS_AT: usize = MIN_LEN;

/// A read view of a plain control packet whose fields all lie inside the buffer.
#[derive(Debug, Clone, Copy)]
pub struct ControlPacket<T: AsRef<[u8]>> {
    buffer: T,
    layout: Layout,
}

impl<T: AsRef<[u8]>> ControlPacket<T> {
    /// Checks the opcode, the ACK count and that every field the layout implies is present.
    /// A `P_ACK_V1` must end after its ACK block; other opcodes carry any payload.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let buf = buffer.as_ref();
        check_len(buf, MIN_LEN)?;
        let opcode = Opcode::from_byte0(buf[0]);
        if !opcode.is_control() {
            return Err(WireError::NotControl(opcode));
        }
        let n = buf[MIN_LEN - 1];
        if usize::from(n) > MAX_ACKS {
            return Err(WireError::TooManyAcks(n));
        }
        let acks = usize::from(n);
        let remote = if acks > 0 { SESSION_ID_LEN } else { 0 };
        let after_acks = ACKS_AT + 4 * acks + remote;
        let payload = after_acks + if opcode.has_message_id() { 4 } else { 0 };
        check_len(buf, payload)?;
        if opcode == Opcode::AckV1 && buf.len() > payload {
            return Err(WireError::TrailingBytes(buf.len() - payload));
        }
        let layout = Layout {
            acks,
            after_acks,
            payload,
        };
        Ok(ControlPacket { buffer, layout })
    }

    pub fn opcode(&self) -> Opcode {
        Opcode::from_byte0(self.bytes()[0])
    }

    pub fn key_id(&self) -> KeyId {
        KeyId::from_byte0(self.bytes()[0])
    }

    pub fn session_id(&self) -> SessionId {
        read_session_id(self.bytes(), 1)
    }

    /// The acknowledged message ids, in wire order.
    pub fn acks(&self) -> AckList {
        let mut list = AckList::new();
        for i in 0..self.layout.acks {
            let _ = list.push(read_u32(self.bytes(), ACKS_AT + 4 * i));
        }
        list
    }

    /// The peer's idea of our session id; present iff the packet carries ACKs.
    pub fn remote_session_id(&self) -> Option<SessionId> {
        let at = ACKS_AT + 4 * self.layout.acks;
        (self.layout.acks > 0).then(|| read_session_id(self.bytes(), at))
    }

    /// The reliability-layer message id; `None` for `P_ACK_V1`.
    pub fn message_id(&self) -> Option<u32> {
        let at = self.layout.after_acks;
        (self.layout.payload > at).then(|| read_u32(self.bytes(), at))
    }

    pub fn payload(&self) -> &[u8] {
        self.bytes().get(self.layout.payload..).unwrap_or_default()
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The high-level form of a plain control packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlRepr<'a> {
    pub opcode: Opcode,
    pub key_id: KeyId,
    /// The sender's own session id.
    pub session_id: SessionId,
    pub acks: AckList,
    /// The receiver's session id; present iff `acks` is non-empty.
    pub remote_session_id: Option<SessionId>,
    /// Absent for `P_ACK_V1`, present for every other control opcode.
    pub message_id: Option<u32>,
    pub payload: &'a [u8],
}

impl<'a> ControlRepr<'a> {
    /// Parses a plain control packet (after any tls-auth/tls-crypt unwrapping).
    pub fn parse(buf: &'a [u8]) -> Result<ControlRepr<'a>, WireError> {
        let packet = ControlPacket::new_checked(buf)?;
        Ok(ControlRepr {
            opcode: packet.opcode(),
            key_id: packet.key_id(),
            session_id: packet.session_id(),
            acks: packet.acks(),
            remote_session_id: packet.remote_session_id(),
            message_id: packet.message_id(),
            payload: buf.get(packet.layout.payload..).unwrap_or_default(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        let remote = self.remote_session_id.map_or(0, |_| SESSION_ID_LEN);
        let id = self.message_id.map_or(0, |_| 4);
        MIN_LEN + 4 * self.acks.len() + remote + id + self.payload.len()
    }

    /// Writes the packet into the first [`Self::buffer_len`] bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), EmitError> {
        let first = self.check()?;
        let needed = self.buffer_len();
        let got = buf.len();
        let out = buf
            .get_mut(..needed)
            .ok_or(EmitError::BufferTooShort { needed, got })?;
        out[0] = first;
        out[1..MIN_LEN - 1].copy_from_slice(&self.session_id.0);
        out[MIN_LEN - 1] = self.acks.len() as u8;
        let mut at = ACKS_AT;
        for id in self.acks.as_slice() {
            out[at..at + 4].copy_from_slice(&id.to_be_bytes());
            at += 4;
        }
        if let Some(remote) = self.remote_session_id {
            out[at..at + SESSION_ID_LEN].copy_from_slice(&remote.0);
            at += SESSION_ID_LEN;
        }
        if let Some(id) = self.message_id {
            out[at..at + 4].copy_from_slice(&id.to_be_bytes());
            at += 4;
        }
        out[at..].copy_from_slice(self.payload);
        Ok(())
    }

    /// Appends the packet to `out` (which keeps its capacity between packets).
    pub fn emit_to_vec(&self, out: &mut Vec<u8>) -> Result<(), EmitError> {
        self.check()?;
        let start = out.len();
        out.resize(start + self.buffer_len(), 0);
        self.emit(&mut out[start..])
    }

    /// The first byte, once the fields are known to be consistent with the layout.
    fn check(&self) -> Result<u8, EmitError> {
        let first = byte0(self.opcode, self.key_id).ok_or(EmitError::NotControl(self.opcode))?;
        if !self.opcode.is_control() {
            return Err(EmitError::NotControl(self.opcode));
        }
        if self.message_id.is_some() != self.opcode.has_message_id() {
            return Err(EmitError::MessageIdMismatch);
        }
        if self.remote_session_id.is_some() == self.acks.is_empty() {
            return Err(EmitError::RemoteSessionMismatch);
        }
        if self.opcode == Opcode::AckV1 && !self.payload.is_empty() {
            return Err(EmitError::AckWithPayload);
        }
        Ok(first)
    }
}

fn check_len(buf: &[u8], needed: usize) -> Result<(), WireError> {
    if buf.len() < needed {
        return Err(WireError::Truncated {
            needed,
            got: buf.len(),
        });
    }
    Ok(())
}

/// Big-endian u32 at `at`; 0 when out of range (callers check lengths first).
fn read_u32(buf: &[u8], at: usize) -> u32 {
    match buf.get(at..at + 4) {
        Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}

/// The session id at `at`; all-zero when out of range (callers check lengths first).
fn read_session_id(buf: &[u8], at: usize) -> SessionId {
    let mut id = [0u8; SESSION_ID_LEN];
    if let Some(b) = buf.get(at..at + SESSION_ID_LEN) {
        id.copy_from_slice(b);
    }
    SessionId(id)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Hex with any whitespace, for vectors written field by field.
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    fn sid(s: &str) -> SessionId {
        SessionId(hex(s).try_into().unwrap())
    }

    const CLIENT_SID: &str = "bd4c499857ad74bd";
    const SERVER_SID: &str = "899ffb43e91e5cce";
    // §1.3 captures (TCP length prefix omitted).
    const CLIENT_RESET: &str = "38 bd4c499857ad74bd 00 00000000";
    const SERVER_RESET: &str = "40 899ffb43e91e5cce 01 00000000 bd4c499857ad74bd 00000000";
    const CLIENT_ACK: &str = "28 bd4c499857ad74bd 02 00000001 00000000 899ffb43e91e5cce";
    const CLIENT_HELLO_HEAD: &str =
        "20 bd4c499857ad74bd 01 00000000 899ffb43e91e5cce 00000001 160301";

    fn roundtrip(bytes: &[u8]) -> ControlRepr<'_> {
        let repr = ControlRepr::parse(bytes).unwrap();
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut out = Vec::new();
        repr.emit_to_vec(&mut out).unwrap();
        assert_eq!(out, bytes);
        repr
    }

    #[test]
    fn client_hard_reset_capture() {
        let bytes = hex(CLIENT_RESET);
        assert_eq!(bytes.len(), 14);
        let repr = roundtrip(&bytes);
        assert_eq!(repr.opcode, Opcode::HardResetClientV2);
        assert_eq!(repr.key_id, KeyId::ZERO);
        assert_eq!(repr.session_id, sid(CLIENT_SID));
        assert!(repr.acks.is_empty());
        assert_eq!(repr.remote_session_id, None);
        assert_eq!(repr.message_id, Some(0));
        assert!(repr.payload.is_empty());
    }

    #[test]
    fn server_hard_reset_capture() {
        let bytes = hex(SERVER_RESET);
        assert_eq!(bytes.len(), 26);
        let repr = roundtrip(&bytes);
        assert_eq!(repr.opcode, Opcode::HardResetServerV2);
        assert_eq!(repr.session_id, sid(SERVER_SID));
        assert_eq!(repr.acks.as_slice(), &[0]);
        assert_eq!(repr.remote_session_id, Some(sid(CLIENT_SID)));
        assert_eq!(repr.message_id, Some(0));
    }

    #[test]
    fn ack_v1_capture_has_no_message_id() {
        let bytes = hex(CLIENT_ACK);
        assert_eq!(bytes.len(), 26);
        let repr = roundtrip(&bytes);
        assert_eq!(repr.opcode, Opcode::AckV1);
        assert_eq!(repr.acks.as_slice(), &[1, 0]);
        assert_eq!(repr.remote_session_id, Some(sid(SERVER_SID)));
        assert_eq!(repr.message_id, None);
        let packet = ControlPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.message_id(), None);
        assert_eq!(packet.payload(), b"");
    }

    #[test]
    fn control_v1_capture_carries_tls_bytes() {
        let bytes = hex(CLIENT_HELLO_HEAD);
        let repr = roundtrip(&bytes);
        assert_eq!(repr.opcode, Opcode::ControlV1);
        assert_eq!(repr.acks.as_slice(), &[0]);
        assert_eq!(repr.message_id, Some(1));
        assert_eq!(repr.payload, &[0x16, 0x03, 0x01]);
    }

    #[test]
    fn built_repr_emits_the_capture() {
        let repr = ControlRepr {
            opcode: Opcode::HardResetServerV2,
            key_id: KeyId::ZERO,
            session_id: sid(SERVER_SID),
            acks: AckList::from_slice(&[0]).unwrap(),
            remote_session_id: Some(sid(CLIENT_SID)),
            message_id: Some(0),
            payload: b"",
        };
        let mut buf = [0u8; 26];
        repr.emit(&mut buf).unwrap();
        assert_eq!(buf[..], hex(SERVER_RESET)[..]);
        assert_eq!(
            repr.emit(&mut [0u8; 25]),
            Err(EmitError::BufferTooShort {
                needed: 26,
                got: 25
            })
        );
    }

    #[test]
    fn key_id_and_opcode_byte() {
        let mut bytes = hex(CLIENT_RESET);
        bytes[0] = 0x1b; // SOFT_RESET, key_id 3
        let repr = roundtrip(&bytes);
        assert_eq!((repr.opcode, repr.key_id.value()), (Opcode::SoftResetV1, 3));
        assert_eq!(KeyId::new(7).unwrap().next(), KeyId::new(1).unwrap());
        assert_eq!(KeyId::ZERO.next().value(), 1);
        assert_eq!(KeyId::new(8), None);
        for b in 0..=255u8 {
            let op = Opcode::from_byte0(b);
            assert_eq!(byte0(op, KeyId::from_byte0(b)), Some(b));
        }
        assert_eq!(Opcode::from_byte0(0xf8), Opcode::Unknown(31));
        assert_eq!(byte0(Opcode::Unknown(32), KeyId::ZERO), None);
    }

    #[test]
    fn every_truncation_is_an_error() {
        for vector in [CLIENT_RESET, SERVER_RESET, CLIENT_ACK] {
            let bytes = hex(vector);
            for len in 0..bytes.len() {
                assert!(
                    matches!(
                        ControlRepr::parse(&bytes[..len]),
                        Err(WireError::Truncated { .. })
                    ),
                    "{vector} cut at {len}"
                );
            }
        }
    }

    #[test]
    fn more_than_eight_acks_is_rejected() {
        let mut bytes = vec![0x28];
        bytes.extend([0xaa; 8]);
        bytes.push(9);
        bytes.extend([0u8; 4 * 9 + 8]);
        assert_eq!(ControlRepr::parse(&bytes), Err(WireError::TooManyAcks(9)));
        // Eight is the limit and still fine.
        bytes[9] = 8;
        bytes.truncate(10 + 4 * 8 + 8);
        assert_eq!(ControlRepr::parse(&bytes).unwrap().acks.len(), 8);
        assert_eq!(AckList::from_slice(&[0; 9]), None);
    }

    #[test]
    fn ack_v1_rejects_trailing_bytes_others_take_payload() {
        let mut bytes = hex(CLIENT_ACK);
        bytes.push(0);
        assert_eq!(ControlRepr::parse(&bytes), Err(WireError::TrailingBytes(1)));
        let mut reset = hex(SERVER_RESET);
        reset.extend([0, 1, 0, 2, 0, 1]); // an early-negotiation TLV
        assert_eq!(ControlRepr::parse(&reset).unwrap().payload.len(), 6);
    }

    #[test]
    fn data_and_unknown_opcodes_are_not_control() {
        let mut bytes = hex(CLIENT_RESET);
        for (first, op) in [
            (0x30, Opcode::DataV1),
            (0x48, Opcode::DataV2),
            (0x60, Opcode::Unknown(12)),
        ] {
            bytes[0] = first;
            assert_eq!(ControlRepr::parse(&bytes), Err(WireError::NotControl(op)));
        }
    }

    #[test]
    fn inconsistent_reprs_are_refused() {
        let bytes = hex(CLIENT_ACK);
        let good = ControlRepr::parse(&bytes).unwrap();
        let mut out = Vec::new();
        let cases = [
            (
                ControlRepr {
                    message_id: Some(1),
                    ..good
                },
                EmitError::MessageIdMismatch,
            ),
            (
                ControlRepr {
                    remote_session_id: None,
                    ..good
                },
                EmitError::RemoteSessionMismatch,
            ),
            (
                ControlRepr {
                    payload: b"x",
                    ..good
                },
                EmitError::AckWithPayload,
            ),
            (
                ControlRepr {
                    opcode: Opcode::DataV2,
                    ..good
                },
                EmitError::NotControl(Opcode::DataV2),
            ),
            (
                ControlRepr {
                    opcode: Opcode::ControlV1,
                    ..good
                },
                EmitError::MessageIdMismatch,
            ),
        ];
        for (repr, err) in cases {
            assert_eq!(repr.emit_to_vec(&mut out), Err(err));
        }
        assert!(out.is_empty());
    }

    #[test]
    fn debug_formats() {
        assert_eq!(
            format!("{:?}", sid(CLIENT_SID)),
            "SessionId(bd4c499857ad74bd)"
        );
        assert_eq!(
            format!("{:?}", AckList::from_slice(&[1, 0]).unwrap()),
            "[1, 0]"
        );
        assert!(SessionId::default().is_zero() && !sid(CLIENT_SID).is_zero());
    }

    #[test]
    fn fuzz_parse_never_panics_and_reemits_exactly() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut buf = Vec::new();
        let mut parsed = 0;
        for round in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.clear();
            let len = (x % 80) as usize;
            buf.extend((0..len).map(|i| (x >> (i % 56)) as u8));
            if round % 2 == 0 && len > 9 {
                buf[0] = [0x20, 0x28, 0x38, 0x40][(x >> 60) as usize % 4];
                buf[9] = (x >> 20) as u8 % 10;
            }
            if let Ok(repr) = ControlRepr::parse(&buf) {
                parsed += 1;
                let mut out = Vec::new();
                repr.emit_to_vec(&mut out).unwrap();
                assert_eq!(out, buf);
            }
        }
        assert!(parsed > 1000, "the generator reached the parser: {parsed}");
    }
}
