#!/usr/bin/env python3
"""A small OCI/ECR client for the survival tests (disk full, I/O errors, load).

Standard library only. Subcommands (BASE is http://127.0.0.1:PORT):

  push BASE --state FILE [--count N] [--until-fail K] [--layer-kib K,...] [--chunked]
      push images (fresh random layers, a config, a manifest tagged uniquely) into a
      few repositories; every acknowledged push (201 on the manifest) is appended to
      FILE (JSON lines). A failed request must be a clean error: HTTP 5xx (or 4xx)
      with an OCI error body ({"errors":[{"code":...}]}), and nothing of the failed
      push may be visible (the tag answers 404; a failed blob is not served).
      --until-fail K: stop after K failed pushes in a row. Prints a JSON summary.
  retag BASE --state FILE [--count N]
      PUT existing manifests under new tags (only metadata written): each 201 is
      recorded; each failure must be clean, its tag invisible.
  reads BASE --state FILE
      manifest GET/HEAD by tag and digest, blob GETs (digests verified), catalog,
      tags list, ECR DescribeRepositories and DescribeImages: all must succeed.
  verify BASE --state FILE
      every acknowledged image pulls back with its exact digests (manifest and blobs).
  load BASE --clients N --seconds S [--rss-pid PID] [--sample S] [--out FILE]
      N threads pushing and pulling (small and medium blobs, monolithic and chunked
      uploads, manifests, tags moving) for S seconds; samples the RSS and open fds of
      PID; prints a JSON summary (requests, errors, the RSS/fd series).

Exit status: 0 when every check held, 1 otherwise (details on stderr).
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
ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


class Problem(Exception):
    pass


class Client:
    """One keep-alive connection (re-opened after errors); not thread-safe."""

    def __init__(self, base, timeout=60):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.timeout = timeout
        self.conn = None
        self.requests = 0

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.requests += 1
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.close()
                return r.status, hdrs, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                # a keep-alive connection the server closed: retry once on a new one
                self.close()
                if attempt == 1:
                    raise Problem("%s %s: connection failed: %r" % (method, path, e))
            except (OSError, http.client.HTTPException) as e:
                self.close()
                raise Problem("%s %s: %r" % (method, path, e))
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # --- OCI helpers -----------------------------------------------------------------

    def push_blob_monolithic(self, repo, data):
        d = sha(data)
        st, h, b = self.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), data,
                                {"Content-Type": "application/octet-stream"})
        return st, b, d

    def push_blob_chunked(self, repo, data, chunk=64 * 1024):
        d = sha(data)
        st, h, b = self.request("POST", "/v2/%s/blobs/uploads/" % repo, b"")
        if st != 202:
            return st, b, d
        loc = h.get("location", "")
        off = 0
        while off < len(data):
            part = data[off:off + chunk]
            st, h, b = self.request("PATCH", path_of(loc), part, {
                "Content-Type": "application/octet-stream",
                "Content-Range": "%d-%d" % (off, off + len(part) - 1)})
            if st != 202:
                return st, b, d
            loc = h.get("location", loc)
            off += len(part)
        sep = "&" if "?" in loc else "?"
        st, h, b = self.request("PUT", path_of(loc) + sep + "digest=" + d, b"")
        return st, b, d

    def put_manifest(self, repo, ref, body):
        return self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body, {"Content-Type": MT_MANIFEST})

    def ecr(self, op, payload):
        st, h, b = self.request("POST", "/", json.dumps(payload).encode(), {
            "X-Amz-Target": ECR_TARGET + op, "Content-Type": "application/x-amz-json-1.1"})
        return st, b


def path_of(loc):
    u = urllib.parse.urlsplit(loc)
    return u.path + ("?" + u.query if u.query else "")


def clean_error(status, body, what):
    """A failed request: a 4xx/5xx status with a well-formed OCI or ECR error body."""
    if status < 400:
        return "%s: HTTP %d is not an error" % (what, status)
    try:
        j = json.loads(body)
    except ValueError:
        return "%s: HTTP %d with a body that is not JSON: %r" % (what, status, body[:200])
    if isinstance(j, dict) and isinstance(j.get("errors"), list) and j["errors"] and \
            isinstance(j["errors"][0], dict) and "code" in j["errors"][0]:
        return None
    if isinstance(j, dict) and ("__type" in j or "message" in j):
        return None
    return "%s: HTTP %d with an unexpected error body: %r" % (what, status, body[:200])


def make_image(rng, layer_sizes):
    layers = [rng.randbytes(n) for n in layer_sizes]
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in layers]},
                      "nonce": rng.getrandbits(64)}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": MT_MANIFEST,
                      "config": {"mediaType": MT_CONFIG, "digest": sha(cfg), "size": len(cfg)},
                      "layers": [{"mediaType": MT_LAYER, "digest": sha(x), "size": len(x)} for x in layers]},
                     sort_keys=True).encode()
    return layers, cfg, man


def push_image(c, repo, tag, layers, cfg, man, chunked=False):
    """Push one image; returns (ok, problem-or-None, failure-detail)."""
    for blob in layers + [cfg]:
        if chunked and len(blob) > 64 * 1024:
            st, b, d = c.push_blob_chunked(repo, blob)
        else:
            st, b, d = c.push_blob_monolithic(repo, blob)
        if st != 201:
            p = clean_error(st, b, "blob push %s/%s" % (repo, d[:19]))
            return False, p, "blob %d" % st
    st, h, b = c.put_manifest(repo, tag, man)
    if st == 201:
        if h.get("docker-content-digest") != sha(man):
            return False, "manifest %s:%s: 201 with digest %r, expected %s" % (
                repo, tag, h.get("docker-content-digest"), sha(man)), "digest"
        return True, None, None
    p = clean_error(st, b, "manifest put %s:%s" % (repo, tag))
    return False, p, "manifest %d" % st


def check_invisible(c, repo, tag):
    """After a failed push: its tag must not resolve."""
    st, h, b = c.request("HEAD", "/v2/%s/manifests/%s" % (repo, tag), None, {"Accept": MT_MANIFEST})
    if st != 404:
        return "failed push %s:%s: its tag answers HTTP %d (partial push visible)" % (repo, tag, st)
    return None


def load_state(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    out.append(json.loads(line))
    return out


def cmd_push(a):
    rng = random.Random(a.seed if a.seed is not None else os.urandom(8))
    c = Client(a.base)
    sizes = [int(x) * 1024 for x in a.layer_kib.split(",")]
    problems, ok, failed, in_a_row = [], 0, 0, 0
    fail_kinds = {}
    t0 = time.time()
    with open(a.state, "a") as st:
        i = 0
        while True:
            if a.count is not None and i >= a.count:
                break
            if a.until_fail is not None and in_a_row >= a.until_fail:
                break
            if a.max_seconds and time.time() - t0 > a.max_seconds:
                problems.append("still pushing after %d s" % a.max_seconds)
                break
            repo = "%s/r%d" % (a.prefix, i % a.repos)
            tag = "t%s-%d-%d" % (a.tag_prefix, os.getpid(), i)
            layers, cfg, man = make_image(rng, sizes)
            try:
                good, p, kind = push_image(c, repo, tag, layers, cfg, man, a.chunked)
            except Problem as e:
                good, p, kind = False, str(e), "exception"
            if good:
                ok += 1
                in_a_row = 0
                st.write(json.dumps({"repo": repo, "tag": tag, "digest": sha(man),
                                     "blobs": [sha(x) for x in layers] + [sha(cfg)]}) + "\n")
                st.flush()
            else:
                failed += 1
                in_a_row += 1
                fail_kinds[kind] = fail_kinds.get(kind, 0) + 1
                if p:
                    problems.append(p)
                try:
                    p = check_invisible(c, repo, tag)
                except Problem as e:
                    p = "after a failed push: %s" % e
                if p:
                    problems.append(p)
            i += 1
    summary = {"acknowledged": ok, "failed": failed, "failures": fail_kinds, "problems": problems[:20],
               "problem_count": len(problems), "seconds": round(time.time() - t0, 1)}
    print(json.dumps(summary))
    if a.expect == "ok" and failed:
        problems.append("expected every push to succeed")
    if a.expect == "fail" and ok:
        problems.append("expected every push to fail")
    for p in problems[:20]:
        print("problem: " + p, file=sys.stderr)
    return 1 if problems else 0


def cmd_reads(a):
    c = Client(a.base)
    imgs = load_state(a.state)
    problems = []
    rng = random.Random()
    sample = imgs if len(imgs) <= a.sample else rng.sample(imgs, a.sample)
    try:
        for im in sample:
            for ref in (im["tag"], im["digest"]):
                st, h, b = c.request("GET", "/v2/%s/manifests/%s" % (im["repo"], ref), None, {"Accept": MT_MANIFEST})
                if st != 200 or sha(b) != im["digest"]:
                    problems.append("manifest GET %s:%s: HTTP %d digest %s" % (im["repo"], ref, st, sha(b)))
                st, h, b = c.request("HEAD", "/v2/%s/manifests/%s" % (im["repo"], ref), None, {"Accept": MT_MANIFEST})
                if st != 200:
                    problems.append("manifest HEAD %s:%s: HTTP %d" % (im["repo"], ref, st))
            d = im["blobs"][0]
            st, h, b = c.request("GET", "/v2/%s/blobs/%s" % (im["repo"], d))
            if st != 200 or sha(b) != d:
                problems.append("blob GET %s@%s: HTTP %d" % (im["repo"], d, st))
        st, h, b = c.request("GET", "/v2/_catalog?n=1000")
        if st != 200:
            problems.append("catalog: HTTP %d %r" % (st, b[:200]))
        repos = sorted({im["repo"] for im in imgs})
        for r in repos[:5]:
            st, h, b = c.request("GET", "/v2/%s/tags/list" % r)
            if st != 200:
                problems.append("tags list %s: HTTP %d" % (r, st))
        st, b = c.ecr("DescribeRepositories", {})
        if st != 200:
            problems.append("DescribeRepositories: HTTP %d %r" % (st, b[:200]))
        else:
            names = {x["repositoryName"] for x in json.loads(b).get("repositories", [])}
            missing = [r for r in repos if r not in names]
            if missing:
                problems.append("DescribeRepositories lacks %s" % missing[:5])
        for r in repos[:3]:
            st, b = c.ecr("DescribeImages", {"repositoryName": r})
            if st != 200:
                problems.append("DescribeImages %s: HTTP %d %r" % (r, st, b[:200]))
    except Problem as e:
        problems.append(str(e))
    print(json.dumps({"images_read": len(sample), "requests": c.requests, "problems": problems[:20]}))
    for p in problems[:20]:
        print("problem: " + p, file=sys.stderr)
    return 1 if problems else 0


def cmd_verify(a):
    c = Client(a.base)
    imgs = load_state(a.state)
    problems, blobs_checked = [], 0
    seen = set()
    try:
        for im in imgs:
            st, h, b = c.request("GET", "/v2/%s/manifests/%s" % (im["repo"], im["digest"]), None,
                                 {"Accept": MT_MANIFEST})
            if st != 200 or sha(b) != im["digest"]:
                problems.append("acknowledged image %s@%s: HTTP %d" % (im["repo"], im["digest"], st))
                continue
            if a.tags:
                st, h, b = c.request("GET", "/v2/%s/manifests/%s" % (im["repo"], im["tag"]), None,
                                     {"Accept": MT_MANIFEST})
                if st != 200 or sha(b) != im["digest"]:
                    problems.append("acknowledged tag %s:%s: HTTP %d" % (im["repo"], im["tag"], st))
            for d in im["blobs"]:
                if (im["repo"], d) in seen:
                    continue
                seen.add((im["repo"], d))
                st, h, b = c.request("GET", "/v2/%s/blobs/%s" % (im["repo"], d))
                blobs_checked += 1
                if st != 200 or sha(b) != d:
                    problems.append("blob %s@%s: HTTP %d, content %s" % (im["repo"], d, st, sha(b)))
    except Problem as e:
        problems.append(str(e))
    print(json.dumps({"images": len(imgs), "blobs_checked": blobs_checked, "problems": problems[:20],
                      "problem_count": len(problems)}))
    for p in problems[:20]:
        print("problem: " + p, file=sys.stderr)
    return 1 if problems else 0


def cmd_retag(a):
    """Tag existing images again (a manifest PUT whose blobs are all there: only metadata is written)."""
    c = Client(a.base)
    imgs = load_state(a.state)
    problems, ok, failed = [], 0, 0
    with open(a.state, "a") as st:
        for i in range(a.count):
            if not imgs:
                problems.append("no image to tag")
                break
            im = imgs[i % len(imgs)]
            tag = "re%s-%d-%d" % (a.tag_prefix, os.getpid(), i)
            try:
                s1, h, body = c.request("GET", "/v2/%s/manifests/%s" % (im["repo"], im["digest"]), None,
                                        {"Accept": MT_MANIFEST})
                if s1 != 200 or sha(body) != im["digest"]:
                    problems.append("GET %s@%s: HTTP %d" % (im["repo"], im["digest"], s1))
                    continue
                s2, h, b = c.put_manifest(im["repo"], tag, body)
                if s2 == 201:
                    ok += 1
                    st.write(json.dumps(dict(im, tag=tag)) + "\n")
                    st.flush()
                else:
                    failed += 1
                    p = clean_error(s2, b, "manifest put %s:%s" % (im["repo"], tag)) or check_invisible(c, im["repo"], tag)
                    if p:
                        problems.append(p)
            except Problem as e:
                problems.append(str(e))
    print(json.dumps({"acknowledged": ok, "failed": failed, "problems": problems[:20]}))
    if a.expect == "ok" and failed:
        problems.append("expected every tag to succeed")
    for p in problems[:20]:
        print("problem: " + p, file=sys.stderr)
    return 1 if problems else 0


# --- load -------------------------------------------------------------------------------

def proc_sample(pid):
    rss = fds = threads = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        pass
    return rss, fds, threads


def load_worker(a, wid, stop, stats, lock):
    rng = random.Random(os.urandom(8))
    c = Client(a.base, timeout=120)
    repo = "load/r%d" % (wid % a.repos)
    mine = []  # (tag, manifest digest, blob digests) this worker pushed
    n = 0
    local = {"pushes": 0, "pulls": 0, "blob_bytes_up": 0, "blob_bytes_down": 0, "errors": 0, "tag_moves": 0,
             "deletes": 0}
    errors = []

    def err(msg):
        local["errors"] += 1
        if len(errors) < 5:
            errors.append(msg)

    while not stop.is_set():
        n += 1
        op = rng.random()
        try:
            if op < 0.45 or not mine:
                # push: 1-3 layers, small (1-64 KiB) or medium (256 KiB - 2 MiB)
                sizes = [rng.randint(1, 64) * 1024 if rng.random() < 0.9 else rng.randint(256, 1024) * 1024
                         for _ in range(rng.randint(1, 3))]
                layers, cfg, man = make_image(rng, sizes)
                tag = "w%d-%d" % (wid, n % 8)  # tags move: 8 tags per worker, overwritten
                good, p, kind = push_image(c, repo, tag, layers, cfg, man, chunked=rng.random() < 0.3)
                if good:
                    local["pushes"] += 1
                    local["blob_bytes_up"] += sum(sizes)
                    old = [m for m in mine if m[0] == tag]
                    mine = [m for m in mine if m[0] != tag]
                    if old:
                        local["tag_moves"] += 1
                    mine.append((tag, sha(man), [sha(x) for x in layers] + [sha(cfg)]))
                    # the image the tag left, when no tag of ours names it any more: delete it (bounds the disk;
                    # with ecrd --gc-interval its blobs go too)
                    for _, dg, _ in old:
                        if not any(m[1] == dg for m in mine):
                            st, h, b = c.request("DELETE", "/v2/%s/manifests/%s" % (repo, dg))
                            if st != 202:
                                err("DELETE %s@%s: HTTP %d %r" % (repo, dg, st, b[:200]))
                            else:
                                local["deletes"] += 1
                else:
                    err(p or ("push failed: " + str(kind)))
            elif op < 0.55:
                # re-tag an existing manifest (tag move without new blobs)
                tag, dg, blobs = rng.choice(mine)
                st, h, b = c.request("GET", "/v2/%s/manifests/%s" % (repo, dg), None, {"Accept": MT_MANIFEST})
                if st != 200 or sha(b) != dg:
                    err("GET %s@%s: HTTP %d" % (repo, dg, st))
                    continue
                newtag = "w%d-%d" % (wid, rng.randint(0, 7))
                st, h, b2 = c.put_manifest(repo, newtag, b)
                if st != 201:
                    err("retag %s:%s: HTTP %d %r" % (repo, newtag, st, b2[:200]))
                    continue
                old = [m for m in mine if m[0] == newtag and m[1] != dg]
                mine = [m for m in mine if m[0] != newtag] + [(newtag, dg, blobs)]
                local["tag_moves"] += 1
                for _, odg, _ in old:
                    if not any(m[1] == odg for m in mine):
                        st, h, b = c.request("DELETE", "/v2/%s/manifests/%s" % (repo, odg))
                        if st != 202:
                            err("DELETE %s@%s: HTTP %d %r" % (repo, odg, st, b[:200]))
                        else:
                            local["deletes"] += 1
            else:
                # pull by tag: manifest, then every blob, digests verified
                tag, dg, blobs = rng.choice(mine)
                st, h, b = c.request("GET", "/v2/%s/manifests/%s" % (repo, tag), None, {"Accept": MT_MANIFEST})
                if st != 200 or sha(b) != dg:
                    err("pull %s:%s: HTTP %d, digest %s (expected %s)" % (repo, tag, st, sha(b), dg))
                    continue
                for d in blobs:
                    st, h, bb = c.request("GET", "/v2/%s/blobs/%s" % (repo, d))
                    if st != 200 or sha(bb) != d:
                        err("blob %s@%s: HTTP %d" % (repo, d, st))
                        break
                    local["blob_bytes_down"] += len(bb)
                local["pulls"] += 1
                if rng.random() < 0.05:
                    st, h, b = c.request("GET", "/v2/_catalog?n=200")
                    if st != 200:
                        err("catalog: HTTP %d" % st)
                    st, b = c.ecr("DescribeImages", {"repositoryName": repo, "maxResults": 100})
                    if st != 200:
                        err("DescribeImages: HTTP %d %r" % (st, b[:200]))
        except Problem as e:
            err(str(e))
    c.close()
    with lock:
        for k, v in local.items():
            stats[k] = stats.get(k, 0) + v
        stats["requests"] = stats.get("requests", 0) + c.requests
        stats.setdefault("error_samples", []).extend(errors)


def cmd_load(a):
    stop = threading.Event()
    stats, lock = {}, threading.Lock()
    threads = [threading.Thread(target=load_worker, args=(a, i, stop, stats, lock), daemon=True)
               for i in range(a.clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    series = []
    while True:
        el = time.time() - t0
        if a.rss_pid:
            rss, fds, nthr = proc_sample(a.rss_pid)
            series.append({"t": round(el), "rss_kb": rss, "fds": fds, "threads": nthr})
            print("sample t=%ds rss=%s kB fds=%s threads=%s" % (round(el), rss, fds, nthr), file=sys.stderr,
                  flush=True)
        if el >= a.seconds:
            break
        time.sleep(min(a.sample, max(0.1, a.seconds - el)))
    stop.set()
    for t in threads:
        t.join(timeout=300)
    hung = sum(1 for t in threads if t.is_alive())
    dur = time.time() - t0
    out = {"clients": a.clients, "seconds": round(dur, 1), "requests": stats.get("requests", 0),
           "requests_per_s": round(stats.get("requests", 0) / dur, 1), "pushes": stats.get("pushes", 0),
           "pulls": stats.get("pulls", 0), "tag_moves": stats.get("tag_moves", 0),
           "deletes": stats.get("deletes", 0),
           "mib_up": round(stats.get("blob_bytes_up", 0) / 1048576, 1),
           "mib_down": round(stats.get("blob_bytes_down", 0) / 1048576, 1),
           "errors": stats.get("errors", 0), "error_samples": stats.get("error_samples", [])[:10],
           "hung_clients": hung, "series": series}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f)
    print(json.dumps({k: v for k, v in out.items() if k != "series"}))
    return 1 if out["errors"] or hung else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("push")
    s.add_argument("base")
    s.add_argument("--state", required=True)
    s.add_argument("--count", type=int)
    s.add_argument("--until-fail", type=int)
    s.add_argument("--max-seconds", type=int, default=600)
    s.add_argument("--layer-kib", default="256,64")
    s.add_argument("--repos", type=int, default=3)
    s.add_argument("--prefix", default="sv")
    s.add_argument("--tag-prefix", default="")
    s.add_argument("--chunked", action="store_true")
    s.add_argument("--seed", type=int)
    s.add_argument("--expect", choices=["ok", "fail", "any"], default="any")
    s = sub.add_parser("retag")
    s.add_argument("base")
    s.add_argument("--state", required=True)
    s.add_argument("--count", type=int, default=4)
    s.add_argument("--tag-prefix", default="")
    s.add_argument("--expect", choices=["ok", "any"], default="any")
    s = sub.add_parser("reads")
    s.add_argument("base")
    s.add_argument("--state", required=True)
    s.add_argument("--sample", type=int, default=20)
    s = sub.add_parser("verify")
    s.add_argument("base")
    s.add_argument("--state", required=True)
    s.add_argument("--tags", action="store_true", help="also resolve every tag (tags must not have moved)")
    s = sub.add_parser("load")
    s.add_argument("base")
    s.add_argument("--clients", type=int, default=64)
    s.add_argument("--seconds", type=float, default=60)
    s.add_argument("--repos", type=int, default=8)
    s.add_argument("--rss-pid", type=int)
    s.add_argument("--sample", type=float, default=5)
    s.add_argument("--out")
    a = p.parse_args()
    return {"push": cmd_push, "retag": cmd_retag, "reads": cmd_reads, "verify": cmd_verify, "load": cmd_load}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
