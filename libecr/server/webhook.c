/*
 * Webhooks (include/ecr/webhook.h): events serialised and queued by the event
 * callback (never blocking), POSTed with libcurl by one delivery thread per
 * endpoint (so that a stalled endpoint does not hold back the others), with
 * retries (capped exponential backoff + jitter) kept apart from new deliveries.
 * One lock guards every queue and counter: it is held only to link and unlink.
 */
#include "../core/core.h"

#include "../core/lazy_curl.h"
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "ecr/webhook.h"
#include "../core/crypto.h"
#include "../core/logging.h"
#include "../core/timeutil.h"

#define DEFAULT_CAPACITY 10000
#define DEFAULT_ATTEMPTS 8
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_BACKOFF_MS 500
#define DEFAULT_BACKOFF_MAX_MS 60000
#define MAX_ENDPOINTS 64

typedef struct delivery delivery;

typedef struct endpoint {
	struct ecr_webhooks *wh;
	char *url;
	char *secret; /* or NULL */
	pthread_t thread;
	bool started;
	pthread_cond_t work;   /* on CLOCK_MONOTONIC: a delivery queued, or stopping */
	delivery *head, *tail; /* new deliveries, in order */
	delivery *retry;       /* waiting for a retry, sorted by due_ms */
	size_t pending;        /* in head + retry */
} endpoint;

typedef struct body {
	int refs; /* guarded by the queue lock */
	size_t len;
	char data[];
} body;

struct delivery {
	struct delivery *next;
	const endpoint *ep;
	body *b;
	unsigned int attempts; /* made so far */
	int64_t due_ms;        /* monotonic */
};

struct ecr_webhooks {
	ecr_webhooks_options opts;
	ecr__logger log;
	pthread_mutex_t lock;
	bool stopping;
	int64_t deadline_ms; /* monotonic, once stopping */
	endpoint *eps[MAX_ENDPOINTS];
	size_t neps;
	size_t pending; /* over all endpoints */
	bool drop_logged;      /* a drop was logged since the last successful enqueue */
	uint64_t queued, delivered, failed, dropped, retries; /* guarded by lock */
};

int ecr_webhooks_options_init(ecr_webhooks_options *opts, unsigned int version)
{
	int rc = ecr__check_version(version, ECR_WEBHOOKS_OPTIONS_VERSION, "ecr_webhooks_options");
	if (rc)
		return rc;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

static void body_unref(body *b)
{
	if (b && --b->refs == 0)
		ecr__free(b);
}

/* Lock held. */
static void delivery_free(delivery *d)
{
	body_unref(d->b);
	ecr__free(d);
}

static void retry_insert(endpoint *ep, delivery *d)
{
	delivery **p = &ep->retry;
	while (*p && (*p)->due_ms <= d->due_ms)
		p = &(*p)->next;
	d->next = *p;
	*p = d;
}

static int64_t backoff_ms(const ecr_webhooks *wh, unsigned int attempts)
{
	uint64_t d = wh->opts.backoff_initial_ms, rnd = 0;
	for (unsigned int i = 1; i < attempts && d < wh->opts.backoff_max_ms; i++)
		d *= 2;
	if (d > wh->opts.backoff_max_ms)
		d = wh->opts.backoff_max_ms;
	if (ecr__random_bytes(&rnd, sizeof(rnd)))
		rnd = (uint64_t)ecr__time_monotonic_ms();
	/* jitter: between half and all of the delay */
	return (int64_t)(d / 2 + (d / 2 ? rnd % (d / 2 + 1) : 0));
}

/* Abort a request in flight once stopping and past the deadline (ecr_webhooks_free_deadline). */
static int xferinfo(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	ecr_webhooks *wh = p;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return __atomic_load_n(&wh->stopping, __ATOMIC_ACQUIRE) &&
		ecr__time_monotonic_ms() >= __atomic_load_n(&wh->deadline_ms, __ATOMIC_ACQUIRE);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

/* One attempt: 1 delivered, 0 retry, -1 failed for good. */
static int post(ecr_webhooks *wh, CURL *c, const delivery *d, long timeout_ms, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL, *h;
	char sig[sizeof("X-Ecr-Signature: sha256=") + 64];
	long status = 0;
	CURLcode cc;
	int res;

	err[0] = '\0';
	if (!(h = curl_slist_append(hdrs, "Content-Type: application/json")))
		goto oom;
	hdrs = h;
	if (!(h = curl_slist_append(hdrs, "User-Agent: libecr-webhooks/1")))
		goto oom;
	hdrs = h;
	if (!(h = curl_slist_append(hdrs, "Expect:")))
		goto oom;
	hdrs = h;
	if (d->ep->secret) {
		unsigned char mac[32];
		char hex[65];
		if (ecr__hmac_sha256(mac, d->ep->secret, strlen(d->ep->secret), d->b->data, d->b->len)) {
			snprintf(err, errlen, "cannot sign the event");
			curl_slist_free_all(hdrs);
			return -1;
		}
		ecr__hex_encode(hex, mac, sizeof(mac));
		snprintf(sig, sizeof(sig), "X-Ecr-Signature: sha256=%s", hex);
		if (!(h = curl_slist_append(hdrs, sig)))
			goto oom;
		hdrs = h;
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, d->ep->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)d->b->data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->b->len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, wh);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		res = 0;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300)
			res = 1;
		else {
			snprintf(err, errlen, "HTTP status %ld", status);
			res = status >= 500 || status == 408 || status == 429 ? 0 : -1;
		}
	}
	curl_slist_free_all(hdrs);
	return res;
oom:
	curl_slist_free_all(hdrs);
	snprintf(err, errlen, "out of memory");
	return 0;
}

static void *deliver_thread(void *arg)
{
	endpoint *ep = arg;
	ecr_webhooks *wh = ep->wh;
	CURL *c = curl_easy_init();
	char err[CURL_ERROR_SIZE + 64];

	pthread_mutex_lock(&wh->lock);
	for (;;) {
		int64_t now = ecr__time_monotonic_ms();
		delivery *d = NULL;
		if (wh->stopping && (now >= wh->deadline_ms || (!ep->head && !ep->retry)))
			break;
		if (ep->retry && ep->retry->due_ms <= now) {
			d = ep->retry;
			ep->retry = d->next;
		} else if (ep->head) {
			d = ep->head;
			if (!(ep->head = d->next))
				ep->tail = NULL;
		}
		if (!d) {
			int64_t until = ep->retry ? ep->retry->due_ms : -1;
			if (wh->stopping && (until < 0 || until > wh->deadline_ms))
				until = wh->deadline_ms;
			if (until < 0) {
				pthread_cond_wait(&ep->work, &wh->lock);
			} else {
				/* the condition variable runs on CLOCK_MONOTONIC (ecr_webhooks_new) */
				struct timespec ts = { .tv_sec = (time_t)(until / 1000), .tv_nsec = (long)(until % 1000) * 1000000L };
				pthread_cond_timedwait(&ep->work, &wh->lock, &ts);
			}
			continue;
		}
		d->next = NULL;
		ep->pending--;
		wh->pending--;
		long timeout = (long)wh->opts.timeout_ms;
		if (wh->stopping && wh->deadline_ms - now < timeout)
			timeout = (long)(wh->deadline_ms - now);
		if (d->attempts > 0)
			wh->retries++;
		pthread_mutex_unlock(&wh->lock);

		int res = c ? post(wh, c, d, timeout, err, sizeof(err)) : 0;
		if (!c)
			snprintf(err, sizeof(err), "cannot create a curl handle");
		d->attempts++;

		pthread_mutex_lock(&wh->lock);
		if (res == 1) {
			wh->delivered++;
			delivery_free(d);
		} else if (res < 0 || d->attempts >= wh->opts.max_attempts) {
			wh->failed++;
			ecr__log(&wh->log, ECR_LOG_WARN, "webhook %s: gave up after %u attempt%s: %s", d->ep->url,
				d->attempts, d->attempts == 1 ? "" : "s", err);
			delivery_free(d);
		} else {
			ecr__log(&wh->log, ECR_LOG_DEBUG, "webhook %s: attempt %u failed, will retry: %s", d->ep->url,
				d->attempts, err);
			d->due_ms = ecr__time_monotonic_ms() + backoff_ms(wh, d->attempts);
			retry_insert(ep, d);
			ep->pending++;
			wh->pending++;
		}
	}
	/* past the deadline: what is left is dropped */
	for (delivery *d = ep->head, *n; d; d = n) {
		n = d->next;
		wh->dropped++;
		delivery_free(d);
	}
	for (delivery *d = ep->retry, *n; d; d = n) {
		n = d->next;
		wh->dropped++;
		delivery_free(d);
	}
	ep->head = ep->tail = ep->retry = NULL;
	wh->pending -= ep->pending;
	ep->pending = 0;
	pthread_mutex_unlock(&wh->lock);
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

int ecr_webhooks_new(ecr_webhooks **out, const ecr_webhooks_options *opts)
{
	ecr_webhooks *wh;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no out");
	*out = NULL;
	if (opts && (rc = ecr__check_version(opts->version, ECR_WEBHOOKS_OPTIONS_VERSION, "ecr_webhooks_options")))
		return rc;
	if ((rc = ecr__lazy_curl()) < 0)
		return rc;
	if (!(wh = ecr__calloc(1, sizeof(*wh))))
		return ECR_ENOMEM;
	if (opts)
		wh->opts = *opts;
	wh->opts.version = ECR_WEBHOOKS_OPTIONS_VERSION;
	if (!wh->opts.queue_capacity)
		wh->opts.queue_capacity = DEFAULT_CAPACITY;
	if (!wh->opts.max_attempts)
		wh->opts.max_attempts = DEFAULT_ATTEMPTS;
	if (!wh->opts.timeout_ms)
		wh->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!wh->opts.backoff_initial_ms)
		wh->opts.backoff_initial_ms = DEFAULT_BACKOFF_MS;
	if (!wh->opts.backoff_max_ms)
		wh->opts.backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
	if (wh->opts.backoff_max_ms < wh->opts.backoff_initial_ms)
		wh->opts.backoff_max_ms = wh->opts.backoff_initial_ms;
	wh->log.cb = wh->opts.log_cb;
	wh->log.payload = wh->opts.log_payload;
	wh->log.level = ECR_LOG_INFO;
	pthread_mutex_init(&wh->lock, NULL);
	*out = wh;
	return 0;
}

int ecr_webhooks_add(ecr_webhooks *wh, const char *url, const char *secret)
{
	endpoint *ep = NULL;
	pthread_condattr_t ca;
	bool cond = false;
	int rc = 0;

	if (!wh || !url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
		strlen(url) > 4096 || strpbrk(url, " \r\n\t"))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "webhook: '%s' is not an http:// or https:// URL",
			url ? url : "(null)");
	if (!(ep = ecr__calloc(1, sizeof(*ep))) || !(ep->url = ecr__strdup(url)) ||
		(secret && !(ep->secret = ecr__strdup(secret)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	ep->wh = wh;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ep->work, &ca);
	pthread_condattr_destroy(&ca);
	cond = true;
	pthread_mutex_lock(&wh->lock);
	if (wh->neps == MAX_ENDPOINTS)
		rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "webhook: more than %d endpoints", MAX_ENDPOINTS);
	else if (wh->stopping)
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "webhook: the sender is stopping");
	else if ((rc = pthread_create(&ep->thread, NULL, deliver_thread, ep)) != 0)
		rc = ecr__fail_os(ECR_ERROR, rc, "webhook: cannot start a delivery thread");
	else {
		ep->started = true;
		wh->eps[wh->neps++] = ep;
	}
	pthread_mutex_unlock(&wh->lock);
	if (!rc)
		ep = NULL;
done:
	if (ep) {
		if (cond)
			pthread_cond_destroy(&ep->work);
		ecr__free(ep->url);
		ecr__free(ep->secret);
		ecr__free(ep);
	}
	return rc;
}

void ecr_webhooks_event_cb(const ecr_event *event, void *payload)
{
	ecr_webhooks *wh = payload;
	ecr_buf json = ECR_BUF_INIT;
	body *b = NULL;
	size_t n, size;
	bool log_drop = false;

	if (!wh || !event)
		return;
	if (ecr_event_to_json(&json, event) || ecr__add_overflow(sizeof(body), json.size + 1, &size) ||
		!(b = ecr__malloc(size))) {
		pthread_mutex_lock(&wh->lock);
		wh->dropped += wh->neps;
		pthread_mutex_unlock(&wh->lock);
		goto done;
	}
	b->refs = 0;
	b->len = json.size;
	memcpy(b->data, json.ptr, json.size + 1);

	pthread_mutex_lock(&wh->lock);
	n = wh->neps;
	for (size_t i = 0; i < n; i++) {
		delivery *d = NULL;
		endpoint *ep = wh->eps[i];
		if (wh->stopping || ep->pending >= wh->opts.queue_capacity || !(d = ecr__calloc(1, sizeof(*d)))) {
			wh->dropped++;
			if (!wh->drop_logged)
				log_drop = wh->drop_logged = true;
			continue;
		}
		d->ep = ep;
		d->b = b;
		b->refs++;
		if (ep->tail)
			ep->tail->next = d;
		else
			ep->head = d;
		ep->tail = d;
		ep->pending++;
		wh->pending++;
		pthread_cond_signal(&ep->work);
		wh->queued++;
		wh->drop_logged = false;
	}
	if (b->refs == 0)
		ecr__free(b);
	pthread_mutex_unlock(&wh->lock);
	if (log_drop)
		ecr__log(&wh->log, ECR_LOG_WARN,
			"webhooks: queue full (%zu deliveries): dropping events (logged once per burst; see "
			"ecr_webhook_dropped_total)",
			wh->opts.queue_capacity);
done:
	ecr_buf_dispose(&json);
	ecr__error_clear();
}

int ecr_webhooks_stats(ecr_webhook_stats *out, ecr_webhooks *wh)
{
	int rc;
	if (!out || !wh)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no stats or no webhooks");
	if ((rc = ecr__check_version(out->version, ECR_WEBHOOK_STATS_VERSION, "ecr_webhook_stats")))
		return rc;
	pthread_mutex_lock(&wh->lock);
	out->queued = wh->queued;
	out->delivered = wh->delivered;
	out->failed = wh->failed;
	out->dropped = wh->dropped;
	out->retries = wh->retries;
	out->pending = wh->pending;
	pthread_mutex_unlock(&wh->lock);
	return 0;
}

int ecr_webhooks_metrics(ecr_buf *out, ecr_webhooks *wh)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "ecr_webhook_queued_total", "counter", "Webhook deliveries queued (an event times the endpoints)." },
		{ "ecr_webhook_delivered_total", "counter", "Webhook deliveries answered with 2xx." },
		{ "ecr_webhook_failed_total", "counter", "Webhook deliveries given up (attempts exhausted or final 4xx)." },
		{ "ecr_webhook_dropped_total", "counter", "Webhook deliveries dropped (queue full or shutting down)." },
		{ "ecr_webhook_retries_total", "counter", "Webhook delivery attempts after the first." },
		{ "ecr_webhook_pending", "gauge", "Webhook deliveries waiting in the queue." },
	};
	ecr_webhook_stats st = { .version = ECR_WEBHOOK_STATS_VERSION };
	int rc = ecr_webhooks_stats(&st, wh);
	const uint64_t v[] = { st.queued, st.delivered, st.failed, st.dropped, st.retries, st.pending };
	if (!rc && !out)
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no buffer");
	for (size_t i = 0; !rc && i < sizeof(fam) / sizeof(fam[0]); i++)
		rc = ecr__buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", fam[i].name, fam[i].help, fam[i].name,
			fam[i].type, fam[i].name, (unsigned long long)v[i]);
	return rc;
}

void ecr_webhooks_free_deadline(ecr_webhooks *wh, uint32_t deadline_ms)
{
	if (!wh)
		return;
	pthread_mutex_lock(&wh->lock);
	__atomic_store_n(&wh->deadline_ms, ecr__time_monotonic_ms() + deadline_ms, __ATOMIC_RELEASE);
	__atomic_store_n(&wh->stopping, true, __ATOMIC_RELEASE);
	for (size_t i = 0; i < wh->neps; i++)
		pthread_cond_broadcast(&wh->eps[i]->work);
	pthread_mutex_unlock(&wh->lock);
	for (size_t i = 0; i < wh->neps; i++) {
		if (wh->eps[i]->started)
			pthread_join(wh->eps[i]->thread, NULL);
		pthread_cond_destroy(&wh->eps[i]->work);
		ecr__free(wh->eps[i]->url);
		ecr__free(wh->eps[i]->secret);
		ecr__free(wh->eps[i]);
	}
	pthread_mutex_destroy(&wh->lock);
	ecr__free(wh);
}

void ecr_webhooks_free(ecr_webhooks *wh) { ecr_webhooks_free_deadline(wh, 5000); }
