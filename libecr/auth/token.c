/* Registry tokens: base64url(payload || HMAC-SHA256(token key, payload)), with
 * payload = kind (1) | uid length (1) | uid | ARN length (2, big-endian) | ARN |
 * [scope length (2, big-endian) | scope] | expiry in ms since the epoch (8, big-endian).
 * Kind 1 is a registry token (no scope); kind 2 a blob download token, whose
 * scope "<account>\0<region>\0<repository>\0<digest>" names the one blob it
 * may read; kind 3 an anonymous token (uid "anonymous", an empty ARN, no scope:
 * ecr_auth_anonymous_token_create) that names no principal. Each verifier accepts
 * its own kind only. The token key is 32
 * random bytes kept in store_keys ("token-hmac") and cached per store. */
#include "auth.h"

#include "../core/crypto.h"
#include "../remote/remote_repo.h"

#define TOKEN_VERSION 1
#define TOKEN_KIND_BLOB 2
#define TOKEN_KIND_ANONYMOUS 3
#define ANONYMOUS_UID "anonymous"
#define TOKEN_KEY_NAME "token-hmac"
#define TOKEN_KEY_LEN 32
#define MAC_LEN 32
#define MAX_UID 64
#define MAX_ARN 2048
#define MAX_TOKEN_CHARS 4096
#define MIN_PAYLOAD (1 + 1 + 1 + 2 + 1 + 8)
#define MAX_SCOPE 4096
#define MAX_BLOB_LIFETIME_SECONDS 3600

static int token_key_read(ecr__txn *t, unsigned char key[TOKEN_KEY_LEN])
{
	ecr_buf b = ECR_BUF_INIT;
	int rc = ecr__meta_store_key_get(t, TOKEN_KEY_NAME, &b);
	if (!rc && b.size != TOKEN_KEY_LEN)
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "the stored token key has %zu bytes, not %d", b.size,
		               TOKEN_KEY_LEN);
	if (!rc)
		memcpy(key, b.ptr, TOKEN_KEY_LEN);
	if (b.ptr)
		memset(b.ptr, 0, b.size);
	ecr_buf_dispose(&b);
	return rc;
}

/* The token key of reg's storage, created on first use. */
static int token_key(ecr_registry *reg, unsigned char key[TOKEN_KEY_LEN])
{
	ecr__store *s = reg->store;
	unsigned char fresh[TOKEN_KEY_LEN];
	ecr__txn t = {0};
	int rc;

	pthread_mutex_lock(&s->auth_lock);
	bool loaded = s->token_key_loaded;
	if (loaded)
		memcpy(key, s->token_key, TOKEN_KEY_LEN);
	pthread_mutex_unlock(&s->auth_lock);
	if (loaded)
		return 0;

	if ((rc = ecr__txn_begin(&t, s->meta, false)))
		return rc;
	rc = token_key_read(&t, key);
	ecr__txn_rollback(&t);
	if (rc == ECR_ENOTFOUND) {
		/* First use: insert unless another thread or node was first, then read what won. */
		if ((rc = ecr__random_bytes(fresh, sizeof(fresh))) || (rc = ecr__txn_begin(&t, s->meta, true)))
			goto done;
		if ((rc =
		         ecr__meta_store_key_insert(&t, TOKEN_KEY_NAME, fresh, sizeof(fresh), ecr_registry_now(reg))) ||
		    (rc = token_key_read(&t, key)) || (rc = ecr__txn_commit(&t)))
			goto done;
	}
	if (rc)
		goto done;
	pthread_mutex_lock(&s->auth_lock);
	memcpy(s->token_key, key, TOKEN_KEY_LEN);
	s->token_key_loaded = true;
	pthread_mutex_unlock(&s->auth_lock);
done:
	ecr__txn_rollback(&t);
	memset(fresh, 0, sizeof(fresh));
	return rc;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* A parsed, authentic token: pointers into its payload. */
typedef struct token_fields {
	int kind;
	const unsigned char *uid, *arn, *scope;
	size_t uid_len, arn_len, scope_len;
	int64_t expires;
} token_fields;

/* Sign a payload of the given kind (scope NULL for registry tokens) into token_out. */
static int token_issue(ecr_buf *token_out, ecr_registry *reg, const char *uid, const char *arn, int kind,
	const ecr_buf *scope, int64_t expires)
{
	unsigned char key[TOKEN_KEY_LEN], mac[MAC_LEN], hdr[8];
	ecr_buf raw = ECR_BUF_INIT;
	int rc;

	size_t uid_len = strlen(uid), arn_len = strlen(arn);
	if (uid_len == 0 || uid_len > MAX_UID || arn_len > MAX_ARN)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "principal too long for a token");
	if ((rc = token_key(reg, key)))
		goto done;
	hdr[0] = (unsigned char)kind;
	hdr[1] = (unsigned char)uid_len;
	if ((rc = ecr__buf_put(&raw, hdr, 2)) || (rc = ecr__buf_put(&raw, uid, uid_len)))
		goto done;
	put_be(hdr, arn_len, 2);
	if ((rc = ecr__buf_put(&raw, hdr, 2)) || (rc = ecr__buf_put(&raw, arn, arn_len)))
		goto done;
	if (scope) {
		put_be(hdr, scope->size, 2);
		if ((rc = ecr__buf_put(&raw, hdr, 2)) || (rc = ecr__buf_put(&raw, scope->ptr, scope->size)))
			goto done;
	}
	put_be(hdr, (uint64_t)expires, 8);
	if ((rc = ecr__buf_put(&raw, hdr, 8)) || (rc = ecr__hmac_sha256(mac, key, sizeof(key), raw.ptr, raw.size)) ||
	    (rc = ecr__buf_put(&raw, mac, sizeof(mac))))
		goto done;
	ecr__buf_clear(token_out);
	rc = ecr__base64url_encode(token_out, raw.ptr, raw.size);
done:
	memset(key, 0, sizeof(key));
	memset(mac, 0, sizeof(mac));
	ecr_buf_dispose(&raw);
	return rc;
}

int ecr_auth_token_create(ecr_buf *token_out, int64_t *expires_at_out, ecr_registry *reg, const ecr_principal *p)
{
	if (!token_out || !reg || (!p && !reg->remote))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if (reg->remote) /* the caller's AWS credentials are the principal: p is not used */
		return ecr__remote_auth_token_create(token_out, expires_at_out, reg);
	int64_t expires = ecr_registry_now(reg) + (int64_t)ECR_TOKEN_LIFETIME_SECONDS * 1000;
	int rc = token_issue(token_out, reg, p->uid, p->arn, TOKEN_VERSION, NULL, expires);
	if (!rc && expires_at_out)
		*expires_at_out = expires;
	return rc;
}

/* The scope of a blob token: "<account>\0<region>\0<repository>\0<digest>". */
static int blob_scope(ecr_buf *out, ecr_registry *reg, const char *repository, const char *digest)
{
	const char *parts[4] = { ecr_registry_account_id(reg), ecr_registry_region(reg), repository, digest };
	int rc = 0;
	for (int i = 0; !rc && i < 4; i++) {
		if (i && (rc = ecr__buf_put(out, "", 1)))
			break;
		rc = ecr__buf_puts(out, parts[i] ? parts[i] : "");
	}
	if (!rc && out->size > MAX_SCOPE)
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "repository name or digest too long for a token");
	return rc;
}

int ecr_auth_blob_token_create(ecr_buf *token_out, int64_t *expires_at_out, ecr_registry *reg,
	const ecr_principal *p, const char *repository, const char *digest, int64_t lifetime_seconds)
{
	ecr_buf scope = ECR_BUF_INIT;
	int rc;

	if (!token_out || !reg || !p || !repository || !*repository || !digest || !*digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if (reg->remote)
		return ecr__remote_local_only(reg, "Issuing a blob token");
	if (lifetime_seconds < 1 || lifetime_seconds > MAX_BLOB_LIFETIME_SECONDS)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob token lifetime %lld s is not within 1..%d s",
			(long long)lifetime_seconds, MAX_BLOB_LIFETIME_SECONDS);
	int64_t expires = ecr_registry_now(reg) + lifetime_seconds * 1000;
	if ((rc = blob_scope(&scope, reg, repository, digest)) ||
	    (rc = token_issue(token_out, reg, p->uid, p->arn, TOKEN_KIND_BLOB, &scope, expires)))
		goto done;
	if (expires_at_out)
		*expires_at_out = expires;
done:
	ecr_buf_dispose(&scope);
	return rc;
}

static int token_invalid(void)
{
	return ecr__fail(ECR_EAUTH, ECR_ERROR_POLICY, "Your authorization token is invalid.");
}

/* Decode token into raw, check its encoding and MAC, and parse it into f (pointers into raw). */
static int token_open(token_fields *f, ecr_buf *raw, ecr_registry *reg, const char *token)
{
	unsigned char key[TOKEN_KEY_LEN], mac[MAC_LEN];
	ecr_buf canon = ECR_BUF_INIT;
	int rc;

	size_t len = token ? strnlen(token, MAX_TOKEN_CHARS + 1) : 0;
	if (len == 0 || len > MAX_TOKEN_CHARS)
		return token_invalid();
	rc = ecr__base64url_decode(raw, token, len);
	if (rc == ECR_ENOMEM)
		goto done;
	if (rc || raw->size < MIN_PAYLOAD + MAC_LEN) {
		rc = token_invalid();
		goto done;
	}
	/* Only the canonical encoding: no second spelling of the same bytes (unused trailing bits). */
	if ((rc = ecr__base64url_encode(&canon, raw->ptr, raw->size)))
		goto done;
	if (canon.size != len || memcmp(canon.ptr, token, len) != 0) {
		rc = token_invalid();
		goto done;
	}
	size_t plen = raw->size - MAC_LEN;
	const unsigned char *b = (const unsigned char *)raw->ptr;
	if ((rc = token_key(reg, key)) || (rc = ecr__hmac_sha256(mac, key, sizeof(key), b, plen)))
		goto done;
	if (ecr__memeq_ct(mac, b + plen, MAC_LEN) != 0) {
		rc = token_invalid();
		goto done;
	}
	/* Authentic: now parse (still checked, in case of a key shared with a buggy writer). */
	memset(f, 0, sizeof(*f));
	f->kind = b[0];
	f->uid_len = b[1];
	f->uid = b + 2;
	size_t pos = 2 + f->uid_len;
	bool known_kind = f->kind == TOKEN_VERSION || f->kind == TOKEN_KIND_BLOB || f->kind == TOKEN_KIND_ANONYMOUS;
	if (!known_kind || f->uid_len == 0 || f->uid_len > MAX_UID ||
	    pos + 2 > plen || memchr(f->uid, '\0', f->uid_len)) {
		rc = token_invalid();
		goto done;
	}
	f->arn_len = (size_t)get_be(b + pos, 2);
	f->arn = b + pos + 2;
	pos += 2 + f->arn_len;
	if (f->kind == TOKEN_KIND_BLOB) {
		if (pos + 2 > plen) {
			rc = token_invalid();
			goto done;
		}
		f->scope_len = (size_t)get_be(b + pos, 2);
		f->scope = b + pos + 2;
		pos += 2 + f->scope_len;
	}
	if (pos + 8 != plen) {
		rc = token_invalid();
		goto done;
	}
	f->expires = (int64_t)get_be(b + plen - 8, 8);
done:
	memset(key, 0, sizeof(key));
	ecr_buf_dispose(&canon);
	return rc;
}

/* The principal of an authentic, unexpired token. */
static int token_principal(ecr_principal **out, ecr_registry *reg, const token_fields *f)
{
	ecr__meta_principal m = {0};
	char *uid = NULL;
	ecr__txn t = {0};
	int rc;

	if (ecr_registry_now(reg) >= f->expires)
		return ecr__fail(ECR_EEXPIRED_TOKEN, ECR_ERROR_POLICY,
			"Your authorization token has expired. Reauthenticate and try again.");
	if (!(uid = ecr__strndup((const char *)f->uid, f->uid_len)))
		return ECR_ENOMEM;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		goto done;
	rc = ecr__meta_principal_get_by_uid(&t, uid, &m);
	ecr__txn_rollback(&t);
	if (!rc && (strlen(m.arn) != f->arn_len || memcmp(m.arn, f->arn, f->arn_len) != 0))
		rc = ECR_ENOTFOUND;
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_EUNRECOGNIZED_CLIENT, ECR_ERROR_POLICY,
			"The principal of this authorization token no longer exists.");
	if (!rc)
		rc = ecr__principal_from_meta(out, reg, &m);
done:
	ecr__meta_principal_dispose(&m);
	ecr__free(uid);
	return rc;
}

int ecr_auth_token_verify(ecr_principal **out, ecr_registry *reg, const char *token)
{
	ecr_buf raw = ECR_BUF_INIT;
	token_fields f;
	int rc;

	if (out)
		*out = NULL;
	if (!out || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if (reg->remote)
		return ecr__remote_local_only(reg, "Verifying a token");
	if ((rc = token_open(&f, &raw, reg, token)))
		goto done;
	if (f.kind != TOKEN_VERSION) { /* a blob download token is good for that download only */
		rc = token_invalid();
		goto done;
	}
	rc = token_principal(out, reg, &f);
done:
	ecr_buf_dispose(&raw);
	return rc;
}

int ecr_auth_blob_token_verify(ecr_principal **out, ecr_registry *reg, const char *token, const char *repository,
	const char *digest)
{
	ecr_buf raw = ECR_BUF_INIT, scope = ECR_BUF_INIT;
	token_fields f;
	int rc;

	if (out)
		*out = NULL;
	if (!out || !reg || !repository || !digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if (reg->remote)
		return ecr__remote_local_only(reg, "Verifying a blob token");
	if ((rc = token_open(&f, &raw, reg, token)))
		goto done;
	if (f.kind != TOKEN_KIND_BLOB) {
		rc = token_invalid();
		goto done;
	}
	rc = blob_scope(&scope, reg, repository, digest);
	if (rc == ECR_EINVALID)
		rc = token_invalid();
	if (rc)
		goto done;
	if (scope.size != f.scope_len || memcmp(scope.ptr, f.scope, f.scope_len) != 0) {
		rc = token_invalid();
		goto done;
	}
	rc = token_principal(out, reg, &f);
done:
	ecr_buf_dispose(&raw);
	ecr_buf_dispose(&scope);
	return rc;
}

int ecr_auth_anonymous_token_create(ecr_buf *token_out, int64_t *expires_at_out, ecr_registry *reg)
{
	if (!token_out || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if (reg->remote)
		return ecr__remote_local_only(reg, "Issuing an anonymous token");
	int64_t expires = ecr_registry_now(reg) + (int64_t)ECR_ANONYMOUS_TOKEN_LIFETIME_SECONDS * 1000;
	int rc = token_issue(token_out, reg, ANONYMOUS_UID, "", TOKEN_KIND_ANONYMOUS, NULL, expires);
	if (!rc && expires_at_out)
		*expires_at_out = expires;
	return rc;
}

int ecr_auth_anonymous_token_verify(ecr_registry *reg, const char *token)
{
	ecr_buf raw = ECR_BUF_INIT;
	token_fields f;
	int rc;

	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if (reg->remote)
		return ecr__remote_local_only(reg, "Verifying an anonymous token");
	if ((rc = token_open(&f, &raw, reg, token)))
		goto done;
	if (f.kind != TOKEN_KIND_ANONYMOUS || f.uid_len != strlen(ANONYMOUS_UID) ||
	    memcmp(f.uid, ANONYMOUS_UID, f.uid_len) != 0 || f.arn_len != 0) {
		rc = token_invalid();
		goto done;
	}
	if (ecr_registry_now(reg) >= f.expires)
		rc = ecr__fail(ECR_EEXPIRED_TOKEN, ECR_ERROR_POLICY,
			"Your authorization token has expired. Reauthenticate and try again.");
done:
	ecr_buf_dispose(&raw);
	return rc;
}
