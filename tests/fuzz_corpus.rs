//! The fuzz targets without the fuzzer: every entry function of `tapclient::fuzzing` runs over
//! each seed in `fuzz/corpus/<target>/` and over deterministic mutations of those seeds
//! (bit flips, interesting bytes, insertions, deletions, splices), so CI exercises each parser
//! on odd input even where cargo-fuzz and nightly are not installed. A failure names the target
//! and the input in hex; save it as a file in the corpus and run `cargo fuzz run <target>
//! <file>` (see `fuzz/README.md`) to debug it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Mutated inputs per target, on top of the seeds themselves.
const MUTATIONS: usize = 3000;

/// A deterministic xorshift generator (the same sequence on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// The seed files of `target`, sorted by name so the mutations are reproducible.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    assert!(!seeds.is_empty(), "{} holds no seeds", dir.display());
    seeds
}

/// Bytes that make parsers take their edge branches.
const INTERESTING: [u8; 10] = [0x00, 0x01, 0x02, 0x06, 0x08, 0x7f, 0x80, 0xfe, 0xff, b','];

/// One to four random edits of a seed, sometimes spliced with another seed.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if at < data.len() => data[at] ^= 1 << rng.below(8),
            1 if at < data.len() => data[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 if at < data.len() => data[at] = rng.next() as u8,
            3 => data.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            4 => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            5 => data.truncate(at),
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                let len = rng.below(other.len() - from + 1);
                data.splice(at..at, other[from..from + len].iter().copied());
            }
        }
    }
    data
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `entry` on every seed of `target` and on [`MUTATIONS`] mutations of them.
fn run(target: &str, entry: fn(&[u8])) {
    let seeds = seeds(target);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.len() as u64);
    let mutated = (0..MUTATIONS).map(|_| mutate(&mut rng, &seeds));
    for (index, input) in seeds.clone().into_iter().chain(mutated).enumerate() {
        if catch_unwind(AssertUnwindSafe(|| entry(&input))).is_err() {
            panic!(
                "fuzz target `{target}` panicked on input #{index} ({} bytes): {}",
                input.len(),
                hex(&input)
            );
        }
    }
}

#[test]
fn framing() {
    run("framing", tapclient::fuzzing::framing);
}

#[test]
fn ether_frame() {
    run("ether_frame", tapclient::fuzzing::ether_frame);
}

#[test]
fn arp() {
    run("arp", tapclient::fuzzing::arp);
}

#[test]
fn ethernet() {
    run("ethernet", tapclient::fuzzing::ethernet);
}

#[test]
fn openvpn_control() {
    run("openvpn_control", tapclient::fuzzing::openvpn_control);
}

#[test]
fn openvpn_unwrap() {
    run("openvpn_unwrap", tapclient::fuzzing::openvpn_unwrap);
}

#[test]
fn openvpn_keymethod() {
    run("openvpn_keymethod", tapclient::fuzzing::openvpn_keymethod);
}

#[test]
fn openvpn_push() {
    run("openvpn_push", tapclient::fuzzing::openvpn_push);
}

#[test]
fn openvpn_data() {
    run("openvpn_data", tapclient::fuzzing::openvpn_data);
}

#[test]
fn config() {
    run("config", tapclient::fuzzing::config);
}

/// Every fuzz target has a corpus test above and a corpus directory, and nothing else lies in
/// `fuzz/corpus/` (a new target needs both, a removed one neither).
#[test]
fn every_target_has_a_corpus() {
    const TARGETS: [&str; 10] = [
        "arp",
        "config",
        "ether_frame",
        "ethernet",
        "framing",
        "openvpn_control",
        "openvpn_data",
        "openvpn_keymethod",
        "openvpn_push",
        "openvpn_unwrap",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut dirs: Vec<String> = std::fs::read_dir(root.join("corpus"))
        .expect("fuzz/corpus exists")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    dirs.sort();
    assert_eq!(dirs, TARGETS);
    for target in TARGETS {
        let source = root.join("fuzz_targets").join(format!("{target}.rs"));
        let text = std::fs::read_to_string(&source).expect("a fuzz target per corpus");
        assert!(
            text.contains(&format!("tapclient::fuzzing::{target}(")),
            "{target}"
        );
    }
}
