/* Leases in the metadata store (see leases.h; the SQL is in libecr/storage/meta_lease.c). */
#include "leases.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "../core/crypto.h"
#include "../storage/meta_lease.h"

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static char process_id[17];

static void process_id_make(void)
{
	unsigned char r[8] = { 0 };
	if (ecr__random_bytes(r, sizeof(r)) != 0) {
		/* no randomness: the pid and the time still tell processes apart */
		uint64_t v = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
		memcpy(r, &v, sizeof(r));
		ecr__error_clear();
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(process_id + 2 * i, 3, "%02x", r[i]);
}

void ecr__lease_holder(const ecr__store *s, char out[ECR__LEASE_HOLDER_MAX])
{
	pthread_once(&process_once, process_id_make);
	snprintf(out, ECR__LEASE_HOLDER_MAX, "%s-%lx", process_id, (unsigned long)(uintptr_t)s);
}

typedef enum { LEASE_ACQUIRE, LEASE_RENEW, LEASE_RELEASE } lease_op;

static int lease_run(ecr__store *s, lease_op op, const char *name, const char *holder, int64_t now, int64_t ttl_ms)
{
	ecr__txn t = { 0 };
	bool ok = true;
	int rc;

	if (!name || !holder || !*holder)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "lease: NULL name or holder");
	if (op != LEASE_RELEASE && ttl_ms <= 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "lease %s: the time-to-live must be positive", name);
	if ((rc = ecr__txn_begin_atomic(&t, s->meta)))
		return rc;
	switch (op) {
	case LEASE_ACQUIRE:
		rc = ecr__meta_lease_acquire(&t, name, holder, now, ttl_ms, &ok);
		break;
	case LEASE_RENEW:
		rc = ecr__meta_lease_renew(&t, name, holder, now, ttl_ms, &ok);
		break;
	case LEASE_RELEASE:
		rc = ecr__meta_lease_release(&t, name, holder);
		break;
	}
	if (rc == 0 && ok)
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	if (rc == 0 && !ok)
		rc = ECR_EBUSY;
	return rc;
}

int ecr__lease_acquire(ecr__store *s, const char *name, const char *holder, int64_t now, int64_t ttl_ms)
{
	return lease_run(s, LEASE_ACQUIRE, name, holder, now, ttl_ms);
}

int ecr__lease_renew(ecr__store *s, const char *name, const char *holder, int64_t now, int64_t ttl_ms)
{
	return lease_run(s, LEASE_RENEW, name, holder, now, ttl_ms);
}

int ecr__lease_release(ecr__store *s, const char *name, const char *holder)
{
	return lease_run(s, LEASE_RELEASE, name, holder, 0, 0);
}

int ecr__lease_clear_all(ecr__store *s)
{
	ecr__txn t = { 0 };
	int rc = ecr__txn_begin(&t, s->meta, true);
	if (rc == 0 && (rc = ecr__meta_lease_clear(&t)) == 0)
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	return rc;
}
