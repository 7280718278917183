/* Opening registries: URLs, the storage shared per data folder, options. */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/crypto.h"
#include "../core/timeutil.h"
#include "../remote/remote.h"
#include "../storage/blob_common.h"
#include "leases.h"

/* file:// stores open in this process, so that several registries (accounts x
 * regions) on one folder share one blob store, one SQLite pool and one GC lock. */
static pthread_mutex_t stores_lock = PTHREAD_MUTEX_INITIALIZER;
typedef struct store_node {
	ecr__store *store;
	struct store_node *next;
} store_node;
static store_node *open_stores;

static int store_new(ecr__store **out, ecr_blob_store *blobs, ecr_meta_store *meta)
{
	ecr__store *s = ecr__calloc(1, sizeof(*s));
	if (!s)
		return ECR_ENOMEM;
	/* every failed blob store call is counted (ecr_registry_stats); on failure the caller keeps blobs */
	if (blobs && ecr__blob_store_counting(&s->blobs, blobs)) {
		ecr__free(s);
		return ECR_ENOMEM;
	}
	s->lock_fd = -1;
	s->meta = meta;
	pthread_rwlock_init(&s->gc_lock, NULL);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->auth_lock, NULL);
	*out = s;
	return 0;
}

static void store_free(ecr__store *s)
{
	if (!s)
		return;
	ecr__uploads_cache_free(s);
	if (s->meta)
		s->meta->free(s->meta);
	if (s->blobs)
		s->blobs->free(s->blobs);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	pthread_rwlock_destroy(&s->gc_lock);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->auth_lock);
	memset(s->token_key, 0, sizeof(s->token_key));
	ecr__free(s->key);
	ecr__free(s);
}

static int mkdir_p(const char *path)
{
	char *p = ecr__strdup(path);
	if (!p)
		return ECR_ENOMEM;
	int rc = 0;
	for (char *c = p + 1;; c++) {
		if (*c == '/' || *c == '\0') {
			char saved = *c;
			*c = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST) {
				rc = ecr__fail_os(ECR_EIO, errno, "cannot create folder '%s'", p);
				break;
			}
			*c = saved;
			if (!saved)
				break;
		}
	}
	ecr__free(p);
	return rc;
}

/* Open (or share) the store of a data folder. */
static int store_open_folder(ecr__store **out, const char *path, uint32_t flags)
{
	char canon[PATH_MAX];
	char *dbpath = NULL, *lockpath = NULL;
	ecr_blob_store *blobs = NULL;
	ecr_meta_store *meta = NULL;
	ecr__store *s = NULL;
	int rc;

	if ((rc = mkdir_p(path)))
		return rc;
	if (!realpath(path, canon))
		return ecr__fail_os(ECR_EIO, errno, "cannot resolve '%s'", path);

	pthread_mutex_lock(&stores_lock);
	for (store_node *n = open_stores; n; n = n->next) {
		if (strcmp(n->store->key, canon) == 0 && n->store->pid == getpid()) {
			n->store->refs++;
			*out = n->store;
			pthread_mutex_unlock(&stores_lock);
			return 0;
		}
	}

	ecr_buf b = ECR_BUF_INIT;
	if ((rc = ecr__buf_printf(&b, "%s/lock", canon)))
		goto done;
	lockpath = ecr__buf_detach(&b);
	if ((rc = ecr__buf_printf(&b, "%s/metadata.db", canon)))
		goto done;
	dbpath = ecr__buf_detach(&b);
	if (!lockpath || !dbpath) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = store_new(&s, NULL, NULL)))
		goto done;
	s->refs = 1;
	s->pid = getpid();
	if (!(s->key = ecr__strdup(canon))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	s->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0) {
		rc = ecr__fail_os(ECR_EIO, errno, "cannot open '%s'", lockpath);
		goto done;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK
			? ecr__fail(ECR_EBUSY, ECR_ERROR_STORAGE, "the data folder '%s' is in use by another process", canon)
			: ecr__fail_os(ECR_EIO, errno, "cannot lock '%s'", lockpath);
		goto done;
	}
	if ((rc = ecr_blob_store_fs_new(&blobs, canon, flags)))
		goto done;
	if ((rc = ecr__blob_store_counting(&s->blobs, blobs))) { /* counts failed calls (ecr_registry_stats) */
		blobs->free(blobs);
		goto done;
	}
	blobs = NULL;
	if ((rc = ecr_meta_store_sqlite_new(&meta, dbpath, flags)))
		goto done;
	s->meta = meta;
	meta = NULL;
	if ((rc = ecr__meta_migrate(s->meta)))
		goto done;
	/* The folder is this process's alone (flock): a lease in it was left by a process killed while holding it.
	 * Without this, GC and lifecycle after a kill -9 would wait for it to expire (GC's: 15 minutes). */
	if ((rc = ecr__lease_clear_all(s)))
		goto done;

	store_node *node = ecr__malloc(sizeof(*node));
	if (!node) {
		rc = ECR_ENOMEM;
		goto done;
	}
	node->store = s;
	node->next = open_stores;
	open_stores = node;
	*out = s;
	s = NULL;
done:
	pthread_mutex_unlock(&stores_lock);
	ecr_buf_dispose(&b);
	ecr__free(lockpath);
	ecr__free(dbpath);
	store_free(s);
	return rc;
}

/* The metadata store of a URL: postgres://, postgresql:// or sqlite:///abs/path.db. */
static int meta_open_url(ecr_meta_store **out, const char *url, uint32_t flags)
{
	if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
		return ecr_meta_store_postgres_new(out, url, flags);
	if (strncmp(url, "sqlite://", 9) == 0) {
		if (url[9] != '/')
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
				"invalid metadata URL '%s': sqlite:// needs an absolute path (sqlite:///path.db)", url);
		return ecr_meta_store_sqlite_new(out, url + 9, flags);
	}
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		"unsupported metadata URL '%s' (expected postgres://..., postgresql://... or sqlite:///path.db)", url);
}

/*
 * The blob store of a URL: s3://..., file:///abs/dir or memory:. *shared_out: other processes may use it too
 * (s3://, and file:// here since no lock file keeps a second process out).
 */
static int blobs_open_url(ecr_blob_store **out, bool *shared_out, const char *url, uint32_t flags)
{
	*shared_out = false;
	if (strncmp(url, "s3://", 5) == 0) {
		*shared_out = true;
		return ecr_blob_store_s3_new(out, url, 0);
	}
	if (strncmp(url, "file://", 7) == 0) {
		if (url[7] != '/')
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
				"invalid blob store URL '%s': file:// needs an absolute path (file:///path)", url);
		*shared_out = true;
		return ecr_blob_store_fs_new(out, url + 7, flags);
	}
	if (strcmp(url, "memory:") == 0)
		return ecr_blob_store_memory_new(out);
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		"unsupported blob store URL '%s' (expected s3://bucket[/prefix]?..., file:///path or memory:)", url);
}

/*
 * Open (or share) the store of a (metadata URL, blob URL) pair. Its key is
 * "urls:" META "\n" BLOBS, which no canonical folder path (they start with
 * '/') can equal. No lock file: these stores are made for several processes.
 */
static int store_open_urls(ecr__store **out, const char *meta_url, const char *blob_url, uint32_t flags)
{
	ecr_buf key = ECR_BUF_INIT;
	ecr_blob_store *blobs = NULL;
	ecr_meta_store *meta = NULL;
	ecr__store *s = NULL;
	store_node *node = NULL;
	bool shared = false;
	int rc;

	if ((rc = ecr__buf_printf(&key, "urls:%s\n%s", meta_url, blob_url)))
		return rc;
	pthread_mutex_lock(&stores_lock);
	for (store_node *n = open_stores; n; n = n->next) {
		if (strcmp(n->store->key, key.ptr) == 0 && n->store->pid == getpid()) {
			n->store->refs++;
			*out = n->store;
			rc = 0;
			goto done;
		}
	}
	if ((rc = meta_open_url(&meta, meta_url, flags)) || (rc = blobs_open_url(&blobs, &shared, blob_url, flags)))
		goto done;
	if ((rc = store_new(&s, blobs, meta)))
		goto done;
	blobs = NULL;
	meta = NULL;
	s->refs = 1;
	s->pid = getpid();
	s->no_writer_cache = shared;
	if ((rc = ecr__meta_migrate(s->meta)))
		goto done;
	if (!(node = ecr__malloc(sizeof(*node)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if (!(s->key = ecr__buf_detach(&key))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	node->store = s;
	node->next = open_stores;
	open_stores = node;
	node = NULL;
	*out = s;
	s = NULL;
done:
	pthread_mutex_unlock(&stores_lock);
	ecr_buf_dispose(&key);
	ecr__free(node);
	store_free(s);
	if (blobs)
		blobs->free(blobs);
	if (meta)
		meta->free(meta);
	return rc;
}

static void store_release(ecr__store *s)
{
	if (!s)
		return;
	if (!s->key) { /* private */
		store_free(s);
		return;
	}
	pthread_mutex_lock(&stores_lock);
	if (--s->refs > 0) {
		pthread_mutex_unlock(&stores_lock);
		return;
	}
	for (store_node **pp = &open_stores; *pp; pp = &(*pp)->next) {
		if ((*pp)->store == s) {
			store_node *n = *pp;
			*pp = n->next;
			ecr__free(n);
			break;
		}
	}
	store_free(s);
	pthread_mutex_unlock(&stores_lock);
}

int ecr_registry_options_init(ecr_registry_options *opts, unsigned int version)
{
	int rc = ecr__check_version(version, ECR_REGISTRY_OPTIONS_VERSION, "ecr_registry_options");
	if (rc)
		return rc;
	/* A caller built against version 1 has a smaller struct: clear only what it has. */
	memset(opts, 0, version >= 3   ? sizeof(*opts)
		       : version >= 2 ? offsetof(ecr_registry_options, username)
				      : offsetof(ecr_registry_options, event_cb));
	opts->version = version;
	return 0;
}

static int valid_account(const char *a)
{
	size_t n = strlen(a);
	if (n != 12)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (a[i] < '0' || a[i] > '9')
			return 0;
	return 1;
}

static int valid_region(const char *r)
{
	size_t n = strlen(r);
	if (n < 1 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
			return 0;
	return 1;
}

static int registry_new(ecr_registry **out, ecr__store *store, const ecr_registry_options *opts)
{
	ecr_registry_options defaults = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *reg = NULL;
	ecr__txn t = { 0 };
	int rc;

	if (!opts)
		opts = &defaults;
	const char *account = opts->account_id ? opts->account_id : "123456789012";
	const char *region = opts->region ? opts->region : "us-east-1";
	if (!valid_account(account)) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid account id '%s': 12 digits expected", account);
		goto fail;
	}
	if (!valid_region(region)) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid region '%s'", region);
		goto fail;
	}
	if (!(reg = ecr__calloc(1, sizeof(*reg)))) {
		rc = ECR_ENOMEM;
		goto fail;
	}
	reg->store = store;
	store = NULL;
	reg->log.cb = opts->log_cb;
	reg->log.payload = opts->log_payload;
	reg->log.level = opts->log_level ? opts->log_level : ECR_LOG_WARN;
	reg->clock_cb = opts->clock_cb;
	reg->clock_payload = opts->clock_payload;
	reg->upload_expiry_ms = (opts->upload_expiry_seconds ? opts->upload_expiry_seconds : 86400) * 1000;
	if (opts->version >= 2) {
		reg->event_cb = opts->event_cb;
		reg->event_payload = opts->event_payload;
	}
	if (!(reg->account_id = ecr__strdup(account)) || !(reg->region = ecr__strdup(region))) {
		rc = ECR_ENOMEM;
		goto fail;
	}
	if ((rc = ecr__usage_new(&reg->usage)))
		goto fail;
	reg->is_public = strcmp(region, ECR_REGION_PUBLIC) == 0;
	ecr_buf arn = ECR_BUF_INIT;
	if (reg->is_public)
		rc = ecr__buf_printf(&arn, "arn:aws:ecr-public::%s:registry/%s", account, account);
	else
		rc = ecr__buf_printf(&arn, "arn:aws:ecr:%s:%s:registry", region, account);
	reg->arn = rc ? NULL : ecr__buf_detach(&arn);
	ecr_buf_dispose(&arn);
	if (!rc && !reg->arn)
		rc = ECR_ENOMEM;
	if (rc)
		goto fail;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		goto fail;
	if ((rc = ecr__meta_registry_ensure(&t, account, region, ecr_registry_now(reg), &reg->id)))
		goto fail;
	if ((rc = ecr__txn_commit(&t)))
		goto fail;
	ecr__log(&reg->log, ECR_LOG_DEBUG, "registry %s/%s opened", account, region);
	*out = reg;
	return 0;
fail:
	ecr__txn_rollback(&t);
	ecr_registry_free(reg);
	store_release(store);
	return rc;
}

int ecr_registry_open(ecr_registry **out, const char *url, const ecr_registry_options *opts)
{
	ecr__store *store = NULL;
	int rc;

	*out = NULL;
	if (opts && (rc = ecr__check_version(opts->version, ECR_REGISTRY_OPTIONS_VERSION, "ecr_registry_options")))
		return rc;
	if (!url)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry URL");
	uint32_t flags = opts ? opts->flags : 0;
	if (strcmp(url, "memory:") == 0) {
		ecr_blob_store *blobs = NULL;
		ecr_meta_store *meta = NULL;
		if ((rc = ecr_blob_store_memory_new(&blobs)))
			return rc;
		if ((rc = ecr_meta_store_sqlite_new(&meta, ":memory:", flags))) {
			blobs->free(blobs);
			return rc;
		}
		return ecr_registry_open_storage(out, blobs, meta, opts);
	} else if (strncmp(url, "file://", 7) == 0) {
		const char *path = url + 7;
		if (path[0] != '/')
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
				"invalid registry URL '%s': file:// needs an absolute path (file:///path)", url);
		if ((rc = store_open_folder(&store, path, flags)))
			return rc;
	} else if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
		return ecr__remote_open_url(out, url, opts);
	} else {
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"unsupported registry URL '%s' (expected file:///path, memory:, http:// or https://)", url);
	}
	return registry_new(out, store, opts);
}

int ecr_registry_open_urls(ecr_registry **out, const char *meta_url, const char *blob_url,
	const ecr_registry_options *opts)
{
	ecr__store *store = NULL;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_registry_open_urls: NULL argument");
	*out = NULL;
	if (opts && (rc = ecr__check_version(opts->version, ECR_REGISTRY_OPTIONS_VERSION, "ecr_registry_options")))
		return rc;
	if (!meta_url || !blob_url)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "a registry needs a metadata URL and a blob store URL");
	if ((rc = store_open_urls(&store, meta_url, blob_url, opts ? opts->flags : 0)))
		return rc;
	return registry_new(out, store, opts);
}

int ecr_registry_open_storage(ecr_registry **out, ecr_blob_store *blobs, ecr_meta_store *meta,
	const ecr_registry_options *opts)
{
	ecr__store *store = NULL;
	int rc;

	*out = NULL;
	if (!blobs || !meta) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "a registry needs a blob store and a metadata store");
		goto fail;
	}
	if (opts && (rc = ecr__check_version(opts->version, ECR_REGISTRY_OPTIONS_VERSION, "ecr_registry_options")))
		goto fail;
	if ((rc = store_new(&store, blobs, meta)))
		goto fail;
	blobs = NULL;
	meta = NULL;
	if ((rc = ecr__meta_migrate(store->meta)))
		goto fail;
	return registry_new(out, store, opts);
fail:
	store_free(store);
	if (blobs)
		blobs->free(blobs);
	if (meta)
		meta->free(meta);
	return rc;
}

void ecr_registry_free(ecr_registry *reg)
{
	if (!reg)
		return;
	ecr__usage_free(reg); /* flushes the usage counters */
	if (reg->store)
		store_release(reg->store);
	ecr__remote_free(reg->remote);
	ecr__free(reg->account_id);
	ecr__free(reg->region);
	ecr__free(reg->arn);
	ecr__free(reg);
}

const char *ecr_registry_account_id(const ecr_registry *reg) { return reg->account_id; }
const char *ecr_registry_region(const ecr_registry *reg) { return reg->region; }

int64_t ecr_registry_now(const ecr_registry *reg)
{
	if (reg->clock_cb)
		return reg->clock_cb(reg->clock_payload);
	return ecr__time_now_ms();
}

int ecr__token_encode(ecr_buf *out, char kind, const char *value)
{
	ecr_buf raw = ECR_BUF_INIT;
	int rc = ecr__buf_put(&raw, &kind, 1);
	if (!rc)
		rc = ecr__buf_put(&raw, ":", 1);
	if (!rc)
		rc = ecr__buf_puts(&raw, value);
	if (!rc)
		rc = ecr__base64url_encode(out, raw.ptr, raw.size);
	ecr_buf_dispose(&raw);
	return rc;
}

int ecr__token_decode(char **value_out, char kind, const char *token)
{
	ecr_buf raw = ECR_BUF_INIT;
	*value_out = NULL;
	size_t len = strlen(token);
	if (len > 2048 || ecr__base64url_decode(&raw, token, len) != 0 || raw.size < 2 || raw.ptr[0] != kind ||
		raw.ptr[1] != ':' || memchr(raw.ptr, '\0', raw.size)) {
		ecr_buf_dispose(&raw);
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid pagination token");
	}
	*value_out = ecr__strndup(raw.ptr + 2, raw.size - 2);
	ecr_buf_dispose(&raw);
	return *value_out ? 0 : ECR_ENOMEM;
}
