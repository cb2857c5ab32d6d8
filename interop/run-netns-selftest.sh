#!/usr/bin/env bash
# Server-side self-test of the namespace lab, no tapclient involved: tapserver, its limits,
# --once/--faithful, SIGTERM, and stunnel with a required client certificate, all proved with the
# python simpletun probe (interop/lib/tapprobe.py) from the client namespace.
#
# usage: sudo interop/run-netns-selftest.sh [SCENARIO...]     (default: all)
# env:   TAPSERVER=path (skip building), PKI_DIR=dir (use a ready PKI instead of tapclient-certs),
#        PKI_PASSWORD, KEEP_TMP=1 (keep logs even when everything passed)
# Prints PASS/FAIL per scenario and a last line "netns-selftest: N passed, M failed";
# exits non-zero if anything failed. Needs root; fails (does not skip) without it.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=lib/netns.sh
source "$HERE/lib/netns.sh"
lab_init tapclient-selftest
# shellcheck source=lib/harness.sh
source "$HERE/lib/harness.sh"
# shellcheck source=lib/pki.sh
source "$HERE/lib/pki.sh"

ALL=(arp limits faithful once sigterm tls tls-foreign-cert)
PW=${PKI_PASSWORD:-interop-pw}
PKI=$LAB_TMP/pki

# ------------------------------------------------------------------ scenarios

scenario_arp() {
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" || scen_fail "tapserver did not start"
    local out
    out=$(lab_probe --connect "$SRV_UNDERLAY:$PLAIN_PORT" 2>&1) || scen_fail "probe: $out"
    scen_pass "$out"
}

scenario_limits() {
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" || scen_fail "tapserver did not start"
    local kind out n
    for kind in empty runt oversized; do
        out=$(lab_probe --connect "$SRV_UNDERLAY:$PLAIN_PORT" --bad "$kind" 2>&1) ||
            scen_fail "$kind record: $out"
    done
    n=$(grep -c 'protocol error from' "$SCEN_DIR/tapserver.log" || true)
    [[ $n == 3 ]] || scen_fail "expected 3 'protocol error' lines in the tapserver log, got $n"
    lab_alive "$TAPSERVER_PID" || scen_fail "tapserver died"
    out=$(lab_probe --connect "$SRV_UNDERLAY:$PLAIN_PORT" 2>&1) ||
        scen_fail "server no longer serves after protocol errors: $out"
    scen_pass "empty, runt and oversized records each dropped the client with a protocol error; next client served"
}

scenario_faithful() {
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" --faithful || scen_fail "tapserver did not start"
    local out
    out=$(lab_probe --connect "$SRV_UNDERLAY:$PLAIN_PORT" 2>&1) || scen_fail "probe: $out"
    scen_pass "$out"
}

scenario_once() {
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" --once || scen_fail "tapserver did not start"
    local out
    out=$(lab_probe --connect "$SRV_UNDERLAY:$PLAIN_PORT" 2>&1) || scen_fail "probe: $out"
    lab_wait_exit "$TAPSERVER_PID" 5 || scen_fail "--once: tapserver still running 5 s after its client left"
    [[ $LAB_RC == 0 ]] || scen_fail "--once: tapserver exited with $LAB_RC"
    grep -q 'disconnected: client closed the connection; client->tap 1 frames 42 bytes' "$SCEN_DIR/tapserver.log" ||
        scen_fail "--once: disconnect line missing or counts wrong"
    scen_pass "one client served (1 frame, 42 bytes in), then exit 0"
}

scenario_sigterm() {
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" || scen_fail "tapserver did not start"
    lab_stop "$TAPSERVER_PID" 5 || scen_fail "tapserver ignored SIGTERM"
    [[ $LAB_RC == 0 ]] || scen_fail "tapserver exited with $LAB_RC on SIGTERM"
    if lab_link_exists "$SRV_NS" "$TAP_IF"; then
        scen_fail "$TAP_IF still exists after tapserver exited"
    fi
    scen_pass "SIGTERM: exit 0, $TAP_IF removed"
}

scenario_tls() {
    [[ -s $PKI/ca.crt ]] || scen_fail "no PKI"
    lab_netns_up
    scen_tls_servers "$PKI"
    local out
    out=$(lab_probe --connect "$SRV_UNDERLAY:$TLS_PORT" --tls --ca "$PKI/ca.crt" \
        --cert "$PKI/client.crt" --key "$PKI/client-plain.key" 2>&1) || scen_fail "TLS probe: $out"
    scen_pass "through stunnel: $out"
}

scenario_tls_foreign_cert() {
    [[ -s $PKI/ca.crt ]] || scen_fail "no PKI"
    lab_netns_up
    scen_tls_servers "$PKI"
    local out
    out=$(lab_probe --connect "$SRV_UNDERLAY:$TLS_PORT" --tls --ca "$PKI/ca.crt" \
        --cert "$PKI/other-client.pem" --key "$PKI/other-client.pem" --expect-rejected 2>&1) ||
        scen_fail "$out"
    if grep -q 'connected' "$SCEN_DIR/tapserver.log"; then
        scen_fail "a client reached tapserver although stunnel should have rejected it"
    fi
    scen_pass "$out"
}

# ------------------------------------------------------------------ main

h_select "$@"

TOOLS=(ip ping ss stunnel openssl "$PYTHON" timeout sha256sum)
if [[ -z ${TAPSERVER:-} || -z ${PKI_DIR:-} ]]; then
    TOOLS+=(cargo)
fi
echo "netns-selftest: prefix $LAB_PREFIX, logs in $LAB_TMP"
if ! h_preflight "${TOOLS[@]}"; then
    h_fail_all "preflight failed (see above)" "${SELECTED[@]}"
else
    h_build_tapserver
    lab_make_pki "$PKI" "$PW" "$ROOT" || true
    if [[ -z ${TAPSERVER:-} || ! -x $TAPSERVER ]]; then
        h_fail_all "no tapserver binary" "${SELECTED[@]}"
    else
        h_run_selected
    fi
fi

h_summary netns-selftest
