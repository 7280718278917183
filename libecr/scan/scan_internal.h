/* Image scanning internals shared by the files of libecr/scan/:
 * package databases and version comparison (pkgdb_*.c, osrelease.c,
 * vercmp.c), the OSV database, CVSS and matching (osv.c, cvss.c, match.c),
 * layer walking and reports (layers.c, report.c, sbom.c), and the scanning
 * service (scanner.c). */
#ifndef ECR_SCAN_SCAN_INTERNAL_H
#define ECR_SCAN_SCAN_INTERNAL_H

#include "../core/core.h"

/* --- packages (pkgdb_*.c) --- */

typedef enum ecr__pkg_format {
	ECR__PKG_DPKG = 1,
	ECR__PKG_APK = 2,
	ECR__PKG_RPM = 3
} ecr__pkg_format;

typedef struct ecr__pkg {
	char *name;
	char *version;        /* dpkg: [epoch:]upstream[-revision]; apk: as installed; rpm: [epoch:]version-release */
	char *source_name;    /* dpkg Source: (else NULL), apk origin (o:), rpm SOURCERPM's name; or NULL */
	char *source_version; /* when the database gives one that differs, else NULL */
	char *arch;           /* or NULL */
} ecr__pkg;

typedef struct ecr__pkg_list {
	ecr__pkg_format format;
	ecr__pkg *items;
	size_t count, cap;
} ecr__pkg_list;

void ecr__pkg_list_dispose(ecr__pkg_list *l);
/* Append a package (copies the strings; NULL allowed except name and version). */
int ecr__pkg_list_add(ecr__pkg_list *l, const char *name, const char *version, const char *source_name,
	const char *source_version, const char *arch);
/* Drop the packages past the first count (parsers undo a partial parse with it). */
void ecr__pkg_list_truncate(ecr__pkg_list *l, size_t count);
/* ecr__pkg_list_add fails with ECR_ELIMIT past this many packages in one list. */
#define ECR__PKG_MAX 200000

/* /var/lib/dpkg/status, or one file of /var/lib/dpkg/status.d/ (distroless); only
 * installed packages ("Status: install ok installed"; status.d files have no Status). */
int ecr__pkgdb_dpkg_parse(ecr__pkg_list *out, const char *data, size_t len, bool status_d);
/* /lib/apk/db/installed */
int ecr__pkgdb_apk_parse(ecr__pkg_list *out, const char *data, size_t len);
/* rpm's SQLite database (/var/lib/rpm/rpmdb.sqlite, or /usr/lib/sysimage/rpm/rpmdb.sqlite), from memory. */
int ecr__pkgdb_rpm_sqlite_parse(ecr__pkg_list *out, const void *data, size_t len);
/* One rpm header blob (the Packages table's blob column). */
int ecr__rpm_header_parse(ecr__pkg_list *out, const void *blob, size_t len);

/* /etc/os-release (or /usr/lib/os-release). */
typedef struct ecr__os {
	char *id;         /* "debian", "ubuntu", "alpine", "fedora", "rhel", "amzn", ... */
	char *version_id; /* "12", "22.04", "3.19.1", "9.3", "2023" */
	char *pretty_name;
} ecr__os;
int ecr__osrelease_parse(ecr__os *out, const char *data, size_t len);
void ecr__os_dispose(ecr__os *os);
/* The OSV ecosystem of an OS ("Debian:12", "Ubuntu:22.04:LTS", "Alpine:v3.19", "Red Hat", ...)
 * and the package format it uses; ECR_ENOTFOUND for an OS that is not supported. */
int ecr__os_ecosystem(char **ecosystem_out, ecr__pkg_format *format_out, const ecr__os *os);

/* --- versions (vercmp.c): <0, 0, >0 like strcmp --- */
int ecr__vercmp_dpkg(const char *a, const char *b);
int ecr__vercmp_apk(const char *a, const char *b);
int ecr__vercmp_rpm(const char *a, const char *b); /* [epoch:]version[-release], rpmvercmp per part */
int ecr__vercmp(ecr__pkg_format format, const char *a, const char *b);

/* --- the OSV database (osv.c, cvss.c, match.c) --- */

/* One match of a package against an advisory. */
typedef struct ecr__match {
	const char *id;            /* the advisory's id, or its first CVE alias when the id is not one */
	const char *uri;           /* a reference URL or NULL */
	const char *summary;       /* or NULL */
	ecr_severity severity;
	int cvss_version;          /* 2, 3 or 0 */
	const char *cvss_vector;   /* or NULL */
	double cvss_score;
	const char *fixed_version; /* or NULL */
} ecr__match;

typedef int (*ecr__match_cb)(const ecr__match *m, void *payload);

/* Call cb for every advisory of ecosystem that affects the package (by its source
 * name when the ecosystem files advisories against source packages, else its name),
 * per the advisory's ECOSYSTEM ranges (introduced/fixed/last_affected events, compared
 * with the format's version comparison) and explicit versions lists. */
int ecr__vulndb_match(const ecr_vulndb *db, const char *ecosystem, ecr__pkg_format format, const ecr__pkg *pkg,
	ecr__match_cb cb, void *payload);

/* Take / drop a reference on a database (scans in flight keep it alive). */
ecr_vulndb *ecr__vulndb_ref(ecr_vulndb *db);

/* Caps of a database load (zero fields take the defaults). */
typedef struct ecr__vulndb_limits {
	uint64_t max_file_bytes;  /* one advisory (file or zip entry); 0: 16 MiB */
	uint64_t max_total_bytes; /* all advisories read; 0: 8 GiB */
	uint64_t max_files;       /* advisories read; 0: 4,000,000 */
} ecr__vulndb_limits;
/* ecr_vulndb_load with caps (tests); NULL limits: the defaults. */
int ecr__vulndb_load_limited(ecr_vulndb **out, const char *const *paths, size_t paths_count,
	const ecr__vulndb_limits *limits);
/* A database of the one advisory in data (fuzzing, tests); name is used in messages. */
int ecr__vulndb_load_json(ecr_vulndb **out, const void *data, size_t len, const char *name);

/* CVSS base scores from vectors ("CVSS:3.1/AV:N/...", "AV:N/AC:L/..."); ECR_EINVALID for a bad vector. */
int ecr__cvss3_score(double *out, const char *vector);
int ecr__cvss2_score(double *out, const char *vector);
/* ECR's level of a score per the CVSS version's rating scale. */
ecr_severity ecr__severity_from_score(double score, int cvss_version);

/* --- layers (layers.c): the scanned files of an image's final filesystem --- */

/* A layer's bytes, pulled by libarchive: *nread_out = 0 at the end; a negative
 * ECR_E* code (with the error set) on failure. */
typedef int (*ecr__layer_read_cb)(void *payload, void *buf, size_t len, size_t *nread_out);

/* One kept file (a package database or os-release) or symlink, by its
 * normalized path ("etc/os-release": no leading '/'). */
typedef struct ecr__layer_file {
	char *path;
	unsigned char *data; /* NUL-terminated copy (regular files), else NULL */
	size_t len;
	char *link;          /* symlink target, else NULL */
	bool noted;          /* kept without its content (rpm's Berkeley DB Packages) */
} ecr__layer_file;

typedef struct ecr__layer_fs {
	ecr__layer_file *files; /* the lower layers applied so far */
	size_t count, cap;
	ecr__layer_file *pending; /* the current layer's files, merged at its end */
	size_t pending_count, pending_cap;
	uint64_t total_bytes;   /* decompressed bytes, all layers */
	uint64_t entries;       /* tar entries, all layers */
	size_t kept_bytes;      /* bytes held in files and pending */
	uint64_t max_total_bytes, max_entries, max_file_size;
	uint32_t max_path_length;
} ecr__layer_fs;

/* Start with an empty filesystem and the caps of opts (NULL: defaults). */
int ecr__layer_fs_init(ecr__layer_fs *fs, const ecr_scan_options *opts);
void ecr__layer_fs_dispose(ecr__layer_fs *fs);
/* Apply one layer (tar; gzip, zstd or none) on top; name is for messages (its digest).
 * ECR_ELIMIT when a cap is exceeded, ECR_EINVALID for a broken or hostile tar. */
int ecr__layer_fs_apply(ecr__layer_fs *fs, const char *name, ecr__layer_read_cb read_cb, void *payload);
/* A regular file of the final filesystem by path ("/etc/os-release" or
 * "etc/os-release"), following kept symlinks; NULL when absent. */
const ecr__layer_file *ecr__layer_fs_get(const ecr__layer_fs *fs, const char *path);
/* True when a path exists in the final filesystem (kept, noted or a symlink). */
bool ecr__layer_fs_has(const ecr__layer_fs *fs, const char *path);
/* Normalize a tar path into out (strip "./", leading '/', "//", "." components);
 * ECR_EINVALID for a ".." component, ECR_ELIMIT over max_len. */
int ecr__layer_path_normalize(char **out, const char *path, size_t max_len);

/* --- report internals (report.c) --- */

/* A new report; takes the package list (left empty). Strings may be NULL. */
int ecr__scan_report_new(ecr_scan_report **out, const char *os_id, const char *os_version, const char *ecosystem,
	const char *reason, ecr__pkg_list *pkgs);
/* The OS id and VERSION_ID (for purls), or NULL. */
const char *ecr__scan_report_os_id(const ecr_scan_report *r);
const char *ecr__scan_report_os_version(const ecr_scan_report *r);
/* The package list (format and items). */
const ecr__pkg_list *ecr__scan_report_packages(const ecr_scan_report *r);

/* --- reports (report.c) --- */

/* Serialize a report (os, ecosystem, reason, inventory, findings) for storage, and back. */
int ecr__scan_report_to_json(ecr_buf *out, const ecr_scan_report *r);
int ecr__scan_report_from_json(ecr_scan_report **out, const char *json, size_t len);

/* --- the scanning service (scanner.c) --- */

/* The scanner attached to a registry, or NULL (StartImageScan). */
ecr_scanner *ecr__scanner_of(ecr_registry *reg);
/* Tests: the queue's cap (default 1024), and workers that take no job while paused. */
void ecr__scanner_set_queue_cap(ecr_scanner *s, size_t cap);
void ecr__scanner_pause(ecr_scanner *s, bool paused);
/* Tests: the orphan sweep every interval_ms (0: none; default 30 s) of scans IN_PROGRESS for grace_ms (registry
 * time; default 60 s) that no node holds a lease on. */
void ecr__scanner_set_sweep(ecr_scanner *s, int64_t interval_ms, int64_t grace_ms);
/* vulnerabilitySourceUpdatedAt of an image's stored scan (0 when none). */
int ecr__image_scan_vulndb_at(int64_t *out, ecr_repository *repo, const char *digest);
/* A registry scanning filter against a repository name: substring without '*', else an anchored glob. */
bool ecr__scan_filter_match(const char *filter, const char *name);
/* A repository's effective frequency (*freq_out: ecr__free) and, when applied_filters_json is not NULL, the
 * filters that made it, as a JSON array of {filter, filterType}. */
int ecr__scan_frequency_of(char **freq_out, ecr_buf *applied_filters_json, ecr_repository *repo);

#endif
