/* Test helper shared by tests/scan/test_scanner.c and tests/server/test_ecr_api_scan.c:
 * a Debian 12 image with one uncompressed layer (os-release + a dpkg status file),
 * pushed through the library, and a small OSV database written to a folder. */
#ifndef ECR_TESTS_SCAN_TH_SCANIMG_H
#define ECR_TESTS_SCAN_TH_SCANIMG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecr.h"
#include "libecr/core/digest.h"

/* One ustar entry (regular file) appended to *buf. */
static void th_si_tar_file(unsigned char **buf, size_t *len, const char *path, const char *data)
{
	size_t dlen = strlen(data), pad = (512 - dlen % 512) % 512;
	unsigned char *b = realloc(*buf, *len + 512 + dlen + pad);
	if (!b)
		abort();
	unsigned char *h = b + *len;
	memset(h, 0, 512 + dlen + pad);
	snprintf((char *)h, 100, "%s", path);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011o", (unsigned)dlen);
	snprintf((char *)h + 136, 12, "%011o", 0);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	memcpy(h + 512, data, dlen);
	*buf = b;
	*len += 512 + dlen + pad;
}

/* Push a Debian 12 image whose dpkg database holds the packages "name version source" lines of pkgs
 * (source may be "-"); the digest goes into digest_out (ECR__DIGEST_STRLEN_MAX). */
static int th_si_push(char *digest_out, ecr_repository *repo, const char *tag, const char *const *pkgs, size_t n)
{
	unsigned char *tar = NULL;
	size_t tlen = 0;
	char status[8192] = "", ld[ECR__DIGEST_STRLEN_MAX], cd[ECR__DIGEST_STRLEN_MAX];
	char config[1024], manifest[2048];
	int rc;
	for (size_t i = 0; i < n; i++) {
		char name[64], ver[64], src[64], entry[512];
		if (sscanf(pkgs[i], "%63s %63s %63s", name, ver, src) != 3)
			return -1;
		snprintf(entry, sizeof(entry),
		         "Package: %s\nStatus: install ok installed\nVersion: %s\nArchitecture: amd64\n%s%s%s\n", name,
		         ver, strcmp(src, "-") ? "Source: " : "", strcmp(src, "-") ? src : "",
		         strcmp(src, "-") ? "\n" : "");
		strncat(status, entry, sizeof(status) - strlen(status) - 1);
	}
	th_si_tar_file(&tar, &tlen, "etc/os-release",
	               "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian "
	               "GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n");
	th_si_tar_file(&tar, &tlen, "var/lib/dpkg/status", status);
	unsigned char *t2 = realloc(tar, tlen + 1024);
	if (!t2)
		abort();
	tar = t2;
	memset(tar + tlen, 0, 1024);
	tlen += 1024;
	if ((rc = ecr__digest_buf(ld, sizeof(ld), ECR__DIGEST_SHA256, tar, tlen)) ||
	    (rc = ecr_blob_put(repo, ld, tar, tlen)))
		goto done;
	snprintf(
	    config, sizeof(config),
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":"
	    "[\"%s\"]},\"history\":[{\"created_by\":\"%s\"}]}",
	    ld, tag ? tag : "untagged");
	if ((rc = ecr__digest_buf(cd, sizeof(cd), ECR__DIGEST_SHA256, config, strlen(config))) ||
	    (rc = ecr_blob_put(repo, cd, config, strlen(config))))
		goto done;
	snprintf(
	    manifest, sizeof(manifest),
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{"
	    "\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
	    cd, strlen(config), ld, tlen);
	ecr_image *img = NULL;
	if ((rc = ecr_image_put(&img, repo, tag, NULL, NULL, manifest, strlen(manifest), 0)))
		goto done;
	snprintf(digest_out, ECR__DIGEST_STRLEN_MAX, "%s", ecr_image_digest(img));
	ecr_image_free(img);
done:
	free(tar);
	return rc;
}

/* An OSV advisory for a Debian 12 source package, fixed in fixed, with a CVSS 3.1 vector. */
static int th_si_advisory(const char *dir, const char *id, const char *package, const char *fixed)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s.json", dir, id);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(
	    f,
	    "{\"schema_version\":\"1.6.0\",\"id\":\"%s\",\"modified\":\"2024-01-01T00:00:00Z\","
	    "\"summary\":\"%s: a test vulnerability\",\"details\":\"Something bad in %s.\","
	    "\"severity\":[{\"type\":\"CVSS_V3\",\"score\":\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"}],"
	    "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"%s\"},\"ranges\":[{\"type\":"
	    "\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"%s\"}]}]}],"
	    "\"references\":[{\"type\":\"ADVISORY\",\"url\":\"https://security-tracker.debian.org/tracker/%s\"}]}\n",
	    id, id, package, package, fixed, id);
	return fclose(f) == 0 ? 0 : -1;
}

#endif
