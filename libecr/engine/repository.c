/* Repositories: create, open, settings, resource tags, listing, delete. */
#include "engine.h"

#include "../oci/oci.h"
#include "../remote/remote_repo.h"

#define MAX_EXCLUSIONS 5
#define MAX_EXCLUSION_LEN 128
#define MAX_RESOURCE_TAGS 50
#define PAGE_SIZE 100

int ecr_repository_options_init(ecr_repository_options *opts, unsigned int version)
{
	int rc = ecr__check_version(version, ECR_REPOSITORY_OPTIONS_VERSION, "ecr_repository_options");
	if (rc)
		return rc;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

int ecr__repository_not_found(const ecr_registry *reg, const char *name)
{
	return ecr__fail(ECR_EREPOSITORY_NOT_FOUND, ECR_ERROR_REPOSITORY,
		"The repository with name '%s' does not exist in the registry with id '%s'", name, reg->account_id);
}

static bool is_exclusion_mode(ecr_tag_mutability m)
{
	return m == ECR_TAG_IMMUTABLE_WITH_EXCLUSION || m == ECR_TAG_MUTABLE_WITH_EXCLUSION;
}

/* Validate mutability + filters and join the filters with '\n'. */
static int mutability_check(ecr_buf *joined, ecr_tag_mutability m, const char *const *filters, size_t count)
{
	if ((unsigned)m > ECR_TAG_MUTABLE_WITH_EXCLUSION)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid image tag mutability %d", (int)m);
	if (is_exclusion_mode(m) && count == 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"imageTagMutabilityExclusionFilters are required with %s",
			m == ECR_TAG_IMMUTABLE_WITH_EXCLUSION ? "IMMUTABLE_WITH_EXCLUSION" : "MUTABLE_WITH_EXCLUSION");
	if (!is_exclusion_mode(m) && count > 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"imageTagMutabilityExclusionFilters are only valid with IMMUTABLE_WITH_EXCLUSION or "
			"MUTABLE_WITH_EXCLUSION");
	if (count > MAX_EXCLUSIONS)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "at most %d exclusion filters are allowed, got %zu",
			MAX_EXCLUSIONS, count);
	for (size_t i = 0; i < count; i++) {
		const char *f = filters ? filters[i] : NULL;
		size_t n = f ? strlen(f) : 0;
		if (n < 1 || n > MAX_EXCLUSION_LEN)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "exclusion filter %zu must be 1 to %d characters",
				i, MAX_EXCLUSION_LEN);
		for (size_t j = 0; j < n; j++) {
			char c = f[j];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
				    c == '_' || c == '*' || c == '-'))
				return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
					"exclusion filter '%s' must match [0-9a-zA-Z._*-]{1,128}", f);
		}
		int rc;
		if ((i && (rc = ecr__buf_put(joined, "\n", 1))) || (rc = ecr__buf_puts(joined, f)))
			return rc;
	}
	if (!joined->ptr)
		return ecr__buf_grow(joined, 0);
	return 0;
}

static int resource_tags_check(const ecr_resource_tag *tags, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const char *k = tags[i].key, *v = tags[i].value;
		size_t kl = k ? strlen(k) : 0, vl = v ? strlen(v) : 0;
		if (kl < 1 || kl > 128)
			return ecr__fail(ECR_EINVALID_TAG_PARAMETER, ECR_ERROR_INVALID,
				"tag keys must be 1 to 128 characters long");
		if (!v || vl > 256)
			return ecr__fail(ECR_EINVALID_TAG_PARAMETER, ECR_ERROR_INVALID,
				"tag value for key '%s' must be 0 to 256 characters long", k);
		if (strncmp(k, "aws:", 4) == 0)
			return ecr__fail(ECR_EINVALID_TAG_PARAMETER, ECR_ERROR_INVALID,
				"tag keys starting with 'aws:' are reserved");
	}
	return 0;
}

static void split_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		ecr__free(v[i]);
	ecr__free(v);
}

/* Split "a\nb" into a vector. */
static int split_lines(char ***out, size_t *count_out, const char *s)
{
	*out = NULL;
	*count_out = 0;
	if (!s || !*s)
		return 0;
	size_t n = 1;
	for (const char *c = s; *c; c++)
		n += *c == '\n';
	char **v = ecr__calloc(n, sizeof(char *));
	if (!v)
		return ECR_ENOMEM;
	size_t i = 0;
	for (const char *c = s;; i++) {
		const char *e = strchr(c, '\n');
		size_t len = e ? (size_t)(e - c) : strlen(c);
		if (!(v[i] = ecr__strndup(c, len))) {
			split_free(v, i);
			return ECR_ENOMEM;
		}
		if (!e)
			break;
		c = e + 1;
	}
	*out = v;
	*count_out = n;
	return 0;
}

int ecr__repository_from_meta(ecr_repository **out, ecr_registry *reg, const ecr__meta_repo *r, const char *alias)
{
	ecr_buf b = ECR_BUF_INIT;
	ecr_repository *repo = ecr__calloc(1, sizeof(*repo));
	int rc = ECR_ENOMEM;
	if (!repo)
		return ECR_ENOMEM;
	repo->reg = reg;
	repo->id = r->id;
	repo->created_at = r->created_at;
	repo->mutability = (ecr_tag_mutability)r->tag_mutability;
	repo->scan_on_push = r->scan_on_push;
	repo->encryption_type = (ecr_encryption_type)r->encryption_type;
	if (!(repo->name = ecr__strdup(r->name)))
		goto fail;
	if (r->kms_key && !(repo->kms_key = ecr__strdup(r->kms_key)))
		goto fail;
	if (reg->is_public)
		rc = ecr__buf_printf(&b, "arn:aws:ecr-public::%s:repository/%s", reg->account_id, r->name);
	else
		rc = ecr__buf_printf(&b, "arn:aws:ecr:%s:%s:repository/%s", reg->region, reg->account_id, r->name);
	if (rc)
		goto fail;
	if (!(repo->arn = ecr__buf_detach(&b))) {
		rc = ECR_ENOMEM;
		goto fail;
	}
	if (reg->is_public)
		rc = ecr__buf_printf(&b, "public.ecr.aws/%s/%s", alias ? alias : "", r->name);
	else
		rc = ecr__buf_printf(&b, "%s.dkr.ecr.%s.amazonaws.com/%s", reg->account_id, reg->region, r->name);
	if (rc)
		goto fail;
	if (!(repo->uri = ecr__buf_detach(&b))) {
		rc = ECR_ENOMEM;
		goto fail;
	}
	if ((rc = split_lines(&repo->exclusions, &repo->exclusions_count, r->exclusions)))
		goto fail;
	*out = repo;
	return 0;
fail:
	ecr_buf_dispose(&b);
	ecr_repository_free(repo);
	return rc;
}

int ecr__repository_check(ecr__txn *t, const ecr_repository *repo)
{
	ecr__meta_repo r;
	int rc = ecr__meta_repo_get_by_id(t, repo->id, &r);
	ecr__meta_repo_dispose(&r);
	if (rc == ECR_ENOTFOUND)
		return ecr__repository_not_found(repo->reg, repo->name);
	return rc;
}

int ecr_repository_create(ecr_repository **out, ecr_registry *reg, const char *name,
	const ecr_repository_options *opts)
{
	ecr_repository_options defaults = ECR_REPOSITORY_OPTIONS_INIT;
	ecr_buf excl = ECR_BUF_INIT;
	ecr__meta_repo r = { 0 };
	ecr__txn t = { 0 };
	char *alias = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!opts)
		opts = &defaults;
	if ((rc = ecr__check_version(opts->version, ECR_REPOSITORY_OPTIONS_VERSION, "ecr_repository_options")))
		return rc;
	if (!name)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository name");
	if ((rc = ecr__oci_validate_name(name)))
		return rc;
	if ((rc = mutability_check(&excl, opts->tag_mutability, opts->exclusions, opts->exclusions_count)))
		goto done;
	if ((unsigned)opts->encryption_type > ECR_ENCRYPTION_KMS_DSSE) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid encryption type %d", (int)opts->encryption_type);
		goto done;
	}
	if (opts->kms_key && (opts->encryption_type == ECR_ENCRYPTION_AES256 || !*opts->kms_key ||
				     strlen(opts->kms_key) > 2048)) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			opts->encryption_type == ECR_ENCRYPTION_AES256 ? "a KMS key is only valid with KMS encryption"
								       : "the KMS key must be 1 to 2048 characters");
		goto done;
	}
	if (opts->tags_count > MAX_RESOURCE_TAGS) {
		rc = ecr__fail(ECR_ETOO_MANY_TAGS, ECR_ERROR_INVALID, "at most %d tags are allowed, got %zu",
			MAX_RESOURCE_TAGS, opts->tags_count);
		goto done;
	}
	if ((rc = resource_tags_check(opts->tags, opts->tags_count)))
		goto done;
	if (reg->remote) {
		rc = ecr__remote_repository_create(out, reg, name, opts);
		goto done;
	}

	r.registry_id = reg->id;
	r.name = (char *)name;
	r.created_at = ecr_registry_now(reg);
	r.tag_mutability = opts->tag_mutability;
	r.exclusions = excl.ptr;
	r.scan_on_push = opts->scan_on_push ? 1 : 0;
	r.encryption_type = opts->encryption_type;
	r.kms_key = (char *)opts->kms_key;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		goto done;
	rc = ecr__meta_repo_insert(&t, &r);
	if (rc == ECR_EEXISTS) {
		rc = ecr__fail(ECR_EREPOSITORY_EXISTS, ECR_ERROR_REPOSITORY,
			"The repository with name '%s' already exists in the registry with id '%s'", name, reg->account_id);
		goto done;
	}
	if (rc)
		goto done;
	for (size_t i = 0; i < opts->tags_count; i++)
		if ((rc = ecr__meta_rtag_set(&t, r.id, opts->tags[i].key, opts->tags[i].value)))
			goto done;
	if ((rc = ecr__txn_commit(&t)))
		goto done;
	ecr__log(&reg->log, ECR_LOG_INFO, "created repository %s", name);
	if (out && (!reg->is_public || !(rc = ecr__public_alias_ensure(reg, &alias))))
		rc = ecr__repository_from_meta(out, reg, &r, alias);
done:
	ecr__txn_rollback(&t);
	ecr_buf_dispose(&excl);
	ecr__free(alias);
	return rc;
}

int ecr_repository_open(ecr_repository **out, ecr_registry *reg, const char *name)
{
	ecr__meta_repo r = { 0 };
	ecr__txn t = { 0 };
	int rc;

	*out = NULL;
	if (!name)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository name");
	if ((rc = ecr__oci_validate_name(name)))
		return rc;
	if (reg->remote)
		return ecr__remote_repository_open(out, reg, name);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	rc = ecr__meta_repo_get(&t, reg->id, name, &r);
	ecr__txn_rollback(&t);
	if (rc == ECR_ENOTFOUND)
		return ecr__repository_not_found(reg, name);
	char *alias = NULL;
	if (!rc && reg->is_public)
		rc = ecr__public_alias_ensure(reg, &alias);
	if (!rc)
		rc = ecr__repository_from_meta(out, reg, &r, alias);
	ecr__free(alias);
	ecr__meta_repo_dispose(&r);
	return rc;
}

void ecr_repository_free(ecr_repository *repo)
{
	if (!repo)
		return;
	ecr__free(repo->name);
	ecr__free(repo->arn);
	ecr__free(repo->uri);
	ecr__free(repo->kms_key);
	split_free(repo->exclusions, repo->exclusions_count);
	ecr__free(repo);
}

int ecr_repository_delete(ecr_registry *reg, const char *name, uint32_t flags)
{
	ecr__meta_repo r = { 0 };
	ecr__txn t = { 0 };
	int64_t images = 0;
	int rc;

	if (!name)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository name");
	if (reg->remote)
		return ecr__remote_repository_delete(reg, name, flags);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		return rc;
	rc = ecr__meta_repo_get(&t, reg->id, name, &r);
	if (rc == ECR_ENOTFOUND) {
		rc = ecr__repository_not_found(reg, name);
		goto done;
	}
	if (rc || (rc = ecr__meta_repo_image_count(&t, r.id, &images)))
		goto done;
	if (images > 0 && !(flags & ECR_REPOSITORY_DELETE_FORCE)) {
		rc = ecr__fail(ECR_EREPOSITORY_NOT_EMPTY, ECR_ERROR_REPOSITORY,
			"The repository with name '%s' in registry with id '%s' cannot be deleted because it still "
			"contains images",
			name, reg->account_id);
		goto done;
	}
	if ((rc = ecr__meta_catalog_delete(&t, r.id)) || (rc = ecr__meta_repo_delete(&t, r.id)))
		goto done;
	rc = ecr__txn_commit(&t);
	if (!rc)
		ecr__log(&reg->log, ECR_LOG_INFO, "deleted repository %s (%lld images)", name, (long long)images);
done:
	ecr__txn_rollback(&t);
	ecr__meta_repo_dispose(&r);
	return rc;
}

const char *ecr_repository_name(const ecr_repository *repo) { return repo->name; }
const char *ecr_repository_arn(const ecr_repository *repo) { return repo->arn; }
const char *ecr_repository_uri(const ecr_repository *repo) { return repo->uri; }
const char *ecr_repository_registry_id(const ecr_repository *repo) { return repo->reg->account_id; }
int64_t ecr_repository_created_at(const ecr_repository *repo) { return repo->created_at; }
ecr_tag_mutability ecr_repository_tag_mutability(const ecr_repository *repo) { return repo->mutability; }
size_t ecr_repository_exclusion_count(const ecr_repository *repo) { return repo->exclusions_count; }
const char *ecr_repository_exclusion(const ecr_repository *repo, size_t i)
{
	return i < repo->exclusions_count ? repo->exclusions[i] : NULL;
}
int ecr_repository_scan_on_push(const ecr_repository *repo) { return repo->scan_on_push; }
ecr_encryption_type ecr_repository_encryption_type(const ecr_repository *repo) { return repo->encryption_type; }
const char *ecr_repository_kms_key(const ecr_repository *repo) { return repo->kms_key; }

/* Anchored glob: '*' matches any run of characters, everything else itself. */
static bool wildcard_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

int ecr_repository_tag_is_mutable(const ecr_repository *repo, const char *tag)
{
	bool excluded = false;
	for (size_t i = 0; i < repo->exclusions_count && !excluded; i++)
		excluded = wildcard_match(repo->exclusions[i], tag);
	switch (repo->mutability) {
	case ECR_TAG_MUTABLE:
		return 1;
	case ECR_TAG_IMMUTABLE:
		return 0;
	case ECR_TAG_IMMUTABLE_WITH_EXCLUSION:
		return excluded ? 1 : 0;
	case ECR_TAG_MUTABLE_WITH_EXCLUSION:
		return excluded ? 0 : 1;
	}
	return 1;
}

/* Apply a change to the repository's row, then refresh the handle. */
static int repository_update(ecr_repository *repo, ecr_tag_mutability m, const char *exclusions, int scan_on_push)
{
	ecr__meta_repo r = { 0 };
	ecr__txn t = { 0 };
	char **excl = NULL;
	size_t nexcl = 0;
	int rc;

	if ((rc = split_lines(&excl, &nexcl, exclusions)))
		return rc;
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		goto done;
	rc = ecr__meta_repo_get_by_id(&t, repo->id, &r);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__repository_not_found(repo->reg, repo->name);
	if (rc)
		goto done;
	r.tag_mutability = m;
	ecr__free(r.exclusions);
	r.exclusions = NULL;
	r.scan_on_push = scan_on_push;
	{
		ecr__meta_repo upd = r;
		upd.exclusions = (char *)exclusions;
		if ((rc = ecr__meta_repo_update(&t, &upd)))
			goto done;
	}
	if ((rc = ecr__txn_commit(&t)))
		goto done;
	repo->mutability = m;
	repo->scan_on_push = scan_on_push;
	split_free(repo->exclusions, repo->exclusions_count);
	repo->exclusions = excl;
	repo->exclusions_count = nexcl;
	excl = NULL;
done:
	ecr__txn_rollback(&t);
	ecr__meta_repo_dispose(&r);
	split_free(excl, nexcl);
	return rc;
}

int ecr_repository_set_tag_mutability(ecr_repository *repo, ecr_tag_mutability mutability,
	const char *const *exclusions, size_t exclusions_count)
{
	ecr_buf joined = ECR_BUF_INIT;
	int rc = mutability_check(&joined, mutability, exclusions, exclusions_count);
	if (!rc && repo->reg->remote)
		rc = ecr__remote_repository_set_tag_mutability(repo, mutability, exclusions, exclusions_count);
	else if (!rc)
		rc = repository_update(repo, mutability, joined.ptr ? joined.ptr : "", repo->scan_on_push);
	ecr_buf_dispose(&joined);
	return rc;
}

int ecr_repository_set_scan_on_push(ecr_repository *repo, int scan_on_push)
{
	ecr_buf joined = ECR_BUF_INIT;
	int rc = 0;
	if (repo->reg->remote)
		return ecr__remote_repository_set_scan_on_push(repo, scan_on_push);
	for (size_t i = 0; i < repo->exclusions_count && !rc; i++)
		rc = (i ? ecr__buf_put(&joined, "\n", 1) : 0) || ecr__buf_puts(&joined, repo->exclusions[i]) ? ECR_ENOMEM : 0;
	if (!rc)
		rc = repository_update(repo, repo->mutability, joined.ptr ? joined.ptr : "", scan_on_push ? 1 : 0);
	ecr_buf_dispose(&joined);
	return rc;
}

int ecr_repository_tag_resource(ecr_repository *repo, const ecr_resource_tag *tags, size_t count)
{
	ecr__txn t = { 0 };
	int64_t n = 0;
	int rc;

	if (count && !tags)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no tags");
	if ((rc = resource_tags_check(tags, count)))
		return rc;
	if (repo->reg->remote)
		return ecr__remote_repository_tag_resource(repo, tags, count);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)))
		goto done;
	for (size_t i = 0; i < count; i++)
		if ((rc = ecr__meta_rtag_set(&t, repo->id, tags[i].key, tags[i].value)))
			goto done;
	if ((rc = ecr__meta_rtag_count(&t, repo->id, &n)))
		goto done;
	if (n > MAX_RESOURCE_TAGS) {
		rc = ecr__fail(ECR_ETOO_MANY_TAGS, ECR_ERROR_INVALID,
			"the repository would have %lld tags; at most %d are allowed", (long long)n, MAX_RESOURCE_TAGS);
		goto done;
	}
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	return rc;
}

int ecr_repository_untag_resource(ecr_repository *repo, const char *const *keys, size_t count)
{
	ecr__txn t = { 0 };
	int rc;

	if (count && !keys)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no keys");
	if (repo->reg->remote)
		return ecr__remote_repository_untag_resource(repo, keys, count);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)))
		goto done;
	for (size_t i = 0; i < count; i++) {
		size_t kl = keys[i] ? strlen(keys[i]) : 0;
		if (kl < 1 || kl > 128) {
			rc = ecr__fail(ECR_EINVALID_TAG_PARAMETER, ECR_ERROR_INVALID, "tag keys must be 1 to 128 characters long");
			goto done;
		}
		if (strncmp(keys[i], "aws:", 4) == 0) {
			rc = ecr__fail(ECR_EINVALID_TAG_PARAMETER, ECR_ERROR_INVALID, "tag keys starting with 'aws:' are reserved");
			goto done;
		}
		if ((rc = ecr__meta_rtag_delete(&t, repo->id, keys[i])))
			goto done;
	}
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	return rc;
}

int ecr_repository_resource_tags(ecr_repository *repo, ecr_resource_tag_cb cb, void *payload)
{
	ecr__pairs l = ECR__PAIRS_INIT;
	ecr__txn t = { 0 };
	int rc;

	if (repo->reg->remote)
		return ecr__remote_repository_resource_tags(repo, cb, payload);
	/* collected, so that the caller's callback runs with no transaction open */
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, false)))
		return rc;
	if (!(rc = ecr__repository_check(&t, repo)))
		rc = ecr__meta_rtag_list(&t, repo->id, ecr__pairs_add, &l);
	ecr__txn_rollback(&t);
	if (!rc)
		rc = ecr__pairs_each(&l, cb, payload);
	ecr__pairs_dispose(&l);
	return rc;
}

/* Iteration: pages of PAGE_SIZE records, read in short transactions. */
struct ecr_repository_iterator {
	ecr_registry *reg;
	ecr_repository **page;
	size_t count, pos;
	ecr_repository *current; /* borrowed to the caller */
	char *last;              /* name of the last item returned */
	bool done;
	ecr__remote_repo_iter *remote; /* a remote registry's listing (the fields above unused) */
	char *alias;                   /* a public registry's alias (repository URIs), read before each page */
};

static int page_collect(const ecr__meta_repo *r, void *payload)
{
	ecr_repository_iterator *it = payload;
	return ecr__repository_from_meta(&it->page[it->count++], it->reg, r, it->alias);
}

static void page_clear(ecr_repository_iterator *it)
{
	for (size_t i = 0; i < it->count; i++)
		if (it->page[i] != it->current)
			ecr_repository_free(it->page[i]);
	it->count = it->pos = 0;
}

int ecr_repository_iterator_new(ecr_repository_iterator **out, ecr_registry *reg, const char *start_token)
{
	ecr_repository_iterator *it;
	*out = NULL;
	if (!(it = ecr__calloc(1, sizeof(*it))))
		return ECR_ENOMEM;
	it->reg = reg;
	if (reg->remote) {
		int rc = ecr__remote_repository_iter_new(&it->remote, reg, start_token, NULL);
		if (rc) {
			ecr__free(it);
			return rc;
		}
		*out = it;
		return 0;
	}
	if (!(it->page = ecr__calloc(PAGE_SIZE, sizeof(*it->page)))) {
		ecr__free(it);
		return ECR_ENOMEM;
	}
	if (start_token && *start_token) {
		int rc = ecr__token_decode(&it->last, 'r', start_token);
		if (rc) {
			ecr_repository_iterator_free(it);
			return rc;
		}
	}
	*out = it;
	return 0;
}

int ecr_repository_iterator_new_after(ecr_repository_iterator **out, ecr_registry *reg, const char *after)
{
	int rc = ecr_repository_iterator_new(out, reg, NULL);
	if (rc || !after || !*after)
		return rc;
	if (reg->remote) {
		ecr__remote_repository_iter_free((*out)->remote);
		if ((rc = ecr__remote_repository_iter_new(&(*out)->remote, reg, NULL, after))) {
			ecr_repository_iterator_free(*out);
			*out = NULL;
		}
		return rc;
	}
	if (!((*out)->last = ecr__strdup(after))) {
		ecr_repository_iterator_free(*out);
		*out = NULL;
		return ECR_ENOMEM;
	}
	return 0;
}

int ecr_repository_iterator_next(ecr_repository **out, ecr_repository_iterator *it)
{
	int rc;
	if (it->remote)
		return ecr__remote_repository_iter_next(out, it->remote);
	*out = NULL;
	ecr_repository_free(it->current);
	it->current = NULL;
	if (it->pos == it->count) {
		page_clear(it);
		if (it->done)
			return ECR_ITEROVER;
		if (it->reg->is_public) {
			ecr__free(it->alias);
			it->alias = NULL;
			if ((rc = ecr__public_alias_ensure(it->reg, &it->alias)))
				return rc;
		}
		ecr__txn t;
		if ((rc = ecr__txn_begin(&t, it->reg->store->meta, false)))
			return rc;
		rc = ecr__meta_repo_list(&t, it->reg->id, it->last, PAGE_SIZE, page_collect, it);
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
	ecr_repository *repo = it->page[it->pos];
	char *name = ecr__strdup(repo->name);
	if (!name)
		return ECR_ENOMEM;
	it->page[it->pos++] = NULL;
	ecr__free(it->last);
	it->last = name;
	it->current = repo;
	*out = repo;
	return 0;
}

int ecr_repository_iterator_token(ecr_buf *out, ecr_repository_iterator *it)
{
	if (it->remote)
		return ecr__remote_repository_iter_token(out, it->remote);
	if (!it->last)
		return ecr__buf_grow(out, 0);
	return ecr__token_encode(out, 'r', it->last);
}

void ecr_repository_iterator_free(ecr_repository_iterator *it)
{
	if (!it)
		return;
	ecr__remote_repository_iter_free(it->remote);
	for (size_t i = it->pos; i < it->count; i++)
		ecr_repository_free(it->page[i]);
	ecr_repository_free(it->current);
	ecr__free(it->page);
	ecr__free(it->last);
	ecr__free(it->alias);
	ecr__free(it);
}

int ecr_repository_foreach(ecr_registry *reg, ecr_repository_cb cb, void *payload)
{
	ecr_repository_iterator *it;
	ecr_repository *repo;
	int rc = ecr_repository_iterator_new(&it, reg, NULL);
	if (rc)
		return rc;
	while ((rc = ecr_repository_iterator_next(&repo, it)) == 0) {
		if ((rc = cb(repo, payload)) != 0)
			break;
	}
	ecr_repository_iterator_free(it);
	return rc == ECR_ITEROVER ? 0 : rc;
}

/* --- ECR API names of the settings --- */

static const struct {
	ecr_tag_mutability value;
	const char *name;
} mutability_names[] = {
	{ ECR_TAG_MUTABLE, "MUTABLE" },
	{ ECR_TAG_IMMUTABLE, "IMMUTABLE" },
	{ ECR_TAG_IMMUTABLE_WITH_EXCLUSION, "IMMUTABLE_WITH_EXCLUSION" },
	{ ECR_TAG_MUTABLE_WITH_EXCLUSION, "MUTABLE_WITH_EXCLUSION" },
};

static const struct {
	ecr_encryption_type value;
	const char *name;
} encryption_names[] = {
	{ ECR_ENCRYPTION_AES256, "AES256" },
	{ ECR_ENCRYPTION_KMS, "KMS" },
	{ ECR_ENCRYPTION_KMS_DSSE, "KMS_DSSE" },
};

#define NAMES_COUNT(t) (sizeof(t) / sizeof((t)[0]))

const char *ecr__repository_mutability_name(ecr_tag_mutability m)
{
	for (size_t i = 0; i < NAMES_COUNT(mutability_names); i++)
		if (mutability_names[i].value == m)
			return mutability_names[i].name;
	return "MUTABLE";
}

bool ecr__repository_mutability_parse(ecr_tag_mutability *out, const char *s)
{
	for (size_t i = 0; s && i < NAMES_COUNT(mutability_names); i++) {
		if (strcmp(s, mutability_names[i].name) == 0) {
			*out = mutability_names[i].value;
			return true;
		}
	}
	return false;
}

const char *ecr__repository_encryption_name(ecr_encryption_type t)
{
	for (size_t i = 0; i < NAMES_COUNT(encryption_names); i++)
		if (encryption_names[i].value == t)
			return encryption_names[i].name;
	return "AES256";
}

bool ecr__repository_encryption_parse(ecr_encryption_type *out, const char *s)
{
	for (size_t i = 0; s && i < NAMES_COUNT(encryption_names); i++) {
		if (strcmp(s, encryption_names[i].name) == 0) {
			*out = encryption_names[i].value;
			return true;
		}
	}
	return false;
}
