/*
 * ecr_image_copy: copy an image between two repository handles, local or
 * remote, through the public API only (blobs, uploads, images), so that it
 * works the same on every pair of handles.
 *
 * 1. Plan (calling thread): read the top manifest, its children (for an
 *    index: the chosen platforms), their referrers with ECR_COPY_REFERRERS;
 *    collect the distinct blobs and the manifests in the order they must be
 *    put (children before their index, subjects before their referrers).
 * 2. Blobs: a pool of up to `parallel` worker threads takes blobs off the
 *    list: present on the destination -> skipped; same registry -> mounted;
 *    else read from the source, hashed while read, and stored (one put, or an
 *    upload in 8 MiB chunks), never committed when the bytes do not match the
 *    digest. Workers only update counters under the mutex; the calling thread
 *    turns them into progress reports, so callbacks run on it alone.
 * 3. Manifests (calling thread), in plan order; the tag last of all.
 */
#include "../core/core.h"
#include "../core/digest.h"
#include "../core/json.h"
#include "../core/timeutil.h"
#include "../oci/oci.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#define CP_SMALL_BLOB (4u * 1024 * 1024)
#define CP_CHUNK (8u * 1024 * 1024)
#define CP_PARALLEL_DEFAULT 4
#define CP_PARALLEL_MAX 16
#define CP_MAX_DEPTH 8
#define CP_PROGRESS_BYTES (64u * 1024)
#define CP_PROGRESS_MS 100

enum { BLOB_PENDING = 0, BLOB_MOVING, BLOB_FINISHED };

typedef struct cp_blob {
	char *digest;
	char *media_type;
	uint64_t size;
	/* Shared with the workers, under cp_ctx.mu. */
	int phase;             /* BLOB_* */
	ecr_copy_event result; /* DONE, SKIPPED or MOUNTED once FINISHED */
	uint64_t done;         /* bytes stored so far */
	/* The calling thread's own. */
	bool reported_start, reported_end;
	uint64_t reported_bytes;
	int64_t reported_ms;
} cp_blob;

typedef struct cp_manifest {
	char *digest;
	char *media_type;
	char *bytes;
	size_t len;
} cp_manifest;

typedef struct cp_ctx {
	ecr_repository *dst, *src;
	uint32_t flags;
	bool try_mount;
	ecr_copy_progress_cb cb;
	void *payload;

	cp_blob *blobs;
	size_t nblobs, blobs_cap;
	cp_manifest *manifests;
	size_t nmanifests, manifests_cap;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t next; /* next blob a worker takes */
	size_t workers_alive;
	bool stop;
	int err; /* the first worker error */
	int err_klass;
	char *err_msg;
	uint64_t all_done, all_total;
	size_t blobs_done; /* end events reported */
} cp_ctx;

int ecr_copy_options_init(ecr_copy_options *opts, unsigned int version)
{
	int rc = ecr__check_version(version, ECR_COPY_OPTIONS_VERSION, "ecr_copy_options");
	if (rc)
		return rc;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the plan --- */

static cp_blob *find_blob(cp_ctx *c, const char *digest)
{
	for (size_t i = 0; i < c->nblobs; i++)
		if (!strcmp(c->blobs[i].digest, digest))
			return &c->blobs[i];
	return NULL;
}

static bool have_manifest(const cp_ctx *c, const char *digest)
{
	for (size_t i = 0; i < c->nmanifests; i++)
		if (!strcmp(c->manifests[i].digest, digest))
			return true;
	return false;
}

static int add_blob(cp_ctx *c, const ecr__descriptor *d)
{
	cp_blob *b;
	int rc;
	if (find_blob(c, d->digest))
		return 0;
	if (d->size < 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "blob %s has a negative size", d->digest);
	if ((rc = ecr__array_grow((void **)&c->blobs, &c->blobs_cap, c->nblobs, sizeof(*c->blobs))))
		return rc;
	b = &c->blobs[c->nblobs];
	memset(b, 0, sizeof(*b));
	b->size = (uint64_t)d->size;
	if (!(b->digest = ecr__strdup(d->digest)) || (d->media_type && !(b->media_type = ecr__strdup(d->media_type)))) {
		ecr__free(b->digest);
		return ECR_ENOMEM;
	}
	c->nblobs++;
	c->all_total += b->size;
	return 0;
}

/* Append a manifest (bytes copied). */
static int add_manifest(cp_ctx *c, const char *digest, const char *media_type, const void *bytes, size_t len)
{
	cp_manifest *m;
	int rc;
	if ((rc = ecr__array_grow((void **)&c->manifests, &c->manifests_cap, c->nmanifests, sizeof(*c->manifests))))
		return rc;
	m = &c->manifests[c->nmanifests];
	memset(m, 0, sizeof(*m));
	if (!(m->digest = ecr__strdup(digest)) || (media_type && !(m->media_type = ecr__strdup(media_type))) ||
	    !(m->bytes = ecr__malloc(len ? len : 1))) {
		ecr__free(m->digest);
		ecr__free(m->media_type);
		return ECR_ENOMEM;
	}
	memcpy(m->bytes, bytes, len);
	m->len = len;
	c->nmanifests++;
	return 0;
}

/* Check that bytes hash to digest (ECR_EDIGEST otherwise). */
static int verify_bytes(const char *digest, const void *bytes, size_t len, const char *what)
{
	ecr__digest_alg alg;
	char got[ECR__DIGEST_STRLEN_MAX];
	int rc;
	if ((rc = ecr__oci_validate_digest(digest, &alg)) || (rc = ecr__digest_buf(got, sizeof(got), alg, bytes, len)))
		return rc;
	if (strcmp(got, digest))
		return ecr__fail(ECR_EDIGEST, ECR_ERROR_IMAGE, "%s %s read from the source hashes to %s", what, digest,
		                 got);
	return 0;
}

/* A layer the registry need not hold: it names "urls" (a foreign, non-distributable layer). */
static bool layer_is_foreign(const ecr__json *doc, size_t i, const ecr__descriptor *d)
{
	const ecr__json *layer = ecr__json_at(ecr__json_get(doc, "layers"), i);
	if (layer && ecr__json_get(layer, "urls"))
		return true;
	return d->media_type && (strstr(d->media_type, "foreign") || strstr(d->media_type, "nondistributable"));
}

static int plan_image(cp_ctx *c, ecr_image *img, unsigned int depth, unsigned int ref_depth);

static int plan_digest(cp_ctx *c, const char *digest, unsigned int depth, unsigned int ref_depth)
{
	ecr_image *img = NULL;
	int rc;
	if (have_manifest(c, digest))
		return 0;
	if ((rc = ecr_image_get(&img, c->src, digest, 0)))
		return rc;
	rc = plan_image(c, img, depth, ref_depth);
	ecr_image_free(img);
	return rc;
}

/* The referrers of digest on the source, each planned after it. */
static int plan_referrers(cp_ctx *c, const char *digest, unsigned int ref_depth)
{
	ecr_image_list_options lo = ECR_IMAGE_LIST_OPTIONS_INIT;
	ecr_image_iterator *it = NULL;
	ecr_image *r = NULL;
	int rc;

	if (ref_depth >= CP_MAX_DEPTH)
		return 0; /* deeper chains of signatures of signatures are not followed */
	lo.subject = digest;
	if ((rc = ecr_image_iterator_new(&it, c->src, &lo)))
		return rc;
	while ((rc = ecr_image_iterator_next(&r, it)) == 0) {
		/* r is borrowed from the iterator until the next call. */
		if (!have_manifest(c, ecr_image_digest(r)) && (rc = plan_image(c, r, 0, ref_depth + 1)))
			break;
	}
	if (rc == ECR_ITEROVER) {
		ecr__error_clear();
		rc = 0;
	}
	ecr_image_iterator_free(it);
	return rc;
}

/*
 * Plan one manifest: its blobs, or (an index) its children, then itself,
 * then its referrers. depth counts index nesting, ref_depth referrer nesting.
 */
static int plan_image(cp_ctx *c, ecr_image *img, unsigned int depth, unsigned int ref_depth)
{
	const void *bytes;
	size_t len;
	const char *digest = ecr_image_digest(img), *mt = ecr_image_media_type(img);
	ecr__manifest *m = NULL;
	ecr__json *doc = NULL;
	int rc;

	if (have_manifest(c, digest))
		return 0;
	if (depth > CP_MAX_DEPTH)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "manifest %s: indexes nested more than %d deep", digest,
		                 CP_MAX_DEPTH);
	if ((rc = ecr_image_manifest(&bytes, &len, img)) || (rc = verify_bytes(digest, bytes, len, "manifest")) ||
	    (rc = ecr__manifest_parse(&m, bytes, len, mt)))
		goto done;
	if (ecr__oci_kind_is_index(m->kind)) {
		for (size_t i = 0; i < m->manifests_count; i++)
			if ((rc = plan_digest(c, m->manifests[i].digest, depth + 1, ref_depth)))
				goto done;
	} else {
		if ((rc = ecr__json_parse(&doc, bytes, len, NULL)))
			goto done;
		if (m->has_config && (rc = add_blob(c, &m->config)))
			goto done;
		for (size_t i = 0; i < m->layers_count; i++) {
			const ecr__descriptor *d = &m->layers[i];
			if (layer_is_foreign(doc, i, d)) {
				rc = ecr_blob_stat(c->src, d->digest, NULL);
				if (rc == ECR_ENOTFOUND) {
					ecr__error_clear();
					rc = 0;
					continue; /* pulled from its URLs, never from a registry */
				}
				if (rc)
					goto done;
			}
			if ((rc = add_blob(c, d)))
				goto done;
		}
	}
	if (have_manifest(c, digest)) /* a child was also its own ancestor's referrer */
		goto done;
	if ((rc = add_manifest(c, digest, mt, bytes, len)))
		goto done;
	if (c->flags & ECR_COPY_REFERRERS)
		rc = plan_referrers(c, digest, ref_depth);
done:
	ecr__json_free(doc);
	ecr__manifest_free(m);
	return rc;
}

/* --- platforms of an index --- */

typedef struct cp_platform {
	char os[64], arch[64], variant[64];
} cp_platform;

static int parse_platform(cp_platform *p, const char *s)
{
	const char *a, *v;
	size_t n;
	memset(p, 0, sizeof(*p));
	if (!s || !(a = strchr(s, '/')))
		goto bad;
	v = strchr(a + 1, '/');
	n = (size_t)(a - s);
	if (n == 0 || n >= sizeof(p->os))
		goto bad;
	memcpy(p->os, s, n);
	n = v ? (size_t)(v - a - 1) : strlen(a + 1);
	if (n == 0 || n >= sizeof(p->arch))
		goto bad;
	memcpy(p->arch, a + 1, n);
	if (v) {
		n = strlen(v + 1);
		if (n == 0 || n >= sizeof(p->variant) || strchr(v + 1, '/'))
			goto bad;
		memcpy(p->variant, v + 1, n);
	}
	return 0;
bad:
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "bad platform \"%s\": expected os/architecture[/variant]",
	                 s ? s : "(null)");
}

static bool str_is(const ecr__json *obj, const char *key, const char *want)
{
	const char *s = ecr__json_get_string(obj, key);
	return s && !strcmp(s, want);
}

/* 2: exact match (variant too), 1: os/arch match and the wanted platform names no variant, 0: no match. */
static int platform_match(const ecr__json *entry, const cp_platform *p)
{
	const ecr__json *pl = ecr__json_get(entry, "platform");
	const char *variant;
	if (!pl || !str_is(pl, "os", p->os) || !str_is(pl, "architecture", p->arch))
		return 0;
	variant = ecr__json_get_string(pl, "variant");
	if (!p->variant[0])
		return variant && variant[0] ? 1 : 2;
	return variant && !strcmp(variant, p->variant) ? 2 : 0;
}

/* The index with only the entries marked in keep, its other members as they were. */
static int index_subset(ecr_buf *out, const ecr__json *doc, const bool *keep)
{
	ecr__jw *w = NULL;
	int rc;
	if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)))
		goto done;
	for (size_t i = 0; i < doc->count; i++) {
		const ecr__json *v = doc->values[i];
		if ((rc = ecr__jw_key(w, doc->keys[i])))
			goto done;
		if (strcmp(doc->keys[i], "manifests") || v->type != ECR__JSON_ARRAY) {
			if ((rc = ecr__jw_value(w, v)))
				goto done;
			continue;
		}
		if ((rc = ecr__jw_array_open(w)))
			goto done;
		for (size_t j = 0; j < v->count; j++)
			if (keep[j] && (rc = ecr__jw_value(w, v->values[j])))
				goto done;
		if ((rc = ecr__jw_array_close(w)))
			goto done;
	}
	if (!(rc = ecr__jw_object_close(w)))
		rc = ecr__jw_finish(w, out);
done:
	ecr__jw_free(w);
	return rc;
}

/*
 * Plan the chosen platforms of an index. *top_out receives the digest of the
 * manifest to tag (the child with one platform, the new index with several).
 */
static int plan_platforms(cp_ctx *c, char **top_out, ecr_image *img, const char *const *platforms, size_t count)
{
	const void *bytes;
	size_t len, nentries, nkept = 0, kept_at = 0;
	const ecr__json *entries;
	ecr__json *doc = NULL;
	bool *keep = NULL;
	ecr_buf idx = ECR_BUF_INIT;
	char digest[ECR__DIGEST_STRLEN_MAX];
	int rc;

	if ((rc = ecr_image_manifest(&bytes, &len, img)) ||
	    (rc = verify_bytes(ecr_image_digest(img), bytes, len, "manifest")) ||
	    (rc = ecr__json_parse(&doc, bytes, len, NULL)))
		goto done;
	entries = ecr__json_get(doc, "manifests");
	if (!entries || entries->type != ECR__JSON_ARRAY) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "index %s has no manifests array", ecr_image_digest(img));
		goto done;
	}
	nentries = entries->count;
	if (!(keep = ecr__calloc(nentries ? nentries : 1, sizeof(*keep)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (size_t p = 0; p < count; p++) {
		cp_platform want;
		size_t best = nentries;
		int best_score = 0;
		if ((rc = parse_platform(&want, platforms[p])))
			goto done;
		for (size_t i = 0; i < nentries; i++) {
			int score = platform_match(entries->values[i], &want);
			if (score > best_score) {
				best_score = score;
				best = i;
				if (score == 2)
					break;
			}
		}
		if (best == nentries) {
			rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_IMAGE, "platform %s is not in the index %s",
			               platforms[p], ecr_image_digest(img));
			goto done;
		}
		if (!keep[best]) {
			keep[best] = true;
			nkept++;
			kept_at = best;
		}
	}
	for (size_t i = 0; i < nentries; i++) {
		const char *d = keep[i] ? ecr__json_get_string(entries->values[i], "digest") : NULL;
		if (!keep[i])
			continue;
		if (!d) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "index %s: entry %zu has no digest",
			               ecr_image_digest(img), i);
			goto done;
		}
		if ((rc = plan_digest(c, d, 1, 0)))
			goto done;
	}
	if (nkept == 1) {
		/* That platform's manifest alone. */
		if (!(*top_out = ecr__strdup(ecr__json_get_string(entries->values[kept_at], "digest"))))
			rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = index_subset(&idx, doc, keep)) ||
	    (rc = ecr__digest_buf(digest, sizeof(digest), ECR__DIGEST_SHA256, idx.ptr, idx.size)) ||
	    (rc = add_manifest(c, digest, ecr_image_media_type(img), idx.ptr, idx.size)))
		goto done;
	if (!(*top_out = ecr__strdup(digest)))
		rc = ECR_ENOMEM;
done:
	ecr_buf_dispose(&idx);
	ecr__free(keep);
	ecr__json_free(doc);
	return rc;
}

/* --- blobs: the workers --- */

/* Record this thread's error as the copy's (the first one wins) and stop the others. */
static void worker_fail(cp_ctx *c, int rc)
{
	const ecr_error *e = ecr_error_last();
	pthread_mutex_lock(&c->mu);
	if (!c->err) {
		c->err = rc;
		c->err_klass = e->code == rc ? e->klass : ECR_ERROR_INTERNAL;
		c->err_msg = ecr__strdup(e->code == rc && e->message ? e->message : ecr_error_name(rc));
	}
	c->stop = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static bool stopping(cp_ctx *c)
{
	bool s;
	pthread_mutex_lock(&c->mu);
	s = c->stop;
	pthread_mutex_unlock(&c->mu);
	return s;
}

static void blob_set(cp_ctx *c, cp_blob *b, int phase, ecr_copy_event result, uint64_t add)
{
	pthread_mutex_lock(&c->mu);
	if (phase > b->phase)
		b->phase = phase;
	b->result = result;
	b->done += add;
	c->all_done += add;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Fill buf with up to len bytes of the blob (less only at its end). */
static int read_full(ecr_blob *rd, unsigned char *buf, size_t len, size_t *got)
{
	size_t n;
	int rc;
	*got = 0;
	while (*got < len) {
		if ((rc = ecr_blob_read(rd, buf + *got, len - *got, &n)))
			return rc;
		if (n == 0)
			break;
		*got += n;
	}
	return 0;
}

static int digest_check(ecr__digest_ctx *h, const char *digest)
{
	char got[ECR__DIGEST_STRLEN_MAX];
	int rc;
	if ((rc = ecr__digest_final(h, got, sizeof(got))))
		return rc;
	if (strcmp(got, digest))
		return ecr__fail(ECR_EDIGEST, ECR_ERROR_STORAGE,
		                 "blob %s read from the source hashes to %s; nothing was stored", digest, got);
	return 0;
}

/* Read, verify and store one blob that the destination lacks. */
static int move_blob(cp_ctx *c, cp_blob *b)
{
	ecr_blob *rd = NULL;
	ecr_upload *up = NULL;
	ecr__digest_ctx *h = NULL;
	ecr__digest_alg alg;
	unsigned char *buf = NULL, extra;
	size_t cap, got;
	uint64_t off = 0;
	int rc;

	if ((rc = ecr__oci_validate_digest(b->digest, &alg)) || (rc = ecr__digest_new(&h, alg)) ||
	    (rc = ecr_blob_open(&rd, c->src, b->digest, 0, 0)))
		goto done;
	if (ecr_blob_size(rd) != b->size) {
		rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_STORAGE,
		               "blob %s is %" PRIu64 " bytes on the source, %" PRIu64 " in its manifest", b->digest,
		               ecr_blob_size(rd), b->size);
		goto done;
	}
	cap = b->size <= CP_SMALL_BLOB ? (size_t)b->size : CP_CHUNK;
	if (!(buf = ecr__malloc(cap ? cap : 1))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	blob_set(c, b, BLOB_MOVING, ECR_COPY_BLOB_START, 0);
	if (b->size <= CP_SMALL_BLOB) {
		if ((rc = read_full(rd, buf, cap, &got)) || (rc = ecr__digest_update(h, buf, got)))
			goto done;
		if (got != b->size) {
			rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_STORAGE, "blob %s ended after %zu of %" PRIu64 " bytes",
			               b->digest, got, b->size);
			goto done;
		}
		if ((rc = digest_check(h, b->digest)) || (rc = ecr_blob_put(c->dst, b->digest, buf, got)))
			goto done;
		blob_set(c, b, BLOB_MOVING, ECR_COPY_BLOB_START, got);
		goto done;
	}
	if ((rc = ecr_upload_begin(&up, c->dst)))
		goto done;
	while (off < b->size) {
		if (stopping(c)) {
			rc = ECR_EUSER; /* not reported: the copy returns the stopper's code */
			goto done;
		}
		if ((rc = read_full(rd, buf, cap, &got)) || (rc = ecr__digest_update(h, buf, got)))
			goto done;
		if (got == 0) {
			rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_STORAGE,
			               "blob %s ended after %" PRIu64 " of %" PRIu64 " bytes", b->digest, off, b->size);
			goto done;
		}
		if ((rc = ecr_upload_write(up, off, buf, got)))
			goto done;
		off += got;
		blob_set(c, b, BLOB_MOVING, ECR_COPY_BLOB_START, got);
	}
	/* The source must end where its manifest says. */
	if ((rc = read_full(rd, &extra, 1, &got)))
		goto done;
	if (got) {
		rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_STORAGE, "blob %s is longer than %" PRIu64 " bytes", b->digest,
		               b->size);
		goto done;
	}
	if ((rc = digest_check(h, b->digest)) || (rc = ecr_upload_commit(up, b->digest)))
		goto done;
	ecr_upload_free(up);
	up = NULL;
done:
	if (up) {
		/* Nothing partial is published; keep the first error's message. */
		ecr__error_saved saved;
		ecr__error_save(&saved);
		ecr_upload_cancel(up);
		ecr_upload_free(up);
		ecr__error_restore(&saved);
	}
	ecr__free(buf);
	ecr__digest_free(h);
	ecr_blob_free(rd);
	return rc;
}

static int handle_blob(cp_ctx *c, cp_blob *b)
{
	int rc = ecr_blob_stat(c->dst, b->digest, NULL);
	if (rc == 0) {
		blob_set(c, b, BLOB_FINISHED, ECR_COPY_BLOB_SKIPPED, b->size);
		return 0;
	}
	if (rc != ECR_ENOTFOUND)
		return rc;
	ecr__error_clear();
	if (c->try_mount) {
		if (ecr_blob_mount(c->dst, c->src, b->digest) == 0) {
			blob_set(c, b, BLOB_FINISHED, ECR_COPY_BLOB_MOUNTED, b->size);
			return 0;
		}
		ecr__error_clear(); /* another storage after all: copy it */
	}
	if ((rc = move_blob(c, b)))
		return rc;
	blob_set(c, b, BLOB_FINISHED, ECR_COPY_BLOB_DONE, 0);
	return 0;
}

static void *worker(void *arg)
{
	cp_ctx *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->stop && c->next < c->nblobs) {
		cp_blob *b = &c->blobs[c->next++];
		int rc;
		pthread_mutex_unlock(&c->mu);
		rc = handle_blob(c, b);
		if (rc && !(rc == ECR_EUSER && stopping(c)))
			worker_fail(c, rc);
		pthread_mutex_lock(&c->mu);
	}
	c->workers_alive--;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* --- progress (the calling thread) --- */

/* Call the callback without the lock; non-zero stops the copy. Called and returns with c->mu held. */
static int report_locked(cp_ctx *c, ecr_copy_event ev, const char *digest, const char *mt, uint64_t done,
                         uint64_t total)
{
	ecr_copy_progress p;
	int rc;
	if (!c->cb)
		return 0;
	memset(&p, 0, sizeof(p));
	p.version = ECR_COPY_PROGRESS_VERSION;
	p.event = ev;
	p.digest = digest;
	p.media_type = mt;
	p.bytes_done = done;
	p.bytes_total = total;
	p.all_bytes_done = c->all_done;
	p.all_bytes_total = c->all_total;
	p.blobs_done = c->blobs_done;
	p.blobs_total = c->nblobs;
	pthread_mutex_unlock(&c->mu);
	rc = c->cb(&p, c->payload);
	pthread_mutex_lock(&c->mu);
	return rc;
}

/* Report what changed since the last pass. Returns the callback's stop value or 0. */
static int report_pass(cp_ctx *c)
{
	int64_t now = now_ms();
	int rc = 0;
	for (size_t i = 0; i < c->nblobs && !rc && !c->stop; i++) {
		cp_blob *b = &c->blobs[i];
		if (b->reported_end || b->phase == BLOB_PENDING)
			continue;
		if (!b->reported_start && (b->phase == BLOB_MOVING || b->result == ECR_COPY_BLOB_DONE)) {
			b->reported_start = true;
			b->reported_ms = now;
			if ((rc = report_locked(c, ECR_COPY_BLOB_START, b->digest, b->media_type, 0, b->size)))
				break;
		}
		if (b->phase == BLOB_FINISHED) {
			b->reported_end = true;
			c->blobs_done++;
			rc = report_locked(c, b->result, b->digest, b->media_type, b->done, b->size);
		} else if (b->done >= b->reported_bytes + CP_PROGRESS_BYTES && now - b->reported_ms >= CP_PROGRESS_MS) {
			b->reported_bytes = b->done;
			b->reported_ms = now;
			rc = report_locked(c, ECR_COPY_BLOB_PROGRESS, b->digest, b->media_type, b->done, b->size);
		}
	}
	return rc;
}

/* Move every blob; returns 0, the first worker error, or the callback's stop value. */
static int run_blobs(cp_ctx *c, unsigned int parallel)
{
	pthread_t th[CP_PARALLEL_MAX];
	size_t started = 0, n = parallel;
	int rc = 0, cb_rc = 0;

	if (c->nblobs == 0)
		return 0;
	if (n > c->nblobs)
		n = c->nblobs;
	pthread_mutex_lock(&c->mu);
	for (; started < n; started++) {
		int e = pthread_create(&th[started], NULL, worker, c);
		if (e) {
			if (started == 0) {
				pthread_mutex_unlock(&c->mu);
				return ecr__fail_os(ECR_ERROR, e, "cannot start a copy thread");
			}
			break; /* fewer threads will do */
		}
		c->workers_alive++;
	}
	for (;;) {
		struct timespec ts;
		if (!cb_rc && !c->stop && (cb_rc = report_pass(c))) {
			c->stop = true;
			pthread_cond_broadcast(&c->cv);
		}
		if (c->workers_alive == 0)
			break;
		ecr__time_deadline(&ts, CLOCK_REALTIME, CP_PROGRESS_MS);
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	}
	/* Workers are gone: the last events. */
	if (!cb_rc && !c->stop && (cb_rc = report_pass(c)))
		c->stop = true;
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);

	if (cb_rc)
		rc = ecr__fail(cb_rc, ECR_ERROR_CALLBACK, "the progress callback stopped the copy (%d)", cb_rc);
	else if (c->err)
		rc = c->err_msg ? ecr__fail(c->err, c->err_klass, "%s", c->err_msg) : ecr__fail_oom();
	return rc;
}

/* --- the copy --- */

/* "host" of a repository URI "<host>/<name>". */
static bool same_host(const char *a, const char *b)
{
	const char *sa, *sb;
	if (!a || !b || !(sa = strchr(a, '/')) || !(sb = strchr(b, '/')))
		return false;
	return sa - a == sb - b && !memcmp(a, b, (size_t)(sa - a));
}

static int put_manifest(cp_ctx *c, const cp_manifest *m, const char *tag)
{
	return ecr_image_put(NULL, c->dst, tag, m->digest, m->media_type, m->bytes, m->len,
		(c->flags & ECR_COPY_REPLICA) ? ECR_IMAGE_PUT_REPLICA : 0);
}

static void ctx_dispose(cp_ctx *c)
{
	for (size_t i = 0; i < c->nblobs; i++) {
		ecr__free(c->blobs[i].digest);
		ecr__free(c->blobs[i].media_type);
	}
	ecr__free(c->blobs);
	for (size_t i = 0; i < c->nmanifests; i++) {
		ecr__free(c->manifests[i].digest);
		ecr__free(c->manifests[i].media_type);
		ecr__free(c->manifests[i].bytes);
	}
	ecr__free(c->manifests);
	ecr__free(c->err_msg);
}

int ecr_image_copy(ecr_buf *digest_out, ecr_repository *dst, const char *dst_tag, ecr_repository *src,
                   const char *src_reference, const ecr_copy_options *opts)
{
	cp_ctx c;
	ecr_image *img = NULL;
	char *top = NULL;
	size_t top_idx = 0;
	unsigned int parallel = CP_PARALLEL_DEFAULT;
	const char *const *platforms = NULL;
	size_t platforms_count = 0;
	bool sync_ok = false;
	int rc;

	memset(&c, 0, sizeof(c));
	if (!dst || !src || !src_reference)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_image_copy: NULL argument");
	if (opts) {
		if ((rc = ecr__check_version(opts->version, ECR_COPY_OPTIONS_VERSION, "ecr_copy_options")))
			return rc;
		platforms = opts->platforms;
		platforms_count = opts->platforms ? opts->platforms_count : 0;
		c.flags = opts->flags;
		c.cb = opts->progress_cb;
		c.payload = opts->progress_payload;
		if (opts->parallel)
			parallel = opts->parallel > CP_PARALLEL_MAX ? CP_PARALLEL_MAX : opts->parallel;
	}
	if (dst_tag && (rc = ecr__oci_validate_tag(dst_tag)))
		return rc;
	c.dst = dst;
	c.src = src;
	c.try_mount = !(c.flags & ECR_COPY_NO_MOUNT) && dst != src &&
	              (same_host(ecr_repository_uri(dst), ecr_repository_uri(src)));
	if (pthread_mutex_init(&c.mu, NULL))
		return ecr__fail(ECR_ERROR, ECR_ERROR_OS, "cannot create a mutex");
	if (pthread_cond_init(&c.cv, NULL)) {
		pthread_mutex_destroy(&c.mu);
		return ecr__fail(ECR_ERROR, ECR_ERROR_OS, "cannot create a condition variable");
	}
	sync_ok = true;

	/* 1. The plan. */
	if ((rc = ecr_image_get(&img, src, src_reference, 0)))
		goto done;
	if (platforms_count && ecr__oci_kind_is_index(ecr__oci_manifest_kind(ecr_image_media_type(img)))) {
		if ((rc = plan_platforms(&c, &top, img, platforms, platforms_count)))
			goto done;
	} else {
		if ((rc = plan_image(&c, img, 0, 0)))
			goto done;
		if (!(top = ecr__strdup(ecr_image_digest(img)))) {
			rc = ECR_ENOMEM;
			goto done;
		}
	}
	for (top_idx = 0; top_idx < c.nmanifests && strcmp(c.manifests[top_idx].digest, top); top_idx++)
		;
	if (top_idx == c.nmanifests) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "copy plan lost its top manifest %s", top);
		goto done;
	}

	/* 2. Blobs. */
	if ((rc = run_blobs(&c, parallel)))
		goto done;

	/* 3. Manifests, children first; the tag last. */
	for (size_t i = 0; i < c.nmanifests; i++) {
		const cp_manifest *m = &c.manifests[i];
		bool tag_now = dst_tag && i == top_idx && top_idx == c.nmanifests - 1;
		if ((rc = put_manifest(&c, m, tag_now ? dst_tag : NULL)))
			goto done;
		pthread_mutex_lock(&c.mu);
		rc = report_locked(&c, ECR_COPY_MANIFEST_DONE, m->digest, m->media_type, m->len, m->len);
		pthread_mutex_unlock(&c.mu);
		if (rc) {
			ecr__fail(rc, ECR_ERROR_CALLBACK, "the progress callback stopped the copy (%d)", rc);
			goto done;
		}
	}
	if (dst_tag && top_idx != c.nmanifests - 1 && (rc = put_manifest(&c, &c.manifests[top_idx], dst_tag)))
		goto done;

	if (digest_out) {
		ecr__buf_clear(digest_out);
		rc = ecr__buf_puts(digest_out, top);
	}
done:
	ecr__free(top);
	ecr_image_free(img);
	ctx_dispose(&c);
	if (sync_ok) {
		pthread_cond_destroy(&c.cv);
		pthread_mutex_destroy(&c.mu);
	}
	return rc;
}
