/* The SQLite metadata store's internals that its tests set and read (meta_sqlite.c). */
#ifndef ECR_STORAGE_META_SQLITE_H
#define ECR_STORAGE_META_SQLITE_H

#include <stdint.h>

#include "ecr/sys/meta_store.h"

/* The WAL lengths, in pages, from which the checkpoint thread checkpoints once no commit came for a while (idle),
 * at which a commit asks it for a checkpoint (soft) and at which a commit checkpoints itself (hard); ms must be a
 * durable file store of ecr_meta_store_sqlite_new(). */
void ecr__meta_sqlite_checkpoint_pages(ecr_meta_store *ms, int idle, int soft, int hard);
/* Checkpoints the checkpoint thread has run so far. */
uint64_t ecr__meta_sqlite_background_checkpoints(ecr_meta_store *ms);

#endif
