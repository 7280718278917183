/* Thread-local last error; the error table's names, exceptions, categories. */
#include "core.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "errors_table.h"
#include "ecr/sys/transport.h"

/* Messages are formatted into a fixed per-thread buffer, so that setting an
 * error never allocates (and so never fails). */
#define ECR__ERRMSG_MAX 1024

static _Thread_local struct {
	ecr_error pub;
	char msg[ECR__ERRMSG_MAX];
	bool set;
} tls_error;

static const ecr_error no_error = { "no error", ECR_ERROR_NONE, 0 };

const ecr_error *ecr_error_last(void)
{
	if (!tls_error.set)
		return &no_error;
	return &tls_error.pub;
}

void ecr_error_clear(void) { ecr__error_clear(); }

void ecr__error_clear(void)
{
	tls_error.set = false;
	tls_error.msg[0] = '\0';
}

static int error_vset(int code, int klass, const char *suffix, const char *fmt, va_list ap)
{
	/* Format into a scratch buffer first: the arguments may be the current message (a caller wrapping it). */
	char msg[sizeof(tls_error.msg)];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "%s", ecr_error_name(code));
	else if (suffix && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", suffix);
	memcpy(tls_error.msg, msg, sizeof(msg));
	tls_error.pub.message = tls_error.msg;
	tls_error.pub.klass = klass;
	tls_error.pub.code = code;
	tls_error.set = true;
	return code;
}

int ecr__fail(int code, int klass, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(code, klass, NULL, fmt, ap);
	va_end(ap);
	return code;
}

int ecr__fail_os(int code, int errnum, const char *fmt, ...)
{
	char ebuf[128];
	const char *es = strerror_r(errnum, ebuf, sizeof(ebuf));
	va_list ap;
	va_start(ap, fmt);
	error_vset(code, code == ECR_EIO ? ECR_ERROR_STORAGE : ECR_ERROR_OS, es, fmt, ap);
	va_end(ap);
	return code;
}

int ecr__fail_oom(void)
{
	static const char oom[] = "out of memory";
	memcpy(tls_error.msg, oom, sizeof(oom));
	tls_error.pub.message = tls_error.msg;
	tls_error.pub.klass = ECR_ERROR_NOMEMORY;
	tls_error.pub.code = ECR_ENOMEM;
	tls_error.set = true;
	return ECR_ENOMEM;
}

int ecr__error_recode(int code)
{
	if (tls_error.set)
		tls_error.pub.code = code;
	return code;
}

void ecr__error_save(ecr__error_saved *s)
{
	s->code = tls_error.set ? tls_error.pub.code : 0;
	s->klass = tls_error.set ? tls_error.pub.klass : 0;
	/* plain malloc: saving must not disturb the allocator under test */
	s->message = tls_error.set ? strdup(tls_error.msg) : NULL;
}

void ecr__error_restore(ecr__error_saved *s)
{
	if (s->code) {
		if (s->message)
			ecr__fail(s->code, s->klass, "%s", s->message);
		else
			ecr__fail_oom();
	} else {
		ecr__error_clear();
	}
	free(s->message);
	s->message = NULL;
}

int ecr__check_version(unsigned int version, unsigned int max, const char *name)
{
	if (version == 0 || version > max)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid version %u on %s", version, name);
	return 0;
}

/* The compiler checks that the table names every ecr_error_code value and
 * nothing else: an unknown name does not compile, a missing one warns. */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch-enum"
static const char *name_of(ecr_error_code code)
{
	switch (code) {
#define X(c, exc, cat, text) \
	case c: \
		return #c;
		ECR__ERROR_TABLE(X)
#undef X
	}
	return NULL;
}
#pragma GCC diagnostic pop

const char *ecr_error_name(int code)
{
	const char *n = name_of((ecr_error_code)code);
	return n ? n : "ECR_UNKNOWN";
}

const char *ecr_error_exception(int code)
{
	switch (code) {
#define X(c, exc, cat, text) \
	case c: \
		return exc;
		ECR__ERROR_TABLE(X)
#undef X
	}
	return "ServerException";
}

int ecr_error_category(int code)
{
	switch (code) {
#define X(c, exc, cat, text) \
	case c: \
		return cat;
		ECR__ERROR_TABLE(X)
#undef X
	}
	return ECR_ERROR;
}

/* --- remote errors (ecr/sys/transport.h) --- */

static const char *default_text(int code)
{
	switch (code) {
#define X(c, exc, cat, text) \
	case c: \
		return text;
		ECR__ERROR_TABLE(X)
#undef X
	}
	return "generic failure";
}

int ecr_transport_fail(int code, const char *message)
{
	if (code == ECR_ENOMEM && !message)
		return ecr__fail_oom();
	return ecr__fail(code, ECR_ERROR_TRANSPORT, "%s", message ? message : default_text(code));
}

/* The AWS-wide exceptions (authentication, throttling, protocol) and the ones
 * the table shares between several codes: these win over the table. */
static const struct {
	const char *type;
	int code;
} aws_exceptions[] = {
	{ "AccessDeniedException", ECR_EDENIED },
	{ "UnrecognizedClientException", ECR_EUNRECOGNIZED_CLIENT },
	{ "InvalidSignatureException", ECR_EINVALID_SIGNATURE },
	{ "SignatureDoesNotMatch", ECR_EINVALID_SIGNATURE },
	{ "ExpiredTokenException", ECR_EEXPIRED_TOKEN },
	{ "MissingAuthenticationTokenException", ECR_EMISSING_AUTH },
	{ "IncompleteSignatureException", ECR_EINCOMPLETE_SIGNATURE },
	{ "ThrottlingException", ECR_ETHROTTLED },
	{ "TooManyRequestsException", ECR_ETHROTTLED },
	{ "ValidationException", ECR_EVALIDATION },
	{ "SerializationException", ECR_EINVALID },
	{ "UnknownOperationException", ECR_ENOTSUPPORTED },
	{ "InvalidParameterException", ECR_EINVALID }, /* also ECR_EIMAGE_REFERENCED's: the message tells */
	{ "ServerException", ECR_ERROR },
};

int ecr_error_from_exception(const char *type)
{
	if (!type)
		return ECR_ERROR;
	const char *hash = strrchr(type, '#');
	if (hash)
		type = hash + 1;
	size_t len = strcspn(type, ":");
	while (len && (type[len - 1] == ' ' || type[len - 1] == '\t'))
		len--;
	if (len == 0)
		return ECR_ERROR;
	for (size_t i = 0; i < sizeof(aws_exceptions) / sizeof(aws_exceptions[0]); i++)
		if (strlen(aws_exceptions[i].type) == len && memcmp(aws_exceptions[i].type, type, len) == 0)
			return aws_exceptions[i].code;
#define X(c, exc, cat, text) \
	if (c != ECR_OK && strlen(exc) == len && memcmp(exc, type, len) == 0) \
		return c;
	ECR__ERROR_TABLE(X)
#undef X
	return ECR_ERROR;
}

/*
 * The inverse of what ecrd's /v2/ server answers (libecr/server/server.c
 * ecr__http_error_map, oci.c, v2_auth.c), so that a remote call fails with the
 * code the engine returned on the server. Where the server sends one OCI code
 * for several engine codes, the most common one wins:
 * - MANIFEST_UNKNOWN: ECR_EIMAGE_NOT_FOUND (also an archived image, ECR_EIMAGE_ARCHIVED);
 * - MANIFEST_BLOB_UNKNOWN: ECR_ELAYERS_NOT_FOUND (also ECR_EREFERENCED_IMAGES_NOT_FOUND);
 * - MANIFEST_INVALID: ECR_EINVALID (also an unsupported media type, ECR_EUNSUPPORTED);
 * - DIGEST_INVALID: ECR_EDIGEST (also a malformed digest or an unsupported algorithm);
 * - TAG_INVALID: ECR_EIMMUTABLE (the server also sends it for a malformed tag, which the library refuses
 *   before it sends anything);
 * - DENIED: ECR_EDENIED (also an expired token, ECR_EEXPIRED_TOKEN, and ECR_EIMAGE_REFERENCED);
 * - BLOB_UPLOAD_INVALID 416: ECR_ERANGE (also ECR_EBUSY);
 * - SIZE_INVALID 413: ECR_ELIMIT (what ecr__http_error_map sends for it), 400: ECR_EINVALID.
 */
int ecr_error_from_oci(const char *oci_code, int http_status)
{
	static const struct {
		const char *code;
		int status; /* 0: any */
		int rc;
	} map[] = {
		{ "BLOB_UNKNOWN", 416, ECR_ERANGE }, /* requested range not satisfiable */
		{ "BLOB_UNKNOWN", 0, ECR_ENOTFOUND },
		{ "BLOB_UPLOAD_UNKNOWN", 0, ECR_EUPLOAD },
		{ "BLOB_UPLOAD_INVALID", 416, ECR_ERANGE },
		{ "BLOB_UPLOAD_INVALID", 0, ECR_EINVALID },
		{ "DIGEST_INVALID", 0, ECR_EDIGEST },
		{ "MANIFEST_BLOB_UNKNOWN", 0, ECR_ELAYERS_NOT_FOUND },
		{ "MANIFEST_INVALID", 0, ECR_EINVALID },
		{ "MANIFEST_UNKNOWN", 0, ECR_EIMAGE_NOT_FOUND },
		{ "MANIFEST_UNVERIFIED", 0, ECR_EINVALID },
		{ "NAME_INVALID", 0, ECR_EINVALID },
		{ "NAME_UNKNOWN", 0, ECR_EREPOSITORY_NOT_FOUND },
		{ "SIZE_INVALID", 413, ECR_ELIMIT },
		{ "SIZE_INVALID", 0, ECR_EINVALID },
		{ "TAG_INVALID", 0, ECR_EIMMUTABLE },
		{ "UNAUTHORIZED", 0, ECR_EAUTH },
		{ "DENIED", 0, ECR_EDENIED },
		{ "UNSUPPORTED", 0, ECR_ENOTSUPPORTED },
		{ "TOOMANYREQUESTS", 0, ECR_ETHROTTLED },
		{ "PAGINATION_NUMBER_INVALID", 0, ECR_EINVALID },
	};
	if (oci_code && *oci_code)
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if ((map[i].status == 0 || map[i].status == http_status) && strcmp(map[i].code, oci_code) == 0)
				return map[i].rc;
	switch (http_status) {
	case 404:
		return ECR_ENOTFOUND;
	case 401:
		return ECR_EAUTH;
	case 403:
		return ECR_EDENIED;
	case 416:
		return ECR_ERANGE;
	case 429:
		return ECR_ETHROTTLED;
	case 502: /* a registry in front of another (a pull-through cache) that could not reach it */
	case 504:
		return ECR_ENETWORK;
	default:
		return ECR_ERROR;
	}
}
