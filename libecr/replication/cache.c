/*
 * The pull-through cache (ecr/cache.h): upstream handles, rules, and images
 * through the cache. A manifest missing here (or a tag older than the
 * freshness window) is fetched from the rule's upstream over the OCI API and
 * stored with ECR__IMAGE_PUT_LAZY_BLOBS: its blobs come later, on first
 * request (cache_blob.c). The blobs are only expected, not required, so GC
 * and other pulls are not disturbed by blobs never asked for (see
 * libecr/engine/cache_support.h).
 */
#include "cache_internal.h"

#include <ecr/replication.h>
#include <ecr/sys/transport.h>

#include "../oci/oci.h"
#include "../remote/remote.h"
#include "../storage/meta_cache.h"

#define DEFAULT_FRESHNESS_SECONDS (24u * 3600u)
/* An index of indexes of ... is followed this deep. */
#define MAX_INDEX_DEPTH 4

struct ecr__cache_upstream {
	char *url;
	char *username; /* or NULL */
	char *password; /* or NULL */
	ecr_registry *reg;
	ecr__cache_upstream *next;
};

int ecr_cache_options_init(ecr_cache_options *opts, unsigned int version)
{
	int rc;
	if (!opts)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_cache_options_init: options are NULL");
	if ((rc = ecr__check_version(version, ECR_CACHE_OPTIONS_VERSION, "ecr_cache_options")))
		return rc;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

static int dup_opt(const char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	return (*dst = ecr__strdup(src)) ? 0 : ECR_ENOMEM;
}

int ecr_cache_new(ecr_cache **out, const ecr_cache_options *opts)
{
	ecr_cache_options defaults = ECR_CACHE_OPTIONS_INIT;
	ecr_cache *c;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_cache_new: out is NULL");
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if ((rc = ecr__check_version(opts->version, ECR_CACHE_OPTIONS_VERSION, "ecr_cache_options")))
		return rc;
	if (opts->freshness_seconds > (uint64_t)INT64_MAX / 1000 / 2)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_cache_new: freshness window too long");
	if (opts->upstream_options && opts->upstream_options->version != ECR_REGISTRY_OPTIONS_VERSION)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		                 "ecr_cache_new: upstream_options must be ecr_registry_options version %d",
		                 ECR_REGISTRY_OPTIONS_VERSION);
	if (!(c = ecr__calloc(1, sizeof(*c))))
		return ECR_ENOMEM;
	c->freshness_ms = (opts->freshness_seconds ? opts->freshness_seconds : DEFAULT_FRESHNESS_SECONDS) * 1000;
	if (opts->upstream_options) {
		c->upstream_opts = *opts->upstream_options;
	} else {
		ecr_registry_options d = ECR_REGISTRY_OPTIONS_INIT;
		c->upstream_opts = d;
	}
	/* never inherited: the rule's credential is the only one an upstream gets */
	c->upstream_opts.username = c->upstream_opts.password = NULL;
	c->upstream_opts.access_key_id = c->upstream_opts.secret_access_key = NULL;
	c->upstream_opts.session_token = c->upstream_opts.profile = c->upstream_opts.api_endpoint = NULL;
	c->upstream_opts.remote_flags |= ECR_REMOTE_OCI_ONLY; /* an upstream is used through the OCI API only */
	const ecr_registry_options *u = opts->upstream_options;
	if ((rc = dup_opt(&c->upstream_opts.ca_file, u ? u->ca_file : NULL)) ||
	    (rc = dup_opt(&c->upstream_opts.ca_path, u ? u->ca_path : NULL)) ||
	    (rc = dup_opt(&c->upstream_opts.user_agent, u ? u->user_agent : NULL))) {
		ecr__free((char *)c->upstream_opts.ca_file);
		ecr__free((char *)c->upstream_opts.ca_path);
		ecr__free(c);
		return rc;
	}
	c->log.cb = opts->log_cb;
	c->log.payload = opts->log_payload;
	/* a callback without a level gets the failures (warnings and errors) */
	c->log.level = opts->log_cb && opts->log_level == ECR_LOG_NONE ? ECR_LOG_WARN : opts->log_level;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	*out = c;
	return 0;
}

void ecr_cache_free(ecr_cache *cache)
{
	if (!cache)
		return;
	pthread_mutex_lock(&cache->lock);
	cache->stopping = true;
	pthread_mutex_unlock(&cache->lock);
	ecr__cache_flights_wait(cache);
	for (ecr__cache_upstream *u = cache->upstreams, *next; u; u = next) {
		next = u->next;
		ecr_registry_free(u->reg);
		ecr__free(u->url);
		ecr__free(u->username);
		if (u->password) {
			explicit_bzero(u->password, strlen(u->password));
			ecr__free(u->password);
		}
		ecr__free(u);
	}
	ecr__free((char *)cache->upstream_opts.ca_file);
	ecr__free((char *)cache->upstream_opts.ca_path);
	ecr__free((char *)cache->upstream_opts.user_agent);
	pthread_cond_destroy(&cache->idle);
	pthread_mutex_destroy(&cache->lock);
	ecr__free(cache);
}

/* --- rules and upstream handles --- */

/* Docker Hub serves its official images under "library/": "docker-hub/alpine" is "library/alpine" there. */
static bool is_docker_hub(const char *url)
{
	const char *host = strstr(url, "://");
	host = host ? host + 3 : url;
	static const char hub[] = "registry-1.docker.io";
	size_t n = sizeof(hub) - 1;
	return strncmp(host, hub, n) == 0 && (host[n] == '\0' || host[n] == '/' || host[n] == ':');
}

int ecr__cache_rule(ecr__ptc_rule *rule, ecr_buf *upstream_path, ecr_registry *reg, const char *repository)
{
	int rc;
	memset(rule, 0, sizeof(*rule));
	ecr_buf_dispose(upstream_path);
	rc = ecr__ptc_rule_match(rule, upstream_path, reg, repository);
	if (rc == ECR_ENOTFOUND)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY,
		                 "no pull through cache rule covers the repository '%s' in the registry with id '%s'",
		                 repository, ecr_registry_account_id(reg));
	if (rc)
		return rc;
	if (!upstream_path->ptr || !*upstream_path->ptr) {
		ecr__ptc_rule_dispose(rule);
		return ecr__fail(ECR_EINVALID, ECR_ERROR_REPOSITORY,
		                 "the repository '%s' names no upstream repository under its rule's prefix",
		                 repository);
	}
	if (is_docker_hub(rule->upstream_url) && !strchr(upstream_path->ptr, '/')) {
		ecr_buf p = ECR_BUF_INIT;
		if ((rc = ecr__buf_printf(&p, "library/%s", upstream_path->ptr))) {
			ecr__ptc_rule_dispose(rule);
			return rc;
		}
		ecr_buf_dispose(upstream_path);
		*upstream_path = p;
	}
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static ecr__cache_upstream *upstream_find(ecr_cache *cache, const ecr__ptc_rule *rule)
{
	for (ecr__cache_upstream *u = cache->upstreams; u; u = u->next)
		if (strcmp(u->url, rule->upstream_url) == 0 && str_eq(u->username, rule->username) &&
		    str_eq(u->password, rule->password))
			return u;
	return NULL;
}

int ecr__cache_upstream_get(ecr_registry **out, ecr_cache *cache, const ecr__ptc_rule *rule)
{
	ecr__cache_upstream *u;
	ecr_registry *reg = NULL;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&cache->lock);
	u = upstream_find(cache, rule);
	pthread_mutex_unlock(&cache->lock);
	if (u) {
		*out = u->reg;
		return 0;
	}
	/* Opened outside the lock (it reaches the upstream); a handle that failed to open is not kept, so the next
	 * pull tries again. */
	ecr_registry_options o = cache->upstream_opts;
	o.username = rule->username;
	o.password = rule->password;
	if ((rc = ecr_registry_open(&reg, rule->upstream_url, &o)))
		return rc;
	if (!(u = ecr__calloc(1, sizeof(*u))) || !(u->url = ecr__strdup(rule->upstream_url)) ||
	    (rule->username && !(u->username = ecr__strdup(rule->username))) ||
	    (rule->password && !(u->password = ecr__strdup(rule->password)))) {
		if (u) {
			ecr__free(u->url);
			ecr__free(u->username);
			ecr__free(u->password);
			ecr__free(u);
		}
		ecr_registry_free(reg);
		return ECR_ENOMEM;
	}
	u->reg = reg;
	pthread_mutex_lock(&cache->lock);
	ecr__cache_upstream *other = upstream_find(cache, rule);
	if (!other) {
		u->next = cache->upstreams;
		cache->upstreams = u;
		*out = reg;
		u = NULL;
	} else {
		*out = other->reg; /* opened meanwhile by another thread */
	}
	pthread_mutex_unlock(&cache->lock);
	if (u) {
		ecr_registry_free(u->reg);
		ecr__free(u->url);
		ecr__free(u->username);
		ecr__free(u->password);
		ecr__free(u);
	}
	return 0;
}

int ecr__cache_repository(ecr_repository **out, ecr_registry *reg, const char *repository)
{
	int rc = ecr_repository_open(out, reg, repository);
	if (rc != ECR_EREPOSITORY_NOT_FOUND)
		return rc;
	ecr__error_clear();
	rc = ecr_repository_create_templated(out, reg, repository, ECR_TEMPLATE_PULL_THROUGH_CACHE);
	if (rc == ECR_EREPOSITORY_EXISTS) { /* created meanwhile */
		ecr__error_clear();
		rc = ecr_repository_open(out, reg, repository);
	}
	return rc;
}

int ecr_cache_covers(ecr_cache *cache, ecr_registry *reg, const char *repository)
{
	ecr__ptc_rule rule;
	int rc;
	if (!cache || !reg || !repository)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_cache_covers: NULL argument");
	if (reg->remote)
		return 0;
	if ((rc = ecr__ptc_has_rules(reg)) <= 0)
		return rc;
	memset(&rule, 0, sizeof(rule));
	rc = ecr__ptc_rule_match(&rule, NULL, reg, repository);
	if (rc == ECR_ENOTFOUND) {
		ecr__error_clear();
		return 0;
	}
	if (rc)
		return rc;
	ecr__ptc_rule_dispose(&rule);
	return 1;
}

/* --- images --- */

/* When a cached tag was last checked upstream; 0 when never. */
static int tag_checked_at(ecr_repository *repo, const char *tag, int64_t *at_out)
{
	ecr__txn t = {0};
	int rc;
	*at_out = 0;
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, false)))
		return rc;
	rc = ecr__meta_cache_tag_get(&t, repo->id, tag, at_out);
	if (rc == ECR_ENOTFOUND) {
		*at_out = 0;
		rc = 0;
	}
	ecr__txn_rollback(&t);
	return rc;
}

static int tag_touch(ecr_repository *repo, const char *tag)
{
	ecr__txn t = {0};
	int rc;
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)) ||
	    (rc = ecr__meta_cache_tag_set(&t, repo->id, tag, ecr_registry_now(repo->reg))) ||
	    (rc = ecr__txn_commit(&t)))
		ecr__txn_rollback(&t);
	return rc;
}

typedef struct fetch_ctx {
	ecr_registry *reg;
	const char *repository;
	ecr_repository **repo; /* local; created (templates apply) once upstream has the manifest */
	ecr_transport *t;      /* upstream */
	const char *upath;     /* upstream repository */
	const char *url;       /* for messages */
} fetch_ctx;

static const uint32_t PUT_FLAGS = ECR__IMAGE_PUT_LAZY_BLOBS | ECR_IMAGE_PUT_REPLICA;

/*
 * Fetch a manifest from upstream by reference and store it here (under tag when
 * reference is a tag), an index's children first (each by digest, when missing
 * here). *digest_out (may be NULL) receives its digest.
 */
static int put_from_upstream(fetch_ctx *f, const char *reference, ecr_buf *digest_out, int depth)
{
	ecr_buf body = ECR_BUF_INIT, mt = ECR_BUF_INIT, dg = ECR_BUF_INIT;
	ecr__manifest *m = NULL;
	bool by_digest = ecr__oci_is_digest(reference);
	int rc;

	if (depth > MAX_INDEX_DEPTH) {
		rc = ecr__fail(ECR_EUNSUPPORTED, ECR_ERROR_IMAGE, "%s/%s: indexes nested deeper than %d", f->url,
		               f->upath, MAX_INDEX_DEPTH);
		goto done;
	}
	if ((rc = f->t->manifest_get(&body, &mt, &dg, f->t, f->upath, reference)))
		goto done;
	if (!dg.ptr || (by_digest && strcmp(dg.ptr, reference) != 0)) {
		rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_TRANSPORT, "%s/%s: the manifest sent for %s has the digest %s",
		               f->url, f->upath, reference, dg.ptr ? dg.ptr : "(none)");
		goto done;
	}
	if ((rc = ecr__manifest_parse(&m, body.ptr, body.size, mt.ptr && *mt.ptr ? mt.ptr : NULL)))
		goto done;
	if (!*f->repo && (rc = ecr__cache_repository(f->repo, f->reg, f->repository)))
		goto done;
	if (ecr__oci_kind_is_index(m->kind)) {
		for (size_t i = 0; i < m->manifests_count; i++) {
			const char *child = m->manifests[i].digest;
			ecr_image *have = NULL;
			rc = ecr_image_get(&have, *f->repo, child, ECR_IMAGE_GET_ANY_STATUS);
			ecr_image_free(have);
			if (rc == ECR_EIMAGE_NOT_FOUND) {
				ecr__error_clear();
				rc = put_from_upstream(f, child, NULL, depth + 1);
			}
			if (rc)
				goto done;
		}
	}
	rc = ecr__image_put(NULL, *f->repo, by_digest ? NULL : reference, dg.ptr, mt.ptr, body.ptr, body.size,
	                    PUT_FLAGS);
	if (!rc && digest_out)
		rc = ecr__buf_put(digest_out, dg.ptr, dg.size);
done:
	ecr__manifest_free(m);
	ecr_buf_dispose(&body);
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&dg);
	return rc;
}

/*
 * Bring reference up to date from upstream: for a tag whose digest here is
 * have (or NULL), a HEAD first: unchanged, only the check is recorded; moved or
 * missing here, the manifest is fetched and stored. *repo is created when NULL.
 */
static int refresh(ecr_cache *cache, ecr_registry *reg, ecr_repository **repo, const char *repository,
                   const char *reference, const char *have)
{
	ecr__ptc_rule rule;
	ecr_buf upath = ECR_BUF_INIT, mt = ECR_BUF_INIT, dg = ECR_BUF_INIT;
	ecr_registry *up = NULL;
	bool by_digest = ecr__oci_is_digest(reference);
	int rc;

	memset(&rule, 0, sizeof(rule));
	if ((rc = ecr__cache_rule(&rule, &upath, reg, repository)) || (rc = ecr__cache_upstream_get(&up, cache, &rule)))
		goto done;
	ecr_transport *t = up->remote->t;
	if (have && !by_digest) {
		uint64_t size = 0;
		if ((rc = t->manifest_head(&mt, &dg, &size, t, upath.ptr, reference)))
			goto done;
		if (dg.ptr && strcmp(dg.ptr, have) == 0) {
			rc = tag_touch(*repo, reference);
			goto done;
		}
	}
	fetch_ctx f = {reg, repository, repo, t, upath.ptr, rule.upstream_url};
	ecr_buf digest = ECR_BUF_INIT;
	rc = put_from_upstream(&f, reference, &digest, 0);
	if (!rc) {
		if (!by_digest)
			rc = tag_touch(*repo, reference);
		ecr__log(&cache->log, ECR_LOG_INFO, "pull through cache: %s:%s is %s from %s/%s", repository, reference,
		         digest.ptr, rule.upstream_url, upath.ptr);
		/* "ECR Pull Through Cache Action" (events.c): after the image was stored, no lock held */
		ecr_event ev = {.type = ECR_EVENT_PULL_THROUGH_CACHE, .repository = repository, .digest = digest.ptr,
		                .tag = by_digest ? NULL : reference, .upstream_url = rule.upstream_url,
		                .repository_prefix = rule.prefix};
		ecr__event_emit(reg, &ev);
	}
	ecr_buf_dispose(&digest);
done:
	ecr__ptc_rule_dispose(&rule);
	ecr_buf_dispose(&upath);
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&dg);
	return rc;
}

int ecr_cache_image_get(ecr_image **out, ecr_cache *cache, ecr_registry *reg, const char *repository,
                        const char *reference, uint32_t flags)
{
	ecr_repository *repo = NULL;
	ecr_image *img = NULL;
	bool by_digest;
	int rc;

	if (!out || !cache || !reg || !repository || !reference)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_cache_image_get: NULL argument");
	*out = NULL;
	if (reg->remote)
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_INVALID,
		                 "the pull through cache serves registries of this process, not remote ones");
	by_digest = ecr__oci_is_digest(reference);
	if ((rc = by_digest ? ecr__oci_validate_digest(reference, NULL) : ecr__oci_validate_tag(reference)))
		return rc;

	rc = ecr_repository_open(&repo, reg, repository);
	if (rc == ECR_EREPOSITORY_NOT_FOUND) {
		ecr__error_clear();
		rc = 0;
	} else if (rc) {
		return rc;
	}
	if (repo) {
		rc = ecr_image_get(&img, repo, reference, flags);
		if (rc == 0) {
			int64_t checked = 0;
			if (by_digest)
				goto done; /* a digest never changes */
			if ((rc = tag_checked_at(repo, reference, &checked)))
				goto done;
			int64_t now = ecr_registry_now(reg);
			if (checked && now >= checked && (uint64_t)(now - checked) < cache->freshness_ms)
				goto done;
		} else if (rc == ECR_EIMAGE_NOT_FOUND) {
			ecr__error_clear();
		} else {
			goto done;
		}
	}

	rc = refresh(cache, reg, &repo, repository, reference, img ? ecr_image_digest(img) : NULL);
	if (rc) {
		if (img) {
			/* upstream unreachable (or refusing): the cached copy is served */
			const ecr_error *e = ecr_error_last();
			ecr__log(&cache->log, ECR_LOG_WARN,
			         "pull through cache: cannot check %s:%s upstream (%s); serving the cached %s",
			         repository, reference, e && e->message ? e->message : "unknown error",
			         ecr_image_digest(img));
			ecr__error_clear();
			rc = 0;
		}
		goto done;
	}
	ecr_image_free(img);
	img = NULL;
	rc = ecr_image_get(&img, repo, reference, flags);
done:
	if (rc) {
		ecr_image_free(img);
		img = NULL;
	}
	*out = img;
	ecr_repository_free(repo);
	return rc;
}
