/* The registry's replication configuration (ECR's PutReplicationConfiguration / DescribeRegistry) and the
 * replication status of an image (DescribeImageReplicationStatus), local and over the ECR API. */
#include "engine.h"

#include <stdio.h>

#include "ecr/replication.h"
#include "../core/json.h"
#include "../remote/remote.h"
#include "../storage/meta_replication.h"
#include "replication_queue.h"

#define RULES_MAX 10
#define DESTINATIONS_PER_RULE_MAX 100
#define DESTINATIONS_UNIQUE_MAX 25
#define FILTERS_MAX 100
#define FILTER_MIN_LEN 2
#define FILTER_MAX_LEN 256
#define REGION_MIN_LEN 2
#define REGION_MAX_LEN 25
#define CONFIG_DEFAULT "{\"rules\":[]}"

/* --- validation --- */

static int vfail(const char *path, const char *value, const char *constraint)
{
	if (value)
		return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
			"1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member %s", value, path,
			constraint);
	return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
		"1 validation error detected: Value null at '%s' failed to satisfy constraint: Member %s", path,
		constraint);
}

static int type_fail(const char *path, const char *expected)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "Invalid replication configuration: '%s' must be %s", path,
		expected);
}

static bool region_valid(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || *s == '-'))
			return false;
	return true;
}

static bool registry_id_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (s[n] < '0' || s[n] > '9')
			return false;
	return n == 12;
}

static bool alnum_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

/*
 * ^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*\/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$ : characters of [a-z0-9._/-]; every part
 * before a '/' is non-empty and starts with a letter or digit; the last part is free.
 */
static bool filter_valid(const char *f)
{
	bool part_start = true;
	for (const char *p = f; *p; p++) {
		char c = *p;
		if (c == '/') {
			if (part_start)
				return false;
			part_start = true;
			continue;
		}
		if (!alnum_lower(c) && c != '.' && c != '_' && c != '-')
			return false;
		if (part_start && !alnum_lower(c)) {
			/* allowed only in the last part */
			if (strchr(p, '/'))
				return false;
		}
		part_start = false;
	}
	return true;
}

/* A string member: NULL when absent or JSON null, a type failure when not a string. */
static int member_string(const char **out, const ecr__json *obj, const char *key, const char *path)
{
	const ecr__json *v = ecr__json_get(obj, key);
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_STRING)
		return type_fail(path, "a string");
	*out = v->string;
	return 0;
}

static int member_array(const ecr__json **out, const ecr__json *obj, const char *key, const char *path)
{
	const ecr__json *v = ecr__json_get(obj, key);
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_ARRAY)
		return type_fail(path, "a list");
	*out = v;
	return 0;
}

static int check_length(const char *path, const char *value, size_t min, size_t max)
{
	char c[80];
	size_t n = strlen(value);
	if (n < min) {
		snprintf(c, sizeof(c), "must have length greater than or equal to %zu", min);
		return vfail(path, value, c);
	}
	if (n > max) {
		snprintf(c, sizeof(c), "must have length less than or equal to %zu", max);
		return vfail(path, value, c);
	}
	return 0;
}

static int check_count(const char *path, size_t n, size_t min, size_t max)
{
	char c[80];
	if (n < min) {
		snprintf(c, sizeof(c), "must have length greater than or equal to %zu", min);
		return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
			"1 validation error detected: Value at '%s' failed to satisfy constraint: Member %s", path, c);
	}
	if (n > max) {
		snprintf(c, sizeof(c), "must have length less than or equal to %zu", max);
		return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
			"1 validation error detected: Value at '%s' failed to satisfy constraint: Member %s", path, c);
	}
	return 0;
}

typedef struct dest_key {
	const char *region, *id;
} dest_key;

/* Validate the configuration and write its normalised form into out. */
static int config_normalise(ecr_buf *out, const ecr_registry *reg, const char *json)
{
	ecr__json *doc = NULL;
	ecr__jw *w = NULL;
	dest_key *unique = NULL;
	size_t unique_count = 0;
	char path[160];
	int rc = ecr__json_parse(&doc, json, strlen(json), NULL);
	if (rc)
		return rc;
	if (doc->type != ECR__JSON_OBJECT) {
		rc = type_fail("replicationConfiguration", "a structure");
		goto done;
	}
	const ecr__json *rules;
	if ((rc = member_array(&rules, doc, "rules", "replicationConfiguration.rules")))
		goto done;
	if (!rules) {
		rc = vfail("replicationConfiguration.rules", NULL, "must not be null");
		goto done;
	}
	if ((rc = check_count("replicationConfiguration.rules", rules->count, 0, RULES_MAX)))
		goto done;
	size_t total = 0;
	for (size_t i = 0; i < rules->count; i++) {
		const ecr__json *d = ecr__json_get(rules->values[i], "destinations");
		if (d && d->type == ECR__JSON_ARRAY)
			total += d->count;
	}
	if (total && !(unique = ecr__calloc(total, sizeof(*unique)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "rules")) ||
		(rc = ecr__jw_array_open(w)))
		goto done;
	for (size_t i = 0; i < rules->count; i++) {
		const ecr__json *rule = rules->values[i], *dests, *filters;
		snprintf(path, sizeof(path), "replicationConfiguration.rules.%zu.member", i + 1);
		if (rule->type != ECR__JSON_OBJECT) {
			rc = type_fail(path, "a structure");
			goto done;
		}
		char p2[200];
		snprintf(p2, sizeof(p2), "%s.destinations", path);
		if ((rc = member_array(&dests, rule, "destinations", p2)))
			goto done;
		if (!dests) {
			rc = vfail(p2, NULL, "must not be null");
			goto done;
		}
		if ((rc = check_count(p2, dests->count, 0, DESTINATIONS_PER_RULE_MAX)))
			goto done;
		if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "destinations")) ||
			(rc = ecr__jw_array_open(w)))
			goto done;
		for (size_t k = 0; k < dests->count; k++) {
			const ecr__json *dest = dests->values[k];
			const char *region, *id;
			char p3[260];
			snprintf(p3, sizeof(p3), "%s.%zu.member", p2, k + 1);
			if (dest->type != ECR__JSON_OBJECT) {
				rc = type_fail(p3, "a structure");
				goto done;
			}
			char p4[300];
			snprintf(p4, sizeof(p4), "%s.region", p3);
			if ((rc = member_string(&region, dest, "region", p4)))
				goto done;
			if (!region) {
				rc = vfail(p4, NULL, "must not be null");
				goto done;
			}
			if ((rc = check_length(p4, region, REGION_MIN_LEN, REGION_MAX_LEN)))
				goto done;
			if (!region_valid(region)) {
				rc = vfail(p4, region, "must satisfy regular expression pattern: [0-9a-z-]{2,25}");
				goto done;
			}
			snprintf(p4, sizeof(p4), "%s.registryId", p3);
			if ((rc = member_string(&id, dest, "registryId", p4)))
				goto done;
			if (!id) {
				rc = vfail(p4, NULL, "must not be null");
				goto done;
			}
			if (!registry_id_valid(id)) {
				rc = vfail(p4, id, "must satisfy regular expression pattern: [0-9]{12}");
				goto done;
			}
			if (strcmp(region, reg->region) == 0 && strcmp(id, reg->account_id) == 0) {
				rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
					"Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: "
					"'Replication destination cannot be the same as the source registry'");
				goto done;
			}
			bool seen = false;
			for (size_t u = 0; u < unique_count && !seen; u++)
				seen = strcmp(unique[u].region, region) == 0 && strcmp(unique[u].id, id) == 0;
			if (!seen) {
				unique[unique_count].region = region;
				unique[unique_count].id = id;
				unique_count++;
			}
			if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "region", region)) ||
			    (rc = ecr__jw_key_string(w, "registryId", id)) || (rc = ecr__jw_object_close(w)))
				goto done;
		}
		if ((rc = ecr__jw_array_close(w)))
			goto done;
		snprintf(p2, sizeof(p2), "%s.repositoryFilters", path);
		if ((rc = member_array(&filters, rule, "repositoryFilters", p2)))
			goto done;
		if (filters) {
			if ((rc = check_count(p2, filters->count, 1, FILTERS_MAX)))
				goto done;
			if ((rc = ecr__jw_key(w, "repositoryFilters")) || (rc = ecr__jw_array_open(w)))
				goto done;
			for (size_t k = 0; k < filters->count; k++) {
				const ecr__json *f = filters->values[k];
				const char *value, *type;
				char p3[260], p4[300];
				snprintf(p3, sizeof(p3), "%s.%zu.member", p2, k + 1);
				if (f->type != ECR__JSON_OBJECT) {
					rc = type_fail(p3, "a structure");
					goto done;
				}
				snprintf(p4, sizeof(p4), "%s.filter", p3);
				if ((rc = member_string(&value, f, "filter", p4)))
					goto done;
				if (!value) {
					rc = vfail(p4, NULL, "must not be null");
					goto done;
				}
				if ((rc = check_length(p4, value, FILTER_MIN_LEN, FILTER_MAX_LEN)))
					goto done;
				if (!filter_valid(value)) {
					rc = vfail(p4, value,
						"must satisfy regular expression pattern: "
						"^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$");
					goto done;
				}
				snprintf(p4, sizeof(p4), "%s.filterType", p3);
				if ((rc = member_string(&type, f, "filterType", p4)))
					goto done;
				if (!type) {
					rc = vfail(p4, NULL, "must not be null");
					goto done;
				}
				if (strcmp(type, "PREFIX_MATCH") != 0) {
					rc = vfail(p4, type, "must satisfy enum value set: [PREFIX_MATCH]");
					goto done;
				}
				if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "filter", value)) ||
				    (rc = ecr__jw_key_string(w, "filterType", type)) || (rc = ecr__jw_object_close(w)))
					goto done;
			}
			if ((rc = ecr__jw_array_close(w)))
				goto done;
		}
		if ((rc = ecr__jw_object_close(w)))
			goto done;
	}
	if (unique_count > DESTINATIONS_UNIQUE_MAX) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: 'The replication "
			"configuration has %zu unique destinations; at most %d are allowed'",
			unique_count, DESTINATIONS_UNIQUE_MAX);
		goto done;
	}
	if ((rc = ecr__jw_array_close(w)) || (rc = ecr__jw_object_close(w)))
		goto done;
	rc = ecr__jw_finish(w, out);
done:
	ecr__jw_free(w);
	ecr__json_free(doc);
	ecr__free(unique);
	return rc;
}

/* --- remote registries: the ECR API --- */

static int remote_set(ecr_registry *reg, const char *json)
{
	ecr__json *res = NULL;
	int rc = ecr__remote_call_json(&res, reg, "PutReplicationConfiguration", "replicationConfiguration", json,
		"Invalid replication configuration: 'replicationConfiguration' must be a structure");
	ecr__json_free(res);
	return rc;
}

static int remote_get(ecr_buf *out, ecr_registry *reg)
{
	ecr__json *res = NULL;
	ecr__jw *req = NULL;
	int rc;
	if ((rc = ecr__jw_new(&req)) || (rc = ecr__jw_object_open(req)) || (rc = ecr__jw_object_close(req)))
		goto done;
	rc = ecr__remote_call(&res, reg, "DescribeRegistry", req);
	req = NULL;
	if (rc)
		goto done;
	const ecr__json *conf = ecr__json_get(res, "replicationConfiguration");
	if (!conf) {
		rc = ecr__buf_puts(out, CONFIG_DEFAULT);
		goto done;
	}
	if (conf->type != ECR__JSON_OBJECT) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT,
			"%s: the response of DescribeRegistry has a replicationConfiguration that is not an object",
			ECR__REMOTE_HOST(reg));
		goto done;
	}
	rc = ecr__json_to_buf(out, conf);
done:
	ecr__jw_free(req);
	ecr__json_free(res);
	return rc;
}

static bool status_parse(ecr_replication_status *out, const char *s)
{
	if (!s)
		return false;
	if (strcmp(s, "IN_PROGRESS") == 0)
		*out = ECR_REPLICATION_IN_PROGRESS;
	else if (strcmp(s, "COMPLETE") == 0)
		*out = ECR_REPLICATION_COMPLETE;
	else if (strcmp(s, "FAILED") == 0)
		*out = ECR_REPLICATION_FAILED;
	else
		return false;
	return true;
}

static int remote_status(ecr_repository *repo, const char *digest, ecr_replication_status_cb cb, void *payload)
{
	ecr_registry *reg = repo->reg;
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc;
	if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)) ||
	    (rc = ecr__jw_key_string(w, "repositoryName", repo->name)) || (rc = ecr__jw_key(w, "imageId")) ||
	    (rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "imageDigest", digest)) ||
	    (rc = ecr__jw_object_close(w)) || (rc = ecr__jw_object_close(w)))
		goto done;
	rc = ecr__remote_call(&res, reg, "DescribeImageReplicationStatus", w);
	w = NULL;
	if (rc)
		goto done;
	const ecr__json *list = ecr__json_get(res, "replicationStatuses");
	for (size_t i = 0; list && list->type == ECR__JSON_ARRAY && i < list->count; i++) {
		const ecr__json *s = list->values[i];
		const char *region = ecr__json_get_string(s, "region");
		const char *id = ecr__json_get_string(s, "registryId");
		ecr_replication_status st;
		if (!region || !id || !status_parse(&st, ecr__json_get_string(s, "status"))) {
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT,
				"%s: the response of DescribeImageReplicationStatus has a malformed status", ECR__REMOTE_HOST(reg));
			goto done;
		}
		if ((rc = cb(region, id, st, ecr__json_get_string(s, "failureCode"), payload)))
			goto done;
	}
done:
	ecr__jw_free(w);
	ecr__json_free(res);
	return rc;
}

/* --- the public functions --- */

int ecr_registry_set_replication_configuration(ecr_registry *reg, const char *json)
{
	ecr_buf norm = ECR_BUF_INIT;
	ecr__txn t = { 0 };
	int rc;
	if (!reg || !json)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or configuration");
	if (reg->remote)
		return remote_set(reg, json);
	if ((rc = config_normalise(&norm, reg, json)))
		goto done;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)) ||
		(rc = ecr__meta_repl_config_put(&t, reg->id, norm.ptr, ecr_registry_now(reg))))
		goto done;
	rc = ecr__txn_commit(&t);
	if (!rc)
		ecr__log(&reg->log, ECR_LOG_INFO, "replication configuration set: %s", norm.ptr);
done:
	ecr__txn_rollback(&t);
	ecr_buf_dispose(&norm);
	return rc;
}

int ecr_registry_replication_configuration(ecr_buf *out, ecr_registry *reg)
{
	ecr__txn t = { 0 };
	char *doc = NULL;
	int rc;
	if (!out || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no output or registry");
	if (reg->remote)
		return remote_get(out, reg);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	rc = ecr__meta_repl_config_get(&t, reg->id, &doc);
	ecr__txn_rollback(&t);
	if (rc == ECR_ENOTFOUND)
		return ecr__buf_puts(out, CONFIG_DEFAULT);
	if (!rc)
		rc = ecr__buf_puts(out, doc);
	ecr__free(doc);
	return rc;
}

typedef struct status_row {
	char *region, *id, *reason;
	int status;
} status_row;

typedef struct status_rows {
	status_row *v;
	size_t n, cap;
} status_rows;

static int status_collect(const ecr__meta_repl_job *j, void *payload)
{
	status_rows *rows = payload;
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 8;
		status_row *v = ecr__realloc(rows->v, cap * sizeof(*v));
		if (!v)
			return ECR_ENOMEM;
		rows->v = v;
		rows->cap = cap;
	}
	status_row *r = &rows->v[rows->n];
	memset(r, 0, sizeof(*r));
	r->status = j->status;
	r->region = ecr__strdup(j->dest_region);
	r->id = ecr__strdup(j->dest_registry_id);
	r->reason = j->failure_reason ? ecr__strdup(j->failure_reason) : NULL;
	rows->n++;
	if (!r->region || !r->id || (j->failure_reason && !r->reason))
		return ECR_ENOMEM;
	return 0;
}

int ecr_image_replication_status(ecr_repository *repo, const char *digest, ecr_replication_status_cb cb,
	void *payload)
{
	status_rows rows = { 0 };
	ecr__meta_image img = { 0 };
	ecr__txn t = { 0 };
	int rc;
	if (!repo || !digest || !cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository, digest or callback");
	ecr_registry *reg = repo->reg;
	if (reg->remote)
		return remote_status(repo, digest, cb, payload);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)))
		goto done;
	rc = ecr__meta_image_get(&t, repo->id, digest, &img);
	if (rc == ECR_ENOTFOUND) {
		rc = ecr__fail(ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
			"The image with imageId {imageDigest:'%s', imageTag:'null'} does not exist within the repository with "
			"name '%s' in the registry with id '%s'",
			digest, repo->name, reg->account_id);
		goto done;
	}
	if (rc || (rc = ecr__meta_repl_job_list_image(&t, reg->id, repo->name, digest, status_collect, &rows)))
		goto done;
	ecr__txn_rollback(&t);
	for (size_t i = 0; i < rows.n; i++) {
		const status_row *r = &rows.v[i];
		ecr_replication_status st = r->status == ECR__REPL_COMPLETE ? ECR_REPLICATION_COMPLETE
			: r->status == ECR__REPL_FAILED                     ? ECR_REPLICATION_FAILED
									    : ECR_REPLICATION_IN_PROGRESS;
		if ((rc = cb(r->region, r->id, st, st == ECR_REPLICATION_FAILED ? r->reason : NULL, payload)))
			goto done;
	}
done:
	ecr__txn_rollback(&t);
	ecr__meta_image_dispose(&img);
	for (size_t i = 0; i < rows.n; i++) {
		ecr__free(rows.v[i].region);
		ecr__free(rows.v[i].id);
		ecr__free(rows.v[i].reason);
	}
	ecr__free(rows.v);
	return rc;
}
