//! Unit tests of the mapping: one directive at a time, and OpenVPN's ordering rules.

use std::path::PathBuf;

use super::*;

fn plan(text: &str) -> Plan {
    let directives = parse::parse(text, 1).expect("parses");
    map(&directives, PathBuf::from("/profiles"))
}

fn outcome(plan: &Plan, line: usize) -> &Outcome {
    &plan
        .entries
        .iter()
        .find(|e| e.line == line)
        .expect("an entry")
        .outcome
}
