/**
 * @file ecr/usage.h
 * @brief Metering: bytes stored, bytes transferred, request counts, a cost estimate.
 * @defgroup ecr_usage Usage metering
 *
 * Amazon ECR bills stored GB-months and data transferred out. libecr meters
 * both, per repository and per registry, in the metadata store:
 *
 * - stored bytes are computed from the metadata when asked: a repository's
 *   size counts each blob (layer, config, manifest) referenced by its images
 *   once (as ECR reports repository sizes); a registry's stored_bytes is the
 *   sum over its repositories, and stored_bytes_unique counts each blob once
 *   across the whole registry (what the blob store holds for it);
 * - transfer and request counters (bytes pushed and pulled, image pushes and
 *   pulls, blob uploads and downloads) are counted in memory as requests are
 *   served and written to the metadata store in one small transaction at most
 *   every few seconds (ecr_usage_flush() forces it; ecr_registry_free()
 *   flushes): a crash loses at most the last few seconds of counts, never an
 *   image. They are kept per repository and per UTC day, so a time window can
 *   be asked for.
 * @{
 */
#ifndef ECR_USAGE_H
#define ECR_USAGE_H

#include "common.h"
#include "registry.h"
#include "repository.h"

ECR_BEGIN_DECL

/** Usage of a repository or a registry over a time window. */
typedef struct ecr_usage {
	unsigned int version;
	uint64_t repositories;        /**< repositories counted (1 for a repository) */
	uint64_t images;              /**< images (manifests) stored now */
	uint64_t stored_bytes;        /**< now: each blob once per repository, summed over repositories */
	uint64_t stored_bytes_unique; /**< now: each blob once across the registry (= stored_bytes for a repository) */
	uint64_t pushed_bytes;        /**< in the window: bytes received (blob uploads and manifests) */
	uint64_t pulled_bytes;        /**< in the window: bytes served (blobs, ranges as served, and manifests) */
	uint64_t image_pushes;        /**< in the window: manifests stored */
	uint64_t image_pulls;         /**< in the window: manifests served (GET, not HEAD) */
	uint64_t blob_uploads;        /**< in the window: blob uploads completed */
	uint64_t blob_downloads;      /**< in the window: blob reads served */
	int64_t from_ms;              /**< the window as counted: first day's start (ms since the epoch, UTC) */
	int64_t to_ms;                /**< the window as counted: end (exclusive) */
} ecr_usage;

#define ECR_USAGE_VERSION 1
#define ECR_USAGE_INIT { ECR_USAGE_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/** Initialise a usage record for the given version (ECR_USAGE_VERSION). */
ECR_EXTERN(int) ecr_usage_init(ecr_usage *usage, unsigned int version);

/**
 * A registry's usage: stored bytes now, transfer and requests counted in
 * [from_ms, to_ms) rounded out to whole UTC days (0, 0: everything ever
 * counted). Counters not yet flushed are included.
 * @return 0; ECR_EINVALID.
 */
ECR_EXTERN(int) ecr_registry_usage(ecr_usage *out, ecr_registry *reg, int64_t from_ms, int64_t to_ms);

/** One repository's usage, as ecr_registry_usage(). @return 0; ECR_EREPOSITORY_NOT_FOUND. */
ECR_EXTERN(int) ecr_repository_usage(ecr_usage *out, ecr_repository *repo, int64_t from_ms, int64_t to_ms);

/** Per repository usage callback; name and usage are borrowed. Non-zero stops and is returned. */
typedef int (*ecr_usage_cb)(const char *repository, const ecr_usage *usage, void *payload);

/** Every repository's usage (as ecr_repository_usage()), in name order. */
ECR_EXTERN(int) ecr_registry_usage_foreach(ecr_registry *reg, int64_t from_ms, int64_t to_ms, ecr_usage_cb cb,
	void *payload);

/** Write the counters counted in memory to the metadata store now. */
ECR_EXTERN(int) ecr_usage_flush(ecr_registry *reg);

/** One tier of a per-GB price: applies to the GBs up to up_to_gb (0: no limit) not covered by earlier tiers. */
typedef struct ecr_price_tier {
	double up_to_gb;
	double usd_per_gb;
} ecr_price_tier;

#define ECR_PRICE_TIERS_MAX 8

/** A price table (GB = 2^30 bytes). */
typedef struct ecr_price_table {
	unsigned int version;
	double storage_usd_per_gb_month;              /**< stored GB-month */
	double transfer_in_usd_per_gb;                /**< bytes pushed */
	size_t transfer_out_tiers_count;
	ecr_price_tier transfer_out[ECR_PRICE_TIERS_MAX]; /**< bytes pulled, per month, in tier order */
} ecr_price_table;

#define ECR_PRICE_TABLE_VERSION 1

/**
 * Amazon ECR's list prices (us-east-1, private repositories): storage
 * $0.10 per GB-month; transfer in free; transfer out to the internet per
 * month: first 100 GB free, next 9,999.9 GB... as the AWS price list gives
 * ($0.09, $0.085, $0.07, $0.05 per GB).
 */
ECR_EXTERN(int) ecr_price_table_default(ecr_price_table *out, unsigned int version);

/**
 * A price table from JSON: {"storageUsdPerGbMonth": 0.1, "transferInUsdPerGb": 0,
 * "transferOut": [{"upToGb": 100, "usdPerGb": 0}, ..., {"usdPerGb": 0.05}]};
 * missing members keep the default's values.
 * @return 0; ECR_EINVALID with the member at fault.
 */
ECR_EXTERN(int) ecr_price_table_parse(ecr_price_table *out, const char *json, size_t len);

/** A cost estimate: its parts in US dollars. */
typedef struct ecr_cost {
	unsigned int version;
	double storage_usd;      /**< stored_bytes_unique held for `months` */
	double transfer_in_usd;
	double transfer_out_usd; /**< pulled_bytes spread evenly over `months`, tiers applied per month */
	double total_usd;
} ecr_cost;

#define ECR_COST_VERSION 1

/** Estimate what usage costs at prices, for a period of `months` (> 0) months. @return 0; ECR_EINVALID. */
ECR_EXTERN(int) ecr_usage_estimate(ecr_cost *out, const ecr_usage *usage, const ecr_price_table *prices,
	double months);

ECR_END_DECL
/** @} */
#endif
