/* Registry tokens: base64url(payload || HMAC-SHA256(token key, payload)), with
 * payload = version (1) | uid length (1) | uid | ARN length (2, big-endian) | ARN |
 * expiry in ms since the epoch (8, big-endian). The token key is 32 random
 * bytes kept in store_keys ("token-hmac") and cached per store. */
#include "auth.h"

#include "../core/crypto.h"

#define TOKEN_VERSION 1
#define TOKEN_KEY_NAME "token-hmac"
#define TOKEN_KEY_LEN 32
#define MAC_LEN 32
#define MAX_UID 64
#define MAX_ARN 2048
#define MAX_TOKEN_CHARS 4096
#define MIN_PAYLOAD (1 + 1 + 1 + 2 + 1 + 8)

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

int ecr_auth_token_create(ecr_buf *token_out, int64_t *expires_at_out, ecr_registry *reg, const ecr_principal *p)
{
	unsigned char key[TOKEN_KEY_LEN], mac[MAC_LEN], hdr[8];
	ecr_buf raw = ECR_BUF_INIT;
	int rc;

	if (!token_out || !reg || !p)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	size_t uid_len = strlen(p->uid), arn_len = strlen(p->arn);
	if (uid_len > MAX_UID || arn_len > MAX_ARN)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "principal too long for a token");
	int64_t expires = ecr_registry_now(reg) + (int64_t)ECR_TOKEN_LIFETIME_SECONDS * 1000;
	if ((rc = token_key(reg, key)))
		goto done;
	hdr[0] = TOKEN_VERSION;
	hdr[1] = (unsigned char)uid_len;
	if ((rc = ecr__buf_put(&raw, hdr, 2)) || (rc = ecr__buf_put(&raw, p->uid, uid_len)))
		goto done;
	put_be(hdr, arn_len, 2);
	if ((rc = ecr__buf_put(&raw, hdr, 2)) || (rc = ecr__buf_put(&raw, p->arn, arn_len)))
		goto done;
	put_be(hdr, (uint64_t)expires, 8);
	if ((rc = ecr__buf_put(&raw, hdr, 8)) || (rc = ecr__hmac_sha256(mac, key, sizeof(key), raw.ptr, raw.size)) ||
	    (rc = ecr__buf_put(&raw, mac, sizeof(mac))))
		goto done;
	ecr__buf_clear(token_out);
	if ((rc = ecr__base64url_encode(token_out, raw.ptr, raw.size)))
		goto done;
	if (expires_at_out)
		*expires_at_out = expires;
done:
	memset(key, 0, sizeof(key));
	ecr_buf_dispose(&raw);
	return rc;
}

static int token_invalid(void)
{
	return ecr__fail(ECR_EAUTH, ECR_ERROR_POLICY, "Your authorization token is invalid.");
}

int ecr_auth_token_verify(ecr_principal **out, ecr_registry *reg, const char *token)
{
	unsigned char key[TOKEN_KEY_LEN], mac[MAC_LEN];
	ecr_buf raw = ECR_BUF_INIT, canon = ECR_BUF_INIT;
	ecr__meta_principal m = {0};
	char *uid = NULL;
	ecr__txn t = {0};
	int rc;

	if (out)
		*out = NULL;
	if (!out || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	size_t len = token ? strnlen(token, MAX_TOKEN_CHARS + 1) : 0;
	if (len == 0 || len > MAX_TOKEN_CHARS)
		return token_invalid();
	rc = ecr__base64url_decode(&raw, token, len);
	if (rc == ECR_ENOMEM)
		goto done;
	if (rc || raw.size < MIN_PAYLOAD + MAC_LEN) {
		rc = token_invalid();
		goto done;
	}
	/* Only the canonical encoding: no second spelling of the same bytes (unused trailing bits). */
	if ((rc = ecr__base64url_encode(&canon, raw.ptr, raw.size)))
		goto done;
	if (canon.size != len || memcmp(canon.ptr, token, len) != 0) {
		rc = token_invalid();
		goto done;
	}
	size_t plen = raw.size - MAC_LEN;
	const unsigned char *b = (const unsigned char *)raw.ptr;
	if ((rc = token_key(reg, key)) || (rc = ecr__hmac_sha256(mac, key, sizeof(key), b, plen)))
		goto done;
	if (ecr__memeq_ct(mac, b + plen, MAC_LEN) != 0) {
		rc = token_invalid();
		goto done;
	}
	/* Authentic: now parse (still checked, in case of a key shared with a buggy writer). */
	size_t uid_len = b[1];
	if (b[0] != TOKEN_VERSION || uid_len == 0 || uid_len > MAX_UID || 2 + uid_len + 2 > plen) {
		rc = token_invalid();
		goto done;
	}
	size_t arn_len = (size_t)get_be(b + 2 + uid_len, 2);
	if (2 + uid_len + 2 + arn_len + 8 != plen || memchr(b + 2, '\0', uid_len)) {
		rc = token_invalid();
		goto done;
	}
	int64_t expires = (int64_t)get_be(b + plen - 8, 8);
	if (ecr_registry_now(reg) >= expires) {
		rc = ecr__fail(ECR_EEXPIRED_TOKEN, ECR_ERROR_POLICY,
		               "Your authorization token has expired. Reauthenticate and try again.");
		goto done;
	}
	if (!(uid = ecr__strndup((const char *)b + 2, uid_len))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		goto done;
	rc = ecr__meta_principal_get_by_uid(&t, uid, &m);
	ecr__txn_rollback(&t);
	if (!rc && (strlen(m.arn) != arn_len || memcmp(m.arn, b + 2 + uid_len + 2, arn_len) != 0))
		rc = ECR_ENOTFOUND;
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_EUNRECOGNIZED_CLIENT, ECR_ERROR_POLICY,
		               "The principal of this authorization token no longer exists.");
	if (!rc)
		rc = ecr__principal_from_meta(out, reg, &m);
done:
	memset(key, 0, sizeof(key));
	ecr_buf_dispose(&raw);
	ecr_buf_dispose(&canon);
	ecr__meta_principal_dispose(&m);
	ecr__free(uid);
	return rc;
}
