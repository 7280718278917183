/* AWS Signature Version 4 verification (ecr-api.md §1.3). */
#include "auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "../core/crypto.h"
#include "../core/digest.h"
#include "../remote/remote_repo.h"

#define SKEW_MS (5 * 60 * 1000)
#define MAX_PATH 8192
#define MAX_QUERY 8192
#define MAX_CANONICAL (256 * 1024)
#define ALGORITHM "AWS4-HMAC-SHA256"

static int incomplete(const char *msg)
{
	return ecr__fail(ECR_EINCOMPLETE_SIGNATURE, ECR_ERROR_POLICY, "%s", msg);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}
static bool is_lower_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* Copy [s, s+n) into dst[cap+1] when 1 <= n <= cap and every byte passes ok(). */
static bool take(char *dst, size_t cap, const char *s, size_t n, bool (*ok)(char))
{
	if (n < 1 || n > cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ok(s[i]))
			return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool key_char(char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
static bool scope_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || c == '-';
}
static bool header_name_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '_' || c == '.';
}

static int parse_credential(ecr__sigv4_auth *out, const char *v, size_t n)
{
	const char *part[5];
	size_t plen[5], k = 0;
	const char *start = v;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || v[i] == '/') {
			if (k == 5)
				return incomplete("Credential must have exactly 5 slash-separated parts: "
				                  "<key>/<YYYYMMDD>/<region>/<service>/aws4_request.");
			part[k] = start;
			plen[k++] = (size_t)(v + i - start);
			start = v + i + 1;
		}
	}
	if (k != 5)
		return incomplete("Credential must have exactly 5 slash-separated parts: "
		                  "<key>/<YYYYMMDD>/<region>/<service>/aws4_request.");
	if (!take(out->key_id, ECR__SIGV4_MAX_KEY_ID, part[0], plen[0], key_char))
		return incomplete("Credential has an invalid access key id.");
	if (!take(out->date, 8, part[1], plen[1], is_digit) || plen[1] != 8)
		return incomplete("Credential should be scoped to a valid date: YYYYMMDD.");
	if (!take(out->region, ECR__SIGV4_MAX_REGION, part[2], plen[2], scope_char))
		return incomplete("Credential should be scoped to a valid region.");
	if (!take(out->service, ECR__SIGV4_MAX_SERVICE, part[3], plen[3], scope_char))
		return incomplete("Credential should be scoped to a valid service.");
	if (plen[4] != 12 || memcmp(part[4], "aws4_request", 12) != 0)
		return incomplete("Credential should be scoped with a valid terminator: 'aws4_request'.");
	return 0;
}

static int parse_signed_headers(ecr__sigv4_auth *out, const char *v, size_t n)
{
	const char *prev = NULL, *start = v;
	size_t prev_len = 0, count = 0;
	bool host = false;
	if (n < 1 || n > ECR__SIGV4_MAX_SIGNED)
		return incomplete("SignedHeaders is empty or too long.");
	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != ';')
			continue;
		size_t len = (size_t)(v + i - start);
		if (len < 1 || len > 64)
			return incomplete("SignedHeaders has an empty or too long header name.");
		for (size_t j = 0; j < len; j++)
			if (!header_name_char(start[j]))
				return incomplete("SignedHeaders must be lowercase header names separated by ';'.");
		if (prev) {
			size_t m = prev_len < len ? prev_len : len;
			int c = memcmp(prev, start, m);
			if (c > 0 || (c == 0 && prev_len >= len))
				return incomplete("SignedHeaders must be sorted and without duplicates.");
		}
		if (++count > ECR__SIGV4_MAX_SIGNED_COUNT)
			return incomplete("SignedHeaders names too many headers.");
		if (len == 4 && memcmp(start, "host", 4) == 0)
			host = true;
		prev = start;
		prev_len = len;
		start = v + i + 1;
	}
	if (!host)
		return incomplete("SignedHeaders must include 'host'.");
	memcpy(out->signed_headers, v, n);
	out->signed_headers[n] = '\0';
	out->signed_count = count;
	return 0;
}

int ecr__sigv4_parse_authorization(ecr__sigv4_auth *out, const char *value, size_t len)
{
	static const char *const names[3] = {"Credential", "SignedHeaders", "Signature"};
	bool seen[3] = {false, false, false};
	const size_t alen = sizeof(ALGORITHM) - 1;
	size_t i = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!value || len == 0)
		return incomplete("Authorization header is empty.");
	if (len > ECR__SIGV4_MAX_HEADER)
		return incomplete("Authorization header is too long.");
	while (i < len && is_space(value[i]))
		i++;
	if (len - i < alen || memcmp(value + i, ALGORITHM, alen) != 0 || (len - i > alen && !is_space(value[i + alen])))
		return incomplete("Unsupported Authorization Type: only AWS4-HMAC-SHA256 is accepted.");
	i += alen;
	for (int part = 0;; part++) {
		while (i < len && is_space(value[i]))
			i++;
		if (i == len) {
			if (part == 0)
				break;
			return incomplete("Authorization header has an empty parameter after ','.");
		}
		size_t name_start = i;
		while (i < len && value[i] != '=' && value[i] != ',' && !is_space(value[i]))
			i++;
		size_t name_len = i - name_start;
		if (i == len || value[i] != '=')
			return incomplete("Authorization header parameters must be of the form Name=Value.");
		i++;
		size_t v_start = i;
		while (i < len && value[i] != ',' && !is_space(value[i]))
			i++;
		size_t v_len = i - v_start;
		int which = -1;
		for (int k = 0; k < 3; k++)
			if (strlen(names[k]) == name_len && memcmp(value + name_start, names[k], name_len) == 0)
				which = k;
		if (which < 0)
			return incomplete("Authorization header has an unknown parameter: expected Credential, "
			                  "SignedHeaders and Signature.");
		if (seen[which])
			return ecr__fail(ECR_EINCOMPLETE_SIGNATURE, ECR_ERROR_POLICY,
			                 "Authorization header has a duplicate '%s' parameter.", names[which]);
		seen[which] = true;
		const char *v = value + v_start;
		if (which == 0)
			rc = parse_credential(out, v, v_len);
		else if (which == 1)
			rc = parse_signed_headers(out, v, v_len);
		else
			rc = v_len == 64 && take(out->signature, 64, v, v_len, is_lower_hex)
			         ? 0
			         : incomplete("Signature must be 64 lowercase hexadecimal characters.");
		if (rc)
			return rc;
		while (i < len && is_space(value[i]))
			i++;
		if (i == len)
			break;
		if (value[i] != ',')
			return incomplete("Authorization header parameters must be separated by ','.");
		i++;
	}
	if (!seen[0] || !seen[1] || !seen[2]) {
		char msg[256];
		size_t o = 0;
		for (int k = 0; k < 3; k++)
			if (!seen[k])
				o += (size_t)snprintf(msg + o, sizeof(msg) - o,
				                      "%sAuthorization header requires '%s' parameter.", o ? " " : "",
				                      names[k]);
		memset(out, 0, sizeof(*out));
		return incomplete(msg);
	}
	return 0;
}

/* --- canonical request --- */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == '~';
}

static int uri_encode(ecr_buf *out, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			if ((rc = ecr__buf_put(out, s + i, 1)))
				return rc;
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			if ((rc = ecr__buf_put(out, e, 3)))
				return rc;
		}
	}
	return 0;
}

/* Path: remove '.' / '..' and empty segments (as botocore does), then URI-encode all but '/'. */
static int canonical_uri(ecr_buf *out, const char *path)
{
	size_t n = path ? strlen(path) : 0;
	ecr_buf norm = ECR_BUF_INIT;
	size_t *stack = NULL, depth = 0; /* offsets in norm where each kept segment starts ('/' included) */
	int rc = 0;

	if (n == 0)
		return ecr__buf_put(out, "/", 1);
	if (n > MAX_PATH)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "request path too long");
	if (!(stack = ecr__calloc(n / 2 + 2, sizeof(*stack))))
		return ECR_ENOMEM;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && path[j] != '/')
			j++;
		size_t len = j - i;
		if (len == 0 || (len == 1 && path[i] == '.')) {
			/* skip */
		} else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (depth > 0)
				norm.size = stack[--depth];
		} else {
			stack[depth++] = norm.size;
			if ((rc = ecr__buf_put(&norm, "/", 1)) || (rc = ecr__buf_put(&norm, path + i, len)))
				goto done;
		}
		i = j + 1;
	}
	/* botocore: leading '/' only if the path had one; trailing '/' kept when there are segments */
	const char *body = norm.size ? norm.ptr : "";
	size_t blen = norm.size;
	if (path[0] != '/' && blen) {
		body++;
		blen--;
	}
	if ((path[0] == '/' && (rc = ecr__buf_put(out, "/", blen ? 0 : 1))) || (rc = uri_encode(out, body, blen, true)))
		goto done;
	if (path[n - 1] == '/' && depth > 0)
		rc = ecr__buf_put(out, "/", 1);
done:
	ecr__free(stack);
	ecr_buf_dispose(&norm);
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode then encode canonically. */
static int query_component(ecr_buf *out, const char *s, size_t n)
{
	ecr_buf dec = ECR_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 && (l = hexval(s[i + 2])) >= 0) {
			char c = (char)(h * 16 + l);
			rc = ecr__buf_put(&dec, &c, 1);
			i += 2;
		} else {
			rc = ecr__buf_put(&dec, s + i, 1);
		}
	}
	if (!rc)
		rc = uri_encode(out, dec.ptr ? dec.ptr : "", dec.size, false);
	ecr_buf_dispose(&dec);
	return rc;
}

typedef struct qpair {
	char *key, *value;
} qpair;

static int qpair_cmp(const void *a, const void *b)
{
	const qpair *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->value, y->value);
}

static int canonical_query(ecr_buf *out, const char *query)
{
	size_t n = query ? strlen(query) : 0, count = 0;
	qpair *pairs = NULL;
	ecr_buf k = ECR_BUF_INIT, v = ECR_BUF_INIT;
	int rc = 0;

	if (n == 0)
		return 0;
	if (n > MAX_QUERY)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "query string too long");
	if (!(pairs = ecr__calloc(n / 2 + 2, sizeof(*pairs))))
		return ECR_ENOMEM;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && query[j] != '&')
			j++;
		if (j > i) {
			const char *eq = memchr(query + i, '=', j - i);
			size_t kl = eq ? (size_t)(eq - (query + i)) : j - i;
			ecr__buf_clear(&k);
			ecr__buf_clear(&v);
			if ((rc = query_component(&k, query + i, kl)) ||
			    (rc = eq ? query_component(&v, eq + 1, (size_t)(query + j - eq - 1)) : 0))
				goto done;
			pairs[count].key = ecr__strndup(k.ptr ? k.ptr : "", k.size);
			pairs[count].value = ecr__strndup(v.ptr ? v.ptr : "", v.size);
			count++;
			if (!pairs[count - 1].key || !pairs[count - 1].value) {
				rc = ECR_ENOMEM;
				goto done;
			}
		}
		i = j + 1;
	}
	qsort(pairs, count, sizeof(*pairs), qpair_cmp);
	for (size_t i = 0; i < count; i++)
		if ((i && (rc = ecr__buf_put(out, "&", 1))) || (rc = ecr__buf_puts(out, pairs[i].key)) ||
		    (rc = ecr__buf_put(out, "=", 1)) || (rc = ecr__buf_puts(out, pairs[i].value)))
			goto done;
done:
	for (size_t i = 0; i < count; i++) {
		ecr__free(pairs[i].key);
		ecr__free(pairs[i].value);
	}
	ecr__free(pairs);
	ecr_buf_dispose(&k);
	ecr_buf_dispose(&v);
	return rc;
}

static bool name_eq(const char *a, const char *b, size_t blen)
{
	return strlen(a) == blen && strncasecmp(a, b, blen) == 0;
}

/* Value trimmed, runs of spaces and tabs collapsed to one space. */
static int header_value(ecr_buf *out, const char *v)
{
	bool space = false, any = false;
	int rc;
	for (; v && *v; v++) {
		if (is_space(*v) || *v == '\r' || *v == '\n') {
			space = any;
			continue;
		}
		if ((space && (rc = ecr__buf_put(out, " ", 1))) || (rc = ecr__buf_put(out, v, 1)))
			return rc;
		space = false;
		any = true;
	}
	return 0;
}

int ecr__sigv4_canonical_request(ecr_buf *out, const ecr_sigv4_request *req, const ecr__sigv4_auth *auth)
{
	int rc;
	if (!req->method || !*req->method || strlen(req->method) > 16)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid request method");
	if (!req->payload_sha256 || strlen(req->payload_sha256) != 64)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "the payload hash must be 64 lowercase hex digits");
	for (size_t i = 0; i < 64; i++)
		if (!is_lower_hex(req->payload_sha256[i]))
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			                 "the payload hash must be 64 lowercase hex digits");
	if ((rc = ecr__buf_puts(out, req->method)) || (rc = ecr__buf_put(out, "\n", 1)) ||
	    (rc = canonical_uri(out, req->path)) || (rc = ecr__buf_put(out, "\n", 1)) ||
	    (rc = canonical_query(out, req->query)) || (rc = ecr__buf_put(out, "\n", 1)))
		return rc;
	const char *s = auth->signed_headers;
	while (*s) {
		const char *e = strchr(s, ';');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		bool first = true;
		if ((rc = ecr__buf_put(out, s, len)) || (rc = ecr__buf_put(out, ":", 1)))
			return rc;
		for (size_t i = 0; i < req->headers_count; i++) {
			const ecr_http_header *h = &req->headers[i];
			if (!h->name || !name_eq(h->name, s, len))
				continue;
			if ((!first && (rc = ecr__buf_put(out, ",", 1))) || (rc = header_value(out, h->value)))
				return rc;
			first = false;
		}
		if ((rc = ecr__buf_put(out, "\n", 1)))
			return rc;
		if (out->size > MAX_CANONICAL)
			return incomplete("The signed headers are too large.");
		s += len + (e ? 1 : 0);
	}
	if ((rc = ecr__buf_put(out, "\n", 1)) || (rc = ecr__buf_puts(out, auth->signed_headers)) ||
	    (rc = ecr__buf_put(out, "\n", 1)) || (rc = ecr__buf_puts(out, req->payload_sha256)))
		return rc;
	return 0;
}

/* --- verification --- */

int ecr_sigv4_request_init(ecr_sigv4_request *req, unsigned int version)
{
	int rc = ecr__check_version(version, ECR_SIGV4_REQUEST_VERSION, "ecr_sigv4_request");
	if (rc)
		return rc;
	memset(req, 0, sizeof(*req));
	req->version = version;
	return 0;
}

/* The one header of that name: 0 found, 1 absent; ECR_EINCOMPLETE_SIGNATURE when repeated. */
static int single_header(const char **out, const ecr_sigv4_request *req, const char *name)
{
	*out = NULL;
	for (size_t i = 0; i < req->headers_count; i++) {
		const ecr_http_header *h = &req->headers[i];
		if (!h->name || strcasecmp(h->name, name) != 0)
			continue;
		if (*out)
			return ecr__fail(ECR_EINCOMPLETE_SIGNATURE, ECR_ERROR_POLICY,
			                 "The request has more than one '%s' header.", name);
		*out = h->value ? h->value : "";
	}
	return *out ? 0 : 1;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool valid_ymdhms(int y, int mo, int d, int h, int mi, int s)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 60)
		return false;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	return true;
}

static int num(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "YYYYMMDDTHHMMSSZ" → ms. */
static bool parse_amz_date(const char *s, int64_t *ms)
{
	if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return false;
	int y = num(s, 4), mo = num(s + 4, 2), d = num(s + 6, 2), h = num(s + 9, 2), mi = num(s + 11, 2),
	    sec = num(s + 13, 2);
	if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0 || !valid_ymdhms(y, mo, d, h, mi, sec))
		return false;
	*ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000;
	return true;
}

/* RFC 7231 IMF-fixdate "Wed, 15 Jan 2025 12:00:00 GMT" → ms. */
static bool parse_http_date(const char *s, int64_t *ms)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
	    s[19] != ':' || s[22] != ':' || strcmp(s + 25, " GMT") != 0)
		return false;
	int mo = 0;
	for (int i = 0; i < 12; i++)
		if (memcmp(s + 8, months + 3 * i, 3) == 0)
			mo = i + 1;
	int d = num(s + 5, 2), y = num(s + 12, 4), h = num(s + 17, 2), mi = num(s + 20, 2), sec = num(s + 23, 2);
	if (!mo || y < 0 || d < 0 || h < 0 || mi < 0 || sec < 0 || !valid_ymdhms(y, mo, d, h, mi, sec))
		return false;
	*ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000;
	return true;
}

static void format_amz_date(char out[17], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms < 0 || !gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		strcpy(out, "00000000T000000Z");
}

static bool signed_has(const ecr__sigv4_auth *a, const char *name)
{
	size_t n = strlen(name);
	for (const char *s = a->signed_headers; *s;) {
		const char *e = strchr(s, ';');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len == n && memcmp(s, name, n) == 0)
			return true;
		s += len + (e ? 1 : 0);
	}
	return false;
}

/* The signature of a canonical request: the string to sign, the signing key from the secret, the HMAC. */
static int signature(char sig[65], const ecr_buf *canon, const char amz[17], const ecr__sigv4_auth *auth,
	const char *secret)
{
	ecr_buf sts = ECR_BUF_INIT, ksecret = ECR_BUF_INIT;
	char hash[ECR__DIGEST_STRLEN_MAX];
	unsigned char k[32], k2[32];
	int rc;
	if ((rc = ecr__digest_buf(hash, sizeof(hash), ECR__DIGEST_SHA256, canon->ptr, canon->size)) ||
	    (rc = ecr__buf_printf(&sts, ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", amz, auth->date, auth->region,
	                          auth->service, hash + 7)) ||
	    (rc = ecr__buf_puts(&ksecret, "AWS4")) || (rc = ecr__buf_puts(&ksecret, secret)))
		goto done;
	if ((rc = ecr__hmac_sha256(k, ksecret.ptr, ksecret.size, auth->date, 8)) ||
	    (rc = ecr__hmac_sha256(k2, k, 32, auth->region, strlen(auth->region))) ||
	    (rc = ecr__hmac_sha256(k, k2, 32, auth->service, strlen(auth->service))) ||
	    (rc = ecr__hmac_sha256(k2, k, 32, "aws4_request", 12)) ||
	    (rc = ecr__hmac_sha256(k, k2, 32, sts.ptr, sts.size)))
		goto done;
	ecr__hex_encode(sig, k, 32);
	sig[64] = '\0';
done:
	memset(k, 0, sizeof(k));
	memset(k2, 0, sizeof(k2));
	if (ksecret.ptr)
		memset(ksecret.ptr, 0, ksecret.size);
	ecr_buf_dispose(&ksecret);
	ecr_buf_dispose(&sts);
	return rc;
}

int ecr_auth_sigv4_verify(ecr_principal **principal_out, ecr_buf *region_out, ecr_registry *reg,
                          const ecr_sigv4_request *req)
{
	ecr__sigv4_auth auth;
	ecr__meta_principal m = {0};
	ecr_buf canon = ECR_BUF_INIT;
	char *secret = NULL, amz[17], sig[65];
	ecr__txn t = {0};
	const char *value, *date_value;
	int64_t ts = 0;
	int rc;

	if (principal_out)
		*principal_out = NULL;
	if (!principal_out || !reg || !req)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = ecr__check_version(req->version, ECR_SIGV4_REQUEST_VERSION, "ecr_sigv4_request")))
		return rc;
	if (req->headers_count && !req->headers)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "headers_count without headers");
	if (reg->remote)
		return ecr__remote_local_only(reg, "Verifying a SigV4 signature");

	rc = single_header(&value, req, "Authorization");
	if (rc == 1)
		return ecr__fail(ECR_EMISSING_AUTH, ECR_ERROR_POLICY, "Missing Authentication Token");
	if (rc || (rc = ecr__sigv4_parse_authorization(&auth, value, strlen(value))))
		return rc;
	rc = single_header(&value, req, "X-Amz-Security-Token");
	if (rc == 0)
		return ecr__fail(
		    ECR_EUNRECOGNIZED_CLIENT, ECR_ERROR_POLICY,
		    "The security token included in the request is invalid. (X-Amz-Security-Token: temporary "
		    "credentials are not supported here; sign with an access key of this registry.)");
	if (rc < 0)
		return rc;
	const char *service = req->service ? req->service : "ecr";
	if (strcmp(auth.service, service) != 0)
		return ecr__fail(ECR_EINVALID_SIGNATURE, ECR_ERROR_POLICY,
		                 "Credential should be scoped to correct service: '%s'. ", service);

	/* The date: X-Amz-Date, else Date. */
	const char *date_header = "x-amz-date";
	if ((rc = single_header(&date_value, req, "X-Amz-Date")) < 0)
		return rc;
	if (rc == 1) {
		date_header = "date";
		if ((rc = single_header(&date_value, req, "Date")) < 0)
			return rc;
		if (rc == 1)
			return incomplete(
			    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
	}
	if (strlen(date_value) > 64 ||
	    !(date_header[0] == 'x' ? parse_amz_date(date_value, &ts)
	                            : (parse_amz_date(date_value, &ts) || parse_http_date(date_value, &ts))))
		return ecr__fail(ECR_EINCOMPLETE_SIGNATURE, ECR_ERROR_POLICY,
		                 "Date must be in ISO-8601 'basic format'. Got '%.64s'.", date_value);
	if (!signed_has(&auth, date_header))
		return ecr__fail(ECR_EINCOMPLETE_SIGNATURE, ECR_ERROR_POLICY, "SignedHeaders must include '%s'.",
		                 date_header);
	if (date_header[0] == 'x')
		memcpy(amz, date_value, 17);
	else
		format_amz_date(amz, ts);
	if (memcmp(amz, auth.date, 8) != 0)
		return ecr__fail(
		    ECR_EINVALID_SIGNATURE, ECR_ERROR_POLICY,
		    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
		    "'%s' != '%.8s', from '%s'.",
		    auth.date, amz, amz);
	int64_t now = req->now_ms ? req->now_ms : ecr_registry_now(reg);
	if (ts < now - SKEW_MS || ts > now + SKEW_MS) {
		char limit[17], nows[17];
		bool past = ts < now - SKEW_MS;
		format_amz_date(limit, past ? now - SKEW_MS : now + SKEW_MS);
		format_amz_date(nows, now);
		return ecr__fail(ECR_EINVALID_SIGNATURE, ECR_ERROR_POLICY,
		                 past ? "Signature expired: %s is now earlier than %s (%s - 5 min.)"
		                      : "Signature not yet current: %s is still later than %s (%s + 5 min.)",
		                 amz, limit, nows);
	}

	/* The signer: one query. */
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	rc = ecr__meta_principal_get_by_key(&t, auth.key_id, &m, &secret);
	ecr__txn_rollback(&t);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_EUNRECOGNIZED_CLIENT, ECR_ERROR_POLICY,
		               "The security token included in the request is invalid.");
	if (rc)
		goto done;

	/* Canonical request, string to sign, signing key, signature. */
	if ((rc = ecr__sigv4_canonical_request(&canon, req, &auth)) ||
	    (rc = signature(sig, &canon, amz, &auth, secret)))
		goto done;
	if (ecr__memeq_ct(sig, auth.signature, 64) != 0) {
		rc = ecr__fail(
		    ECR_EINVALID_SIGNATURE, ECR_ERROR_POLICY,
		    "The request signature we calculated does not match the signature you provided. Check your AWS "
		    "Secret Access Key and signing method.");
		goto done;
	}
	if (region_out) {
		ecr__buf_clear(region_out);
		if ((rc = ecr__buf_puts(region_out, auth.region)))
			goto done;
	}
	rc = ecr__principal_from_meta(principal_out, reg, &m);
done:
	memset(sig, 0, sizeof(sig));
	if (secret) {
		memset(secret, 0, strlen(secret));
		ecr__free(secret);
	}
	ecr__meta_principal_dispose(&m);
	ecr_buf_dispose(&canon);
	return rc;
}

/* --- signing (the client side) --- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ecr__sigv4_sign(ecr_buf *authorization_out, const ecr_sigv4_request *req, const char *access_key,
	const char *secret, const char *region)
{
	ecr__sigv4_auth auth;
	ecr_buf canon = ECR_BUF_INIT;
	char *names[ECR__SIGV4_MAX_SIGNED_COUNT];
	size_t n = 0, used = 0;
	const char *amz;
	char sig[65];
	int rc;

	memset(&auth, 0, sizeof(auth));
	if (!authorization_out || !req || !access_key || !secret || !region)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	const char *service = req->service ? req->service : "ecr";
	if (strlen(access_key) > ECR__SIGV4_MAX_KEY_ID || !*access_key || strchr(access_key, '/') ||
	    strlen(region) > ECR__SIGV4_MAX_REGION || !*region || strchr(region, '/') ||
	    strlen(service) > ECR__SIGV4_MAX_SERVICE)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid SigV4 credential scope");
	if (req->headers_count > ECR__SIGV4_MAX_SIGNED_COUNT || (req->headers_count && !req->headers))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "too many headers to sign");
	rc = single_header(&amz, req, "X-Amz-Date");
	if (rc == 0 && !parse_amz_date(amz, &(int64_t){ 0 }))
		rc = 1;
	if (rc)
		return rc < 0 ? rc : ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "signing needs an X-Amz-Date header");
	if ((rc = single_header(&(const char *){ NULL }, req, "Host")))
		return rc < 0 ? rc : ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "signing needs a Host header");

	/* SignedHeaders: every header, lowercase, sorted, once. */
	for (size_t i = 0; i < req->headers_count; i++) {
		const char *h = req->headers[i].name;
		if (!h || !*h || strlen(h) > ECR__SIGV4_MAX_SIGNED) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid header name");
			goto done;
		}
		if (!(names[n] = ecr__strdup(h))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		for (char *c = names[n]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		n++;
	}
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && strcmp(names[i], names[i - 1]) == 0)
			continue;
		size_t len = strlen(names[i]);
		if (used + len + (used ? 1 : 0) > ECR__SIGV4_MAX_SIGNED) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "the signed headers are too long");
			goto done;
		}
		if (used)
			auth.signed_headers[used++] = ';';
		memcpy(auth.signed_headers + used, names[i], len);
		used += len;
		auth.signed_count++;
	}
	memcpy(auth.date, amz, 8);
	strcpy(auth.key_id, access_key);
	strcpy(auth.region, region);
	strcpy(auth.service, service);

	if ((rc = ecr__sigv4_canonical_request(&canon, req, &auth)) ||
	    (rc = signature(sig, &canon, amz, &auth, secret)))
		goto done;
	ecr__buf_clear(authorization_out);
	rc = ecr__buf_printf(authorization_out,
		ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s", access_key, amz,
		region, service, auth.signed_headers, sig);
done:
	for (size_t i = 0; i < n; i++)
		ecr__free(names[i]);
	ecr_buf_dispose(&canon);
	return rc;
}
