//! Phase one: the TOML syntax as written, with the position of every value.
//!
//! These types mirror the file one to one (serde, `deny_unknown_fields`), keep every value
//! [`Spanned`] so later errors can name a line, and check nothing beyond TOML types. Phase two
//! (`resolve`) turns them into the typed [`Config`](super::Config).
//!
//! [`KeyIndex`] maps a byte span of the document back to the dotted key it belongs to, because
//! the TOML deserializer reports only a span with its errors.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table of sections")]
pub(super) struct RawConfig {
    pub server: Option<Spanned<RawServer>>,
    pub tls: Option<Spanned<RawTls>>,
    pub tun: Option<Spanned<RawTun>>,
    pub ethernet: Option<Spanned<RawEthernet>>,
    pub ip: Option<Spanned<RawIp>>,
    pub openvpn: Option<Spanned<RawOpenVpn>>,
    pub auth_user_pass: Option<Spanned<RawAuthUserPass>>,
    pub reconnect: Option<Spanned<RawReconnect>>,
    pub status: Option<Spanned<RawStatus>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [server] table")]
pub(super) struct RawServer {
    pub protocol: Option<Spanned<String>>,
    pub remote: Option<Spanned<RawRemotes>>,
    pub connect_timeout: Option<Spanned<Seconds>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [tls] table")]
pub(super) struct RawTls {
    pub ca: Option<Spanned<String>>,
    pub pkcs12: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub verify_name: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [tun] table")]
pub(super) struct RawTun {
    pub name: Option<Spanned<String>>,
    pub mtu: Option<Spanned<Int>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [ethernet] table")]
pub(super) struct RawEthernet {
    pub mac: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [ip] table")]
pub(super) struct RawIp {
    pub address: Option<Spanned<String>>,
    pub gateway: Option<Spanned<String>>,
    pub routes: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [openvpn] table")]
pub(super) struct RawOpenVpn {
    pub tls_auth: Option<Spanned<String>>,
    pub key_direction: Option<Spanned<IntOrText>>,
    pub auth: Option<Spanned<String>>,
    pub tls_crypt: Option<Spanned<String>>,
    pub ciphers: Option<Spanned<Vec<Spanned<String>>>>,
    pub key_derivation: Option<Spanned<String>>,
    pub hand_window: Option<Spanned<Seconds>>,
    pub cipher: Option<Spanned<String>>,
    pub reneg_sec: Option<Spanned<Seconds>>,
    pub ping: Option<Spanned<Seconds>>,
    pub ping_restart: Option<Spanned<Seconds>>,
    pub compress: Option<Spanned<String>>,
    pub route_nopull: Option<Spanned<bool>>,
    pub routes: Option<Spanned<Vec<Spanned<String>>>>,
    pub redirect_gateway: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [auth_user_pass] table")]
pub(super) struct RawAuthUserPass {
    pub file: Option<Spanned<String>>,
    pub username: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [status] table")]
pub(super) struct RawStatus {
    pub socket: Option<Spanned<String>>,
}

/// `server.remote` as written: one address, or a list tried in order.
#[derive(Debug)]
pub(super) enum RawRemotes {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawRemotes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RemotesVisitor;

        impl<'de> Visitor<'de> for RemotesVisitor {
            type Value = RawRemotes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a server address like \"vpn.example.com:1194\", or a list of them")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawRemotes, E> {
                Ok(RawRemotes::One(v.to_owned()))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawRemotes, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    items.push(item);
                }
                Ok(RawRemotes::Many(items))
            }
        }

        deserializer.deserialize_any(RemotesVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [reconnect] table")]
pub(super) struct RawReconnect {
    pub initial_delay: Option<Spanned<Seconds>>,
    pub max_delay: Option<Spanned<Seconds>>,
    pub first_connect_attempts: Option<Spanned<Int>>,
}

/// A duration in seconds as written: a TOML integer or float (range checked later).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Seconds(pub f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecondsVisitor;

        impl Visitor<'_> for SecondsVisitor {
            type Value = Seconds;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds, like 10 or 2.5")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
        }

        deserializer.deserialize_any(SecondsVisitor)
    }
}

/// A TOML integer or string (`key_direction = 1` or `"none"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum IntOrText {
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for IntOrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntOrTextVisitor;

        impl Visitor<'_> for IntOrTextVisitor {
            type Value = IntOrText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrText, E> {
                Ok(IntOrText::Int(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrText, E> {
                Ok(IntOrText::Int(i64::try_from(v).unwrap_or(i64::MAX)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrText, E> {
                Ok(IntOrText::Text(v.to_owned()))
            }
        }

        deserializer.deserialize_any(IntOrTextVisitor)
    }
}

/// A TOML integer, kept wide so range errors can be reported in our words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor;

        impl Visitor<'_> for IntVisitor {
            type Value = Int;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
        }

        deserializer.deserialize_any(IntVisitor)
    }
}

/// Where each key and value of a parsed document sits, by dotted path.
#[derive(Debug, Default)]
pub(super) struct KeyIndex {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    path: String,
    key: Range<usize>,
    value: Range<usize>,
}

impl KeyIndex {
    pub fn build(root: &DeTable<'_>) -> KeyIndex {
        let mut index = KeyIndex::default();
        index.add_table(root, "");
        index
    }

    fn add_table(&mut self, table: &DeTable<'_>, prefix: &str) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.get_ref().to_string()
            } else {
                format!("{prefix}.{}", key.get_ref())
            };
            self.add_value(value.get_ref(), &path);
            self.entries.push(Entry {
                path,
                key: key.span(),
                value: value.span(),
            });
        }
    }

    fn add_value(&mut self, value: &DeValue<'_>, path: &str) {
        match value {
            DeValue::Table(table) => self.add_table(table, path),
            DeValue::Array(items) => {
                for item in items.iter() {
                    self.add_value(item.get_ref(), path);
                }
            }
            _ => {}
        }
    }

    /// The dotted key whose key or value covers `span` (the most nested one), if any.
    pub fn key_at(&self, span: &Range<usize>) -> Option<&str> {
        if let Some(entry) = self.entries.iter().find(|e| e.key == *span) {
            return Some(&entry.path);
        }
        self.entries
            .iter()
            .filter(|e| {
                e.value.start <= span.start && span.start < e.value.end.max(e.value.start + 1)
            })
            .max_by_key(|e| e.path.matches('.').count())
            .map(|e| e.path.as_str())
    }
}

/// The 1-based line of byte `offset` in `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Splits serde's "unknown field `x`, expected one of `a`, `b`" into `x` and `[a, b]`.
///
/// `None` when `message` is not an unknown-field message.
pub(super) fn parse_unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, tail) = rest.split_once('`')?;
    let expected = tail
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((field.to_string(), expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(text: &str) -> KeyIndex {
        let doc = DeTable::parse(text).expect("valid TOML");
        KeyIndex::build(doc.get_ref())
    }

    #[test]
    fn key_index_finds_keys_values_and_array_items() {
        let text = "[server]\nremote = \"x\"\n\n[ip]\nroutes = [\"a\", \"b\"]\n";
        let index = index_of(text);
        let at = |needle: &str| {
            let start = text.find(needle).unwrap();
            index
                .key_at(&(start..start + needle.len()))
                .map(str::to_string)
        };
        assert_eq!(at("remote").as_deref(), Some("server.remote"));
        assert_eq!(at("\"x\"").as_deref(), Some("server.remote"));
        assert_eq!(at("\"b\"").as_deref(), Some("ip.routes"));
        assert_eq!(at("[ip]").as_deref(), Some("ip"));
        assert_eq!(
            index.key_at(&(0..0)).map(str::to_string),
            Some("server".into())
        );
    }

    #[test]
    fn line_of_counts_newlines_before_offset() {
        let text = "a = 1\nb = 2\n\nc = 3";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, text.find('b').unwrap()), 2);
        assert_eq!(line_of(text, text.find('c').unwrap()), 4);
        assert_eq!(line_of(text, 10_000), 4);
    }

    #[test]
    fn unknown_field_message_is_split() {
        let (field, expected) =
            parse_unknown_field("unknown field `mtux`, expected `name` or `mtu`").unwrap();
        assert_eq!(field, "mtux");
        assert_eq!(expected, ["name", "mtu"]);
        let (_, none) = parse_unknown_field("unknown field `a`, there are no fields").unwrap();
        assert!(none.is_empty());
        assert_eq!(parse_unknown_field("invalid type: integer `1`"), None);
    }

    #[test]
    fn seconds_accept_integers_and_floats_only() {
        #[derive(Deserialize)]
        struct T {
            s: Seconds,
        }
        assert_eq!(toml::from_str::<T>("s = 10").unwrap().s, Seconds(10.0));
        assert_eq!(toml::from_str::<T>("s = 2.5").unwrap().s, Seconds(2.5));
        let err = toml::from_str::<T>("s = \"10\"").err().unwrap();
        assert!(
            err.message().contains("expected a number of seconds"),
            "{err}"
        );
    }

    #[test]
    fn int_rejects_floats_and_strings() {
        #[derive(Deserialize)]
        struct T {
            n: Int,
        }
        assert_eq!(toml::from_str::<T>("n = -3").unwrap().n, Int(-3));
        for bad in ["n = 1.5", "n = \"1\"", "n = true"] {
            let err = toml::from_str::<T>(bad).err().unwrap();
            assert!(
                err.message().contains("expected an integer"),
                "{bad}: {err}"
            );
        }
    }
}
