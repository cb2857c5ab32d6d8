# shellcheck shell=bash
# Globals set here are read by the sourcing scripts:
# shellcheck disable=SC2034
# Measuring instruments for the fault scenarios (interop/run-fault-tests.sh): the stock server's
# fault variants, a timestamped ping through the tunnel and its outage report, a watch on the
# client namespace's interfaces, addresses and routes, transfers both ways at once, and an RSS
# sampler. Source after netns.sh, harness.sh and openvpn.sh; defines functions only. Every
# process is started with lab_start, so the scenario's cleanup stops it.

FAULT_PING_INTERVAL=${FAULT_PING_INTERVAL:-0.1}  # 10 pings a second

FAULT_SERVER_PID=''  # set by faults_start_server
FAULT_SERVER_LOG=''
PING_PID=''          # set by fault_ping_start
PING_LOG=''
WATCH_LOG=''         # set by fault_watch_start

# ---------------------------------------------------------------- the stock server and client

# faults_parse_variants VARIANT... — sets FV_FLAGS (template variants), FV_KEEPALIVE, FV_RENEG
# from words such as: keepalive=2,10 | reneg=0 | route | auth-user-pass | cbc
faults_parse_variants() {
    local w
    FV_FLAGS='' FV_KEEPALIVE='10 60' FV_RENEG=3600
    for w in "$@"; do
        case $w in
            route | auth-user-pass | cbc) FV_FLAGS+=" $w" ;;
            keepalive=*) FV_KEEPALIVE=${w#keepalive=} FV_KEEPALIVE=${FV_KEEPALIVE/,/ } ;;
            reneg=*) FV_RENEG=${w#reneg=} ;;
            *)
                echo "faults: unknown server variant '$w'" >&2
                return 1
                ;;
        esac
    done
}

# faults_server_conf DIR NAME [VARIANT...] — DIR/NAME.conf from openvpn/server-faults.conf.in
# (log DIR/NAME.log). The auth-user-pass variant runs DIR/auth-verify.sh (fault_auth_script).
faults_server_conf() {
    local dir=$1 name=$2
    shift 2
    faults_parse_variants "$@" || return 1
    ovpn_render "$OVPN_TEMPLATES/server-faults.conf.in" "$dir/$name.conf" "$FV_FLAGS" \
        "SRV_UNDERLAY=$SRV_UNDERLAY" "PORT=$OVPN_PORT" "TAP=$OVPN_SRV_TAP" "PKI=$OVPN_PKI" \
        "NET=$OVPN_NET" "VERB=$OVPN_SERVER_VERB" "KEEPALIVE=$FV_KEEPALIVE" "RENEG_SEC=$FV_RENEG" \
        "LOG=$dir/$name.log" "PIDFILE=$dir/$name.pid" "STATUS=$dir/$name-status.txt" \
        "ROUTE_NET=$OVPN_ROUTE_NET" "ROUTE_MASK=$OVPN_ROUTE_MASK" "AUTH_SCRIPT=$dir/auth-verify.sh"
}

# faults_start_server DIR NAME [VARIANT...] — the server in the server namespace, up and
# listening (as ovpn_start_server, with the fault template). Sets FAULT_SERVER_PID and
# FAULT_SERVER_LOG. 1 with the reason on stderr.
faults_start_server() {
    OVPN_CONF_RENDER=faults_server_conf ovpn_start_server "$@" || return 1
    FAULT_SERVER_PID=$OVPN_SERVER_PID
    FAULT_SERVER_LOG=$OVPN_SERVER_LOG
}

# faults_stock_client DIR NAME AUTH_FILE [VARIANT...] — the stock client with
# openvpn/client-faults.conf.in (variants auth-user-pass, cbc); waits up to 30 s for
# "Initialization Sequence Completed". Sets OVPN_CLIENT_PID, OVPN_CLIENT_LOG.
faults_stock_client() {
    local dir=$1 name=$2 auth=$3 w flags=''
    shift 3
    for w in "$@"; do
        case $w in
            auth-user-pass | cbc) flags+=" $w" ;;
            *)
                echo "faults: unknown stock client variant '$w'" >&2
                return 1
                ;;
        esac
    done
    ovpn_render "$OVPN_TEMPLATES/client-faults.conf.in" "$dir/$name.conf" "$flags" \
        "SRV_UNDERLAY=$SRV_UNDERLAY" "PORT=$OVPN_PORT" "TAP=$OVPN_STOCK_TAP" "PKI=$OVPN_PKI" \
        "VERB=$OVPN_SERVER_VERB" "LOG=$dir/$name.log" "PIDFILE=$dir/$name.pid" "AUTH_FILE=$auth" || return 1
    OVPN_CLIENT_LOG=$dir/$name.log
    lab_start "$CLI_NS" "$dir/$name-stdout.log" "$OPENVPN" --config "$dir/$name.conf"
    OVPN_CLIENT_PID=$LAB_PID
    if ! ovpn_wait_log "$OVPN_CLIENT_PID" "$OVPN_CLIENT_LOG" 'Initialization Sequence Completed' 30; then
        echo "stock openvpn client did not connect within 30 s$(lab_alive "$OVPN_CLIENT_PID" || echo ' (it exited)'): $(grep -m1 -E 'AUTH_FAILED|ERROR|error' "$OVPN_CLIENT_LOG" 2>/dev/null || tail -n 2 "$OVPN_CLIENT_LOG" 2>/dev/null | tr '\n' ' ')" >&2
        return 1
    fi
}

# fault_auth_script DIR USER PASSWORD — DIR/auth-verify.sh for `auth-user-pass-verify ...
# via-file`: OpenVPN passes a file whose first line is the username and second the password;
# exit 0 accepts. Only USER with PASSWORD is accepted.
fault_auth_script() {
    local dir=$1 user=$2 pass=$3
    # shellcheck disable=SC2016 # the script's own variables, expanded when it runs
    {
        printf '#!/bin/sh\n# accepts exactly one user (written by interop/lib/faults.sh)\n'
        printf '{ IFS= read -r u; IFS= read -r p; } <"$1" || exit 1\n'
        printf '[ "$u" = %q ] && [ "$p" = %q ]\n' "$user" "$pass"
    } >"$dir/auth-verify.sh"
    chmod 700 "$dir/auth-verify.sh"
}

# ---------------------------------------------------------------- ping through the tunnel

# fault_ping_start NS DST NAME — `ping -D -O` every FAULT_PING_INTERVAL s from NS to DST in the
# background, to SCEN_DIR/NAME.ping (not .log: the failure tails would be all pings). Sets
# PING_PID, PING_LOG.
fault_ping_start() {
    PING_LOG=$SCEN_DIR/$3.ping
    lab_start "$1" "$PING_LOG" stdbuf -oL ping -D -O -n -i "$FAULT_PING_INTERVAL" "$2"
    PING_PID=$LAB_PID
}

# fault_ping_stop — stop the background ping (its log stays).
fault_ping_stop() {
    [[ -z $PING_PID ]] || lab_stop "$PING_PID" 3 || true
    PING_PID=''
}

# fault_ping_report LOG [T_FAULT_MS] — reads a `ping -D -O` log and sets:
#   P_SENT, P_RECV     pings sent (the highest icmp_seq) and answered
#   P_LOST             pings reported unanswered ("no answer yet") that never got a reply; the
#                      ping still in flight when the log ends is not counted
#   P_GAP_MS           the longest time between two consecutive replies (ending after
#                      T_FAULT_MS if given): the outage as an application sees it
#   P_GAP_FROM/_TO     that gap's last reply before and first reply after (epoch ms)
#   P_RECOVERY_MS      P_GAP_TO - T_FAULT_MS (with T_FAULT_MS)
# and PING_NOTE, a one-line summary.
fault_ping_report() {
    local log=$1 t_fault=${2:-0} out
    out=$(awk -v tf="$t_fault" '
        match($0, /^\[[0-9]+\.[0-9]+\]/) {
            ts = substr($0, 2, RLENGTH - 2) * 1000
            seq = -1
            if (match($0, /icmp_seq=[0-9]+/)) seq = substr($0, RSTART + 9, RLENGTH - 9) + 0
            if (seq > maxseq) maxseq = seq
            if ($0 ~ /no answer yet/) { noans[seq] = 1; next }
            if ($0 !~ / bytes from / || $0 ~ /DUP!/ || seq < 0) next
            if (!(seq in replied)) { replied[seq] = 1; recv++ }
            if (have && ts > tf && ts - prev > gap) { gap = ts - prev; from = prev; to = ts }
            prev = ts; have = 1
        }
        END {
            lost = 0
            for (s in noans) if (!(s in replied)) lost++
            printf "%d %d %d %.0f %.0f %.0f\n", maxseq, recv, lost, gap, from, to
        }' "$log")
    read -r P_SENT P_RECV P_LOST P_GAP_MS P_GAP_FROM P_GAP_TO <<<"$out"
    P_RECOVERY_MS=''
    if ((t_fault > 0 && P_GAP_TO > 0)); then P_RECOVERY_MS=$((P_GAP_TO - t_fault)); fi
    PING_NOTE="ping: $P_RECV/$P_SENT answered, $P_LOST lost, longest gap ${P_GAP_MS} ms"
}

# fault_first_reply_after LOG T_MS — epoch ms of the first reply in LOG after T_MS (nothing if
# there is none).
fault_first_reply_after() {
    awk -v t="$2" '
        /^\[[0-9]+\.[0-9]+\] .* bytes from / {
            ts = substr($1, 2, length($1) - 2) * 1000
            if (ts > t) { printf "%.0f\n", ts; exit }
        }' "$1"
}

# ---------------------------------------------------------------- the client's interface

# fault_watch_start — `ip monitor` of links, addresses and routes in the client namespace, to
# SCEN_DIR/ip-monitor.txt (WATCH_LOG).
fault_watch_start() {
    WATCH_LOG=$SCEN_DIR/ip-monitor.txt
    lab_start "$CLI_NS" "$WATCH_LOG" stdbuf -oL ip -ts monitor link address route
    # ip monitor subscribes at once; give it a moment before anything can change.
    sleep 0.3
}

# fault_watch_removals DEV — the monitor's lines that take DEV, its address or a route over it
# away (nothing if none).
fault_watch_removals() {
    grep -E "Deleted .*($1|$OVPN_CLI_IP)" "$WATCH_LOG" 2>/dev/null | cut -c1-160 || true
}

# fault_iface_state DEV [ROUTE_CIDR] — "ok" when DEV exists, is up and has OVPN_CLI_IP/24 (and
# ROUTE_CIDR routed over it); otherwise what is missing.
fault_iface_state() {
    local dev=$1 route=${2:-} link addrs
    link=$(ip -n "$CLI_NS" -o link show dev "$dev" 2>/dev/null) || { echo "$dev missing"; return; }
    [[ $link == *"<"*UP*">"* ]] || { echo "$dev not up"; return; }
    addrs=$(ip -n "$CLI_NS" -4 -o addr show dev "$dev" | awk '{print $4}' | tr '\n' ' ')
    [[ " $addrs" == *" $OVPN_CLI_IP/24 "* ]] || { echo "$dev has '${addrs% }', not $OVPN_CLI_IP/24"; return; }
    if [[ -n $route ]] && ! ip -n "$CLI_NS" -4 route show "$route" | grep -q "dev $dev"; then
        echo "route $route not over $dev"
        return
    fi
    echo ok
}

# fault_sample_iface DEV ROUTE_CIDR SECONDS — fault_iface_state every 0.25 s for SECONDS (or
# until it is not ok); sets IFACE_SAMPLES (how many were ok) and IFACE_BAD (the first problem).
fault_sample_iface() {
    local end=$(($(lab_now_ms) + $3 * 1000)) state
    IFACE_SAMPLES=0 IFACE_BAD=''
    while (($(lab_now_ms) < end)); do
        state=$(fault_iface_state "$1" "$2")
        if [[ $state != ok ]]; then
            IFACE_BAD="$state (after $IFACE_SAMPLES good samples)"
            return
        fi
        IFACE_SAMPLES=$((IFACE_SAMPLES + 1))
        sleep 0.25
    done
}

# ---------------------------------------------------------------- traffic

# fault_xfer_both PORT — one checksummed transfer of PAYLOAD each way at the same time
# (xfer.py; the listeners on OVPN_SRV_IP in the server namespace); scen_fail on a hang, a wrong
# size or checksum. Ports PORT and PORT+1; output in SCEN_DIR/soak-*.txt.
fault_xfer_both() {
    local p=$1 s=$SCEN_DIR/soak pids=() pid got
    lab_start "$SRV_NS" "$s-s2c-srv.txt" "$PYTHON" "$LAB_LIB_DIR/xfer.py" listen --bind "$OVPN_SRV_IP" --port "$p" --send "$PAYLOAD"
    pids+=("$LAB_PID")
    lab_start "$SRV_NS" "$s-c2s-srv.txt" "$PYTHON" "$LAB_LIB_DIR/xfer.py" listen --bind "$OVPN_SRV_IP" --port $((p + 1)) --recv
    pids+=("$LAB_PID")
    lab_wait_until 10 eval "grep -q listening '$s-s2c-srv.txt' && grep -q listening '$s-c2s-srv.txt'" ||
        scen_fail "both ways: the listeners did not start"
    lab_start "$CLI_NS" "$s-s2c-cli.txt" "$PYTHON" "$LAB_LIB_DIR/xfer.py" connect --host "$OVPN_SRV_IP" --port "$p" --recv
    pids+=("$LAB_PID")
    lab_start "$CLI_NS" "$s-c2s-cli.txt" "$PYTHON" "$LAB_LIB_DIR/xfer.py" connect --host "$OVPN_SRV_IP" --port $((p + 1)) --send "$PAYLOAD"
    pids+=("$LAB_PID")
    for pid in "${pids[@]}"; do
        lab_wait_exit "$pid" 180 || scen_fail "both ways: a transfer on port $p/$((p + 1)) hung for 180 s"
        [[ $LAB_RC == 0 ]] || scen_fail "both ways: a transfer on port $p/$((p + 1)) failed: $(cat "$s"-*.txt | grep xfer.py | head -n 2 | tr '\n' ' ')"
    done
    for got in "$s-s2c-cli.txt" "$s-c2s-srv.txt"; do
        local json
        json=$(grep '"sha256"' "$got" || true)
        [[ $(lab_json_field bytes "$json") == "$PAYLOAD_BYTES" && $(lab_json_field sha256 "$json") == "$PAYLOAD_SHA" ]] ||
            scen_fail "both ways: transfer corrupted (${got##*/}): ${json:-no result}; sent $PAYLOAD_BYTES bytes sha256 $PAYLOAD_SHA"
    done
}

# fault_tx_dropped NS DEV — packets the kernel dropped on DEV's transmit queue (to its reader).
fault_tx_dropped() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/tx_dropped" 2>/dev/null || echo '?'; }

# ---------------------------------------------------------------- logs and memory

# fault_log_ms LINE — epoch ms of a tapclient log line (tracing's RFC 3339 UTC timestamp at the
# start); nothing if the line has none.
fault_log_ms() {
    local ts
    ts=$(grep -oE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z' <<<"$1") || return 0
    date -d "$ts" +%s%3N
}

# fault_nth_line FILE REGEX N — the Nth line of FILE matching REGEX (grep -E); nothing if fewer.
fault_nth_line() { grep -E -- "$2" "$1" 2>/dev/null | sed -n "${3}p"; }

# fault_count FILE REGEX — lines of FILE matching REGEX (grep -E), 0 if none or no file.
fault_count() { grep -cE -- "$2" "$1" 2>/dev/null || true; }

# fault_rss_start PID — samples VmRSS (kB) of PID every FAULT_RSS_EVERY (2) s into
# SCEN_DIR/rss.txt ("EPOCH_MS KB" lines) until PID exits. Sets RSS_LOG.
fault_rss_start() {
    RSS_LOG=$SCEN_DIR/rss.txt
    # shellcheck disable=SC2016 # expanded by the inner bash
    lab_start - "$RSS_LOG" bash -c '
        while kb=$(awk "/^VmRSS:/ {print \$2}" "/proc/$1/status" 2>/dev/null) && [[ -n $kb ]]; do
            printf "%s %s\n" "$(date +%s%3N)" "$kb"
            sleep "$2"
        done' rss "$1" "${FAULT_RSS_EVERY:-2}"
}

# fault_rss_report FROM_MS — from the samples at or after FROM_MS (the end of the warm-up):
# RSS_FIRST, RSS_LAST, RSS_MIN, RSS_MAX (kB), RSS_N, RSS_GROWTH (max - first, kB), and
# RSS_ALL_MAX (the peak over every sample, warm-up included).
fault_rss_report() {
    local out
    out=$(awk -v from="$1" '
        { if ($2 > allmax) allmax = $2 }
        $1 >= from {
            n++
            if (n == 1) { first = $2; min = $2; max = $2 }
            if ($2 < min) min = $2
            if ($2 > max) max = $2
            last = $2
        }
        END { printf "%d %d %d %d %d %d\n", n, first, last, min, max, allmax }' "$RSS_LOG")
    read -r RSS_N RSS_FIRST RSS_LAST RSS_MIN RSS_MAX RSS_ALL_MAX <<<"$out"
    RSS_GROWTH=$((RSS_MAX - RSS_FIRST))
}
