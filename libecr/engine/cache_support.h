/*
 * What the pull-through cache (libecr/replication/cache.c, cache_blob.c)
 * needs from the engine beyond the public API: putting a manifest whose blobs
 * are fetched later, and an ecr_blob over a stream the cache feeds.
 */
#ifndef ECR_ENGINE_CACHE_SUPPORT_H
#define ECR_ENGINE_CACHE_SUPPORT_H

#include "engine.h"

/*
 * Flag for ecr__image_put() (never honoured by the public ecr_image_put(),
 * which drops it): the manifest's layers and config need not be in the
 * repository yet. The image's references (image_refs) are recorded as for any
 * image, so the blobs are "expected": GC keeps them (and their links) once they
 * arrive, and a blob that never arrives breaks nothing (GC walks the blob store,
 * not the references). imageSizeInBytes is the sum of the layer sizes the
 * manifest states. Until a blob is fetched through the cache, reading it from
 * the repository directly (ecr_blob_open, a copy) answers ECR_ENOTFOUND.
 * An index's children must still be images of the repository.
 */
#define ECR__IMAGE_PUT_LAZY_BLOBS 0x80000000u

/* ecr_image_put() with the internal flags above honoured. */
int ecr__image_put(ecr_image **out, ecr_repository *repo, const char *tag, const char *digest, const char *media_type,
                   const void *manifest, size_t len, uint32_t flags);

/*
 * A blob reader over a stream: read_fn(ctx, pos, ...) reads bytes at pos (a
 * position in the whole blob) and may block until they exist; it answers 0
 * bytes only past the end. close_fn(ctx) runs at ecr_blob_free(). The blob
 * has no file descriptor. On success the blob owns ctx; on failure ctx is
 * left to the caller.
 */
typedef int (*ecr__blob_stream_read_fn)(void *ctx, uint64_t pos, void *buf, size_t len, size_t *nread_out);
typedef void (*ecr__blob_stream_close_fn)(void *ctx);
int ecr__blob_new_stream(ecr_blob **out, uint64_t size, uint64_t offset, uint64_t length,
                         ecr__blob_stream_read_fn read_fn, ecr__blob_stream_close_fn close_fn, void *ctx);

/*
 * Waiting without blocking, for a stream that can tell: watch_fn(ctx, pos, notify, arg) answers 1 when a read at
 * pos would not wait, else registers notify(arg) and answers 0; notify then runs once, on another thread and with
 * no lock of the stream held, when such a read would no longer wait. unwatch_fn(ctx, arg) withdraws it: 1 when it
 * did, 0 when notify has run or is about to.
 */
typedef void (*ecr__blob_notify_fn)(void *arg);
typedef int (*ecr__blob_stream_watch_fn)(void *ctx, uint64_t pos, ecr__blob_notify_fn notify, void *arg);
typedef int (*ecr__blob_stream_unwatch_fn)(void *ctx, void *arg);
void ecr__blob_stream_set_watch(ecr_blob *b, ecr__blob_stream_watch_fn watch_fn, ecr__blob_stream_unwatch_fn unwatch_fn);

/* The same for any reader (its next ecr_blob_read): readers of a store, which do not wait for other threads,
 * answer 1. */
int ecr__blob_watch(ecr_blob *b, ecr__blob_notify_fn notify, void *arg);
int ecr__blob_unwatch(ecr_blob *b, void *arg);

#endif
