/* The fixture shared by the tests/remote scenarios: a local memory: registry
 * (run 1), a second memory: registry served by an in-process ecr_server
 * (tests/server/api_client.c) with an administrator principal and its access
 * key, and a remote handle (http://) to that server (run 2). Also the
 * transcript helpers both runs write to. Every function fails the running
 * test (cmocka) instead of returning an error. */
#ifndef ECR_TESTS_REMOTE_FIXTURE_H
#define ECR_TESTS_REMOTE_FIXTURE_H

#include "../helpers/helpers.h"

#include <stdbool.h>
#include <stdint.h>

#define RF_ADMIN_ARN "arn:aws:iam::123456789012:user/admin"

/* A test clock: rf_clock returns rf_now (Unix ms), which the tests set and advance. */
extern int64_t rf_now;
int64_t rf_clock(void *payload);

/* What differs between the test files. */
typedef struct remote_fixture_opts {
	const char *account_id; /* of both memory: registries; NULL: libecr's default */
	const char *region;     /* likewise */
	ecr_clock_cb clock_cb;  /* of both memory: registries */
	bool remote_clock;      /* the remote handles get clock_cb too */
} remote_fixture_opts;

typedef struct remote_fixture {
	ecr_registry *local;   /* run 1 */
	ecr_registry *backing; /* what the server serves */
	ecr_server *srv;
	ecr_registry *remote; /* run 2 */
	ecr_registry *oci;    /* NULL unless a test opens it (ECR_REMOTE_OCI_ONLY); freed with the fixture */
	uint16_t port;
	ecr_buf key_id, secret; /* RF_ADMIN_ARN's access key on backing */
	remote_fixture_opts opts;
} remote_fixture;

/* rf_now set to the current time, then both registries, the principal, the server and f->remote
 * (ECR_REMOTE_NO_RETRY, region us-east-1). */
remote_fixture *remote_fixture_new(const remote_fixture_opts *opts);
void remote_fixture_free(remote_fixture *f);

/* A remote handle to f's server with ECR_REMOTE_NO_RETRY | flags; with
 * ECR_REMOTE_OCI_ONLY it authenticates with Basic AWS:<token of RF_ADMIN_ARN>. */
void remote_fixture_open_remote(ecr_registry **out, remote_fixture *f, uint32_t flags);

/* Append one line to a transcript. */
void rf_say(ecr_buf *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Log a call's code and assert it is the one expected. */
#define EXPECT(log, want, expr)                                                                                        \
	do {                                                                                                           \
		int got__ = (expr);                                                                                    \
		rf_say(log, "%s -> %s", #expr, got__ ? ecr_error_name(got__) : "0");                                   \
		if (got__ != (want))                                                                                   \
			fail_msg("line %d: %s: %d (%s), wanted %d: %s", __LINE__, #expr, got__, ecr_error_name(got__), \
			         (want), ecr_error_last()->message);                                                   \
	} while (0)

#endif
