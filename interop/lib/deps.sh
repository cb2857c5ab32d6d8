# shellcheck shell=bash
# Installs what tapclient's tests and demo need on Debian, when it is missing. Sourced.
#
# deps_ensure: apt packages (as root; `apt-get update` once if anything is missing) and a Rust
# toolchain check. Prints what it does; returns non-zero with a clear message when it cannot.

DEPS_PACKAGES=(iproute2 iputils-ping stunnel4 openssl python3 iperf3 procps openvpn nftables)
# command → package, to test for presence cheaply
declare -A DEPS_PROBE=([ip]=iproute2 [ping]=iputils-ping [stunnel]=stunnel4 [openssl]=openssl
    [python3]=python3 [iperf3]=iperf3 [pkill]=procps [openvpn]=openvpn [nft]=nftables)

deps_ensure() {
    local missing=() cmd
    for cmd in "${!DEPS_PROBE[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("${DEPS_PROBE[$cmd]}")
    done
    if ((${#missing[@]})); then
        if ((EUID != 0)); then
            echo "deps: missing ${missing[*]}; run as root (sudo) so they can be installed" >&2
            return 1
        fi
        echo "deps: installing ${DEPS_PACKAGES[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 || return 1
        apt-get install -y -qq "${DEPS_PACKAGES[@]}" >&2 || return 1
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        local c
        for c in "${SUDO_USER:+$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cargo/bin}" "$HOME/.cargo/bin" /root/.cargo/bin; do
            if [[ -n $c && -x $c/cargo ]]; then
                export PATH="$c:$PATH"
                break
            fi
        done
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "deps: no Rust toolchain (cargo) found; install one with rustup (https://rustup.rs), Rust 1.80 or newer" >&2
        return 1
    fi
}
