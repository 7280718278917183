#!/usr/bin/env python3
"""The client side of tests/survival/crash.sh (standard library only).

  setup BASE
      create the repositories crash/a, crash/b and crash/expire, and give crash/expire a lifecycle policy that
      expires all but its 3 newest images (ecrd's lifecycle thread applies it while the clients work).
  run BASE --state FILE [--threads N] [--seed S] [--seconds S] [--started FILE]
      N threads push new images (random layers, monolithic or chunked uploads, a config, a manifest with a
      unique tag), move the tag "latest", delete images and pull acknowledged ones, until ecrd goes away
      (connection refused or reset) or S seconds pass. Appends JSON lines to FILE:
        {"op": "push", ...}    after the manifest PUT answered 201 (an acknowledged push),
        {"op": "del", ...}     BEFORE a delete is sent (the image may be gone, or not),
        {"op": "latest", ...}  BEFORE "latest" is moved to an image.
      A pull of an acknowledged image that is neither deleted nor in crash/expire must succeed with exact
      digests while ecrd runs; a failure is written as {"op": "bad", ...} (verify reports it).
  verify BASE --state FILE [--sample N]
      after a restart: every acknowledged push that we did not delete pulls back with its exact digests
      (crash/expire: exactly, or gone through lifecycle: 404); "latest" of each repository names an image
      it was moved to (or pushed with); with --sample N, the pushes of the newest round (after the last
      "round" line) and N random older ones are pulled entirely, the others checked with HEAD.
      Prints a JSON summary; exit 1 when anything acknowledged is lost or differs.
  round FILE
      append a round marker to FILE.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
ECR = "AmazonEC2ContainerRegistry_V20150921."
REPOS = ["crash/a", "crash/b", "crash/expire"]
EXPIRE_REPO = "crash/expire"
GONE = (ConnectionRefusedError, ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
        http.client.IncompleteRead, http.client.BadStatusLine, TimeoutError)

POLICY = json.dumps({"rules": [{"rulePriority": 1, "description": "keep 3",
                                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                              "countNumber": 3},
                                "action": {"type": "expire"}}]})


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


class Conn:
    def __init__(self, base, timeout=20):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.c = None

    def req(self, method, path, body=None, headers=None):
        """(status, headers dict lowercased, body). Raises GONE errors when ecrd is not there."""
        # A kept-alive connection the server closed meanwhile fails on reuse: reads are retried on a new one.
        tries = 3 if method in ("GET", "HEAD") else 1
        for attempt in range(tries):
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.c.request(method, path, body=body, headers=headers or {})
                r = self.c.getresponse()
                data = r.read()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, data
            except (OSError, http.client.HTTPException) as e:
                self.c.close()
                self.c = None
                if attempt + 1 == tries:
                    raise e if isinstance(e, GONE) else ConnectionResetError("%s %s: %r" % (method, path, e))
        raise ConnectionResetError("unreachable")

    def ecr(self, op, body):
        return self.req("POST", "/", json.dumps(body).encode(),
                        {"X-Amz-Target": ECR + op, "Content-Type": "application/x-amz-json-1.1"})


class State:
    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.lock = threading.Lock()

    def add(self, rec):
        line = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
        with self.lock:
            os.write(self.fd, line)


def read_state(path):
    recs = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    recs.append(json.loads(line))
    except FileNotFoundError:
        pass
    return recs


def upload(c, repo, data, rng):
    """Upload one blob (monolithic or chunked); True when it is in the repository."""
    d = sha(data)
    st, h, _ = c.req("POST", "/v2/%s/blobs/uploads/" % repo)
    if st != 202:
        return False
    loc = h.get("location", "")
    if rng.random() < 0.5 or len(data) < 2:
        sep = "&" if "?" in loc else "?"
        st, _, _ = c.req("PUT", loc + sep + "digest=" + d, data,
                         {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        return st == 201
    cut = rng.randrange(1, len(data))
    for start, end in ((0, cut), (cut, len(data))):
        st, h, _ = c.req("PATCH", loc, data[start:end],
                         {"Content-Type": "application/octet-stream", "Content-Range": "%d-%d" % (start, end - 1),
                          "Content-Length": str(end - start)})
        if st != 202:
            return False
        loc = h.get("location", loc)
    sep = "&" if "?" in loc else "?"
    st, _, _ = c.req("PUT", loc + sep + "digest=" + d, b"", {"Content-Length": "0"})
    return st == 201


def layer_size(rng):
    """Mostly small layers; one in 20 of 2-6 MiB, so that large uploads (which the file store pipelines through
    its writer and hasher threads from 2 MiB on) are in flight when ecrd is killed too."""
    if rng.random() < 0.05:
        return rng.randrange(2 * 1024 * 1024 + 1, 6 * 1024 * 1024)
    return rng.choice([rng.randrange(1, 4096), rng.randrange(4096, 96 * 1024)])


def push(c, state, rng, tid, n):
    repo = rng.choice(REPOS)
    layers = [os.urandom(layer_size(rng)) for _ in range(rng.randrange(1, 4))]
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": [tid, n, rng.random()]}).encode()
    for b in layers + [config]:
        if not upload(c, repo, b, rng):
            return
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": MT_LAYER, "digest": sha(b), "size": len(b)} for b in layers]}).encode()
    tag = "t%d-%d-%d" % (tid, n, rng.randrange(1 << 30))
    st, h, _ = c.req("PUT", "/v2/%s/manifests/%s" % (repo, tag), manifest, {"Content-Type": MT_MANIFEST})
    if st == 201:
        state.add({"op": "push", "repo": repo, "tag": tag, "digest": sha(manifest),
                   "blobs": [[sha(b), len(b)] for b in [config] + layers]})


def pull(c, repo, digest, blobs=None):
    """None when the image pulls back exactly; else what is wrong. 'gone' for a 404 on the manifest."""
    st, _, body = c.req("GET", "/v2/%s/manifests/%s" % (repo, digest), headers={"Accept": MT_MANIFEST})
    if st == 404:
        return "gone"
    if st != 200:
        return "manifest GET %d" % st
    if sha(body) != digest:
        return "manifest bytes hash to %s" % sha(body)
    m = json.loads(body)
    want = [(m["config"]["digest"], m["config"]["size"])] + [(x["digest"], x["size"]) for x in m["layers"]]
    if blobs is not None and [tuple(b) for b in blobs] != want:
        return "manifest lists other blobs than pushed"
    for d, size in want:
        st, _, data = c.req("GET", "/v2/%s/blobs/%s" % (repo, d))
        if st == 404 and c.req("GET", "/v2/%s/manifests/%s" % (repo, digest),
                               headers={"Accept": MT_MANIFEST})[0] == 404:
            return "gone"  # deleted (lifecycle runs inside ecrd) between the manifest GET and this blob's, then GC
        if st != 200:
            return "blob %s GET %d" % (d, st)
        if len(data) != size or sha(data) != d:
            return "blob %s: %d bytes hashing to %s" % (d, len(data), sha(data))
    return None


def worker(base, state, seed, tid, deadline, acked, lock):
    rng = random.Random(seed * 1000 + tid)
    c = Conn(base)
    n = 0
    try:
        while time.time() < deadline:
            n += 1
            op = rng.random()
            with lock:
                mine = list(acked)
            if op < 0.6 or not mine:
                push(c, state, rng, tid, n)
                continue
            rec = rng.choice(mine)
            if op < 0.75:
                state.add({"op": "latest", "repo": rec["repo"], "digest": rec["digest"]})
                st, _, body = c.req("GET", "/v2/%s/manifests/%s" % (rec["repo"], rec["digest"]),
                                    headers={"Accept": MT_MANIFEST})
                if st == 200:
                    c.req("PUT", "/v2/%s/manifests/latest" % rec["repo"], body, {"Content-Type": MT_MANIFEST})
            elif op < 0.85:
                state.add({"op": "del", "repo": rec["repo"], "digest": rec["digest"]})
                with lock:  # before the DELETE: a pull racing it is then not taken for a loss
                    if rec in acked:
                        acked.remove(rec)
                c.req("DELETE", "/v2/%s/manifests/%s" % (rec["repo"], rec["digest"]))
            else:
                why = pull(c, rec["repo"], rec["digest"], rec["blobs"])
                if why and not (why == "gone" and rec["repo"] == EXPIRE_REPO):
                    with lock:
                        still = rec in acked  # deleted meanwhile by another thread: not a problem
                    if still:
                        state.add({"op": "bad", "repo": rec["repo"], "digest": rec["digest"], "why": why})
    except GONE:
        pass
    except ConnectionError:
        pass


def cmd_run(a):
    state = State(a.state)
    lock = threading.Lock()
    acked = []
    # threads learn this run's pushes through the state file's records too: reread what older rounds left
    deleted = set()
    for r in read_state(a.state):
        if r["op"] == "del":
            deleted.add((r["repo"], r["digest"]))
    for r in read_state(a.state):
        if r["op"] == "push" and (r["repo"], r["digest"]) not in deleted and r["repo"] != EXPIRE_REPO:
            acked.append(r)
    acked = acked[-200:]

    class Recorder(State):
        def add(self, rec):
            State.add(self, rec)
            if rec["op"] == "push":
                with lock:
                    acked.append(rec)

    state.__class__ = Recorder
    if a.started:
        open(a.started, "w").close()
    deadline = time.time() + a.seconds
    ts = [threading.Thread(target=worker, args=(a.base, state, a.seed, i, deadline, acked, lock))
          for i in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return 0


def cmd_setup(a):
    c = Conn(a.base)
    for r in REPOS:
        st, _, body = c.ecr("CreateRepository", {"repositoryName": r})
        if st != 200 and b"RepositoryAlreadyExists" not in body:
            print("CreateRepository %s: %d %s" % (r, st, body[:300]), file=sys.stderr)
            return 1
    st, _, body = c.ecr("PutLifecyclePolicy", {"repositoryName": EXPIRE_REPO, "lifecyclePolicyText": POLICY})
    if st != 200:
        print("PutLifecyclePolicy: %d %s" % (st, body[:300]), file=sys.stderr)
        return 1
    return 0


def cmd_verify(a):
    recs = read_state(a.state)
    c = Conn(a.base)
    deleted, latest_to, bad = set(), {}, []
    last_round = 0
    for i, r in enumerate(recs):
        if r["op"] == "del":
            deleted.add((r["repo"], r["digest"]))
        elif r["op"] == "latest":
            latest_to.setdefault(r["repo"], set()).add(r["digest"])
        elif r["op"] == "round":
            last_round = i
        elif r["op"] == "bad":
            bad.append(r)
    pushes = [(i, r) for i, r in enumerate(recs) if r["op"] == "push"]
    rng = random.Random(len(recs))
    older = [r for i, r in pushes if i < last_round]
    full = {id(r) for i, r in pushes if i >= last_round}
    if a.sample is None:
        full = {id(r) for _, r in pushes}
    else:
        full |= {id(r) for r in rng.sample(older, min(a.sample, len(older)))}
    out = {"acked": len(pushes), "deleted_by_us": 0, "expired_by_lifecycle": 0, "verified_full": 0,
           "verified_head": 0, "lost": [], "bad_while_running": bad}
    for _, r in pushes:
        key = (r["repo"], r["digest"])
        if key in deleted:
            out["deleted_by_us"] += 1
            continue
        if id(r) in full:
            why = pull(c, r["repo"], r["digest"], r["blobs"])
            kind = "verified_full"
        else:
            st, h, _ = c.req("HEAD", "/v2/%s/manifests/%s" % (r["repo"], r["digest"]),
                             headers={"Accept": MT_MANIFEST})
            why = "gone" if st == 404 else None if st == 200 and h.get("docker-content-digest") == r["digest"] \
                else "manifest HEAD %d" % st
            kind = "verified_head"
        if why == "gone" and r["repo"] == EXPIRE_REPO:
            out["expired_by_lifecycle"] += 1
        elif why:
            out["lost"].append({"repo": r["repo"], "digest": r["digest"], "tag": r["tag"], "why": why})
        else:
            out[kind] += 1
    # "latest" names an image it was moved to or pushed with (pushes use unique tags, so only moves)
    for repo in REPOS:
        st, h, _ = c.req("HEAD", "/v2/%s/manifests/latest" % repo, headers={"Accept": MT_MANIFEST})
        if st == 200 and h.get("docker-content-digest") not in latest_to.get(repo, set()):
            out["lost"].append({"repo": repo, "tag": "latest", "why": "names %s, never moved there"
                                % h.get("docker-content-digest")})
    print(json.dumps(out))
    return 1 if out["lost"] or bad else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("base")
    s = sub.add_parser("run")
    s.add_argument("base")
    s.add_argument("--state", required=True)
    s.add_argument("--threads", type=int, default=3)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--seconds", type=float, default=30)
    s.add_argument("--started", help="a file created when the first request is about to be sent")
    s = sub.add_parser("verify")
    s.add_argument("base")
    s.add_argument("--state", required=True)
    s.add_argument("--sample", type=int)
    s = sub.add_parser("round")
    s.add_argument("state")
    a = p.parse_args()
    if a.cmd == "setup":
        return cmd_setup(a)
    if a.cmd == "run":
        return cmd_run(a)
    if a.cmd == "verify":
        return cmd_verify(a)
    State(a.state).add({"op": "round", "t": time.time()})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # one line (crash.sh shows the end of the output)
        print("crash_client: %s: %r" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(2)
