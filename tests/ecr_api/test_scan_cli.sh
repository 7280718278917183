#!/usr/bin/env bash
# End-to-end test of image scanning (issue 6) with the real AWS CLI
# (/usr/bin/aws) and curl against ecrd.
#
# Usage: test_scan_cli.sh /path/to/ecrd   (or ECRD=...)
# Writes a small OSV database (two Debian 12 advisories), starts ecrd with
# --vuln-db on it (auth on, the credentials file it writes on first start),
# builds a Debian 12 layer holding os-release and a dpkg status file with
# Python's tarfile, pushes it over /v2/ with curl (Basic AWS:<token> from
# get-authorization-token), with scanOnPush set by
# put-image-scanning-configuration, waits with `aws ecr wait
# image-scan-complete`, and checks describe-image-scan-findings (the CVE, its
# severity and attributes, pagination), describe-images' summary,
# start-image-scan's quota, the registry scanning configuration operations,
# and a SIGHUP reload of the database.
# Output: one "ok N - name" / "not ok N - name" line per check, the last line
# "N passed, M failed"; exit status 1 when anything failed.
set -u

. "$(cd "$(dirname "$0")" && pwd)/common.sh"

ecr_api_init "${ECRD:-${1:-}}" jq curl python3 sha256sum
ecr_api_workdir ecr-scan-cli
OSV=$WORK/osv
ecr_api_aws_env
mkdir -p "$OSV"

# advisory ID PACKAGE FIXED VECTOR: one OSV advisory for a Debian 12 source package.
advisory() {
	cat >"$OSV/$1.json" <<EOF
{"schema_version": "1.6.0", "id": "$1", "modified": "2024-01-01T00:00:00Z",
 "summary": "$2: test vulnerability $1", "details": "A flaw in $2.",
 "severity": [{"type": "CVSS_V3", "score": "$4"}],
 "affected": [{"package": {"ecosystem": "Debian:12", "name": "$2"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "$3"}]}]}],
 "references": [{"type": "ADVISORY", "url": "https://security-tracker.debian.org/tracker/$1"}]}
EOF
}
advisory CVE-2099-1111 openssl 3.0.11-1~deb12u2 "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
advisory CVE-2099-2222 zlib 1:1.2.13.dfsg-2 "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"
# an advisory for a version that is not installed: never a finding
advisory CVE-2099-3333 bash 5.0-1 "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"

"$ECRD" --listen 127.0.0.1:0 --data "$WORK/unused" --vuln-db "$WORK/missing" >/dev/null 2>"$WORK/usage.err" \
	</dev/null
RC=$?
if [ "$RC" -eq 2 ] && grep -q "vulnerability database" "$WORK/usage.err"; then
	ok "ecrd --vuln-db with a missing path: exit status 2"
else
	notok "ecrd --vuln-db with a missing path: exit status 2" "exit $RC" "$(cat "$WORK/usage.err")"
fi

start_ecrd --vuln-db "$OSV" --scan-threads 2 --lifecycle-interval 0
if grep -q "vulnerability database: 3 advisories loaded" "$LOG"; then
	ok "ecrd logs the advisory count of --vuln-db"
else
	notok "ecrd logs the advisory count of --vuln-db" "$(tail -n 5 "$LOG")"
fi

REPO=scan-$$-app

ecr create-repository --repository-name "$REPO"
expect "create-repository" ".repository.imageScanningConfiguration.scanOnPush == false"
ecr put-image-scanning-configuration --repository-name "$REPO" --image-scanning-configuration scanOnPush=true
expect "put-image-scanning-configuration scanOnPush=true" ".imageScanningConfiguration.scanOnPush == true"
ecr batch-get-repository-scanning-configuration --repository-names "$REPO" nope-$$
expect "batch-get-repository-scanning-configuration" \
	".scanningConfigurations[0].scanFrequency == \"SCAN_ON_PUSH\" and .scanningConfigurations[0].scanOnPush == true
	 and .failures[0].repositoryName == \"nope-$$\" and .failures[0].failureCode == \"REPOSITORY_NOT_FOUND\""

# The image: one layer (os-release, dpkg status) built with tarfile, a config, a manifest.
python3 - "$WORK" <<'EOF'
import hashlib, io, json, sys, tarfile
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
import gzip
diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
def desc(mt, b): return {"mediaType": mt, "digest": "sha256:" + hashlib.sha256(b).hexdigest(), "size": len(b)}
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": desc("application/vnd.oci.image.config.v1+json", config),
                       "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", layer)]}).encode()
for name, b in (("layer.tar.gz", layer), ("config.json", config), ("manifest.json", manifest)):
    open(f"{work}/{name}", "wb").write(b)
EOF

ecr get-authorization-token
TOKEN=$(printf '%s' "$RES" | jq -r '.authorizationData[0].authorizationToken' | base64 -d | cut -d: -f2-)
# push_blob REPOSITORY FILE: POST an upload, PUT the bytes with ?digest=.
push_blob() {
	local repo=$1 file=$2 digest loc
	digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
	loc=$(curl -s -o /dev/null -D - -u "AWS:$TOKEN" -X POST "$ENDPOINT/v2/$repo/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	case $loc in http*) ;; *) loc=$ENDPOINT$loc ;; esac
	case $loc in *\?*) loc="$loc&digest=$digest" ;; *) loc="$loc?digest=$digest" ;; esac
	curl -s -o /dev/null -w '%{http_code}' -u "AWS:$TOKEN" -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary "@$file" "$loc"
}
C1=$(push_blob "$REPO" "$WORK/layer.tar.gz")
C2=$(push_blob "$REPO" "$WORK/config.json")
C3=$(curl -s -o /dev/null -w '%{http_code}' -u "AWS:$TOKEN" -X PUT \
	-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$WORK/manifest.json" \
	"$ENDPOINT/v2/$REPO/manifests/v1")
DIGEST=sha256:$(sha256sum "$WORK/manifest.json" | cut -d' ' -f1)
if [ "$C1" = 201 ] && [ "$C2" = 201 ] && [ "$C3" = 201 ]; then
	ok "push over /v2/ with curl"
else
	notok "push over /v2/ with curl" "layer $C1, config $C2, manifest $C3" "$(tail -n 5 "$LOG")"
fi

RES=$(timeout 120 "$AWS" --endpoint-url "$ENDPOINT" ecr wait image-scan-complete --repository-name "$REPO" \
	--image-id imageTag=v1 2>&1)
RC=$?
if [ "$RC" -eq 0 ]; then
	ok "aws ecr wait image-scan-complete"
else
	notok "aws ecr wait image-scan-complete" "exit $RC" "$RES" "$(tail -n 5 "$LOG")"
fi

ecr describe-image-scan-findings --repository-name "$REPO" --image-id imageTag=v1
expect "describe-image-scan-findings: COMPLETE" \
	".imageScanStatus.status == \"COMPLETE\" and .imageScanStatus.description == \"The scan was completed successfully.\"
	 and .imageId.imageDigest == \"$DIGEST\""
expect "describe-image-scan-findings: the CVEs of libssl3, openssl and zlib1g, none of bash" \
	"[.imageScanFindings.findings[] | .name + \"@\" + (.attributes[] | select(.key == \"package_name\") | .value)]
	 | sort == [\"CVE-2099-1111@libssl3\", \"CVE-2099-1111@openssl\", \"CVE-2099-2222@zlib1g\"]"
expect "describe-image-scan-findings: severity, uri and CVSS attributes" \
	"[.imageScanFindings.findings[] | select(.name == \"CVE-2099-1111\")][0]
	 | .severity == \"CRITICAL\" and .uri == \"https://security-tracker.debian.org/tracker/CVE-2099-1111\"
	   and ([.attributes[] | select(.key == \"CVSS3_SCORE\") | .value] == [\"9.8\"])
	   and ([.attributes[] | select(.key == \"package_version\") | .value] == [\"3.0.9-1\"])"
expect "describe-image-scan-findings: findingSeverityCounts and times" \
	".imageScanFindings.findingSeverityCounts == {\"CRITICAL\": 2, \"LOW\": 1}
	 and (.imageScanFindings.imageScanCompletedAt | type) == \"string\"
	 and (.imageScanFindings.vulnerabilitySourceUpdatedAt | type) == \"string\""
ecr describe-image-scan-findings --repository-name "$REPO" --image-id imageTag=v1 --max-items 2
expect "describe-image-scan-findings pages (--max-items 2 over 3 findings)" \
	"(.imageScanFindings.findings | length) == 2 and (.NextToken | type) == \"string\""
ecr describe-image-scan-findings --repository-name "$REPO" --image-id imageTag=v1 --page-size 1
expect "describe-image-scan-findings over pages of maxResults 1: all 3 findings" \
	"(.imageScanFindings.findings | length) == 3"
ecr describe-images --repository-name "$REPO"
expect "describe-images: imageScanStatus and imageScanFindingsSummary" \
	".imageDetails[0].imageScanStatus.status == \"COMPLETE\"
	 and .imageDetails[0].imageScanFindingsSummary.findingSeverityCounts.CRITICAL == 2"

ecr start-image-scan --repository-name "$REPO" --image-id imageTag=v1
expect_error "start-image-scan within 24 hours of the last scan" LimitExceededException
ecr describe-image-scan-findings --repository-name "$REPO" --image-id imageDigest=sha256:0000000000000000000000000000000000000000000000000000000000000000
expect_error "describe-image-scan-findings of a missing image" ImageNotFoundException

# A second image in a repository without scan on push: never scanned until asked.
MANUAL=scan-$$-manual
ecr create-repository --repository-name "$MANUAL"
push_blob "$MANUAL" "$WORK/layer.tar.gz" >/dev/null
push_blob "$MANUAL" "$WORK/config.json" >/dev/null
ecr put-image --repository-name "$MANUAL" --image-tag v1 --image-manifest "file://$WORK/manifest.json"
expect "put-image into a repository without scan on push" ".image.imageId.imageDigest == \"$DIGEST\""
ecr describe-image-scan-findings --repository-name "$MANUAL" --image-id imageTag=v1
expect_error "describe-image-scan-findings of an image never scanned" ScanNotFoundException
ecr start-image-scan --repository-name "$MANUAL" --image-id imageTag=v1
expect "start-image-scan" ".imageScanStatus.status == \"IN_PROGRESS\" and .imageId.imageDigest == \"$DIGEST\""
timeout 120 "$AWS" --endpoint-url "$ENDPOINT" ecr wait image-scan-complete --repository-name "$MANUAL" \
	--image-id imageTag=v1 >/dev/null 2>&1
ecr describe-image-scan-findings --repository-name "$MANUAL" --image-id imageTag=v1
expect "start-image-scan then wait: the same findings" "(.imageScanFindings.findings | length) == 3"

# Registry scanning configuration.
ecr get-registry-scanning-configuration
expect "get-registry-scanning-configuration: the default" \
	".scanningConfiguration == {\"scanType\": \"BASIC\", \"rules\": []} and .registryId == \"123456789012\""
ecr put-registry-scanning-configuration --scan-type ENHANCED \
	--rules "[{\"scanFrequency\":\"CONTINUOUS_SCAN\",\"repositoryFilters\":[{\"filter\":\"scan-$$-*\",\"filterType\":\"WILDCARD\"}]}]"
expect "put-registry-scanning-configuration (ENHANCED, CONTINUOUS_SCAN)" \
	".registryScanningConfiguration.scanType == \"ENHANCED\"
	 and .registryScanningConfiguration.rules[0].repositoryFilters[0].filter == \"scan-$$-*\""
ecr put-registry-scanning-configuration --scan-type BASIC \
	--rules '[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"x","filterType":"WILDCARD"}]}]'
expect_error "put-registry-scanning-configuration: BASIC has no CONTINUOUS_SCAN" ValidationException
ecr put-registry-scanning-configuration --rules '[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"Bad Name","filterType":"WILDCARD"}]}]'
expect_error "put-registry-scanning-configuration: a filter outside the pattern" ValidationException
ecr get-registry-scanning-configuration
expect "get-registry-scanning-configuration after put" ".scanningConfiguration.rules[0].scanFrequency == \"CONTINUOUS_SCAN\""
ecr batch-get-repository-scanning-configuration --repository-names "$MANUAL"
expect "batch-get-repository-scanning-configuration: CONTINUOUS_SCAN with the filter applied" \
	".scanningConfigurations[0].scanFrequency == \"CONTINUOUS_SCAN\"
	 and .scanningConfigurations[0].appliedScanFilters == [{\"filter\": \"scan-$$-*\", \"filterType\": \"WILDCARD\"}]"

# SIGHUP reloads the database: a new advisory against bash; CONTINUOUS_SCAN images are matched again.
advisory CVE-2099-4444 bash 5.2.15-3 "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"
kill -HUP "$ECRD_PID"
for _ in $(seq 1 100); do
	grep -q "vulnerability database: 4 advisories loaded" "$LOG" && break
	sleep 0.1
done
if grep -q "vulnerability database: 4 advisories loaded" "$LOG"; then
	ok "SIGHUP reloads --vuln-db (4 advisories)"
else
	notok "SIGHUP reloads --vuln-db (4 advisories)" "$(tail -n 5 "$LOG")"
fi
FOUND=
for _ in $(seq 1 100); do
	ecr describe-image-scan-findings --repository-name "$REPO" --image-id imageTag=v1
	if printf '%s' "$RES" | jq -e '[.imageScanFindings.findings[].name] | index("CVE-2099-4444")' >/dev/null 2>&1; then
		FOUND=1
		break
	fi
	sleep 0.1
done
if [ -n "$FOUND" ]; then
	ok "continuous scan: the reloaded database's advisory is found without a new scan"
else
	notok "continuous scan: the reloaded database's advisory is found without a new scan" "$RES"
fi

stop_ecrd
ecr_api_done
