/* Thread-local last error; the error table's names, exceptions, categories. */
#include "core.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "errors_table.h"

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
	int n = vsnprintf(tls_error.msg, sizeof(tls_error.msg), fmt, ap);
	if (n < 0)
		snprintf(tls_error.msg, sizeof(tls_error.msg), "%s", ecr_error_name(code));
	else if (suffix && (size_t)n < sizeof(tls_error.msg))
		snprintf(tls_error.msg + n, sizeof(tls_error.msg) - (size_t)n, ": %s", suffix);
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
