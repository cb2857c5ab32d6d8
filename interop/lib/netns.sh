# shellcheck shell=bash
# Globals set here are read by the sourcing scripts:
# shellcheck disable=SC2034
# Network-namespace lab for tapclient interop tests. Source this file; it defines functions only.
#
# Safety (see shared/interop-lab.md): everything lives in two namespaces this run creates,
# ${LAB_PREFIX}-srv and ${LAB_PREFIX}-cli; both veth ends are created directly inside them, so
# nothing is ever configured in the root namespace. Processes are started with lab_start, which
# records "PID STARTTIME" in $LAB_TMP/pids; lab_cleanup stops only those (checking the start time,
# so a reused PID is never hit) and deletes only our namespaces.
#
# Required before use: LAB_TMP (an existing directory for logs, configs and the PID list; lab_init
# makes one). Optional: LAB_PREFIX (default tc$$), TAPSERVER, PYTHON (default python3).

LAB_PREFIX=${LAB_PREFIX:-tc$$}
SRV_NS="${LAB_PREFIX}-srv"
CLI_NS="${LAB_PREFIX}-cli"
SRV_UNDERLAY=198.18.0.1
CLI_UNDERLAY=198.18.0.2
SRV_TAP_IP=10.98.0.1
CLI_TUN_IP=10.98.0.2
TAP_IF=tap0
PLAIN_PORT=55555
TLS_PORT=55556
PYTHON=${PYTHON:-python3}
LAB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

LAB_PID=''  # set by lab_start
LAB_RC=''   # set by lab_wait_exit / lab_stop
LAB_MS=''   # set by lab_wait_ping

lab_now_ms() { date +%s%3N; }

lab_note() { printf '    [%s] %s\n' "$(date +%T)" "$*" >&2; }

# ---------------------------------------------------------------- run setup

# lab_init NAME — a new LAB_TMP (${TMPDIR:-/tmp}/NAME.XXXXXX) with an empty PID list, and the
# traps of a lab script: on exit lab_on_exit; SIGINT/SIGTERM exit 130 (through lab_on_exit).
# Call at the top level of the script (not in $(...)), right after sourcing this file.
lab_init() {
    LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    : >"$LAB_TMP/pids"
    trap lab_on_exit EXIT
    trap 'exit 130' INT TERM
}

# EXIT trap: stop our processes, delete our namespaces; then delete LAB_TMP if the script
# succeeded and KEEP_TMP is not set, else print "logs: LAB_TMP" (stdout).
lab_on_exit() {
    local rc=$?
    lab_cleanup
    if ((rc == 0)) && [[ -z ${KEEP_TMP:-} ]]; then
        rm -rf "$LAB_TMP"
    else
        echo "logs: $LAB_TMP"
    fi
}

# ---------------------------------------------------------------- processes

# The kernel start time of PID (field 22 of /proc/PID/stat), or nothing.
lab_starttime() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }  # drop "pid (comm) ", comm may contain spaces
    # shellcheck disable=SC2086
    set -- $stat
    printf '%s' "${20}"
}

# lab_start NS LOGFILE CMD...  — run CMD in namespace NS (or the current one if NS is "-") in
# the background, stdout+stderr to LOGFILE; sets LAB_PID. Must not be called in $(...).
lab_start() {
    local ns=$1 log=$2
    shift 2
    if [[ $ns == - ]]; then
        "$@" >"$log" 2>&1 </dev/null &
    else
        ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
    fi
    LAB_PID=$!
    printf '%s %s\n' "$LAB_PID" "$(lab_starttime "$LAB_PID")" >>"$LAB_TMP/pids"
}

lab_alive() { kill -0 "$1" 2>/dev/null; }

# lab_wait_exit PID TIMEOUT_S — wait for our child PID to exit; sets LAB_RC. 1 on timeout.
lab_wait_exit() {
    local pid=$1 deadline=$(($(lab_now_ms) + $2 * 1000))
    # stderr off: bash reports "Killed" etc. for a reaped job, which is expected here.
    {
        while lab_alive "$pid"; do
            if (($(lab_now_ms) >= deadline)); then
                return 1
            fi
            sleep 0.1
        done
        LAB_RC=0
        wait "$pid" || LAB_RC=$?
    } 2>/dev/null
    return 0
}

# lab_stop PID [TIMEOUT_S=10] — SIGTERM, wait, SIGKILL if needed; sets LAB_RC.
# Returns 1 if SIGKILL was needed.
lab_stop() {
    local pid=$1 timeout=${2:-10}
    if lab_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
    fi
    if lab_wait_exit "$pid" "$timeout"; then
        return 0
    fi
    kill -KILL "$pid" 2>/dev/null || true
    lab_wait_exit "$pid" 5 || true
    return 1
}

# Stops every process recorded in $LAB_TMP/pids that is still the same process.
lab_kill_recorded() {
    local pid start pids=()
    [[ -f $LAB_TMP/pids ]] || return 0
    while read -r pid start; do
        if [[ -n $pid && -n $start ]] && lab_alive "$pid" && [[ $(lab_starttime "$pid") == "$start" ]]; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done <"$LAB_TMP/pids"
    local deadline=$(($(lab_now_ms) + 5000))
    for pid in "${pids[@]}"; do
        while lab_alive "$pid" && (($(lab_now_ms) < deadline)); do sleep 0.1; done
        if lab_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        wait "$pid" 2>/dev/null || true
    done
    : >"$LAB_TMP/pids"
}

# ---------------------------------------------------------------- namespaces

lab_ns_exists() { [[ -e /run/netns/$1 ]]; }

# Creates both namespaces, lo up, and the underlay veth pair 198.18.0.1/30 <-> 198.18.0.2/30.
lab_netns_up() {
    local ns
    for ns in "$SRV_NS" "$CLI_NS"; do
        if lab_ns_exists "$ns"; then
            echo "namespace $ns already exists" >&2
            return 1
        fi
    done
    ip netns add "$SRV_NS"
    ip netns add "$CLI_NS"
    ip -n "$SRV_NS" link set lo up
    ip -n "$CLI_NS" link set lo up
    # Both ends are created inside the namespaces: nothing appears in the root namespace.
    ip -n "$SRV_NS" link add u-srv type veth peer name u-cli netns "$CLI_NS"
    ip -n "$SRV_NS" addr add "$SRV_UNDERLAY/30" dev u-srv
    ip -n "$CLI_NS" addr add "$CLI_UNDERLAY/30" dev u-cli
    ip -n "$SRV_NS" link set u-srv up
    ip -n "$CLI_NS" link set u-cli up
}

# Deletes our namespaces (processes should be stopped first: lab_cleanup does both).
lab_netns_down() {
    local ns
    for ns in "$CLI_NS" "$SRV_NS"; do
        if lab_ns_exists "$ns"; then
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
}

# For traps: stop our processes, delete our namespaces. Safe to call more than once.
lab_cleanup() {
    lab_kill_recorded
    lab_netns_down
}

# ---------------------------------------------------------------- waiting

# lab_wait_until TIMEOUT_S CMD... — poll CMD every 0.2 s until it succeeds. 1 on timeout.
lab_wait_until() {
    local deadline=$(($(lab_now_ms) + $1 * 1000))
    shift
    until "$@" >/dev/null 2>&1; do
        if (($(lab_now_ms) >= deadline)); then
            return 1
        fi
        sleep 0.2
    done
}

lab_link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }

# Is something listening on TCP PORT in namespace NS?
lab_listening() {
    [[ -n $(ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null) ]]
}

lab_log_has() { grep -q -- "$2" "$1" 2>/dev/null; }

# lab_wait_ping NS DST TIMEOUT_S [PID] — single pings until one is answered; LAB_MS = time taken.
# Stops early (1) if PID (the client) has exited.
lab_wait_ping() {
    local ns=$1 dst=$2 start deadline pid=${4:-}
    start=$(lab_now_ms)
    deadline=$((start + $3 * 1000))
    until ip netns exec "$ns" ping -c 1 -W 1 -q "$dst" >/dev/null 2>&1; do
        if (($(lab_now_ms) >= deadline)); then
            return 1
        fi
        if [[ -n $pid ]] && ! lab_alive "$pid"; then
            return 1
        fi
        sleep 0.2
    done
    LAB_MS=$(($(lab_now_ms) - start))
}

# lab_ping_n NS DST COUNT — COUNT pings 0.2 s apart; succeeds only if all are answered.
# Prints ping's summary line (or the reason) on stdout.
lab_ping_n() {
    local out received
    out=$(timeout $(($3 + 10)) ip netns exec "$1" ping -n -c "$3" -i 0.2 -W 2 "$2" 2>&1) || true
    received=$(sed -n 's/.* \([0-9]\+\) received.*/\1/p' <<<"$out")
    printf '%s\n' "$(grep -E 'received|rtt' <<<"$out" | tr '\n' ' ')"
    [[ ${received:-0} == "$3" ]]
}

lab_mac_of() { ip -n "$1" -br link show dev "$2" 2>/dev/null | awk '{print $3}'; }

# lab_neigh_lladdr LINE — the MAC of an `ip neigh` line ("... lladdr MAC ..."), or nothing.
lab_neigh_lladdr() { awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}' <<<"$1"; }

# lab_logged_mac LOGFILE — the first MAC the log names as "mac=..." (or "mac ..."), lower case;
# nothing if there is none.
lab_logged_mac() {
    grep -oiE 'mac[= ]"?([0-9a-f]{2}:){5}[0-9a-f]{2}' "$1" | head -n 1 |
        grep -oiE '([0-9a-f]{2}:){5}[0-9a-f]{2}' | tr 'A-F' 'a-f' || true
}

# ---------------------------------------------------------------- transfers

# lab_make_payload FILE MIB — MIB MiB of random bytes in FILE; sets PAYLOAD_BYTES and PAYLOAD_SHA
# (its size and SHA-256) for the checks of lib/xfer.py transfers.
lab_make_payload() {
    head -c "${2}M" /dev/urandom >"$1"
    PAYLOAD_BYTES=$(stat -c %s "$1")
    PAYLOAD_SHA=$(sha256sum "$1" | cut -d' ' -f1)
}

# lab_json_field NAME JSON — the value of "NAME" in xfer.py's one-line JSON (quotes dropped).
lab_json_field() { sed -n "s/.*\"$1\": \"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2" | head -n 1; }

# ---------------------------------------------------------------- servers

# lab_start_tapserver LOGFILE [TAPSERVER ARGS...] — tapserver in the server namespace; once the
# TAP exists and it listens, give tap0 10.98.0.1/24 and bring it up. Sets TAPSERVER_PID.
lab_start_tapserver() {
    local log=$1
    shift
    : "${TAPSERVER:?TAPSERVER is not set}"
    lab_start "$SRV_NS" "$log" "$TAPSERVER" --tap "$TAP_IF" "$@"
    TAPSERVER_PID=$LAB_PID
    if ! lab_wait_until 10 lab_link_exists "$SRV_NS" "$TAP_IF"; then
        echo "tapserver: $TAP_IF did not appear within 10 s" >&2
        return 1
    fi
    if ! lab_wait_until 10 lab_log_has "$log" "listening on"; then
        echo "tapserver: no 'listening on' line within 10 s" >&2
        return 1
    fi
    ip -n "$SRV_NS" addr add "$SRV_TAP_IP/24" dev "$TAP_IF"
    ip -n "$SRV_NS" link set "$TAP_IF" up
}

# lab_start_stunnel DIR PKI_DIR — stunnel in the server namespace: TLS on 198.18.0.1:55556,
# client certificate required (verify = 2), plaintext to 127.0.0.1:55555. Sets STUNNEL_PID.
lab_start_stunnel() {
    local dir=$1 pki=$2
    cat >"$dir/stunnel.conf" <<EOF
foreground = yes
pid = $dir/stunnel.pid
syslog = no
debug = info

[tapserver]
accept = $SRV_UNDERLAY:$TLS_PORT
connect = 127.0.0.1:$PLAIN_PORT
cert = $pki/server.crt
key = $pki/server.key
CAfile = $pki/ca.crt
verify = 2
EOF
    lab_start "$SRV_NS" "$dir/stunnel.log" stunnel "$dir/stunnel.conf"
    STUNNEL_PID=$LAB_PID
    if ! lab_wait_until 10 lab_listening "$SRV_NS" "$TLS_PORT"; then
        echo "stunnel: not listening on $SRV_UNDERLAY:$TLS_PORT within 10 s" >&2
        return 1
    fi
}

# lab_probe [TAPPROBE ARGS...] — the python simpletun client, run in the client namespace.
lab_probe() {
    timeout 30 ip netns exec "$CLI_NS" "$PYTHON" "$LAB_LIB_DIR/tapprobe.py" "$@"
}
