#!/usr/bin/env python3
"""bench/targets.py BENCH.json LIMITS.json: issue 12's performance targets, PASS/MISS.

BENCH.json is registry-bench's JSON (its last output line) for targets "ref" (docker-registry) and
"ecrd"; LIMITS.json is bench/limits.py's. Pull is judged twice: registry-bench's pull (its client
discards the body in the kernel) and ecrd to curl (limits.py, the client nginx's figure has). The p99
floors (nginx and bench/mhd_min.c under the same wrk -c64) are shown for reading the p99 rows, and the disk's
durable write rate and fdatasync time for reading the push and manifest PUT rows. Prints one row per target:
measured, target, verdict, and
then ecrd's ratio against docker-registry on every scenario (ecrd should lead on each). A target whose
scenario was not run (--only, --quick sizes) shows "-" and counts as neither.
"""
import json
import sys


def main():
    bench = json.load(open(sys.argv[1]))
    limits = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else {}
    res = {r["key"]: r for r in bench.get("results", [])}

    def med(key, target="ecrd"):
        r = res.get(key)
        t = r and r.get("targets", {}).get(target)
        return t.get("median") if t and t.get("error") is None else None

    def largest(prefix, exclude=None):
        """The largest size measured for a key family such as push_mono_ (512MiB in a full run)."""
        best = None
        for k in res:
            if k.startswith(prefix) and not (exclude and k.startswith(exclude)) and med(k) is not None:
                rest = k[len(prefix):].split("_")[0]
                n = int("".join(c for c in rest if c.isdigit()) or 0)
                n <<= {"K": 10, "M": 20, "G": 30}.get(rest.lstrip("0123456789")[:1], 0)
                if best is None or n > best[0]:
                    best = (n, k)
        return best[1] if best else None

    rows = []

    def row(label, value, unit, target_text, ok, known=True):
        if value is None or not known:
            rows.append((label, "-" if value is None else f"{value:,.1f} {unit}", target_text, "-"))
        else:
            rows.append((label, f"{value:,.1f} {unit}", target_text, "PASS" if ok else "MISS"))

    sha = limits.get("openssl_sha256_mbps")
    mono_k = largest("push_mono_")
    mono = med(mono_k) if mono_k else None
    row(f"{mono_k or 'push mono'} >= 0.5 x openssl dgst", mono, "MB/s",
        f">= {0.5 * sha:,.0f} MB/s" if sha else "(no openssl figure)", bool(sha and mono and mono >= 0.5 * sha),
        known=bool(sha))
    disk = limits.get("disk_durable_write_mbps")
    if disk:
        rows.append((f"disk ceiling: {limits.get('size_mib', '?')} MiB O_DIRECT + fdatasync", f"{disk:,.1f} MB/s",
                     f"(mono = {mono / disk:.2f} x)" if mono else "(the disk's rate)", "info"))
    for k in sorted(res):
        if k.startswith("push_chunked_") and mono:
            size = k[len("push_chunked_"):].split("_")[0]
            base = med(f"push_mono_{size}")
            v = med(k)
            row(f"{k} within 10% of mono {size}", v, "MB/s",
                f">= {0.9 * base:,.0f} MB/s" if base else "(no mono figure of that size)",
                bool(base and v and v >= 0.9 * base), known=bool(base))
    nginx = limits.get("nginx_sendfile_curl_mbps")
    pull_k = largest("pull_", exclude="pull_x")
    pull = med(pull_k) if pull_k else None
    row(f"{pull_k or 'pull'} >= 0.9 x nginx sendfile", pull, "MB/s",
        f">= {0.9 * nginx:,.0f} MB/s" if nginx else "(no nginx figure)", bool(nginx and pull and pull >= 0.9 * nginx),
        known=bool(nginx))
    ecurl = limits.get("ecrd_sendfile_curl_mbps")
    row(f"pull {limits.get('size_mib', '?')} MiB to curl >= 0.9 x nginx sendfile to curl",
        ecurl, "MB/s", f">= {0.9 * nginx:,.0f} MB/s" if nginx else "(no nginx figure)",
        bool(nginx and ecurl and ecurl >= 0.9 * nginx), known=bool(nginx))
    for key, label in (("nginx_small_wrk_p99_ms", "p99 floor: nginx 465 B, wrk -t2 -c64"),
                       ("mhd_min_wrk_p99_ms", "p99 floor: bench/mhd_min.c, wrk -t2 -c64")):
        v = limits.get(key)
        rows.append((label, "-" if v is None else f"{v:,.1f} ms", "(the machine's floor)", "info"))
    for kind in ("get", "head"):
        v, ref = med(f"rate_{kind}_rps"), med(f"rate_{kind}_rps", "ref")
        row(f"manifest {kind.upper()} by tag >= 10 x docker-registry", v, "req/s",
            f">= {10 * ref:,.0f} req/s" if ref else "(no ref figure)", bool(ref and v and v >= 10 * ref),
            known=bool(ref))
        p99 = med(f"rate_{kind}_p99")
        row(f"manifest {kind.upper()} by tag p99 < 5 ms", p99, "ms", "< 5 ms", p99 is not None and p99 < 5)
    v = limits.get("fdatasync_4k_ms")
    if v is not None:
        rows.append(("commit floor: 4 KiB append + fdatasync, median", f"{v:,.3f} ms", "(the disk's latency)", "info"))
    v = med("manifest_put")
    row("durable manifest PUT >= 3,000/s", v, "ops/s", ">= 3,000 ops/s", v is not None and v >= 3000)
    v = med("catalog_all")
    n = res.get("catalog_all", {}).get("targets", {}).get("ecrd", {}).get("extra", [{}])
    items = n[0].get("items") if n else None
    row(f"catalog full walk ({items or '?'} repos) < 20 ms", v, "ms", "< 20 ms", v is not None and v < 20)
    v = med("cold_start")
    row("cold start < 10 ms", v, "ms", "< 10 ms", v is not None and v < 10)
    v = med("rss_idle")
    row("idle RSS < 6 MiB", v, "MiB", "< 6 MiB", v is not None and v < 6)

    lead = [0, 0]
    for r in bench.get("results", []):
        ratio = (r.get("ratio_vs_first") or {}).get("ecrd")
        if ratio is None:
            continue
        hib = r.get("higher_is_better", True)
        lead[0 if (ratio > 1 if hib else ratio < 1) else 1] += 1
    rows.append(("ecrd leads docker-registry on every scenario", f"{lead[0]} of {lead[0] + lead[1]}",
                 "all", "PASS" if lead[1] == 0 and lead[0] else ("MISS" if lead[1] else "-")))

    print("\ntargets (issue 12)%s:" % (" [quick run: sizes and durations reduced]" if bench.get("quick") else ""))
    w = max(len(r[0]) for r in rows)
    print(f"  {'target':<{w}}  {'measured':>16}  {'wanted':>18}  verdict")
    for label, value, target, verdict in rows:
        print(f"  {label:<{w}}  {value:>16}  {target:>18}  {verdict}")
    ls, le = bench.get("loadavg_start"), bench.get("loadavg_end")
    print(f"  (load average at the bench's start/end: {ls} / {le}; limits' start: {limits.get('loadavg_start')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
