/* Registry tokens: round trip, expiry, forgery, truncation, bit flips, revocation, key per storage;
 * blob download tokens: bound to one registry, repository and blob, and no registry tokens;
 * anonymous tokens: verified by their own verifier only. */
#include "libecr/auth/auth.h"
#include "libecr/core/crypto.h"

#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t clock_cb(void *payload)
{
	return *(int64_t *)payload;
}

typedef struct fixture {
	int64_t now;
	ecr_registry *reg;
	ecr_principal *p;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	f->now = 1736942400000LL;
	opts.clock_cb = clock_cb;
	opts.clock_payload = &f->now;
	assert_ok(ecr_registry_open(&f->reg, "memory:", &opts));
	assert_ok(ecr_principal_create(&f->p, f->reg, "arn:aws:iam::123456789012:user/alice", 0));
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

static void test_auth_token__round_trip_and_expiry(void **state)
{
	fixture *f = *state;
	ecr_buf tok = ECR_BUF_INIT, tok2 = ECR_BUF_INIT;
	ecr_principal *q;
	int64_t exp = 0;
	assert_ok(ecr_auth_token_create(&tok, &exp, f->reg, f->p));
	assert_true(exp == f->now + 43200000LL);
	for (size_t i = 0; i < tok.size; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", tok.ptr[i]));
	assert_ok(ecr_auth_token_verify(&q, f->reg, tok.ptr));
	assert_string_equal(ecr_principal_arn(q), ecr_principal_arn(f->p));
	assert_string_equal(ecr_principal_account_id(q), "123456789012");
	ecr_principal_free(q);
	/* a second token (same key, cached) also works */
	assert_ok(ecr_auth_token_create(&tok2, NULL, f->reg, f->p));
	assert_ok(ecr_auth_token_verify(&q, f->reg, tok2.ptr));
	ecr_principal_free(q);
	/* one ms before the expiry, then at it */
	f->now = exp - 1;
	assert_ok(ecr_auth_token_verify(&q, f->reg, tok.ptr));
	ecr_principal_free(q);
	f->now = exp;
	q = (ecr_principal *)1;
	assert_int_equal(ecr_auth_token_verify(&q, f->reg, tok.ptr), ECR_EEXPIRED_TOKEN);
	assert_null(q);
	assert_string_equal(ecr_error_last()->message,
	                    "Your authorization token has expired. Reauthenticate and try again.");
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&tok2);
}

static void test_auth_token__forged_truncated_flipped(void **state)
{
	fixture *f = *state;
	ecr_buf tok = ECR_BUF_INIT, raw = ECR_BUF_INIT, forged = ECR_BUF_INIT;
	ecr_principal *q;
	assert_ok(ecr_auth_token_create(&tok, NULL, f->reg, f->p));

	/* garbage */
	const char *bad[] = {"", "x", "AWS:abc", "!!!!", "AAAA", "a.b.c"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ecr_auth_token_verify(&q, f->reg, bad[i]), ECR_EAUTH);
	assert_int_equal(ecr_auth_token_verify(&q, f->reg, NULL), ECR_EAUTH);
	char *huge = malloc(10000);
	assert_non_null(huge);
	memset(huge, 'A', 9999);
	huge[9999] = '\0';
	assert_int_equal(ecr_auth_token_verify(&q, f->reg, huge), ECR_EAUTH);
	free(huge);

	/* truncated at every length */
	char *t = strdup(tok.ptr);
	assert_non_null(t);
	for (size_t n = 0; n < tok.size; n++) {
		t[n] = '\0';
		if (ecr_auth_token_verify(&q, f->reg, t) != ECR_EAUTH)
			fail_msg("accepted a token truncated to %zu", n);
		t[n] = tok.ptr[n];
	}
	/* every bit of every character */
	for (size_t i = 0; i < tok.size; i++) {
		for (int b = 0; b < 8; b++) {
			t[i] = (char)(tok.ptr[i] ^ (1 << b));
			if (t[i] == '\0')
				continue;
			int rc = ecr_auth_token_verify(&q, f->reg, t);
			if (rc != ECR_EAUTH)
				fail_msg("flip of bit %d at %zu accepted (%d)", b, i, rc);
		}
		t[i] = tok.ptr[i];
	}
	/* every bit of every decoded byte, re-encoded */
	assert_ok(ecr__base64url_decode(&raw, tok.ptr, tok.size));
	for (size_t i = 0; i < raw.size; i++) {
		for (int b = 0; b < 8; b++) {
			raw.ptr[i] ^= (char)(1 << b);
			ecr__buf_clear(&forged);
			assert_ok(ecr__base64url_encode(&forged, raw.ptr, raw.size));
			if (ecr_auth_token_verify(&q, f->reg, forged.ptr) != ECR_EAUTH)
				fail_msg("flip of byte %zu bit %d accepted", i, b);
			raw.ptr[i] ^= (char)(1 << b);
		}
	}
	/* an extended expiry with a MAC made by another key */
	unsigned char key[32] = {1, 2, 3}, mac[32];
	size_t plen = raw.size - 32;
	raw.ptr[plen - 1] = (char)0xff;
	assert_ok(ecr__hmac_sha256(mac, key, 32, raw.ptr, plen));
	memcpy(raw.ptr + plen, mac, 32);
	ecr__buf_clear(&forged);
	assert_ok(ecr__base64url_encode(&forged, raw.ptr, raw.size));
	assert_int_equal(ecr_auth_token_verify(&q, f->reg, forged.ptr), ECR_EAUTH);
	/* appended bytes */
	ecr__buf_clear(&forged);
	assert_ok(ecr__buf_puts(&forged, tok.ptr));
	assert_ok(ecr__buf_puts(&forged, "AAAA"));
	assert_int_equal(ecr_auth_token_verify(&q, f->reg, forged.ptr), ECR_EAUTH);
	/* the original still works */
	assert_ok(ecr_auth_token_verify(&q, f->reg, tok.ptr));
	ecr_principal_free(q);
	free(t);
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&raw);
	ecr_buf_dispose(&forged);
}

static void test_auth_token__deleted_and_recreated(void **state)
{
	fixture *f = *state;
	ecr_buf tok = ECR_BUF_INIT, tok2 = ECR_BUF_INIT;
	ecr_principal *q, *again;
	assert_ok(ecr_auth_token_create(&tok, NULL, f->reg, f->p));
	assert_ok(ecr_principal_delete(f->reg, "arn:aws:iam::123456789012:user/alice"));
	assert_int_equal(ecr_auth_token_verify(&q, f->reg, tok.ptr), ECR_EUNRECOGNIZED_CLIENT);
	assert_string_equal(ecr_error_exception(ECR_EUNRECOGNIZED_CLIENT), "UnrecognizedClientException");
	assert_ok(ecr_principal_create(&again, f->reg, "arn:aws:iam::123456789012:user/alice", 0));
	assert_int_equal(ecr_auth_token_verify(&q, f->reg, tok.ptr), ECR_EUNRECOGNIZED_CLIENT);
	assert_ok(ecr_auth_token_create(&tok2, NULL, f->reg, again));
	assert_ok(ecr_auth_token_verify(&q, f->reg, tok2.ptr));
	ecr_principal_free(q);
	ecr_principal_free(again);
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&tok2);
}

static void test_auth_token__key_per_storage(void **state)
{
	fixture *f = *state;
	ecr_registry *other, *r1, *r2;
	ecr_principal *p2, *q;
	ecr_buf tok = ECR_BUF_INIT;
	/* same ARN in another storage: different key, token rejected there */
	assert_ok(ecr_registry_open(&other, "memory:", NULL));
	assert_ok(ecr_principal_create(&p2, other, "arn:aws:iam::123456789012:user/alice", 0));
	assert_ok(ecr_auth_token_create(&tok, NULL, f->reg, f->p));
	assert_int_equal(ecr_auth_token_verify(&q, other, tok.ptr), ECR_EAUTH);
	ecr_principal_free(p2);
	ecr_registry_free(other);
	ecr_buf_dispose(&tok);

	/* a file storage: the key survives reopening, and is shared by its registries */
	char *dir = th_tmpdir();
	char url[512];
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	snprintf(url, sizeof(url), "file://%s", dir);
	assert_ok(ecr_registry_open(&r1, url, NULL));
	assert_ok(ecr_principal_create(&p2, r1, "arn:aws:iam::123456789012:user/bob", 0));
	assert_ok(ecr_auth_token_create(&tok, NULL, r1, p2));
	ecr_principal_free(p2);
	ecr_registry_free(r1);
	opts.region = "eu-west-1";
	assert_ok(ecr_registry_open(&r2, url, &opts));
	assert_ok(ecr_auth_token_verify(&q, r2, tok.ptr));
	assert_string_equal(ecr_principal_arn(q), "arn:aws:iam::123456789012:user/bob");
	ecr_principal_free(q);
	ecr_registry_free(r2);
	ecr_buf_dispose(&tok);
	th_rmtree(dir);
}

#define BLOB_DIGEST "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define OTHER_DIGEST "sha256:486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"

static void test_auth_token__blob_round_trip_and_scope(void **state)
{
	fixture *f = *state;
	ecr_buf tok = ECR_BUF_INIT, reg_tok = ECR_BUF_INIT;
	ecr_principal *q;
	int64_t exp = 0;
	assert_ok(ecr_auth_blob_token_create(&tok, &exp, f->reg, f->p, "team/app", BLOB_DIGEST, 3600));
	assert_true(exp == f->now + 3600000LL);
	for (size_t i = 0; i < tok.size; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", tok.ptr[i]));
	assert_ok(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/app", BLOB_DIGEST));
	assert_string_equal(ecr_principal_arn(q), ecr_principal_arn(f->p));
	ecr_principal_free(q);

	/* another blob, another repository, or a name that is a prefix/extension of it */
	q = (ecr_principal *)1;
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/app", OTHER_DIGEST), ECR_EAUTH);
	assert_null(q);
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/other", BLOB_DIGEST), ECR_EAUTH);
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/ap", BLOB_DIGEST), ECR_EAUTH);
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/app", BLOB_DIGEST "0"), ECR_EAUTH);
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "", BLOB_DIGEST), ECR_EAUTH);
	assert_int_equal(ecr_error_last()->code, ECR_EAUTH);

	/* a blob token is no registry token */
	q = (ecr_principal *)1;
	assert_int_equal(ecr_auth_token_verify(&q, f->reg, tok.ptr), ECR_EAUTH);
	assert_null(q);
	/* and a registry token no blob token */
	assert_ok(ecr_auth_token_create(&reg_tok, NULL, f->reg, f->p));
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, reg_tok.ptr, "team/app", BLOB_DIGEST), ECR_EAUTH);
	assert_ok(ecr_auth_token_verify(&q, f->reg, reg_tok.ptr));
	ecr_principal_free(q);

	/* lifetimes out of range and missing arguments */
	assert_int_equal(ecr_auth_blob_token_create(&tok, NULL, f->reg, f->p, "team/app", BLOB_DIGEST, 0),
	                 ECR_EINVALID);
	assert_int_equal(ecr_auth_blob_token_create(&tok, NULL, f->reg, f->p, "team/app", BLOB_DIGEST, -5),
	                 ECR_EINVALID);
	assert_int_equal(ecr_auth_blob_token_create(&tok, NULL, f->reg, f->p, "team/app", BLOB_DIGEST, 3601),
	                 ECR_EINVALID);
	assert_int_equal(ecr_auth_blob_token_create(&tok, NULL, f->reg, f->p, "team/app", BLOB_DIGEST, 43200),
	                 ECR_EINVALID);
	assert_int_equal(ecr_auth_blob_token_create(&tok, NULL, f->reg, f->p, NULL, BLOB_DIGEST, 60), ECR_EINVALID);
	assert_int_equal(ecr_auth_blob_token_create(&tok, NULL, f->reg, f->p, "team/app", NULL, 60), ECR_EINVALID);
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, NULL, BLOB_DIGEST), ECR_EINVALID);

	/* expiry by the registry's clock: a 1 s token */
	assert_ok(ecr_auth_blob_token_create(&tok, &exp, f->reg, f->p, "team/app", BLOB_DIGEST, 1));
	assert_true(exp == f->now + 1000);
	f->now = exp - 1;
	assert_ok(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/app", BLOB_DIGEST));
	ecr_principal_free(q);
	f->now = exp;
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/app", BLOB_DIGEST), ECR_EEXPIRED_TOKEN);
	/* the full hour, to the ms */
	assert_ok(ecr_auth_blob_token_create(&tok, &exp, f->reg, f->p, "team/app", BLOB_DIGEST, 3600));
	f->now = exp - 1;
	assert_ok(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/app", BLOB_DIGEST));
	ecr_principal_free(q);
	f->now = exp;
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/app", BLOB_DIGEST), ECR_EEXPIRED_TOKEN);

	/* deleted principal */
	f->now -= 10;
	assert_ok(ecr_principal_delete(f->reg, "arn:aws:iam::123456789012:user/alice"));
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/app", BLOB_DIGEST),
	                 ECR_EUNRECOGNIZED_CLIENT);
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&reg_tok);
}

static void test_auth_token__blob_flipped(void **state)
{
	fixture *f = *state;
	ecr_buf tok = ECR_BUF_INIT, raw = ECR_BUF_INIT, forged = ECR_BUF_INIT;
	ecr_principal *q;
	assert_ok(ecr_auth_blob_token_create(&tok, NULL, f->reg, f->p, "team/app", BLOB_DIGEST, 3600));
	char *t = strdup(tok.ptr);
	assert_non_null(t);
	for (size_t n = 0; n < tok.size; n++) {
		t[n] = '\0';
		if (ecr_auth_blob_token_verify(&q, f->reg, t, "team/app", BLOB_DIGEST) != ECR_EAUTH)
			fail_msg("accepted a blob token truncated to %zu", n);
		t[n] = tok.ptr[n];
	}
	for (size_t i = 0; i < tok.size; i++) {
		for (int b = 0; b < 8; b++) {
			t[i] = (char)(tok.ptr[i] ^ (1 << b));
			if (t[i] == '\0')
				continue;
			int rc = ecr_auth_blob_token_verify(&q, f->reg, t, "team/app", BLOB_DIGEST);
			if (rc != ECR_EAUTH)
				fail_msg("flip of bit %d at %zu accepted (%d)", b, i, rc);
		}
		t[i] = tok.ptr[i];
	}
	/* every bit of every decoded byte: the kind byte too, which would turn it into a registry token */
	assert_ok(ecr__base64url_decode(&raw, tok.ptr, tok.size));
	for (size_t i = 0; i < raw.size; i++) {
		for (int b = 0; b < 8; b++) {
			raw.ptr[i] ^= (char)(1 << b);
			ecr__buf_clear(&forged);
			assert_ok(ecr__base64url_encode(&forged, raw.ptr, raw.size));
			if (ecr_auth_blob_token_verify(&q, f->reg, forged.ptr, "team/app", BLOB_DIGEST) != ECR_EAUTH)
				fail_msg("flip of byte %zu bit %d accepted", i, b);
			if (ecr_auth_token_verify(&q, f->reg, forged.ptr) != ECR_EAUTH)
				fail_msg("flip of byte %zu bit %d accepted as a registry token", i, b);
			raw.ptr[i] ^= (char)(1 << b);
		}
	}
	assert_ok(ecr_auth_blob_token_verify(&q, f->reg, tok.ptr, "team/app", BLOB_DIGEST));
	ecr_principal_free(q);
	free(t);
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&raw);
	ecr_buf_dispose(&forged);
}

/* Registries of one storage share the token key, but a blob token names its account and region. */
static void test_auth_token__blob_other_registry(void **state)
{
	(void)state;
	ecr_registry *r1, *r2, *r3;
	ecr_principal *p, *q;
	ecr_buf tok = ECR_BUF_INIT, reg_tok = ECR_BUF_INIT;
	ecr_registry_options o2 = ECR_REGISTRY_OPTIONS_INIT, o3 = ECR_REGISTRY_OPTIONS_INIT;
	char *dir = th_tmpdir();
	char url[512];
	snprintf(url, sizeof(url), "file://%s", dir);
	o2.region = "eu-west-1";
	o3.account_id = "210987654321";
	assert_ok(ecr_registry_open(&r1, url, NULL));
	assert_ok(ecr_registry_open(&r2, url, &o2));
	assert_ok(ecr_registry_open(&r3, url, &o3));
	assert_ok(ecr_principal_create(&p, r1, "arn:aws:iam::123456789012:user/bob", 0));
	assert_ok(ecr_auth_blob_token_create(&tok, NULL, r1, p, "app", BLOB_DIGEST, 600));
	assert_ok(ecr_auth_blob_token_verify(&q, r1, tok.ptr, "app", BLOB_DIGEST));
	ecr_principal_free(q);
	/* the same key: a registry token is good in every registry of the storage... */
	assert_ok(ecr_auth_token_create(&reg_tok, NULL, r1, p));
	assert_ok(ecr_auth_token_verify(&q, r2, reg_tok.ptr));
	ecr_principal_free(q);
	/* ...but the blob token only in its own */
	assert_int_equal(ecr_auth_blob_token_verify(&q, r2, tok.ptr, "app", BLOB_DIGEST), ECR_EAUTH);
	assert_int_equal(ecr_auth_blob_token_verify(&q, r3, tok.ptr, "app", BLOB_DIGEST), ECR_EAUTH);
	ecr_principal_free(p);
	ecr_registry_free(r1);
	ecr_registry_free(r2);
	ecr_registry_free(r3);
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&reg_tok);
	th_rmtree(dir);
}

static void test_auth_token__anonymous_round_trip_and_expiry(void **state)
{
	fixture *f = *state;
	ecr_buf tok = ECR_BUF_INIT;
	int64_t exp = 0;
	assert_ok(ecr_auth_anonymous_token_create(&tok, &exp, f->reg));
	assert_true(exp == f->now + (int64_t)ECR_ANONYMOUS_TOKEN_LIFETIME_SECONDS * 1000);
	for (size_t i = 0; i < tok.size; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", tok.ptr[i]));
	assert_ok(ecr_auth_anonymous_token_verify(f->reg, tok.ptr));
	/* the same storage through another handle (a public one) accepts it too */
	ecr_buf tok2 = ECR_BUF_INIT;
	assert_ok(ecr_auth_anonymous_token_create(&tok2, NULL, f->reg));
	assert_ok(ecr_auth_anonymous_token_verify(f->reg, tok2.ptr));
	f->now = exp - 1;
	assert_ok(ecr_auth_anonymous_token_verify(f->reg, tok.ptr));
	f->now = exp;
	assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, tok.ptr), ECR_EEXPIRED_TOKEN);
	assert_int_equal(ecr_error_last()->code, ECR_EEXPIRED_TOKEN);
	assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, NULL), ECR_EAUTH);
	assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, ""), ECR_EAUTH);
	assert_int_equal(ecr_auth_anonymous_token_create(NULL, NULL, f->reg), ECR_EINVALID);
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&tok2);
}

static void test_auth_token__anonymous_forged_truncated(void **state)
{
	fixture *f = *state;
	ecr_buf tok = ECR_BUF_INIT, raw = ECR_BUF_INIT, forged = ECR_BUF_INIT;
	assert_ok(ecr_auth_anonymous_token_create(&tok, NULL, f->reg));
	assert_ok(ecr__base64url_decode(&raw, tok.ptr, tok.size));
	/* every byte flipped in turn (kind, uid, ARN length, expiry, MAC) */
	for (size_t i = 0; i < raw.size; i++) {
		raw.ptr[i] ^= 0x01;
		ecr__buf_clear(&forged);
		assert_ok(ecr__base64url_encode(&forged, raw.ptr, raw.size));
		assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, forged.ptr), ECR_EAUTH);
		raw.ptr[i] ^= 0x01;
	}
	/* truncated by characters, and by whole bytes */
	for (size_t n = 1; n < tok.size; n += 3) {
		char *cut = strndup(tok.ptr, tok.size - n);
		assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, cut), ECR_EAUTH);
		free(cut);
	}
	ecr__buf_clear(&forged);
	assert_ok(ecr__base64url_encode(&forged, raw.ptr, raw.size - 1));
	assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, forged.ptr), ECR_EAUTH);
	/* a later expiry with the old MAC */
	raw.ptr[raw.size - 32 - 1] ^= 0x80;
	ecr__buf_clear(&forged);
	assert_ok(ecr__base64url_encode(&forged, raw.ptr, raw.size));
	assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, forged.ptr), ECR_EAUTH);
	/* trailing garbage */
	ecr__buf_clear(&forged);
	assert_ok(ecr__buf_printf(&forged, "%sAA", tok.ptr));
	assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, forged.ptr), ECR_EAUTH);
	assert_ok(ecr_auth_anonymous_token_verify(f->reg, tok.ptr));
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&raw);
	ecr_buf_dispose(&forged);
}

static void test_auth_token__anonymous_cross_kind(void **state)
{
	fixture *f = *state;
	ecr_buf anon = ECR_BUF_INIT, reg_tok = ECR_BUF_INIT, blob_tok = ECR_BUF_INIT, other = ECR_BUF_INIT;
	ecr_principal *q = (ecr_principal *)1;
	assert_ok(ecr_auth_anonymous_token_create(&anon, NULL, f->reg));
	assert_ok(ecr_auth_token_create(&reg_tok, NULL, f->reg, f->p));
	assert_ok(ecr_auth_blob_token_create(&blob_tok, NULL, f->reg, f->p, "team/app", BLOB_DIGEST, 60));
	/* an anonymous token is neither a registry nor a blob token */
	assert_int_equal(ecr_auth_token_verify(&q, f->reg, anon.ptr), ECR_EAUTH);
	assert_null(q);
	assert_int_equal(ecr_auth_blob_token_verify(&q, f->reg, anon.ptr, "team/app", BLOB_DIGEST), ECR_EAUTH);
	assert_null(q);
	/* and theirs are no anonymous tokens */
	assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, reg_tok.ptr), ECR_EAUTH);
	assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, blob_tok.ptr), ECR_EAUTH);
	/* another storage's anonymous token */
	ecr_registry *r2;
	assert_ok(ecr_registry_open(&r2, "memory:", NULL));
	assert_ok(ecr_auth_anonymous_token_create(&other, NULL, r2));
	assert_ok(ecr_auth_anonymous_token_verify(r2, other.ptr));
	assert_int_equal(ecr_auth_anonymous_token_verify(f->reg, other.ptr), ECR_EAUTH);
	assert_int_equal(ecr_auth_anonymous_token_verify(r2, anon.ptr), ECR_EAUTH);
	ecr_registry_free(r2);
	ecr_buf_dispose(&anon);
	ecr_buf_dispose(&reg_tok);
	ecr_buf_dispose(&blob_tok);
	ecr_buf_dispose(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_auth_token__round_trip_and_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_token__forged_truncated_flipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_token__deleted_and_recreated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_token__key_per_storage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_token__blob_round_trip_and_scope, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_token__blob_flipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_token__blob_other_registry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_token__anonymous_round_trip_and_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_token__anonymous_forged_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_token__anonymous_cross_kind, setup, teardown),
	};
	return cmocka_run_group_tests_name("auth/token", tests, NULL, NULL);
}
