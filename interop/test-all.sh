#!/usr/bin/env bash
# Every test of tapclient, in rings (see docs/testing.md):
#   1+2. unit and in-process tests (cargo test --workspace; no root needed)
#   3.   real peers in network namespaces (root): tapserver plain and behind stunnel, and
#        Debian's stock OpenVPN 2.6 server (TAP over TCP) in its variants; faults against that
#        server (restart, link down, TCP reset, ..., a 5-minute rekey run and a 2-minute soak)
#   4.   the same peers in containers (podman here, docker where an engine runs)
# plus the sans-IO boundary check. Installs missing Debian packages when run as root.
#
# usage: sudo interop/test-all.sh
# Exits non-zero if anything failed; a test that needs root or a peer FAILS without them.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/deps.sh
source "$HERE/lib/deps.sh"
deps_ensure

failed=()
passed=0
step() {
    local name=$1
    shift
    echo "==== $name: $*"
    if "$@"; then
        echo "==== $name: ok"
        passed=$((passed + 1))
    else
        echo "==== $name: FAILED"
        failed+=("$name")
    fi
}

sans_io_boundary() {
    # design.md: the protocol engines do no I/O and never read the clock.
    local hits
    hits=$(grep -rnE 'tokio|TcpStream|TcpListener|UdpSocket|std::fs|Instant::now|SystemTime::now' src/ether src/openvpn || true)
    if [[ -n $hits ]]; then
        echo "sans-IO boundary broken:"
        echo "$hits"
        return 1
    fi
}

# Tests that need root fail instead of skipping when this is set (see interop/tapserver/tests).
export TAPCLIENT_REQUIRE_ROOT_TESTS=1

step boundary sans_io_boundary
step build cargo build --workspace --all-targets
step unit cargo test --workspace
if ((EUID != 0)); then
    echo "==== netns, openvpn, import, faults, containers: FAILED (need root: run with sudo)"
    failed+=(netns openvpn import faults containers)
else
    step netns "$HERE/run-netns-tests.sh"
    step openvpn "$HERE/run-openvpn-tests.sh"
    step import "$HERE/run-import-test.sh"
    # About 10 minutes: client-reneg (RENEG_MINUTES=5) and soak (SOAK_SECONDS=120) are most of it.
    step faults "$HERE/run-fault-tests.sh"
    # The debug build from the build step, not a second (release) build.
    step containers env CARGO_PROFILE=dev "$HERE/containers.sh"
fi

if ((${#failed[@]})); then
    echo "test-all: FAILED: ${failed[*]}"
    echo "test-all: $passed passed, ${#failed[@]} failed"
    exit 1
fi
echo "test-all: $passed passed, 0 failed"
