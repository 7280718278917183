/* A registry handle over a transport, and the helpers of libecr/remote/. */
#include "remote.h"

#include "../transport/http_transport.h"

/* ECR API responses the library reads: at most 16 MiB (a BatchGetImage of 4 MiB manifests, JSON-escaped). */
static const ecr__json_limits response_limits = { 16u << 20, 64, 1000000, 8u << 20 };

int ecr__remote_call(ecr__json **out, ecr_registry *reg, const char *operation, ecr__jw *w)
{
	ecr_buf req = ECR_BUF_INIT, res = ECR_BUF_INIT;
	int rc;

	*out = NULL;
	rc = ecr__jw_finish(w, &req);
	ecr__jw_free(w);
	if (rc)
		goto done;
	if (!(reg->remote->features & ECR_TRANSPORT_HAS_ECR_API)) {
		rc = ecr__remote_unsupported(reg, operation, "it serves no ECR API");
		goto done;
	}
	ecr_transport *t = reg->remote->t;
	if ((rc = t->call(&res, t, operation, req.ptr, req.size)))
		goto done;
	if ((rc = ecr__json_parse(out, res.ptr, res.size, &response_limits)))
		goto done;
	if ((*out)->type != ECR__JSON_OBJECT) {
		ecr__json_free(*out);
		*out = NULL;
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: the response of %s is not a JSON object",
			reg->remote->host, operation);
	}
done:
	ecr_buf_dispose(&req);
	ecr_buf_dispose(&res);
	return rc;
}

int ecr__remote_run(ecr__json **out, ecr_registry *reg, const char *operation, ecr__jw *w, int rc)
{
	*out = NULL;
	if (!rc)
		rc = ecr__jw_object_close(w);
	if (rc) {
		ecr__jw_free(w);
		return rc;
	}
	return ecr__remote_call(out, reg, operation, w);
}

int ecr__remote_call_json(ecr__json **out, ecr_registry *reg, const char *operation, const char *member,
	const char *json, const char *not_object)
{
	ecr__json *doc = NULL;
	ecr__jw *w = NULL;
	int rc;
	*out = NULL;
	if ((rc = ecr__json_parse(&doc, json, strlen(json), NULL)))
		goto done;
	if (doc->type != ECR__JSON_OBJECT) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s", not_object);
		goto done;
	}
	if ((rc = ecr__jw_new(&w)))
		goto done;
	if (member && ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, member))))
		goto done;
	if ((rc = ecr__jw_value(w, doc)) || (member && (rc = ecr__jw_object_close(w))))
		goto done;
	rc = ecr__remote_call(out, reg, operation, w);
	w = NULL;
done:
	ecr__jw_free(w);
	ecr__json_free(doc);
	return rc;
}

int ecr__remote_copy_string(ecr_buf *out, bool replace, const ecr_registry *reg, const ecr__json *res,
	const char *operation, const char *key)
{
	const char *s = ecr__json_get_string(res, key);
	if (!s)
		return ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: the response of %s has no valid %s",
			reg->remote->host, operation, key);
	if (!out)
		return 0;
	if (replace)
		ecr__buf_clear(out);
	return ecr__buf_puts(out, s);
}

int ecr__remote_unsupported(const ecr_registry *reg, const char *what, const char *why)
{
	return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_TRANSPORT, "%s is not available on the remote registry %s: %s",
		what, reg->remote->host, why);
}

int64_t ecr__remote_time(const ecr__json *obj, const char *key)
{
	const ecr__json *v = ecr__json_get(obj, key);
	if (!v || v->type != ECR__JSON_NUMBER)
		return 0;
	if (v->is_integer)
		return v->integer * 1000;
	double ms = v->number * 1000.0;
	if (!(ms > -9.2e18 && ms < 9.2e18)) /* NaN, or beyond int64 */
		return 0;
	return (int64_t)(ms < 0 ? ms - 0.5 : ms + 0.5);
}

static bool printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int ecr_registry_open_transport(ecr_registry **out, ecr_transport *t, const ecr_registry_options *opts)
{
	static const ecr_registry_options defaults = ECR_REGISTRY_OPTIONS_INIT;
	ecr_buf account = ECR_BUF_INIT, region = ECR_BUF_INIT, host = ECR_BUF_INIT, arn = ECR_BUF_INIT;
	ecr_registry *reg = NULL;
	uint32_t features = 0;
	int rc;

	*out = NULL;
	if (!t) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no transport");
		goto done;
	}
	if (t->version == 0 || t->version > ECR_TRANSPORT_VERSION || !t->info || !t->call || !t->manifest_get ||
		!t->manifest_head || !t->manifest_put || !t->manifest_delete || !t->blob_stat || !t->blob_open ||
		!t->blob_put || !t->blob_mount || !t->blob_delete || !t->upload_begin || !t->upload_status ||
		!t->upload_write || !t->upload_commit || !t->upload_cancel || !t->tags_list || !t->referrers || !t->free) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "transport of version %u with methods missing", t->version);
		goto done;
	}
	if (opts && (rc = ecr__check_version(opts->version, ECR_REGISTRY_OPTIONS_VERSION, "ecr_registry_options")))
		goto done;
	if (!opts)
		opts = &defaults;
	if ((rc = t->info(&features, &account, &region, &host, t)))
		goto done;
	const char *acc = opts->account_id ? opts->account_id : account.size ? account.ptr : "";
	const char *rgn = opts->region ? opts->region : region.size ? region.ptr : "";
	if (!host.size || !printable(host.ptr, 255)) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "the transport gave no valid registry host");
		goto done;
	}
	if (!(reg = ecr__calloc(1, sizeof(*reg))) || !(reg->remote = ecr__calloc(1, sizeof(*reg->remote)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	reg->remote->features = features;
	reg->log.cb = opts->log_cb;
	reg->log.payload = opts->log_payload;
	reg->log.level = opts->log_level ? opts->log_level : ECR_LOG_WARN;
	reg->clock_cb = opts->clock_cb;
	reg->clock_payload = opts->clock_payload;
	if (opts->version >= 2) {
		reg->event_cb = opts->event_cb;
		reg->event_payload = opts->event_payload;
	}
	if (*acc && *rgn)
		rc = ecr__buf_printf(&arn, "arn:aws:ecr:%s:%s:registry", rgn, acc);
	if (rc || !(reg->account_id = ecr__strdup(acc)) || !(reg->region = ecr__strdup(rgn)) ||
		!(reg->remote->host = ecr__strdup(host.ptr)) || !(reg->arn = ecr__strdup(arn.size ? arn.ptr : ""))) {
		rc = rc ? rc : ECR_ENOMEM;
		goto done;
	}
	reg->remote->t = t;
	t = NULL;
	ecr__log(&reg->log, ECR_LOG_DEBUG, "remote registry %s opened (%s%s)", reg->remote->host,
		features & ECR_TRANSPORT_HAS_ECR_API ? "ECR API, " : "", features & ECR_TRANSPORT_HAS_OCI ? "OCI" : "");
	*out = reg;
	reg = NULL;
done:
	if (t)
		t->free(t);
	ecr_registry_free(reg);
	ecr_buf_dispose(&account);
	ecr_buf_dispose(&region);
	ecr_buf_dispose(&host);
	ecr_buf_dispose(&arn);
	return rc;
}

int ecr__remote_open_url(ecr_registry **out, const char *url, const ecr_registry_options *opts)
{
	ecr_transport *t = NULL;
	int rc;

	*out = NULL;
	if ((rc = ecr__http_transport_new(&t, url, opts)))
		return rc;
	return ecr_registry_open_transport(out, t, opts);
}

void ecr__remote_free(ecr__remote *r)
{
	if (!r)
		return;
	if (r->t)
		r->t->free(r->t);
	ecr__free(r->host);
	ecr__free(r);
}

ecr_transport *ecr_registry_transport(const ecr_registry *reg)
{
	return reg->remote ? reg->remote->t : NULL;
}
