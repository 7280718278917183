/* rpm's package database: the SQLite rpmdb (rpm >= 4.16; table
 * Packages(hnum, blob)) read from memory, and the header blobs it holds.
 *
 * A header blob is: int32 index count, int32 data size (big-endian), that many
 * 16-byte index entries (tag, type, offset, count; big-endian) and the data
 * store. Every offset and count is checked against the blob, which may be
 * hostile. */
#include "scan_internal.h"

#include <limits.h>
#include <sqlite3.h>

#define RPMTAG_NAME 1000
#define RPMTAG_VERSION 1001
#define RPMTAG_RELEASE 1002
#define RPMTAG_EPOCH 1003
#define RPMTAG_ARCH 1022
#define RPMTAG_SOURCERPM 1044

#define RPM_INT32_TYPE 4
#define RPM_STRING_TYPE 6
#define RPM_STRING_ARRAY_TYPE 8
#define RPM_I18NSTRING_TYPE 9

#define HDR_MAX_INDEX 0xffff              /* rpm's own limit on index entries */
#define HDR_MAX_DATA (256u * 1024 * 1024) /* and on the data store */
#define VM_STEP_LIMIT 200000000           /* SQLite VM steps for reading the table (progress handler) */

static uint32_t be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

typedef struct hdr {
	const unsigned char *index, *store;
	uint32_t il, dl;
} hdr;

/* The string value of tag (first string of an array), or NULL when absent or malformed. */
static const char *hdr_string(const hdr *h, uint32_t tag)
{
	for (uint32_t i = 0; i < h->il; i++) {
		const unsigned char *e = h->index + (size_t)i * 16;
		if (be32(e) != tag)
			continue;
		uint32_t type = be32(e + 4), off = be32(e + 8), count = be32(e + 12);
		if (type != RPM_STRING_TYPE && type != RPM_STRING_ARRAY_TYPE && type != RPM_I18NSTRING_TYPE)
			return NULL;
		if (count == 0 || off >= h->dl)
			return NULL;
		const char *s = (const char *)h->store + off;
		if (!memchr(s, '\0', h->dl - off))
			return NULL;
		return s;
	}
	return NULL;
}

/* The INT32 value of tag: 1 when found, 0 when absent or malformed. */
static int hdr_int32(const hdr *h, uint32_t tag, uint32_t *out)
{
	for (uint32_t i = 0; i < h->il; i++) {
		const unsigned char *e = h->index + (size_t)i * 16;
		if (be32(e) != tag)
			continue;
		uint32_t type = be32(e + 4), off = be32(e + 8), count = be32(e + 12);
		if (type != RPM_INT32_TYPE || count == 0 || off > h->dl || h->dl - off < 4)
			return 0;
		*out = be32(h->store + off);
		return 1;
	}
	return 0;
}

/* "name-version-release.src.rpm" → name and "version-release". */
static int split_srpm(char **name_out, char **verrel_out, const char *srpm)
{
	size_t n = strlen(srpm);
	char *copy = NULL;
	int rc = 0;

	*name_out = *verrel_out = NULL;
	if (n > 8 && strcmp(srpm + n - 8, ".src.rpm") == 0)
		n -= 8;
	else if (n > 10 && strcmp(srpm + n - 10, ".nosrc.rpm") == 0)
		n -= 10;
	else
		return 0;
	if (!(copy = ecr__strndup(srpm, n)))
		return ECR_ENOMEM;
	char *rel = strrchr(copy, '-');
	if (!rel || rel == copy)
		goto done;
	*rel = '\0';
	char *ver = strrchr(copy, '-');
	if (!ver || ver == copy)
		goto done;
	*rel = '-';
	if (!(*verrel_out = ecr__strdup(ver + 1))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	*ver = '\0';
	if (!(*name_out = ecr__strdup(copy))) {
		ecr__free(*verrel_out);
		*verrel_out = NULL;
		rc = ECR_ENOMEM;
	}
done:
	ecr__free(copy);
	return rc;
}

int ecr__rpm_header_parse(ecr__pkg_list *out, const void *blob, size_t len)
{
	const unsigned char *b = blob;
	char *evr = NULL, *src = NULL, *src_verrel = NULL, *src_evr = NULL;
	uint32_t epoch = 0;
	bool has_epoch;
	hdr h;
	int rc = 0;

	if (!out || (!blob && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid argument");
	out->format = ECR__PKG_RPM;
	if (len < 8)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "rpm header: %zu bytes is too short", len);
	h.il = be32(b);
	h.dl = be32(b + 4);
	if (h.il == 0 || h.il > HDR_MAX_INDEX || h.dl > HDR_MAX_DATA)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "rpm header: bad sizes (%u entries, %u bytes)", h.il,
		                 h.dl);
	/* il <= 0xffff and dl <= 256 MiB: no overflow in size_t */
	if ((size_t)8 + (size_t)h.il * 16 + (size_t)h.dl > len)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		                 "rpm header: truncated (%u entries, %u bytes, blob of %zu)", h.il, h.dl, len);
	h.index = b + 8;
	h.store = h.index + (size_t)h.il * 16;

	const char *name = hdr_string(&h, RPMTAG_NAME);
	const char *version = hdr_string(&h, RPMTAG_VERSION);
	const char *release = hdr_string(&h, RPMTAG_RELEASE);
	const char *arch = hdr_string(&h, RPMTAG_ARCH);
	const char *srpm = hdr_string(&h, RPMTAG_SOURCERPM);
	has_epoch = hdr_int32(&h, RPMTAG_EPOCH, &epoch) == 1;
	if (!name || !*name || !version || !*version)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "rpm header: no name or version");
	/* The public keys imported into the database are pseudo-packages, not software. */
	if (strcmp(name, "gpg-pubkey") == 0)
		return 0;

	ecr_buf b1 = ECR_BUF_INIT;
	if (has_epoch && (rc = ecr__buf_printf(&b1, "%u:", epoch)) != 0)
		goto done;
	if ((rc = ecr__buf_puts(&b1, version)) != 0)
		goto done;
	if (release && *release && (rc = ecr__buf_printf(&b1, "-%s", release)) != 0)
		goto done;
	if (!(evr = ecr__buf_detach(&b1))) {
		rc = ecr__fail_oom();
		goto done;
	}
	if (srpm && (rc = split_srpm(&src, &src_verrel, srpm)) != 0)
		goto done;
	if (src_verrel) {
		if (has_epoch)
			rc = ecr__buf_printf(&b1, "%u:%s", epoch, src_verrel);
		else
			rc = ecr__buf_puts(&b1, src_verrel);
		if (rc != 0)
			goto done;
		if (!(src_evr = ecr__buf_detach(&b1))) {
			rc = ecr__fail_oom();
			goto done;
		}
		if (strcmp(src_evr, evr) == 0) {
			ecr__free(src_evr);
			src_evr = NULL;
		}
	}
	rc = ecr__pkg_list_add(out, name, evr, src, src_evr, arch && *arch ? arch : NULL);
done:
	ecr_buf_dispose(&b1);
	ecr__free(evr);
	ecr__free(src);
	ecr__free(src_verrel);
	ecr__free(src_evr);
	return rc;
}

static int progress_cb(void *payload)
{
	long *steps = payload;
	return ++*steps > VM_STEP_LIMIT / 1000; /* called every 1000 instructions */
}

int ecr__pkgdb_rpm_sqlite_parse(ecr__pkg_list *out, const void *data, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	unsigned char *copy = NULL;
	size_t start_count;
	long steps = 0;
	int rc = 0, src;

	if (!out || (!data && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid argument");
	start_count = out->count;
	out->format = ECR__PKG_RPM;
	if (len < 100 || memcmp(data, "SQLite format 3", 16) != 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "rpmdb: not a SQLite database");
	if ((uint64_t)len > (uint64_t)INT64_MAX)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "rpmdb: too large");

	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_PRIVATECACHE, NULL) != SQLITE_OK) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "rpmdb: cannot open a SQLite connection: %s",
		               db ? sqlite3_errmsg(db) : "out of memory");
		goto done;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
	sqlite3_progress_handler(db, 1000, progress_cb, &steps);

	copy = sqlite3_malloc64((sqlite3_uint64)len);
	if (!copy) {
		rc = ecr__fail_oom();
		goto done;
	}
	memcpy(copy, data, len);
	/* rpm keeps its database in WAL mode, which a memory database cannot open:
	 * mark the copy as a rollback-journal database (the WAL file itself is not read). */
	if (copy[18] == 2)
		copy[18] = 1;
	if (copy[19] == 2)
		copy[19] = 1;
	src = sqlite3_deserialize(db, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
	                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY);
	copy = NULL; /* owned by SQLite now, even on failure */
	if (src != SQLITE_OK) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "rpmdb: %s", sqlite3_errmsg(db));
		goto done;
	}
	sqlite3_exec(db, "PRAGMA cell_size_check=ON", NULL, NULL, NULL);

	/* Packages must be a real table (views are refused by the configuration above). */
	if (sqlite3_prepare_v2(db, "SELECT blob FROM main.Packages ORDER BY hnum", -1, &st, NULL) != SQLITE_OK) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "rpmdb: no Packages table: %s", sqlite3_errmsg(db));
		goto done;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		if (n < 0)
			n = 0;
		if ((rc = ecr__rpm_header_parse(out, blob, (size_t)n)) != 0)
			goto done;
	}
	if (src != SQLITE_DONE) {
		rc = ecr__fail(src == SQLITE_INTERRUPT ? ECR_ELIMIT : ECR_EINVALID, ECR_ERROR_INVALID, "rpmdb: %s",
		               sqlite3_errmsg(db));
		goto done;
	}
done:
	sqlite3_free(copy);
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (rc != 0)
		ecr__pkg_list_truncate(out, start_count);
	return rc;
}
