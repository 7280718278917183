/*
 * Repositories of a remote registry (remote_repo.h): create, open, delete,
 * settings, resource tags, policies and listing through the ECR API, and
 * lifecycle policies, previews, scan results and scan frequencies.
 *
 * A plain OCI registry (no ECR API) has repositories only as names its
 * manifests are pushed under: ecr_repository_open() asks for one tag of the
 * name (tags/list; NAME_UNKNOWN: ECR_EREPOSITORY_NOT_FOUND) and
 * ecr_repository_create() returns the same handle without asking whether the
 * name exists, as the registry creates it with the first push (options other
 * than the defaults cannot be kept there: ECR_ENOTSUPPORTED). Such a handle
 * has the URI <host>/<name>, no ARN (""), creation time 0 and the default
 * settings. Everything else needs the ECR API and fails with ECR_ENOTSUPPORTED
 * on such a registry (ecr__remote_call says so).
 */
#include "remote_repo.h"
#include "remote_image.h"

#include <stdlib.h>
#include <time.h>

#include "../core/crypto.h"

#define PAGE_SIZE 100
#define IMAGES_PAGE_SIZE 1000
#define PREVIEW_PAGE_SIZE 100
#define PREVIEW_WAIT_MS 60000
#define PREVIEW_POLL_MS 100

/* --- requests and responses --- */

/* Start a request object with repositoryName. */
static int begin(ecr__jw **out, const char *name)
{
	int rc = ecr__jw_new(out);
	if (!rc && !(rc = ecr__jw_object_open(*out)) && name)
		rc = ecr__jw_key_string(*out, "repositoryName", name);
	if (rc) {
		ecr__jw_free(*out);
		*out = NULL;
	}
	return rc;
}

/* A request with only repositoryName; the response is dropped unless res is given. */
static int simple(ecr__json **res, ecr_repository *repo, const char *operation)
{
	ecr__json *tmp = NULL;
	ecr__jw *w = NULL;
	int rc = begin(&w, repo->name);
	rc = rc ? rc : ecr__remote_run(&tmp, repo->reg, operation, w, 0);
	if (res)
		*res = tmp;
	else
		ecr__json_free(tmp);
	return rc;
}

static int malformed(const ecr_registry *reg, const char *operation, const char *what)
{
	return ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: the response of %s has no valid %s", reg->remote->host,
		operation, what);
}

/* --- handles --- */

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		ecr__free(v[i]);
	ecr__free(v);
}

/* The imageTagMutabilityExclusionFilters of an object as a vector of filters. */
static int filters_from_json(char ***out, size_t *count_out, const ecr__json *list)
{
	*out = NULL;
	*count_out = 0;
	if (!list || list->type != ECR__JSON_ARRAY || list->count == 0)
		return 0;
	char **v = ecr__calloc(list->count, sizeof(char *));
	if (!v)
		return ECR_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < list->count; i++) {
		const char *f = ecr__json_get_string(list->values[i], "filter");
		if (!f)
			continue;
		if (!(v[n] = ecr__strdup(f))) {
			strings_free(v, n);
			return ECR_ENOMEM;
		}
		n++;
	}
	*out = v;
	*count_out = n;
	return 0;
}

/* A handle from an ECR Repository object: the one place remote repository handles are made of answers. */
static int repository_from_json(ecr_repository **out, ecr_registry *reg, const ecr__json *o, const char *operation)
{
	const char *name = ecr__json_get_string(o, "repositoryName");
	const char *arn = ecr__json_get_string(o, "repositoryArn");
	const char *uri = ecr__json_get_string(o, "repositoryUri");
	const char *m = ecr__json_get_string(o, "imageTagMutability");
	const ecr__json *scan = ecr__json_get(ecr__json_get(o, "imageScanningConfiguration"), "scanOnPush");
	const ecr__json *enc = ecr__json_get(o, "encryptionConfiguration");
	const char *et = ecr__json_get_string(enc, "encryptionType");
	const char *kms = ecr__json_get_string(enc, "kmsKey");
	ecr_repository *repo;
	int rc;

	*out = NULL;
	if (!name)
		return malformed(reg, operation, "repository");
	if (!(repo = ecr__calloc(1, sizeof(*repo))))
		return ECR_ENOMEM;
	repo->reg = reg;
	repo->created_at = ecr__remote_time(o, "createdAt");
	repo->mutability = ECR_TAG_MUTABLE;
	if (m && !ecr__repository_mutability_parse(&repo->mutability, m)) {
		rc = malformed(reg, operation, "imageTagMutability");
		goto fail;
	}
	repo->scan_on_push = scan && scan->type == ECR__JSON_BOOL && scan->boolean;
	repo->encryption_type = ECR_ENCRYPTION_AES256;
	if (et && !ecr__repository_encryption_parse(&repo->encryption_type, et)) {
		rc = malformed(reg, operation, "encryptionType");
		goto fail;
	}
	rc = ECR_ENOMEM;
	if (!(repo->name = ecr__strdup(name)) || !(repo->arn = ecr__strdup(arn ? arn : "")) ||
		!(repo->uri = ecr__strdup(uri ? uri : "")) || (kms && !(repo->kms_key = ecr__strdup(kms))))
		goto fail;
	if ((rc = filters_from_json(&repo->exclusions, &repo->exclusions_count,
		     ecr__json_get(o, "imageTagMutabilityExclusionFilters"))))
		goto fail;
	*out = repo;
	return 0;
fail:
	ecr_repository_free(repo);
	return rc;
}

/* The handle of a repository of a plain OCI registry. */
static int oci_handle(ecr_repository **out, ecr_registry *reg, const char *name)
{
	ecr_buf uri = ECR_BUF_INIT;
	ecr_repository *repo = ecr__calloc(1, sizeof(*repo));
	int rc;
	*out = NULL;
	if (!repo)
		return ECR_ENOMEM;
	repo->reg = reg;
	if ((rc = ecr__buf_printf(&uri, "%s/%s", reg->remote->host, name)))
		goto fail;
	rc = ECR_ENOMEM;
	if (!(repo->uri = ecr__buf_detach(&uri)) || !(repo->name = ecr__strdup(name)) || !(repo->arn = ecr__strdup("")))
		goto fail;
	*out = repo;
	return 0;
fail:
	ecr_buf_dispose(&uri);
	ecr_repository_free(repo);
	return rc;
}

/* Whether a plain OCI registry has the repository: one tag of it (NAME_UNKNOWN: ECR_EREPOSITORY_NOT_FOUND). */
static int oci_probe(ecr_registry *reg, const char *name)
{
	ecr_transport *t = reg->remote->t;
	ecr_buf json = ECR_BUF_INIT;
	int more = 0;
	int rc = t->tags_list(&json, &more, t, name, NULL, 1);
	ecr_buf_dispose(&json);
	if (rc == ECR_EREPOSITORY_NOT_FOUND)
		rc = ecr__repository_not_found(reg, name);
	return rc;
}

static bool has_api(const ecr_registry *reg)
{
	return (reg->remote->features & ECR_TRANSPORT_HAS_ECR_API) != 0;
}

/* --- create, open, delete --- */

static int write_filters(ecr__jw *w, const char *const *filters, size_t n)
{
	int rc;
	if ((rc = ecr__jw_key(w, "imageTagMutabilityExclusionFilters")) || (rc = ecr__jw_array_open(w)))
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "filter", filters[i])) ||
		    (rc = ecr__jw_key_string(w, "filterType", "WILDCARD")) || (rc = ecr__jw_object_close(w)))
			return rc;
	return ecr__jw_array_close(w);
}

static int write_scanning(ecr__jw *w, int scan_on_push)
{
	int rc;
	if ((rc = ecr__jw_key(w, "imageScanningConfiguration")) || (rc = ecr__jw_object_open(w)) ||
		(rc = ecr__jw_key(w, "scanOnPush")) || (rc = ecr__jw_bool(w, scan_on_push != 0)))
		return rc;
	return ecr__jw_object_close(w);
}

static int create_request(ecr__jw *w, const ecr_repository_options *o)
{
	int rc;
	if ((rc = ecr__jw_key_string(w, "imageTagMutability", ecr__repository_mutability_name(o->tag_mutability))))
		return rc;
	if (o->exclusions_count && (rc = write_filters(w, o->exclusions, o->exclusions_count)))
		return rc;
	if ((rc = write_scanning(w, o->scan_on_push)) || (rc = ecr__jw_key(w, "encryptionConfiguration")) ||
	    (rc = ecr__jw_object_open(w)) ||
	    (rc = ecr__jw_key_string(w, "encryptionType", ecr__repository_encryption_name(o->encryption_type))))
		return rc;
	if (o->kms_key && (rc = ecr__jw_key_string(w, "kmsKey", o->kms_key)))
		return rc;
	if ((rc = ecr__jw_object_close(w)))
		return rc;
	if (!o->tags_count)
		return 0;
	if ((rc = ecr__jw_key(w, "tags")) || (rc = ecr__jw_array_open(w)))
		return rc;
	for (size_t i = 0; i < o->tags_count; i++)
		if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "Key", o->tags[i].key)) ||
		    (rc = ecr__jw_key_string(w, "Value", o->tags[i].value)) || (rc = ecr__jw_object_close(w)))
			return rc;
	return ecr__jw_array_close(w);
}

int ecr__remote_repository_create(ecr_repository **out, ecr_registry *reg, const char *name,
	const ecr_repository_options *opts)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc;

	if (!has_api(reg)) {
		/* An OCI registry makes the repository with its first push; it keeps no settings. */
		if (opts->tag_mutability != ECR_TAG_MUTABLE || opts->scan_on_push || opts->tags_count ||
			opts->encryption_type != ECR_ENCRYPTION_AES256 || opts->kms_key)
			return ecr__remote_unsupported(reg, "a repository with settings other than the defaults",
				"it serves no ECR API (a plain OCI registry)");
		if (!out)
			return 0;
		return oci_handle(out, reg, name);
	}
	if ((rc = begin(&w, name)))
		return rc;
	if ((rc = ecr__remote_run(&res, reg, "CreateRepository", w, create_request(w, opts))))
		goto done;
	if (out) {
		const ecr__json *r = ecr__json_get(res, "repository");
		rc = repository_from_json(out, reg, r, "CreateRepository");
	}
done:
	ecr__json_free(res);
	return rc;
}

int ecr__remote_repository_open(ecr_repository **out, ecr_registry *reg, const char *name)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc;

	if (!has_api(reg)) {
		if ((rc = oci_probe(reg, name)))
			return rc;
		return oci_handle(out, reg, name);
	}
	if ((rc = begin(&w, NULL)))
		return rc;
	rc = ecr__jw_key(w, "repositoryNames");
	if (!rc && !(rc = ecr__jw_array_open(w)) && !(rc = ecr__jw_string(w, name)))
		rc = ecr__jw_array_close(w);
	if ((rc = ecr__remote_run(&res, reg, "DescribeRepositories", w, rc)))
		goto done;
	const ecr__json *r = ecr__json_at(ecr__json_get(res, "repositories"), 0);
	rc = repository_from_json(out, reg, r, "DescribeRepositories");
done:
	ecr__json_free(res);
	return rc;
}

int ecr__remote_repository_delete(ecr_registry *reg, const char *name, uint32_t flags)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc = begin(&w, name);
	if (rc)
		return rc;
	rc = ecr__jw_key(w, "force");
	if (!rc)
		rc = ecr__jw_bool(w, (flags & ECR_REPOSITORY_DELETE_FORCE) != 0);
	rc = ecr__remote_run(&res, reg, "DeleteRepository", w, rc);
	ecr__json_free(res);
	return rc;
}

/* --- settings --- */

int ecr__remote_repository_set_tag_mutability(ecr_repository *repo, ecr_tag_mutability mutability,
	const char *const *exclusions, size_t exclusions_count)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	char **v = NULL;
	size_t n = 0;
	int rc = begin(&w, repo->name);
	if (rc)
		return rc;
	rc = ecr__jw_key_string(w, "imageTagMutability", ecr__repository_mutability_name(mutability));
	if (!rc && exclusions_count)
		rc = write_filters(w, exclusions, exclusions_count);
	if ((rc = ecr__remote_run(&res, repo->reg, "PutImageTagMutability", w, rc)))
		goto done;
	/* the handle takes the new settings, as a local one does */
	if (exclusions_count && !(v = ecr__calloc(exclusions_count, sizeof(char *)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (; n < exclusions_count; n++) {
		if (!(v[n] = ecr__strdup(exclusions[n]))) {
			rc = ECR_ENOMEM;
			goto done;
		}
	}
	strings_free(repo->exclusions, repo->exclusions_count);
	repo->exclusions = v;
	repo->exclusions_count = n;
	repo->mutability = mutability;
	v = NULL;
done:
	strings_free(v, n);
	ecr__json_free(res);
	return rc;
}

int ecr__remote_repository_set_scan_on_push(ecr_repository *repo, int scan_on_push)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc = begin(&w, repo->name);
	if (rc)
		return rc;
	rc = ecr__remote_run(&res, repo->reg, "PutImageScanningConfiguration", w, write_scanning(w, scan_on_push));
	ecr__json_free(res);
	if (!rc)
		repo->scan_on_push = scan_on_push ? 1 : 0;
	return rc;
}

/* --- resource tags --- */

static int begin_arn(ecr__jw **w, const ecr_repository *repo)
{
	int rc = begin(w, NULL);
	if (!rc && (rc = ecr__jw_key_string(*w, "resourceArn", repo->arn))) {
		ecr__jw_free(*w);
		*w = NULL;
	}
	return rc;
}

int ecr__remote_repository_tag_resource(ecr_repository *repo, const ecr_resource_tag *tags, size_t count)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc = begin_arn(&w, repo);
	if (rc)
		return rc;
	if (!(rc = ecr__jw_key(w, "tags")) && !(rc = ecr__jw_array_open(w))) {
		for (size_t i = 0; !rc && i < count; i++)
			if (!(rc = ecr__jw_object_open(w)) && !(rc = ecr__jw_key_string(w, "Key", tags[i].key)) &&
			    !(rc = ecr__jw_key_string(w, "Value", tags[i].value)))
				rc = ecr__jw_object_close(w);
		if (!rc)
			rc = ecr__jw_array_close(w);
	}
	rc = ecr__remote_run(&res, repo->reg, "TagResource", w, rc);
	ecr__json_free(res);
	return rc;
}

int ecr__remote_repository_untag_resource(ecr_repository *repo, const char *const *keys, size_t count)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc = begin_arn(&w, repo);
	if (rc)
		return rc;
	if (!(rc = ecr__jw_key(w, "tagKeys")) && !(rc = ecr__jw_array_open(w))) {
		for (size_t i = 0; !rc && i < count; i++)
			rc = keys[i] ? ecr__jw_string(w, keys[i]) : ecr__jw_null(w);
		if (!rc)
			rc = ecr__jw_array_close(w);
	}
	rc = ecr__remote_run(&res, repo->reg, "UntagResource", w, rc);
	ecr__json_free(res);
	return rc;
}

int ecr__remote_repository_resource_tags(ecr_repository *repo, ecr_resource_tag_cb cb, void *payload)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc = begin_arn(&w, repo);
	if (rc || (rc = ecr__remote_run(&res, repo->reg, "ListTagsForResource", w, 0)))
		goto done;
	const ecr__json *tags = ecr__json_get(res, "tags");
	for (size_t i = 0; tags && tags->type == ECR__JSON_ARRAY && i < tags->count; i++) {
		const char *k = ecr__json_get_string(tags->values[i], "Key");
		const char *v = ecr__json_get_string(tags->values[i], "Value");
		if (!k || !v) {
			rc = malformed(repo->reg, "ListTagsForResource", "tags");
			goto done;
		}
	}
	/* the registry lists them in key order, as the local function does */
	for (size_t i = 0; tags && tags->type == ECR__JSON_ARRAY && i < tags->count; i++)
		if ((rc = cb(ecr__json_get_string(tags->values[i], "Key"), ecr__json_get_string(tags->values[i], "Value"),
			     payload)))
			break;
done:
	ecr__json_free(res);
	return rc;
}

/* --- repository policies --- */

int ecr__remote_repository_set_policy(ecr_repository *repo, const char *text, uint32_t flags)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc = begin(&w, repo->name);
	if (rc)
		return rc;
	if (!(rc = ecr__jw_key_string(w, "policyText", text)) && !(rc = ecr__jw_key(w, "force")))
		rc = ecr__jw_bool(w, (flags & ECR_POLICY_FORCE) != 0);
	rc = ecr__remote_run(&res, repo->reg, "SetRepositoryPolicy", w, rc);
	ecr__json_free(res);
	return rc;
}

int ecr__remote_repository_policy(ecr_buf *out, ecr_repository *repo)
{
	ecr__json *res = NULL;
	int rc = simple(&res, repo, "GetRepositoryPolicy");
	if (!rc)
		rc = ecr__remote_copy_string(out, true, repo->reg, res, "GetRepositoryPolicy", "policyText");
	ecr__json_free(res);
	return rc;
}

int ecr__remote_repository_delete_policy(ecr_buf *deleted_out, ecr_repository *repo)
{
	ecr__json *res = NULL;
	int rc = simple(&res, repo, "DeleteRepositoryPolicy");
	if (!rc)
		rc = ecr__remote_copy_string(deleted_out, true, repo->reg, res, "DeleteRepositoryPolicy", "policyText");
	ecr__json_free(res);
	return rc;
}

/* --- listing --- */

struct ecr__remote_repo_iter {
	ecr_registry *reg;
	ecr_repository **page;
	size_t count, pos;       /* pos: items of the page consumed (returned or skipped) */
	char *page_token;        /* the server's token the page was asked with (NULL: the first page) */
	char *next_token;        /* the server's token of the page after it (NULL: none) */
	bool fetched, done;      /* a page was asked for; no page follows the current one */
	size_t skip;             /* items to skip on the first page (from a start token) */
	char *after;             /* skip names <= after (ecr_repository_iterator_new_after) */
	ecr_repository *current; /* borrowed to the caller */
	bool have_point;         /* a resumption point exists (a start token, or something consumed) */
};

static void iter_page_clear(ecr__remote_repo_iter *it)
{
	for (size_t i = it->pos; i < it->count; i++)
		ecr_repository_free(it->page[i]);
	ecr__free(it->page);
	it->page = NULL;
	it->count = it->pos = 0;
}

void ecr__remote_repository_iter_free(ecr__remote_repo_iter *it)
{
	if (!it)
		return;
	iter_page_clear(it);
	ecr_repository_free(it->current);
	ecr__free(it->page_token);
	ecr__free(it->next_token);
	ecr__free(it->after);
	ecr__free(it);
}

int ecr__remote_repository_iter_new(ecr__remote_repo_iter **out, ecr_registry *reg, const char *start_token,
	const char *after)
{
	ecr__remote_repo_iter *it = NULL;
	char *value = NULL;
	int rc;

	*out = NULL;
	if (!has_api(reg))
		return ecr__remote_unsupported(reg, "Listing repositories",
			"it serves no ECR API and the transport has no OCI catalog");
	if (!(it = ecr__calloc(1, sizeof(*it))))
		return ECR_ENOMEM;
	it->reg = reg;
	if (after && *after && !(it->after = ecr__strdup(after))) {
		rc = ECR_ENOMEM;
		goto fail;
	}
	if (start_token && *start_token) {
		if ((rc = ecr__token_decode(&value, 'R', start_token)))
			goto fail;
		char *bar = strrchr(value, '|'), *end = NULL;
		unsigned long long k = bar ? strtoull(bar + 1, &end, 10) : 0;
		if (!bar || !end || end == bar + 1 || *end || k > PAGE_SIZE * 10) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid pagination token");
			goto fail;
		}
		*bar = '\0';
		if (*value && !(it->page_token = ecr__strdup(value))) {
			rc = ECR_ENOMEM;
			goto fail;
		}
		it->skip = (size_t)k;
		it->have_point = true;
	}
	ecr__free(value);
	*out = it;
	return 0;
fail:
	ecr__free(value);
	ecr__remote_repository_iter_free(it);
	return rc;
}

/* Fetch the page asked with it->page_token into it->page. */
static int iter_fetch(ecr__remote_repo_iter *it)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc = begin(&w, NULL);
	if (rc)
		return rc;
	if (!(rc = ecr__jw_key(w, "maxResults")) && !(rc = ecr__jw_int(w, PAGE_SIZE)) && it->page_token)
		rc = ecr__jw_key_string(w, "nextToken", it->page_token);
	if ((rc = ecr__remote_run(&res, it->reg, "DescribeRepositories", w, rc)))
		goto done;
	const ecr__json *list = ecr__json_get(res, "repositories");
	const char *next = ecr__json_get_string(res, "nextToken");
	if (!list || list->type != ECR__JSON_ARRAY || list->count > 1000) {
		rc = malformed(it->reg, "DescribeRepositories", "repositories");
		goto done;
	}
	if (list->count && !(it->page = ecr__calloc(list->count, sizeof(*it->page)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (; it->count < list->count; it->count++)
		if ((rc = repository_from_json(&it->page[it->count], it->reg, list->values[it->count],
			     "DescribeRepositories")))
			goto done;
	ecr__free(it->next_token);
	it->next_token = NULL;
	if (next && *next && !(it->next_token = ecr__strdup(next))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	it->done = !it->next_token;
	it->fetched = true;
done:
	if (rc)
		iter_page_clear(it);
	ecr__json_free(res);
	return rc;
}

int ecr__remote_repository_iter_next(ecr_repository **out, ecr__remote_repo_iter *it)
{
	int rc;
	*out = NULL;
	ecr_repository_free(it->current);
	it->current = NULL;
	for (;;) {
		if (it->pos == it->count) {
			if (it->fetched) {
				if (it->done)
					return ECR_ITEROVER;
				/* the next page: its token becomes the page's */
				iter_page_clear(it);
				ecr__free(it->page_token);
				it->page_token = it->next_token;
				it->next_token = NULL;
			}
			if ((rc = iter_fetch(it)))
				return rc;
			for (; it->skip && it->pos < it->count; it->skip--)
				ecr_repository_free(it->page[it->pos++]);
			it->skip = 0;
			continue;
		}
		ecr_repository *repo = it->page[it->pos];
		it->page[it->pos++] = NULL;
		it->have_point = true;
		/* ECR has no "after": the registry lists names in order (ecrd does), so skip up to it */
		if (it->after && strcmp(repo->name, it->after) <= 0) {
			ecr_repository_free(repo);
			continue;
		}
		ecr__free(it->after);
		it->after = NULL;
		it->current = repo;
		*out = repo;
		return 0;
	}
}

int ecr__remote_repository_iter_token(ecr_buf *out, ecr__remote_repo_iter *it)
{
	ecr_buf raw = ECR_BUF_INIT;
	int rc;
	if (!it->have_point)
		return ecr__buf_grow(out, 0);
	if (it->fetched && it->pos == it->count && it->next_token)
		rc = ecr__buf_printf(&raw, "%s|0", it->next_token); /* the page is through: the next one from its start */
	else
		rc = ecr__buf_printf(&raw, "%s|%zu", it->page_token ? it->page_token : "", it->fetched ? it->pos : it->skip);
	if (!rc)
		rc = ecr__token_encode(out, 'R', raw.ptr);
	ecr_buf_dispose(&raw);
	return rc;
}

/* --- lifecycle policies --- */

int ecr__remote_repository_set_lifecycle_policy(ecr_repository *repo, const char *text)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc = begin(&w, repo->name);
	if (rc)
		return rc;
	rc = ecr__jw_key_string(w, "lifecyclePolicyText", text);
	rc = ecr__remote_run(&res, repo->reg, "PutLifecyclePolicy", w, rc);
	ecr__json_free(res);
	return rc;
}

static int lifecycle_get(ecr_buf *text_out, int64_t *last_out, ecr_repository *repo, const char *operation)
{
	ecr__json *res = NULL;
	int rc = simple(&res, repo, operation);
	if (!rc)
		rc = ecr__remote_copy_string(text_out, false, repo->reg, res, operation, "lifecyclePolicyText");
	if (!rc && last_out)
		*last_out = ecr__remote_time(res, "lastEvaluatedAt");
	ecr__json_free(res);
	return rc;
}

int ecr__remote_repository_lifecycle_policy(ecr_buf *text_out, int64_t *last_evaluated_at_out, ecr_repository *repo)
{
	return lifecycle_get(text_out, last_evaluated_at_out, repo, "GetLifecyclePolicy");
}

int ecr__remote_repository_delete_lifecycle_policy(ecr_buf *deleted_out, int64_t *last_evaluated_at_out,
	ecr_repository *repo)
{
	return lifecycle_get(deleted_out, last_evaluated_at_out, repo, "DeleteLifecyclePolicy");
}

/* --- lifecycle previews --- */

/* One image of the repository (DescribeImages) with the preview's decision on it. */
typedef struct pv_image {
	ecr__meta_image rec;
	char **tags;
	size_t tags_count;
	ecr_lifecycle_action action;
	uint32_t priority;
} pv_image;

typedef struct pv_set {
	pv_image *v;
	size_t n, cap;
} pv_set;

static void pv_set_dispose(pv_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		ecr__meta_image_dispose(&s->v[i].rec);
		strings_free(s->v[i].tags, s->v[i].tags_count);
	}
	ecr__free(s->v);
	memset(s, 0, sizeof(*s));
}

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (s && !(*out = ecr__strdup(s)))
		return ECR_ENOMEM;
	return 0;
}

/* An ImageDetail into the set. */
static int pv_add(pv_set *s, const ecr_registry *reg, const ecr__json *d)
{
	const char *digest = ecr__json_get_string(d, "imageDigest");
	const char *status = ecr__json_get_string(d, "imageStatus");
	const ecr__json *tags = ecr__json_get(d, "imageTags");
	int64_t size = 0;
	int rc;

	if (!digest)
		return malformed(reg, "DescribeImages", "imageDigest");
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64, bytes;
		if (ecr__mul_overflow(cap, sizeof(*s->v), &bytes))
			return ecr__fail_oom();
		pv_image *p = ecr__realloc(s->v, bytes);
		if (!p)
			return ECR_ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	pv_image *img = &s->v[s->n];
	memset(img, 0, sizeof(*img));
	ecr__meta_image *r = &img->rec;
	ecr__json_get_int(d, "imageSizeInBytes", &size);
	r->image_size = size;
	r->pushed_at = ecr__remote_time(d, "imagePushedAt");
	r->last_pulled_at = ecr__remote_time(d, "lastRecordedPullTime");
	r->last_archived_at = ecr__remote_time(d, "lastArchivedAt");
	r->last_activated_at = ecr__remote_time(d, "lastActivatedAt");
	r->status = status && strcmp(status, "ARCHIVED") == 0 ? ECR_IMAGE_ARCHIVED
		: status && strcmp(status, "ACTIVATING") == 0 ? ECR_IMAGE_ACTIVATING
							      : ECR_IMAGE_ACTIVE;
	r->storage_class = r->status == ECR_IMAGE_ACTIVE ? ECR_STORAGE_CLASS_STANDARD : ECR_STORAGE_CLASS_ARCHIVE;
	const char *mt = ecr__json_get_string(d, "imageManifestMediaType");
	if ((rc = dup_opt(&r->digest, digest)) || (rc = dup_opt(&r->media_type, mt ? mt : "")) ||
		(rc = dup_opt(&r->artifact_type, ecr__json_get_string(d, "artifactMediaType"))) ||
		(rc = dup_opt(&r->subject, ecr__json_get_string(d, "subjectManifestDigest"))))
		goto fail;
	if (tags && tags->type == ECR__JSON_ARRAY && tags->count) {
		if (!(img->tags = ecr__calloc(tags->count, sizeof(char *)))) {
			rc = ECR_ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < tags->count; i++) {
			if (tags->values[i]->type != ECR__JSON_STRING) {
				rc = malformed(reg, "DescribeImages", "imageTags");
				goto fail;
			}
			if (!(img->tags[img->tags_count] = ecr__strdup(tags->values[i]->string))) {
				rc = ECR_ENOMEM;
				goto fail;
			}
			img->tags_count++;
		}
	}
	s->n++;
	return 0;
fail:
	ecr__meta_image_dispose(r);
	strings_free(img->tags, img->tags_count);
	return rc;
}

static int tag_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int pv_cmp(const void *a, const void *b)
{
	return strcmp(((const pv_image *)a)->rec.digest, ((const pv_image *)b)->rec.digest);
}

static pv_image *pv_find(pv_set *s, const char *digest)
{
	pv_image key;
	key.rec.digest = (char *)digest;
	return bsearch(&key, s->v, s->n, sizeof(*s->v), pv_cmp);
}

/* Every image of the repository, whatever its tags and status, in digest order. */
static int list_images(pv_set *s, ecr_repository *repo)
{
	char *token = NULL;
	int rc;
	do {
		ecr__json *res = NULL;
		ecr__jw *w = NULL;
		if ((rc = begin(&w, repo->name)))
			break;
		rc = ecr__jw_key(w, "filter");
		if (!rc && !(rc = ecr__jw_object_open(w)) && !(rc = ecr__jw_key_string(w, "tagStatus", "ANY")) &&
		    !(rc = ecr__jw_key_string(w, "imageStatus", "ANY")) && !(rc = ecr__jw_object_close(w)) &&
		    !(rc = ecr__jw_key(w, "maxResults")) && !(rc = ecr__jw_int(w, IMAGES_PAGE_SIZE)) && token)
			rc = ecr__jw_key_string(w, "nextToken", token);
		if (!(rc = ecr__remote_run(&res, repo->reg, "DescribeImages", w, rc))) {
			const ecr__json *list = ecr__json_get(res, "imageDetails");
			for (size_t i = 0; !rc && list && list->type == ECR__JSON_ARRAY && i < list->count; i++)
				rc = pv_add(s, repo->reg, list->values[i]);
			const char *next = ecr__json_get_string(res, "nextToken");
			ecr__free(token);
			token = NULL;
			if (!rc && next && *next && !(token = ecr__strdup(next)))
				rc = ECR_ENOMEM;
		}
		ecr__json_free(res);
	} while (!rc && token);
	ecr__free(token);
	if (rc)
		return rc;
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), pv_cmp);
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].tags_count > 1)
			qsort(s->v[i].tags, s->v[i].tags_count, sizeof(char *), tag_cmp);
	return 0;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The results of the preview just started: decisions recorded in s (images not in it are left alone). */
static int preview_results(pv_set *s, ecr_repository *repo)
{
	char *token = NULL;
	unsigned int waited = 0;
	int rc;
	for (;;) {
		ecr__json *res = NULL;
		ecr__jw *w = NULL;
		if ((rc = begin(&w, repo->name)))
			break;
		if (!(rc = ecr__jw_key(w, "maxResults")) && !(rc = ecr__jw_int(w, PREVIEW_PAGE_SIZE)) && token)
			rc = ecr__jw_key_string(w, "nextToken", token);
		if ((rc = ecr__remote_run(&res, repo->reg, "GetLifecyclePolicyPreview", w, rc))) {
			ecr__json_free(res);
			break;
		}
		const char *status = ecr__json_get_string(res, "status");
		if (status && strcmp(status, "IN_PROGRESS") == 0) {
			ecr__json_free(res);
			if (waited >= PREVIEW_WAIT_MS) {
				rc = ecr__fail(ECR_ELIFECYCLE_PREVIEW_IN_PROGRESS, ECR_ERROR_REPOSITORY,
					"the lifecycle policy preview of the repository '%s' on %s did not complete in %u s",
					repo->name, repo->reg->remote->host, PREVIEW_WAIT_MS / 1000);
				break;
			}
			sleep_ms(PREVIEW_POLL_MS);
			waited += PREVIEW_POLL_MS;
			continue;
		}
		if (!status || strcmp(status, "COMPLETE") != 0) {
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "the lifecycle policy preview of '%s' on %s ended %s",
				repo->name, repo->reg->remote->host, status ? status : "without a status");
			ecr__json_free(res);
			break;
		}
		const ecr__json *list = ecr__json_get(res, "previewResults");
		for (size_t i = 0; list && list->type == ECR__JSON_ARRAY && i < list->count; i++) {
			const ecr__json *p = list->values[i];
			const char *digest = ecr__json_get_string(p, "imageDigest");
			const char *type = ecr__json_get_string(ecr__json_get(p, "action"), "type");
			int64_t prio = 0;
			ecr__json_get_int(p, "appliedRulePriority", &prio);
			pv_image *img = digest ? pv_find(s, digest) : NULL;
			if (!img || !type)
				continue; /* gone since the preview: nothing to report */
			img->action = strcmp(type, "TRANSITION") == 0 ? ECR_LIFECYCLE_TRANSITION : ECR_LIFECYCLE_EXPIRE;
			img->priority = prio > 0 && prio <= UINT32_MAX ? (uint32_t)prio : 0;
		}
		const char *next = ecr__json_get_string(res, "nextToken");
		ecr__free(token);
		token = NULL;
		if (next && *next && !(token = ecr__strdup(next)))
			rc = ECR_ENOMEM;
		ecr__json_free(res);
		if (rc || !token)
			break;
	}
	ecr__free(token);
	return rc;
}

int ecr__remote_repository_lifecycle_preview(ecr_repository *repo, const char *text, ecr_lifecycle_image_cb cb,
	void *payload)
{
	pv_set s = { 0 };
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc = begin(&w, repo->name);
	if (rc)
		return rc;
	if ((rc = ecr__remote_run(&res, repo->reg, "StartLifecyclePolicyPreview", w,
	                          text ? ecr__jw_key_string(w, "lifecyclePolicyText", text) : 0)))
		goto done;
	/*
	 * The registry reports the images it acts on; the local preview reports
	 * every image, in digest order: list them all (after the preview, so that
	 * images pushed meanwhile count as kept) and report the others as KEEP.
	 */
	if ((rc = list_images(&s, repo)) || (rc = preview_results(&s, repo)))
		goto done;
	for (size_t i = 0; !rc && i < s.n; i++) {
		ecr_image *img = NULL;
		pv_image *p = &s.v[i];
		p->rec.manifest_size = -1; /* unknown: ecr_image_manifest_size() asks the registry */
		if ((rc = ecr__image_new(&img, repo->reg, &p->rec, p->tags, p->tags_count)))
			break;
		p->tags = NULL;
		p->tags_count = 0;
		/* so that ecr_image_manifest() can fetch the manifest from the registry */
		if (!(rc = ecr__image_set_repository(img, repo->name)))
			rc = cb(img, p->action, p->priority, payload);
		ecr_image_free(img);
	}
done:
	ecr__json_free(res);
	pv_set_dispose(&s);
	return rc;
}

/* --- scanning --- */

int ecr__remote_repository_scan_frequency(ecr_buf *out, ecr_repository *repo)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc = begin(&w, NULL);
	if (rc)
		return rc;
	if (!(rc = ecr__jw_key(w, "repositoryNames")) && !(rc = ecr__jw_array_open(w)) &&
		!(rc = ecr__jw_string(w, repo->name)))
		rc = ecr__jw_array_close(w);
	if ((rc = ecr__remote_run(&res, repo->reg, "BatchGetRepositoryScanningConfiguration", w, rc)))
		goto done;
	const ecr__json *conf = ecr__json_at(ecr__json_get(res, "scanningConfigurations"), 0);
	const char *freq = ecr__json_get_string(conf, "scanFrequency");
	if (!conf && ecr__json_at(ecr__json_get(res, "failures"), 0)) {
		rc = ecr__repository_not_found(repo->reg, repo->name);
		goto done;
	}
	if (!freq) {
		rc = malformed(repo->reg, "BatchGetRepositoryScanningConfiguration", "scanFrequency");
		goto done;
	}
	rc = ecr__buf_puts(out, freq);
done:
	ecr__json_free(res);
	return rc;
}

int ecr__remote_image_scan_result(ecr_scan_status *status_out, ecr_buf *reason_out, int64_t *completed_at_out,
	ecr_scan_report **report_out, ecr_repository *repo, const char *digest)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc;

	(void)report_out; /* left NULL: see remote_repo.h */
	if ((rc = begin(&w, repo->name)))
		return rc;
	if (!(rc = ecr__jw_key(w, "imageId")) && !(rc = ecr__jw_object_open(w)) &&
	    !(rc = ecr__jw_key_string(w, "imageDigest", digest)) && !(rc = ecr__jw_object_close(w)) &&
	    !(rc = ecr__jw_key(w, "maxResults")))
		rc = ecr__jw_int(w, 1);
	rc = ecr__remote_run(&res, repo->reg, "DescribeImageScanFindings", w, rc);
	if (rc == ECR_ESCAN_NOT_FOUND || rc == ECR_EIMAGE_NOT_FOUND) {
		/* the local function reports an image never scanned (or not there) as ECR_SCAN_NONE */
		ecr__error_clear();
		rc = 0;
		goto done;
	}
	if (rc)
		goto done;
	const ecr__json *st = ecr__json_get(res, "imageScanStatus");
	const char *status = ecr__json_get_string(st, "status");
	const char *desc = ecr__json_get_string(st, "description");
	ecr_scan_status s = !status                           ? ECR_SCAN_NONE
		: strcmp(status, "IN_PROGRESS") == 0 ? ECR_SCAN_IN_PROGRESS
		: strcmp(status, "COMPLETE") == 0    ? ECR_SCAN_COMPLETE
		: strcmp(status, "FAILED") == 0      ? ECR_SCAN_FAILED
						     : ECR_SCAN_NONE;
	/* the registry's wording of a status without a reason is not a reason */
	if (desc && ((s == ECR_SCAN_COMPLETE && strcmp(desc, "The scan was completed successfully.") == 0) ||
		    (s == ECR_SCAN_IN_PROGRESS && strcmp(desc, "The scan is in progress.") == 0)))
		desc = NULL;
	if (reason_out && desc && (rc = ecr__buf_puts(reason_out, desc)))
		goto done;
	if (status_out)
		*status_out = s;
	if (completed_at_out)
		*completed_at_out = ecr__remote_time(ecr__json_get(res, "imageScanFindings"), "imageScanCompletedAt");
done:
	ecr__json_free(res);
	return rc;
}
