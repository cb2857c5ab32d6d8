#!/usr/bin/env bash
# Ring 4: every scenario of interop/docker-compose.yml (tapclient against stock OpenVPN 2.6 and
# tapserver in containers), with `docker compose` when a Docker engine answers, else with podman.
#
# usage: sudo interop/containers.sh [SCENARIO...]     (default: every check-* service)
#
# On a machine without a Docker engine it first installs what is missing (see interop/README.md,
# "Containers"): podman + debootstrap, runc (crun fails on this VM), /etc/containers/containers.conf
# (runtime runc, ulimits within `ulimit -Hn`), podman-compose from PyPI in a venv under CACHE_DIR,
# and a local debian:bookworm-slim made with debootstrap from the apt mirror (no registry needed;
# the tarball is cached in CACHE_DIR). Then: host-built release binaries, a test PKI, one image,
# the compose file validated offline (`config`), each scenario run with
# `up --abort-on-container-exit --exit-code-from check-NAME check-NAME`, logs of failed ones shown,
# and everything torn down on every exit path: containers, network, the images it built (the lab
# image; the base image if it imported it) unless KEEP_IMAGES=1.
#
# Output: `PASS compose-config: ...`, one `PASS NAME: ...` / `FAIL NAME: reason` line per
# scenario, then exactly `containers: N passed, M failed` (compose-config counts as one). Exit
# status non-zero on any failure. Anything that keeps the scenarios from running FAILS them.
#
# Knobs: CONTAINER_ENGINE=docker|podman (default: docker if `docker info` works), KEEP_IMAGES=1
# (keep images, tagged tapclient-interop:local, for fast reruns), CARGO_PROFILE (default release;
# dev = target/debug), BIN_DIR=DIR (Linux tapclient + tapserver [+ tapclient-certs] to use
# instead of building), XFER_MB (default 16), LAB_NET=198.18.X
# (default: one of 198.18.71-99 that no network, address or route uses), CACHE_DIR (default
# /var/cache/tapclient-containers), REFRESH_BASE=1 (debootstrap again), SCENARIO_TIMEOUT (s, 240),
# KEEP_TMP=1 (keep the run directory).
set -euo pipefail
if [[ $(uname -s) != Linux ]]; then
    echo "FAIL setup: containers.sh runs on Linux (bash 4+); elsewhere use docker compose directly (interop/README.md)"
    echo "containers: 0 passed, 1 failed"
    exit 1
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
COMPOSE_FILE=$HERE/docker-compose.yml
CACHE_DIR=${CACHE_DIR:-/var/cache/tapclient-containers}
KEEP_IMAGES=${KEEP_IMAGES:-0}
SCENARIO_TIMEOUT=${SCENARIO_TIMEOUT:-240}
export XFER_MB=${XFER_MB:-16}
BASE_IMAGE=docker.io/library/debian:bookworm-slim
PROJECT=tapclient-ci-$$
if [[ $KEEP_IMAGES == 1 ]]; then
    export LAB_TAG=local
else
    export LAB_TAG=ci-$$
fi
IMAGE=tapclient-interop:$LAB_TAG
# Server log lines that mean tapclient's packets were refused or its options do not fit.
SERVER_PROBLEMS='Authenticate/Decrypt packet error|AEAD Decrypt error|packet HMAC authentication failed|TLS Error|tls-crypt unwrapping failed|Bad compression|Options error|protocol error from'

RUN_TMP=$(mktemp -d /tmp/tapclient-containers.XXXXXX)
ENGINE=''
COMPOSE=()
PROJECT_USED=0
IMAGE_BUILT=0
BASE_IMPORTED=0
IMAGES_BEFORE=''
IP_FORWARD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo '?')
passed=0
failed=0
T_START=$SECONDS

# The scenarios: the compose file's check-* services, or the ones named on the command line.
mapfile -t ALL_SCENARIOS < <(sed -n 's/^  check-\([a-z0-9-]*\):.*/\1/p' "$COMPOSE_FILE")
if (($#)); then
    SCENARIOS=("$@")
else
    SCENARIOS=("${ALL_SCENARIOS[@]}")
fi

say() { echo "containers: $*"; }
note() { echo "  $*"; }

result() { # PASS|FAIL NAME DETAILS
    echo "$1 $2: $3"
    if [[ $1 == PASS ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
}

# Something every scenario needs did not work: all of them fail, with the reason and a log tail.
fail_all() { # REASON [LOG]
    local s
    if [[ -n ${2:-} && -s $2 ]]; then
        echo "---- last lines of $2"
        tail -n 30 "$2" | sed 's/^/  | /'
    fi
    for s in "${SCENARIOS[@]}"; do
        result FAIL "$s" "$1"
    done
    exit 1
}

compose() {
    TAPCLIENT_PKI=$RUN_TMP/pki "${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" "$@"
}

cleanup() {
    local rc=$? id
    trap - EXIT INT TERM
    if ((PROJECT_USED)); then
        timeout 120 env TAPCLIENT_PKI="$RUN_TMP/pki" "${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" \
            down -t 3 >"$RUN_TMP/down.log" 2>&1 || true
        # Whatever `down` missed (e.g. after an interrupted `up`): only this run's project.
        if [[ $ENGINE == podman ]]; then
            for id in $(podman ps -a -q --filter "label=io.podman.compose.project=$PROJECT" 2>/dev/null); do
                podman rm -f -t 1 "$id" >/dev/null 2>&1 || true
            done
            podman network rm -f "${PROJECT}_lab" >/dev/null 2>&1 || true
        elif [[ $ENGINE == docker ]]; then
            for id in $(docker ps -a -q --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null); do
                docker rm -f "$id" >/dev/null 2>&1 || true
            done
            docker network rm "${PROJECT}_lab" >/dev/null 2>&1 || true
        fi
    fi
    if [[ $KEEP_IMAGES != 1 && -n $ENGINE ]]; then
        if ((IMAGE_BUILT)); then
            "$ENGINE" rmi -f "$IMAGE" >/dev/null 2>&1 || true
        fi
        if [[ $ENGINE == podman && -n $IMAGES_BEFORE ]]; then
            # Intermediate layers of our build (untagged, not there before we started).
            for id in $(podman images -a -q --no-trunc --filter dangling=true 2>/dev/null); do
                grep -qx "$id" <<<"$IMAGES_BEFORE" || podman rmi -f "$id" >/dev/null 2>&1 || true
            done
        fi
        if ((BASE_IMPORTED)); then
            "$ENGINE" rmi "$BASE_IMAGE" >/dev/null 2>&1 || true
        fi
    fi
    # netavark switched on IPv4 forwarding; switch it back off when it was off and no other
    # containers run.
    if [[ $ENGINE == podman && $IP_FORWARD_BEFORE == 0 ]] && [[ -z $(podman ps -q 2>/dev/null) ]]; then
        echo 0 >/proc/sys/net/ipv4/ip_forward 2>/dev/null || true
    fi
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        echo "containers: run directory kept: $RUN_TMP"
    elif ((failed)); then
        rm -rf "$RUN_TMP/context" "$RUN_TMP/pki" "$RUN_TMP/rootfs"
        echo "containers: logs kept in $RUN_TMP"
    else
        rm -rf "$RUN_TMP"
    fi
    echo "containers: $passed passed, $failed failed"
    if ((rc == 0 && failed)); then
        rc=1
    fi
    exit "$rc"
}
CURRENT=''   # the scenario running
CHILD_PID='' # its `timeout ... up` (run in the background, so that signals are handled at once)
interrupted() {
    [[ -n $CHILD_PID ]] && kill -TERM "$CHILD_PID" 2>/dev/null
    result FAIL "${CURRENT:-setup}" "interrupted"
    exit 130
}
trap cleanup EXIT
trap interrupted INT TERM

if ((${#SCENARIOS[@]} == 0)); then
    result FAIL compose-config "no check-* services found in $COMPOSE_FILE"
    exit 1
fi
for s in "${SCENARIOS[@]}"; do
    if ! printf '%s\n' "${ALL_SCENARIOS[@]}" | grep -qx -- "$s"; then
        echo "unknown scenario '$s'; known: ${ALL_SCENARIOS[*]}" >&2
        exit 2
    fi
done

if [[ -n ${LAB_NET:-} ]] && { [[ ! $LAB_NET =~ ^198\.18\.([0-9]{1,3})$ ]] || ((BASH_REMATCH[1] > 255)); }; then
    fail_all "LAB_NET=$LAB_NET: must be 198.18.X, X in 0-255 (the benchmarking range)"
fi

# ------------------------------------------------------------------ engine

apt_install() { # [--no-install-recommends] PACKAGE...
    export DEBIAN_FRONTEND=noninteractive
    if [[ ! -e $RUN_TMP/apt-updated ]]; then
        apt-get update -qq >>"$RUN_TMP/apt.log" 2>&1 || return 1
        touch "$RUN_TMP/apt-updated"
    fi
    apt-get install -y -qq "$@" >>"$RUN_TMP/apt.log" 2>&1
}

# /etc/containers/containers.conf: runc (crun fails here: "cgroups in hybrid mode not supported")
# and ulimits the VM allows (podman's defaults fail with "setrlimit RLIMIT_NOFILE").
CONF_MARK='# tapclient interop/containers.sh'
ensure_containers_conf() {
    local conf=/etc/containers/containers.conf hard
    hard=$(ulimit -Hn)
    [[ $hard == unlimited ]] && hard=1048576
    if [[ -e $conf ]] && ! grep -qF "$CONF_MARK" "$conf"; then
        if grep -q '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$conf" &&
            grep -q '^[[:space:]]*default_ulimits' "$conf"; then
            return 0 # someone else's file that already has both fixes
        fi
        echo "$conf exists without runtime = \"runc\" and default_ulimits; add them (see interop/README.md, Containers)" >&2
        return 1
    fi
    mkdir -p /etc/containers
    cat >"$conf.tmp" <<EOF
$CONF_MARK: podman on this machine (interop/README.md, "Containers").
# crun fails with "cgroups in hybrid mode not supported"; podman's default ulimits exceed what
# the VM allows (setrlimit RLIMIT_NOFILE: Operation not permitted).
[containers]
default_ulimits = ["nofile=$hard:$hard", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
    mv "$conf.tmp" "$conf"
}

# podman-compose >= 1.1 (Debian's 1.0.3 has no `config`), from PyPI into a venv in CACHE_DIR.
PODMAN_COMPOSE=''
ensure_podman_compose() {
    local venv=$CACHE_DIR/podman-compose
    if [[ ! -x $venv/bin/podman-compose ]] || ! "$venv/bin/podman-compose" version >/dev/null 2>&1; then
        rm -rf "$venv"
        mkdir -p "$CACHE_DIR"
        if ! python3 -m venv "$venv" >>"$RUN_TMP/pip.log" 2>&1; then
            rm -rf "$venv"
            apt_install python3-venv || return 1
            python3 -m venv "$venv" >>"$RUN_TMP/pip.log" 2>&1 || return 1
        fi
        "$venv/bin/pip" install -q 'podman-compose>=1.1' >>"$RUN_TMP/pip.log" 2>&1 || return 1
    fi
    PODMAN_COMPOSE=$venv/bin/podman-compose
}

# The Debian mirror apt uses (the "bookworm" suite), for debootstrap.
apt_mirror() {
    local f=/etc/apt/sources.list.d/debian.sources m=''
    if [[ -r $f ]]; then
        m=$(awk 'BEGIN { RS = "" }
            {
                n = split($0, lines, "\n"); uri = ""; hit = 0
                for (i = 1; i <= n; i++) {
                    if (lines[i] ~ /^#/) continue
                    if (lines[i] ~ /^URIs:/) { split(lines[i], u, " "); uri = u[2] }
                    if (lines[i] ~ /^Suites:/) {
                        k = split(lines[i], s, " ")
                        for (j = 2; j <= k; j++) if (s[j] == "bookworm") hit = 1
                    }
                }
                if (hit && uri != "") { print uri; exit }
            }' "$f")
    fi
    if [[ -z $m && -r /etc/apt/sources.list ]]; then
        m=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

# debian:bookworm-slim: the real one if present (Docker users pull it), else debootstrap
# --variant=minbase from the apt mirror (tarball cached in CACHE_DIR) + podman import.
ensure_base_image() {
    podman image exists "$BASE_IMAGE" && return 0
    local tarball=$CACHE_DIR/debian-bookworm-minbase.tar rootfs=$RUN_TMP/rootfs mirror
    if [[ ${REFRESH_BASE:-0} == 1 || ! -s $tarball ]]; then
        mirror=$(apt_mirror)
        note "debootstrap --variant=minbase bookworm from $mirror (cached afterwards in $tarball)"
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$RUN_TMP/debootstrap.log" 2>&1 || return 1
        # Like the -slim image: no docs, man pages, locales or apt caches.
        rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* \
            "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        # apt inside builds uses the suites the host uses (updates, security).
        if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
            cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
            rm -f "$rootfs/etc/apt/sources.list"
        fi
        mkdir -p "$CACHE_DIR"
        tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" . || return 1
        mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' "$tarball" "$BASE_IMAGE" >"$RUN_TMP/import.log" 2>&1 || return 1
    BASE_IMPORTED=1
}

prepare_podman() {
    local missing=()
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    if ((${#missing[@]})); then
        note "installing ${missing[*]}"
        apt_install "${missing[@]}" || return 1
    fi
    if ! command -v runc >/dev/null 2>&1; then
        note "installing runc"
        apt_install --no-install-recommends runc || return 1
    fi
    ensure_containers_conf || return 1
    ensure_podman_compose || return 1
    local runtime
    runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>>"$RUN_TMP/apt.log") || return 1
    if [[ $runtime != runc ]]; then
        echo "podman uses $runtime, not runc (check /etc/containers/containers.conf)" >&2
        return 1
    fi
}

T0=$SECONDS
use_docker=0
case ${CONTAINER_ENGINE:-} in
docker) use_docker=1 ;;
podman) ;;
'') if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then use_docker=1; fi ;;
*)
    echo "CONTAINER_ENGINE must be docker or podman" >&2
    exit 2
    ;;
esac
if ((use_docker)); then
    ENGINE=docker
    if ! docker info >/dev/null 2>&1; then
        fail_all "CONTAINER_ENGINE=docker, but \`docker info\` fails (no Docker engine answers)"
    fi
    if ! docker compose version >/dev/null 2>&1; then
        fail_all "a Docker engine answers but 'docker compose' (the compose plugin) is missing"
    fi
    COMPOSE=(docker compose)
    say "engine: docker ($(docker version --format '{{.Server.Version}}' 2>/dev/null)), $(docker compose version --short 2>/dev/null)"
else
    ENGINE=podman
    if ((EUID != 0)); then
        fail_all "no Docker engine, and podman needs root here: run with sudo"
    fi
    say "engine: podman (no Docker engine answers)"
    if ! prepare_podman 2>>"$RUN_TMP/prepare.log"; then
        cat "$RUN_TMP"/apt.log "$RUN_TMP"/pip.log >>"$RUN_TMP/prepare.log" 2>/dev/null || true
        fail_all "could not prepare podman (packages, containers.conf, podman-compose)" "$RUN_TMP/prepare.log"
    fi
    COMPOSE=("$PODMAN_COMPOSE")
    say "podman $(podman version --format '{{.Client.Version}}'), runc, $("$PODMAN_COMPOSE" version 2>/dev/null | sed -n 's/^podman-compose version //p' | head -n1 | sed 's/^/podman-compose /')"
    if ! ensure_base_image 2>>"$RUN_TMP/prepare.log"; then
        cat "$RUN_TMP"/debootstrap.log "$RUN_TMP"/import.log >>"$RUN_TMP/prepare.log" 2>/dev/null || true
        fail_all "could not make $BASE_IMAGE (debootstrap from $(apt_mirror), podman import)" "$RUN_TMP/prepare.log"
    fi
fi
T_ENGINE=$((SECONDS - T0))

# ------------------------------------------------------------------ binaries, PKI, image

T0=$SECONDS
if [[ -z ${BIN_DIR:-} ]]; then
    if ! command -v cargo >/dev/null 2>&1; then
        for c in "${SUDO_USER:+$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cargo/bin}" "$HOME/.cargo/bin" /root/.cargo/bin; do
            if [[ -n $c && -x $c/cargo ]]; then
                export PATH="$c:$PATH"
                break
            fi
        done
    fi
    profile=${CARGO_PROFILE:-release}
    if ! (cd "$ROOT" && cargo build --profile "$profile" -p tapclient -p tapserver -p tapclient-certs) >"$RUN_TMP/cargo.log" 2>&1; then
        fail_all "cargo build --profile $profile failed" "$RUN_TMP/cargo.log"
    fi
    if [[ $profile == dev ]]; then
        BIN_DIR=$ROOT/target/debug
    else
        BIN_DIR=$ROOT/target/$profile
    fi
fi
CERTS_BIN=${TAPCLIENT_CERTS:-$BIN_DIR/tapclient-certs}
[[ -x $CERTS_BIN ]] || CERTS_BIN='' # make-pki.sh then uses `cargo run --release -p tapclient-certs`
for b in tapclient tapserver; do
    [[ -x $BIN_DIR/$b ]] || fail_all "$BIN_DIR/$b is missing"
done
T_CARGO=$((SECONDS - T0))

if ! TAPCLIENT_CERTS=$CERTS_BIN "$HERE/containers/make-pki.sh" "$RUN_TMP/pki" >"$RUN_TMP/pki.log" 2>&1; then
    fail_all "could not make the test PKI (containers/make-pki.sh)" "$RUN_TMP/pki.log"
fi

# The build context: the lab scripts and the binaries (without debug info: a smaller image).
T0=$SECONDS
ctx=$RUN_TMP/context
mkdir -p "$ctx/bin"
cp -r "$HERE/containers/Containerfile" "$HERE/containers/.dockerignore" "$HERE/containers/lab" "$ctx/"
for b in tapclient tapserver; do
    if command -v objcopy >/dev/null 2>&1; then
        objcopy --strip-debug "$BIN_DIR/$b" "$ctx/bin/$b" 2>/dev/null || cp "$BIN_DIR/$b" "$ctx/bin/$b"
    else
        cp "$BIN_DIR/$b" "$ctx/bin/$b"
    fi
done
chmod 0755 "$ctx/bin/"* "$ctx/lab/entrypoint.sh" "$ctx/lab/lab.py"
if [[ $ENGINE == podman ]]; then
    IMAGES_BEFORE=$(podman images -a -q --no-trunc 2>/dev/null || true)
    # --network host: the RUN steps (apt-get) use the host's network instead of podman's default
    # bridge (10.88.0.0/16), so no other container network appears on the host.
    build=(podman build --network host -t "$IMAGE" -f "$ctx/Containerfile" "$ctx")
else
    build=(docker build -t "$IMAGE" -f "$ctx/Containerfile" "$ctx")
fi
IMAGE_BUILT=1
if ! "${build[@]}" >"$RUN_TMP/build.log" 2>&1; then
    fail_all "building $IMAGE failed" "$RUN_TMP/build.log"
fi
T_BUILD=$((SECONDS - T0))

# ------------------------------------------------------------------ network, compose config

if [[ -z ${LAB_NET:-} ]]; then
    used=$(
        ip -4 route show table all 2>/dev/null || true
        ip -4 address show 2>/dev/null || true
        # shellcheck disable=SC2046 # one argument per network id
        "$ENGINE" network inspect $("$ENGINE" network ls -q 2>/dev/null) 2>/dev/null || true
    )
    # Start at a place that depends on our PID: runs at the same time rarely pick the same one
    # (a run's network exists only while a scenario runs).
    for i in $(seq 0 28); do
        x=$((71 + ($$ + i) % 29))
        if ! grep -q "198\.18\.$x\." <<<"$used"; then
            LAB_NET=198.18.$x
            break
        fi
    done
    [[ -n ${LAB_NET:-} ]] || fail_all "no free 198.18.71-99.0/24 subnet for the container network"
fi
export LAB_NET

# Offline validation: the engine's own parser, then what this lab relies on.
if ! compose config >"$RUN_TMP/config.yml" 2>"$RUN_TMP/config.err"; then
    result FAIL compose-config "\`compose config\` rejects $COMPOSE_FILE: $(head -c 300 "$RUN_TMP/config.err" | tr '\n' ' ')"
    fail_all "the compose file is invalid"
fi
PY=python3
[[ $ENGINE == podman ]] && PY=$(dirname "$PODMAN_COMPOSE")/python # has PyYAML
if ! "$PY" -c 'import yaml' 2>/dev/null; then
    config_check="$ENGINE compose config ok (no PyYAML for the structural check)"
elif ! config_check=$("$PY" - "$RUN_TMP/config.yml" <<'EOF' 2>&1
import ipaddress, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
svcs, nets, errs = c.get("services") or {}, c.get("networks") or {}, []
bench = ipaddress.ip_network("198.18.0.0/16")
subnets = []
for name, n in nets.items():
    cfgs = ((n or {}).get("ipam") or {}).get("config") or []
    if not cfgs:
        errs.append(f"network {name}: no explicit subnet")
    for cfg in cfgs:
        net = ipaddress.ip_network(cfg["subnet"])
        subnets.append(str(net))
        if net.prefixlen != 24 or not net.subnet_of(bench):
            errs.append(f"network {name}: {net} is not a 198.18.x.0/24")
checks = [s for s in svcs if s.startswith("check-")]
for name, s in svcs.items():
    caps = set(s.get("cap_add") or [])
    if not {"NET_ADMIN", "NET_RAW"} <= caps:
        errs.append(f"{name}: cap_add lacks NET_ADMIN/NET_RAW")
    devs = [d.get("source", "") if isinstance(d, dict) else str(d) for d in s.get("devices") or []]
    if not any(d.startswith("/dev/net/tun") for d in devs):
        errs.append(f"{name}: no /dev/net/tun device")
    if not s.get("networks"):
        errs.append(f"{name}: on no explicit network")
for name in checks:
    s = svcs[name]
    deps = list(s.get("depends_on") or [])
    if len(deps) != 1 or deps[0] not in svcs:
        errs.append(f"{name}: must depend on exactly one server service, has {deps}")
    cmd = s.get("command") or []
    if not cmd or cmd[0] != "check" or len(cmd) != 5:
        errs.append(f"{name}: command must be check SCENARIO PROTOCOL VARIANT HOST:PORT")
if errs:
    print("; ".join(errs))
    sys.exit(1)
print(f"{len(svcs)} services, {len(checks)} scenarios, subnet {', '.join(subnets)}, caps and /dev/net/tun everywhere")
EOF
); then
    result FAIL compose-config "$config_check"
    fail_all "the compose file breaks the lab's rules"
fi
result PASS compose-config "${COMPOSE[*]##*/} config: $config_check"
say "prepared in $((SECONDS - T_START)) s (engine $T_ENGINE s, cargo $T_CARGO s, image build $T_BUILD s)"

# ------------------------------------------------------------------ scenarios

PROJECT_USED=1
run_scenario() {
    local s=$1 svc=check-$1 log=$RUN_TMP/$1.log rc=0 t0=$SECONDS line reason problems
    CURRENT=$s
    timeout -k 10 "$SCENARIO_TIMEOUT" env TAPCLIENT_PKI="$RUN_TMP/pki" "${COMPOSE[@]}" -p "$PROJECT" \
        -f "$COMPOSE_FILE" up --no-build --abort-on-container-exit --exit-code-from "$svc" "$svc" \
        </dev/null >"$log.raw" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=''
    sed 's/\x1b\[[0-9;]*m//g' "$log.raw" >"$log"
    rm -f "$log.raw"
    line=$(grep -a -o "check: \(PASS\|FAIL\) $s: .*" "$log" | tail -n 1 || true)
    problems=$(grep -a -E "$SERVER_PROBLEMS" "$log" | head -n 3 || true)
    if ((rc == 0)) && [[ $line == "check: PASS $s: "* && -z $problems ]]; then
        result PASS "$s" "${line#"check: PASS $s: "} ($((SECONDS - t0)) s)"
    else
        if ((rc == 124)); then
            reason="no result within ${SCENARIO_TIMEOUT} s"
        elif [[ $line == "check: FAIL $s: "* ]]; then
            reason=${line#"check: FAIL $s: "}
        elif [[ -n $problems ]]; then
            reason="server logged: $(head -n 1 <<<"$problems")"
        elif [[ -z $line ]]; then
            reason="the check never reported (compose exit $rc)"
        else
            reason="compose exit $rc"
        fi
        result FAIL "$s" "$reason (exit $rc, $((SECONDS - t0)) s; log $log)"
        echo "---- $s: last 60 lines of the compose log"
        tail -n 60 "$log" | sed 's/^/  | /'
    fi
    # Next scenario from a clean slate: containers and network of this one go.
    timeout 120 env TAPCLIENT_PKI="$RUN_TMP/pki" "${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" \
        down -t 3 >>"$log" 2>&1 || true
    CURRENT=''
}

T0=$SECONDS
for s in "${SCENARIOS[@]}"; do
    run_scenario "$s"
done
say "scenarios took $((SECONDS - T0)) s, ${SECONDS} s in all"
