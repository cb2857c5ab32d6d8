//! The control channel's reliability layer (§1.5–§1.7; `reliable.c`, `ssl.c`), sans-IO.
//!
//! One [`Reliable`] per key state (key_id): message ids restart at 0 for each. It does not know
//! session ids, key ids or wrapping — the session engine builds the [`ControlRepr`] around what
//! [`Reliable::poll_transmit`] returns and checks session ids before feeding packets in.
//!
//! - Send side ([`ReliableSend`]): numbers messages 0, 1, 2, … (the hard/soft reset is 0), keeps
//!   at most [`SEND_WINDOW`] unacknowledged, retransmits each after 2 s, doubling up to
//!   [`MAX_RTO`], and early after [`FAST_RETRANSMIT_ACKS`] ACKs for later ids. ACKs are not
//!   cumulative: each names one id.
//! - Receive side ([`ReliableRecv`]): accepts ids less than [`RECV_WINDOW`] ahead of the next
//!   expected one, drops duplicates, delivers strictly in id order, and ACKs every id it
//!   accepted or had already seen (also replays below the next expected id). Ids beyond the
//!   window are neither stored nor ACKed: the peer retransmits them later.
//!
//! Calling contract, after each received control packet and after queueing new messages:
//! 1. [`Reliable::handle`] with every authentic, parsed packet of this key (ACKs and message);
//! 2. [`Reliable::pop`] until `None`, feeding payloads to TLS (or handling a reset);
//! 3. [`ReliableSend::push`] for new outgoing messages while it has room;
//! 4. [`Reliable::poll_transmit`] until `None`, emitting each as a control packet (it piggybacks
//!    up to 4 pending ACKs and produces `P_ACK_V1` packets for ACKs nothing else carried);
//! 5. sleep until [`Reliable::poll_timeout`], then go to 4.
//!
//! Storage is bounded ([`SEND_WINDOW`] + [`RECV_WINDOW`] buffers of up to [`MAX_PAYLOAD`]
//! bytes) and reused; the clock is never read.

use std::time::{Duration, Instant};

use super::wire::{AckList, ControlRepr, Opcode, MAX_ACKS};

/// Unacknowledged packets in flight (`TLS_RELIABLE_N_SEND_BUFFERS`).
pub const SEND_WINDOW: usize = 6;
/// How far ahead of the next expected id a packet is accepted (`TLS_RELIABLE_N_REC_BUFFERS`).
pub const RECV_WINDOW: usize = 12;
/// Largest message payload stored (`TLS_CHANNEL_BUF_SIZE`).
pub const MAX_PAYLOAD: usize = 2048;
/// First retransmission timeout (`tls-timeout`).
pub const INITIAL_RTO: Duration = Duration::from_secs(2);
/// The doubling retransmission timeout stops growing here (well inside `hand-window` 60 s).
pub const MAX_RTO: Duration = Duration::from_secs(16);
/// ACKs for later ids after which an older packet is retransmitted early (`N_ACK_RETRANSMIT`).
pub const FAST_RETRANSMIT_ACKS: u8 = 3;
/// ACKs piggybacked on a packet that carries a message (`CONTROL_SEND_ACK_MAX`).
pub const ACKS_PER_MESSAGE: usize = 4;
/// ACKs on a dedicated `P_ACK_V1` (`RELIABLE_ACK_SIZE`).
pub const ACKS_PER_ACK_PACKET: usize = MAX_ACKS;
/// ACKs remembered until sent; more only arise if the caller never polls (oldest dropped).
const PENDING_ACKS: usize = 2 * RECV_WINDOW;

/// Why a message could not be queued. Back-pressure or a caller bug, never the peer's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("send window full: {SEND_WINDOW} control packets await acknowledgement")]
    WindowFull,
    #[error("control message of {len} bytes exceeds the {MAX_PAYLOAD}-byte limit")]
    PayloadTooLarge { len: usize },
    #[error("opcode {0:?} does not carry a reliable message")]
    NotReliable(Opcode),
    #[error("message ids of this key are used up; renegotiate")]
    IdsExhausted,
}

/// What [`ReliableRecv::handle`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Stored for in-order delivery; ACK queued.
    New,
    /// Already stored or already delivered; ACK queued again, payload dropped.
    Duplicate,
    /// Too far ahead of the next expected id; dropped without ACK.
    OutOfWindow,
    /// Above [`MAX_PAYLOAD`]; dropped without ACK.
    TooLarge,
}

/// A message to put on the wire now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing<'a> {
    pub opcode: Opcode,
    /// `None` exactly for `P_ACK_V1`.
    pub message_id: Option<u32>,
    pub acks: AckList,
    pub payload: &'a [u8],
}

/// A message delivered in id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered<'a> {
    pub opcode: Opcode,
    pub message_id: u32,
    pub payload: &'a [u8],
}

/// Both directions of one key state's reliability layer.
#[derive(Debug, Default)]
pub struct Reliable {
    pub send: ReliableSend,
    pub recv: ReliableRecv,
}

impl Reliable {
    pub fn new() -> Reliable {
        Reliable::default()
    }

    /// Forgets all state (new key state), keeping the buffers.
    pub fn reset(&mut self) {
        self.send.reset();
        self.recv.reset();
    }

    /// Takes the ACKs of an incoming packet and, if it carries one, its message. Returns what
    /// happened to the message (`None` for `P_ACK_V1`).
    pub fn handle(&mut self, packet: &ControlRepr<'_>) -> Option<Received> {
        self.send.handle_acks(packet.acks.as_slice());
        let id = packet.message_id?;
        Some(self.recv.handle(packet.opcode, id, packet.payload))
    }

    /// The next in-order message, see [`ReliableRecv::pop`].
    pub fn pop(&mut self) -> Option<Delivered<'_>> {
        self.recv.pop()
    }

    /// The next packet to send: a due (re)transmission with up to [`ACKS_PER_MESSAGE`] pending
    /// ACKs, else a `P_ACK_V1` with up to [`ACKS_PER_ACK_PACKET`], else `None`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing<'_>> {
        if let Some((opcode, id, payload)) = self.send.poll_transmit(now) {
            return Some(Outgoing {
                opcode,
                message_id: Some(id),
                acks: self.recv.take_acks(ACKS_PER_MESSAGE),
                payload,
            });
        }
        if !self.recv.has_pending_acks() {
            return None;
        }
        Some(Outgoing {
            opcode: Opcode::AckV1,
            message_id: None,
            acks: self.recv.take_acks(ACKS_PER_ACK_PACKET),
            payload: &[],
        })
    }

    /// When [`Self::poll_transmit`] next has something (ACKs never wait: they go out on the
    /// next poll).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.send.poll_timeout()
    }
}

/// An unacknowledged message.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    opcode: Opcode,
    message_id: u32,
    /// When it is (re)sent next; `sent_at` for a new or fast-retransmit packet.
    deadline: Instant,
    /// When it was last sent (pushed, for a new one).
    sent_at: Instant,
    /// Timeout to arm at the next transmission.
    rto: Duration,
    later_acks: u8,
}

#[derive(Debug, Default)]
struct SendSlot {
    in_flight: Option<InFlight>,
    payload: Vec<u8>,
}

/// The send side: numbering, window, retransmission timers.
#[derive(Debug)]
pub struct ReliableSend {
    slots: [SendSlot; SEND_WINDOW],
    /// The id of the next pushed message (u64: the u32 space ending is an error, not a wrap).
    next_id: u64,
}

impl Default for ReliableSend {
    fn default() -> Self {
        ReliableSend {
            slots: std::array::from_fn(|_| SendSlot::default()),
            next_id: 0,
        }
    }
}

impl ReliableSend {
    /// Queues a message for (immediate) transmission and returns its message id.
    pub fn push(&mut self, now: Instant, opcode: Opcode, payload: &[u8]) -> Result<u32, SendError> {
        if !opcode.has_message_id() {
            return Err(SendError::NotReliable(opcode));
        }
        if payload.len() > MAX_PAYLOAD {
            return Err(SendError::PayloadTooLarge { len: payload.len() });
        }
        let message_id = u32::try_from(self.next_id).map_err(|_| SendError::IdsExhausted)?;
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.in_flight.is_none())
            .ok_or(SendError::WindowFull)?;
        slot.payload.clear();
        slot.payload.extend_from_slice(payload);
        slot.in_flight = Some(InFlight {
            opcode,
            message_id,
            deadline: now,
            sent_at: now,
            rto: INITIAL_RTO,
            later_acks: 0,
        });
        self.next_id += 1;
        Ok(message_id)
    }

    /// Free places in the send window.
    pub fn room(&self) -> usize {
        self.slots.iter().filter(|s| s.in_flight.is_none()).count()
    }

    /// Messages awaiting acknowledgement.
    pub fn in_flight(&self) -> usize {
        SEND_WINDOW - self.room()
    }

    /// Releases the acknowledged messages; ids we do not hold (re-ACKs, stale) are ignored.
    /// Returns how many messages were released.
    pub fn handle_acks(&mut self, ids: &[u32]) -> usize {
        let mut released = 0;
        for &id in ids {
            let Some(slot) = self.slots.iter_mut().find(|s| held_id(s) == Some(id)) else {
                continue;
            };
            slot.in_flight = None;
            released += 1;
            for older in self.slots.iter_mut().filter_map(|s| s.in_flight.as_mut()) {
                if older.message_id < id {
                    older.later_acks = older.later_acks.saturating_add(1);
                    if older.later_acks >= FAST_RETRANSMIT_ACKS {
                        older.deadline = older.sent_at;
                    }
                }
            }
        }
        released
    }

    /// The lowest-id message due at `now` (new, timed out or fast-retransmit), marked as sent:
    /// its timer is re-armed with the doubled timeout.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(Opcode, u32, &[u8])> {
        let slot = self
            .slots
            .iter_mut()
            .filter(|s| s.in_flight.is_some_and(|f| f.deadline <= now))
            .min_by_key(|s| held_id(s))?;
        let f = slot.in_flight.as_mut()?;
        f.deadline = now + f.rto;
        f.sent_at = now;
        f.rto = (f.rto * 2).min(MAX_RTO);
        f.later_acks = 0;
        Some((f.opcode, f.message_id, &slot.payload))
    }

    /// The earliest instant a message is due; in the past (or `now`) if one is due already.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| s.in_flight)
            .map(|f| f.deadline)
            .min()
    }

    /// Drops everything in flight and restarts the ids at 0.
    pub fn reset(&mut self) {
        self.slots.iter_mut().for_each(|s| s.in_flight = None);
        self.next_id = 0;
    }
}

fn held_id(slot: &SendSlot) -> Option<u32> {
    slot.in_flight.map(|f| f.message_id)
}

#[derive(Debug)]
struct RecvSlot {
    filled: bool,
    opcode: Opcode,
    payload: Vec<u8>,
}

/// The receive side: reordering buffer, duplicate suppression, ACK bookkeeping.
#[derive(Debug)]
pub struct ReliableRecv {
    /// Slot `id % RECV_WINDOW` holds id `id` for ids in `next..next + RECV_WINDOW`.
    slots: [RecvSlot; RECV_WINDOW],
    /// The next id to deliver (u64 so that it never overflows).
    next: u64,
    pending: [u32; PENDING_ACKS],
    pending_len: usize,
}

impl Default for ReliableRecv {
    fn default() -> Self {
        ReliableRecv {
            slots: std::array::from_fn(|_| RecvSlot {
                filled: false,
                opcode: Opcode::ControlV1,
                payload: Vec::new(),
            }),
            next: 0,
            pending: [0; PENDING_ACKS],
            pending_len: 0,
        }
    }
}

impl ReliableRecv {
    /// Takes message `id`; see [`Received`] for what is ACKed.
    pub fn handle(&mut self, opcode: Opcode, id: u32, payload: &[u8]) -> Received {
        let Some(offset) = u64::from(id).checked_sub(self.next) else {
            self.queue_ack(id);
            return Received::Duplicate;
        };
        if offset >= RECV_WINDOW as u64 {
            return Received::OutOfWindow;
        }
        if payload.len() > MAX_PAYLOAD {
            return Received::TooLarge;
        }
        self.queue_ack(id);
        let slot = &mut self.slots[id as usize % RECV_WINDOW];
        if slot.filled {
            return Received::Duplicate;
        }
        slot.filled = true;
        slot.opcode = opcode;
        slot.payload.clear();
        slot.payload.extend_from_slice(payload);
        Received::New
    }

    /// The next message in id order, if it has arrived.
    pub fn pop(&mut self) -> Option<Delivered<'_>> {
        let message_id = u32::try_from(self.next).ok()?;
        let slot = &mut self.slots[message_id as usize % RECV_WINDOW];
        if !slot.filled {
            return None;
        }
        slot.filled = false;
        self.next += 1;
        Some(Delivered {
            opcode: slot.opcode,
            message_id,
            payload: &slot.payload,
        })
    }

    /// The id expected next (everything below it has been delivered).
    pub fn next_expected(&self) -> u64 {
        self.next
    }

    pub fn has_pending_acks(&self) -> bool {
        self.pending_len > 0
    }

    /// Up to `max` (at most 8) pending ACKs, oldest first, removed from the pending set.
    pub fn take_acks(&mut self, max: usize) -> AckList {
        let n = max.min(MAX_ACKS).min(self.pending_len);
        let list = AckList::from_slice(&self.pending[..n]).unwrap_or_default();
        self.pending.copy_within(n..self.pending_len, 0);
        self.pending_len -= n;
        list
    }

    /// Forgets all messages and ACKs and expects id 0 next, keeping the buffers.
    pub fn reset(&mut self) {
        self.slots.iter_mut().for_each(|s| s.filled = false);
        self.next = 0;
        self.pending_len = 0;
    }

    fn queue_ack(&mut self, id: u32) {
        if self.pending[..self.pending_len].contains(&id) {
            return;
        }
        if self.pending_len == PENDING_ACKS {
            self.pending.copy_within(1.., 0);
            self.pending_len -= 1;
        }
        self.pending[self.pending_len] = id;
        self.pending_len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openvpn::wire::{KeyId, SessionId};
    use crate::testutil::{at, t0};

    const CTRL: Opcode = Opcode::ControlV1;

    /// An owned copy of an [`Outgoing`], as it would travel.
    #[derive(Debug, Clone, PartialEq)]
    struct Packet {
        opcode: Opcode,
        message_id: Option<u32>,
        acks: Vec<u32>,
        payload: Vec<u8>,
    }

    fn owned(o: Outgoing<'_>) -> Packet {
        Packet {
            opcode: o.opcode,
            message_id: o.message_id,
            acks: o.acks.as_slice().to_vec(),
            payload: o.payload.to_vec(),
        }
    }

    fn feed(r: &mut Reliable, p: &Packet) -> Option<Received> {
        let acks = AckList::from_slice(&p.acks).unwrap();
        r.handle(&ControlRepr {
            opcode: p.opcode,
            key_id: KeyId::ZERO,
            session_id: SessionId([1; 8]),
            acks,
            remote_session_id: (!acks.is_empty()).then_some(SessionId([2; 8])),
            message_id: p.message_id,
            payload: &p.payload,
        })
    }

    fn drain(r: &mut Reliable, now: Instant) -> Vec<Packet> {
        std::iter::from_fn(|| r.poll_transmit(now).map(owned)).collect()
    }

    fn ids(packets: &[Packet]) -> Vec<Option<u32>> {
        packets.iter().map(|p| p.message_id).collect()
    }

    #[test]
    fn ids_from_zero_and_a_window_of_six() {
        let mut r = Reliable::new();
        let now = t0();
        for n in 0..6 {
            assert_eq!(r.send.push(now, CTRL, &[n as u8]), Ok(n));
        }
        assert_eq!(r.send.push(now, CTRL, b"x"), Err(SendError::WindowFull));
        assert_eq!(
            ids(&drain(&mut r, now)),
            (0..6).map(Some).collect::<Vec<_>>()
        );
        assert_eq!(
            r.send.handle_acks(&[3, 3, 99]),
            1,
            "re-ACKs and unknown ids ignored"
        );
        assert_eq!(r.send.push(now, CTRL, b"x"), Ok(6));
        assert_eq!(r.send.in_flight(), 6);
        assert_eq!(
            r.send.push(now, Opcode::AckV1, b""),
            Err(SendError::NotReliable(Opcode::AckV1))
        );
        assert_eq!(
            r.send.push(now, CTRL, &[0; MAX_PAYLOAD + 1]),
            Err(SendError::PayloadTooLarge {
                len: MAX_PAYLOAD + 1
            })
        );
        r.reset();
        assert_eq!(
            r.send.push(now, Opcode::SoftResetV1, b""),
            Ok(0),
            "new key: ids restart"
        );
        r.send.next_id = u64::from(u32::MAX) + 1;
        assert_eq!(r.send.push(now, CTRL, b""), Err(SendError::IdsExhausted));
    }

    #[test]
    fn retransmits_after_2s_doubling_up_to_the_cap() {
        let mut r = Reliable::new();
        let t = t0();
        r.send.push(t, Opcode::HardResetClientV2, b"").unwrap();
        assert_eq!(r.poll_timeout(), Some(t), "new packets are due at once");
        let mut sent_at = Vec::new();
        let mut now = t;
        while now < at(t, 70_000) {
            if let Some(p) = r.poll_transmit(now) {
                assert_eq!(
                    (p.opcode, p.message_id),
                    (Opcode::HardResetClientV2, Some(0))
                );
                sent_at.push(now.duration_since(t).as_millis());
                assert!(
                    r.poll_transmit(now).is_none(),
                    "one transmission per deadline"
                );
            }
            now = r.poll_timeout().unwrap();
        }
        assert_eq!(sent_at, [0, 2_000, 6_000, 14_000, 30_000, 46_000, 62_000]);
        assert!(r.poll_transmit(at(t, 62_000 + 15_999)).is_none());
        r.send.handle_acks(&[0]);
        assert_eq!(r.poll_timeout(), None, "nothing left to retransmit");
    }

    #[test]
    fn three_later_acks_trigger_a_fast_retransmit() {
        let mut r = Reliable::new();
        let t = t0();
        for _ in 0..5 {
            r.send.push(t, CTRL, b"m").unwrap();
        }
        assert_eq!(drain(&mut r, t).len(), 5);
        let now = at(t, 100);
        r.send.handle_acks(&[2]);
        r.send.handle_acks(&[3]);
        assert!(
            r.poll_transmit(now).is_none(),
            "two later ACKs are not enough"
        );
        assert_eq!(r.poll_timeout(), Some(at(t, 2_000)));
        r.send.handle_acks(&[4]);
        assert_eq!(r.poll_timeout(), Some(t), "due immediately");
        assert_eq!(ids(&drain(&mut r, now)), [Some(0), Some(1)]);
        assert_eq!(r.poll_timeout(), Some(at(now, 4_000)));
    }

    #[test]
    fn receive_reorders_deduplicates_and_acks() {
        let mut r = ReliableRecv::default();
        assert_eq!(r.handle(CTRL, 2, b"c"), Received::New);
        assert_eq!(r.handle(CTRL, 1, b"b"), Received::New);
        assert!(r.pop().is_none(), "0 is missing");
        assert_eq!(r.handle(CTRL, 1, b"B"), Received::Duplicate);
        assert_eq!(r.handle(Opcode::HardResetServerV2, 0, b""), Received::New);
        let first = r.pop().unwrap();
        assert_eq!(
            (first.opcode, first.message_id),
            (Opcode::HardResetServerV2, 0)
        );
        assert_eq!(
            r.pop().unwrap().payload,
            b"b",
            "the duplicate did not overwrite"
        );
        assert_eq!(r.pop().unwrap().payload, b"c");
        assert!(r.pop().is_none());
        assert_eq!(r.next_expected(), 3);
        assert_eq!(r.take_acks(8).as_slice(), &[2, 1, 0], "each id once");
        assert!(!r.has_pending_acks());
        // A replay below the next expected id is ACKed again, not delivered.
        assert_eq!(r.handle(CTRL, 0, b"x"), Received::Duplicate);
        assert!(r.pop().is_none());
        assert_eq!(r.take_acks(8).as_slice(), &[0]);
        // Window: next is 3, so 3..=14 fit and 15 does not (and is not ACKed).
        assert_eq!(r.handle(CTRL, 15, b"far"), Received::OutOfWindow);
        assert_eq!(r.handle(CTRL, 14, b"edge"), Received::New);
        assert_eq!(
            r.handle(CTRL, 13, &[0; MAX_PAYLOAD + 1]),
            Received::TooLarge
        );
        assert_eq!(r.take_acks(8).as_slice(), &[14]);
        r.reset();
        assert_eq!(r.handle(CTRL, 14, b""), Received::OutOfWindow);
        assert_eq!(r.handle(CTRL, 0, b"new key"), Received::New);
        assert_eq!(r.pop().unwrap().payload, b"new key");
    }

    #[test]
    fn ack_limits_piggyback_four_and_ack_packets_carry_eight() {
        let mut r = Reliable::new();
        let now = t0();
        for id in 0..10 {
            r.recv.handle(CTRL, id, b"m");
        }
        r.send.push(now, CTRL, b"tls").unwrap();
        let out = drain(&mut r, now);
        let shape: Vec<_> = out.iter().map(|p| (p.opcode, p.acks.clone())).collect();
        assert_eq!(
            shape,
            [
                (CTRL, vec![0, 1, 2, 3]),
                (Opcode::AckV1, vec![4, 5, 6, 7, 8, 9]),
            ]
        );
        assert!(out[1].message_id.is_none() && out[1].payload.is_empty());
        for id in 0..10 {
            assert_eq!(r.recv.handle(CTRL, id, b"dup"), Received::Duplicate);
        }
        let acks: Vec<_> = drain(&mut r, now).iter().map(|p| p.acks.len()).collect();
        assert_eq!(acks, [8, 2], "duplicates ACKed again, 8 per P_ACK_V1");
        assert!(r.poll_transmit(now).is_none(), "no spurious ACK packets");
    }

    #[test]
    fn pending_acks_stay_bounded() {
        let mut r = ReliableRecv::default();
        for id in 0..100u32 {
            r.handle(CTRL, id % 12, b"");
            r.handle(CTRL, 1000 + id, b""); // out of window: never ACKed
            if id % 12 == 11 {
                while r.pop().is_some() {}
            }
        }
        let mut all = Vec::new();
        while r.has_pending_acks() {
            all.extend_from_slice(r.take_acks(8).as_slice());
        }
        assert!(all.len() <= PENDING_ACKS && !all.is_empty());
        assert!(all.iter().all(|&id| id < 12));
    }

    /// Two endpoints exchanging messages over a lossy, duplicating, reordering link with a
    /// simulated clock. Returns the simulated time everything took.
    fn simulate(seed: u64, loss: u64, dup: u64, messages: usize) -> Duration {
        let mut rng = seed | 1;
        let mut rand = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let t = t0();
        let mut ends = [Reliable::new(), Reliable::new()];
        let outbox: [Vec<Vec<u8>>; 2] = std::array::from_fn(|side| {
            (0..messages)
                .map(|i| vec![side as u8; 1 + i * 37 % 1200])
                .collect()
        });
        let mut queued = [0usize; 2];
        let mut got: [Vec<Vec<u8>>; 2] = Default::default();
        // (arrival ms, destination, packet)
        let mut link: Vec<(u64, usize, Packet)> = Vec::new();
        let mut now_ms = 0u64;
        loop {
            let now = at(t, now_ms);
            link.sort_by_key(|(arrival, ..)| *arrival);
            while link.first().is_some_and(|(arrival, ..)| *arrival <= now_ms) {
                let (_, to, packet) = link.remove(0);
                feed(&mut ends[to], &packet);
                while let Some(d) = ends[to].pop() {
                    assert_eq!(d.opcode, CTRL);
                    got[to].push(d.payload.to_vec());
                }
            }
            for side in 0..2 {
                while queued[side] < messages && ends[side].send.room() > 0 {
                    ends[side]
                        .send
                        .push(now, CTRL, &outbox[side][queued[side]])
                        .unwrap();
                    queued[side] += 1;
                }
                for packet in drain(&mut ends[side], now) {
                    let limit = match packet.opcode {
                        Opcode::AckV1 => ACKS_PER_ACK_PACKET,
                        _ => ACKS_PER_MESSAGE,
                    };
                    assert!(packet.acks.len() <= limit);
                    let copies = if rand(100) < dup { 2 } else { 1 };
                    for _ in 0..copies {
                        if rand(100) >= loss {
                            link.push((now_ms + rand(300), 1 - side, packet.clone()));
                        }
                    }
                }
            }
            let done = (0..2).all(|s| got[s].len() == messages && ends[s].send.in_flight() == 0);
            if done && link.is_empty() {
                assert_eq!(got[0], outbox[1], "seed {seed}");
                assert_eq!(got[1], outbox[0], "seed {seed}");
                return Duration::from_millis(now_ms);
            }
            let timers = ends.iter().filter_map(|e| e.poll_timeout());
            let next = timers
                .map(|i| i.duration_since(t).as_millis() as u64)
                .chain(link.iter().map(|(arrival, ..)| *arrival))
                .min()
                .expect("something is pending while not done");
            now_ms = next.max(now_ms);
            assert!(
                now_ms < 3_600_000,
                "seed {seed}: no progress within an hour"
            );
        }
    }

    #[test]
    fn delivers_everything_in_order_over_a_perfect_link() {
        assert!(simulate(7, 0, 0, 50) < Duration::from_secs(10));
    }

    #[test]
    fn delivers_everything_in_order_under_loss_duplication_and_reordering() {
        for seed in 1..40 {
            simulate(seed, 25, 20, 30);
        }
        simulate(99, 50, 50, 20);
    }

    #[test]
    fn fuzz_random_traffic_never_panics() {
        let mut x: u64 = 0x0123_4567_89ab_cdef;
        let mut r = Reliable::new();
        let t = t0();
        let mut delivered = 0u64;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let now = at(t, step * 50);
            let acks: Vec<u32> = (0..x % 9).map(|i| ((x >> (i * 5)) % 16) as u32).collect();
            let packet = Packet {
                opcode: if x & 1 == 0 { CTRL } else { Opcode::AckV1 },
                message_id: (x & 1 == 0).then_some(((x >> 40) % 20) as u32 + delivered as u32),
                acks,
                payload: vec![0; (x >> 48) as usize % 64],
            };
            feed(&mut r, &packet);
            while r.pop().is_some() {
                delivered += 1;
            }
            if x % 3 == 0 {
                let _ = r.send.push(now, CTRL, b"out");
            }
            for p in drain(&mut r, now) {
                assert!(p.acks.len() <= MAX_ACKS);
            }
            assert!(r.send.in_flight() <= SEND_WINDOW);
        }
        assert!(
            delivered > 1_000,
            "the generator reached delivery: {delivered}"
        );
    }
}
