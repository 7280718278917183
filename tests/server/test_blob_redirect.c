/* Blob GETs answered 307 to a presigned URL (ecr_server_set_blob_redirect,
 * libecr/server/oci.c). The registry's blob store is a test double written
 * against the public vtable: it forwards everything to a memory store and
 * presigns to a known URL (the S3 store's real presigning is tested against
 * radosgw in tests/storage/test_blob_s3.c). A second double keeps the
 * version-1 layout (a backend built before presign existed): its blobs are
 * streamed. Requests through libcurl. */
#include "api_client.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecr/auth.h"
#include "ecr/sys/blob_store.h"
#include "libecr/core/crypto.h"
#include "libecr/core/digest.h"

#define FAKE_BASE "http://blobs.example.test/presigned/"

/* A presigning store over a memory store. */
typedef struct fake_store {
	ecr_blob_store base;
	ecr_blob_store *inner;
	int presigns;
	int64_t last_lifetime;
} fake_store;

/* The version-1 double (below) shares the forwarders: its inner store sits right after its smaller vtable. */
static ecr_blob_store *inner_of(ecr_blob_store *self);

static int f_stage_open(ecr_blob_store_writer **out, ecr_blob_store *self, const char *id, int create)
{
	ecr_blob_store *in = inner_of(self);
	return in->stage_open(out, in, id, create);
}
static int f_stage_remove(ecr_blob_store *self, const char *id)
{
	ecr_blob_store *in = inner_of(self);
	return in->stage_remove(in, id);
}
static int f_stage_list(ecr_blob_store *self, ecr_blob_store_stage_cb cb, void *payload)
{
	ecr_blob_store *in = inner_of(self);
	return in->stage_list(in, cb, payload);
}
static int f_read_open(ecr_blob_store_reader **out, ecr_blob_store *self, const char *digest, uint64_t offset)
{
	ecr_blob_store *in = inner_of(self);
	return in->read_open(out, in, digest, offset);
}
static int f_stat(ecr_blob_store *self, const char *digest, uint64_t *size)
{
	ecr_blob_store *in = inner_of(self);
	return in->stat(in, digest, size);
}
static int f_remove(ecr_blob_store *self, const char *digest)
{
	ecr_blob_store *in = inner_of(self);
	return in->remove(in, digest);
}
static int f_list(ecr_blob_store *self, ecr_blob_store_list_cb cb, void *payload)
{
	ecr_blob_store *in = inner_of(self);
	return in->list(in, cb, payload);
}
static void f_free(ecr_blob_store *self)
{
	fake_store *f = (fake_store *)self;
	ecr_blob_store_free(f->inner);
	free(f);
}
static int f_presign(ecr_blob_store *self, const char *digest, int64_t lifetime, ecr_buf *url_out)
{
	fake_store *f = (fake_store *)self;
	f->presigns++;
	f->last_lifetime = lifetime;
	ecr__buf_clear(url_out);
	return ecr__buf_printf(url_out, FAKE_BASE "%s?expires=%lld", digest, (long long)lifetime);
}

static fake_store *fake_new(void)
{
	fake_store *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_ok(ecr_blob_store_init(&f->base, ECR_BLOB_STORE_VERSION));
	assert_ok(ecr_blob_store_memory_new(&f->inner));
	f->base.stage_open = f_stage_open;
	f->base.stage_remove = f_stage_remove;
	f->base.stage_list = f_stage_list;
	f->base.read_open = f_read_open;
	f->base.stat = f_stat;
	f->base.remove = f_remove;
	f->base.list = f_list;
	f->base.free = f_free;
	f->base.presign = f_presign;
	return f;
}

/* The vtable as a backend built against the version-1 header has it: it ends before presign. */
typedef struct v1_vtable {
	unsigned int version;
	void *methods[8];
} v1_vtable;
typedef struct v1_store {
	v1_vtable base;
	ecr_blob_store *inner;
} v1_store;

static ecr_blob_store *inner_of(ecr_blob_store *self)
{
	return self->version == 1 ? ((v1_store *)(void *)self)->inner : ((fake_store *)self)->inner;
}

static void v1_free(ecr_blob_store *self)
{
	v1_store *v = (v1_store *)(void *)self;
	ecr_blob_store_free(v->inner);
	free(v);
}

static ecr_blob_store *v1_new(void)
{
	/* exactly as large as a version-1 backend: ASan reports any write or read past it */
	v1_store *v = malloc(sizeof(*v));
	ecr_blob_store *in = NULL;
	assert_non_null(v);
	_Static_assert(sizeof(v1_vtable) == offsetof(ecr_blob_store, presign), "version 1 layout");
	memset(v, 0xa5, sizeof(*v));
	assert_ok(ecr_blob_store_init((ecr_blob_store *)(void *)&v->base, 1));
	assert_int_equal(v->base.version, 1);
	for (size_t i = 0; i < 8; i++)
		assert_null(v->base.methods[i]);
	assert_ok(ecr_blob_store_memory_new(&in));
	v->inner = in;
	/* the forwarders, in the version-1 order: stage_open ... list, free */
	{
		int (*so)(ecr_blob_store_writer **, ecr_blob_store *, const char *, int) = f_stage_open;
		int (*sr)(ecr_blob_store *, const char *) = f_stage_remove;
		int (*sl)(ecr_blob_store *, ecr_blob_store_stage_cb, void *) = f_stage_list;
		int (*ro)(ecr_blob_store_reader **, ecr_blob_store *, const char *, uint64_t) = f_read_open;
		int (*st)(ecr_blob_store *, const char *, uint64_t *) = f_stat;
		int (*rm)(ecr_blob_store *, const char *) = f_remove;
		int (*ls)(ecr_blob_store *, ecr_blob_store_list_cb, void *) = f_list;
		void (*fr)(ecr_blob_store *) = v1_free;
		memcpy(&v->base.methods[0], &so, sizeof(void *));
		memcpy(&v->base.methods[1], &sr, sizeof(void *));
		memcpy(&v->base.methods[2], &sl, sizeof(void *));
		memcpy(&v->base.methods[3], &ro, sizeof(void *));
		memcpy(&v->base.methods[4], &st, sizeof(void *));
		memcpy(&v->base.methods[5], &rm, sizeof(void *));
		memcpy(&v->base.methods[6], &ls, sizeof(void *));
		memcpy(&v->base.methods[7], &fr, sizeof(void *));
	}
	return (ecr_blob_store *)(void *)&v->base;
}

typedef struct fixture {
	ecr_registry *reg;
	fake_store *fake; /* NULL when the store is another */
	ecr_repository *repo;
	ecr_server *srv;
	uint16_t port;
	char digest[ECR__DIGEST_STRLEN_MAX];
	char path[256];
} fixture;

static const char content[] = "0123456789abcdefghijklmnopqrstuvwxyz";

/* A registry on store (NULL: memory:) with one blob in "app/web", served with or without redirects. */
static void fixture_open(fixture *f, ecr_blob_store *store, uint32_t flags, int redirect)
{
	ecr_meta_store *meta = NULL;
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	memset(f, 0, sizeof(*f));
	if (store) {
		assert_ok(ecr_meta_store_sqlite_new(&meta, ":memory:", ECR_STORAGE_NOSYNC));
		assert_ok(ecr_registry_open_storage(&f->reg, store, meta, NULL));
	} else {
		assert_ok(ecr_registry_open(&f->reg, "memory:", NULL));
	}
	assert_ok(ecr_repository_create(&f->repo, f->reg, "app/web", NULL));
	assert_ok(ecr__digest_buf(f->digest, sizeof(f->digest), ECR__DIGEST_SHA256, content, sizeof(content) - 1));
	assert_ok(ecr_blob_put(f->repo, f->digest, content, sizeof(content) - 1));
	snprintf(f->path, sizeof(f->path), "/v2/app/web/blobs/%s", f->digest);
	o.flags = flags;
	assert_ok(ecr_server_new(&f->srv, &o));
	assert_ok(ecr_server_add_registry(f->srv, f->reg, NULL));
	assert_ok(ecr_server_set_blob_redirect(f->srv, redirect));
	assert_ok(ecr_server_start(f->srv));
	f->port = ecr_server_port(f->srv);
}

static void fixture_close(fixture *f)
{
	ecr_server_free(f->srv);
	ecr_repository_free(f->repo);
	ecr_registry_free(f->reg);
}

/* The value of a header in a raw header block, into out. */
static bool header_of(const reply *r, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	for (const char *p = r->headers; p && *p;) {
		const char *e = strstr(p, "\r\n");
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len > n + 1 && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			snprintf(out, size, "%.*s", (int)(len - (size_t)(v - p)), v);
			return true;
		}
		p += len + (e ? 2 : 0);
	}
	return false;
}

static void test_server_blob_redirect__get_redirects(void **state)
{
	fixture f;
	reply r = { 0 };
	char v[512], want[512];
	fake_store *fake = fake_new();
	(void)state;

	fixture_open(&f, &fake->base, ECR_SERVER_NO_AUTH, 1);
	assert_int_equal(api_request(&r, f.port, "GET", f.path, NULL, NULL, NULL), 307);
	assert_true(header_of(&r, "Location", v, sizeof(v)));
	snprintf(want, sizeof(want), FAKE_BASE "%s?expires=%d", f.digest, ECR_SERVER_BLOB_REDIRECT_SECONDS);
	assert_string_equal(v, want);
	assert_int_equal(fake->last_lifetime, 1200);
	assert_true(header_of(&r, "Docker-Content-Digest", v, sizeof(v)));
	assert_string_equal(v, f.digest);
	assert_int_equal(r.len, 0);
	assert_int_equal(fake->presigns, 1);

	/* HEAD: answered here, with the size. */
	assert_int_equal(api_request(&r, f.port, "HEAD", f.path, NULL, NULL, NULL), 200);
	assert_false(header_of(&r, "Location", v, sizeof(v)));
	assert_true(header_of(&r, "Content-Length", v, sizeof(v)));
	assert_int_equal(atoi(v), (int)sizeof(content) - 1);
	assert_int_equal(fake->presigns, 1);

	/* A blob the repository does not hold: 404, no URL. */
	assert_int_equal(api_request(&r, f.port, "GET",
		"/v2/app/web/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000", NULL, NULL,
		NULL), 404);
	assert_false(header_of(&r, "Location", v, sizeof(v)));
	/* nor of another repository that does not exist */
	snprintf(want, sizeof(want), "/v2/app/other/blobs/%s", f.digest);
	assert_int_equal(api_request(&r, f.port, "GET", want, NULL, NULL, NULL), 404);
	assert_int_equal(fake->presigns, 1);

	/* The setting cannot change while the server runs. */
	assert_int_equal(ecr_server_set_blob_redirect(f.srv, 0), ECR_EBUSY);
	assert_int_equal(ecr_server_set_blob_redirect(NULL, 1), ECR_EINVALID);
	reply_dispose(&r);
	fixture_close(&f);
}

/* Range requests are answered by the server itself, even with redirects on. */
static void test_server_blob_redirect__range_is_streamed(void **state)
{
	fixture f;
	fake_store *fake = fake_new();
	struct curl_slist *h = NULL;
	(void)state;

	fixture_open(&f, &fake->base, ECR_SERVER_NO_AUTH, 1);
	CURL *c = curl_easy_init();
	char url[512];
	struct {
		char buf[64];
		size_t len;
	} sink = { { 0 }, 0 };
	long status = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)f.port, f.path);
	h = curl_slist_append(h, "Range: bytes=10-15");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
	FILE *mem = fmemopen(sink.buf, sizeof(sink.buf), "w");
	assert_non_null(mem);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	fclose(mem);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	assert_int_equal(status, 206);
	assert_string_equal(sink.buf, "abcdef");
	assert_int_equal(fake->presigns, 0);
	fixture_close(&f);
}

/* Redirects off (the default): streamed, the store is not asked to presign. */
static void test_server_blob_redirect__off_streams(void **state)
{
	fixture f;
	reply r = { 0 };
	fake_store *fake = fake_new();
	(void)state;

	fixture_open(&f, &fake->base, ECR_SERVER_NO_AUTH, 0);
	assert_int_equal(api_request(&r, f.port, "GET", f.path, NULL, NULL, NULL), 200);
	assert_int_equal(r.len, sizeof(content) - 1);
	assert_memory_equal(r.body, content, sizeof(content) - 1);
	assert_int_equal(fake->presigns, 0);
	reply_dispose(&r);
	fixture_close(&f);
}

/* Stores that cannot presign: the memory store (presign NULL) and a version-1 backend. */
static void test_server_blob_redirect__store_without_presign_streams(void **state)
{
	fixture f;
	reply r = { 0 };
	ecr_buf url = ECR_BUF_INIT;
	char v[64];
	(void)state;

	fixture_open(&f, NULL, ECR_SERVER_NO_AUTH, 1);
	assert_int_equal(ecr_blob_download_url(&url, f.repo, f.digest, 60), ECR_ENOTSUPPORTED);
	assert_int_equal(api_request(&r, f.port, "GET", f.path, NULL, NULL, NULL), 200);
	assert_false(header_of(&r, "Location", v, sizeof(v)));
	assert_int_equal(r.len, sizeof(content) - 1);
	assert_memory_equal(r.body, content, sizeof(content) - 1);
	fixture_close(&f);

	fixture_open(&f, v1_new(), ECR_SERVER_NO_AUTH, 1);
	assert_int_equal(ecr_blob_download_url(&url, f.repo, f.digest, 60), ECR_ENOTSUPPORTED);
	assert_int_equal(api_request(&r, f.port, "GET", f.path, NULL, NULL, NULL), 200);
	assert_false(header_of(&r, "Location", v, sizeof(v)));
	assert_int_equal(r.len, sizeof(content) - 1);
	assert_memory_equal(r.body, content, sizeof(content) - 1);
	fixture_close(&f);
	ecr_buf_dispose(&url);
	reply_dispose(&r);
}

/* With authentication: only an authorized GET is redirected. */
static void test_server_blob_redirect__only_authorized(void **state)
{
	fixture f;
	reply r = { 0 };
	ecr_principal *p = NULL;
	ecr_buf tok = ECR_BUF_INIT, cred = ECR_BUF_INIT, b64 = ECR_BUF_INIT, auth = ECR_BUF_INIT;
	char v[512];
	fake_store *fake = fake_new();
	(void)state;

	fixture_open(&f, &fake->base, 0, 1);
	assert_int_equal(api_request(&r, f.port, "GET", f.path, NULL, NULL, NULL), 401);
	assert_false(header_of(&r, "Location", v, sizeof(v)));
	assert_int_equal(api_request(&r, f.port, "GET", f.path, NULL, "Basic QVdTOmZvcmdlZA==", NULL), 401);
	assert_int_equal(fake->presigns, 0);

	assert_ok(ecr_principal_create(&p, f.reg, "arn:aws:iam::123456789012:user/admin", ECR_PRINCIPAL_ADMIN));
	assert_ok(ecr_auth_token_create(&tok, NULL, f.reg, p));
	assert_ok(ecr__buf_printf(&cred, "AWS:%s", tok.ptr));
	assert_ok(ecr__base64_encode(&b64, cred.ptr, cred.size));
	assert_ok(ecr__buf_printf(&auth, "Basic %s", b64.ptr));
	assert_int_equal(api_request(&r, f.port, "GET", f.path, NULL, auth.ptr, NULL), 307);
	assert_true(header_of(&r, "Location", v, sizeof(v)));
	assert_int_equal(strncmp(v, FAKE_BASE, strlen(FAKE_BASE)), 0);
	assert_int_equal(fake->presigns, 1);

	ecr_principal_free(p);
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&cred);
	ecr_buf_dispose(&b64);
	ecr_buf_dispose(&auth);
	reply_dispose(&r);
	fixture_close(&f);
}

/* ecr_blob_download_url's own checks, on the presigning double. */
static void test_server_blob_redirect__download_url_arguments(void **state)
{
	fixture f;
	ecr_buf url = ECR_BUF_INIT;
	fake_store *fake = fake_new();
	(void)state;

	fixture_open(&f, &fake->base, ECR_SERVER_NO_AUTH, 0);
	assert_ok(ecr_blob_download_url(&url, f.repo, f.digest, 604800));
	assert_int_equal(fake->last_lifetime, 604800);
	assert_int_equal(strncmp(url.ptr, FAKE_BASE, strlen(FAKE_BASE)), 0);
	assert_int_equal(ecr_blob_download_url(&url, f.repo, f.digest, 604801), ECR_EINVALID);
	assert_int_equal(ecr_blob_download_url(&url, f.repo, f.digest, 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_download_url(&url, NULL, f.digest, 60), ECR_EINVALID);
	assert_int_equal(ecr_blob_download_url(&url, f.repo, "sha256:abc", 60), ECR_EINVALID);
	assert_int_equal(ecr_blob_download_url(&url, f.repo,
		"sha256:1111111111111111111111111111111111111111111111111111111111111111", 60), ECR_ENOTFOUND);
	assert_int_equal(fake->presigns, 1);
	ecr_buf_dispose(&url);
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_blob_redirect__get_redirects),
		cmocka_unit_test(test_server_blob_redirect__range_is_streamed),
		cmocka_unit_test(test_server_blob_redirect__off_streams),
		cmocka_unit_test(test_server_blob_redirect__store_without_presign_streams),
		cmocka_unit_test(test_server_blob_redirect__only_authorized),
		cmocka_unit_test(test_server_blob_redirect__download_url_arguments),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("server/blob_redirect", tests, NULL, NULL);
}
