/* SigV4 verification: the reference vector (every intermediate value), the
 * Authorization parser, and attacks. */
#include "libecr/auth/auth.h"
#include "libecr/core/crypto.h"
#include "libecr/core/digest.h"

#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define BODY "{\"repositoryName\": \"team-a/web\"}"
#define BODY_SHA "0f840d448a7d5a3639fdf32f696410639dce2f8de23971074ff1275f029fa53b"
/* ecr-api.md §1.3 gives a4fc99ce...71bc7 as the canonical request's SHA-256, but that value
 * belongs to no canonical request that yields its signature: botocore 1.43 (with the clock
 * fixed at 20250115T120000Z) sends exactly the signature below, computed over the canonical
 * request spelled out in the test, whose SHA-256 is this one. */
#define CANON_SHA "83aa3f04536bfa4f579b579873d2d12c59a10473f3f89a7b03b353e42dc9f5b9"
#define CANON_SHA_REFERENCE "a4fc99ce99fc47bb25aefe356d79c180c97b62747cf2f7f7070c2a4508771bc7"
#define SIG "1c648d3e9889ce38a25a5eb01f907376c198de2b6fde698c71a87bd3093e4508"
#define TARGET "AmazonEC2ContainerRegistry_V20150921.CreateRepository"
#define AMZDATE "20250115T120000Z"
#define SIGNED "content-type;host;x-amz-date;x-amz-target"
/* 2025-01-15T12:00:00Z */
#define T0 1736942400000LL

typedef struct fixture {
	ecr_registry *reg;
	ecr_principal *p;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr__txn t;
	assert_ok(ecr_registry_open(&f->reg, "memory:", NULL));
	assert_ok(ecr_principal_create(&f->p, f->reg, "arn:aws:iam::123456789012:user/alice", 0));
	assert_ok(ecr__txn_begin(&t, f->reg->store->meta, true));
	assert_ok(ecr__meta_access_key_insert(&t, AKID, f->p->id, SECRET, 0));
	assert_ok(ecr__txn_commit(&t));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_principal_free(f->p);
	ecr_registry_free(f->reg);
	free(f);
	return 0;
}

static void hmac(unsigned char out[32], const void *key, size_t klen, const char *msg)
{
	assert_ok(ecr__hmac_sha256(out, key, klen, msg, strlen(msg)));
}

static void sha256_hex(char out[65], const char *s, size_t n)
{
	char d[ECR__DIGEST_STRLEN_MAX];
	assert_ok(ecr__digest_buf(d, sizeof(d), ECR__DIGEST_SHA256, s, n));
	memcpy(out, d + 7, 65);
}

/* An independent signer for a POST / with the four botocore headers (test side). */
static void sign(char sig_out[65], const char *secret, const char *amzdate, const char *scope_date, const char *region,
                 const char *service, const char *host, const char *target, const char *body)
{
	char canon[2048], sts[1024], h[65], ksecret[128], body_sha[65];
	unsigned char k1[32], k2[32];
	sha256_hex(body_sha, body, strlen(body));
	snprintf(
	    canon, sizeof(canon),
	    "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:%s\nx-amz-date:%s\nx-amz-target:%s\n\n" SIGNED
	    "\n%s",
	    host, amzdate, target, body_sha);
	sha256_hex(h, canon, strlen(canon));
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amzdate, scope_date, region,
	         service, h);
	snprintf(ksecret, sizeof(ksecret), "AWS4%s", secret);
	hmac(k1, ksecret, strlen(ksecret), scope_date);
	hmac(k2, k1, 32, region);
	hmac(k1, k2, 32, service);
	hmac(k2, k1, 32, "aws4_request");
	hmac(k1, k2, 32, sts);
	ecr__hex_encode(sig_out, k1, 32);
}

/* A request under construction. */
typedef struct req {
	ecr_sigv4_request r;
	ecr_http_header h[12];
	char auth[1024];
	char body_sha[65];
} req;

static void req_build(req *q, const char *auth, const char *amzdate, const char *host, const char *body)
{
	memset(q, 0, sizeof(*q));
	assert_ok(ecr_sigv4_request_init(&q->r, ECR_SIGV4_REQUEST_VERSION));
	snprintf(q->auth, sizeof(q->auth), "%s", auth);
	sha256_hex(q->body_sha, body, strlen(body));
	size_t n = 0;
	q->h[n++] = (ecr_http_header){"Content-Type", "application/x-amz-json-1.1"};
	q->h[n++] = (ecr_http_header){"Host", host};
	if (amzdate)
		q->h[n++] = (ecr_http_header){"X-Amz-Date", amzdate};
	q->h[n++] = (ecr_http_header){"X-Amz-Target", TARGET};
	q->h[n++] = (ecr_http_header){"User-Agent", "aws-cli/2 test"};
	if (auth)
		q->h[n++] = (ecr_http_header){"Authorization", q->auth};
	q->r.method = "POST";
	q->r.path = "/";
	q->r.headers = q->h;
	q->r.headers_count = n;
	q->r.payload_sha256 = q->body_sha;
	q->r.now_ms = T0;
}

static void auth_header(char *out, size_t n, const char *key, const char *scope_date, const char *region,
                        const char *service, const char *sig)
{
	snprintf(out, n, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=" SIGNED ", Signature=%s",
	         key, scope_date, region, service, sig);
}

static int verify(fixture *f, req *q, ecr_buf *region)
{
	ecr_principal *p = NULL;
	int rc = ecr_auth_sigv4_verify(&p, region, f->reg, &q->r);
	if (rc == 0) {
		assert_non_null(p);
		assert_string_equal(ecr_principal_arn(p), "arn:aws:iam::123456789012:user/alice");
		ecr_principal_free(p);
	} else {
		assert_null(p);
	}
	return rc;
}

static void test_auth_sigv4__reference_vector(void **state)
{
	fixture *f = *state;
	char body_sha[65], h[65], sig[65], hdr[512];
	ecr_buf canon = ECR_BUF_INIT, region = ECR_BUF_INIT;
	ecr__sigv4_auth a;

	/* every intermediate value the reference gives */
	sha256_hex(body_sha, BODY, strlen(BODY));
	assert_string_equal(body_sha, BODY_SHA);
	const char *expected = "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:127.0.0.1:5000\n"
	                       "x-amz-date:" AMZDATE "\nx-amz-target:" TARGET "\n\n" SIGNED "\n" BODY_SHA;
	sha256_hex(h, expected, strlen(expected));
	assert_string_equal(h, CANON_SHA);
	assert_string_not_equal(h, CANON_SHA_REFERENCE);
	sign(sig, SECRET, AMZDATE, "20250115", "us-east-1", "ecr", "127.0.0.1:5000", TARGET, BODY);
	assert_string_equal(sig, SIG);

	/* the library's canonical request is byte for byte the same */
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "ecr", SIG);
	req q;
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_ok(ecr__sigv4_parse_authorization(&a, hdr, strlen(hdr)));
	assert_ok(ecr__sigv4_canonical_request(&canon, &q.r, &a));
	assert_string_equal(canon.ptr, expected);

	/* and it verifies, with the region of the scope */
	assert_ok(verify(f, &q, &region));
	assert_string_equal(region.ptr, "us-east-1");
	ecr_buf_dispose(&canon);
	ecr_buf_dispose(&region);
}

static void test_auth_sigv4__parser(void **state)
{
	(void)state;
	ecr__sigv4_auth a;
	const char *good = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250115/us-east-1/ecr/aws4_request, "
	                   "SignedHeaders=content-type;host;x-amz-date, Signature=" SIG;
	assert_ok(ecr__sigv4_parse_authorization(&a, good, strlen(good)));
	assert_string_equal(a.key_id, AKID);
	assert_string_equal(a.date, "20250115");
	assert_string_equal(a.region, "us-east-1");
	assert_string_equal(a.service, "ecr");
	assert_string_equal(a.signed_headers, "content-type;host;x-amz-date");
	assert_int_equal(a.signed_count, 3);
	assert_string_equal(a.signature, SIG);

	/* order of the parts and extra spaces are fine */
	const char *ok[] = {
	    "AWS4-HMAC-SHA256 Signature=" SIG ",SignedHeaders=host,Credential=K/20250115/r/ecr/aws4_request",
	    "  AWS4-HMAC-SHA256    Credential=K/20250115/r/ecr/aws4_request ,  SignedHeaders=host ,Signature=" SIG "  ",
	    "AWS4-HMAC-SHA256\tSignedHeaders=a;host;x\t,\tCredential=K/20250115/r/ecr/aws4_request,Signature=" SIG,
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (ecr__sigv4_parse_authorization(&a, ok[i], strlen(ok[i])) != 0)
			fail_msg("rejected %s: %s", ok[i], ecr_error_last()->message);
	}

	const char *bad[] = {
	    "",
	    "AWS4-HMAC-SHA256",
	    "AWS4-HMAC-SHA256 ",
	    "Basic QVdTOmZvbw==",
	    "AWS4-HMAC-SHA1 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host",
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, Signature=" SIG,
	    "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, Credential=K/20250115/r/ecr/aws4_request, "
	    "SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, SignedHeaders=host, "
	    "Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG
	    ", Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request,, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG ",",
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG ", Foo=bar",
	    "AWS4-HMAC-SHA256 credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=" SIG,
	    /* credential scope */
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request/x, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_requesT, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/2025011/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/2025011x/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115//ecr/aws4_request, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/US-EAST-1/ecr/aws4_request, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r//aws4_request, SignedHeaders=host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K!/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG,
	    /* signed headers */
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=content-type, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host;content-type, "
	    "Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=Host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host;host, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host;;x, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host;, Signature=" SIG,
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=;host, Signature=" SIG,
	    /* signature */
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=abc",
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG "0",
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, "
	    "Signature=1C648D3E9889CE38A25A5EB01F907376C198DE2B6FDE698C71A87BD3093E4508",
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ecr__sigv4_parse_authorization(&a, bad[i], strlen(bad[i]));
		if (rc != ECR_EINCOMPLETE_SIGNATURE)
			fail_msg("accepted (%d) malformed header %zu: %s", rc, i, bad[i]);
	}
	assert_int_equal(ecr__sigv4_parse_authorization(&a, NULL, 0), ECR_EINCOMPLETE_SIGNATURE);

	/* duplicates and missing parts are named */
	const char *dup = "AWS4-HMAC-SHA256 Signature=" SIG ", Signature=" SIG;
	assert_int_equal(ecr__sigv4_parse_authorization(&a, dup, strlen(dup)), ECR_EINCOMPLETE_SIGNATURE);
	assert_non_null(strstr(ecr_error_last()->message, "duplicate 'Signature'"));
	const char *miss = "AWS4-HMAC-SHA256 Signature=" SIG;
	assert_int_equal(ecr__sigv4_parse_authorization(&a, miss, strlen(miss)), ECR_EINCOMPLETE_SIGNATURE);
	assert_string_equal(ecr_error_last()->message, "Authorization header requires 'Credential' parameter. "
	                                               "Authorization header requires 'SignedHeaders' parameter.");

	/* bounded: a huge header, a long key, too many signed headers */
	char *huge = malloc(ECR__SIGV4_MAX_HEADER + 64);
	if (!huge) {
		fail_msg("out of memory");
		return;
	}
	snprintf(huge, ECR__SIGV4_MAX_HEADER + 64,
	         "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, "
	         "SignedHeaders=host, Signature=%s",
	         SIG);
	size_t n = strlen(huge);
	memset(huge + n, ' ', ECR__SIGV4_MAX_HEADER + 1 - n);
	huge[ECR__SIGV4_MAX_HEADER + 1] = '\0';
	assert_int_equal(ecr__sigv4_parse_authorization(&a, huge, strlen(huge)), ECR_EINCOMPLETE_SIGNATURE);
	char key[200];
	memset(key, 'A', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	int w = snprintf(huge, ECR__SIGV4_MAX_HEADER,
	                 "AWS4-HMAC-SHA256 Credential=%s/20250115/r/ecr/aws4_request, "
	                 "SignedHeaders=host, Signature=%s",
	                 key, SIG);
	assert_true(w > 0 && (size_t)w < ECR__SIGV4_MAX_HEADER);
	assert_int_equal(ecr__sigv4_parse_authorization(&a, huge, strlen(huge)), ECR_EINCOMPLETE_SIGNATURE);
	char sh[1024] = "";
	for (int i = 0; i < 70; i++)
		snprintf(sh + strlen(sh), sizeof(sh) - strlen(sh), "h%03d;", i);
	strcat(sh, "host");
	snprintf(huge, ECR__SIGV4_MAX_HEADER,
	         "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, "
	         "SignedHeaders=%s, Signature=%s",
	         sh, SIG);
	assert_int_equal(ecr__sigv4_parse_authorization(&a, huge, strlen(huge)), ECR_EINCOMPLETE_SIGNATURE);
	free(huge);
}

static void test_auth_sigv4__missing_and_unknown(void **state)
{
	fixture *f = *state;
	char sig[65], hdr[512];
	req q;

	req_build(&q, NULL, AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EMISSING_AUTH);
	assert_string_equal(ecr_error_last()->message, "Missing Authentication Token");
	assert_string_equal(ecr_error_exception(ECR_EMISSING_AUTH), "MissingAuthenticationTokenException");

	req_build(&q, "AWS4-HMAC-SHA256 Credential=garbage", AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINCOMPLETE_SIGNATURE);

	/* unknown key, correctly signed with some secret */
	sign(sig, SECRET, AMZDATE, "20250115", "us-east-1", "ecr", "127.0.0.1:5000", TARGET, BODY);
	auth_header(hdr, sizeof(hdr), "AKIAUNKNOWNKEY000000", "20250115", "us-east-1", "ecr", sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EUNRECOGNIZED_CLIENT);
	assert_string_equal(ecr_error_last()->message, "The security token included in the request is invalid.");

	/* wrong secret */
	sign(sig, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ", AMZDATE, "20250115", "us-east-1", "ecr", "127.0.0.1:5000",
	     TARGET, BODY);
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "ecr", sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	assert_string_equal(
	    ecr_error_last()->message,
	    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
	    "Access Key and signing method.");

	/* two Authorization headers */
	sign(sig, SECRET, AMZDATE, "20250115", "us-east-1", "ecr", "127.0.0.1:5000", TARGET, BODY);
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "ecr", sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	q.h[q.r.headers_count++] = (ecr_http_header){"authorization", hdr};
	assert_int_equal(verify(f, &q, NULL), ECR_EINCOMPLETE_SIGNATURE);

	/* a session token: no temporary credentials */
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	q.h[q.r.headers_count++] = (ecr_http_header){"X-Amz-Security-Token", "FQoGZXIvYXdzEXAMPLE"};
	assert_int_equal(verify(f, &q, NULL), ECR_EUNRECOGNIZED_CLIENT);
	assert_non_null(strstr(ecr_error_last()->message, "temporary credentials are not supported"));

	/* a deleted key stops working */
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_ok(verify(f, &q, NULL));
	assert_ok(ecr_principal_access_key_delete(f->p, AKID));
	assert_int_equal(verify(f, &q, NULL), ECR_EUNRECOGNIZED_CLIENT);
}

static void test_auth_sigv4__region_and_service(void **state)
{
	fixture *f = *state;
	char sig[65], hdr[512];
	ecr_buf region = ECR_BUF_INIT;
	req q;

	/* any region: it is returned */
	sign(sig, SECRET, AMZDATE, "20250115", "eu-west-3", "ecr", "127.0.0.1:5000", TARGET, BODY);
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "eu-west-3", "ecr", sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_ok(verify(f, &q, &region));
	assert_string_equal(region.ptr, "eu-west-3");
	/* the region in the header but the signature made for another */
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "ecr", sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);

	/* wrong service, correctly signed for it */
	sign(sig, SECRET, AMZDATE, "20250115", "us-east-1", "s3", "127.0.0.1:5000", TARGET, BODY);
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "s3", sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	assert_string_equal(ecr_error_last()->message, "Credential should be scoped to correct service: 'ecr'. ");
	/* ecr-public only when asked */
	sign(sig, SECRET, AMZDATE, "20250115", "us-east-1", "ecr-public", "127.0.0.1:5000", TARGET, BODY);
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "ecr-public", sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	q.r.service = "ecr-public";
	assert_ok(verify(f, &q, NULL));
	ecr_buf_dispose(&region);
}

static void test_auth_sigv4__dates(void **state)
{
	fixture *f = *state;
	char sig[65], hdr[512];
	req q;

	sign(sig, SECRET, AMZDATE, "20250115", "us-east-1", "ecr", "127.0.0.1:5000", TARGET, BODY);
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "ecr", sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	/* within 5 minutes either way */
	q.r.now_ms = T0 + 5 * 60000;
	assert_ok(verify(f, &q, NULL));
	q.r.now_ms = T0 - 5 * 60000;
	assert_ok(verify(f, &q, NULL));
	/* replayed later than 5 minutes */
	q.r.now_ms = T0 + 5 * 60000 + 1000;
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	assert_string_equal(
	    ecr_error_last()->message,
	    "Signature expired: 20250115T120000Z is now earlier than 20250115T120001Z (20250115T120501Z - 5 min.)");
	q.r.now_ms = T0 + 86400000LL;
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	/* from the future */
	q.r.now_ms = T0 - 5 * 60000 - 1000;
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	assert_non_null(strstr(ecr_error_last()->message, "Signature not yet current: 20250115T120000Z"));

	/* the registry's clock when now_ms is 0: today is far from 2025-01-15 */
	q.r.now_ms = 0;
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	assert_non_null(strstr(ecr_error_last()->message, "Signature expired"));

	/* scope date different from the request date (signed consistently) */
	sign(sig, SECRET, AMZDATE, "20250114", "us-east-1", "ecr", "127.0.0.1:5000", TARGET, BODY);
	auth_header(hdr, sizeof(hdr), AKID, "20250114", "us-east-1", "ecr", sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	assert_non_null(strstr(ecr_error_last()->message, "Date in Credential scope does not match"));

	/* no date, bad dates, two dates */
	sign(sig, SECRET, AMZDATE, "20250115", "us-east-1", "ecr", "127.0.0.1:5000", TARGET, BODY);
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "ecr", sig);
	req_build(&q, hdr, NULL, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINCOMPLETE_SIGNATURE);
	const char *bad_dates[] = {"2025-01-15T12:00:00Z", "20250115T120000",  "20250132T120000Z",
	                           "20250115T250000Z",     "20230229T120000Z", "",
	                           "20250115T12000Z"};
	for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		req_build(&q, hdr, bad_dates[i], "127.0.0.1:5000", BODY);
		if (verify(f, &q, NULL) != ECR_EINCOMPLETE_SIGNATURE)
			fail_msg("accepted date '%s'", bad_dates[i]);
	}
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	q.h[q.r.headers_count++] = (ecr_http_header){"x-amz-date", AMZDATE};
	assert_int_equal(verify(f, &q, NULL), ECR_EINCOMPLETE_SIGNATURE);
}

static void test_auth_sigv4__tampering(void **state)
{
	fixture *f = *state;
	char sig[65], hdr[512];
	req q;

	sign(sig, SECRET, AMZDATE, "20250115", "us-east-1", "ecr", "127.0.0.1:5000", TARGET, BODY);
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "ecr", sig);

	/* body hash */
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", "{\"repositoryName\": \"team-b/web\"}");
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	/* a signed header */
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	q.h[3].value = "AmazonEC2ContainerRegistry_V20150921.DeleteRepository";
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	/* the host */
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5001", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	/* the path, the query, the method */
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	q.r.path = "/x";
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	q.r.query = "a=b";
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	q.r.method = "PUT";
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	/* a repeated signed header changes its canonical value */
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	q.h[q.r.headers_count++] = (ecr_http_header){"x-amz-target", "extra"};
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	/* an unsigned header may change, and whitespace in values is canonicalised */
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	q.h[4].value = "something else";
	q.h[0].value = "   application/x-amz-json-1.1  ";
	assert_ok(verify(f, &q, NULL));
	/* a flipped signature character */
	for (size_t i = 0; i < 64; i += 7) {
		char s2[65];
		memcpy(s2, sig, 65);
		s2[i] = s2[i] == '0' ? '1' : '0';
		auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "ecr", s2);
		req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
		assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	}
	/* host not signed */
	snprintf(hdr, sizeof(hdr),
	         "AWS4-HMAC-SHA256 Credential=" AKID "/20250115/us-east-1/ecr/aws4_request, "
	         "SignedHeaders=content-type;x-amz-date;x-amz-target, Signature=%s",
	         sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINCOMPLETE_SIGNATURE);
	/* x-amz-date not signed */
	snprintf(hdr, sizeof(hdr),
	         "AWS4-HMAC-SHA256 Credential=" AKID "/20250115/us-east-1/ecr/aws4_request, "
	         "SignedHeaders=content-type;host;x-amz-target, Signature=%s",
	         sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINCOMPLETE_SIGNATURE);
	/* bad payload hash argument */
	auth_header(hdr, sizeof(hdr), AKID, "20250115", "us-east-1", "ecr", sig);
	req_build(&q, hdr, AMZDATE, "127.0.0.1:5000", BODY);
	q.r.payload_sha256 = "xyz";
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID);
}

static void test_auth_sigv4__canonical_uri_and_query(void **state)
{
	(void)state;
	ecr__sigv4_auth a;
	const char *hdr =
	    "AWS4-HMAC-SHA256 Credential=K/20250115/r/ecr/aws4_request, SignedHeaders=host, Signature=" SIG;
	assert_ok(ecr__sigv4_parse_authorization(&a, hdr, strlen(hdr)));
	struct {
		const char *path, *query, *expect_prefix;
	} cases[] = {
	    {NULL, NULL, "GET\n/\n\n"},
	    {"/", "", "GET\n/\n\n"},
	    {"/a/b c", NULL, "GET\n/a/b%20c\n\n"},
	    {"/a/./b/../c//d/", NULL, "GET\n/a/c/d/\n\n"},
	    {"/a%2Fb", NULL, "GET\n/a%252Fb\n\n"},
	    {"/~x-_.", NULL, "GET\n/~x-_.\n\n"},
	    {"/", "b=2&a=1&a=0", "GET\n/\na=0&a=1&b=2\n"},
	    {"/", "x&y=", "GET\n/\nx=&y=\n"},
	    {"/", "k=a%20b+c&%41=%7e", "GET\n/\nA=~&k=a%20b%2Bc\n"},
	    {"/", "a=1&&b", "GET\n/\na=1&b=\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ecr_buf out = ECR_BUF_INIT;
		ecr_sigv4_request r = ECR_SIGV4_REQUEST_INIT;
		ecr_http_header h[] = {{"HOST", "  a   b  "}, {"Host", "c"}};
		r.method = "GET";
		r.path = cases[i].path;
		r.query = cases[i].query;
		r.headers = h;
		r.headers_count = 2;
		r.payload_sha256 = BODY_SHA;
		assert_ok(ecr__sigv4_canonical_request(&out, &r, &a));
		if (strncmp(out.ptr, cases[i].expect_prefix, strlen(cases[i].expect_prefix)) != 0)
			fail_msg("case %zu: got '%s'", i, out.ptr);
		assert_non_null(strstr(out.ptr, "\nhost:a b,c\n\nhost\n" BODY_SHA));
		ecr_buf_dispose(&out);
	}
}

/* The client-side signer (ecr__sigv4_sign): botocore's signature for the reference request, and a signature
 * the verifier accepts whatever the headers' order and case; a wrong secret or a changed header is caught. */
static void test_auth_sigv4__sign(void **state)
{
	fixture *f = *state;
	ecr_buf authz = ECR_BUF_INIT;
	ecr_sigv4_request r = ECR_SIGV4_REQUEST_INIT;
	char body_sha[65];
	sha256_hex(body_sha, BODY, strlen(BODY));
	ecr_http_header h[] = {
		{"X-Amz-Target", TARGET},
		{"host", "127.0.0.1:5000"},
		{"Content-Type", "application/x-amz-json-1.1"},
		{"X-Amz-Date", AMZDATE},
	};
	r.method = "POST";
	r.path = "/";
	r.headers = h;
	r.headers_count = 4;
	r.payload_sha256 = body_sha;
	assert_ok(ecr__sigv4_sign(&authz, &r, AKID, SECRET, "us-east-1"));
	assert_string_equal(authz.ptr, "AWS4-HMAC-SHA256 Credential=" AKID "/20250115/us-east-1/ecr/aws4_request, "
	                               "SignedHeaders=" SIGNED ", Signature=" SIG);

	/* the verifier accepts what the signer made, with the region of the scope */
	req q;
	ecr_buf region = ECR_BUF_INIT;
	assert_ok(ecr__sigv4_sign(&authz, &r, AKID, SECRET, "eu-west-1"));
	req_build(&q, authz.ptr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_ok(verify(f, &q, &region));
	assert_string_equal(region.ptr, "eu-west-1");
	/* a request other than the one signed is refused */
	req_build(&q, authz.ptr, AMZDATE, "127.0.0.1:5001", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);
	/* so is another secret's signature */
	assert_ok(ecr__sigv4_sign(&authz, &r, AKID, "not-the-secret", "eu-west-1"));
	req_build(&q, authz.ptr, AMZDATE, "127.0.0.1:5000", BODY);
	assert_int_equal(verify(f, &q, NULL), ECR_EINVALID_SIGNATURE);

	/* repeated headers are signed once, their values joined as the verifier joins them */
	ecr_http_header h2[] = {
		{"Host", "127.0.0.1:5000"}, {"X-Amz-Date", AMZDATE}, {"X-Extra", "a"}, {"x-extra", " b  c "},
	};
	r.headers = h2;
	r.headers_count = 4;
	r.service = "ecr-public";
	assert_ok(ecr__sigv4_sign(&authz, &r, AKID, SECRET, "us-east-1"));
	assert_non_null(
	    strstr(authz.ptr, "/us-east-1/ecr-public/aws4_request, SignedHeaders=host;x-amz-date;x-extra, "));
	ecr_sigv4_request v = r;
	ecr_http_header h3[5];
	memcpy(h3, h2, sizeof(h2));
	h3[4] = (ecr_http_header){"Authorization", authz.ptr};
	v.headers = h3;
	v.headers_count = 5;
	v.now_ms = T0;
	assert_ok(verify(f, &(req){.r = v}, NULL));

	/* what cannot be signed */
	r.headers_count = 1; /* no X-Amz-Date */
	assert_int_equal(ecr__sigv4_sign(&authz, &r, AKID, SECRET, "us-east-1"), ECR_EINVALID);
	r.headers = h2 + 1; /* no Host */
	assert_int_equal(ecr__sigv4_sign(&authz, &r, AKID, SECRET, "us-east-1"), ECR_EINVALID);
	r.headers = h2;
	r.headers_count = 4;
	assert_int_equal(ecr__sigv4_sign(&authz, &r, "AKID/x", SECRET, "us-east-1"), ECR_EINVALID);
	assert_int_equal(ecr__sigv4_sign(&authz, &r, AKID, SECRET, ""), ECR_EINVALID);
	ecr_http_header bad_date[] = {{"Host", "h"}, {"X-Amz-Date", "2025-01-15"}};
	r.headers = bad_date;
	r.headers_count = 2;
	assert_int_equal(ecr__sigv4_sign(&authz, &r, AKID, SECRET, "us-east-1"), ECR_EINVALID);
	ecr_buf_dispose(&authz);
	ecr_buf_dispose(&region);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_auth_sigv4__reference_vector, setup, teardown),
	    cmocka_unit_test(test_auth_sigv4__parser),
	    cmocka_unit_test_setup_teardown(test_auth_sigv4__missing_and_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_sigv4__region_and_service, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_sigv4__dates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_sigv4__tampering, setup, teardown),
	    cmocka_unit_test(test_auth_sigv4__canonical_uri_and_query),
	    cmocka_unit_test_setup_teardown(test_auth_sigv4__sign, setup, teardown),
	};
	return cmocka_run_group_tests_name("auth/sigv4", tests, NULL, NULL);
}
