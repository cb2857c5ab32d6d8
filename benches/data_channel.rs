//! Data-channel seal/open throughput per cipher and packet size (a scripted harness, no
//! criterion): `cargo bench --bench data_channel [-- FILTER]`.
//!
//! For each cipher (the CBC ones with each `auth` digest) and frame size, a client channel seals
//! a batch of frames into reused buffers (timed: "seal"), then a server channel opens them in
//! place (timed: "open"); batches repeat until about `BENCH_MS` (default 300) ms of each were
//! measured. Prints ns per packet and MB/s of frame bytes. Numbers move with the machine's load;
//! compare rows of one run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tapclient::openvpn::data::{
    DataChannel, DataCipher, DataConfig, Decrypted, KeyMaterial, MAX_OVERHEAD,
};
use tapclient::openvpn::wrap::AuthDigest;

/// Packets per timed batch.
const BATCH: usize = 256;
/// Frame sizes: a small ACK-sized frame, a mid-size one, and full 1500-MTU Ethernet frames.
const SIZES: [usize; 4] = [64, 512, 1280, 1514];

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let budget = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300),
    );
    let mut suites: Vec<(DataCipher, AuthDigest)> = DataCipher::DEFAULT
        .into_iter()
        .map(|cipher| (cipher, AuthDigest::Sha1))
        .collect();
    for cipher in [DataCipher::Aes128Cbc, DataCipher::Aes256Cbc] {
        for auth in [AuthDigest::Sha1, AuthDigest::Sha256, AuthDigest::Sha512] {
            suites.push((cipher, auth));
        }
    }
    println!(
        "{:<26} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "cipher", "bytes", "seal ns", "seal MB/s", "open ns", "open MB/s"
    );
    for (cipher, auth) in suites {
        let name = if cipher.is_aead() {
            cipher.name().to_owned()
        } else {
            format!("{cipher}/{auth:?}")
        };
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        for size in SIZES {
            let (seal, open) = measure(cipher, auth, size, budget);
            let mb = |ns: f64| size as f64 / ns * 1e3;
            println!(
                "{name:<26} {size:>6} {seal:>10.0} {:>10.0} {open:>10.0} {:>10.0}",
                mb(seal),
                mb(open)
            );
        }
    }
}

/// Mean ns per packet to seal and to open `size`-byte frames.
fn measure(cipher: DataCipher, auth: AuthDigest, size: usize, budget: Duration) -> (f64, f64) {
    let block: [u8; 256] = std::array::from_fn(|i| (i as u8).wrapping_mul(29) ^ 0x5A);
    let keys = KeyMaterial::from_key_block(&block);
    let server_keys = KeyMaterial {
        encrypt: keys.decrypt,
        decrypt: keys.encrypt,
    };
    let config = DataConfig {
        peer_id: Some(0),
        auth,
        ..DataConfig::default()
    };
    let frame: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let mut packets = vec![vec![0u8; size + MAX_OVERHEAD]; BATCH];
    let mut lens = [0usize; BATCH];
    let (mut seal_time, mut open_time, mut count) = (Duration::ZERO, Duration::ZERO, 0u64);
    let now = Instant::now();
    while seal_time < budget || open_time < budget {
        // Fresh keys per batch so the receive window never refuses a packet as too old.
        let mut client = DataChannel::new(config).unwrap();
        let mut server = DataChannel::new(config).unwrap();
        client.install(0, cipher, &keys, now).unwrap();
        server.install(0, cipher, &server_keys, now).unwrap();
        let start = Instant::now();
        for (packet, len) in packets.iter_mut().zip(lens.iter_mut()) {
            *len = client.encrypt_frame(&frame, packet).unwrap();
        }
        seal_time += start.elapsed();
        let start = Instant::now();
        for (packet, &len) in packets.iter_mut().zip(lens.iter()) {
            match server.decrypt_in_place(&mut packet[..len], now) {
                Ok(Decrypted::Frame(payload)) => {
                    black_box(payload);
                }
                other => panic!("{cipher}: {other:?}"),
            }
        }
        open_time += start.elapsed();
        count += BATCH as u64;
    }
    let per = |t: Duration| t.as_nanos() as f64 / count as f64;
    (per(seal_time), per(open_time))
}
