/* Per-client-address token buckets (ratelimit.c): the limit of anonymous pulls
 * (ecr_server_set_anonymous_limit). Addresses are grouped as IPv4 /32 and
 * IPv6 /64 (an IPv4-mapped IPv6 address is its IPv4 address); the table holds
 * a bounded number of addresses and forgets the least recently used one when
 * full. Thread-safe. */
#ifndef ECR_SERVER_RATELIMIT_H
#define ECR_SERVER_RATELIMIT_H

#include <sys/socket.h>

#include "../core/core.h"

/* Addresses a limiter remembers by default. */
#define ECR__RATELIMIT_DEFAULT_CAPACITY 4096

typedef struct ecr__ratelimit ecr__ratelimit;

/* A monotonic clock in milliseconds (tests inject one); NULL: the system's. */
typedef int64_t (*ecr__ratelimit_clock)(void *payload);

/* The bucket key of an address: 17 bytes (family, then 4 or 8 address bytes, zero-padded). */
#define ECR__RATELIMIT_KEY_SIZE 17
/* 0; ECR_EINVALID (neither IPv4 nor IPv6). */
int ecr__ratelimit_key(unsigned char key[ECR__RATELIMIT_KEY_SIZE], const struct sockaddr *sa);

/* A limiter of per_second tokens a second, up to burst, for up to capacity
 * addresses (0: the default). per_second 0: no limit. ECR_EINVALID (burst 0
 * with a limit, capacity over 1<<20). */
int ecr__ratelimit_new(ecr__ratelimit **out, uint32_t per_second, uint32_t burst, size_t capacity,
	ecr__ratelimit_clock clock, void *clock_payload);
void ecr__ratelimit_free(ecr__ratelimit *rl);

/* Change the rate and burst (buckets are kept, clamped to the new burst). */
int ecr__ratelimit_set(ecr__ratelimit *rl, uint32_t per_second, uint32_t burst);

/* Take one token for key. 0: allowed; otherwise the whole seconds (>= 1)
 * until the address has a token again (the Retry-After). */
uint32_t ecr__ratelimit_take_key(ecr__ratelimit *rl, const unsigned char key[ECR__RATELIMIT_KEY_SIZE]);
/* The same for an address; an address of another family is never limited. */
uint32_t ecr__ratelimit_take(ecr__ratelimit *rl, const struct sockaddr *sa);

/* Addresses remembered now. */
size_t ecr__ratelimit_count(ecr__ratelimit *rl);

#endif
