/* Repository and registry policies (validated as resource policies, stored
 * exactly as given) and account settings. */
#include "engine.h"
#include "../remote/remote_repo.h"

#include <stdio.h>

#define KIND_REPOSITORY "repository"
#define KIND_REGISTRY "registry"

const char *ecr_registry_arn(const ecr_registry *reg)
{
	return reg->arn;
}

/* Validate a resource policy; ECR_EINVALID in ECR's words, with the reason after them. */
static int policy_check(const char *text, const char *what)
{
	ecr_policy *pol = NULL;
	int rc;

	if (!text)
		return ecr__fail(
		    ECR_EINVALID, ECR_ERROR_POLICY,
		    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid %s policy provided' "
		    "(no policy text)",
		    what);
	rc = ecr_policy_parse(&pol, text, strlen(text), ECR_POLICY_RESOURCE);
	ecr_policy_free(pol);
	if (rc == ECR_EINVALID) {
		char reason[512];
		snprintf(reason, sizeof(reason), "%s", ecr_error_last()->message);
		return ecr__fail(
		    ECR_EINVALID, ECR_ERROR_POLICY,
		    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid %s policy provided' (%s)",
		    what, reason);
	}
	return rc;
}

static int copy_out(ecr_buf *out, const char *s)
{
	if (!out)
		return 0;
	ecr__buf_clear(out);
	return ecr__buf_puts(out, s);
}

static int repository_policy_not_found(const ecr_repository *repo)
{
	return ecr__fail(
	    ECR_EREPOSITORY_POLICY_NOT_FOUND, ECR_ERROR_POLICY,
	    "Repository policy does not exist for the repository with name '%s' in the registry with id '%s'",
	    repo->name, repo->reg->account_id);
}

static int registry_policy_not_found(const ecr_registry *reg)
{
	return ecr__fail(ECR_EREGISTRY_POLICY_NOT_FOUND, ECR_ERROR_POLICY,
	                 "Registry policy does not exist in the registry with id '%s'", reg->account_id);
}

int ecr_repository_set_policy(ecr_repository *repo, const char *text, uint32_t flags)
{
	ecr__txn t = {0};
	int rc;

	if (!repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository");
	if (flags & ~ECR_POLICY_FORCE)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "unknown flags 0x%x",
		                 (unsigned)(flags & ~ECR_POLICY_FORCE));
	if ((rc = policy_check(text, "repository")))
		return rc;
	if (repo->reg->remote)
		return ecr__remote_repository_set_policy(repo, text, flags);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)))
		goto done;
	if ((rc =
	         ecr__meta_policy_put(&t, repo->reg->id, repo->id, KIND_REPOSITORY, text, ecr_registry_now(repo->reg))))
		goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	return rc;
}

int ecr_repository_policy(ecr_buf *out, ecr_repository *repo)
{
	ecr__txn t = {0};
	char *doc = NULL;
	int rc;

	if (!out || !repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no buffer or no repository");
	if (repo->reg->remote)
		return ecr__remote_repository_policy(out, repo);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, false)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)))
		goto done;
	rc = ecr__meta_policy_get(&t, repo->reg->id, repo->id, KIND_REPOSITORY, &doc);
	if (rc == ECR_ENOTFOUND)
		rc = repository_policy_not_found(repo);
	if (!rc)
		rc = copy_out(out, doc);
done:
	ecr__txn_rollback(&t);
	ecr__free(doc);
	return rc;
}

int ecr_repository_delete_policy(ecr_buf *deleted_out, ecr_repository *repo)
{
	ecr__txn t = {0};
	char *doc = NULL;
	int rc;

	if (!repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository");
	if (repo->reg->remote)
		return ecr__remote_repository_delete_policy(deleted_out, repo);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)))
		goto done;
	rc = ecr__meta_policy_get(&t, repo->reg->id, repo->id, KIND_REPOSITORY, &doc);
	if (!rc)
		rc = ecr__meta_policy_delete(&t, repo->reg->id, repo->id, KIND_REPOSITORY);
	if (rc == ECR_ENOTFOUND)
		rc = repository_policy_not_found(repo);
	if (rc || (rc = ecr__txn_commit(&t)))
		goto done;
	rc = copy_out(deleted_out, doc);
done:
	ecr__txn_rollback(&t);
	ecr__free(doc);
	return rc;
}

int ecr_registry_set_policy(ecr_registry *reg, const char *text)
{
	ecr__txn t = {0};
	int rc;

	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry");
	if ((rc = policy_check(text, "registry")))
		return rc;
	if (reg->remote)
		return ecr__remote_registry_set_policy(reg, text);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		return rc;
	if ((rc = ecr__meta_policy_put(&t, reg->id, 0, KIND_REGISTRY, text, ecr_registry_now(reg))))
		goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	return rc;
}

int ecr_registry_policy(ecr_buf *out, ecr_registry *reg)
{
	ecr__txn t = {0};
	char *doc = NULL;
	int rc;

	if (!out || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no buffer or no registry");
	if (reg->remote)
		return ecr__remote_registry_policy(out, reg);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	rc = ecr__meta_policy_get(&t, reg->id, 0, KIND_REGISTRY, &doc);
	ecr__txn_rollback(&t);
	if (rc == ECR_ENOTFOUND)
		rc = registry_policy_not_found(reg);
	if (!rc)
		rc = copy_out(out, doc);
	ecr__free(doc);
	return rc;
}

int ecr_registry_delete_policy(ecr_buf *deleted_out, ecr_registry *reg)
{
	ecr__txn t = {0};
	char *doc = NULL;
	int rc;

	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry");
	if (reg->remote)
		return ecr__remote_registry_delete_policy(deleted_out, reg);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		return rc;
	rc = ecr__meta_policy_get(&t, reg->id, 0, KIND_REGISTRY, &doc);
	if (!rc)
		rc = ecr__meta_policy_delete(&t, reg->id, 0, KIND_REGISTRY);
	if (rc == ECR_ENOTFOUND)
		rc = registry_policy_not_found(reg);
	if (rc || (rc = ecr__txn_commit(&t)))
		goto done;
	rc = copy_out(deleted_out, doc);
done:
	ecr__txn_rollback(&t);
	ecr__free(doc);
	return rc;
}

/* Account settings: each name, its default and the values it accepts. */
static const struct setting {
	const char *name;
	const char *values[3]; /* the first is the default */
} settings[] = {
    {"BASIC_SCAN_TYPE_VERSION", {"AWS_NATIVE", "CLAIR", NULL}},
    {"REGISTRY_POLICY_SCOPE", {"V2", "V1", NULL}},
    {"BLOB_MOUNTING", {"DISABLED", "ENABLED", NULL}},
};

static int find_setting(const struct setting **out, const char *name)
{
	if (!name || !*name)
		return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
		                 "1 validation error detected: Value at 'name' failed to satisfy constraint: "
		                 "Member must have length greater than or equal to 1");
	if (strlen(name) > 64)
		return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
		                 "1 validation error detected: Value at 'name' failed to satisfy constraint: "
		                 "Member must have length less than or equal to 64");
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		if (strcmp(settings[i].name, name) == 0) {
			*out = &settings[i];
			return 0;
		}
	}
	return ecr__fail(
	    ECR_EVALIDATION, ECR_ERROR_INVALID,
	    "Invalid account setting name '%s'. Valid names: BASIC_SCAN_TYPE_VERSION, REGISTRY_POLICY_SCOPE, "
	    "BLOB_MOUNTING",
	    name);
}

int ecr_registry_setting(ecr_buf *out, ecr_registry *reg, const char *name)
{
	const struct setting *s = NULL;
	ecr__txn t = {0};
	char *value = NULL;
	int rc;

	if (!out || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no buffer or no registry");
	if ((rc = find_setting(&s, name)))
		return rc;
	if (reg->remote)
		return ecr__remote_registry_setting(out, reg, s->name);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	rc = ecr__meta_setting_get(&t, reg->id, s->name, &value);
	ecr__txn_rollback(&t);
	if (rc == ECR_ENOTFOUND)
		rc = 0;
	if (!rc)
		rc = copy_out(out, value ? value : s->values[0]);
	ecr__free(value);
	return rc;
}

int ecr_registry_set_setting(ecr_registry *reg, const char *name, const char *value)
{
	const struct setting *s = NULL;
	ecr__txn t = {0};
	int rc;

	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry");
	if ((rc = find_setting(&s, name)))
		return rc;
	bool ok = false;
	for (size_t i = 0; value && !ok && i < 3 && s->values[i]; i++)
		ok = strcmp(s->values[i], value) == 0;
	if (!ok)
		return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
		                 "Invalid value '%s' for account setting '%s'. Valid values: %s, %s",
		                 value ? value : "", s->name, s->values[0], s->values[1]);
	if (reg->remote)
		return ecr__remote_registry_set_setting(reg, s->name, value);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		return rc;
	if ((rc = ecr__meta_setting_set(&t, reg->id, s->name, value)))
		goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	return rc;
}
