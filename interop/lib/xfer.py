#!/usr/bin/env python3
"""Checksummed bulk TCP transfer for the interop lab (no nc needed).

One side listens, the other connects; either side may be the sender. The sender streams a file,
half-closes and waits for the receiver to close; the receiver hashes what arrives. Both print one
JSON line on stdout: {"role", "bytes", "sha256", "seconds", "mbit_s"}. The listener prints
"listening" on stderr once it is bound.

  xfer.py listen  --bind 10.98.0.1 --port 5001 --send FILE | --recv
  xfer.py connect --host 10.98.0.1 --port 5001 --send FILE | --recv
"""
import argparse
import hashlib
import json
import socket
import sys
import time

CHUNK = 256 * 1024


def send(sock, path, timeout):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                break
            sock.sendall(b)
            h.update(b)
            n += len(b)
    sock.shutdown(socket.SHUT_WR)
    # Wait for the receiver to close: then everything was delivered.
    sock.settimeout(timeout)
    while sock.recv(4096):
        pass
    return n, h.hexdigest()


def recv(sock):
    h = hashlib.sha256()
    n = 0
    while True:
        b = sock.recv(CHUNK)
        if not b:
            break
        h.update(b)
        n += len(b)
    return n, h.hexdigest()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["listen", "connect"])
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--host")
    p.add_argument("--port", type=int, required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--send", metavar="FILE")
    g.add_argument("--recv", action="store_true")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="socket inactivity timeout in seconds (also for accept)")
    a = p.parse_args()

    if a.mode == "listen":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((a.bind, a.port))
        ls.listen(1)
        ls.settimeout(a.timeout)
        print("listening", file=sys.stderr, flush=True)
        sock, _ = ls.accept()
        ls.close()
    else:
        if not a.host:
            p.error("connect needs --host")
        sock = socket.create_connection((a.host, a.port), timeout=a.timeout)
    sock.settimeout(a.timeout)

    t0 = time.monotonic()
    if a.send:
        n, digest = send(sock, a.send, a.timeout)
        role = "sender"
    else:
        n, digest = recv(sock)
        role = "receiver"
    sock.close()
    dt = max(time.monotonic() - t0, 1e-9)
    print(json.dumps({"role": role, "bytes": n, "sha256": digest,
                      "seconds": round(dt, 3), "mbit_s": round(n * 8 / dt / 1e6, 1)}),
          flush=True)


if __name__ == "__main__":
    try:
        main()
    except (OSError, socket.timeout) as e:
        print(f"xfer.py: {e}", file=sys.stderr)
        sys.exit(1)
