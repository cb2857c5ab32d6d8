//! The TOML text: a header naming the profile, one section per table of docs/config.md, a
//! comment on each key naming the profile line it comes from, and at the end every directive
//! that was not mapped, with the reason, as comments.
//!
//! Values are quoted by the `toml` crate, so any path or name is written as valid TOML. The text
//! holds no secret: credentials are referenced by path only.

use std::fmt::Write as _;

use super::map::{Plan, Slot};
use super::place::Placed;
use super::report::Outcome;

/// The TOML for `plan` with the paths of `placed`; `profile` names the source in the header.
pub fn emit(plan: &Plan, placed: &Placed, profile: &str) -> String {
    let mut out = Toml::default();
    out.line(&format!(
        "# tapclient configuration imported from {} by `tapclient import`.",
        one_line(profile)
    ));
    out.line("# The comments name the profile line each key comes from; directives that were not");
    out.line("# imported are listed at the end. Check the result: tapclient check --config FILE");
    server(&mut out, plan);
    tls(&mut out, plan, placed);
    openvpn(&mut out, plan, placed);
    if let Some(file) = &placed.auth_user_pass {
        out.section("auth_user_pass");
        match file {
            Some(file) => out.key("file", &string(&file.path), &file.comment),
            None => {
                out.line("# empty: tapclient asks for the username and password (auth-user-pass)")
            }
        }
    }
    reconnect(&mut out, plan);
    if let Some(mtu) = &plan.mtu {
        out.section("tun");
        out.key("mtu", &mtu.value.to_string(), &from(plan, mtu));
    }
    if let Some(mac) = &plan.mac {
        out.section("ethernet");
        out.key("mac", &string(&mac.value), &from(plan, mac));
    }
    leftovers(&mut out, plan);
    out.text
}

fn server(out: &mut Toml, plan: &Plan) {
    out.section("server");
    out.key(
        "protocol",
        &string("openvpn"),
        "an OpenVPN 2.x server in TAP mode (dev tap), over TCP",
    );
    let remotes: Vec<String> = plan
        .remotes
        .iter()
        .map(|r| string(&r.to_config_string()))
        .collect();
    let value = match remotes.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let comment = if remotes.len() > 1 {
        "remote lines, tried in order"
    } else {
        "remote"
    };
    out.key("remote", &value, comment);
    if let Some(timeout) = &plan.connect_timeout {
        out.key(
            "connect_timeout",
            &timeout.value.to_string(),
            &from(plan, timeout),
        );
    }
}

fn tls(out: &mut Toml, plan: &Plan, placed: &Placed) {
    out.section("tls");
    for (key, placed) in [
        ("ca", &placed.ca),
        ("pkcs12", &placed.pkcs12),
        ("password_file", &placed.password_file),
    ] {
        if let Some(file) = placed {
            out.key(key, &string(&file.path), &file.comment);
        }
    }
    if let Some(name) = &plan.verify_name {
        out.key("verify_name", &string(&name.value), &from(plan, name));
    }
    out.line(
        "# remote-cert-tls server is always enforced: the server certificate needs EKU serverAuth",
    );
}

fn openvpn(out: &mut Toml, plan: &Plan, placed: &Placed) {
    let mut keys = Toml::default();
    if let Some(file) = &placed.tls_auth {
        keys.key("tls_auth", &string(&file.path), &file.comment);
        match &plan.key_direction {
            Some(dir) => keys.key("key_direction", &dir.value.to_string(), &from(plan, dir)),
            None => keys.key(
                "key_direction",
                "\"none\"",
                "tls-auth without a direction: the key is used both ways, as on the server",
            ),
        }
    }
    if let Some(file) = &placed.tls_crypt {
        keys.key("tls_crypt", &string(&file.path), &file.comment);
    }
    if let Some(auth) = &plan.auth {
        keys.key("auth", &string(&auth.value), &from(plan, auth));
    }
    if let Some(ciphers) = &plan.ciphers {
        let list: Vec<String> = ciphers.value.iter().map(|c| string(c)).collect();
        keys.key(
            "ciphers",
            &format!("[{}]", list.join(", ")),
            &from(plan, ciphers),
        );
    }
    if let Some(cipher) = &plan.cipher {
        keys.key("cipher", &string(&cipher.value), &from(plan, cipher));
    }
    let numbers = [
        ("reneg_sec", &plan.reneg_sec),
        ("ping", &plan.ping),
        ("ping_restart", &plan.ping_restart),
        ("hand_window", &plan.hand_window),
    ];
    for (key, slot) in numbers {
        if let Some(slot) = slot {
            keys.key(key, &slot.value.to_string(), &from(plan, slot));
        }
    }
    if let Some(compress) = &plan.compress {
        let comment = format!("{}; tapclient never compresses", from(plan, compress));
        keys.key("compress", &string(compress.value), &comment);
    }
    if let Some(nopull) = &plan.route_nopull {
        keys.key("route_nopull", "true", &from(plan, nopull));
    }
    if !plan.routes.is_empty() {
        let list: Vec<String> = plan.routes.iter().map(|r| string(r)).collect();
        keys.key("routes", &format!("[{}]", list.join(", ")), "route lines");
    }
    if let Some(redirect) = &plan.redirect_gateway {
        keys.key("redirect_gateway", "true", &from(plan, redirect));
    }
    if !keys.text.is_empty() {
        out.section("openvpn");
        out.text.push_str(&keys.text);
    }
}

fn reconnect(out: &mut Toml, plan: &Plan) {
    let numbers = [
        ("initial_delay", &plan.initial_delay),
        ("max_delay", &plan.max_delay),
        ("first_connect_attempts", &plan.first_connect_attempts),
    ];
    if numbers.iter().all(|(_, slot)| slot.is_none()) {
        return;
    }
    out.section("reconnect");
    for (key, slot) in numbers {
        if let Some(slot) = slot {
            out.key(key, &slot.value.to_string(), &from(plan, slot));
        }
    }
}

/// Comments listing every directive that was not mapped, by kind.
fn leftovers(out: &mut Toml, plan: &Plan) {
    for (label, title) in [
        (
            "unsupported",
            "Not supported by tapclient (left out; the tunnel may behave differently):",
        ),
        ("ignored", "Ignored (harmless for tapclient):"),
    ] {
        let entries: Vec<_> = plan
            .entries
            .iter()
            .filter(|e| e.outcome.label() == label)
            .collect();
        if entries.is_empty() {
            continue;
        }
        out.line("");
        out.line(&format!("# {title}"));
        for entry in entries {
            out.line(&format!("#   {}", one_line(&entry.to_string())));
        }
    }
    debug_assert!(!plan
        .entries
        .iter()
        .any(|e| matches!(e.outcome, Outcome::Blocking(_))));
}

/// "directive as written (line N)" for the directive that set `slot`.
fn from<T>(plan: &Plan, slot: &Slot<T>) -> String {
    let directive = plan
        .entries
        .get(slot.entry)
        .map_or("", |e| e.directive.as_str());
    format!("{directive} (line {})", slot.line)
}

/// `text` as a TOML basic string.
fn string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// `text` with control characters (a stray newline would end a comment) made spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[derive(Default)]
struct Toml {
    text: String,
}

impl Toml {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn section(&mut self, name: &str) {
        let _ = write!(self.text, "\n[{name}]\n");
    }

    /// `key = value  # comment`, the comments aligned.
    fn key(&mut self, key: &str, value: &str, comment: &str) {
        let assignment = format!("{key} = {value}");
        let _ = writeln!(self.text, "{assignment:<40} # {}", one_line(comment));
    }
}
