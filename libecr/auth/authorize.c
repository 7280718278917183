/* ecr_authorize: identity policies + resource policies, IAM's decision rules. */
#include "auth.h"

#include <inttypes.h>
#include <stdio.h>

#include "../core/timeutil.h"
#include "../remote/remote_repo.h"

#define MAX_RESOURCE_ARN 2048

/* The parts of an ECR resource ARN. */
typedef struct resource {
	char region[33];
	char account[13];
	const char *repo_name; /* into the ARN; NULL for the registry */
} resource;

/* "arn:aws:ecr:<region>:<account>:registry", "arn:aws:ecr:<region>:<account>:repository/<name>", and ECR
 * Public's "arn:aws:ecr-public::<account>:registry/<account>", "arn:aws:ecr-public::<account>:repository/<name>"
 * (no region: the account's public registry, region ECR_REGION_PUBLIC). */
static int resource_parse(resource *r, const char *arn)
{
	static const char prefix[] = "arn:aws:ecr:", public_prefix[] = "arn:aws:ecr-public::";
	memset(r, 0, sizeof(*r));
	size_t n = strnlen(arn, MAX_RESOURCE_ARN + 1);
	bool pub = false;
	const char *s;
	if (n > MAX_RESOURCE_ARN)
		goto bad;
	if (strncmp(arn, public_prefix, sizeof(public_prefix) - 1) == 0) {
		pub = true;
		s = arn + sizeof(public_prefix) - 1;
		memcpy(r->region, ECR_REGION_PUBLIC, sizeof(ECR_REGION_PUBLIC));
	} else if (strncmp(arn, prefix, sizeof(prefix) - 1) == 0) {
		s = arn + sizeof(prefix) - 1;
		const char *c = strchr(s, ':');
		if (!c || c == s || (size_t)(c - s) > 32)
			goto bad;
		memcpy(r->region, s, (size_t)(c - s));
		s = c + 1;
	} else {
		goto bad;
	}
	if (strlen(s) < 13 || s[12] != ':')
		goto bad;
	for (int i = 0; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			goto bad;
	memcpy(r->account, s, 12);
	s += 13;
	if (!pub && strcmp(s, "registry") == 0)
		return 0;
	if (pub && strncmp(s, "registry/", 9) == 0 && strcmp(s + 9, r->account) == 0)
		return 0;
	if (strncmp(s, "repository/", 11) == 0 && s[11]) {
		r->repo_name = s + 11;
		return 0;
	}
bad:
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid resource ARN '%.*s'", n > 256 ? 256 : (int)n, arn);
}

/* Strings collected inside the transaction, used after it. */
typedef struct gathered {
	ecr_buf ipol; /* identity policy documents, NUL-separated */
	size_t ipol_count;
	char *repo_policy, *registry_policy;
	ecr_buf tags; /* key\0value\0 ... */
	size_t tag_count;
} gathered;

static int collect_ipol(const char *name, const char *doc, void *payload)
{
	gathered *g = payload;
	(void)name;
	int rc = ecr__buf_put(&g->ipol, doc, strlen(doc) + 1);
	if (!rc)
		g->ipol_count++;
	return rc;
}

static int collect_tag(const char *key, const char *value, void *payload)
{
	gathered *g = payload;
	int rc;
	if ((rc = ecr__buf_put(&g->tags, key, strlen(key) + 1)) ||
	    (rc = ecr__buf_put(&g->tags, value, strlen(value) + 1)))
		return rc;
	g->tag_count++;
	return 0;
}

static int gather(gathered *g, ecr_registry *reg, const ecr_principal *p, const resource *res)
{
	ecr__meta_repo repo = {0};
	ecr__txn t = {0};
	int rc;

	/* The principal's identity policies are those of its own storage (p->id is a row id there). */
	ecr__store *ps = p->reg ? p->reg->store : reg->store;
	if (ps != reg->store) {
		if ((rc = ecr__txn_begin(&t, ps->meta, false)))
			return rc;
		rc = ecr__meta_identity_policy_list(&t, p->id, collect_ipol, g);
		ecr__txn_rollback(&t);
		memset(&t, 0, sizeof(t));
		if (rc)
			return rc;
	}
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	if (ps == reg->store && (rc = ecr__meta_identity_policy_list(&t, p->id, collect_ipol, g)))
		goto done;
	/* Resource policies exist only for resources of this registry. */
	if (strcmp(res->account, reg->account_id) != 0 || strcmp(res->region, reg->region) != 0)
		goto done;
	rc = ecr__meta_resource_policy_document(&t, reg->id, 0, "registry", &g->registry_policy);
	if (rc && rc != ECR_ENOTFOUND)
		goto done;
	rc = 0;
	if (!res->repo_name)
		goto done;
	rc = ecr__meta_repo_get(&t, reg->id, res->repo_name, &repo);
	if (rc == ECR_ENOTFOUND) {
		rc = 0; /* e.g. CreateRepository: no repository policy yet */
		goto done;
	}
	if (rc)
		goto done;
	rc = ecr__meta_resource_policy_document(&t, reg->id, repo.id, "repository", &g->repo_policy);
	if (rc && rc != ECR_ENOTFOUND)
		goto done;
	rc = ecr__meta_rtag_list(&t, repo.id, collect_tag, g);
done:
	ecr__txn_rollback(&t);
	ecr__meta_repo_dispose(&repo);
	return rc;
}

/* Evaluate one stored document; *allow / *deny accumulate. */
static int evaluate(bool *allow, bool *deny, const char *doc, ecr_policy_kind kind, const ecr_policy_request *req)
{
	ecr_policy *pol = NULL;
	ecr_policy_decision d = ECR_POLICY_NOT_APPLICABLE;
	int rc = ecr_policy_parse(&pol, doc, strlen(doc), kind);
	if (rc)
		return ecr__fail(ECR_ERROR, ECR_ERROR_POLICY, "a stored %s policy no longer parses: %s",
		                 kind == ECR_POLICY_IDENTITY ? "identity" : "resource", ecr_error_last()->message);
	rc = ecr_policy_evaluate(&d, pol, req);
	ecr_policy_free(pol);
	if (rc)
		return rc;
	if (d == ECR_POLICY_DENY)
		*deny = true;
	else if (d == ECR_POLICY_ALLOW)
		*allow = true;
	return 0;
}

int ecr_authorize(ecr_registry *reg, const ecr_principal *p, const char *action, const char *resource_arn,
                  const ecr_policy_context_key *context, size_t context_count)
{
	gathered g = {ECR_BUF_INIT, 0, NULL, NULL, ECR_BUF_INIT, 0};
	ecr_policy_context_key *keys = NULL;
	ecr_buf names = ECR_BUF_INIT;
	size_t *name_off = NULL;
	char now_iso[40], epoch[24];
	resource res;
	int rc;

	if (!reg || !p || !action || !*action || !resource_arn)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if (context_count && !context)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "context_count without context");
	if (context_count > 1024 || strlen(action) > 256)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "too many context keys or action too long");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "Authorization decisions", "principals live on the registry's own host");
	if ((rc = resource_parse(&res, resource_arn)) || (rc = gather(&g, reg, p, &res)))
		goto done;

	/* Condition keys: the caller's, then the principal's, the time and the resource tags. */
	size_t total = context_count + 4 + 2 * g.tag_count;
	if (!(keys = ecr__calloc(total, sizeof(*keys))) ||
	    !(name_off = ecr__calloc(g.tag_count * 2 + 1, sizeof(size_t)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	size_t k = 0;
	for (size_t i = 0; i < context_count; i++)
		keys[k++] = context[i];
	int64_t now = ecr_registry_now(reg);
	if ((rc = ecr__time_format_iso8601(now_iso, sizeof(now_iso), now)))
		goto done;
	snprintf(epoch, sizeof(epoch), "%" PRId64, now / 1000);
	keys[k++] = (ecr_policy_context_key){"aws:PrincipalArn", p->arn};
	keys[k++] = (ecr_policy_context_key){"aws:PrincipalAccount", p->account};
	keys[k++] = (ecr_policy_context_key){"aws:CurrentTime", now_iso};
	keys[k++] = (ecr_policy_context_key){"aws:EpochTime", epoch};
	const char *t = g.tags.ptr;
	for (size_t i = 0; i < g.tag_count; i++) {
		name_off[2 * i] = names.size;
		if ((rc = ecr__buf_printf(&names, "ecr:ResourceTag/%s", t)) || (rc = ecr__buf_put(&names, "", 1)))
			goto done;
		name_off[2 * i + 1] = names.size;
		if ((rc = ecr__buf_printf(&names, "aws:ResourceTag/%s", t)) || (rc = ecr__buf_put(&names, "", 1)))
			goto done;
		t += strlen(t) + 1;
		t += strlen(t) + 1;
	}
	t = g.tags.ptr;
	for (size_t i = 0; i < g.tag_count; i++) {
		const char *value = t + strlen(t) + 1;
		keys[k++] = (ecr_policy_context_key){names.ptr + name_off[2 * i], value};
		keys[k++] = (ecr_policy_context_key){names.ptr + name_off[2 * i + 1], value};
		t = value + strlen(value) + 1;
	}

	ecr_policy_request req = ECR_POLICY_REQUEST_INIT;
	req.principal_arn = p->arn;
	req.principal_account = p->account;
	req.action = action;
	req.resource = resource_arn;
	req.keys = keys;
	req.keys_count = k;

	bool same_account = strcmp(p->account, res.account) == 0;
	bool id_allow = p->admin && same_account, id_deny = false, res_allow = false, res_deny = false;
	const char *doc = g.ipol.ptr;
	for (size_t i = 0; i < g.ipol_count; i++) {
		if ((rc = evaluate(&id_allow, &id_deny, doc, ECR_POLICY_IDENTITY, &req)))
			goto done;
		doc += strlen(doc) + 1;
	}
	if (g.repo_policy && (rc = evaluate(&res_allow, &res_deny, g.repo_policy, ECR_POLICY_RESOURCE, &req)))
		goto done;
	if (g.registry_policy && (rc = evaluate(&res_allow, &res_deny, g.registry_policy, ECR_POLICY_RESOURCE, &req)))
		goto done;

	const char *why = NULL;
	if (id_deny)
		why = "with an explicit deny in an identity-based policy";
	else if (res_deny)
		why = "with an explicit deny in a resource-based policy";
	else if (same_account ? (id_allow || res_allow) : (id_allow && res_allow))
		rc = 0;
	else if (!id_allow && (same_account || res_allow))
		why = "because no identity-based policy allows the";
	else
		why = "because no resource-based policy allows the";
	if (why)
		rc = ecr__fail(ECR_EDENIED, ECR_ERROR_POLICY,
		               "User: %s is not authorized to perform: %s on resource: %s %s%s%s%s", p->arn, action,
		               resource_arn, why, why[0] == 'b' ? " " : "", why[0] == 'b' ? action : "",
		               why[0] == 'b' ? " action" : "");
done:
	ecr_buf_dispose(&g.ipol);
	ecr_buf_dispose(&g.tags);
	ecr__free(g.repo_policy);
	ecr__free(g.registry_policy);
	ecr__free(keys);
	ecr__free(name_off);
	ecr_buf_dispose(&names);
	return rc;
}
