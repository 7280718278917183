/* The per-address token buckets of anonymous pulls (libecr/server/ratelimit.c):
 * refill arithmetic against an injected clock, Retry-After, the bounded table
 * and its least-recently-used eviction, IPv4 /32 and IPv6 /64 grouping, and
 * the lock under concurrent takes. */
#include "../helpers/helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "libecr/server/ratelimit.h"

static int64_t now_ms;

static int64_t test_clock(void *payload)
{
	(void)payload;
	return now_ms;
}

static struct sockaddr_in v4(const char *s)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.sin_addr), 1);
	return a;
}

static struct sockaddr_in6 v6(const char *s)
{
	struct sockaddr_in6 a;
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, s, &a.sin6_addr), 1);
	return a;
}

#define SA(x) ((const struct sockaddr *)(const void *)&(x))

static void test_server_ratelimit__refill_arithmetic(void **state)
{
	ecr__ratelimit *rl = NULL;
	struct sockaddr_in a = v4("192.0.2.1");
	(void)state;
	now_ms = 1000000;
	assert_ok(ecr__ratelimit_new(&rl, 2, 3, 0, test_clock, NULL));
	/* a new address has the whole burst */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	/* then one token every 500 ms; Retry-After is whole seconds, at least 1 */
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	now_ms += 499;
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	now_ms += 1;
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	/* a refused take costs nothing: 500 ms later there is exactly one again */
	now_ms += 500;
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	/* a long pause refills up to the burst, never more */
	now_ms += 3600 * 1000;
	for (int i = 0; i < 3; i++)
		assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	/* a clock that goes back refills nothing */
	now_ms -= 10000;
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	now_ms += 10000;

	/* a lower burst clamps the buckets; per_second 0 lifts the limit */
	now_ms += 60000;
	assert_ok(ecr__ratelimit_set(rl, 1, 1));
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	now_ms += 999;
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	now_ms += 1;
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	assert_ok(ecr__ratelimit_set(rl, 0, 0));
	for (int i = 0; i < 100; i++)
		assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	/* a limit needs a burst */
	assert_int_equal(ecr__ratelimit_set(rl, 5, 0), ECR_EINVALID);
	ecr__ratelimit_free(rl);
	assert_int_equal(ecr__ratelimit_new(&rl, 1, 0, 0, test_clock, NULL), ECR_EINVALID);
	assert_null(rl);
	assert_int_equal(ecr__ratelimit_new(&rl, 1, 1, (size_t)1 << 21, test_clock, NULL), ECR_EINVALID);
	ecr__ratelimit_free(NULL);
}

static void test_server_ratelimit__high_rate(void **state)
{
	ecr__ratelimit *rl = NULL;
	struct sockaddr_in a = v4("192.0.2.9");
	(void)state;
	now_ms = 5;
	assert_ok(ecr__ratelimit_new(&rl, 1000, 1, 0, test_clock, NULL));
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1); /* 1 ms away, rounded up to a second */
	now_ms += 1;
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	/* 1000 ms of elapsed time at 1000/s would be 1000 tokens; the burst caps it at 1 */
	now_ms += 1000;
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	ecr__ratelimit_free(rl);
}

/* The resident memory of this process, in KiB (VmRSS). */
static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* A limiter costs its tables (here 1 Mi buckets, over 60 MiB) only once a bucket is needed: every server makes one
 * for anonymous pulls, most never use it. */
static void test_server_ratelimit__tables_on_first_use(void **state)
{
	ecr__ratelimit *rl = NULL;
	struct sockaddr_in a = v4("192.0.2.10"), b = v4("192.0.2.11");
	(void)state;
	now_ms = 5;
	long before = rss_kib();
	assert_ok(ecr__ratelimit_new(&rl, 1, 1, 1u << 20, test_clock, NULL));
	assert_true(rss_kib() - before < 4096);
	assert_ok(ecr__ratelimit_set(rl, 1, 2)); /* no bucket to cap yet */
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	assert_int_equal(ecr__ratelimit_take(rl, SA(b)), 0); /* another address, another bucket */
	ecr__ratelimit_free(rl);
	/* a limiter never used frees without its tables */
	assert_ok(ecr__ratelimit_new(&rl, 1, 1, 0, test_clock, NULL));
	ecr__ratelimit_free(rl);
}

static void test_server_ratelimit__eviction(void **state)
{
	ecr__ratelimit *rl = NULL;
	struct sockaddr_in a[6];
	char s[32];
	(void)state;
	now_ms = 42;
	assert_ok(ecr__ratelimit_new(&rl, 1, 1, 4, test_clock, NULL));
	for (int i = 0; i < 6; i++) {
		snprintf(s, sizeof(s), "198.51.100.%d", i + 1);
		a[i] = v4(s);
	}
	/* four addresses spend their token */
	for (int i = 0; i < 4; i++)
		assert_int_equal(ecr__ratelimit_take(rl, SA(a[i])), 0);
	assert_int_equal(ecr__ratelimit_count(rl), 4);
	/* a[0] is used again: a[1] is now the least recently used */
	assert_int_equal(ecr__ratelimit_take(rl, SA(a[0])), 1);
	/* a fifth address takes a[1]'s place; the table does not grow */
	assert_int_equal(ecr__ratelimit_take(rl, SA(a[4])), 0);
	assert_int_equal(ecr__ratelimit_count(rl), 4);
	/* a[0], a[2], a[3] are remembered (empty); a[1] was forgotten: a full bucket again */
	assert_int_equal(ecr__ratelimit_take(rl, SA(a[0])), 1);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a[2])), 1);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a[3])), 1);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a[1])), 0); /* evicts a[4] */
	assert_int_equal(ecr__ratelimit_take(rl, SA(a[1])), 1);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a[4])), 0); /* forgotten, so full; evicts a[0] */
	assert_int_equal(ecr__ratelimit_take(rl, SA(a[0])), 0);
	assert_int_equal(ecr__ratelimit_count(rl), 4);
	/* a long stream of new addresses through a full table */
	for (int i = 0; i < 1000; i++) {
		struct sockaddr_in x;
		memset(&x, 0, sizeof(x));
		x.sin_family = AF_INET;
		x.sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i);
		assert_int_equal(ecr__ratelimit_take(rl, SA(x)), 0);
		assert_int_equal(ecr__ratelimit_take(rl, SA(x)), 1);
	}
	assert_int_equal(ecr__ratelimit_count(rl), 4);
	ecr__ratelimit_free(rl);
}

static void test_server_ratelimit__address_grouping(void **state)
{
	ecr__ratelimit *rl = NULL;
	unsigned char k1[ECR__RATELIMIT_KEY_SIZE], k2[ECR__RATELIMIT_KEY_SIZE];
	struct sockaddr_in6 a = v6("2001:db8:1:2::1"), same64 = v6("2001:db8:1:2:ffff:eeee:dddd:cccc"),
			    other64 = v6("2001:db8:1:3::1"), mapped = v6("::ffff:192.0.2.7");
	struct sockaddr_in b = v4("192.0.2.7"), c = v4("192.0.2.8");
	struct sockaddr_un un;
	(void)state;
	now_ms = 7;
	assert_ok(ecr__ratelimit_key(k1, SA(a)));
	assert_ok(ecr__ratelimit_key(k2, SA(same64)));
	assert_memory_equal(k1, k2, sizeof(k1));
	assert_ok(ecr__ratelimit_key(k2, SA(other64)));
	assert_memory_not_equal(k1, k2, sizeof(k1));
	assert_ok(ecr__ratelimit_key(k1, SA(mapped)));
	assert_ok(ecr__ratelimit_key(k2, SA(b)));
	assert_memory_equal(k1, k2, sizeof(k1));
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(ecr__ratelimit_key(k1, SA(un)), ECR_EINVALID);
	assert_int_equal(ecr__ratelimit_key(k1, NULL), ECR_EINVALID);

	assert_ok(ecr__ratelimit_new(&rl, 1, 2, 0, test_clock, NULL));
	/* one /64 shares a bucket */
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(same64)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(a)), 1);
	assert_int_equal(ecr__ratelimit_take(rl, SA(same64)), 1);
	/* the next /64 does not */
	assert_int_equal(ecr__ratelimit_take(rl, SA(other64)), 0);
	/* IPv4: one address, and its IPv4-mapped IPv6 form is the same client */
	assert_int_equal(ecr__ratelimit_take(rl, SA(b)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(mapped)), 0);
	assert_int_equal(ecr__ratelimit_take(rl, SA(b)), 1);
	assert_int_equal(ecr__ratelimit_take(rl, SA(c)), 0);
	/* an address of another family is not limited (and not remembered) */
	size_t n = ecr__ratelimit_count(rl);
	for (int i = 0; i < 5; i++)
		assert_int_equal(ecr__ratelimit_take(rl, SA(un)), 0);
	assert_int_equal(ecr__ratelimit_count(rl), n);
	ecr__ratelimit_free(rl);
}

struct taker {
	ecr__ratelimit *rl;
	int allowed;
};

static void *take_many(void *arg)
{
	struct taker *t = arg;
	struct sockaddr_in a = v4("203.0.113.5");
	for (int i = 0; i < 2000; i++)
		if (ecr__ratelimit_take(t->rl, SA(a)) == 0)
			t->allowed++;
	return NULL;
}

static void test_server_ratelimit__concurrent_takes(void **state)
{
	ecr__ratelimit *rl = NULL;
	pthread_t th[4];
	struct taker t[4];
	int total = 0;
	(void)state;
	now_ms = 99; /* the clock stands still: exactly the burst is allowed */
	assert_ok(ecr__ratelimit_new(&rl, 1, 150, 0, test_clock, NULL));
	for (int i = 0; i < 4; i++) {
		t[i].rl = rl;
		t[i].allowed = 0;
		assert_int_equal(pthread_create(&th[i], NULL, take_many, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += t[i].allowed;
	}
	assert_int_equal(total, 150);
	ecr__ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_ratelimit__refill_arithmetic),
		cmocka_unit_test(test_server_ratelimit__high_rate),
		cmocka_unit_test(test_server_ratelimit__tables_on_first_use),
		cmocka_unit_test(test_server_ratelimit__eviction),
		cmocka_unit_test(test_server_ratelimit__address_grouping),
		cmocka_unit_test(test_server_ratelimit__concurrent_takes),
	};
	return cmocka_run_group_tests_name("server/ratelimit", tests, NULL, NULL);
}
