/* Per-client-address token buckets: the limit of anonymous pulls. A table of
 * up to `capacity` buckets, found through a hash of the address and kept in
 * least-recently-used order, so that a flood of new addresses evicts the
 * oldest buckets instead of growing without bound. Tokens are counted in
 * thousandths, so that refills are integer arithmetic on milliseconds. */
#include "ratelimit.h"
#include "http.h"

#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include "../core/timeutil.h"

#define MAX_CAPACITY (1u << 20)
/* Elapsed time beyond this refills any bucket anyway; it keeps the product in range. */
#define MAX_ELAPSED_MS (1ll << 30)
#define NIL UINT32_MAX

typedef struct bucket {
	unsigned char key[ECR__RATELIMIT_KEY_SIZE];
	int64_t milli_tokens;
	int64_t last_ms;
	uint32_t prev, next; /* LRU list: head most recent */
	uint32_t chain;      /* next in the hash chain */
} bucket;

struct ecr__ratelimit {
	pthread_mutex_t lock;
	uint32_t per_second, burst;
	ecr__ratelimit_clock clock;
	void *clock_payload;
	bucket *b;
	uint32_t capacity, count;
	uint32_t *heads; /* hash chains */
	uint32_t nheads; /* a power of two */
	uint32_t lru_head, lru_tail;
};

int ecr__ratelimit_key(unsigned char key[ECR__RATELIMIT_KEY_SIZE], const struct sockaddr *sa)
{
	memset(key, 0, ECR__RATELIMIT_KEY_SIZE);
	if (!sa)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no address");
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		key[0] = 4;
		memcpy(key + 1, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const unsigned char *a = in6->sin6_addr.s6_addr;
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(a, mapped, sizeof(mapped)) == 0) { /* ::ffff:a.b.c.d is a.b.c.d */
			key[0] = 4;
			memcpy(key + 1, a + 12, 4);
			return 0;
		}
		key[0] = 6;
		memcpy(key + 1, a, 8); /* the /64 */
		return 0;
	}
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "address family %d is neither IPv4 nor IPv6",
		(int)sa->sa_family);
}

static int check_limit(uint32_t per_second, uint32_t burst)
{
	if (per_second && !burst)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "a rate limit needs a burst of at least 1");
	return 0;
}

int ecr__ratelimit_new(ecr__ratelimit **out, uint32_t per_second, uint32_t burst, size_t capacity,
	ecr__ratelimit_clock clock, void *clock_payload)
{
	int rc;
	*out = NULL;
	if ((rc = check_limit(per_second, burst)))
		return rc;
	if (!capacity)
		capacity = ECR__RATELIMIT_DEFAULT_CAPACITY;
	if (capacity > MAX_CAPACITY)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "a rate limiter holds at most %u addresses",
			MAX_CAPACITY);
	ecr__ratelimit *rl = ecr__calloc(1, sizeof(*rl));
	if (!rl)
		return ECR_ENOMEM;
	rl->per_second = per_second;
	rl->burst = burst;
	rl->clock = clock;
	rl->clock_payload = clock_payload;
	rl->capacity = (uint32_t)capacity;
	rl->nheads = 1;
	while (rl->nheads < rl->capacity)
		rl->nheads <<= 1;
	rl->lru_head = rl->lru_tail = NIL;
	/* the tables (230 KiB at the default capacity) are made by the first bucket: a server whose anonymous pulls
	 * never come does not carry them */
	pthread_mutex_init(&rl->lock, NULL);
	*out = rl;
	return 0;
}

void ecr__ratelimit_free(ecr__ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	ecr__free(rl->b);
	ecr__free(rl->heads);
	ecr__free(rl);
}

int ecr__ratelimit_set(ecr__ratelimit *rl, uint32_t per_second, uint32_t burst)
{
	int rc = check_limit(per_second, burst);
	if (rc)
		return rc;
	pthread_mutex_lock(&rl->lock);
	rl->per_second = per_second;
	rl->burst = burst;
	for (uint32_t i = 0; i < rl->count; i++)
		if (rl->b[i].milli_tokens > (int64_t)burst * 1000)
			rl->b[i].milli_tokens = (int64_t)burst * 1000;
	pthread_mutex_unlock(&rl->lock);
	return 0;
}

/* FNV-1a of the key. */
static uint32_t hash_key(const unsigned char *key)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < ECR__RATELIMIT_KEY_SIZE; i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	return h;
}

static void lru_unlink(ecr__ratelimit *rl, uint32_t i)
{
	bucket *e = &rl->b[i];
	if (e->prev != NIL)
		rl->b[e->prev].next = e->next;
	else
		rl->lru_head = e->next;
	if (e->next != NIL)
		rl->b[e->next].prev = e->prev;
	else
		rl->lru_tail = e->prev;
	e->prev = e->next = NIL;
}

static void lru_push_front(ecr__ratelimit *rl, uint32_t i)
{
	bucket *e = &rl->b[i];
	e->prev = NIL;
	e->next = rl->lru_head;
	if (rl->lru_head != NIL)
		rl->b[rl->lru_head].prev = i;
	rl->lru_head = i;
	if (rl->lru_tail == NIL)
		rl->lru_tail = i;
}

static void chain_remove(ecr__ratelimit *rl, uint32_t i)
{
	uint32_t *p = &rl->heads[hash_key(rl->b[i].key) & (rl->nheads - 1)];
	while (*p != NIL && *p != i)
		p = &rl->b[*p].chain;
	if (*p == i)
		*p = rl->b[i].chain;
}

/* The tables, at the first bucket: 0 or ECR_ENOMEM. */
static int tables_make(ecr__ratelimit *rl)
{
	if (rl->b)
		return 0;
	bucket *b = ecr__malloc((size_t)rl->capacity * sizeof(*b));
	uint32_t *heads = ecr__malloc((size_t)rl->nheads * sizeof(*heads));
	if (!b || !heads) {
		ecr__free(b);
		ecr__free(heads);
		return ECR_ENOMEM;
	}
	for (uint32_t i = 0; i < rl->nheads; i++)
		heads[i] = NIL;
	rl->b = b;
	rl->heads = heads;
	return 0;
}

/* The bucket of key, made (full) when missing, evicting the least recently used one when the table is full. */
static bucket *find_or_add(ecr__ratelimit *rl, const unsigned char *key, int64_t now)
{
	uint32_t h = hash_key(key) & (rl->nheads - 1), i;
	for (i = rl->heads[h]; i != NIL; i = rl->b[i].chain)
		if (memcmp(rl->b[i].key, key, ECR__RATELIMIT_KEY_SIZE) == 0) {
			lru_unlink(rl, i);
			lru_push_front(rl, i);
			return &rl->b[i];
		}
	if (rl->count < rl->capacity) {
		i = rl->count++;
	} else {
		i = rl->lru_tail;
		lru_unlink(rl, i);
		chain_remove(rl, i);
	}
	bucket *e = &rl->b[i];
	memcpy(e->key, key, ECR__RATELIMIT_KEY_SIZE);
	e->milli_tokens = (int64_t)rl->burst * 1000;
	e->last_ms = now;
	e->chain = rl->heads[h];
	rl->heads[h] = i;
	lru_push_front(rl, i);
	return e;
}

uint32_t ecr__ratelimit_take_key(ecr__ratelimit *rl, const unsigned char key[ECR__RATELIMIT_KEY_SIZE])
{
	uint32_t wait = 0;
	int64_t now = rl->clock ? rl->clock(rl->clock_payload) : ecr__time_monotonic_ms();
	pthread_mutex_lock(&rl->lock);
	if (!rl->per_second)
		goto done;
	if (tables_make(rl) < 0) { /* out of memory: the request goes on rather than fail (as without an address) */
		ecr_error_clear();
		goto done;
	}
	bucket *e = find_or_add(rl, key, now);
	int64_t full = (int64_t)rl->burst * 1000, elapsed = now - e->last_ms;
	if (elapsed > 0) {
		if (elapsed > MAX_ELAPSED_MS)
			elapsed = MAX_ELAPSED_MS;
		/* per_second tokens a second are per_second thousandths a millisecond */
		e->milli_tokens += elapsed * (int64_t)rl->per_second;
		if (e->milli_tokens > full)
			e->milli_tokens = full;
		e->last_ms = now;
	}
	if (e->milli_tokens >= 1000) {
		e->milli_tokens -= 1000;
		goto done;
	}
	int64_t need = 1000 - e->milli_tokens;
	int64_t ms = (need + rl->per_second - 1) / rl->per_second;
	int64_t s = (ms + 999) / 1000;
	wait = s < 1 ? 1 : (s > UINT32_MAX ? UINT32_MAX : (uint32_t)s);
done:
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

uint32_t ecr__ratelimit_take(ecr__ratelimit *rl, const struct sockaddr *sa)
{
	unsigned char key[ECR__RATELIMIT_KEY_SIZE];
	if (ecr__ratelimit_key(key, sa)) {
		ecr_error_clear();
		return 0;
	}
	return ecr__ratelimit_take_key(rl, key);
}

size_t ecr__ratelimit_count(ecr__ratelimit *rl)
{
	pthread_mutex_lock(&rl->lock);
	size_t n = rl->count;
	pthread_mutex_unlock(&rl->lock);
	return n;
}

int ecr_server_set_anonymous_limit(ecr_server *srv, uint32_t per_second, uint32_t burst)
{
	if (!srv)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_server_set_anonymous_limit: server is NULL");
	return ecr__ratelimit_set(srv->anon_limit, per_second, burst);
}
