/* The engine's internal structures, shared by the files of libecr/engine/. */
#ifndef ECR_ENGINE_ENGINE_H
#define ECR_ENGINE_ENGINE_H

#include <pthread.h>
#include <sys/types.h>

#include "../core/core.h"
#include "../core/logging.h"
#include "../storage/meta.h"

typedef struct ecr__open_upload ecr__open_upload; /* upload.c */
typedef struct ecr__remote ecr__remote;           /* libecr/remote/remote.h */
typedef struct ecr__usage ecr__usage;             /* usage.c */

/*
 * Storage shared by every registry handle opened on the same data folder in
 * this process (refcounted, found by canonical path), or private to one
 * handle (memory:, custom backends). A data folder is locked (flock) by one
 * process at a time.
 */
typedef struct ecr__store {
	char *key;                /* canonical path for file:// stores, NULL when private */
	int refs;                 /* guarded by the global store table lock */
	int lock_fd;              /* flock'ed <folder>/lock, -1 */
	pid_t pid;                /* the process that opened it: a forked child must not share it */
	ecr_blob_store *blobs;
	ecr_meta_store *meta;
	/*
	 * Taken shared by every operation that makes a blob reachable (publishing
	 * an upload and linking it, mounting, putting a manifest) and exclusively
	 * by garbage collection while it removes blobs, so GC never deletes a blob
	 * in the instant between a check and a link.
	 */
	pthread_rwlock_t gc_lock;
	pthread_mutex_t lock;           /* guards open_uploads */
	ecr__open_upload *open_uploads; /* upload.c's cache of open staging writers */
	/* The blob store is shared with other processes (s3://): upload.c closes a session's writer when its handle
	 * ends instead of keeping it idle in open_uploads, so that another node can reopen the stage. */
	bool no_writer_cache;
	/* The token signing key (libecr/auth/token.c), loaded once from store_keys. */
	pthread_mutex_t auth_lock; /* guards token_key_loaded and token_key */
	bool token_key_loaded;
	unsigned char token_key[32];
	/* Statistics (stats.c, ecr_registry_stats): garbage collections of this store in this process. */
	_Atomic uint64_t gc_runs, gc_failures, gc_blobs_deleted, gc_bytes_freed;
} ecr__store;

/* Count a garbage collection that ended with rc (dry runs are not counted) (stats.c). */
void ecr__stats_gc(ecr__store *s, int rc, uint64_t blobs_deleted, uint64_t bytes_freed);

/* Release the upload writer cache (upload.c); called when the store is freed. */
void ecr__uploads_cache_free(ecr__store *s);

/* Called by ecr_image_put after it committed a NEW image, outside any lock (scan on push). */
typedef void (*ecr__push_hook)(void *scanner, ecr_repository *repo, const char *digest);

struct ecr_registry {
	/* The engine's storage; NULL for a remote registry (then remote is set: libecr/remote/remote.h). */
	ecr__store *store;
	ecr__remote *remote;
	int64_t id; /* registries.id */
	char *account_id;
	char *region;
	char *arn; /* arn:aws:ecr:<region>:<account>:registry; arn:aws:ecr-public::<account>:registry/<account> */
	bool is_public; /* region ECR_REGION_PUBLIC: the account's public registry (ecr/public.h, public.c) */
	ecr__logger log;
	ecr_clock_cb clock_cb;
	void *clock_payload;
	uint64_t upload_expiry_ms;
	ecr_event_cb event_cb; /* options version >= 2 */
	void *event_payload;
	/* The scanner attached to this registry (libecr/scan/scanner.c), or NULL; set by ecr_scanner_attach. */
	ecr__push_hook push_hook;
	void *scanner;
	/* The replicator working this registry's queue (libecr/replication/replicator.c), or NULL: woken (outside
	 * any lock) after a push queued replication jobs. Set by ecr_replicator_attach. */
	void (*repl_wake)(void *replicator);
	void *replicator;
	/* Usage counters not yet flushed (usage.c); NULL for a remote registry. */
	ecr__usage *usage;
	/* ecr__ptc_has_rules's last answer (replication/ptc_rules.c), asked on every pull: 0 when unknown. */
	_Atomic uint64_t ptc_rules_known;
};

/* Usage metering (usage.c). Count after the work succeeded, with no transaction open on this thread (a count may
 * flush the counters: one write transaction at most every ECR__USAGE_FLUSH_MS). */
#define ECR__USAGE_FLUSH_MS 5000
typedef enum ecr__usage_kind {
	ECR__USAGE_IMAGE_PUSH,    /* a manifest stored: bytes = its size */
	ECR__USAGE_IMAGE_PULL,    /* a manifest served (GET): bytes = its size */
	ECR__USAGE_BLOB_UPLOAD,   /* an upload committed or a blob put: bytes = its size */
	ECR__USAGE_BLOB_DOWNLOAD, /* a blob read opened: bytes = the range to serve */
} ecr__usage_kind;
void ecr__usage_count(ecr_registry *reg, const char *repository, ecr__usage_kind kind, uint64_t bytes);
int ecr__usage_new(ecr__usage **out);
/* Flush (errors logged) and free reg->usage. */
void ecr__usage_free(ecr_registry *reg);

/* The scanner attached to a registry (an ecr_scanner *), or NULL. */
#define ecr__registry_scanner(reg) ((reg)->scanner)

/* Call the registry's event callback, if any (after the change was committed, no lock held). */
void ecr__event_raise(ecr_registry *reg, ecr_event_type type, const char *repository, const char *digest,
	const char *const *tags, size_t tags_count, uint32_t rule_priority, int64_t time_ms);
/* events.c: call the registry's event callback with ev, if there is one (after the change was committed, no lock
 * held). Fills version, and account_id, region and time_ms when they are unset. Keeps the thread's error. */
void ecr__event_emit(ecr_registry *reg, ecr_event *ev);

struct ecr_repository {
	ecr_registry *reg;
	int64_t id;
	char *name;
	char *arn;
	char *uri;
	int64_t created_at;
	ecr_tag_mutability mutability;
	char **exclusions;
	size_t exclusions_count;
	int scan_on_push;
	ecr_encryption_type encryption_type;
	char *kms_key;
};

/* Build a repository handle from its record (repository.c). alias: the alias of a public registry (its
 * repository URI is public.ecr.aws/<alias>/<name>), NULL for a private one. */
int ecr__repository_from_meta(ecr_repository **out, ecr_registry *reg, const ecr__meta_repo *r, const char *alias);

/* Public registries (public.c). */
/* *alias_out (ecr__free): the alias of the public registry reg, assigned (at random) and stored when it has
 * none yet. Opens its own transactions: call it outside any. ECR_EINVALID for a private registry. */
int ecr__public_alias_ensure(ecr_registry *reg, char **alias_out);
/* Fail with ECR_EREPOSITORY_NOT_FOUND and ECR's message. */
int ecr__repository_not_found(const ecr_registry *reg, const char *name);
/* Check, inside t, that repo still exists (it may have been deleted through another handle). */
int ecr__repository_check(ecr__txn *t, const ecr_repository *repo);
/* The ECR API names of the repository settings (imageTagMutability, encryptionType), shared by the
 * server and the remote registries (repository.c). A name for a value out of range is the default one
 * (MUTABLE, AES256); parsing an unknown name (or NULL) gives false and leaves *out alone. */
const char *ecr__repository_mutability_name(ecr_tag_mutability m);
bool ecr__repository_mutability_parse(ecr_tag_mutability *out, const char *s);
const char *ecr__repository_encryption_name(ecr_encryption_type t);
bool ecr__repository_encryption_parse(ecr_encryption_type *out, const char *s);

/* Store a whole blob in memory into the blob store under digest (a fresh staging id, write, commit). */
int ecr__blob_store_put(ecr__store *s, const char *digest, const void *data, size_t len);
/* Read a whole blob (at most max bytes, else ECR_ELIMIT) into out. */
int ecr__blob_store_get(ecr__store *s, const char *digest, size_t max, ecr_buf *out);

/* Images (image.c). */
/* Build an image handle from a record and its tags (both moved into it on success; tags may be NULL when
 * tags_count is 0). */
int ecr__image_new(ecr_image **out, ecr_registry *reg, ecr__meta_image *rec, char **tags, size_t tags_count);
/* The record of an image handle (borrowed). */
const ecr__meta_image *ecr__image_rec(const ecr_image *img);
/* The tags of an image handle (borrowed, ecr_image_tag_count() of them, in lexical order). */
char **ecr__image_tags(const ecr_image *img);
/* Delete an image and its referrers inside t (ECR_EIMAGE_REFERENCED when an index lists it); the digests
 * deleted are added to deleted (may be NULL). */
typedef struct ecr__strvec {
	char **v;
	size_t n, cap;
} ecr__strvec;
int ecr__strvec_add(ecr__strvec *sv, const char *s);
bool ecr__strvec_has(const ecr__strvec *sv, const char *s);
void ecr__strvec_dispose(ecr__strvec *sv);
int ecr__image_delete_in(ecr__txn *t, ecr_repository *repo, const char *digest, ecr__strvec *deleted);

/* Archive (archive.c). */
/* Move an image (and the index children and referrers that follow it) to storage_class; the digests whose
 * status changed are added to changed (may be NULL). */
int ecr__image_set_storage_class(ecr_repository *repo, const char *digest, ecr_storage_class storage_class,
	ecr__strvec *changed);
/* Make sure the raw copy of a blob is in the blob store: restore it from its compressed copy (archived_blobs,
 * read through t) when missing. The caller holds gc_lock shared. ECR_EIO when there is neither. */
int ecr__archive_ensure_raw(ecr__store *s, ecr__txn *t, const char *digest);

/* Pagination tokens: base64url of "<kind>:<value>". */
int ecr__token_encode(ecr_buf *out, char kind, const char *value);
/* *value_out is allocated (ecr__free). ECR_EINVALID for a bad token or kind. */
int ecr__token_decode(char **value_out, char kind, const char *token);

#endif
