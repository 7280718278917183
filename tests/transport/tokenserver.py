#!/usr/bin/env python3
"""tokenserver.py: a Docker registry token server (the Bearer token flow of
Docker Hub, GHCR, Quay) for the transport tests. Needs python3 and Debian's
python3-cryptography.

A registry configured with `auth: token: {realm, service, issuer,
rootcertbundle}` answers an unauthenticated request with
  401 WWW-Authenticate: Bearer realm="<this>/token",service="...",scope="..."
and the client asks this server for a token:
  GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]
with Basic credentials (or none). The answer is a JWT signed with ES256 by a
key generated at start; its self-signed certificate goes to --cert-file (the
registry's rootcertbundle) and travels in the JWT header's x5c, which the
registry verifies against that bundle.

Usage:
  tokenserver.py --port-file F --cert-file C [options]

Flags:
  --listen HOST:PORT   where to listen (default 127.0.0.1:0: any free port)
  --port-file F        the port listened on, written once the certificate is in
                       --cert-file (atomically: F.tmp then rename)
  --cert-file C        where the signing certificate (PEM) is written
  --stats-file F       after every token request, JSON {"requests": N, "granted": N,
                       "refused": N, "scopes": {"<scope params joined by a space>": N}}
                       (atomically); a request without scope counts under ""; the scopes
                       are sorted and so are their actions ("repository:x:pull,push")
  --user U --password P  the one user (Basic): granted pull and push (and delete)
  --anonymous-pull     requests without credentials get pull (else they are refused: 401)
  --service S          the service the tokens are for (aud; default "regfix")
  --issuer I           the tokens' issuer (iss; default "regfix-token-issuer")
  --expires-in N       the tokens' lifetime in seconds (default 300)

Wrong credentials are refused with 401 even with --anonymous-pull. Actions
the caller may not have are left out of the token (the registry then refuses
the operation), as real token servers do.

The server runs until it is killed (SIGTERM/SIGINT) or its parent process exits.
"""
import argparse
import base64
import datetime
import http.server
import json
import os
import secrets
import socketserver
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Signer:
    """An ES256 key and its self-signed certificate."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regfix token signer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder()
                     .subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=2))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.x5c = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode("ascii")

    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def jwt(self, claims):
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self.x5c]}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        der = self.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)  # JOSE wants r || s, 32 bytes each
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class State:
    def __init__(self, args):
        self.args = args
        self.signer = Signer()
        self.lock = threading.Lock()
        self.requests = 0
        self.granted = 0
        self.refused = 0
        self.scopes = {}

    def count(self, scope_key, granted):
        with self.lock:
            self.requests += 1
            if granted:
                self.granted += 1
            else:
                self.refused += 1
            self.scopes[scope_key] = self.scopes.get(scope_key, 0) + 1
            if self.args.stats_file:
                write_atomic(self.args.stats_file, json.dumps(
                    {"requests": self.requests, "granted": self.granted, "refused": self.refused,
                     "scopes": self.scopes}, sort_keys=True))


def parse_scope(item):
    """"repository:NAME:a,b" -> ("repository", "NAME", ["a", "b"]); NAME may hold ':' (a port)."""
    typ, _, rest = item.partition(":")
    name, _, actions = rest.rpartition(":")
    if not typ or not name:
        return None
    return typ, name, [a for a in actions.split(",") if a]


def norm_scope(item):
    """The scope with its actions sorted."""
    head, sep, actions = item.rpartition(":")
    if not sep:
        return item
    return head + ":" + ",".join(sorted(actions.split(",")))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "regfix-tokenserver/1"

    def log_message(self, fmt, *args):  # quiet: the tests read the stats file
        pass

    def answer(self, status, doc, extra=None):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def refuse(self, scope_key, status, code, message):
        self.server.state.count(scope_key, False)
        self.answer(status, {"errors": [{"code": code, "message": message}]})

    def caller(self):
        """("user"|"anonymous"|None for wrong credentials, the user's name)."""
        args = self.server.state.args
        auth = self.headers.get("Authorization")
        if not auth:
            return "anonymous", ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "basic":
            return None, ""
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except Exception:
            return None, ""
        if args.user is not None and user == args.user and password == args.password:
            return "user", user
        return None, user

    def do_GET(self):
        state = self.server.state
        args = state.args
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.answer(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
            return
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        scopes = []
        for s in query.get("scope", []):
            scopes.extend(x for x in s.split(" ") if x)
        # docker-registry lists a scope's actions in no fixed order ("pull,push" or "push,pull"): the stats
        # count each scope with its actions sorted
        scope_key = " ".join(sorted(norm_scope(x) for x in scopes))
        service = query.get("service", [""])[0]
        if service != args.service:
            self.refuse(scope_key, 400, "UNSUPPORTED", "unknown service %r" % service)
            return
        who, name = self.caller()
        if who is None:
            self.refuse(scope_key, 401, "UNAUTHORIZED", "invalid username or password")
            return
        if who == "anonymous" and not args.anonymous_pull:
            self.refuse(scope_key, 401, "UNAUTHORIZED", "authentication required")
            return
        allowed = {"pull", "push", "delete"} if who == "user" else {"pull"}
        access = []
        for item in scopes:
            parsed = parse_scope(item)
            if not parsed:
                self.refuse(scope_key, 400, "INVALID_SCOPE", "malformed scope %r" % item)
                return
            typ, res, actions = parsed
            if typ != "repository":
                continue
            access.append({"type": typ, "name": res,
                           "actions": sorted(set(a for a in actions if a in allowed or (a == "*" and who == "user")))})
        now = int(time.time())
        claims = {"iss": args.issuer, "sub": name, "aud": args.service, "exp": now + args.expires_in,
                  "nbf": now - 5, "iat": now, "jti": secrets.token_hex(16), "access": access}
        token = state.signer.jwt(claims)
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        state.count(scope_key, True)
        self.answer(200, {"token": token, "access_token": token, "expires_in": args.expires_in,
                          "issued_at": issued})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description="a Docker registry token server (see the top of the file)")
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--port-file", required=True)
    p.add_argument("--cert-file", required=True)
    p.add_argument("--stats-file")
    p.add_argument("--user")
    p.add_argument("--password", default="")
    p.add_argument("--anonymous-pull", action="store_true")
    p.add_argument("--service", default="regfix")
    p.add_argument("--issuer", default="regfix-token-issuer")
    p.add_argument("--expires-in", type=int, default=300)
    args = p.parse_args()

    parent = os.getppid()

    def watch_parent():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)
    threading.Thread(target=watch_parent, daemon=True).start()

    state = State(args)
    write_atomic(args.cert_file, state.signer.pem())
    if args.stats_file:
        write_atomic(args.stats_file, json.dumps({"requests": 0, "granted": 0, "refused": 0, "scopes": {}}))
    host, _, port = args.listen.rpartition(":")
    srv = Server((host, int(port)), Handler)
    srv.state = state
    write_atomic(args.port_file, "%d\n" % srv.server_address[1])
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
