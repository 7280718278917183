#!/usr/bin/env python3
"""bench/limits.py: the machine's limits that bench/run.sh's targets are relative to.

    bench/limits.py --work-dir DIR [--size-mib 512] [--reps 3] [--wrk-seconds 5] [--json OUT]

Measures, in DIR (on the disk the registries use):
  sha256   `openssl dgst -sha256` of a SIZE MiB file (in the page cache: read once first), MB/s
  sendfile nginx (Debian's, started here on 127.0.0.1 with sendfile on, access log off, as many
           workers as CPUs) serving that file to `curl -o /dev/null`, MB/s
  small    the same nginx serving a 465-byte file to `wrk -t2 -c64`, req/s
MB = 10^6 bytes. Each figure is the median of --reps runs. The nginx it starts is stopped by PID.
Prints a table, and writes the figures as JSON to --json (default: stdout's last line).
"""
import argparse
import json
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

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
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.1).close()
                    break
                except OSError:
                    time.sleep(0.02)
            if shutil.which("curl"):
                v = []
                for _ in range(a.reps):
                    r = subprocess.run(["curl", "-sf", "-o", "/dev/null", "-w", "%{speed_download}", url + "/big.bin"],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    if r.returncode == 0:
                        v.append(float(r.stdout) / 1e6)
                    else:
                        print(f"limits.py: curl from nginx failed (exit {r.returncode}): see {d}/error.log",
                              file=sys.stderr)
                        break
                if v:
                    res["nginx_sendfile_curl_mbps"] = round(statistics.median(v), 1)
            if shutil.which("wrk"):
                v = []
                for _ in range(a.reps):
                    _, out = timed(["wrk", "-t2", "-c64", f"-d{a.wrk_seconds}s", url + "/small.txt"])
                    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
                    if m:
                        v.append(float(m.group(1)))
                if v:
                    res["nginx_small_wrk_rps"] = round(statistics.median(v), 0)
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    res["loadavg_end"] = os.getloadavg()[0]
    os.unlink(big)

    rows = [("openssl_sha256_mbps", f"openssl dgst -sha256 of {a.size_mib} MiB", "MB/s"),
            ("nginx_sendfile_curl_mbps", f"nginx sendfile {a.size_mib} MiB -> curl -o /dev/null", "MB/s"),
            ("nginx_small_wrk_rps", "nginx 465 B file -> wrk -t2 -c64", "req/s")]
    print("\nmachine limits (load average %.2f at start, %.2f at end)" % (res["loadavg_start"], res["loadavg_end"]))
    for k, label, unit in rows:
        print(f"  {label:<48} {res.get(k, '-'):>10} {unit}")
    doc = json.dumps(res)
    if a.json:
        with open(a.json, "w") as f:
            f.write(doc + "\n")
    else:
        print(doc)


if __name__ == "__main__":
    sys.exit(main())
