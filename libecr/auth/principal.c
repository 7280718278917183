/* Principals: create, open, delete, access keys, identity policies, iteration. */
#include "auth.h"

#include "../core/crypto.h"
#include "../remote/remote_repo.h"

#define MAX_ARN_LEN 2048
#define MAX_NAME_SEGMENT 64
#define MAX_POLICY_NAME 128
#define PAGE_SIZE 100
#define ARN_PREFIX "arn:aws:iam::"

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '=' ||
	       c == ',' || c == '.' || c == '@' || c == '_' || c == '-';
}

/* "<seg>/<seg>/.../<name>": non-empty segments of at most 64 name characters. */
static bool path_name_ok(const char *s)
{
	size_t seg = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s == '/') {
			if (seg == 0)
				return false;
			seg = 0;
		} else if (!name_char(*s) || ++seg > MAX_NAME_SEGMENT) {
			return false;
		}
	}
	return seg > 0;
}

int ecr__principal_arn_check(const char *arn, char account_out[13])
{
	size_t n = arn ? strlen(arn) : 0;
	const size_t pl = sizeof(ARN_PREFIX) - 1;
	if (!arn)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no principal ARN");
	if (n > MAX_ARN_LEN || n < pl + 13 || strncmp(arn, ARN_PREFIX, pl) != 0)
		goto bad;
	for (size_t i = 0; i < 12; i++)
		if (arn[pl + i] < '0' || arn[pl + i] > '9')
			goto bad;
	if (arn[pl + 12] != ':')
		goto bad;
	const char *res = arn + pl + 13;
	if (!(strcmp(res, "root") == 0 || (strncmp(res, "user/", 5) == 0 && path_name_ok(res + 5)) ||
	      (strncmp(res, "role/", 5) == 0 && path_name_ok(res + 5))))
		goto bad;
	if (account_out) {
		memcpy(account_out, arn + pl, 12);
		account_out[12] = '\0';
	}
	return 0;
bad:
	return ecr__fail(
	    ECR_EINVALID, ECR_ERROR_INVALID,
	    "invalid principal ARN '%.*s': expected arn:aws:iam::<12 digits>:user/<name>, :role/<name> or :root",
	    n > 256 ? 256 : (int)n, arn);
}

int ecr__principal_from_meta(ecr_principal **out, ecr_registry *reg, const ecr__meta_principal *m)
{
	ecr_principal *p = ecr__calloc(1, sizeof(*p));
	if (!p)
		return ECR_ENOMEM;
	p->reg = reg;
	p->id = m->id;
	p->admin = m->admin ? 1 : 0;
	if (!(p->uid = ecr__strdup(m->uid)) || !(p->arn = ecr__strdup(m->arn)) ||
	    !(p->account = ecr__strdup(m->account_id))) {
		ecr_principal_free(p);
		return ECR_ENOMEM;
	}
	*out = p;
	return 0;
}

static int principal_not_found(const char *arn)
{
	return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_INVALID, "The principal '%s' does not exist", arn);
}

int ecr_principal_create(ecr_principal **out, ecr_registry *reg, const char *arn, uint32_t flags)
{
	ecr__meta_principal m = {0};
	char account[13], uid[37];
	ecr__txn t = {0};
	int rc;

	if (out)
		*out = NULL;
	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "Principals", "principals live on the registry's own host");
	if ((rc = ecr__principal_arn_check(arn, account)))
		return rc;
	if (flags & ~ECR_PRINCIPAL_ADMIN)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "unknown principal flags 0x%x", flags);
	if ((rc = ecr__uuid_v4(uid)))
		return rc;
	m.uid = uid;
	m.arn = (char *)arn;
	m.account_id = account;
	m.admin = (flags & ECR_PRINCIPAL_ADMIN) ? 1 : 0;
	m.created_at = ecr_registry_now(reg);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		return rc;
	rc = ecr__meta_principal_insert(&t, &m);
	if (rc == ECR_EEXISTS) {
		rc = ecr__fail(ECR_EEXISTS, ECR_ERROR_INVALID, "The principal '%s' already exists", arn);
		goto done;
	}
	if (rc || (rc = ecr__txn_commit(&t)))
		goto done;
	ecr__log(&reg->log, ECR_LOG_INFO, "created principal %s%s", arn, m.admin ? " (administrator)" : "");
	if (out)
		rc = ecr__principal_from_meta(out, reg, &m);
done:
	ecr__txn_rollback(&t);
	return rc;
}

int ecr_principal_open(ecr_principal **out, ecr_registry *reg, const char *arn)
{
	ecr__meta_principal m = {0};
	ecr__txn t = {0};
	int rc;

	*out = NULL;
	if (!reg || !arn)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or principal ARN");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "Principals", "principals live on the registry's own host");
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	rc = ecr__meta_principal_get(&t, arn, &m);
	ecr__txn_rollback(&t);
	if (rc == ECR_ENOTFOUND)
		return principal_not_found(arn);
	if (!rc)
		rc = ecr__principal_from_meta(out, reg, &m);
	ecr__meta_principal_dispose(&m);
	return rc;
}

int ecr_principal_delete(ecr_registry *reg, const char *arn)
{
	ecr__meta_principal m = {0};
	ecr__txn t = {0};
	int rc;

	if (!reg || !arn)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or principal ARN");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "Principals", "principals live on the registry's own host");
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		return rc;
	rc = ecr__meta_principal_get(&t, arn, &m);
	if (rc == ECR_ENOTFOUND) {
		rc = principal_not_found(arn);
		goto done;
	}
	if (rc || (rc = ecr__meta_principal_delete(&t, m.id)) || (rc = ecr__txn_commit(&t)))
		goto done;
	ecr__log(&reg->log, ECR_LOG_INFO, "deleted principal %s", arn);
done:
	ecr__txn_rollback(&t);
	ecr__meta_principal_dispose(&m);
	return rc;
}

void ecr_principal_free(ecr_principal *p)
{
	if (!p)
		return;
	ecr__free(p->uid);
	ecr__free(p->arn);
	ecr__free(p->account);
	ecr__free(p);
}

const char *ecr_principal_arn(const ecr_principal *p)
{
	return p->arn;
}
const char *ecr_principal_account_id(const ecr_principal *p)
{
	return p->account;
}
int ecr_principal_is_admin(const ecr_principal *p)
{
	return p->admin;
}

/* In t: the principal still exists (it may have been deleted through another handle). */
static int principal_check(ecr__txn *t, const ecr_principal *p)
{
	ecr__meta_principal m;
	int rc = ecr__meta_principal_get_by_id(t, p->id, &m);
	if (!rc && strcmp(m.uid, p->uid) != 0)
		rc = ECR_ENOTFOUND;
	ecr__meta_principal_dispose(&m);
	if (rc == ECR_ENOTFOUND)
		return principal_not_found(p->arn);
	return rc;
}

#define KEY_ID_RANDOM 16
#define SECRET_LEN 40
#define KEY_ATTEMPTS 4

int ecr_principal_access_key_create(ecr_buf *key_id_out, ecr_buf *secret_out, ecr_principal *p)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char rnd[KEY_ID_RANDOM + SECRET_LEN];
	char key_id[4 + KEY_ID_RANDOM + 1], secret[SECRET_LEN + 1];
	ecr__txn t = {0};
	int rc;

	if (!key_id_out || !secret_out || !p)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = ecr__txn_begin(&t, p->reg->store->meta, true)))
		return rc;
	if ((rc = principal_check(&t, p)))
		goto done;
	for (int attempt = 0;; attempt++) {
		if ((rc = ecr__random_bytes(rnd, sizeof(rnd))))
			goto done;
		memcpy(key_id, "AKIA", 4);
		for (size_t i = 0; i < KEY_ID_RANDOM; i++)
			key_id[4 + i] = b32[rnd[i] & 31];
		key_id[sizeof(key_id) - 1] = '\0';
		for (size_t i = 0; i < SECRET_LEN; i++)
			secret[i] = b64[rnd[KEY_ID_RANDOM + i] & 63];
		secret[SECRET_LEN] = '\0';
		rc = ecr__meta_access_key_insert(&t, key_id, p->id, secret, ecr_registry_now(p->reg));
		if (rc != ECR_EEXISTS || attempt + 1 >= KEY_ATTEMPTS)
			break;
		ecr__error_clear();
	}
	if (rc || (rc = ecr__txn_commit(&t)))
		goto done;
	ecr__buf_clear(key_id_out);
	ecr__buf_clear(secret_out);
	if ((rc = ecr__buf_puts(key_id_out, key_id)) || (rc = ecr__buf_puts(secret_out, secret)))
		goto done;
	ecr__log(&p->reg->log, ECR_LOG_INFO, "created access key %s for %s", key_id, p->arn);
done:
	ecr__txn_rollback(&t);
	memset(rnd, 0, sizeof(rnd));
	memset(secret, 0, sizeof(secret));
	return rc;
}

int ecr_principal_access_key_delete(ecr_principal *p, const char *key_id)
{
	ecr__txn t = {0};
	int rc;

	if (!p || !key_id)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = ecr__txn_begin(&t, p->reg->store->meta, true)))
		return rc;
	rc = ecr__meta_access_key_delete(&t, p->id, key_id);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_INVALID, "The access key '%.*s' of '%s' does not exist",
		               (int)strnlen(key_id, 128), key_id, p->arn);
	if (!rc)
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	return rc;
}

static int policy_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n > MAX_POLICY_NAME)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "policy names must be 1 to %d characters",
		                 MAX_POLICY_NAME);
	for (size_t i = 0; i < n; i++)
		if (!name_char(name[i]))
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			                 "invalid policy name '%s': only [A-Za-z0-9+=,.@_-] are allowed", name);
	return 0;
}

int ecr_principal_put_policy(ecr_principal *p, const char *name, const char *document)
{
	ecr_policy *pol = NULL;
	ecr__txn t = {0};
	int rc;

	if (!p || !document)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = policy_name_check(name)))
		return rc;
	if ((rc = ecr_policy_parse(&pol, document, strlen(document), ECR_POLICY_IDENTITY)))
		return rc;
	ecr_policy_free(pol);
	if ((rc = ecr__txn_begin(&t, p->reg->store->meta, true)))
		return rc;
	if (!(rc = principal_check(&t, p)) && !(rc = ecr__meta_identity_policy_put(&t, p->id, name, document)))
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	return rc;
}

int ecr_principal_delete_policy(ecr_principal *p, const char *name)
{
	ecr__txn t = {0};
	int rc;

	if (!p || !name)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = ecr__txn_begin(&t, p->reg->store->meta, true)))
		return rc;
	rc = ecr__meta_identity_policy_delete(&t, p->id, name);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_POLICY, "The policy '%.*s' of '%s' does not exist",
		               (int)strnlen(name, 128), name, p->arn);
	if (!rc)
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	return rc;
}

int ecr_principal_policies(ecr_principal *p, ecr_principal_policy_cb cb, void *payload)
{
	ecr__pairs l = ECR__PAIRS_INIT;
	ecr__txn t = {0};
	int rc;

	if (!p || !cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = ecr__txn_begin(&t, p->reg->store->meta, false)))
		return rc;
	if (!(rc = principal_check(&t, p)))
		rc = ecr__meta_identity_policy_list(&t, p->id, ecr__pairs_add, &l);
	ecr__txn_rollback(&t);
	if (!rc)
		rc = ecr__pairs_each(&l, cb, payload);
	ecr__pairs_dispose(&l);
	return rc;
}

/* Iteration: pages of PAGE_SIZE records, read in short transactions. */
struct ecr_principal_iterator {
	ecr_registry *reg;
	ecr_principal **page;
	size_t count, pos;
	ecr_principal *current; /* borrowed to the caller */
	char *last;             /* ARN of the last item returned */
	bool done;
};

static int page_collect(const ecr__meta_principal *m, void *payload)
{
	ecr_principal_iterator *it = payload;
	return ecr__principal_from_meta(&it->page[it->count++], it->reg, m);
}

static void page_clear(ecr_principal_iterator *it)
{
	for (size_t i = it->pos; i < it->count; i++)
		ecr_principal_free(it->page[i]);
	it->count = it->pos = 0;
}

int ecr_principal_iterator_new(ecr_principal_iterator **out, ecr_registry *reg)
{
	ecr_principal_iterator *it;
	*out = NULL;
	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "Principals", "principals live on the registry's own host");
	if (!(it = ecr__calloc(1, sizeof(*it))))
		return ECR_ENOMEM;
	it->reg = reg;
	if (!(it->page = ecr__calloc(PAGE_SIZE, sizeof(*it->page)))) {
		ecr__free(it);
		return ECR_ENOMEM;
	}
	*out = it;
	return 0;
}

int ecr_principal_iterator_next(ecr_principal **out, ecr_principal_iterator *it)
{
	int rc;
	*out = NULL;
	ecr_principal_free(it->current);
	it->current = NULL;
	if (it->pos == it->count) {
		page_clear(it);
		if (it->done)
			return ECR_ITEROVER;
		ecr__txn t;
		if ((rc = ecr__txn_begin(&t, it->reg->store->meta, false)))
			return rc;
		rc = ecr__meta_principal_list(&t, it->last, PAGE_SIZE, page_collect, it);
		ecr__txn_rollback(&t);
		if (rc) {
			page_clear(it);
			return rc;
		}
		if (it->count < PAGE_SIZE)
			it->done = true;
		if (it->count == 0)
			return ECR_ITEROVER;
	}
	ecr_principal *p = it->page[it->pos];
	char *arn = ecr__strdup(p->arn);
	if (!arn)
		return ECR_ENOMEM;
	it->page[it->pos++] = NULL;
	ecr__free(it->last);
	it->last = arn;
	it->current = p;
	*out = p;
	return 0;
}

void ecr_principal_iterator_free(ecr_principal_iterator *it)
{
	if (!it)
		return;
	page_clear(it);
	ecr_principal_free(it->current);
	ecr__free(it->page);
	ecr__free(it->last);
	ecr__free(it);
}
