/* The ECR control plane: image scanning (StartImageScan, DescribeImageScanFindings,
 * PutRegistryScanningConfiguration, GetRegistryScanningConfiguration,
 * BatchGetRepositoryScanningConfiguration) and the scan summary of DescribeImages.
 * Shapes, limits and errors follow ecr-api.md §3.7 and §9. */
#include "ecr_api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "../scan/scan_internal.h"

#define FINDINGS_MAX_RESULTS 1000
#define FINDINGS_DEFAULT_RESULTS 100
#define SCAN_CONFIG_REPOS_MAX 25
#define IMAGE_TAG_MAX_LEN 300

static const char *status_name(ecr_scan_status st)
{
	switch (st) {
	case ECR_SCAN_IN_PROGRESS:
		return "IN_PROGRESS";
	case ECR_SCAN_COMPLETE:
		return "COMPLETE";
	case ECR_SCAN_FAILED:
		return "FAILED";
	default:
		return NULL;
	}
}

static int write_severity_counts(ecr__jw *w, const ecr_scan_report *report)
{
	static const ecr_severity order[] = {ECR_SEVERITY_CRITICAL, ECR_SEVERITY_HIGH,          ECR_SEVERITY_MEDIUM,
	                                     ECR_SEVERITY_LOW,      ECR_SEVERITY_INFORMATIONAL, ECR_SEVERITY_UNDEFINED};
	int rc;
	if ((rc = ecr__jw_key(w, "findingSeverityCounts")) || (rc = ecr__jw_object_open(w)))
		return rc;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		size_t n = ecr_scan_report_severity_count(report, order[i]);
		if (n && (rc = ecr__jw_key_int(w, ecr_severity_name(order[i]), (int64_t)n)))
			return rc;
	}
	return ecr__jw_object_close(w);
}

/* The stored scan of an image; *report_out only for COMPLETE. */
typedef struct scan_state {
	ecr_scan_status status;
	ecr_buf reason;
	int64_t completed_at;
	int64_t vulndb_at;
	ecr_scan_report *report;
} scan_state;

static void scan_state_dispose(scan_state *s)
{
	ecr_buf_dispose(&s->reason);
	ecr_scan_report_free(s->report);
}

static int scan_state_load(scan_state *s, ecr_repository *repo, const char *digest, bool with_report)
{
	memset(s, 0, sizeof(*s));
	int rc = ecr_image_scan_result(&s->status, &s->reason, &s->completed_at, with_report ? &s->report : NULL, repo,
	                               digest);
	if (!rc && s->status != ECR_SCAN_NONE)
		rc = ecr__image_scan_vulndb_at(&s->vulndb_at, repo, digest);
	return rc;
}

static int write_scan_status(ecr__jw *w, const scan_state *s)
{
	int rc;
	const char *desc = s->reason.size ? s->reason.ptr : NULL;
	if (!desc && s->status == ECR_SCAN_COMPLETE)
		desc = "The scan was completed successfully.";
	if (!desc && s->status == ECR_SCAN_IN_PROGRESS)
		desc = "The scan is in progress.";
	if ((rc = ecr__jw_key(w, "imageScanStatus")) || (rc = ecr__jw_object_open(w)) ||
	    (rc = ecr__jw_key_string(w, "status", status_name(s->status))))
		return rc;
	if (desc && (rc = ecr__jw_key_string(w, "description", desc)))
		return rc;
	return ecr__jw_object_close(w);
}

int ecr__api_write_scan_summary(ecr__jw *w, ecr_repository *repo, const char *digest)
{
	scan_state s;
	int rc = scan_state_load(&s, repo, digest, true);
	if (rc || s.status == ECR_SCAN_NONE)
		goto done;
	if ((rc = write_scan_status(w, &s)))
		goto done;
	if (s.status == ECR_SCAN_COMPLETE && s.report) {
		if ((rc = ecr__jw_key(w, "imageScanFindingsSummary")) || (rc = ecr__jw_object_open(w)) ||
		    (rc = ecr__jw_key(w, "imageScanCompletedAt")) || (rc = ecr__api_write_time(w, s.completed_at)))
			goto done;
		if (s.vulndb_at > 0 && ((rc = ecr__jw_key(w, "vulnerabilitySourceUpdatedAt")) ||
		                        (rc = ecr__api_write_time(w, s.vulndb_at))))
			goto done;
		if ((rc = write_severity_counts(w, s.report)) || (rc = ecr__jw_object_close(w)))
			goto done;
	}
done:
	scan_state_dispose(&s);
	return rc;
}

/* --- the image an operation names --- */

static int open_repo(ecr_repository **out, ecr_api_call *call)
{
	const char *name;
	char arn[400];
	*out = NULL;
	int rc = ecr__api_string(&name, call, "repositoryName", true, 2, 256);
	if (rc)
		return rc;
	snprintf(arn, sizeof(arn), "arn:aws:ecr:%s:%s:repository/%s", ecr_registry_region(call->reg),
	         ecr_registry_account_id(call->reg), name);
	if ((rc = ecr__api_authorize(call, call->operation, arn)))
		return rc;
	return ecr__api_repository(out, call);
}

typedef struct image_ref {
	const char *digest, *tag;
} image_ref;

static int image_id_input(image_ref *id, ecr_api_call *call)
{
	const ecr__json *v = ecr__json_get(call->input, "imageId");
	memset(id, 0, sizeof(*id));
	if (!v)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		                 "Invalid parameter at 'imageId' failed to satisfy constraint: 'must not be null'");
	if (v->type != ECR__JSON_OBJECT)
		return ecr__api_type_error(call, "imageId", "a structure");
	const ecr__json *d = ecr__json_get(v, "imageDigest"), *t = ecr__json_get(v, "imageTag");
	if ((d && d->type != ECR__JSON_STRING) || (t && t->type != ECR__JSON_STRING))
		return ecr__api_type_error(
		    call, d && d->type != ECR__JSON_STRING ? "imageId.imageDigest" : "imageId.imageTag", "a string");
	id->digest = d ? d->string : NULL;
	id->tag = t ? t->string : NULL;
	if (!id->digest && !id->tag)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		                 "Invalid request parameters: both tag and digest cannot be null");
	if (id->tag && (!*id->tag || strlen(id->tag) > IMAGE_TAG_MAX_LEN))
		return ecr__fail(
		    ECR_EINVALID, ECR_ERROR_INVALID,
		    "Invalid parameter at 'imageId.imageTag' failed to satisfy constraint: 'Member must have length "
		    "between 1 and 300'");
	return 0;
}

static int image_not_found(ecr_repository *repo, const image_ref *id)
{
	return ecr__fail(
	    ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
	    "The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with "
	    "name '%s' in the registry with id '%s'",
	    id->digest ? id->digest : "null", id->tag ? id->tag : "null", ecr_repository_name(repo),
	    ecr_repository_registry_id(repo));
}

/* The image of the input's imageId (any status). */
static int resolve_image(ecr_image **out, ecr_repository *repo, const image_ref *id)
{
	int rc = ecr_image_get(out, repo, id->tag ? id->tag : id->digest, ECR_IMAGE_GET_ANY_STATUS);
	if (rc == ECR_EIMAGE_NOT_FOUND || (rc == ECR_EINVALID && id->tag)) {
		ecr_error_clear();
		return image_not_found(repo, id);
	}
	if (rc)
		return rc;
	if (id->tag && id->digest && strcmp(ecr_image_digest(*out), id->digest) != 0) {
		ecr_image_free(*out);
		*out = NULL;
		return image_not_found(repo, id);
	}
	return 0;
}

static int write_image_id(ecr__jw *w, const char *digest, const char *tag)
{
	int rc;
	if ((rc = ecr__jw_key(w, "imageId")) || (rc = ecr__jw_object_open(w)) ||
	    (rc = ecr__jw_key_string(w, "imageDigest", digest)))
		return rc;
	if (tag && (rc = ecr__jw_key_string(w, "imageTag", tag)))
		return rc;
	return ecr__jw_object_close(w);
}

/* --- StartImageScan --- */

static int op_start_image_scan(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_image *img = NULL;
	image_ref id;
	int rc;
	if ((rc = open_repo(&repo, call)) || (rc = image_id_input(&id, call)) || (rc = resolve_image(&img, repo, &id)))
		goto done;
	ecr_scanner *scanner = ecr__scanner_of(call->reg);
	if (!scanner) {
		rc = ecr__fail(ECR_EUNSUPPORTED, ECR_ERROR_INVALID,
		               "Image scanning is not enabled on this registry (start ecrd with --vuln-db)");
		goto done;
	}
	if ((rc = ecr_scanner_start(scanner, repo, ecr_image_digest(img))))
		goto done;
	if ((rc = ecr__jw_key_string(call->out, "registryId", ecr_repository_registry_id(repo))) ||
	    (rc = ecr__jw_key_string(call->out, "repositoryName", ecr_repository_name(repo))) ||
	    (rc = write_image_id(call->out, ecr_image_digest(img), id.tag)) ||
	    (rc = ecr__jw_key(call->out, "imageScanStatus")) || (rc = ecr__jw_object_open(call->out)) ||
	    (rc = ecr__jw_key_string(call->out, "status", "IN_PROGRESS")))
		goto done;
	rc = ecr__jw_object_close(call->out);
done:
	ecr_image_free(img);
	ecr_repository_free(repo);
	return rc;
}

/* --- DescribeImageScanFindings --- */

static int write_attribute(ecr__jw *w, const char *key, const char *value)
{
	int rc;
	if (!value)
		return 0;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "key", key)) ||
	    (rc = ecr__jw_key_string(w, "value", value)))
		return rc;
	return ecr__jw_object_close(w);
}

static int write_finding(ecr__jw *w, const ecr_scan_finding *f)
{
	int rc;
	char score[32];
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "name", f->name)))
		return rc;
	if (f->description && (rc = ecr__jw_key_string(w, "description", f->description)))
		return rc;
	if (f->uri && (rc = ecr__jw_key_string(w, "uri", f->uri)))
		return rc;
	if ((rc = ecr__jw_key_string(w, "severity", ecr_severity_name(f->severity))) ||
	    (rc = ecr__jw_key(w, "attributes")) || (rc = ecr__jw_array_open(w)) ||
	    (rc = write_attribute(w, "package_name", f->package_name)) ||
	    (rc = write_attribute(w, "package_version", f->package_version)))
		return rc;
	if (f->cvss_version == 2 || f->cvss_version == 3) {
		snprintf(score, sizeof(score), "%.1f", f->cvss_score);
		if ((rc = write_attribute(w, f->cvss_version == 2 ? "CVSS2_VECTOR" : "CVSS3_VECTOR", f->cvss_vector)) ||
		    (rc = write_attribute(w, f->cvss_version == 2 ? "CVSS2_SCORE" : "CVSS3_SCORE", score)))
			return rc;
	}
	if ((rc = ecr__jw_array_close(w)))
		return rc;
	return ecr__jw_object_close(w);
}

/* nextToken: "<offset>.<completedAt>" (a new scan invalidates it). */
static int findings_token_decode(size_t *offset, const char *text, int64_t completed_at)
{
	char *end = NULL;
	unsigned long long off = strtoull(text, &end, 10);
	if (end == text || *end != '.')
		goto bad;
	const char *at = end + 1;
	long long when = strtoll(at, &end, 10);
	if (end == at || *end || when != completed_at || off > SIZE_MAX)
		goto bad;
	*offset = (size_t)off;
	return 0;
bad:
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
	                 "Invalid parameter at 'nextToken' failed to satisfy "
	                 "constraint: 'the token is not valid'");
}

static int op_describe_image_scan_findings(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_image *img = NULL;
	scan_state s = {0};
	const char *token;
	int64_t max;
	size_t offset = 0;
	image_ref id;
	int rc;
	if ((rc = open_repo(&repo, call)) || (rc = image_id_input(&id, call)) ||
	    (rc = ecr__api_int(&max, NULL, call, "maxResults", 1, FINDINGS_MAX_RESULTS, FINDINGS_DEFAULT_RESULTS)) ||
	    (rc = ecr__api_string(&token, call, "nextToken", false, 0, 0)) || (rc = resolve_image(&img, repo, &id)))
		goto done;
	if ((rc = scan_state_load(&s, repo, ecr_image_digest(img), true)))
		goto done;
	if (s.status == ECR_SCAN_NONE) {
		rc = ecr__fail(ECR_ESCAN_NOT_FOUND, ECR_ERROR_IMAGE,
		               "Image scan does not exist for the image with '{imageDigest:'%s', imageTag:'%s'}' in "
		               "the repository "
		               "with name '%s' in the registry with id '%s'",
		               ecr_image_digest(img), id.tag ? id.tag : "null", ecr_repository_name(repo),
		               ecr_repository_registry_id(repo));
		goto done;
	}
	if (token && *token && (rc = findings_token_decode(&offset, token, s.completed_at)))
		goto done;
	if ((rc = ecr__jw_key_string(call->out, "registryId", ecr_repository_registry_id(repo))) ||
	    (rc = ecr__jw_key_string(call->out, "repositoryName", ecr_repository_name(repo))) ||
	    (rc = write_image_id(call->out, ecr_image_digest(img), id.tag)) || (rc = write_scan_status(call->out, &s)))
		goto done;
	if (s.status == ECR_SCAN_COMPLETE && s.report) {
		ecr__jw *w = call->out;
		size_t n = ecr_scan_report_finding_count(s.report);
		if ((rc = ecr__jw_key(w, "imageScanFindings")) || (rc = ecr__jw_object_open(w)) ||
		    (rc = ecr__jw_key(w, "imageScanCompletedAt")) || (rc = ecr__api_write_time(w, s.completed_at)))
			goto done;
		if (s.vulndb_at > 0 && ((rc = ecr__jw_key(w, "vulnerabilitySourceUpdatedAt")) ||
		                        (rc = ecr__api_write_time(w, s.vulndb_at))))
			goto done;
		if ((rc = write_severity_counts(w, s.report)) || (rc = ecr__jw_key(w, "findings")) ||
		    (rc = ecr__jw_array_open(w)))
			goto done;
		size_t end = offset;
		for (; end < n && end - offset < (size_t)max; end++) {
			const ecr_scan_finding *f = ecr_scan_report_finding(s.report, end);
			if (f && (rc = write_finding(w, f)))
				goto done;
		}
		if ((rc = ecr__jw_array_close(w)) || (rc = ecr__jw_object_close(w)))
			goto done;
		if (end < n) {
			char next[64];
			snprintf(next, sizeof(next), "%zu.%" PRId64, end, s.completed_at);
			rc = ecr__jw_key_string(w, "nextToken", next);
		}
	}
done:
	scan_state_dispose(&s);
	ecr_image_free(img);
	ecr_repository_free(repo);
	return rc;
}

/* --- registry scanning configuration --- */

static int op_put_registry_scanning_configuration(ecr_api_call *call)
{
	ecr__jw *w = NULL;
	ecr_buf in = ECR_BUF_INIT, stored = ECR_BUF_INIT;
	int rc;
	if ((rc = ecr__api_authorize_registry(call)))
		return rc;
	const ecr__json *type = ecr__json_get(call->input, "scanType");
	const ecr__json *rules = ecr__json_get(call->input, "rules");
	if (type && type->type != ECR__JSON_STRING)
		return ecr__api_type_error(call, "scanType", "a string");
	if (rules && rules->type != ECR__JSON_ARRAY)
		return ecr__api_type_error(call, "rules", "a list");
	if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)))
		goto done;
	if (type && ((rc = ecr__jw_key(w, "scanType")) || (rc = ecr__jw_value(w, type))))
		goto done;
	if (rules && ((rc = ecr__jw_key(w, "rules")) || (rc = ecr__jw_value(w, rules))))
		goto done;
	if ((rc = ecr__jw_object_close(w)) || (rc = ecr__jw_finish(w, &in)))
		goto done;
	if ((rc = ecr_registry_set_scanning_configuration(call->reg, in.ptr)) ||
	    (rc = ecr_registry_scanning_configuration(&stored, call->reg)))
		goto done;
	if ((rc = ecr__jw_key(call->out, "registryScanningConfiguration")))
		goto done;
	rc = ecr__jw_json_text(call->out, stored.ptr);
done:
	ecr__jw_free(w);
	ecr_buf_dispose(&in);
	ecr_buf_dispose(&stored);
	return rc;
}

static int op_get_registry_scanning_configuration(ecr_api_call *call)
{
	ecr_buf stored = ECR_BUF_INIT;
	int rc;
	if ((rc = ecr__api_authorize_registry(call)) || (rc = ecr_registry_scanning_configuration(&stored, call->reg)))
		goto done;
	if ((rc = ecr__jw_key_string(call->out, "registryId", ecr_registry_account_id(call->reg))) ||
	    (rc = ecr__jw_key(call->out, "scanningConfiguration")))
		goto done;
	rc = ecr__jw_json_text(call->out, stored.ptr);
done:
	ecr_buf_dispose(&stored);
	return rc;
}

static int op_batch_get_repository_scanning_configuration(ecr_api_call *call)
{
	const ecr__json *names = ecr__json_get(call->input, "repositoryNames");
	ecr_buf failures = ECR_BUF_INIT; /* NUL-separated names */
	int rc = 0;
	size_t nfail = 0;
	if (!names)
		return ecr__fail(
		    ECR_EINVALID, ECR_ERROR_INVALID,
		    "Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'must not be null'");
	if (names->type != ECR__JSON_ARRAY)
		return ecr__api_type_error(call, "repositoryNames", "a list");
	if (names->count < 1 || names->count > SCAN_CONFIG_REPOS_MAX)
		return ecr__fail(
		    ECR_EINVALID, ECR_ERROR_INVALID,
		    "Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'Member must have length "
		    "between 1 and 25'");
	for (size_t i = 0; i < names->count; i++) {
		const ecr__json *n = names->values[i];
		if (n->type != ECR__JSON_STRING)
			return ecr__api_type_error(call, "repositoryNames", "a list of strings");
		if (n->length < 2 || n->length > 256)
			return ecr__fail(
			    ECR_EINVALID, ECR_ERROR_INVALID,
			    "Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'Member must have "
			    "length between 2 and 256'");
		char arn[400];
		snprintf(arn, sizeof(arn), "arn:aws:ecr:%s:%s:repository/%s", ecr_registry_region(call->reg),
		         ecr_registry_account_id(call->reg), n->string);
		if ((rc = ecr__api_authorize(call, call->operation, arn)))
			return rc;
	}
	ecr__jw *w = call->out;
	if ((rc = ecr__jw_key(w, "scanningConfigurations")) || (rc = ecr__jw_array_open(w)))
		goto done;
	for (size_t i = 0; i < names->count; i++) {
		const char *name = names->values[i]->string;
		ecr_repository *repo = NULL;
		char *freq = NULL;
		ecr_buf applied = ECR_BUF_INIT;
		rc = ecr_repository_open(&repo, call->reg, name);
		if (rc == ECR_EREPOSITORY_NOT_FOUND) {
			ecr_error_clear();
			if ((rc = ecr__buf_put(&failures, name, strlen(name) + 1)))
				goto done;
			nfail++;
			continue;
		}
		if (!rc)
			rc = ecr__scan_frequency_of(&freq, &applied, repo);
		if (!rc &&
		    !((rc = ecr__jw_object_open(w)) ||
		      (rc = ecr__jw_key_string(w, "repositoryArn", ecr_repository_arn(repo))) ||
		      (rc = ecr__jw_key_string(w, "repositoryName", ecr_repository_name(repo))) ||
		      (rc = ecr__jw_key(w, "scanOnPush")) || (rc = ecr__jw_bool(w, strcmp(freq, "MANUAL") != 0)) ||
		      (rc = ecr__jw_key_string(w, "scanFrequency", freq)) ||
		      (rc = ecr__jw_key(w, "appliedScanFilters")) || (rc = ecr__jw_json_text(w, applied.ptr))))
			rc = ecr__jw_object_close(w);
		ecr__free(freq);
		ecr_buf_dispose(&applied);
		ecr_repository_free(repo);
		if (rc)
			goto done;
	}
	if ((rc = ecr__jw_array_close(w)) || (rc = ecr__jw_key(w, "failures")) || (rc = ecr__jw_array_open(w)))
		goto done;
	for (size_t i = 0, off = 0; i < nfail; i++) {
		const char *name = failures.ptr + off;
		off += strlen(name) + 1;
		if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "repositoryName", name)) ||
		    (rc = ecr__jw_key_string(w, "failureCode", "REPOSITORY_NOT_FOUND")) ||
		    (rc = ecr__jw_key_string(w, "failureReason", "REPOSITORY_NOT_FOUND")) ||
		    (rc = ecr__jw_object_close(w)))
			goto done;
	}
	rc = ecr__jw_array_close(w);
done:
	ecr_buf_dispose(&failures);
	return rc;
}

const ecr_api_op_entry ecr__api_ops_scan[] = {
    {"BatchGetRepositoryScanningConfiguration", op_batch_get_repository_scanning_configuration},
    {"DescribeImageScanFindings", op_describe_image_scan_findings},
    {"GetRegistryScanningConfiguration", op_get_registry_scanning_configuration},
    {"PutRegistryScanningConfiguration", op_put_registry_scanning_configuration},
    {"StartImageScan", op_start_image_scan},
    {NULL, NULL},
};
