/**
 * @file ecr/scan.h
 * @brief Image scanning: operating-system packages with known vulnerabilities.
 * @defgroup ecr_scan Image scanning
 *
 * A scan reads an image's layers in order (gzip, zstd or plain tar; OCI
 * whiteouts applied), in memory and within hard caps, finds the operating
 * system (os-release) and its package database (dpkg, apk, rpm's SQLite
 * rpmdb), and matches the packages against a vulnerability database in the
 * OSV format. A report keeps the package inventory, so it can be matched
 * again when the database changes without reading the layers again.
 *
 * THREAD SAFETY: a vulnerability database is immutable once loaded and may
 * be used by any number of scans at once; a report is used by one thread at a
 * time. A scanner is internally locked.
 * @{
 */
#ifndef ECR_SCAN_H
#define ECR_SCAN_H

#include "common.h"
#include "buffer.h"
#include "image.h"
#include "registry.h"
#include "repository.h"

ECR_BEGIN_DECL

typedef struct ecr_vulndb ecr_vulndb;
typedef struct ecr_scan_report ecr_scan_report;
typedef struct ecr_scanner ecr_scanner;

/** Severity levels, as ECR reports them. */
typedef enum ecr_severity {
	ECR_SEVERITY_UNDEFINED = 0,
	ECR_SEVERITY_INFORMATIONAL = 1,
	ECR_SEVERITY_LOW = 2,
	ECR_SEVERITY_MEDIUM = 3,
	ECR_SEVERITY_HIGH = 4,
	ECR_SEVERITY_CRITICAL = 5
} ecr_severity;

/** ECR's name of a severity ("CRITICAL", ...). @return a static string. */
ECR_EXTERN(const char *) ecr_severity_name(ecr_severity severity);

/**
 * Load an OSV vulnerability database: one advisory file (.json), a folder of
 * them (searched recursively), or a .zip of them as osv.dev publishes them per
 * ecosystem. Advisories are indexed by ecosystem ("Debian:12", "Alpine:v3.19",
 * "Ubuntu:22.04:LTS", "Red Hat", ...) and package.
 * @param paths one or more paths, all loaded into one database.
 * @return 0; ECR_ENOTFOUND (a path is missing); ECR_EINVALID (a malformed
 *         advisory, with its file in the message); ECR_ELIMIT.
 */
ECR_EXTERN(int) ecr_vulndb_load(ecr_vulndb **out, const char *const *paths, size_t paths_count);

/** Free a database (scans holding it keep it alive). NULL is a no-op. */
ECR_EXTERN(void) ecr_vulndb_free(ecr_vulndb *db);

/** Number of advisories loaded. */
ECR_EXTERN(size_t) ecr_vulndb_advisory_count(const ecr_vulndb *db);
/** Time the load took, in ms. */
ECR_EXTERN(int64_t) ecr_vulndb_load_ms(const ecr_vulndb *db);
/** When it was loaded, ms since the epoch (vulnerabilitySourceUpdatedAt). */
ECR_EXTERN(int64_t) ecr_vulndb_loaded_at(const ecr_vulndb *db);

/** Limits of a scan (untrusted layers). Zero fields take the defaults. */
typedef struct ecr_scan_options {
	unsigned int version;
	uint64_t max_total_bytes;  /**< decompressed bytes over all layers; 0: 8 GiB */
	uint64_t max_entries;      /**< tar entries over all layers; 0: 1,000,000 */
	uint64_t max_file_size;    /**< largest file kept in memory (package databases); 0: 64 MiB */
	uint32_t max_path_length;  /**< 0: 4096 */
	/** For an index: the platform to scan, "os/arch[/variant]"; NULL: linux/amd64, else the first. */
	const char *platform;
} ecr_scan_options;

#define ECR_SCAN_OPTIONS_VERSION 1
#define ECR_SCAN_OPTIONS_INIT { ECR_SCAN_OPTIONS_VERSION, 0, 0, 0, 0, NULL }

/** Initialise options. @return 0 or ECR_EINVALID. */
ECR_EXTERN(int) ecr_scan_options_init(ecr_scan_options *opts, unsigned int version);

/**
 * Scan an image of a repository.
 * @param db the database to match against; may be NULL (inventory only).
 * @return 0 with a report (also when the OS is not supported: see
 *         ecr_scan_report_status_reason()); ECR_EIMAGE_NOT_FOUND; ECR_ELIMIT or
 *         ECR_EINVALID for a hostile or broken layer (message says which cap
 *         or which entry).
 */
ECR_EXTERN(int) ecr_scan_image(ecr_scan_report **out, ecr_repository *repo, const char *reference, const ecr_vulndb *db,
	const ecr_scan_options *opts);

/**
 * Scan an image in a local OCI image layout folder, without a registry.
 * @param reference a tag (org.opencontainers.image.ref.name) or digest in
 *        index.json; NULL when the layout holds one image.
 */
ECR_EXTERN(int) ecr_scan_layout(ecr_scan_report **out, const char *layout_dir, const char *reference,
	const ecr_vulndb *db, const ecr_scan_options *opts);

/** Free a report. NULL is a no-op. */
ECR_EXTERN(void) ecr_scan_report_free(ecr_scan_report *report);

/** The OS found, e.g. "debian 12", or NULL. @return borrowed. */
ECR_EXTERN(const char *) ecr_scan_report_os(const ecr_scan_report *report);
/** The OSV ecosystem the packages were matched in, e.g. "Debian:12", or NULL. @return borrowed. */
ECR_EXTERN(const char *) ecr_scan_report_ecosystem(const ecr_scan_report *report);
/**
 * Why packages could not be scanned, or NULL when they were: e.g.
 * "UNSUPPORTED_IMAGE: rpm Berkeley DB format (Packages) is not supported".
 * @return borrowed.
 */
ECR_EXTERN(const char *) ecr_scan_report_status_reason(const ecr_scan_report *report);

/** Number of packages in the inventory. */
ECR_EXTERN(size_t) ecr_scan_report_package_count(const ecr_scan_report *report);

/**
 * Package i of the inventory. Every out-parameter may be NULL; strings are
 * borrowed from the report; source_* are NULL when the database gives none.
 * @return 0; ECR_ENOTFOUND when i is out of range.
 */
ECR_EXTERN(int) ecr_scan_report_package(const char **name_out, const char **version_out, const char **source_name_out,
	const char **source_version_out, const ecr_scan_report *report, size_t i);

/** One finding; borrowed from its report. */
typedef struct ecr_scan_finding {
	const char *name;            /**< the advisory's id or CVE alias, e.g. "CVE-2023-4911" */
	const char *uri;             /**< a reference URL, or NULL */
	const char *description;     /**< summary or details, or NULL */
	ecr_severity severity;
	const char *package_name;    /**< the installed (binary) package */
	const char *package_version; /**< its installed version */
	const char *fixed_version;   /**< the first fixed version, or NULL */
	int cvss_version;            /**< 2 or 3, 0 when none */
	const char *cvss_vector;     /**< or NULL */
	double cvss_score;           /**< 0 when none */
} ecr_scan_finding;

/** Number of findings. */
ECR_EXTERN(size_t) ecr_scan_report_finding_count(const ecr_scan_report *report);
/** Finding i (ordered by severity, then name), or NULL when out of range. @return borrowed. */
ECR_EXTERN(const ecr_scan_finding *) ecr_scan_report_finding(const ecr_scan_report *report, size_t i);
/** Number of findings of one severity. */
ECR_EXTERN(size_t) ecr_scan_report_severity_count(const ecr_scan_report *report, ecr_severity severity);

/**
 * Match the report's package inventory again against another database
 * (continuous scanning: no layer is read), replacing its findings.
 */
ECR_EXTERN(int) ecr_scan_report_rematch(ecr_scan_report *report, const ecr_vulndb *db);

/** The package inventory as a CycloneDX 1.5 JSON SBOM, appended to out. */
ECR_EXTERN(int) ecr_scan_report_sbom(ecr_buf *out, const ecr_scan_report *report);

/* --- the scanning service of a registry (scan on push, StartImageScan) --- */

/** Scan status, as ECR's imageScanStatus. */
typedef enum ecr_scan_status {
	ECR_SCAN_NONE = 0,        /**< never scanned */
	ECR_SCAN_IN_PROGRESS = 1,
	ECR_SCAN_COMPLETE = 2,
	ECR_SCAN_FAILED = 3
} ecr_scan_status;

/**
 * A scanner: a bounded pool of worker threads that scans images of the
 * registries attached to it, never on the caller's thread.
 * @param threads worker threads; 0: 2.
 */
ECR_EXTERN(int) ecr_scanner_new(ecr_scanner **out, unsigned int threads);

/**
 * Replace the scanner's database (takes a reference; the caller still frees
 * its own). Images scanned before are matched again against it
 * (CONTINUOUS_SCAN), in the background, from their stored inventory.
 */
ECR_EXTERN(int) ecr_scanner_set_db(ecr_scanner *scanner, ecr_vulndb *db);

/**
 * Attach a registry: its pushes are scanned when the repository has scan on
 * push (or the registry scanning configuration says so). The registry must
 * outlive the scanner or be detached with ecr_scanner_detach().
 */
ECR_EXTERN(int) ecr_scanner_attach(ecr_scanner *scanner, ecr_registry *reg);
ECR_EXTERN(int) ecr_scanner_detach(ecr_scanner *scanner, ecr_registry *reg);

/**
 * Queue a scan of an image (ECR's StartImageScan): at most one per image per
 * 24 hours (ECR_ELIMIT), ECR_EIMAGE_ARCHIVED for an archived image.
 */
ECR_EXTERN(int) ecr_scanner_start(ecr_scanner *scanner, ecr_repository *repo, const char *digest);

/** Wait until the queue is empty and no scan runs (tests, shutdown); timeout_ms 0: forever. */
ECR_EXTERN(int) ecr_scanner_drain(ecr_scanner *scanner, int64_t timeout_ms);

/** Stop the workers (scans in flight finish) and free the scanner. NULL is a no-op. */
ECR_EXTERN(void) ecr_scanner_free(ecr_scanner *scanner);

/**
 * The stored result of the last scan of an image.
 * @param status_out the status; *report_out is NULL unless COMPLETE.
 * @param reason_out a description of FAILED (or of a complete scan's limits); may be NULL.
 * @param completed_at_out ms since the epoch, 0 if none; may be NULL.
 * @param report_out may be NULL; else receives a report to free.
 */
ECR_EXTERN(int) ecr_image_scan_result(ecr_scan_status *status_out, ecr_buf *reason_out, int64_t *completed_at_out,
	ecr_scan_report **report_out, ecr_repository *repo, const char *digest);

/**
 * Set the registry scanning configuration (ECR's PutRegistryScanningConfiguration),
 * as ECR's JSON: {"scanType": "BASIC"|"ENHANCED", "rules": [{"scanFrequency":
 * "SCAN_ON_PUSH"|"CONTINUOUS_SCAN"|"MANUAL", "repositoryFilters": [{"filter":
 * "prod-*", "filterType": "WILDCARD"}]}]} (0-2 rules).
 * @return 0; ECR_EVALIDATION with ECR's message.
 */
ECR_EXTERN(int) ecr_registry_set_scanning_configuration(ecr_registry *reg, const char *json);

/** The registry scanning configuration as ECR's JSON; {"scanType":"BASIC","rules":[]} when never set. */
ECR_EXTERN(int) ecr_registry_scanning_configuration(ecr_buf *out, ecr_registry *reg);

/**
 * The effective scan frequency of a repository: the first registry rule whose
 * filter matches its name, else SCAN_ON_PUSH when the repository has
 * scanOnPush, else MANUAL. Writes "SCAN_ON_PUSH", "CONTINUOUS_SCAN" or "MANUAL".
 */
ECR_EXTERN(int) ecr_repository_scan_frequency(ecr_buf *out, ecr_repository *repo);

ECR_END_DECL
/** @} */
#endif
