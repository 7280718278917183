#!/usr/bin/env bash
# The gallery's browser test.
# Usage: run.sh ECRD GALLERY-SEED ARTIFACTS-DIR BUILD-DIR
# Builds a Debian 12 image (os-release, dpkg status) and an OSV folder with
# Python, seeds a data folder with gallery-seed (public registry "acme",
# repositories tools and webapp with catalog data, logos, a lifecycle policy,
# a scan with findings), starts ecrd on it (auth on, 127.0.0.1, port 0),
# installs playwright-core with `npm ci` into BUILD-DIR/npm (not the source
# tree) and runs gallery.test.mjs with /usr/bin/chromium. Screenshots are
# written to ARTIFACTS-DIR.
set -euo pipefail
ECRD=$1 SEED=$2 ARTIFACTS=$3 BUILD=$4
HERE=$(cd "$(dirname "$0")" && pwd)
ACCOUNT=123456789012
for tool in node npm python3 /usr/bin/chromium; do
	command -v "$tool" >/dev/null || { echo "$tool is missing (scripts/deps.sh installs it)"; exit 1; }
done
WORK=$(mktemp -d /tmp/ecr-gallery.XXXXXX)
ECRD_PID=
cleanup() {
	if [ -n "$ECRD_PID" ]; then
		kill -TERM "$ECRD_PID" 2>/dev/null || true
		wait "$ECRD_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$ARTIFACTS" "$WORK/osv"

python3 - "$WORK" <<'PY'
import base64, gzip, hashlib, io, json, sys, tarfile, zlib, struct
work = sys.argv[1]
files = {
    "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    "var/lib/dpkg/status": "".join(
        "Package: %s\nStatus: install ok installed\nVersion: %s\nArchitecture: amd64\n%s\n"
        % (p, v, ("Source: %s\n" % s) if s else "")
        for p, v, s in [("libssl3", "3.0.9-1", "openssl"), ("openssl", "3.0.9-1", None),
                        ("zlib1g", "1:1.2.13.dfsg-1", "zlib"), ("bash", "5.2.15-2+b2", None)]),
}
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
    for d in ("etc", "var", "var/lib", "var/lib/dpkg"):
        ti = tarfile.TarInfo(d); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; tar.addfile(ti)
    for name, text in files.items():
        data = text.encode(); ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644
        tar.addfile(ti, io.BytesIO(data))
layer = buf.getvalue()
diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
def desc(mt, b): return {"mediaType": mt, "digest": "sha256:" + hashlib.sha256(b).hexdigest(), "size": len(b)}
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": desc("application/vnd.oci.image.config.v1+json", config),
                       "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", layer)]}).encode()
for name, b in (("layer.tar.gz", layer), ("config.json", config), ("manifest.json", manifest)):
    open(f"{work}/{name}", "wb").write(b)

def advisory(id_, pkg, fixed, vector):
    json.dump({"schema_version": "1.6.0", "id": id_, "modified": "2024-01-01T00:00:00Z",
               "summary": f"{pkg}: test vulnerability {id_}", "details": f"A flaw in {pkg}.",
               "severity": [{"type": "CVSS_V3", "score": vector}],
               "affected": [{"package": {"ecosystem": "Debian:12", "name": pkg},
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]},
              open(f"{work}/osv/{id_}.json", "w"))
advisory("CVE-2099-1111", "openssl", "3.0.11-1~deb12u2", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
advisory("CVE-2099-2222", "zlib", "1:1.2.13.dfsg-2", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N")

def png(w, h, rgb):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
tools = {"description": "Handy build tools for CI pipelines",
         "architectures": ["x86-64", "ARM 64"], "operatingSystems": ["Linux"],
         "logoImageBlob": base64.b64encode(png(32, 32, (255, 153, 0))).decode(),
         "aboutText": "# Tools\n\nA **small** image with `openssl` and `zlib`.\n\n| Tool | Use |\n|---|---|\n| openssl | TLS |\n| zlib | compression |\n\nSee [the docs](https://example.com/docs).",
         "usageText": "```sh\ndocker run --rm tools openssl version\n```"}
webapp = {"description": "A web app <script>alert('desc')</script>",
          "architectures": ["x86-64"], "operatingSystems": ["Linux"],
          "logoImageBlob": base64.b64encode(png(16, 16, (35, 47, 62))).decode(),
          "aboutText": "## Web app\n\n<script>alert('xss')</script>\n\n<img src=x onerror=alert('img')>\n\n[click me](javascript:alert('link')) and [safe](https://example.com/).",
          "usageText": "Run it."}
json.dump(tools, open(f"{work}/tools.json", "w"))
json.dump(webapp, open(f"{work}/webapp.json", "w"))
PY

"$SEED" "$WORK/data" "$ACCOUNT" "$WORK"

"$ECRD" --listen 127.0.0.1:0 --data "$WORK/data" --account "$ACCOUNT" --lifecycle-interval 0 \
	>"$WORK/ecrd.out" 2>"$WORK/ecrd.log" &
ECRD_PID=$!
line=
for _ in $(seq 200); do
	line=$(grep -m1 '^ecrd: listening on ' "$WORK/ecrd.out" 2>/dev/null || true)
	[ -n "$line" ] && break
	kill -0 "$ECRD_PID" 2>/dev/null || break
	sleep 0.05
done
if [[ ! "$line" =~ ^ecrd:\ listening\ on\ (http://127\.0\.0\.1:[0-9]+)$ ]]; then
	echo "ecrd did not start: $(cat "$WORK/ecrd.out") $(tail -n 20 "$WORK/ecrd.log")"
	exit 1
fi
BASE=${BASH_REMATCH[1]}

# playwright-core into the build folder (its npm cache there too)
NPM=$BUILD/npm
mkdir -p "$NPM"
cp "$HERE/package.json" "$HERE/package-lock.json" "$NPM/"
if ! (cd "$NPM" && npm ci --no-audit --no-fund --cache "$NPM/.cache" >"$NPM/npm.log" 2>&1); then
	echo "npm ci failed:"
	tail -n 20 "$NPM/npm.log"
	exit 1
fi
rc=0
GALLERY_BASE=$BASE GALLERY_ARTIFACTS=$ARTIFACTS node "$HERE/gallery.test.mjs" \
	"$NPM/node_modules/playwright-core/index.mjs" || rc=1
# ecrd stops cleanly, with no sanitizer report (ASan builds)
kill -TERM "$ECRD_PID"
if ! wait "$ECRD_PID"; then
	echo "not ok - ecrd exited with a failure: $(tail -n 20 "$WORK/ecrd.log")"
	rc=1
elif grep -q 'Sanitizer' "$WORK/ecrd.log"; then
	echo "not ok - sanitizer report from ecrd: $(grep -A 20 Sanitizer "$WORK/ecrd.log" | head -n 40)"
	rc=1
fi
ECRD_PID=
exit $rc
