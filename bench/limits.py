#!/usr/bin/env python3
"""bench/limits.py: the machine's limits that bench/run.sh's targets are relative to.

    bench/limits.py --work-dir DIR [--size-mib 512] [--reps 3] [--wrk-seconds 5] [--json OUT]

Measures, in DIR (on the disk the registries use):
  sha256   `openssl dgst -sha256` of a SIZE MiB file (in the page cache: read once first), MB/s
  sendfile nginx (Debian's, started here on 127.0.0.1 with sendfile on, access log off, as many
           workers as CPUs) serving that file to `curl -o /dev/null`, MB/s
  small    the same nginx serving a 465-byte file to `wrk -t2 -c64 --latency`, req/s and p99 (ms)
  ecrd     ecrd (--ecrd, default build-bench/tools/ecrd; ECRD_ARGS as in run.sh) started here with the file
           pushed to it as a blob, serving it to the same `curl -o /dev/null`, MB/s: the pull target compares
           ecrd and nginx with one client (registry-bench's pull client discards the body in the kernel)
  disk     SIZE MiB written to a new file in DIR in 1 MiB O_DIRECT writes, then fdatasync'd, MB/s: the most a
           durable push can take on this disk (ecrd's pipeline writes that way; its 201 follows the fdatasync);
           and the median time of a 4 KiB append + fdatasync (200 of them), ms: the floor under a durable commit
  mhd_min  bench/mhd_min.c (built here with cc): libmicrohttpd with ecrd's daemon flags answering a fixed
           465-byte body to the same wrk, req/s and p99 (ms): the floor under ecrd's manifest GET p99
MB = 10^6 bytes. Each figure is the median of --reps runs. The servers it starts are stopped by PID.
Prints a table, and writes the figures as JSON to --json (default: stdout's last line).
"""
import argparse
import hashlib
import http.client
import json
import mmap
import os
import pwd
import re
import shutil
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

MiB = 1 << 20


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_file(path, size):
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    chunk = os.urandom(MiB)  # one random MiB repeated: incompressible enough for sha256/sendfile
    with open(path, "wb") as f:
        for i in range(size // MiB):
            f.write(chunk[i % 7:] + chunk[:i % 7])
    with open(path, "rb") as f:  # into the page cache
        while f.read(8 * MiB):
            pass


def wait_port(port, tries=250):
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def wrk_latency(url, seconds):
    """One `wrk -t2 -c64 --latency` run: (req/s, p99 in ms), None for a figure wrk did not print."""
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", url], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(p.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[p.group(2)] if p else None
    return (float(m.group(1)) if m else None), p99


def wrk_figures(res, key, url, reps, seconds):
    rps, p99 = [], []
    for _ in range(reps):
        r, p = wrk_latency(url, seconds)
        if r is not None:
            rps.append(r)
        if p is not None:
            p99.append(p)
    if rps:
        res[f"{key}_rps"] = round(statistics.median(rps), 0)
    if p99:
        res[f"{key}_p99_ms"] = round(statistics.median(p99), 2)


def curl_mbps(url, reps, what):
    v = []
    for _ in range(reps):
        r = subprocess.run(["curl", "-sf", "-o", "/dev/null", "-w", "%{speed_download}", url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            print(f"limits.py: curl from {what} failed (exit {r.returncode})", file=sys.stderr)
            break
        v.append(float(r.stdout) / 1e6)
    return round(statistics.median(v), 1) if v else None


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def push_blob(port, path, size):
    """A monolithic push of the file (POST, then PUT ?digest= with the whole body) to repository limits/big."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(8 * MiB), b""):
            h.update(b)
    digest = "sha256:" + h.hexdigest()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120, blocksize=MiB)
    c.request("POST", "/v2/limits/big/blobs/uploads/", headers={"Content-Length": "0"})
    r = c.getresponse()
    r.read()
    loc = r.getheader("Location")
    if r.status != 202 or not loc:
        raise RuntimeError(f"POST upload: {r.status}")
    loc = urllib.parse.urlsplit(loc)
    target = loc.path + "?" + (loc.query + "&" if loc.query else "") + "digest=" + digest
    with open(path, "rb") as f:
        c.request("PUT", target, body=f, headers={"Content-Length": str(size),
                                                   "Content-Type": "application/octet-stream"})
        r = c.getresponse()
        r.read()
    c.close()
    if r.status != 201:
        raise RuntimeError(f"PUT upload: {r.status}")
    return digest


def measure_ecrd(res, a, d, big, size):
    """ecrd serving the big file as a blob to curl (the same client as nginx's figure)."""
    ecrd = a.ecrd
    if not ecrd or not os.access(ecrd, os.X_OK):
        print(f"limits.py: no ecrd at {ecrd}: ecrd's curl figure skipped", file=sys.stderr)
        return
    port = free_port()
    data = os.path.join(d, "ecrd")
    shutil.rmtree(data, ignore_errors=True)
    extra = shlex.split(os.environ.get("ECRD_ARGS", "--log-level warn"))
    p = subprocess.Popen([ecrd, "--listen", f"127.0.0.1:{port}", "--data", data, "--no-auth"] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_port(port):
            print("limits.py: ecrd did not start", file=sys.stderr)
            return
        digest = push_blob(port, big, size)
        url = f"http://127.0.0.1:{port}/v2/limits/big/blobs/{digest}"
        # one untimed pull first, as registry-bench does: nginx's file is in the page cache, and a blob pushed
        # with O_DIRECT (libecr/storage/blob_fs.c, large uploads) is not until it is read once
        curl_mbps(url, 1, "ecrd")
        v = curl_mbps(url, a.reps, "ecrd")
        if v is not None:
            res["ecrd_sendfile_curl_mbps"] = v
    except (OSError, RuntimeError, http.client.HTTPException) as e:
        print(f"limits.py: ecrd's curl figure failed: {e}", file=sys.stderr)
    finally:
        stop(p)
        shutil.rmtree(data, ignore_errors=True)


def measure_mhd_min(res, a, d):
    """bench/mhd_min.c, built here, answering a fixed 465-byte body to wrk -c64: the libmicrohttpd floor."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mhd_min.c")
    exe = os.path.join(d, "mhd_min")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc or not shutil.which("pkg-config") or not os.path.exists(src):
        print("limits.py: no cc, pkg-config or bench/mhd_min.c: the libmicrohttpd floor is skipped", file=sys.stderr)
        return
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmicrohttpd"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    if flags.returncode != 0:
        print("limits.py: libmicrohttpd's pkg-config file is missing: the floor is skipped", file=sys.stderr)
        return
    r = subprocess.run([cc, "-O2", "-o", exe, src] + flags.stdout.split(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        print(f"limits.py: building mhd_min failed:\n{r.stdout}", file=sys.stderr)
        return
    m = re.search(r"--threads[ =](\d+)", os.environ.get("ECRD_ARGS", ""))
    threads = m.group(1) if m else "0"  # ecrd's default: half the CPUs, at least 1 (libecr/server/server.c)
    p = subprocess.Popen([exe, "0", threads, "465"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = p.stdout.readline()
        mm = re.match(r"listening on (\d+)", line)
        if not mm:
            print("limits.py: mhd_min did not start", file=sys.stderr)
            return
        wrk_figures(res, "mhd_min_wrk", f"http://127.0.0.1:{mm.group(1)}/v2/limits/manifests/latest", a.reps,
                    a.wrk_seconds)
    finally:
        stop(p)


def disk_write_mbps(d, size):
    """SIZE bytes into a new file in d: 1 MiB O_DIRECT writes (buffered where the file system refuses O_DIRECT),
    then fdatasync; MB/s. The file is removed."""
    path = os.path.join(d, "disk.bin")
    buf = mmap.mmap(-1, MiB)  # page-aligned, as O_DIRECT wants
    buf.write(os.urandom(MiB))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_DIRECT", 0), 0o600)
    except OSError:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        t = time.monotonic()
        for _ in range(size // MiB):
            os.write(fd, buf)
        os.fdatasync(fd)
        return size / (time.monotonic() - t) / 1e6
    finally:
        os.close(fd)
        os.unlink(path)


def fdatasync_ms(d, n=200):
    """Median time of a 4 KiB append + fdatasync to a new file in d, ms."""
    path = os.path.join(d, "sync.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    v = []
    try:
        for _ in range(n):
            t = time.monotonic()
            os.write(fd, b"s" * 4096)
            os.fdatasync(fd)
            v.append((time.monotonic() - t) * 1e3)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(v)


def timed(cmd):
    t = time.monotonic()
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout
    return time.monotonic() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--ecrd", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build-bench",
                                                   "tools", "ecrd"),
                    help="the ecrd to measure with curl (default: build-bench/tools/ecrd, run.sh's release build)")
    a = ap.parse_args()

    d = os.path.join(a.work_dir, "limits")
    os.makedirs(os.path.join(d, "www"), exist_ok=True)
    size = a.size_mib * MiB
    big = os.path.join(d, "www", "big.bin")
    make_file(big, size)
    with open(os.path.join(d, "www", "small.txt"), "wb") as f:
        f.write(b"x" * 465)
    res = {"size_mib": a.size_mib, "loadavg_start": os.getloadavg()[0]}

    # sha256 (openssl dgst)
    if shutil.which("openssl"):
        v = [size / timed(["openssl", "dgst", "-sha256", big])[0] / 1e6 for _ in range(a.reps)]
        res["openssl_sha256_mbps"] = round(statistics.median(v), 1)

    # the disk under the registries' folders (the file just made goes to the disk first, not during the measurement)
    os.sync()
    res["disk_durable_write_mbps"] = round(statistics.median(disk_write_mbps(d, size) for _ in range(a.reps)), 1)
    res["fdatasync_4k_ms"] = round(fdatasync_ms(d), 3)

    # nginx
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx:
        port = free_port()
        conf = os.path.join(d, "nginx.conf")
        # as root, nginx's workers would run as nobody and could not read a private (mktemp -d) folder
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(user + f"""daemon off;
master_process on;
worker_processes {os.cpu_count() or 1};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path {d}/tmp;
  proxy_temp_path {d}/tmp;
  fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp;
  scgi_temp_path {d}/tmp;
  server {{
    listen 127.0.0.1:{port};
    root {d}/www;
  }}
}}
""")
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        p = subprocess.Popen([nginx, "-c", conf, "-p", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_port(port)
            if shutil.which("curl"):
                v = curl_mbps(url + "/big.bin", a.reps, f"nginx (see {d}/error.log)")
                if v is not None:
                    res["nginx_sendfile_curl_mbps"] = v
            if shutil.which("wrk"):
                wrk_figures(res, "nginx_small_wrk", url + "/small.txt", a.reps, a.wrk_seconds)
        finally:
            stop(p)
    if shutil.which("curl"):
        measure_ecrd(res, a, d, big, size)
    if shutil.which("wrk"):
        measure_mhd_min(res, a, d)
    res["loadavg_end"] = os.getloadavg()[0]
    os.unlink(big)

    rows = [("openssl_sha256_mbps", f"openssl dgst -sha256 of {a.size_mib} MiB", "MB/s"),
            ("disk_durable_write_mbps", f"{a.size_mib} MiB O_DIRECT in 1 MiB writes + fdatasync", "MB/s"),
            ("fdatasync_4k_ms", "4 KiB append + fdatasync (median of 200)", "ms"),
            ("nginx_sendfile_curl_mbps", f"nginx sendfile {a.size_mib} MiB -> curl -o /dev/null", "MB/s"),
            ("nginx_small_wrk_rps", "nginx 465 B file -> wrk -t2 -c64", "req/s"),
            ("nginx_small_wrk_p99_ms", "  its p99", "ms"),
            ("ecrd_sendfile_curl_mbps", f"ecrd blob GET {a.size_mib} MiB -> curl -o /dev/null", "MB/s"),
            ("mhd_min_wrk_rps", "bench/mhd_min.c 465 B -> wrk -t2 -c64", "req/s"),
            ("mhd_min_wrk_p99_ms", "  its p99 (the floor under ecrd's)", "ms")]
    print("\nmachine limits (load average %.2f at start, %.2f at end)" % (res["loadavg_start"], res["loadavg_end"]))
    for k, label, unit in rows:
        print(f"  {label:<52} {res.get(k, '-'):>10} {unit}")
    doc = json.dumps(res)
    if a.json:
        with open(a.json, "w") as f:
            f.write(doc + "\n")
    else:
        print(doc)


if __name__ == "__main__":
    sys.exit(main())
