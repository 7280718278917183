/* The server's metrics: request counters and latency histograms by route
 * class, counted with relaxed atomics in fixed arrays (no lock and no
 * allocation per request), and GET /metrics in the Prometheus text
 * exposition format 0.0.4, built only when scraped. */
#include "http.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ecr/stats.h"

/* Route classes: the label "route". Keep in the order of class_names. */
enum {
	MC_V2_BASE,
	MC_MANIFEST_GET,
	MC_MANIFEST_HEAD,
	MC_MANIFEST_PUT,
	MC_MANIFEST_DELETE,
	MC_BLOB_GET,
	MC_BLOB_HEAD,
	MC_BLOB_DELETE,
	MC_UPLOAD_START,
	MC_UPLOAD_PATCH,
	MC_UPLOAD_PUT,
	MC_UPLOAD_STATUS,
	MC_UPLOAD_CANCEL,
	MC_CATALOG,
	MC_TAGS_LIST,
	MC_REFERRERS,
	MC_ECR_API,
	MC_ECR_PUBLIC_API,
	MC_TOKEN,
	MC_GALLERY,
	MC_METRICS,
	MC_OTHER,
	MC_COUNT
};

static const char *const class_names[MC_COUNT] = {
    "v2_base",       "manifest_get", "manifest_head", "manifest_put", "manifest_delete", "blob_get",
    "blob_head",     "blob_delete",  "upload_start",  "upload_patch", "upload_put",      "upload_status",
    "upload_cancel", "catalog",      "tags_list",     "referrers",    "ecr_api",         "ecr_public_api",
    "token",         "gallery",      "metrics",       "other"};

/* Status codes counted by name; others are counted under their class ("2xx" ...). */
static const unsigned int status_codes[] = {200, 201, 202, 204, 206, 301, 302, 304, 307, 400, 401,
                                            403, 404, 405, 409, 413, 416, 429, 431, 500, 502, 503};
#define NSTATUS_CODES (sizeof(status_codes) / sizeof(status_codes[0]))
/* then "1xx" .. "5xx" and "other" */
#define NSTATUS (NSTATUS_CODES + 6)

/* Latency bucket upper bounds, microseconds; the last slot is +Inf. */
static const uint64_t bucket_us[] = {500,    1000,   2500,   5000,    10000,   25000,   50000,
                                     100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
static const char *const bucket_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                        "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10"};
#define NBUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

/* Registries reported: the first ones the server has served. */
#define MAX_REGISTRIES 64
#define MAX_CALLBACKS 8

typedef struct class_counters {
	_Atomic uint64_t status[NSTATUS];
	_Atomic uint64_t buckets[NBUCKETS + 1]; /* not cumulative; made so when scraped */
	_Atomic uint64_t sum_us;
	_Atomic uint64_t bytes_in, bytes_out;
} __attribute__((aligned(64))) class_counters;

struct ecr__metrics {
	class_counters classes[MC_COUNT];
	_Atomic uint64_t uploads_in_flight;
	_Atomic(ecr_registry *) registries[MAX_REGISTRIES];
	_Atomic uint64_t registries_dropped;
	struct {
		ecr_server_metrics_cb cb;
		void *payload;
	} callbacks[MAX_CALLBACKS];
	size_t callbacks_count;
};

int ecr__metrics_new(ecr__metrics **out)
{
	ecr__metrics *m = NULL;
	*out = NULL;
	if (posix_memalign((void **)&m, 64, sizeof(*m)) != 0 || !m)
		return ecr__fail(ECR_ENOMEM, ECR_ERROR_NOMEMORY, "out of memory");
	memset(m, 0, sizeof(*m));
	*out = m;
	return 0;
}

void ecr__metrics_free(ecr__metrics *m)
{
	free(m);
}

int64_t ecr__metrics_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t status_index(unsigned int status)
{
	for (size_t i = 0; i < NSTATUS_CODES; i++)
		if (status_codes[i] == status)
			return i;
	if (status >= 100 && status < 600)
		return NSTATUS_CODES + status / 100 - 1;
	return NSTATUS - 1;
}

static bool method_is(const http_request *r, const char *m)
{
	return r->method && strcmp(r->method, m) == 0;
}

static int route_class(const http_request *r)
{
	switch (r->target.route) {
	case ROUTE_BASE:
		return MC_V2_BASE;
	case ROUTE_CATALOG:
		return MC_CATALOG;
	case ROUTE_TAGS:
		return MC_TAGS_LIST;
	case ROUTE_MANIFEST:
		return method_is(r, "GET")      ? MC_MANIFEST_GET
		       : method_is(r, "HEAD")   ? MC_MANIFEST_HEAD
		       : method_is(r, "PUT")    ? MC_MANIFEST_PUT
		       : method_is(r, "DELETE") ? MC_MANIFEST_DELETE
		                                : MC_OTHER;
	case ROUTE_BLOB:
		return method_is(r, "GET")      ? MC_BLOB_GET
		       : method_is(r, "HEAD")   ? MC_BLOB_HEAD
		       : method_is(r, "DELETE") ? MC_BLOB_DELETE
		                                : MC_OTHER;
	case ROUTE_UPLOADS:
		return method_is(r, "POST") ? MC_UPLOAD_START : MC_OTHER;
	case ROUTE_UPLOAD:
		return method_is(r, "PATCH")    ? MC_UPLOAD_PATCH
		       : method_is(r, "PUT")    ? MC_UPLOAD_PUT
		       : method_is(r, "GET")    ? MC_UPLOAD_STATUS
		       : method_is(r, "DELETE") ? MC_UPLOAD_CANCEL
		                                : MC_OTHER;
	case ROUTE_REFERRERS:
		return MC_REFERRERS;
	case ROUTE_ECR_API:
		return r->metrics_public_api ? MC_ECR_PUBLIC_API : MC_ECR_API;
	case ROUTE_GALLERY:
		return MC_GALLERY;
	case ROUTE_TOKEN:
		return MC_TOKEN;
	case ROUTE_METRICS:
		return MC_METRICS;
	default:
		return MC_OTHER;
	}
}

void ecr__metrics_note_registry(ecr_server *srv, ecr_registry *reg)
{
	ecr__metrics *m = srv->metrics;
	if (!m || !reg)
		return;
	for (size_t i = 0; i < MAX_REGISTRIES; i++) {
		ecr_registry *cur = atomic_load_explicit(&m->registries[i], memory_order_acquire);
		if (cur == reg)
			return;
		if (!cur) {
			ecr_registry *expected = NULL;
			if (atomic_compare_exchange_strong_explicit(&m->registries[i], &expected, reg,
			                                            memory_order_acq_rel, memory_order_acquire) ||
			    expected == reg)
				return;
		}
	}
	atomic_fetch_add_explicit(&m->registries_dropped, 1, memory_order_relaxed);
}

void ecr__metrics_upload_begin(http_request *r)
{
	ecr__metrics *m = r->srv->metrics;
	if (!m || r->metrics_upload)
		return;
	r->metrics_upload = true;
	atomic_fetch_add_explicit(&m->uploads_in_flight, 1, memory_order_relaxed);
}

void ecr__metrics_request_done(http_request *r)
{
	ecr__metrics *m = r->srv->metrics;
	if (!m)
		return;
	if (r->metrics_upload) {
		r->metrics_upload = false;
		atomic_fetch_sub_explicit(&m->uploads_in_flight, 1, memory_order_relaxed);
	}
	class_counters *c = &m->classes[route_class(r)];
	int64_t us = ecr__metrics_now_us() - r->started_us;
	if (us < 0)
		us = 0;
	size_t b = 0;
	while (b < NBUCKETS && (uint64_t)us > bucket_us[b])
		b++;
	atomic_fetch_add_explicit(&c->status[status_index(r->status)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->sum_us, (uint64_t)us, memory_order_relaxed);
	if (r->metrics_in)
		atomic_fetch_add_explicit(&c->bytes_in, r->metrics_in, memory_order_relaxed);
	if (r->bytes_out)
		atomic_fetch_add_explicit(&c->bytes_out, r->bytes_out, memory_order_relaxed);
	ecr__metrics_note_registry(r->srv, r->reg);
}

int ecr_server_set_metrics(ecr_server *srv, ecr_server_metrics_access access)
{
	if (!srv)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_server_set_metrics: server is NULL");
	if (access != ECR_SERVER_METRICS_LOCAL && access != ECR_SERVER_METRICS_OFF && access != ECR_SERVER_METRICS_ANY)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_server_set_metrics: unknown access %d",
		                 (int)access);
	if (srv->daemon)
		return ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "the server is running");
	srv->metrics_access = access;
	return 0;
}

int ecr_server_add_metrics_cb(ecr_server *srv, ecr_server_metrics_cb cb, void *payload)
{
	if (!srv || !cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		                 "ecr_server_add_metrics_cb: server or callback is NULL");
	if (srv->daemon)
		return ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "the server is running");
	ecr__metrics *m = srv->metrics;
	if (m->callbacks_count >= MAX_CALLBACKS)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "at most %d metrics callbacks", MAX_CALLBACKS);
	m->callbacks[m->callbacks_count].cb = cb;
	m->callbacks[m->callbacks_count].payload = payload;
	m->callbacks_count++;
	return 0;
}

int ecr_metrics_append(ecr_buf *out, const char *text, size_t len)
{
	if (!out || (!text && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_metrics_append: NULL argument");
	return len ? ecr__buf_put(out, text, len) : 0;
}

int ecr_metrics_escape(ecr_buf *out, const char *value)
{
	int rc = 0;
	if (!out || !value)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_metrics_escape: NULL argument");
	for (const char *p = value; *p && !rc; p++) {
		const char *run = p;
		while (*p && *p != '\\' && *p != '"' && *p != '\n')
			p++;
		if (p > run && (rc = ecr__buf_put(out, run, (size_t)(p - run))))
			break;
		if (!*p)
			break;
		rc = ecr__buf_puts(out, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n");
	}
	return rc;
}

/* --- the exposition --- */

static int family(ecr_buf *b, const char *name, const char *type, const char *help)
{
	return ecr__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void status_label(char out[8], size_t i)
{
	if (i < NSTATUS_CODES)
		snprintf(out, 8, "%u", status_codes[i]);
	else if (i < NSTATUS - 1)
		snprintf(out, 8, "%zuxx", i - NSTATUS_CODES + 1);
	else
		snprintf(out, 8, "other");
}

static int http_families(ecr_buf *b, ecr_server *srv)
{
	ecr__metrics *m = srv->metrics;
	int rc;
	char code[8];

	if ((rc = family(b, "ecr_http_requests_total", "counter",
	                 "HTTP requests answered, by route class and status code.")))
		return rc;
	for (size_t c = 0; c < MC_COUNT; c++)
		for (size_t s = 0; s < NSTATUS; s++) {
			uint64_t v = atomic_load_explicit(&m->classes[c].status[s], memory_order_relaxed);
			if (!v)
				continue;
			status_label(code, s);
			if ((rc = ecr__buf_printf(b, "ecr_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
			                          class_names[c], code, (unsigned long long)v)))
				return rc;
		}

	if ((rc = family(b, "ecr_http_request_duration_seconds", "histogram",
	                 "Time from a request's headers to its completion, by route class.")))
		return rc;
	for (size_t c = 0; c < MC_COUNT; c++) {
		uint64_t counts[NBUCKETS + 1], total = 0;
		for (size_t i = 0; i <= NBUCKETS; i++) {
			counts[i] = atomic_load_explicit(&m->classes[c].buckets[i], memory_order_relaxed);
			total += counts[i];
		}
		if (!total)
			continue;
		uint64_t cum = 0;
		for (size_t i = 0; i < NBUCKETS; i++) {
			cum += counts[i];
			if ((rc = ecr__buf_printf(
			         b, "ecr_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
			         class_names[c], bucket_le[i], (unsigned long long)cum)))
				return rc;
		}
		uint64_t sum_us = atomic_load_explicit(&m->classes[c].sum_us, memory_order_relaxed);
		if ((rc =
		         ecr__buf_printf(b,
		                         "ecr_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
		                         "ecr_http_request_duration_seconds_sum{route=\"%s\"} %llu.%06llu\n"
		                         "ecr_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
		                         class_names[c], (unsigned long long)total, class_names[c],
		                         (unsigned long long)(sum_us / 1000000), (unsigned long long)(sum_us % 1000000),
		                         class_names[c], (unsigned long long)total)))
			return rc;
	}

	static const struct {
		const char *name, *help;
		size_t off;
	} bytes[] = {
	    {"ecr_http_received_bytes_total", "Request body bytes received, by route class.",
	     offsetof(class_counters, bytes_in)},
	    {"ecr_http_sent_bytes_total", "Response body bytes sent, by route class.",
	     offsetof(class_counters, bytes_out)},
	};
	for (size_t k = 0; k < 2; k++) {
		if ((rc = family(b, bytes[k].name, "counter", bytes[k].help)))
			return rc;
		for (size_t c = 0; c < MC_COUNT; c++) {
			_Atomic uint64_t *p = (_Atomic uint64_t *)((char *)&m->classes[c] + bytes[k].off);
			uint64_t v = atomic_load_explicit(p, memory_order_relaxed);
			if (v && (rc = ecr__buf_printf(b, "%s{route=\"%s\"} %llu\n", bytes[k].name, class_names[c],
			                               (unsigned long long)v)))
				return rc;
		}
	}
	long in_flight = srv->in_flight;
	if ((rc = family(b, "ecr_http_requests_in_flight", "gauge", "Requests being handled now.")) ||
	    (rc = ecr__buf_printf(b, "ecr_http_requests_in_flight %ld\n", in_flight < 0 ? 0 : in_flight)) ||
	    (rc = family(b, "ecr_http_uploads_in_flight", "gauge",
	                 "Blob upload requests (POST, PATCH, PUT of an upload) being handled now.")) ||
	    (rc = ecr__buf_printf(
	         b, "ecr_http_uploads_in_flight %llu\n",
	         (unsigned long long)atomic_load_explicit(&m->uploads_in_flight, memory_order_relaxed))))
		return rc;
	return 0;
}

/* The registries to report: those served so far (a scrape sees the registries added to the server too). */
static size_t registries(ecr_server *srv, ecr_registry **out)
{
	size_t n = 0;
	for (size_t i = 0; i < srv->vhosts_count; i++)
		ecr__metrics_note_registry(srv, srv->vhosts[i].reg);
	for (size_t i = 0; i < MAX_REGISTRIES; i++) {
		ecr_registry *reg = atomic_load_explicit(&srv->metrics->registries[i], memory_order_acquire);
		if (reg)
			out[n++] = reg;
	}
	return n;
}

typedef struct reg_row {
	char labels[160];
	ecr_stats st;
	bool ok;
} reg_row;

static int registry_labels(char *out, size_t len, ecr_registry *reg)
{
	ecr_buf b = ECR_BUF_INIT;
	int rc;
	if ((rc = ecr__buf_puts(&b, "account=\"")) || (rc = ecr_metrics_escape(&b, ecr_registry_account_id(reg))) ||
	    (rc = ecr__buf_puts(&b, "\",region=\"")) || (rc = ecr_metrics_escape(&b, ecr_registry_region(reg))) ||
	    (rc = ecr__buf_puts(&b, "\"")))
		goto done;
	snprintf(out, len, "%s", b.ptr);
done:
	ecr_buf_dispose(&b);
	return rc;
}

static int registry_families(ecr_buf *b, ecr_server *srv)
{
	ecr_registry *regs[MAX_REGISTRIES];
	reg_row *rows = NULL;
	size_t n = registries(srv, regs);
	int rc = 0;

	if (n && !(rows = ecr__calloc(n, sizeof(*rows))))
		return ECR_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rows[i].st.version = ECR_STATS_VERSION;
		if ((rc = registry_labels(rows[i].labels, sizeof(rows[i].labels), regs[i])))
			goto done;
		/* a registry whose statistics cannot be read now is left out of this scrape, and logged */
		rows[i].ok = ecr_registry_stats(&rows[i].st, regs[i]) == 0;
		if (!rows[i].ok)
			ecr__log(&srv->log, ECR_LOG_WARN, "metrics: statistics of %s/%s: %s",
			         ecr_registry_account_id(regs[i]), ecr_registry_region(regs[i]),
			         ecr_error_last()->message);
	}

#define EMIT_FAMILY(name, type, help, expr)                                                                            \
	do {                                                                                                           \
		if ((rc = family(b, name, type, help)))                                                                \
			goto done;                                                                                     \
		for (size_t i = 0; i < n; i++)                                                                         \
			if (rows[i].ok && (rc = ecr__buf_printf(b, name "{%s} %llu\n", rows[i].labels,                 \
			                                        (unsigned long long)(rows[i].st.expr))))               \
				goto done;                                                                             \
	} while (0)
#define EMIT_STATE(name, state, expr)                                                                                  \
	do {                                                                                                           \
		for (size_t i = 0; i < n; i++)                                                                         \
			if (rows[i].ok &&                                                                              \
			    (rc = ecr__buf_printf(b, name "{%s,state=\"" state "\"} %llu\n", rows[i].labels,           \
			                          (unsigned long long)(rows[i].st.expr))))                             \
				goto done;                                                                             \
	} while (0)

	EMIT_FAMILY("ecr_gc_runs_total", "counter", "Garbage collections completed (per storage, this process).",
	            gc_runs);
	EMIT_FAMILY("ecr_gc_failures_total", "counter", "Garbage collections that failed (per storage, this process).",
	            gc_failures);
	EMIT_FAMILY("ecr_gc_blobs_deleted_total", "counter", "Blobs removed by garbage collection.", gc_blobs_deleted);
	EMIT_FAMILY("ecr_gc_freed_bytes_total", "counter", "Bytes of the blobs removed by garbage collection.",
	            gc_bytes_freed);
	EMIT_FAMILY("ecr_storage_blob_errors_total", "counter",
	            "Failed blob store calls (I/O errors, disk full; this process).", blob_store_errors);
	EMIT_FAMILY("ecr_storage_metadata_errors_total", "counter",
	            "Failed metadata store calls (I/O errors, busy, disk full; this process).", meta_store_errors);
	if ((rc = family(b, "ecr_scans", "gauge", "Image scans by state.")))
		goto done;
	EMIT_STATE("ecr_scans", "in_progress", scans_in_progress);
	EMIT_STATE("ecr_scans", "complete", scans_complete);
	EMIT_STATE("ecr_scans", "failed", scans_failed);
	if ((rc = family(b, "ecr_replication_jobs", "gauge", "Replication jobs by state.")))
		goto done;
	EMIT_STATE("ecr_replication_jobs", "queued", replication_queued);
	EMIT_STATE("ecr_replication_jobs", "running", replication_running);
	EMIT_STATE("ecr_replication_jobs", "complete", replication_complete);
	EMIT_STATE("ecr_replication_jobs", "failed", replication_failed);
	EMIT_FAMILY("ecr_replication_queue_depth", "gauge", "Replication jobs waiting or running.",
	            replication_queued + rows[i].st.replication_running);
#undef EMIT_FAMILY
#undef EMIT_STATE
	if ((rc = family(b, "ecr_metrics_registries_dropped_total", "counter",
	                 "Requests to registries beyond the ones reported (64 at most).")) ||
	    (rc = ecr__buf_printf(
	         b, "ecr_metrics_registries_dropped_total %llu\n",
	         (unsigned long long)atomic_load_explicit(&srv->metrics->registries_dropped, memory_order_relaxed))))
		goto done;
done:
	ecr__free(rows);
	return rc;
}

/* --- the process, from /proc --- */

static bool proc_status_field(const char *name, unsigned long long *out)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t n = strlen(name);
	bool found = false;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			found = sscanf(line + n + 1, "%llu", out) == 1;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool open_fds(unsigned long long *out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned long long n = 0;
	if (!d)
		return false;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	*out = n > 0 ? n - 1 : 0; /* not the directory's own descriptor */
	return true;
}

static bool start_time(double *out)
{
	char buf[1024];
	unsigned long long btime = 0, ticks = 0;
	bool have_btime = false;
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return false;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %llu", &btime) == 1) {
			have_btime = true;
			break;
		}
	fclose(f);
	if (!have_btime || !(f = fopen("/proc/self/stat", "re")))
		return false;
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* after the command's closing parenthesis: field 3 (state) ... field 22 (starttime) */
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	p++;
	for (int field = 3; field <= 22 && *p; field++) {
		while (*p == ' ')
			p++;
		if (field == 22) {
			if (sscanf(p, "%llu", &ticks) != 1)
				return false;
			break;
		}
		while (*p && *p != ' ')
			p++;
	}
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		return false;
	*out = (double)btime + (double)ticks / (double)hz;
	return true;
}

static int process_families(ecr_buf *b)
{
	unsigned long long v;
	double t;
	int rc = 0;
	if (proc_status_field("VmRSS", &v) &&
	    ((rc = family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")) ||
	     (rc = ecr__buf_printf(b, "process_resident_memory_bytes %llu\n", v * 1024))))
		return rc;
	if (open_fds(&v) && ((rc = family(b, "process_open_fds", "gauge", "Number of open file descriptors.")) ||
	                     (rc = ecr__buf_printf(b, "process_open_fds %llu\n", v))))
		return rc;
	if (start_time(&t) && ((rc = family(b, "process_start_time_seconds", "gauge",
	                                    "Start time of the process since unix epoch in seconds.")) ||
	                       (rc = ecr__buf_printf(b, "process_start_time_seconds %.2f\n", t))))
		return rc;
	if (proc_status_field("Threads", &v) &&
	    ((rc = family(b, "process_threads", "gauge", "Number of OS threads in the process.")) ||
	     (rc = ecr__buf_printf(b, "process_threads %llu\n", v))))
		return rc;
	return 0;
}

int ecr_server_metrics(ecr_buf *out, ecr_server *srv)
{
	int rc;
	if (!out || !srv)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_server_metrics: NULL argument");
	if ((rc = http_families(out, srv)) || (rc = registry_families(out, srv)) || (rc = process_families(out)))
		return rc;
	for (size_t i = 0; i < srv->metrics->callbacks_count; i++) {
		rc = srv->metrics->callbacks[i].cb(out, srv->metrics->callbacks[i].payload);
		if (rc)
			return rc < 0 ? rc
			              : ecr__fail(ECR_EUSER, ECR_ERROR_CALLBACK, "a metrics callback failed (%d)", rc);
	}
	return 0;
}

/* --- the route --- */

bool ecr__metrics_peer_allowed(int access, const struct sockaddr *sa)
{
	if (access == ECR_SERVER_METRICS_ANY)
		return true;
	if (access != ECR_SERVER_METRICS_LOCAL || !sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const unsigned char *a = in6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && a[12] == 127;
	}
	return false;
}

enum MHD_Result ecr__metrics_begin(http_request *r)
{
	const union MHD_ConnectionInfo *ci = r->mhd->get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ecr__metrics_peer_allowed(r->srv->metrics_access, ci ? ci->client_addr : NULL))
		return ecr__http_error(r, 403, "DENIED", "metrics are served to local clients only");
	bool head = strcmp(r->method, "HEAD") == 0;
	if (!head && strcmp(r->method, "GET") != 0)
		return ecr__http_error(r, 405, "UNSUPPORTED", "metrics: use GET");
	ecr_buf text = ECR_BUF_INIT;
	int rc = ecr_server_metrics(&text, r->srv);
	if (rc) {
		ecr_buf_dispose(&text);
		if (rc == ECR_ENOMEM)
			return MHD_NO;
		return ecr__http_fail(r, rc, "metrics");
	}
	struct MHD_Response *resp =
	    head ? ecr__http_response_head(r, text.size) : ecr__http_response_buf(r, text.ptr, text.size, NULL);
	if (resp)
		r->mhd->add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
			"text/plain; version=0.0.4; charset=utf-8");
	ecr_buf_dispose(&text);
	return ecr__http_queue(r, 200, resp);
}
