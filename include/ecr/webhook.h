/**
 * @file ecr/webhook.h
 * @brief Delivering registry events to HTTP endpoints (webhooks).
 * @defgroup ecr_webhook Webhooks
 *
 * An ecr_webhooks sends every event it is given to every URL added, as an
 * HTTP POST of the EventBridge document (ecr_event_to_json(), Content-Type
 * application/json). With a secret, the request carries the header
 * `X-Ecr-Signature: sha256=<lowercase hex HMAC-SHA256 of the body, keyed by the secret>`.
 *
 * ecr_webhooks_event_cb() only serialises and queues the event: it never waits
 * for the network, so a stalled receiver does not slow the requests that raise
 * events. When an endpoint's queue is full the event is dropped (for it) and counted.
 * Each endpoint has its own delivery thread that sends its queue in order (a stalled
 * endpoint does not hold back the others); a network error or a 5xx (or 408, 429) answer
 * is retried with capped exponential backoff and jitter up to max_attempts
 * times in all, then given up and counted as failed; other answers (2xx: delivered;
 * other 4xx: failed) are final.
 *
 * Usage in an embedder:
 *   ecr_webhooks_new(&wh, &opts); ecr_webhooks_add(wh, "https://hooks.example/ecr", secret);
 *   ropts.event_cb = ecr_webhooks_event_cb; ropts.event_payload = wh;
 *   ... ecr_registry_open(..., &ropts) ...; close the registries; ecr_webhooks_free(wh);
 *
 * THREAD SAFETY: ecr_webhooks_event_cb, ecr_webhooks_stats and ecr_webhooks_metrics
 * may be called from any thread at once; ecr_webhooks_add is meant for setting up
 * (it is safe, but a URL added late only gets the events queued after it).
 * @{
 */
#ifndef ECR_WEBHOOK_H
#define ECR_WEBHOOK_H

#include "common.h"
#include "buffer.h"
#include "event.h"
#include "log.h"

ECR_BEGIN_DECL

/** A set of webhook endpoints with their delivery queue and thread. */
typedef struct ecr_webhooks ecr_webhooks;

/** Options of ecr_webhooks_new(); initialise with ecr_webhooks_options_init(). */
typedef struct ecr_webhooks_options {
	unsigned int version;
	size_t queue_capacity;      /**< deliveries waiting at most per endpoint; 0: 10000 */
	unsigned int max_attempts;  /**< attempts per delivery, the first included; 0: 8 */
	uint32_t timeout_ms;        /**< per request (connect + answer); 0: 10000 */
	uint32_t backoff_initial_ms; /**< first retry delay (doubled each time, +- jitter); 0: 500 */
	uint32_t backoff_max_ms;    /**< cap of the retry delay; 0: 60000 */
	ecr_log_cb log_cb;          /**< delivery failures and drops (once per burst); NULL: silent */
	void *log_payload;
} ecr_webhooks_options;

#define ECR_WEBHOOKS_OPTIONS_VERSION 1

/** @return 0, ECR_EINVALID (version unknown) */
ECR_EXTERN(int) ecr_webhooks_options_init(ecr_webhooks_options *opts, unsigned int version);

/**
 * Create a webhook sender and start its delivery thread. opts may be NULL (defaults).
 * @return 0, ECR_EINVALID, ECR_ENOMEM, ECR_ERROR (thread)
 */
ECR_EXTERN(int) ecr_webhooks_new(ecr_webhooks **out, const ecr_webhooks_options *opts);

/**
 * Add an endpoint (http:// or https://). secret (may be NULL: unsigned) is copied.
 * @return 0, ECR_EINVALID (not an http(s) URL), ECR_ENOMEM
 */
ECR_EXTERN(int) ecr_webhooks_add(ecr_webhooks *wh, const char *url, const char *secret);

/**
 * An ecr_event_cb: pass it as ecr_registry_options.event_cb with event_payload = the
 * ecr_webhooks. Serialises the event and queues one delivery per endpoint, without blocking.
 */
ECR_EXTERN(void) ecr_webhooks_event_cb(const ecr_event *event, void *payload);

/** Counters since ecr_webhooks_new(); set version to ECR_WEBHOOK_STATS_VERSION before the call. */
typedef struct ecr_webhook_stats {
	unsigned int version;
	uint64_t queued;    /**< deliveries queued (an event times the endpoints) */
	uint64_t delivered; /**< answered with 2xx */
	uint64_t failed;    /**< given up: attempts exhausted, or a final 4xx */
	uint64_t dropped;   /**< not queued: the queue was full (or the sender was stopping) */
	uint64_t retries;   /**< attempts after the first */
	uint64_t pending;   /**< in the queue now (gauge) */
} ecr_webhook_stats;

#define ECR_WEBHOOK_STATS_VERSION 1

/** @return 0, ECR_EINVALID (version) */
ECR_EXTERN(int) ecr_webhooks_stats(ecr_webhook_stats *out, ecr_webhooks *wh);

/**
 * Append the counters to out as Prometheus text exposition lines (# HELP, # TYPE and
 * samples of ecr_webhook_queued_total, _delivered_total, _failed_total, _dropped_total,
 * _retries_total and the gauge ecr_webhook_pending).
 * @return 0, ECR_ENOMEM
 */
ECR_EXTERN(int) ecr_webhooks_metrics(ecr_buf *out, ecr_webhooks *wh);

/**
 * Stop: deliver what is queued for at most deadline_ms more (retries included), then
 * stop the thread and free everything; deliveries left are counted as dropped.
 * No event callback may run or start during or after it (close the registries first).
 * NULL is a no-op.
 */
ECR_EXTERN(void) ecr_webhooks_free_deadline(ecr_webhooks *wh, uint32_t deadline_ms);

/** ecr_webhooks_free_deadline(wh, 5000). */
ECR_EXTERN(void) ecr_webhooks_free(ecr_webhooks *wh);

ECR_END_DECL
/** @} */
#endif
