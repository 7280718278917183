/* Scan an image of a registry or of a local OCI image layout: pick the
 * manifest (the platform of an index), walk its layers (layers.c), find the
 * OS and its package database, and match the packages (report.c). */
#include "scan_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/digest.h"
#include "../core/json.h"
#include "../engine/metering.h"
#include "../oci/oci.h"

#define INDEX_JSON_MAX ((size_t)4 << 20)
#define LAYOUT_BLOCK (128u * 1024u)

int ecr_scan_options_init(ecr_scan_options *opts, unsigned int version)
{
	int rc;

	if (!opts)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no options");
	if ((rc = ecr__check_version(version, ECR_SCAN_OPTIONS_VERSION, "ecr_scan_options")) < 0)
		return rc;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

/* --- where blobs come from: a repository, or a layout folder --- */

typedef struct source {
	ecr_repository *repo; /* registry */
	int dirfd;            /* layout: the layout folder, else -1 */
	const char *dir;      /* for messages */
} source;

/* A blob being read: from the registry, or a layout file verified while read. */
typedef struct stream {
	ecr_blob *blob;
	int fd;
	ecr__digest_ctx *dg;
	const char *digest;
	uint64_t got, expected; /* layout: bytes read and the descriptor's size */
	bool done;
} stream;

static int layout_blob_path(char *out, size_t outlen, const char *digest)
{
	ecr__digest_alg alg;
	const char *colon;
	int rc;

	if ((rc = ecr__oci_validate_digest(digest, &alg)) < 0)
		return rc;
	colon = strchr(digest, ':');
	if ((size_t)snprintf(out, outlen, "blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1) >= outlen)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "digest too long");
	return 0;
}

static int stream_open(stream *s, const source *src, const char *digest, int64_t size)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->digest = digest;
	if (src->repo)
		return ecr__blob_open_uncounted(&s->blob, src->repo, digest, 0, 0); /* not a download (usage.md) */
	{
		char path[ECR__DIGEST_STRLEN_MAX + 16];
		ecr__digest_alg alg;

		if ((rc = layout_blob_path(path, sizeof(path), digest)) < 0)
			return rc;
		if (size < 0)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "descriptor of %s has a negative size", digest);
		s->expected = (uint64_t)size;
		(void)ecr__oci_validate_digest(digest, &alg);
		s->fd = openat(src->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (s->fd < 0)
			return ecr__fail_os(errno == ENOENT ? ECR_ENOTFOUND : ECR_EIO, errno, "layout %s: %s", src->dir,
			                    path);
		return ecr__digest_new(&s->dg, alg);
	}
}

static void stream_close(stream *s)
{
	ecr_blob_free(s->blob);
	if (s->fd >= 0)
		close(s->fd);
	ecr__digest_free(s->dg);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* ecr__layer_read_cb: a layout blob is hashed as it is read and checked at its end. */
static int stream_read(void *payload, void *buf, size_t len, size_t *nread_out)
{
	stream *s = payload;
	ssize_t n;

	*nread_out = 0;
	if (s->blob)
		return ecr_blob_read(s->blob, buf, len, nread_out);
	if (s->done)
		return 0;
	do
		n = read(s->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ecr__fail_os(ECR_EIO, errno, "reading blob %s", s->digest);
	if (n == 0) {
		char d[ECR__DIGEST_STRLEN_MAX];
		int rc;

		s->done = true;
		if (s->got != s->expected)
			return ecr__fail(ECR_EDIGEST, ECR_ERROR_OCI, "blob %s is %llu bytes, its descriptor says %llu",
			                 s->digest, (unsigned long long)s->got, (unsigned long long)s->expected);
		if ((rc = ecr__digest_final(s->dg, d, sizeof(d))) < 0)
			return rc;
		if (strcmp(d, s->digest) != 0)
			return ecr__fail(ECR_EDIGEST, ECR_ERROR_OCI,
			                 "blob %s does not match its digest (content is %s)", s->digest, d);
		return 0;
	}
	s->got += (uint64_t)n;
	if (s->got > s->expected)
		return ecr__fail(ECR_EDIGEST, ECR_ERROR_OCI, "blob %s is larger than its descriptor's %llu bytes",
		                 s->digest, (unsigned long long)s->expected);
	if (ecr__digest_update(s->dg, buf, (size_t)n) < 0)
		return ECR_ERROR;
	*nread_out = (size_t)n;
	return 0;
}

/* Read what is left of a layout blob, so that its digest is checked. */
static int stream_finish(stream *s)
{
	unsigned char buf[16384];
	size_t n;
	int rc;

	if (s->blob)
		return 0;
	do {
		if ((rc = stream_read(s, buf, sizeof(buf), &n)) < 0)
			return rc;
	} while (n > 0);
	return 0;
}

/* A whole small blob (index, manifest) in memory, verified for layouts. */
static int read_small(unsigned char **out, size_t *len_out, const source *src, const char *digest, int64_t size,
                      size_t max)
{
	stream s;
	unsigned char *data = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	if ((rc = stream_open(&s, src, digest, size)) < 0)
		goto done;
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			unsigned char *d;

			cap = cap ? cap * 2 : 8192;
			if (cap > max + 4096) {
				rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_OCI, "blob %s is over %zu bytes", digest, max);
				goto done;
			}
			d = ecr__realloc(data, cap + 1);
			if (!d) {
				rc = ECR_ENOMEM;
				goto done;
			}
			data = d;
		}
		if ((rc = stream_read(&s, data + len, cap - len, &n)) < 0)
			goto done;
		if (n == 0)
			break;
		len += n;
		if (len > max) {
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_OCI, "blob %s is over %zu bytes", digest, max);
			goto done;
		}
	}
	data[len] = '\0';
	*out = data;
	*len_out = len;
	data = NULL;
done:
	stream_close(&s);
	ecr__free(data);
	return rc;
}

/* --- from the final filesystem to a report --- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool has_status_d(const ecr__layer_fs *fs)
{
	size_t i;

	for (i = 0; i < fs->count; i++)
		if (strncmp(fs->files[i].path, "var/lib/dpkg/status.d/", 22) == 0)
			return true;
	return false;
}

static int parse_dpkg(ecr__pkg_list *pkgs, const ecr__layer_fs *fs)
{
	const ecr__layer_file *f = ecr__layer_fs_get(fs, "var/lib/dpkg/status");
	size_t i;
	int rc;

	if (f && (rc = ecr__pkgdb_dpkg_parse(pkgs, (const char *)f->data, f->len, false)) < 0)
		return rc;
	for (i = 0; i < fs->count; i++) {
		const ecr__layer_file *d = &fs->files[i];

		if (strncmp(d->path, "var/lib/dpkg/status.d/", 22) != 0 || ends_with(d->path, ".md5sums"))
			continue;
		d = ecr__layer_fs_get(fs, d->path);
		if (d && (rc = ecr__pkgdb_dpkg_parse(pkgs, (const char *)d->data, d->len, true)) < 0)
			return rc;
	}
	return 0;
}

static int analyze(ecr_scan_report **out, const ecr__layer_fs *fs, const ecr_vulndb *db)
{
	const ecr__layer_file *osr, *f;
	ecr__os os;
	ecr__pkg_list pkgs;
	ecr__pkg_format fmt = (ecr__pkg_format)0;
	char *eco = NULL;
	ecr_buf reason = ECR_BUF_INIT;
	bool has_os = false, dpkg, apk, rpm_sqlite, rpm_bdb;
	int rc = 0;

	memset(&os, 0, sizeof(os));
	memset(&pkgs, 0, sizeof(pkgs));
	*out = NULL;
	dpkg = ecr__layer_fs_get(fs, "var/lib/dpkg/status") != NULL || has_status_d(fs);
	apk = ecr__layer_fs_get(fs, "lib/apk/db/installed") != NULL;
	rpm_sqlite = ecr__layer_fs_get(fs, "var/lib/rpm/rpmdb.sqlite") != NULL ||
	             ecr__layer_fs_get(fs, "usr/lib/sysimage/rpm/rpmdb.sqlite") != NULL;
	rpm_bdb = ecr__layer_fs_has(fs, "var/lib/rpm/Packages");

	osr = ecr__layer_fs_get(fs, "etc/os-release");
	if (!osr)
		osr = ecr__layer_fs_get(fs, "usr/lib/os-release");
	if (osr) {
		if ((rc = ecr__osrelease_parse(&os, (const char *)osr->data, osr->len)) < 0)
			goto done;
		has_os = os.id != NULL;
	}
	if (has_os) {
		rc = ecr__os_ecosystem(&eco, &fmt, &os);
		if (rc == ECR_ENOTFOUND) {
			ecr__error_clear();
			eco = NULL;
			fmt = (ecr__pkg_format)0;
			rc = ecr__buf_printf(&reason, "UNSUPPORTED_IMAGE: the operating system %s%s%s is not supported",
			                     os.id, os.version_id ? " " : "", os.version_id ? os.version_id : "");
		}
		if (rc < 0)
			goto done;
	}
	if (!fmt)
		fmt = dpkg                      ? ECR__PKG_DPKG
		      : apk                     ? ECR__PKG_APK
		      : (rpm_sqlite || rpm_bdb) ? ECR__PKG_RPM
		                                : (ecr__pkg_format)0;
	pkgs.format = fmt;
	switch (fmt) {
	case ECR__PKG_DPKG:
		if (dpkg)
			rc = parse_dpkg(&pkgs, fs);
		break;
	case ECR__PKG_APK:
		if ((f = ecr__layer_fs_get(fs, "lib/apk/db/installed")) != NULL)
			rc = ecr__pkgdb_apk_parse(&pkgs, (const char *)f->data, f->len);
		break;
	case ECR__PKG_RPM:
		f = ecr__layer_fs_get(fs, "usr/lib/sysimage/rpm/rpmdb.sqlite");
		if (!f)
			f = ecr__layer_fs_get(fs, "var/lib/rpm/rpmdb.sqlite");
		if (f)
			rc = ecr__pkgdb_rpm_sqlite_parse(&pkgs, f->data, f->len);
		break;
	default:
		break;
	}
	if (rc < 0)
		goto done;
	if (reason.size == 0) {
		if (fmt == ECR__PKG_RPM && !rpm_sqlite && rpm_bdb)
			rc = ecr__buf_puts(&reason,
			                   "UNSUPPORTED_IMAGE: the rpm Berkeley DB format (/var/lib/rpm/Packages) is "
			                   "not supported; packages not scanned");
		else if (!fmt || (fmt == ECR__PKG_DPKG && !dpkg) || (fmt == ECR__PKG_APK && !apk) ||
		         (fmt == ECR__PKG_RPM && !rpm_sqlite))
			rc = ecr__buf_puts(&reason, "UNSUPPORTED_IMAGE: no package database found");
		else if (!has_os)
			rc =
			    ecr__buf_puts(&reason, "UNSUPPORTED_IMAGE: no os-release: packages listed but not matched");
		if (rc < 0)
			goto done;
	}
	if ((rc = ecr__scan_report_new(out, os.id, os.version_id, eco, reason.size ? reason.ptr : NULL, &pkgs)) < 0)
		goto done;
	if (db && eco && (rc = ecr_scan_report_rematch(*out, db)) < 0) {
		ecr_scan_report_free(*out);
		*out = NULL;
	}
done:
	ecr__os_dispose(&os);
	ecr__pkg_list_dispose(&pkgs);
	ecr__free(eco);
	ecr_buf_dispose(&reason);
	return rc;
}

/* Walk the layers of an image manifest and build the report. */
static int scan_manifest(ecr_scan_report **out, const source *src, const ecr__manifest *m, const ecr_vulndb *db,
                         const ecr_scan_options *opts)
{
	ecr__layer_fs fs;
	const char *at;
	size_t i;
	int rc;

	*out = NULL;
	at = ecr__manifest_artifact_type(m);
	if (m->artifact_type || (at && !ecr__oci_media_type_equal(at, ECR__MT_OCI_CONFIG) &&
	                         !ecr__oci_media_type_equal(at, ECR__MT_DOCKER_CONFIG))) {
		ecr_buf reason = ECR_BUF_INIT;
		ecr__pkg_list none;

		memset(&none, 0, sizeof(none));
		if ((rc = ecr__buf_printf(&reason, "UNSUPPORTED_IMAGE: not a container image (artifact type %s)",
		                          at ? at : "?")) == 0)
			rc = ecr__scan_report_new(out, NULL, NULL, NULL, reason.ptr, &none);
		ecr_buf_dispose(&reason);
		return rc;
	}
	if ((rc = ecr__layer_fs_init(&fs, opts)) < 0)
		return rc;
	for (i = 0; i < m->layers_count; i++) {
		const ecr__descriptor *l = &m->layers[i];
		stream s;

		if ((rc = stream_open(&s, src, l->digest, l->size)) < 0)
			goto done;
		rc = ecr__layer_fs_apply(&fs, l->digest, stream_read, &s);
		if (rc == 0)
			rc = stream_finish(&s);
		stream_close(&s);
		if (rc < 0)
			goto done;
	}
	rc = analyze(out, &fs, db);
done:
	ecr__layer_fs_dispose(&fs);
	return rc;
}

/* The entry of an index for the platform asked for ("os/arch[/variant]"). */
static int pick_platform(const ecr__descriptor **out, const ecr__manifest *idx, const char *platform)
{
	const char *want = platform ? platform : "linux/amd64";
	size_t i;

	*out = NULL;
	if (idx->manifests_count == 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "the image index lists no manifests");
	for (i = 0; i < idx->manifests_count; i++) {
		const ecr__descriptor *d = &idx->manifests[i];
		size_t ol;

		if (!d->platform_os || !d->platform_arch)
			continue;
		ol = strlen(d->platform_os);
		if (strncmp(want, d->platform_os, ol) == 0 && want[ol] == '/' &&
		    strncmp(want + ol + 1, d->platform_arch, strlen(d->platform_arch)) == 0) {
			char end = want[ol + 1 + strlen(d->platform_arch)];

			if (end == '\0' || end == '/') {
				*out = d;
				return 0;
			}
		}
	}
	if (platform)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_OCI, "the image index has no manifest for %s", platform);
	*out = &idx->manifests[0];
	return 0;
}

int ecr_scan_image(ecr_scan_report **out, ecr_repository *repo, const char *reference, const ecr_vulndb *db,
                   const ecr_scan_options *opts)
{
	ecr_image *img = NULL, *child = NULL;
	ecr__manifest *m = NULL, *cm = NULL;
	const ecr__manifest *use;
	const void *data;
	size_t len;
	source src = {repo, -1, NULL};
	int rc;

	if (!out || !repo || !reference)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_scan_image: missing argument");
	*out = NULL;
	if (opts && (rc = ecr__check_version(opts->version, ECR_SCAN_OPTIONS_VERSION, "ecr_scan_options")) < 0)
		return rc;
	if ((rc = ecr_image_get(&img, repo, reference, 0)) < 0)
		goto done;
	if ((rc = ecr_image_manifest(&data, &len, img)) < 0 ||
	    (rc = ecr__manifest_parse(&m, data, len, ecr_image_media_type(img))) < 0)
		goto done;
	use = m;
	if (ecr__oci_kind_is_index(m->kind)) {
		const ecr__descriptor *d;

		if ((rc = pick_platform(&d, m, opts ? opts->platform : NULL)) < 0 ||
		    (rc = ecr_image_get(&child, repo, d->digest, 0)) < 0 ||
		    (rc = ecr_image_manifest(&data, &len, child)) < 0 ||
		    (rc = ecr__manifest_parse(&cm, data, len, ecr_image_media_type(child))) < 0)
			goto done;
		if (ecr__oci_kind_is_index(cm->kind)) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "nested image index %s", d->digest);
			goto done;
		}
		use = cm;
	}
	rc = scan_manifest(out, &src, use, db, opts);
done:
	ecr__manifest_free(cm);
	ecr__manifest_free(m);
	ecr_image_free(child);
	ecr_image_free(img);
	return rc;
}

/* --- OCI image layouts --- */

static int read_index_json(ecr__json **out, const source *src)
{
	int fd = openat(src->dirfd, "index.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = 0;

	*out = NULL;
	if (fd < 0)
		return ecr__fail_os(errno == ENOENT ? ECR_ENOTFOUND : ECR_EIO, errno, "layout %s: index.json",
		                    src->dir);
	data = ecr__malloc(INDEX_JSON_MAX + 1);
	if (!data) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, data + len, INDEX_JSON_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ecr__fail_os(ECR_EIO, errno, "layout %s: reading index.json", src->dir);
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > INDEX_JSON_MAX) {
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_OCI, "layout %s: index.json is over %zu bytes", src->dir,
			               INDEX_JSON_MAX);
			goto done;
		}
	}
	rc = ecr__json_parse(out, data, len, NULL);
done:
	ecr__free(data);
	close(fd);
	return rc;
}

int ecr_scan_layout(ecr_scan_report **out, const char *layout_dir, const char *reference, const ecr_vulndb *db,
                    const ecr_scan_options *opts)
{
	source src = {NULL, -1, layout_dir};
	ecr__json *index = NULL;
	const ecr__json *mans, *sel = NULL;
	ecr__manifest *m = NULL, *cm = NULL;
	const ecr__manifest *use;
	unsigned char *data = NULL, *cdata = NULL;
	const char *digest, *mt;
	int64_t size = -1;
	size_t len, i;
	int rc;

	if (!out || !layout_dir)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_scan_layout: missing argument");
	*out = NULL;
	if (opts && (rc = ecr__check_version(opts->version, ECR_SCAN_OPTIONS_VERSION, "ecr_scan_options")) < 0)
		return rc;
	src.dirfd = open(layout_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src.dirfd < 0)
		return ecr__fail_os(errno == ENOENT ? ECR_ENOTFOUND : ECR_EIO, errno, "layout %s", layout_dir);
	if ((rc = read_index_json(&index, &src)) < 0)
		goto done;
	mans = ecr__json_get(index, "manifests");
	if (!mans || mans->type != ECR__JSON_ARRAY) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "layout %s: index.json has no manifests", layout_dir);
		goto done;
	}
	for (i = 0; i < mans->count; i++) {
		const ecr__json *d = mans->values[i];
		const char *name =
		    ecr__json_get_string(ecr__json_get(d, "annotations"), "org.opencontainers.image.ref.name");
		const char *dg = ecr__json_get_string(d, "digest");

		if (!reference || (dg && strcmp(dg, reference) == 0) || (name && strcmp(name, reference) == 0)) {
			if (sel && !reference) {
				rc = ecr__fail(ECR_EINVALID, ECR_ERROR_OCI,
				               "layout %s holds %zu images: give a reference (a ref.name or digest)",
				               layout_dir, mans->count);
				goto done;
			}
			if (!sel)
				sel = d;
		}
	}
	if (!sel) {
		rc = ecr__fail(ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE, "layout %s has no image %s", layout_dir,
		               reference ? reference : "");
		goto done;
	}
	digest = ecr__json_get_string(sel, "digest");
	mt = ecr__json_get_string(sel, "mediaType");
	if (!digest || !ecr__json_get_int(sel, "size", &size)) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_OCI,
		               "layout %s: a descriptor of index.json has no digest or size", layout_dir);
		goto done;
	}
	if ((rc = read_small(&data, &len, &src, digest, size, ECR_MANIFEST_MAX_SIZE)) < 0 ||
	    (rc = ecr__manifest_parse(&m, data, len, mt)) < 0)
		goto done;
	use = m;
	if (ecr__oci_kind_is_index(m->kind)) {
		const ecr__descriptor *d;

		if ((rc = pick_platform(&d, m, opts ? opts->platform : NULL)) < 0 ||
		    (rc = read_small(&cdata, &len, &src, d->digest, d->size, ECR_MANIFEST_MAX_SIZE)) < 0 ||
		    (rc = ecr__manifest_parse(&cm, cdata, len, d->media_type)) < 0)
			goto done;
		if (ecr__oci_kind_is_index(cm->kind)) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "nested image index %s", d->digest);
			goto done;
		}
		use = cm;
	}
	rc = scan_manifest(out, &src, use, db, opts);
done:
	ecr__manifest_free(cm);
	ecr__manifest_free(m);
	ecr__free(cdata);
	ecr__free(data);
	ecr__json_free(index);
	close(src.dirfd);
	return rc;
}
