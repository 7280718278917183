#!/usr/bin/env python3
"""faultproxy.py: a fault-injecting HTTP/1.1 TCP proxy for the transport tests
(python3 standard library only).

It listens on --listen, forwards each client connection to --target and
injects faults. Requests (client -> server) are parsed (header block, then a
Content-Length body) so they can be counted and answered by the proxy itself;
responses (server -> client) are forwarded as raw bytes, counted per connection.

Usage:
  faultproxy.py --listen 127.0.0.1:0 --target 127.0.0.1:PORT --port-file F [options]

Flags:
  --listen HOST:PORT      where to listen (port 0: any free port)
  --target HOST:PORT      the real server
  --port-file F           write the port listened on into F (atomically: F.tmp then rename);
                          the port is also printed on stdout
  --stats-file F          after every event, write JSON {"connections": N, "requests": N,
                          "injected": N, "forwarded": N, "dropped": N, "bytes": [per-connection
                          server->client bytes]} into F (atomically)
  --drop-after-bytes N    close the connection (both sides) after N response bytes were
                          forwarded, on the first K connections (--drop-connections)
  --drop-connections K    how many connections --drop-after-bytes applies to (default 1),
                          counted in the order they are accepted
  --drop-every N          close EVERY connection after N response bytes
  --delay-ms N            wait N ms before forwarding each chunk of a response
  --fail-first N          answer the first N requests (over all connections) with --status
                          without forwarding them (the connection stays open)
  --status S              the status of injected answers (default 503)
  --retry-after S         add "Retry-After: S" to injected answers

The proxy runs until it is killed (SIGTERM/SIGINT) or its parent process exits.
"""
import argparse
import json
import os
import signal
import socket
import sys
import threading
import time

REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout", 401: "Unauthorized", 404: "Not Found"}
MAX_HEADER = 256 * 1024


def hostport(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.injected = 0
        self.forwarded = 0
        self.dropped = 0
        self.bytes = []

    def write_stats(self):
        if not self.args.stats_file:
            return
        doc = {"connections": self.connections, "requests": self.requests, "injected": self.injected,
               "forwarded": self.forwarded, "dropped": self.dropped, "bytes": list(self.bytes)}
        tmp = self.args.stats_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self.args.stats_file)

    def new_connection(self):
        with self.lock:
            i = self.connections
            self.connections += 1
            self.bytes.append(0)
            self.write_stats()
            return i

    def new_request(self):
        """True when this request is to be answered by the proxy."""
        with self.lock:
            n = self.requests
            self.requests += 1
            inject = n < self.args.fail_first
            if inject:
                self.injected += 1
            else:
                self.forwarded += 1
            self.write_stats()
            return inject

    def add_bytes(self, conn, n):
        with self.lock:
            self.bytes[conn] += n
            self.write_stats()

    def drop(self):
        with self.lock:
            self.dropped += 1
            self.write_stats()


def injected_response(args):
    st = args.status
    code = "TOOMANYREQUESTS" if st == 429 else "UNAVAILABLE"
    body = json.dumps({"errors": [{"code": code, "message": "faultproxy: injected %d" % st}]}).encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (
        st, REASONS.get(st, "Error"), len(body))
    if args.retry_after is not None:
        head += "Retry-After: %d\r\n" % args.retry_after
    return head.encode() + b"\r\n" + body


def close_quietly(s):
    if s is None:
        return
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


def pump_down(state, conn, upstream, client, limit):
    """Server -> client, counted, delayed, dropped."""
    args = state.args
    sent = 0
    try:
        while True:
            data = upstream.recv(65536)
            if not data:
                break
            if args.delay_ms:
                time.sleep(args.delay_ms / 1000.0)
            if limit is not None and sent + len(data) >= limit:
                part = data[:max(0, limit - sent)]
                if part:
                    client.sendall(part)
                    state.add_bytes(conn, len(part))
                state.drop()
                break
            client.sendall(data)
            sent += len(data)
            state.add_bytes(conn, len(data))
    except OSError:
        pass
    close_quietly(client)
    close_quietly(upstream)


def handle(state, client):
    args = state.args
    conn = state.new_connection()
    limit = None
    if args.drop_after_bytes is not None and conn < args.drop_connections:
        limit = args.drop_after_bytes
    if args.drop_every is not None:
        limit = args.drop_every if limit is None else min(limit, args.drop_every)
    upstream = None
    buf = b""
    raw = False
    try:
        while True:
            if raw:
                data = client.recv(65536)
                if not data:
                    break
                upstream.sendall(data)
                continue
            while b"\r\n\r\n" not in buf:
                if len(buf) > MAX_HEADER:
                    raise OSError("request header too large")
                data = client.recv(65536)
                if not data:
                    raise EOFError
                buf += data
            head, _, rest = buf.partition(b"\r\n\r\n")
            length = 0
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip() or b"0")
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            inject = state.new_request()
            if chunked:
                # not parsed: forward everything from here on
                if inject:
                    client.sendall(injected_response(args))
                    break
                raw = True
            else:
                while len(rest) < length:
                    data = client.recv(65536)
                    if not data:
                        raise EOFError
                    rest += data
            request = head + b"\r\n\r\n" + (rest if raw else rest[:length])
            buf = b"" if raw else rest[length:]
            if inject:
                client.sendall(injected_response(args))
                continue
            if upstream is None:
                upstream = socket.create_connection(hostport(args.target))
                t = threading.Thread(target=pump_down, args=(state, conn, upstream, client, limit), daemon=True)
                t.start()
            upstream.sendall(request)
    except (OSError, EOFError, ValueError):
        pass
    if upstream is None:
        close_quietly(client)
    else:
        # let the response finish; the pump closes both sides
        try:
            upstream.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser(description="fault-injecting HTTP/1.1 proxy (see the top of the file)")
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--target", required=True)
    p.add_argument("--port-file")
    p.add_argument("--stats-file")
    p.add_argument("--drop-after-bytes", type=int)
    p.add_argument("--drop-connections", type=int, default=1)
    p.add_argument("--drop-every", type=int)
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--status", type=int, default=503)
    p.add_argument("--retry-after", type=int)
    args = p.parse_args()

    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    # never outlive the test that started us
    parent = os.getppid()

    def watch_parent():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)
    threading.Thread(target=watch_parent, daemon=True).start()
    state = State(args)
    state.write_stats()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(hostport(args.listen))
    srv.listen(64)
    port = srv.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print(port, flush=True)
    try:
        while True:
            client, _ = srv.accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handle, args=(state, client), daemon=True).start()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
