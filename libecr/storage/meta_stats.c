/* Counts for ecr_registry_stats(): image scans and replication jobs of a
 * registry by state, one grouped query each. */
#include "meta.h"

#include <stdatomic.h>

typedef struct state_counts {
	uint64_t *counts;
	size_t n;
} state_counts;

/* Rows (state, count): add count to counts[state], or to counts[n - 1] for a state out of range. */
static int add_state(const ecr_sql_value *cols, size_t n, void *payload)
{
	state_counts *sc = payload;
	if (n < 2)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "stats: unexpected row shape");
	int64_t state = ecr__sql_int(&cols[0]), count = ecr__sql_int(&cols[1]);
	if (count < 0)
		count = 0;
	size_t i = state >= 0 && (uint64_t)state < sc->n ? (size_t)state : sc->n - 1;
	sc->counts[i] += (uint64_t)count;
	return 0;
}

int ecr__meta_stats_scans(ecr__txn *t, int64_t registry_id, uint64_t *counts, size_t n)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id)};
	state_counts sc = {counts, n};
	if (n == 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "stats: no room for counts");
	return ecr__sql(t,
	                "SELECT s.status, COUNT(*) FROM image_scans s JOIN repositories r ON r.id = s.repository_id "
	                "WHERE r.registry_id = ? GROUP BY s.status",
	                p, ECR__NPARAMS(p), add_state, &sc, NULL);
}

int ecr__meta_stats_replication(ecr__txn *t, int64_t registry_id, uint64_t *counts, size_t n)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id)};
	state_counts sc = {counts, n};
	if (n == 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "stats: no room for counts");
	return ecr__sql(t, "SELECT status, COUNT(*) FROM replication_jobs WHERE registry_id = ? GROUP BY status", p,
	                ECR__NPARAMS(p), add_state, &sc, NULL);
}

static _Atomic uint64_t meta_errors;

bool ecr__storage_error_counts(int rc)
{
	switch (rc) {
	case ECR_ERROR:
	case ECR_ENOMEM:
	case ECR_EIO:
	case ECR_EBUSY:
	case ECR_ENETWORK:
	case ECR_ETHROTTLED:
		return true;
	default: /* success, and answers about the request ("not found", "exists", a bad digest ...) */
		return false;
	}
}

void ecr__meta_count_error(int rc)
{
	if (ecr__storage_error_counts(rc))
		atomic_fetch_add_explicit(&meta_errors, 1, memory_order_relaxed);
}

uint64_t ecr__meta_errors(void)
{
	return atomic_load_explicit(&meta_errors, memory_order_relaxed);
}
