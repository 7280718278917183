#include "remote_fixture.h"
#include "../server/api_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t rf_now;

int64_t rf_clock(void *payload)
{
	(void)payload;
	return rf_now;
}

void remote_fixture_open_remote(ecr_registry **out, remote_fixture *f, uint32_t flags)
{
	char url[64];
	ecr_registry_options r = ECR_REGISTRY_OPTIONS_INIT;
	ecr_principal *p = NULL;
	ecr_buf tok = ECR_BUF_INIT;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)f->port);
	if (flags & ECR_REMOTE_OCI_ONLY) { /* the data plane only: Basic with a token */
		assert_ok(ecr_principal_open(&p, f->backing, RF_ADMIN_ARN));
		assert_ok(ecr_auth_token_create(&tok, NULL, f->backing, p));
		ecr_principal_free(p);
		r.username = "AWS";
		r.password = tok.ptr;
	}
	r.access_key_id = f->key_id.ptr;
	r.secret_access_key = f->secret.ptr;
	r.region = "us-east-1";
	r.remote_flags = ECR_REMOTE_NO_RETRY | flags;
	if (f->opts.remote_clock)
		r.clock_cb = f->opts.clock_cb;
	assert_ok(ecr_registry_open(out, url, &r));
	ecr_buf_dispose(&tok);
}

remote_fixture *remote_fixture_new(const remote_fixture_opts *opts)
{
	remote_fixture *f = calloc(1, sizeof(*f));
	ecr_principal *p = NULL;
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	assert_non_null(f);
	rf_now = (int64_t)time(NULL) * 1000;
	f->opts = *opts;
	o.clock_cb = opts->clock_cb;
	o.account_id = opts->account_id;
	o.region = opts->region;
	assert_ok(ecr_registry_open(&f->local, "memory:", &o));
	assert_ok(ecr_registry_open(&f->backing, "memory:", &o));
	assert_ok(ecr_principal_create(&p, f->backing, RF_ADMIN_ARN, ECR_PRINCIPAL_ADMIN));
	assert_ok(ecr_principal_access_key_create(&f->key_id, &f->secret, p));
	ecr_principal_free(p);
	f->port = api_server_start(&f->srv, f->backing, 0);
	remote_fixture_open_remote(&f->remote, f, 0);
	return f;
}

void remote_fixture_free(remote_fixture *f)
{
	if (!f)
		return;
	ecr_registry_free(f->oci);
	ecr_registry_free(f->remote);
	ecr_server_free(f->srv);
	ecr_registry_free(f->backing);
	ecr_registry_free(f->local);
	ecr_buf_dispose(&f->key_id);
	ecr_buf_dispose(&f->secret);
	free(f);
}

void rf_say(ecr_buf *log, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	size_t n = strlen(line);
	log->ptr = realloc(log->ptr, log->size + n + 2);
	assert_non_null(log->ptr);
	memcpy(log->ptr + log->size, line, n);
	log->size += n;
	log->ptr[log->size++] = '\n';
	log->ptr[log->size] = '\0';
}
