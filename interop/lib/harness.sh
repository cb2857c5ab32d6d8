# shellcheck shell=bash
# PASS/FAIL bookkeeping for the lab scripts. Source after netns.sh.
#
# Each scenario is a function run in its own subshell with `set -eE`: an unexpected failing
# command fails that scenario (with the line and command), not the whole run. The subshell's EXIT
# trap stops its processes and deletes the namespaces, so every scenario starts clean.
# Inside a scenario: SCEN_DIR is its log directory; end with scen_pass NOTE or scen_fail REASON.

H_PASSED=0
H_FAILED=0
H_RESULTS=()

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
