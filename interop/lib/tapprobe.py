#!/usr/bin/env python3
"""A minimal simpletun TAP-mode client that proves a server end to end, without tapclient.

Default check: send one ARP request record (who-has TARGET tell SOURCE, from a made-up
locally administered MAC) and wait for the kernel's ARP reply record coming back through the
server's TAP. Every record received is checked against simpletun's limits (14..2000 bytes).

--bad KIND sends a record a simpletun peer cannot handle (empty, runt, oversized) instead and
expects the server to drop the connection. --expect-rejected expects the TLS server to refuse
our client certificate. Exit 0 = expectation met, 1 = not met (reason on stderr).

  tapprobe.py --connect 198.18.0.1:55555 [--tls --ca CA --cert CRT --key KEY]
              [--target 10.98.0.1] [--source 10.98.0.250] [--bad empty|runt|oversized]
              [--expect-rejected] [--timeout 5]
"""
import argparse
import socket
import ssl
import struct
import sys
import time

MAC = bytes([0x02, 0x00, 0x5E, 0x10, 0x00, 0x02])


def fmt_mac(b):
    return ":".join(f"{x:02x}" for x in b)


def arp_request(source_ip, target_ip):
    eth = b"\xff" * 6 + MAC + b"\x08\x06"
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
    arp += MAC + socket.inet_aton(source_ip) + b"\x00" * 6 + socket.inet_aton(target_ip)
    return eth + arp  # 42 bytes, unpadded, like a TAP hands it out


def record(frame):
    return struct.pack("!H", len(frame)) + frame


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        b = sock.recv(n - len(buf))
        if not b:
            return None if not buf else buf
        buf += b
    return buf


def read_record(sock):
    hdr = read_exact(sock, 2)
    if hdr is None:
        return None
    if len(hdr) < 2:
        raise ValueError("stream truncated inside a length prefix")
    (n,) = struct.unpack("!H", hdr)
    if n < 14 or n > 2000:
        raise ValueError(f"server sent a record of length {n} (outside 14..2000)")
    frame = read_exact(sock, n)
    if frame is None or len(frame) < n:
        raise ValueError("stream truncated inside a frame")
    return frame


def connect(a):
    host, port = a.connect.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=a.timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not a.tls:
        return raw
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    s = ctx.wrap_socket(raw)
    s.settimeout(a.timeout)
    return s


def fail(msg):
    print(f"tapprobe: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--connect", required=True, metavar="HOST:PORT")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--target", default="10.98.0.1")
    p.add_argument("--source", default="10.98.0.250",
                   help="our IP; not the tapclient address, so the server's ARP entry for that stays clean")
    p.add_argument("--bad", choices=["empty", "runt", "oversized"])
    p.add_argument("--expect-rejected", action="store_true")
    p.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args()

    try:
        sock = connect(a)
    except (OSError, ssl.SSLError) as e:
        if a.expect_rejected and isinstance(e, ssl.SSLError):
            print(f"tapprobe: rejected during the handshake as expected: {e}")
            return
        fail(f"connect to {a.connect}: {e}")

    if a.bad:
        bad = {"empty": b"\x00\x00",
               "runt": record(b"\x01" * 13),
               "oversized": struct.pack("!H", 2001) + b"\x00" * 2001}[a.bad]
        sock.sendall(bad)
        deadline = time.monotonic() + a.timeout
        try:
            while time.monotonic() < deadline:
                if not sock.recv(65536):
                    print(f"tapprobe: server closed the connection after a {a.bad} record")
                    return
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError) as e:
            print(f"tapprobe: server dropped the connection after a {a.bad} record ({e})")
            return
        except socket.timeout:
            pass
        fail(f"server kept the connection open after a {a.bad} record")

    t0 = time.monotonic()
    others = 0
    try:
        sock.sendall(record(arp_request(a.source, a.target)))
        while time.monotonic() - t0 < a.timeout:
            frame = read_record(sock)
            if frame is None:
                if a.expect_rejected:
                    print("tapprobe: server closed the connection (rejected) as expected")
                    return
                fail("server closed the connection before an ARP reply arrived")
            if (len(frame) >= 42 and frame[12:14] == b"\x08\x06"
                    and frame[20:22] == b"\x00\x02"
                    and frame[28:32] == socket.inet_aton(a.target)
                    and frame[0:6] == MAC):
                if a.expect_rejected:
                    fail("server accepted our client certificate and answered ARP")
                ms = (time.monotonic() - t0) * 1000
                print(f"tapprobe: ARP reply: {a.target} is-at {fmt_mac(frame[22:28])} "
                      f"({len(frame)}-byte record, {ms:.1f} ms, {others} other frames before it)")
                return
            others += 1
    except ssl.SSLError as e:
        if a.expect_rejected:
            print(f"tapprobe: rejected as expected: {e}")
            return
        fail(f"TLS error: {e}")
    except (ConnectionResetError, BrokenPipeError) as e:
        if a.expect_rejected:
            print(f"tapprobe: connection reset (rejected) as expected: {e}")
            return
        fail(f"connection failed: {e}")
    except socket.timeout:
        pass
    except ValueError as e:
        fail(str(e))
    if a.expect_rejected:
        fail("no rejection within the timeout")
    fail(f"no ARP reply for {a.target} within {a.timeout}s ({others} other frames)")


if __name__ == "__main__":
    main()
