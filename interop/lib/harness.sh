# shellcheck shell=bash
# Globals set here are read by the sourcing scripts:
# shellcheck disable=SC2034
# PASS/FAIL bookkeeping for the lab scripts. Source after netns.sh.
#
# Each scenario is a function run in its own subshell with `set -eE`: an unexpected failing
# command fails that scenario (with the line and command), not the whole run. The subshell's EXIT
# trap stops its processes and deletes the namespaces, so every scenario starts clean.
# Inside a scenario: SCEN_DIR is its log directory; end with scen_pass NOTE or scen_fail REASON.
#
# Main level: h_select "$@", h_preflight TOOL..., then h_build_tapserver / h_build_tapclient /
# h_make_pki as needed, h_run_selected (or h_fail_all), and h_summary LABEL as the last command.
# Needs ROOT (the repository) for the builds and the PKI.
#
# For a scenario with tapclient (or another client) in the client namespace, the scen_* helpers
# at the end read:
#   TUNNEL_SERVER_IP, TUNNEL_CLIENT_IP  the server's and the client's address inside the tunnel
#   TUNNEL_SERVER_DEV                   the server's TAP in $SRV_NS
#   CLIENT_TUN                          tapclient's TUN name (scen_start_tapclient sets CLIENT_DEV to it)
#   CLIENT_PID, CLIENT_LOG, CLIENT_DEV  the client under test (set by scen_start_tapclient)
#   H_CLIENT, H_THE_CLIENT              how failure messages name it ("tapclient" by default)
#   PAYLOAD, XFER_MB, PAYLOAD_BYTES, PAYLOAD_SHA   for scen_xfer (see lab_make_payload)

H_PASSED=0
H_FAILED=0
H_RESULTS=()
SELECTED=()
CLIENT_BUILD_ERR=''  # set by h_build_tapclient: why there is no tapclient to test
PKI_ERR=''           # set by h_make_pki: why there is no test PKI
H_CLIENT=tapclient   # the scripts may set other words after sourcing this file
H_THE_CLIENT=tapclient

scen_pass() {
    printf '%s\n' "$*" >"$SCEN_DIR/result"
    exit 0
}

scen_fail() {
    printf '%s\n' "$*" >"$SCEN_DIR/result"
    exit 1
}

h_on_err() {
    if [[ ! -s $SCEN_DIR/result ]]; then
        printf 'unexpected failure at %s line %s: %s\n' "${BASH_SOURCE[1]##*/}" "$1" "$2" >"$SCEN_DIR/result"
    fi
}

# Prints the last lines of every log of a scenario.
h_tails() {
    local f
    for f in "$1"/*.log; do
        [[ -e $f ]] || continue
        printf '    --- tail %s\n' "${f#"$LAB_TMP"/}"
        tail -n "${H_TAIL_LINES:-15}" "$f" | sed 's/^/    | /'
    done
}

h_record() {
    local name=$1 ok=$2 msg=$3
    if [[ $ok == yes ]]; then
        H_PASSED=$((H_PASSED + 1))
        printf 'PASS %s: %s\n' "$name" "$msg"
    else
        H_FAILED=$((H_FAILED + 1))
        printf 'FAIL %s: %s\n' "$name" "$msg"
    fi
    H_RESULTS+=("$name=$ok")
}

# h_run NAME FUNCTION
h_run() {
    local name=$1 func=$2 rc msg t0
    SCEN_DIR=$LAB_TMP/$name
    mkdir -p "$SCEN_DIR"
    printf -- '--- %s\n' "$name"
    t0=$(lab_now_ms)
    set +e
    (
        set -eE
        trap 'h_on_err "$LINENO" "$BASH_COMMAND"' ERR
        trap 'lab_cleanup' EXIT
        "$func"
    )
    rc=$?
    set -e
    msg=$(cat "$SCEN_DIR/result" 2>/dev/null || true)
    msg="${msg:-exited with status $rc} ($(( ($(lab_now_ms) - t0) / 1000 )) s)"
    if ((rc == 0)); then
        h_record "$name" yes "$msg"
    else
        h_record "$name" no "$msg"
        h_tails "$SCEN_DIR"
    fi
}

# h_preflight TOOL... — root and every tool present; prints what is missing. 1 if anything is.
h_preflight() {
    local missing=() t ok=0
    if [[ $(id -u) != 0 ]]; then
        echo "preflight: not root (namespaces, veth and TAP/TUN need root)" >&2
        ok=1
    fi
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if ((${#missing[@]})); then
        echo "preflight: missing tools: ${missing[*]} (apt-get install -y stunnel4 iputils-ping iproute2 openssl python3 coreutils)" >&2
        ok=1
    fi
    if [[ ! -c /dev/net/tun ]]; then
        echo "preflight: /dev/net/tun is missing" >&2
        ok=1
    fi
    return "$ok"
}

# h_fail_all REASON NAME... — record every scenario as failed (preflight problems must fail, not skip).
h_fail_all() {
    local reason=$1 name
    shift
    for name in "$@"; do
        h_record "$name" no "$reason"
    done
}

# ---------------------------------------------------------------- main level

# h_select SCENARIO... — SELECTED = the arguments (default: every name in ALL); exits 2 on a name
# that is not in ALL.
h_select() {
    local s
    SELECTED=("$@")
    ((${#SELECTED[@]})) || SELECTED=("${ALL[@]}")
    for s in "${SELECTED[@]}"; do
        if [[ " ${ALL[*]} " != *" $s "* ]]; then
            echo "unknown scenario $s (known: ${ALL[*]})" >&2
            exit 2
        fi
    done
}

# h_run_selected — h_run each SELECTED scenario: NAME runs the function scenario_NAME (- as _).
h_run_selected() {
    local s
    for s in "${SELECTED[@]}"; do
        h_run "$s" "scenario_${s//-/_}"
    done
}

# h_summary LABEL — the last line, "LABEL: N passed, M failed"; 1 if anything failed.
h_summary() {
    echo "$1: $H_PASSED passed, $H_FAILED failed"
    ((H_FAILED == 0))
}

# h_build_tapserver — unless TAPSERVER is set, build it and set TAPSERVER; on a build failure
# print the end of the build log and leave TAPSERVER unset (the caller fails every scenario).
h_build_tapserver() {
    [[ -z ${TAPSERVER:-} ]] || return 0
    if (cd "$ROOT" && cargo build -q -p tapserver) >"$LAB_TMP/build-tapserver.log" 2>&1; then
        TAPSERVER=$ROOT/target/debug/tapserver
    else
        echo "cargo build -p tapserver failed:"
        tail -n 20 "$LAB_TMP/build-tapserver.log"
    fi
}

# h_build_tapclient — unless TAPCLIENT is set, build it and set TAPCLIENT. If there is no usable
# binary, CLIENT_BUILD_ERR says why (scen_need_client fails the scenarios that need it).
h_build_tapclient() {
    if [[ -z ${TAPCLIENT:-} ]]; then
        if (cd "$ROOT" && cargo build -q -p tapclient --bin tapclient) >"$LAB_TMP/build-tapclient.log" 2>&1; then
            TAPCLIENT=$ROOT/target/debug/tapclient
        else
            CLIENT_BUILD_ERR="cargo build -p tapclient failed: $(grep -m1 -E '^error' "$LAB_TMP/build-tapclient.log" || tail -n 1 "$LAB_TMP/build-tapclient.log")"
        fi
    fi
    if [[ -z $CLIENT_BUILD_ERR && ! -x $TAPCLIENT ]]; then
        CLIENT_BUILD_ERR="tapclient binary $TAPCLIENT is missing"
    fi
}

# h_make_pki DIR PASSWORD — lab_make_pki (lib/pki.sh); PKI_ERR = why it failed, or empty
# (scen_need_pki fails the scenarios that need it).
h_make_pki() {
    if ! PKI_ERR=$(lab_make_pki "$1" "$2" "$ROOT" 2>&1); then
        PKI_ERR=${PKI_ERR:-unknown error}
    else
        PKI_ERR=''
    fi
}

# ---------------------------------------------------------------- scenario helpers

scen_need_client() {
    [[ -z $CLIENT_BUILD_ERR ]] || scen_fail "$CLIENT_BUILD_ERR"
}

scen_need_pki() {
    [[ -z $PKI_ERR ]] || scen_fail "no test PKI: $PKI_ERR"
}

# scen_tls_servers PKI_DIR — tapserver on 127.0.0.1:PLAIN_PORT behind stunnel (client certificate
# required) in the server namespace.
scen_tls_servers() {
    lab_start_tapserver "$SCEN_DIR/tapserver.log" --listen "127.0.0.1:$PLAIN_PORT" || scen_fail "tapserver did not start"
    lab_start_stunnel "$SCEN_DIR" "$1" || scen_fail "stunnel did not start"
}

# scen_start_tapclient CONFIG — tapclient in the client namespace, logging to
# SCEN_DIR/tapclient.log; sets CLIENT_PID, CLIENT_LOG and CLIENT_DEV (= CLIENT_TUN).
scen_start_tapclient() {
    CLIENT_LOG=$SCEN_DIR/tapclient.log
    CLIENT_DEV=$CLIENT_TUN
    lab_start "$CLI_NS" "$CLIENT_LOG" "$TAPCLIENT" --config "$1" -v
    CLIENT_PID=$LAB_PID
}

# scen_wait_tunnel TIMEOUT_S [WHY_CMD] — first answered ping client -> TUNNEL_SERVER_IP within
# TIMEOUT_S, else fail (tapclient exited, or no reply); WHY_CMD's output, if given, is added to
# the reason after ": ". Sets UP_MS.
scen_wait_tunnel() {
    local timeout=$1 why=${2:-} detail=''
    if ! lab_wait_ping "$CLI_NS" "$TUNNEL_SERVER_IP" "$timeout" "$CLIENT_PID"; then
        if ! lab_alive "$CLIENT_PID"; then
            lab_wait_exit "$CLIENT_PID" 1 || true
            if [[ -n $why ]]; then detail=": $("$why")"; fi
            scen_fail "tapclient exited with code $LAB_RC before the tunnel came up$detail"
        fi
        if [[ -n $why ]]; then detail=": $("$why")"; fi
        scen_fail "no ping reply from $TUNNEL_SERVER_IP through the tunnel within $timeout s$detail"
    fi
    UP_MS=$LAB_MS
}

scen_client_dev_exists() { lab_link_exists "$CLI_NS" "$CLIENT_DEV"; }

# scen_stop_client GRACE_S — SIGTERM must give exit 0 within 10 s, and CLIENT_DEV must be gone
# within GRACE_S (0: at once).
scen_stop_client() {
    lab_stop "$CLIENT_PID" 10 || scen_fail "$H_CLIENT did not exit within 10 s of SIGTERM"
    [[ $LAB_RC == 0 ]] || scen_fail "$H_CLIENT exited with code $LAB_RC on SIGTERM (expected 0)"
    # With 0, lab_wait_until checks once.
    lab_wait_until "$1" eval '! scen_client_dev_exists' ||
        scen_fail "$CLIENT_DEV still exists in the client namespace after $H_THE_CLIENT exited"
}

# scen_pings_both_ways N — N pings each way through the tunnel, all answered; sets PING_NOTE. The
# server forgets the client's MAC first (it may have learned it from the client's own ARP
# request), so its pings only work if the client answers the server's ARP request.
scen_pings_both_ways() {
    local out
    out=$(lab_ping_n "$CLI_NS" "$TUNNEL_SERVER_IP" "$1") ||
        scen_fail "ping client->server ($TUNNEL_SERVER_IP): $out"
    lab_alive "$CLIENT_PID" || scen_fail "$H_CLIENT died during ping"
    ip -n "$SRV_NS" neigh del "$TUNNEL_CLIENT_IP" dev "$TUNNEL_SERVER_DEV" 2>/dev/null || true
    out=$(lab_ping_n "$SRV_NS" "$TUNNEL_CLIENT_IP" "$1") ||
        scen_fail "ping server->client ($TUNNEL_CLIENT_IP, needs $H_THE_CLIENT to answer ARP): $out"
    PING_NOTE="ping $1+$1 ok"
}

# scen_xfer DIRECTION PORT [WHO] — XFER_MB of PAYLOAD through the tunnel, s2c (server sends) or
# c2s; the listener runs in the server namespace on TUNNEL_SERVER_IP. Checks the SHA-256 of what
# arrived. Appends to XFER_NOTE. With WHO, a failed transfer also says "(WHO running|exited)"
# about CLIENT_PID.
scen_xfer() {
    local dir=$1 port=$2 who=${3:-} lpid out listen_out recv_json role=--recv state=''
    if [[ $dir == s2c ]]; then
        lab_start "$SRV_NS" "$SCEN_DIR/xfer-$dir-server.log" "$PYTHON" "$LAB_LIB_DIR/xfer.py" listen \
            --bind "$TUNNEL_SERVER_IP" --port "$port" --send "$PAYLOAD"
    else
        lab_start "$SRV_NS" "$SCEN_DIR/xfer-$dir-server.log" "$PYTHON" "$LAB_LIB_DIR/xfer.py" listen \
            --bind "$TUNNEL_SERVER_IP" --port "$port" --recv
    fi
    lpid=$LAB_PID
    lab_wait_until 10 lab_log_has "$SCEN_DIR/xfer-$dir-server.log" listening ||
        scen_fail "$dir transfer: listener did not start"
    if [[ $dir == c2s ]]; then role="--send $PAYLOAD"; fi
    # shellcheck disable=SC2086 # $role is two words on purpose
    if ! out=$(timeout 300 ip netns exec "$CLI_NS" "$PYTHON" "$LAB_LIB_DIR/xfer.py" connect \
        --host "$TUNNEL_SERVER_IP" --port "$port" $role 2>"$SCEN_DIR/xfer-$dir-client.log"); then
        if [[ -n $who ]]; then state="($who $(lab_alive "$CLIENT_PID" && echo running || echo exited))"; fi
        scen_fail "$dir transfer failed: $(tail -n 2 "$SCEN_DIR/xfer-$dir-client.log" | tr '\n' ' ')$state"
    fi
    lab_wait_exit "$lpid" 60 || scen_fail "$dir transfer: listener still running 60 s after the client finished"
    [[ $LAB_RC == 0 ]] || scen_fail "$dir transfer: listener failed: $(tail -n 2 "$SCEN_DIR/xfer-$dir-server.log" | tr '\n' ' ')"
    listen_out=$(grep '"sha256"' "$SCEN_DIR/xfer-$dir-server.log" || true)
    if [[ $dir == s2c ]]; then recv_json=$out; else recv_json=$listen_out; fi
    local got_bytes got_sha
    got_bytes=$(lab_json_field bytes "$recv_json")
    got_sha=$(lab_json_field sha256 "$recv_json")
    [[ $got_bytes == "$PAYLOAD_BYTES" && $got_sha == "$PAYLOAD_SHA" ]] ||
        scen_fail "$dir transfer corrupted: received $got_bytes bytes sha256 $got_sha, sent $PAYLOAD_BYTES bytes sha256 $PAYLOAD_SHA"
    XFER_NOTE+="${XFER_NOTE:+, }$dir ${XFER_MB} MiB sha256 ok $(lab_json_field mbit_s "$recv_json") Mbit/s"
}
