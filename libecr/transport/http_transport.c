/*
 * The HTTP transport: construction from an http:// or https:// URL, info()
 * (what the registry offers) and free(). The OCI methods are in http_oci.c,
 * call() (the ECR API) in http_ecr.c.
 */
#include "http_transport.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>

#include "../core/lazy_curl.h"

#include "../core/json.h"

/* Split "<account>.dkr.ecr.<region>.amazonaws.com[.cn]" (lowercase); false for any other host. */
static bool ecr_host_parts(const char *host, char *account, size_t account_len, char *region, size_t region_len)
{
	const char *p = host, *dot;
	size_t n = 0;

	while (p[n] >= '0' && p[n] <= '9')
		n++;
	if (n != 12 || strncmp(p + n, ".dkr.ecr.", 9) != 0)
		return false;
	const char *r = p + n + 9;
	if (!(dot = strchr(r, '.')) || dot == r || (size_t)(dot - r) >= region_len)
		return false;
	if (strcmp(dot, ".amazonaws.com") != 0 && strcmp(dot, ".amazonaws.com.cn") != 0)
		return false;
	for (const char *c = r; c < dot; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
			return false;
	if (account_len <= n)
		return false;
	memcpy(account, p, n);
	account[n] = '\0';
	memcpy(region, r, (size_t)(dot - r));
	region[dot - r] = '\0';
	return true;
}

typedef struct parsed_url {
	char *scheme;
	char *host;
	char *port; /* NULL: the scheme's default */
} parsed_url;

static void parsed_url_dispose(parsed_url *u)
{
	curl_free(u->scheme);
	curl_free(u->host);
	curl_free(u->port);
	memset(u, 0, sizeof(*u));
}

/* Parse a registry URL: scheme http/https, a host, an optional port; nothing else. */
static int parse_url(parsed_url *out, const char *url)
{
	CURLU *u = NULL;
	char *part = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!url || !*url)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "empty registry URL");
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "registry URL %.200s: not http:// or https://", url);
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			                 "registry URL %.200s: spaces or control characters", url);
	if ((rc = ecr__lazy_curl()) < 0)
		return rc;
	if (!(u = curl_url()))
		return ecr__fail_oom();
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "registry URL %.200s: %s", url, curl_url_strerror(uc));
		goto done;
	}
	static const struct {
		CURLUPart part;
		const char *what;
	} forbidden[] = {
	    {CURLUPART_USER, "user information"},    {CURLUPART_PASSWORD, "user information"},
	    {CURLUPART_OPTIONS, "user information"}, {CURLUPART_QUERY, "a query"},
	    {CURLUPART_FRAGMENT, "a fragment"},
	};
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		if (curl_url_get(u, forbidden[i].part, &part, 0) == CURLUE_OK) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			               "registry URL %.200s has %s: give only http(s)://host[:port] (credentials go in "
			               "the options)",
			               url, forbidden[i].what);
			goto done;
		}
	}
	if (curl_url_get(u, CURLUPART_PATH, &part, 0) == CURLUE_OK && strcmp(part, "/") != 0 && strcmp(part, "") != 0) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		               "registry URL %.200s has a path (%.100s): give only http(s)://host[:port]", url, part);
		goto done;
	}
	curl_free(part);
	part = NULL;
	if (curl_url_get(u, CURLUPART_SCHEME, &out->scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &out->host, 0) != CURLUE_OK || !out->host[0]) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "registry URL %.200s: no host", url);
		goto done;
	}
	for (char *c = out->host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (curl_url_get(u, CURLUPART_PORT, &out->port, 0) == CURLUE_OK) {
		const char *def = strcmp(out->scheme, "https") == 0 ? "443" : "80";
		if (strcmp(out->port, def) == 0) {
			curl_free(out->port);
			out->port = NULL;
		}
	} else {
		out->port = NULL;
	}
done:
	curl_free(part);
	curl_url_cleanup(u);
	if (rc)
		parsed_url_dispose(out);
	return rc;
}

static char *join3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = ecr__malloc(la + lb + lc + 1);
	if (!s)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

/* Copy s (may be NULL: "") into an ecr_buf. */
static int buf_set(ecr_buf *b, const char *s)
{
	ecr__buf_clear(b);
	if (ecr__buf_puts(b, s ? s : ""))
		return ECR_ENOMEM;
	return 0;
}

static bool is_ecr_api_absent(int rc)
{
	return rc == ECR_ENOTSUPPORTED;
}

/*
 * Ask the ECR API for DescribeRegistry, to learn whether the registry has the
 * ECR control plane and its account id. The decision:
 * - success: it has the API (registryId becomes the account id when none was known);
 * - ECR_ENOTSUPPORTED (http_ecr.c's answer to 404/405/non-JSON replies): no ECR API;
 * - ECR_ENETWORK: the endpoint cannot be reached: fail (the registry, or the
 *   endpoint the caller named, is down: better said now than at the first call);
 * - any other failure (missing or refused credentials, access denied,
 *   throttled, a server error): a JSON 1.1 error came back, so the API is
 *   there; operations will fail with the same error when they are called.
 */

static int probe_ecr_api(ecr__http_transport *ht, bool *has_api)
{
	ecr_buf res = ECR_BUF_INIT;
	ecr__json *doc = NULL;
	int rc;

	*has_api = false;
	/* signed with the caller's credentials, or unsigned without (call() does both) */
	rc = ht->base.call(&res, &ht->base, "DescribeRegistry", "{}", 2);
	if (rc == 0) {
		/* a 2xx that is no DescribeRegistry answer (docker-registry answers POST / with 200 and no body) */
		const char *id = NULL;
		if (ecr__json_parse(&doc, res.ptr ? res.ptr : "", res.size, NULL) == 0)
			id = ecr__json_get_string(doc, "registryId");
		ecr__error_clear();
		*has_api = id != NULL;
		if (!id)
			ecr__log(&ht->log, ECR_LOG_DEBUG, "%s: no ECR API (DescribeRegistry gave no registryId)",
			         ht->base_url);
		else if (!ht->account_id && *id && strlen(id) <= 64 && !(ht->account_id = ecr__strdup(id)))
			rc = ECR_ENOMEM;
	} else if (is_ecr_api_absent(rc)) {
		ecr__log(&ht->log, ECR_LOG_DEBUG, "%s: no ECR API (%s)", ht->base_url, ecr_error_last()->message);
		ecr__error_clear();
		rc = 0;
	} else if (rc == ECR_ENETWORK || rc == ECR_ENOMEM) {
		/* fail with it */
	} else {
		ecr__log(&ht->log, ECR_LOG_DEBUG, "%s: the ECR API answered DescribeRegistry with an error (%s)",
		         ht->base_url, ecr_error_last()->message);
		ecr__error_clear();
		*has_api = true;
		rc = 0;
	}
	ecr__json_free(doc);
	ecr_buf_dispose(&res);
	return rc;
}

/* GET /v2/: the OCI Distribution API's version check. */
static int ping(ecr__http_transport *ht)
{
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	int rc;

	req.method = "GET";
	req.path = "/v2/";
	req.max_body = 64 * 1024;
	rc = ecr__http_do(&res, ht->data, &req);
	if (rc == ECR_EAUTH && !ht->basic_given && !ht->token_expires_at) {
		/* No credentials to answer the challenge with: the registry is there; operations will say EAUTH. */
		ecr__error_clear();
		rc = 0;
		goto done;
	}
	if (rc == ECR_EAUTH) {
		rc = ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "%s/v2/ refused the credentials: %s", ht->base_url,
		               ecr_error_last()->message);
		goto done;
	}
	if (rc)
		goto done;
	if (res.status >= 200 && res.status < 300)
		goto done;
	if (res.status == 401) {
		/* No credentials to answer the challenge with: the registry is there; operations will say EAUTH. */
		if (!ht->basic_given && !ht->token_expires_at)
			goto done;
		rc = ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "%s/v2/ refused the credentials (401)", ht->base_url);
		goto done;
	}
	if (res.status >= 500)
		rc = ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "%s/v2/ answered %ld", ht->base_url, res.status);
	else
		rc = ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_TRANSPORT,
		               "%s/v2/ answered %ld: not an OCI Distribution registry", ht->base_url, res.status);
done:
	ecr__http_response_dispose(&res);
	return rc;
}

static int http_info(uint32_t *features_out, ecr_buf *account_id_out, ecr_buf *region_out, ecr_buf *host_out,
                     ecr_transport *t)
{
	ecr__http_transport *ht = (ecr__http_transport *)t;
	bool has_api = false;
	int rc = 0;

	if (features_out)
		*features_out = 0;
	if (ht->api && !(ht->remote_flags & ECR_REMOTE_OCI_ONLY) && (rc = probe_ecr_api(ht, &has_api)))
		goto done;
	pthread_mutex_lock(&ht->lock);
	ht->features = has_api ? ECR_TRANSPORT_HAS_ECR_API : 0;
	ht->features_known = true;
	pthread_mutex_unlock(&ht->lock);
	if (!has_api && ht->api) {
		/* none there: call() answers ECR_ENOTSUPPORTED from now on (info runs before any other method) */
		ecr__http_free(ht->api);
		ht->api = NULL;
	}
	if (has_api && !ht->basic_given && (rc = ecr__http_ecr_refresh_token(ht))) {
		/*
		 * Refused AWS credentials are the registry refusing the caller
		 * (ECR_EAUTH, the message says why); a principal that may use the
		 * API but not get a token (access denied) goes on without one: the
		 * data plane will say so when it is used.
		 */
		if (rc == ECR_EMISSING_AUTH || rc == ECR_EUNRECOGNIZED_CLIENT || rc == ECR_EINVALID_SIGNATURE ||
		    rc == ECR_EINCOMPLETE_SIGNATURE || rc == ECR_EEXPIRED_TOKEN) {
			rc = ecr__error_recode(ECR_EAUTH);
			goto done;
		}
		if (rc != ECR_EDENIED)
			goto done;
		ecr__log(&ht->log, ECR_LOG_WARN, "%s: no registry token: %s", ht->base_url, ecr_error_last()->message);
		ecr__error_clear();
		rc = 0;
	}
	if ((rc = ping(ht)))
		goto done;
	pthread_mutex_lock(&ht->lock);
	ht->features |= ECR_TRANSPORT_HAS_OCI;
	uint32_t features = ht->features;
	pthread_mutex_unlock(&ht->lock);
	if (features_out)
		*features_out = features;
	if ((account_id_out && (rc = buf_set(account_id_out, ht->account_id))) ||
	    (region_out && (rc = buf_set(region_out, has_api || !ht->region_defaulted ? ht->region : NULL))) ||
	    (host_out && (rc = buf_set(host_out, ht->host))))
		goto done;
done:
	return rc;
}

static void http_free(ecr_transport *t)
{
	ecr__http_transport *ht = (ecr__http_transport *)t;
	if (!ht)
		return;
	ecr__http_free(ht->data);
	ecr__http_free(ht->api);
	ecr__free(ht->base_url);
	ecr__free(ht->host);
	ecr__free(ht->account_id);
	ecr__free(ht->region);
	ecr__aws_creds_dispose(&ht->creds);
	pthread_mutex_destroy(&ht->lock);
	ecr__free(ht);
}

int ecr__http_transport_new(ecr_transport **out, const char *url, const ecr_registry_options *opts)
{
	ecr__http_transport *ht = NULL;
	parsed_url pu = {0};
	char account[16] = "", host_region[64] = "";
	char *api_url = NULL, *env_region = NULL;
	bool amazon = false;
	int rc;

	*out = NULL;
	if (opts && (rc = ecr__check_version(opts->version, ECR_REGISTRY_OPTIONS_VERSION, "ecr_registry_options")))
		return rc;
	bool v3 = opts && opts->version >= 3;
	if ((rc = parse_url(&pu, url)))
		return rc;
	if (!(ht = ecr__calloc(1, sizeof(*ht)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	pthread_mutex_init(&ht->lock, NULL);
	ht->base.version = ECR_TRANSPORT_VERSION;
	ht->base.info = http_info;
	ht->base.call = ecr__http_ecr_call;
	ht->base.free = http_free;
	ecr__http_oci_install(&ht->base);
	if (opts) {
		ht->log.cb = opts->log_cb;
		ht->log.payload = opts->log_payload;
		ht->log.level = opts->log_level ? opts->log_level : ECR_LOG_WARN;
	}
	ht->remote_flags = v3 ? opts->remote_flags : 0;

	if (!(ht->host = pu.port ? join3(pu.host, ":", pu.port) : ecr__strdup(pu.host)) ||
	    !(ht->base_url = join3(pu.scheme, "://", ht->host))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	amazon = ecr_host_parts(pu.host, account, sizeof(account), host_region, sizeof(host_region));

	/* account id and region: the options, else the Amazon ECR host name */
	const char *acc = opts && opts->account_id ? opts->account_id : amazon ? account : NULL;
	if (acc && !(ht->account_id = ecr__strdup(acc))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	bool want_api = !(ht->remote_flags & ECR_REMOTE_OCI_ONLY);
	const char *rgn = opts && opts->region ? opts->region : amazon ? host_region : NULL;
	if (!rgn && want_api) {
		ht->region_defaulted = true;
		if (!(rgn = env_region = ecr__aws_region_default(v3 ? opts : NULL)))
			rgn = "us-east-1";
	}
	if (rgn && !(ht->region = ecr__strdup(rgn))) {
		rc = ECR_ENOMEM;
		goto done;
	}

	/* credentials */
	const char *user = v3 ? opts->username : NULL, *pass = v3 ? opts->password : NULL;
	ht->basic_given = user != NULL;
	if (want_api && (rc = ecr__aws_creds_resolve(&ht->creds, v3 ? opts : NULL)))
		goto done;

	ecr__http_config cfg = {0};
	cfg.base_url = ht->base_url;
	cfg.username = user;
	cfg.password = user ? (pass ? pass : "") : NULL;
	cfg.ca_file = v3 ? opts->ca_file : NULL;
	cfg.ca_path = v3 ? opts->ca_path : NULL;
	cfg.insecure = (ht->remote_flags & ECR_REMOTE_INSECURE) != 0;
	cfg.timeout_ms = v3 ? opts->timeout_ms : 0;
	cfg.max_retries = (ht->remote_flags & ECR_REMOTE_NO_RETRY) ? 0
	                  : (v3 && opts->max_retries)              ? opts->max_retries
	                                                           : 4;
	cfg.user_agent = v3 ? opts->user_agent : NULL;
	cfg.log = &ht->log;
	if ((rc = ecr__http_new(&ht->data, &cfg)))
		goto done;

	/* the ECR API endpoint: the option, else api.ecr.<region> for Amazon ECR, else the registry itself */
	if (want_api) {
		if (v3 && opts->api_endpoint) {
			parsed_url au = {0};
			if ((rc = parse_url(&au, opts->api_endpoint)))
				goto done;
			api_url = au.port ? ecr__malloc(strlen(au.scheme) + strlen(au.host) + strlen(au.port) + 5)
			                  : join3(au.scheme, "://", au.host);
			if (api_url && au.port)
				sprintf(api_url, "%s://%s:%s", au.scheme, au.host, au.port);
			parsed_url_dispose(&au);
		} else if (amazon) {
			const char *suffix =
			    strstr(pu.host, ".amazonaws.com.cn") ? ".amazonaws.com.cn" : ".amazonaws.com";
			size_t n = strlen("https://api.ecr.") + strlen(host_region) + strlen(suffix) + 1;
			if ((api_url = ecr__malloc(n)))
				snprintf(api_url, n, "https://api.ecr.%s%s", host_region, suffix);
		} else {
			api_url = ecr__strdup(ht->base_url);
		}
		if (!api_url) {
			rc = ECR_ENOMEM;
			goto done;
		}
		cfg.base_url = api_url;
		cfg.username = cfg.password = NULL; /* the API signs its requests (SigV4) */
		if ((rc = ecr__http_new(&ht->api, &cfg)))
			goto done;
	}
	*out = &ht->base;
	ht = NULL;
done:
	if (ht)
		http_free(&ht->base);
	ecr__free(api_url);
	ecr__free(env_region);
	parsed_url_dispose(&pu);
	return rc;
}
