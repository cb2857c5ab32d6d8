#!/usr/bin/env bash
# tapclient against the simpletun-compatible tapserver in two network namespaces (ring 3 of
# the test plan): plain, faithful simpletun quirks, TLS through stunnel (modern and legacy
# PKCS#12), server restart, and the failure modes with their exit codes.
#
# usage: sudo interop/run-netns-tests.sh [SCENARIO...]     (default: all, in this order)
#   plain faithful tls tls-legacy restart wrong-password wrong-ca foreign-client-cert unreachable
#   status
# env:   TAPCLIENT, TAPSERVER   use these binaries instead of building target/debug/...
#        PKI_DIR, PKI_PASSWORD  use a ready PKI (same file names as tapclient-certs writes)
#        XFER_MB=50             size of each checksummed transfer
#        KEEP_TMP=1             keep the temp dir (logs, configs) even when everything passed
# Prints PASS/FAIL per scenario with a reason, the tails of its logs on failure, and a last line
# "netns: N passed, M failed"; exits non-zero if anything failed. Needs root: without it, or
# without a tool, every scenario FAILS (never skips).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
source "$HERE/lib/netns.sh"
lab_init tapclient-netns
source "$HERE/lib/harness.sh"
source "$HERE/lib/pki.sh"

ALL=(plain faithful tls tls-legacy restart wrong-password wrong-ca foreign-client-cert unreachable
    status)
PW=${PKI_PASSWORD:-interop-pw}
PKI=$LAB_TMP/pki
XFER_MB=${XFER_MB:-50}
PAYLOAD=$LAB_TMP/payload.bin
CLIENT_TUN=tc0
# The tunnel under test, for the scen_* helpers of lib/harness.sh.
TUNNEL_SERVER_IP=$SRV_TAP_IP
TUNNEL_CLIENT_IP=$CLI_TUN_IP
TUNNEL_SERVER_DEV=$TAP_IF

# ------------------------------------------------------------------ helpers (scenario context)

# write_config FILE REMOTE [CA PKCS12 PASSWORD_FILE]
write_config() {
    local file=$1 remote=$2
    {
        printf '[server]\nprotocol = "simpletun"\nremote = "%s"\nconnect_timeout = 5\n\n' "$remote"
        if (($# > 2)); then
            printf '[tls]\nca = "%s"\npkcs12 = "%s"\npassword_file = "%s"\n\n' "$3" "$4" "$5"
        fi
        printf '[tun]\nname = "%s"\nmtu = 1500\n\n' "$CLIENT_TUN"
        printf '[ip]\naddress = "%s/24"\ngateway = "%s"\nroutes = []\n\n' "$CLI_TUN_IP" "$SRV_TAP_IP"
        printf '[reconnect]\ninitial_delay = 1\nmax_delay = 4\nfirst_connect_attempts = 2\n'
    } >"$file"
}

# wait_tunnel — first answered ping client -> server within 15 s; sets UP_MS.
wait_tunnel() { scen_wait_tunnel 15; }

# stop_client — SIGTERM must give exit 0 within 10 s with tc0 gone.
stop_client() { scen_stop_client 0; }

# check_neighbour — the server's ARP entry for the client: unicast lladdr, usable state; and,
# if tapclient logged "mac=..", the same MAC. Sets NEIGH_NOTE.
check_neighbour() {
    local line lladdr state first logmac
    line=$(ip -n "$SRV_NS" neigh show dev "$TAP_IF" to "$CLI_TUN_IP")
    [[ -n $line ]] || scen_fail "no neighbour entry for $CLI_TUN_IP on the server's $TAP_IF"
    lladdr=$(lab_neigh_lladdr "$line")
    state=$(awk '{print $NF}' <<<"$line")
    [[ $lladdr =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || scen_fail "server neighbour entry without a MAC: $line"
    first=$((16#${lladdr:0:2}))
    if ((first & 1)) || [[ $lladdr == 00:00:00:00:00:00 ]]; then
        scen_fail "server learned a non-unicast MAC for the client: $line"
    fi
    [[ $state =~ ^(REACHABLE|STALE|DELAY|PROBE)$ ]] || scen_fail "server neighbour entry in state $state: $line"
    logmac=$(lab_logged_mac "$CLIENT_LOG")
    if [[ -n $logmac && $logmac != "$lladdr" ]]; then
        scen_fail "server learned $lladdr for $CLI_TUN_IP but tapclient logged mac=$logmac"
    fi
    NEIGH_NOTE="server ARP: $CLI_TUN_IP lladdr $lladdr $state${logmac:+ (matches the MAC tapclient logged)}"
}

# expect_exit CODE TIMEOUT_S PATTERN WHAT — tapclient must exit with CODE within TIMEOUT_S,
# its log must match PATTERN (grep -iE), and tc0 must be gone. Sets EXIT_NOTE.
expect_exit() {
    local code=$1 timeout=$2 pattern=$3 what=$4 t0 msg
    t0=$(lab_now_ms)
    lab_wait_exit "$CLIENT_PID" "$timeout" || scen_fail "$what: tapclient still running after $timeout s (expected exit $code)"
    local dt=$(($(lab_now_ms) - t0))
    [[ $LAB_RC == "$code" ]] ||
        scen_fail "$what: tapclient exited with $LAB_RC (expected $code): $(tail -n 1 "$CLIENT_LOG")"
    msg=$(grep -iE -- "$pattern" "$CLIENT_LOG" | tail -n 1 | cut -c1-220 || true)
    [[ -n $msg ]] || scen_fail "$what: exit $code but no message matching /$pattern/ in the log"
    ! scen_client_dev_exists || scen_fail "$what: $CLIENT_TUN left behind in the client namespace"
    EXIT_NOTE="exit $code after ${dt} ms, no $CLIENT_TUN left; \"$msg\""
}

# ------------------------------------------------------------------ scenarios

scenario_plain() {
    scen_need_client
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" || scen_fail "tapserver did not start"
    local out
    out=$(lab_probe --connect "$SRV_UNDERLAY:$PLAIN_PORT" 2>&1) || scen_fail "server side broken (probe): $out"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$PLAIN_PORT"
    scen_start_tapclient "$SCEN_DIR/client.toml"
    wait_tunnel
    scen_pings_both_ways 5
    check_neighbour
    scen_xfer s2c 5001
    scen_xfer c2s 5002
    stop_client
    scen_pass "up in ${UP_MS} ms; $PING_NOTE; $NEIGH_NOTE; $XFER_NOTE; SIGTERM -> exit 0, $CLIENT_TUN removed"
}

scenario_faithful() {
    scen_need_client
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" --faithful || scen_fail "tapserver did not start"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$PLAIN_PORT"
    scen_start_tapclient "$SCEN_DIR/client.toml"
    wait_tunnel
    scen_pings_both_ways 5
    stop_client
    scen_pass "simpletun quirks (no TCP_NODELAY, length and frame in two writes): up in ${UP_MS} ms; $PING_NOTE"
}

scenario_tls() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    scen_tls_servers "$PKI"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$TLS_PORT" "$PKI/ca.crt" "$PKI/client.p12" "$PKI/p12.pass"
    scen_start_tapclient "$SCEN_DIR/client.toml"
    wait_tunnel
    scen_pings_both_ways 5
    scen_xfer s2c 5001
    scen_xfer c2s 5002
    stop_client
    scen_pass "stunnel verify=2, modern client.p12: up in ${UP_MS} ms; $PING_NOTE; $XFER_NOTE"
}

scenario_tls_legacy() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    scen_tls_servers "$PKI"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$TLS_PORT" "$PKI/ca.crt" "$PKI/client-legacy.p12" "$PKI/p12.pass"
    scen_start_tapclient "$SCEN_DIR/client.toml"
    wait_tunnel
    scen_pings_both_ways 5
    stop_client
    scen_pass "legacy .p12 (openssl -legacy: RC2-40/3DES/SHA-1 MAC): up in ${UP_MS} ms; $PING_NOTE"
}

scenario_restart() {
    scen_need_client
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" || scen_fail "tapserver did not start"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$PLAIN_PORT"
    scen_start_tapclient "$SCEN_DIR/client.toml"
    wait_tunnel
    scen_pings_both_ways 2
    local old_mac new_mac t_kill t_up down_ms
    old_mac=$(lab_mac_of "$SRV_NS" "$TAP_IF")
    t_kill=$(lab_now_ms)
    kill -KILL "$TAPSERVER_PID"
    lab_wait_exit "$TAPSERVER_PID" 5 || scen_fail "tapserver survived SIGKILL"
    if lab_link_exists "$SRV_NS" "$TAP_IF"; then
        ip -n "$SRV_NS" link del "$TAP_IF"
    fi
    lab_start_tapserver "$SCEN_DIR/tapserver-2.log" || scen_fail "restarted tapserver did not start"
    down_ms=$(($(lab_now_ms) - t_kill))
    new_mac=$(lab_mac_of "$SRV_NS" "$TAP_IF")
    [[ $new_mac != "$old_mac" ]] || scen_fail "the recreated $TAP_IF has the same MAC $old_mac; the test needs a new one"
    lab_wait_ping "$CLI_NS" "$SRV_TAP_IP" 15 "$CLIENT_PID" ||
        scen_fail "ping did not resume within 15 s after the restart (tapclient $(lab_alive "$CLIENT_PID" && echo running || echo exited))"
    t_up=$(lab_now_ms)
    grep -q 'connected' "$SCEN_DIR/tapserver-2.log" || scen_fail "no client connection in the restarted server's log"
    scen_pings_both_ways 3
    stop_client
    scen_pass "outage $((t_up - t_kill)) ms (server down ${down_ms} ms); server MAC $old_mac -> $new_mac; $PING_NOTE"
}

scenario_wrong_password() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    scen_tls_servers "$PKI"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$TLS_PORT" "$PKI/ca.crt" "$PKI/client.p12" "$PKI/wrong.pass"
    scen_start_tapclient "$SCEN_DIR/client.toml"
    expect_exit 3 10 'wrong password' "wrong password"
    scen_pass "$EXIT_NOTE"
}

scenario_wrong_ca() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    scen_tls_servers "$PKI"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$TLS_PORT" "$PKI/other-ca.crt" "$PKI/client.p12" "$PKI/p12.pass"
    scen_start_tapclient "$SCEN_DIR/client.toml"
    expect_exit 4 20 'certificate' "wrong CA"
    scen_pass "$EXIT_NOTE"
}

scenario_foreign_client_cert() {
    scen_need_client
    scen_need_pki
    lab_netns_up
    scen_tls_servers "$PKI"
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$TLS_PORT" "$PKI/ca.crt" "$PKI/other-client.p12" "$PKI/p12.pass"
    scen_start_tapclient "$SCEN_DIR/client.toml"
    expect_exit 4 20 'certificate|reject|alert' "client cert from another CA"
    local why
    why=$(grep -iE 'certificate verify failed|unknown ca|rejected|CERT: ' "$SCEN_DIR/stunnel.log" | tail -n 1 | cut -c1-160 || true)
    ! grep -q 'connected' "$SCEN_DIR/tapserver.log" || scen_fail "a connection reached tapserver through stunnel"
    scen_pass "$EXIT_NOTE; stunnel: ${why:-?}"
}

scenario_unreachable() {
    scen_need_client
    lab_netns_up
    write_config "$SCEN_DIR/client.toml" "$SRV_UNDERLAY:$PLAIN_PORT"
    scen_start_tapclient "$SCEN_DIR/client.toml"
    expect_exit 6 30 'unreachable|refused|connect' "nothing listening"
    scen_pass "$EXIT_NOTE"
}

# status_holds PY_EXPR — `tapclient status --json` for STATUS_CONFIG now, saved to
# SCEN_DIR/status.json; true if PY_EXPR (Python, over the report `r`) holds.
status_holds() {
    "$TAPCLIENT" status --config "$STATUS_CONFIG" --json >"$SCEN_DIR/status.json" 2>"$SCEN_DIR/status.err" &&
        "$PYTHON" -c "import json, sys; r = json.load(sys.stdin); sys.exit(0 if ($1) else 1)" <"$SCEN_DIR/status.json"
}

# status_expect WHAT PY_EXPR — PY_EXPR must hold within 5 s (counters are published at most once
# a second), else fail with what the report said.
status_expect() {
    lab_wait_until 5 status_holds "$2" ||
        scen_fail "$1: expected $2; tapclient status said: $(tr -d '\n' <"$SCEN_DIR/status.json" | tr -s ' ' | cut -c1-600) $(cat "$SCEN_DIR/status.err")"
}

# tapclient status: state and counters from the running client over its owner-only socket, before
# and after a server restart; another user is refused (exit 5); a second client with the same
# config stops at once (exit 5); nothing running (exit 1).
scenario_status() {
    scen_need_client
    command -v setpriv >/dev/null || scen_fail "setpriv (util-linux) is missing"
    lab_netns_up
    lab_start_tapserver "$SCEN_DIR/tapserver.log" || scen_fail "tapserver did not start"
    # A folder other users may enter (LAB_TMP is 0700), so the socket's own mode is what stops them.
    local pub
    pub=$(mktemp -d "${TMPDIR:-/tmp}/tapclient-status.XXXXXX")
    trap 'rm -rf "$pub"; lab_cleanup' EXIT
    chmod 755 "$pub"
    STATUS_CONFIG=$pub/client.toml
    write_config "$STATUS_CONFIG" "$SRV_UNDERLAY:$PLAIN_PORT"
    printf '\n[status]\nsocket = "status.sock"\n' >>"$STATUS_CONFIG"
    chmod 644 "$STATUS_CONFIG"
    scen_start_tapclient "$STATUS_CONFIG"
    wait_tunnel
    scen_pings_both_ways 3
    local mode
    mode=$(stat -c %a "$pub/status.sock") || scen_fail "no status socket at $pub/status.sock"
    [[ $mode == 600 ]] || scen_fail "status socket has mode $mode (expected 600)"
    [[ $(stat -c %a "$pub") == 755 ]] || scen_fail "tapclient changed the mode of the existing folder $pub"
    status_expect "after the pings" "r['state'] == 'up' and r['connects'] == 1 and r['reconnects'] == 0 \
        and r['bytes_in'] > 0 and r['bytes_out'] > 0 and r['packets_from_tun'] >= 6 and r['packets_to_tun'] >= 6 \
        and r['tun'] == '$CLIENT_TUN' and r['address'] == '$CLI_TUN_IP/24'"
    local before text
    before=$("$PYTHON" -c "import json, sys; r = json.load(sys.stdin); print(r['bytes_in'], r['packets_to_tun'])" <"$SCEN_DIR/status.json")
    text=$("$TAPCLIENT" status --config "$STATUS_CONFIG") || scen_fail "tapclient status (text) exited with $?"
    printf '%s\n' "$text" >"$SCEN_DIR/status-text.log"
    grep -qE '^state: +up for ' <<<"$text" || scen_fail "text status has no 'state: up' line: $text"

    kill -KILL "$TAPSERVER_PID"
    lab_wait_exit "$TAPSERVER_PID" 5 || scen_fail "tapserver survived SIGKILL"
    if lab_link_exists "$SRV_NS" "$TAP_IF"; then
        ip -n "$SRV_NS" link del "$TAP_IF"
    fi
    lab_start_tapserver "$SCEN_DIR/tapserver-2.log" || scen_fail "restarted tapserver did not start"
    lab_wait_ping "$CLI_NS" "$SRV_TAP_IP" 15 "$CLIENT_PID" || scen_fail "ping did not resume within 15 s after the restart"
    status_expect "after the server restart" "r['state'] == 'up' and r['reconnects'] == 1 and r['connects'] == 2 \
        and 'lost' in r['last_disconnect']['reason']"
    grep -q 'state up -> reconnecting' "$CLIENT_LOG" || scen_fail "no 'state up -> reconnecting' line in the log"
    grep -q 'counters: connects=1 reconnects=0' "$CLIENT_LOG" || scen_fail "no counter summary logged on the loss"

    local out rc=0
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$TAPCLIENT" --version 2>&1) ||
        scen_fail "user nobody cannot run $TAPCLIENT (run the lab from a checkout others can read): $out"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$TAPCLIENT" status --config "$STATUS_CONFIG" 2>&1) || rc=$?
    [[ $rc == 5 && $out == *"permission denied"* ]] || scen_fail "as user nobody: exit $rc (expected 5, permission denied): $out"
    rc=0
    out=$(timeout 10 ip netns exec "$CLI_NS" "$TAPCLIENT" --config "$STATUS_CONFIG" 2>&1) || rc=$?
    [[ $rc == 5 && $out == *"already running"* ]] ||
        scen_fail "a second tapclient with the same config: exit $rc (expected 5, already running): $out"
    { lab_alive "$CLIENT_PID" && scen_client_dev_exists; } || scen_fail "the second tapclient disturbed the first"
    lab_ping_n "$CLI_NS" "$SRV_TAP_IP" 1 >/dev/null || scen_fail "no ping after the second tapclient was refused"

    stop_client
    [[ ! -e $pub/status.sock ]] || scen_fail "status socket left behind after tapclient exited"
    rc=0
    out=$("$TAPCLIENT" status --config "$STATUS_CONFIG" 2>&1) || rc=$?
    [[ $rc == 1 && $out == *"no tapclient is running for"* ]] || scen_fail "after exit: status gave exit $rc: $out"
    scen_pass "socket 0600 in a 0755 folder; up: bytes_in/packets_to_tun $before; after restart reconnects=1; nobody -> exit 5; second client -> exit 5; stopped -> socket removed, exit 1"
}

# ------------------------------------------------------------------ main

h_select "$@"

TOOLS=(ip ping ss stunnel openssl "$PYTHON" timeout sha256sum head)
if [[ -z ${TAPSERVER:-} || -z ${TAPCLIENT:-} || -z ${PKI_DIR:-} ]]; then
    TOOLS+=(cargo)
fi
echo "netns: prefix $LAB_PREFIX, logs in $LAB_TMP"
if ! h_preflight "${TOOLS[@]}"; then
    h_fail_all "preflight failed (see above)" "${SELECTED[@]}"
else
    h_build_tapserver
    h_build_tapclient
    h_make_pki "$PKI" "$PW"
    lab_make_payload "$PAYLOAD" "$XFER_MB"
    if [[ -z ${TAPSERVER:-} || ! -x $TAPSERVER ]]; then
        h_fail_all "no tapserver binary" "${SELECTED[@]}"
    else
        h_run_selected
    fi
fi

h_summary netns
