//! A [`Snapshot`] rendered at one moment: the JSON document of the status socket (serde), the
//! aligned text of `tapclient status`, and the counter summary line of the log.
//!
//! Ages (state, key, last disconnect) are computed when the report is made, so the reader
//! needs no clock. Unknown fields are ignored and missing ones take defaults, so a `tapclient
//! status` of another version can still read what a running client sends.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{Snapshot, Stamp, State};

/// The version of the JSON document; bumped when a field changes meaning.
pub const FORMAT: u32 = 1;

/// The status of a running client (the JSON document on the socket).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub format: u32,
    pub pid: u32,
    pub config: Option<String>,
    pub uptime_secs: u64,
    pub state: State,
    /// Unix time the state was entered, and how long ago.
    pub state_since_unix: u64,
    pub state_secs: u64,
    /// Why the state was entered (reconnecting: the loss or the failed attempt).
    pub state_reason: Option<String>,
    pub remote: Option<String>,
    /// 1-based position of `remote` among `remote_count` configured remotes.
    pub remote_index: usize,
    pub remote_count: usize,
    pub server_ip: Option<String>,
    pub tun: Option<String>,
    pub address: Option<String>,
    pub gateway: Option<String>,
    pub mac: Option<String>,
    pub connects: u64,
    pub reconnects: u64,
    pub last_disconnect: Option<Disconnect>,
    /// Bytes and records (length-prefixed packets) on the server connection.
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub records_in: u64,
    pub records_out: u64,
    /// IP packets delivered to and taken from the TUN.
    pub packets_to_tun: u64,
    pub packets_from_tun: u64,
    pub arp_requests_sent: u64,
    pub arp_replies_sent: u64,
    pub arp_requests_received: u64,
    pub arp_replies_received: u64,
    /// Every non-zero drop reason by name (bridge and driver).
    pub drops: BTreeMap<String, u64>,
    /// OpenVPN only.
    pub data_channel: Option<DataKeyReport>,
}

/// When and why the last connection (or attempt) ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Disconnect {
    pub unix: u64,
    pub secs_ago: u64,
    pub reason: String,
}

/// The OpenVPN data channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataKeyReport {
    /// `None` while no key is installed (not up).
    pub cipher: Option<String>,
    pub key_id: Option<u8>,
    pub key_age_secs: Option<u64>,
    pub renegotiations: u64,
}

/// The driver's own drop counters, by the names reports use.
fn link_drops(snap: &Snapshot) -> [(&'static str, u64); 4] {
    let link = &snap.link;
    [
        // TUN packets read while no tunnel was up.
        ("no_tunnel", link.dropped_link_down),
        // Packets from the server the link refused (authentication, replay, malformed).
        ("server_packet_rejected", link.packets_rejected),
        // Frames not sent because they break the peer's record limits.
        ("frame_refused", link.frames_refused),
        // Packets the TUN did not take.
        ("tun_write_failed", link.tun_write_errors),
    ]
}

impl Report {
    /// `snap` as seen at `now`.
    pub fn new(snap: &Snapshot, now: &Stamp) -> Report {
        let ether = snap.ether.clone().unwrap_or_default();
        let mut drops = BTreeMap::new();
        let bridge_drops = ether.drops().map(|(reason, n)| (reason.name(), n));
        for (name, n) in bridge_drops.chain(link_drops(snap)) {
            if n > 0 {
                drops.insert(name.to_owned(), n);
            }
        }
        let remote = snap.remote.as_ref();
        Report {
            format: FORMAT,
            pid: std::process::id(),
            config: snap.config.as_ref().map(|p| p.display().to_string()),
            uptime_secs: snap.started.until(now).as_secs(),
            state: snap.state,
            state_since_unix: snap.state_since.unix_secs(),
            state_secs: snap.state_since.until(now).as_secs(),
            state_reason: snap.state_reason.clone(),
            remote: remote.map(|r| r.name.clone()),
            remote_index: remote.map_or(0, |r| r.index + 1),
            remote_count: remote.map_or(0, |r| r.count),
            server_ip: snap.server_ip.map(|ip| ip.to_string()),
            tun: snap.tun.clone(),
            address: snap.address.map(|a| a.to_string()),
            gateway: snap.gateway.map(|g| g.to_string()),
            mac: snap.mac.map(|m| m.to_string()),
            connects: snap.connects,
            reconnects: snap.reconnects,
            last_disconnect: snap.last_disconnect.as_ref().map(|(at, why)| Disconnect {
                unix: at.unix_secs(),
                secs_ago: at.until(now).as_secs(),
                reason: why.clone(),
            }),
            bytes_in: snap.link.bytes_in,
            bytes_out: snap.link.bytes_out,
            records_in: snap.link.records_in,
            records_out: snap.link.records_out,
            packets_to_tun: ether.packets_to_tun,
            packets_from_tun: ether.packets_from_tun,
            arp_requests_sent: ether.arp_requests_sent,
            arp_replies_sent: ether.arp_replies_sent,
            arp_requests_received: ether.arp_requests_received,
            arp_replies_received: ether.arp_replies_received,
            drops,
            data_channel: snap.openvpn.then(|| {
                let key = snap.data_key.as_ref();
                DataKeyReport {
                    cipher: key.map(|k| k.cipher.clone()),
                    key_id: key.map(|k| k.key_id),
                    key_age_secs: key.map(|k| k.since.until(now).as_secs()),
                    renegotiations: snap.renegotiations,
                }
            }),
        }
    }

    /// The JSON document (pretty-printed, one trailing newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            serde_json::json!({ "error": format!("cannot render the status: {e}") }).to_string()
        });
        text.push('\n');
        text
    }

    /// One line of counters for the log: traffic both ways and every non-zero drop by name.
    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "connects={} reconnects={} from_server={} records/{} bytes \
             to_server={} records/{} bytes to_tun={} from_tun={} arp_replies_sent={}",
            self.connects,
            self.reconnects,
            self.records_in,
            self.bytes_in,
            self.records_out,
            self.bytes_out,
            self.packets_to_tun,
            self.packets_from_tun,
            self.arp_replies_sent,
        );
        if let Some(dc) = &self.data_channel {
            let _ = write!(line, " renegotiations={}", dc.renegotiations);
        }
        for (reason, n) in &self.drops {
            let _ = write!(line, " drop_{reason}={n}");
        }
        line
    }

    /// Aligned `key: value` lines for people (`tapclient status`).
    pub fn to_text(&self) -> String {
        let mut rows: Vec<(&str, String)> = Vec::new();
        let mut process = format!(
            "pid {}, running for {}",
            self.pid,
            human_duration(self.uptime_secs)
        );
        if let Some(config) = &self.config {
            let _ = write!(process, ", config {config}");
        }
        rows.push(("tapclient", process));
        rows.push(("state", self.state_text()));
        if let Some(remote) = self.remote_text() {
            rows.push(("server", remote));
        }
        rows.push(("interface", self.interface_text()));
        rows.push(("connections", self.connections_text()));
        if let Some(d) = &self.last_disconnect {
            let ago = human_duration(d.secs_ago);
            rows.push(("last disconnect", format!("{ago} ago: {}", d.reason)));
        }
        if let Some(dc) = &self.data_channel {
            rows.push(("data channel", data_channel_text(dc)));
        }
        rows.push(("from server", traffic(self.bytes_in, self.records_in)));
        rows.push(("to server", traffic(self.bytes_out, self.records_out)));
        rows.push(("to tun", format!("{} packets", self.packets_to_tun)));
        rows.push(("from tun", format!("{} packets", self.packets_from_tun)));
        rows.push(("arp", self.arp_text()));
        rows.push(("drops", self.drops_text()));
        align(&rows)
    }

    fn state_text(&self) -> String {
        let mut text = format!("{} for {}", self.state, human_duration(self.state_secs));
        if let Some(reason) = &self.state_reason {
            let _ = write!(text, " ({reason})");
        }
        text
    }

    fn remote_text(&self) -> Option<String> {
        let mut text = self.remote.clone()?;
        if let Some(ip) = &self.server_ip {
            let _ = write!(text, " ({ip})");
        }
        if self.remote_count > 1 {
            let _ = write!(
                text,
                ", remote {} of {}",
                self.remote_index, self.remote_count
            );
        }
        Some(text)
    }

    fn interface_text(&self) -> String {
        let mut parts = vec![self.tun.clone().unwrap_or_else(|| "(not open)".into())];
        match &self.address {
            Some(address) => parts.push(address.clone()),
            None => parts.push("no address yet".into()),
        }
        if let Some(gateway) = &self.gateway {
            parts.push(format!("gateway {gateway}"));
        }
        if let Some(mac) = &self.mac {
            parts.push(format!("mac {mac}"));
        }
        parts.join(", ")
    }

    fn connections_text(&self) -> String {
        format!("{} ({} reconnects)", self.connects, self.reconnects)
    }

    fn arp_text(&self) -> String {
        format!(
            "{} requests and {} replies sent, {} requests and {} replies received",
            self.arp_requests_sent,
            self.arp_replies_sent,
            self.arp_requests_received,
            self.arp_replies_received
        )
    }

    fn drops_text(&self) -> String {
        if self.drops.is_empty() {
            return "none".into();
        }
        let parts: Vec<String> = self.drops.iter().map(|(r, n)| format!("{r} {n}")).collect();
        parts.join(", ")
    }
}

fn data_channel_text(dc: &DataKeyReport) -> String {
    let mut text = match (&dc.cipher, dc.key_id) {
        (Some(cipher), Some(key_id)) => {
            let age = dc.key_age_secs.map_or("?".into(), human_duration);
            format!("{cipher}, key_id {key_id}, key age {age}")
        }
        _ => "no key (not up)".into(),
    };
    let _ = write!(text, ", {} renegotiations", dc.renegotiations);
    text
}

fn traffic(bytes: u64, records: u64) -> String {
    format!("{} in {records} records", human_bytes(bytes))
}

/// `key: value` lines with the values in one column.
fn align(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (key, value) in rows {
        let _ = writeln!(out, "{:<width$} {value}", format!("{key}:"));
    }
    out
}

/// `1536` → `1.5 KiB`; exact below 1 KiB.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let decimals = if value < 10.0 { 2 } else { 1 };
    format!("{value:.decimals$} {}", UNITS[unit])
}

/// `125` → `2m 05s`; the two largest units.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ether::{Counters, DropReason};

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.50 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024 / 2), "2.50 GiB");
        assert_eq!(human_bytes(200 * 1024 * 1024), "200.0 MiB");
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(59), "59s");
        assert_eq!(human_duration(125), "2m 05s");
        assert_eq!(human_duration(3 * 3600 + 7 * 60 + 9), "3h 07m");
        assert_eq!(human_duration(2 * 86400 + 5 * 3600), "2d 05h");
    }

    fn snapshot() -> Snapshot {
        let mut snap = Snapshot::new(Stamp::now());
        snap.state = State::Up;
        snap.connects = 2;
        snap.reconnects = 1;
        snap.link.bytes_in = 3 * 1024 * 1024;
        snap.link.records_in = 2100;
        snap.link.dropped_link_down = 4;
        let mut ether = Counters::default();
        ether.packets_to_tun = 2000;
        ether.drop_n(DropReason::Ipv6, 7);
        snap.ether = Some(ether);
        snap.tun = Some("tun0".into());
        snap
    }

    #[test]
    fn drops_name_every_nonzero_reason_from_both_layers() {
        let report = Report::new(&snapshot(), &Stamp::now());
        let drops: Vec<_> = report.drops.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(drops, [("ipv6", 7), ("no_tunnel", 4)]);
        let line = report.summary_line();
        assert!(
            line.starts_with("connects=2 reconnects=1 from_server=2100 records/3145728 bytes"),
            "{line}"
        );
        assert!(line.ends_with(" drop_ipv6=7 drop_no_tunnel=4"), "{line}");
        assert!(
            !line.contains("renegotiations"),
            "simpletun has no data channel: {line}"
        );
    }

    #[test]
    fn text_is_aligned_and_json_round_trips() {
        let report = Report::new(&snapshot(), &Stamp::now());
        let text = report.to_text();
        let starts: Vec<usize> = text
            .lines()
            .map(|l| {
                let colon = l.find(':').unwrap();
                colon + 1 + l[colon + 1..].len() - l[colon + 1..].trim_start().len()
            })
            .collect();
        assert!(
            starts.windows(2).all(|w| w[0] == w[1]),
            "values in one column:\n{text}"
        );
        assert!(text.contains("state:"), "{text}");
        assert!(text.contains("3.00 MiB in 2100 records"), "{text}");
        assert!(
            text.contains("drops:") && text.contains("ipv6 7, no_tunnel 4"),
            "{text}"
        );
        let back: Report = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn a_report_from_another_version_still_reads() {
        let report: Report =
            serde_json::from_str(r#"{"state": "up", "connects": 3, "future_field": [1, 2]}"#)
                .unwrap();
        assert_eq!(report.state, State::Up);
        assert_eq!(report.connects, 3);
        assert!(report.to_text().contains("connections:"));
    }
}
