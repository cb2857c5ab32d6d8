//! A scripted host on the server's Ethernet LAN, speaking the simpletun record stream.
//!
//! It parses frames by hand (fixed offsets from RFC 894/826/791), independently of tapclient's
//! own `ether` code, so the tests are not circular: it answers ARP for its address, and it
//! "reflects" IPv4 packets sent to its MAC (source and destination addresses swapped — the IP
//! checksum stays valid under the swap) back to the sender.

#![allow(dead_code)]

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const PEER_MAC: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01];
pub const PEER_IP: [u8; 4] = [10, 98, 0, 1];
pub const CLIENT_IP: [u8; 4] = [10, 98, 0, 2];

/// What the peer saw on one connection.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Gratuitous ARPs (sender IP == target IP) from the client: (sender MAC, IP).
    pub gratuitous: Vec<([u8; 6], [u8; 4])>,
    /// ARP requests for our address.
    pub arp_requests_for_us: usize,
    /// The client's answer to our ARP request for its address.
    pub client_mac_from_reply: Option<[u8; 6]>,
    /// IPv4 packets reflected.
    pub reflected: usize,
    /// Records of a bad size (len 0, < 14, > 2000).
    pub bad_records: usize,
}

pub async fn read_record<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match s.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut frame = vec![0; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut frame).await?;
    Ok(Some(frame))
}

pub async fn write_record<S: AsyncWrite + Unpin>(s: &mut S, frame: &[u8]) -> std::io::Result<()> {
    let mut rec = Vec::with_capacity(frame.len() + 2);
    rec.extend_from_slice(&(frame.len() as u16).to_be_bytes());
    rec.extend_from_slice(frame);
    s.write_all(&rec).await?;
    s.flush().await
}

/// An ARP frame (request: op 1, reply: op 2), 42 bytes, unpadded like a Linux TAP's.
pub fn arp(
    op: u16,
    dst: [u8; 6],
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa);
    f
}

/// Asks for the client's MAC, as a server-side `ping 10.98.0.2` would.
pub fn who_has_client() -> Vec<u8> {
    arp(1, [0xff; 6], PEER_MAC, PEER_IP, [0; 6], CLIENT_IP)
}

/// Handles one frame from the client; returns the frames to send back.
pub fn respond(frame: &[u8], seen: &mut Seen) -> Vec<Vec<u8>> {
    if frame.len() < 14 || frame.len() > 2000 {
        seen.bad_records += 1;
        return vec![];
    }
    let src: [u8; 6] = frame[6..12].try_into().unwrap();
    match [frame[12], frame[13]] {
        [0x08, 0x06] if frame.len() >= 42 => {
            let op = u16::from_be_bytes([frame[20], frame[21]]);
            let spa: [u8; 4] = frame[28..32].try_into().unwrap();
            let tpa: [u8; 4] = frame[38..42].try_into().unwrap();
            if op == 1 && spa == tpa {
                seen.gratuitous
                    .push((frame[22..28].try_into().unwrap(), spa));
                vec![]
            } else if op == 1 && tpa == PEER_IP {
                seen.arp_requests_for_us += 1;
                vec![arp(2, src, PEER_MAC, PEER_IP, src, spa)]
            } else if op == 2 && tpa == PEER_IP {
                seen.client_mac_from_reply = Some(frame[22..28].try_into().unwrap());
                vec![]
            } else {
                vec![]
            }
        }
        [0x08, 0x00] if frame[0..6] == PEER_MAC && frame.len() >= 34 => {
            seen.reflected += 1;
            let mut out = frame.to_vec();
            out[0..6].copy_from_slice(&src);
            out[6..12].copy_from_slice(&PEER_MAC);
            let (a, b) = (26, 30);
            for i in 0..4 {
                out.swap(a + i, b + i);
            }
            vec![out]
        }
        _ => vec![],
    }
}

/// Serves one connection until the client hangs up or `frames_to_reflect` packets have been
/// reflected (then returns, closing the connection). Sends `who_has_client()` first.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    frames_to_reflect: usize,
) -> std::io::Result<Seen> {
    let mut seen = Seen::default();
    write_record(&mut s, &who_has_client()).await?;
    while let Some(frame) = read_record(&mut s).await? {
        for reply in respond(&frame, &mut seen) {
            write_record(&mut s, &reply).await?;
        }
        if seen.reflected >= frames_to_reflect && seen.client_mac_from_reply.is_some() {
            break;
        }
    }
    Ok(seen)
}

/// A UDP/IPv4 packet from the client to the peer with a valid header checksum.
pub fn udp_packet(payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&CLIENT_IP);
    p[16..20].copy_from_slice(&PEER_IP);
    let sum = checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p[20..22].copy_from_slice(&40000u16.to_be_bytes());
    p[22..24].copy_from_slice(&7u16.to_be_bytes());
    p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p[28..].copy_from_slice(payload);
    p
}

pub fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in header.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `packet` with source and destination addresses swapped: what the peer reflects.
pub fn reflected(packet: &[u8]) -> Vec<u8> {
    let mut p = packet.to_vec();
    for i in 0..4 {
        p.swap(12 + i, 16 + i);
    }
    p
}
