#!/usr/bin/env python3
"""The checks of the container scenarios (interop/docker-compose.yml); python3 stdlib only.

  lab.py agent --tap tap0 --local 10.99.0.1 [--port 7000]
      Server side. Answers one JSON request per TCP connection, and only on connections made to
      --local (the server's tunnel address), so everything it does was asked through the tunnel:
        {"op": "ping", "host": IP, "count": N}  forget IP's MAC on --tap, ping it N times (the
            client must answer our ARP), reply {"sent", "received", "lladdr", "out"}
        {"op": "upload", "bytes": N}  then N bytes: reply {"bytes", "sha256"} of what arrived
        {"op": "download", "bytes": N}  N random bytes, then one line {"sha256"} of what was sent

  lab.py check --dev tc0 --server 10.99.0.1 --client 10.99.0.2 [--mb 16] ...
      Client side, next to a running tapclient: waits for the tunnel, pings both ways, compares
      the server's neighbour entry with tapclient's MAC, moves --mb MiB each way with SHA-256
      checked. Logs to stderr; prints one summary line on stdout; exit 0 when all passed.
"""
import argparse
import hashlib
import json
import os
import re
import socket
import socketserver
import subprocess
import sys
import time

CHUNK = 256 * 1024


def log(msg):
    print(f"lab.py {time.strftime('%H:%M:%S', time.gmtime())} {msg}", file=sys.stderr, flush=True)


def run(cmd, timeout=30):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def ping_counts(out):
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def read_line(sock, limit=4096):
    buf = b""
    while not buf.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            raise ConnectionError("connection closed before the end of a line")
        buf += b
        if len(buf) > limit:
            raise ValueError("line too long")
    return json.loads(buf)


def send_line(sock, obj):
    sock.sendall(json.dumps(obj).encode() + b"\n")


# ------------------------------------------------------------------ agent (server side)

def agent(a):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            sock = self.request
            sock.settimeout(60)
            local = sock.getsockname()[0]
            try:
                req = read_line(sock)
                if local != a.local:
                    send_line(sock, {"error": f"reached at {local}, not through the tunnel ({a.local})"})
                    return
                op = req.get("op")
                log(f"{self.client_address[0]}: {req}")
                if op == "ping":
                    host = str(req["host"])
                    run(["ip", "neigh", "del", host, "dev", a.tap])
                    rc, out = run(["ping", "-n", "-c", str(int(req.get("count", 5))), "-i", "0.2",
                                   "-W", "2", host])
                    sent, received = ping_counts(out)
                    _, neigh = run(["ip", "-j", "neigh", "show", host, "dev", a.tap])
                    lladdr = None
                    try:
                        entries = json.loads(neigh or "[]")
                        if entries:
                            lladdr = entries[0].get("lladdr")
                    except ValueError:
                        pass
                    send_line(sock, {"sent": sent, "received": received, "lladdr": lladdr,
                                     "out": out[-400:]})
                elif op == "upload":
                    want = int(req["bytes"])
                    h, n = hashlib.sha256(), 0
                    while n < want:
                        b = sock.recv(min(CHUNK, want - n))
                        if not b:
                            break
                        h.update(b)
                        n += len(b)
                    send_line(sock, {"bytes": n, "sha256": h.hexdigest()})
                elif op == "download":
                    left = int(req["bytes"])
                    h = hashlib.sha256()
                    while left > 0:
                        b = os.urandom(min(CHUNK, left))
                        sock.sendall(b)
                        h.update(b)
                        left -= len(b)
                    send_line(sock, {"sha256": h.hexdigest()})
                else:
                    send_line(sock, {"error": f"unknown op {op!r}"})
            except (OSError, ValueError, KeyError) as e:
                log(f"{self.client_address[0]}: {e}")

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    with Server(("0.0.0.0", a.port), Handler) as srv:
        log(f"agent listening on :{a.port} (answers on {a.local} only)")
        srv.serve_forever()


# ------------------------------------------------------------------ check (client side)

class Failed(Exception):
    pass


def request(a, obj, timeout=60):
    s = socket.create_connection((a.server, a.port), timeout=timeout)
    s.settimeout(timeout)
    send_line(s, obj)
    return s


def tapclient_alive(a):
    if a.tapclient_pid and not os.path.exists(f"/proc/{a.tapclient_pid}"):
        raise Failed("tapclient exited")
    if a.tapclient_pid:
        try:
            with open(f"/proc/{a.tapclient_pid}/stat") as f:
                if f.read().split(") ")[-1].startswith("Z"):
                    raise Failed("tapclient exited")
        except OSError:
            raise Failed("tapclient exited")


def wait_tunnel(a):
    t0 = time.monotonic()
    # Ready means: the address is on the interface and the server is routed through it.
    while True:
        tapclient_alive(a)
        rc, out = run(["ip", "-4", "-o", "address", "show", "dev", a.dev])
        _, route = run(["ip", "route", "get", a.server])
        if rc == 0 and f" {a.client}/" in out and f"dev {a.dev}" in route:
            break
        if time.monotonic() - t0 > a.up_timeout:
            if f" {a.client}/" not in out:
                raise Failed(f"{a.dev} did not get {a.client} within {a.up_timeout} s ({out.strip() or 'no such device'})")
            raise Failed(f"the route to {a.server} is not via {a.dev}: {route.strip()}")
        time.sleep(0.2)
    # The first ping may need the server to learn our MAC and us to resolve its: retry for 15 s.
    while True:
        tapclient_alive(a)
        rc, _ = run(["ping", "-n", "-c", "1", "-W", "1", a.server])
        if rc == 0:
            break
        if time.monotonic() - t0 > a.up_timeout + 15:
            raise Failed(f"{a.dev} has {a.client} but {a.server} does not answer ping")
    return time.monotonic() - t0


def check(a):
    results = []
    up = wait_tunnel(a)
    log(f"tunnel up after {up:.2f} s")
    results.append(f"up in {up:.2f}s")

    rc, out = run(["ping", "-n", "-c", str(a.count), "-i", "0.2", "-W", "2", a.server])
    sent, received = ping_counts(out)
    if received != a.count:
        raise Failed(f"ping client->server: {received}/{sent} answered:\n{out}")
    results.append(f"ping c->s {received}/{sent}")

    s = request(a, {"op": "ping", "host": a.client, "count": a.count})
    r = read_line(s)
    s.close()
    if "error" in r:
        raise Failed(f"agent: {r['error']}")
    if r["received"] != a.count:
        raise Failed(f"ping server->client (after the server forgot our MAC): {r['received']}/{r['sent']} answered:\n{r['out']}")
    results.append(f"ping s->c {r['received']}/{r['sent']} (ARP answered)")
    mac = None
    if a.tapclient_log:
        with open(a.tapclient_log, errors="replace") as f:
            text = re.sub(r"\x1b\[[0-9;]*m", "", f.read())  # in case the log has colours
        m = re.findall(r"mac=([0-9a-fA-F:]{17})", text)
        mac = m[-1].lower() if m else None
    lladdr = (r.get("lladdr") or "").lower()
    if not lladdr:
        raise Failed("the server has no neighbour entry for us after its ping")
    if mac and lladdr != mac:
        raise Failed(f"the server's neighbour entry for {a.client} is {lladdr}, tapclient uses {mac}")
    results.append(f"server sees MAC {lladdr}")

    n = a.mb * 1024 * 1024
    # upload: client -> server
    t0 = time.monotonic()
    s = request(a, {"op": "upload", "bytes": n})
    h, left = hashlib.sha256(), n
    while left > 0:
        b = os.urandom(min(CHUNK, left))
        s.sendall(b)
        h.update(b)
        left -= len(b)
    r = read_line(s)
    s.close()
    dt = time.monotonic() - t0
    if "error" in r:
        raise Failed(f"agent: {r['error']}")
    if r["bytes"] != n or r["sha256"] != h.hexdigest():
        raise Failed(f"upload: sent {n} bytes sha256 {h.hexdigest()}, server got {r['bytes']} sha256 {r['sha256']}")
    results.append(f"{a.mb} MiB up sha256 ok ({n * 8 / dt / 1e6:.0f} Mbit/s)")

    # download: server -> client
    t0 = time.monotonic()
    s = request(a, {"op": "download", "bytes": n})
    h, got = hashlib.sha256(), 0
    while got < n:
        b = s.recv(min(CHUNK, n - got))
        if not b:
            break
        h.update(b)
        got += len(b)
    if got != n:
        raise Failed(f"download: got {got} of {n} bytes")
    r = read_line(s)
    s.close()
    dt = time.monotonic() - t0
    if "error" in r:
        raise Failed(f"agent: {r['error']}")
    if r["sha256"] != h.hexdigest():
        raise Failed(f"download: server sent sha256 {r['sha256']}, got {h.hexdigest()}")
    results.append(f"{a.mb} MiB down sha256 ok ({n * 8 / dt / 1e6:.0f} Mbit/s)")
    tapclient_alive(a)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("agent")
    g.add_argument("--tap", required=True)
    g.add_argument("--local", required=True, help="the server's tunnel address")
    g.add_argument("--port", type=int, default=7000)
    c = sub.add_parser("check")
    c.add_argument("--dev", default="tc0")
    c.add_argument("--server", required=True)
    c.add_argument("--client", required=True)
    c.add_argument("--port", type=int, default=7000)
    c.add_argument("--mb", type=int, default=16)
    c.add_argument("--count", type=int, default=5)
    c.add_argument("--up-timeout", type=float, default=45)
    c.add_argument("--tapclient-pid", type=int)
    c.add_argument("--tapclient-log")
    a = p.parse_args()
    if a.cmd == "agent":
        agent(a)
        return 0
    try:
        results = check(a)
    except (Failed, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
        log(f"FAILED: {e}")
        print(str(e).splitlines()[0] if str(e) else type(e).__name__)
        return 1
    print(", ".join(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
