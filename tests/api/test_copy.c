/* ecr_image_copy between local handles (memory:, file://) and, when the HTTP
 * transport is there, remote ones (in-process servers). */
#include "../helpers/helpers.h"
#include "../helpers/th_image.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libecr/core/digest.h"
#include "libecr/core/json.h"

#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"

typedef struct fixture {
	char *dir;
	char url[4200];
	ecr_registry *mem, *fs;
	ecr_repository *src, *src2, *dst, *dst2;
	uint64_t rng;
} fixture;

static int setup(void **state)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->dir = th_tmpdir();
	snprintf(f->url, sizeof(f->url), "file://%s", f->dir);
	opts.flags = ECR_STORAGE_NOSYNC;
	f->rng = 0x5eed1234u + (uint64_t)time(NULL);
	if (ecr_registry_open(&f->mem, "memory:", &opts) || ecr_registry_open(&f->fs, f->url, &opts) ||
	    ecr_repository_create(&f->src, f->mem, "team/src", NULL) ||
	    ecr_repository_create(&f->src2, f->mem, "team/other", NULL) ||
	    ecr_repository_create(&f->dst, f->fs, "copies/dst", NULL) ||
	    ecr_repository_create(&f->dst2, f->fs, "copies/dst2", NULL))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_repository_free(f->src);
	ecr_repository_free(f->src2);
	ecr_repository_free(f->dst);
	ecr_repository_free(f->dst2);
	ecr_registry_free(f->mem);
	ecr_registry_free(f->fs);
	th_rmtree(f->dir);
	free(f);
	return 0;
}

/* --- progress recording --- */

typedef struct counts {
	size_t ev[6];
	size_t calls;
	pthread_t thread;
	bool wrong_thread;
	bool totals_changed;
	bool went_back;
	uint64_t all_done, all_total;
	size_t blobs_done, blobs_total;
	/* Stop (return stop_rc) at the stop_after-th event of kind stop_on. */
	int stop_on;
	size_t stop_after;
	int stop_rc;
	bool stopped;
	size_t after_stop; /* calls after the callback asked to stop */
} counts;

static void counts_init(counts *c)
{
	memset(c, 0, sizeof(*c));
	c->thread = pthread_self();
	c->stop_on = -1;
}

static int count_cb(const ecr_copy_progress *p, void *payload)
{
	counts *c = payload;
	if (!pthread_equal(c->thread, pthread_self()))
		c->wrong_thread = true;
	if (p->version != ECR_COPY_PROGRESS_VERSION || (unsigned)p->event > ECR_COPY_MANIFEST_DONE || !p->digest)
		c->wrong_thread = true; /* reported as a malformed report below */
	if (c->calls && (p->all_bytes_total != c->all_total || p->blobs_total != c->blobs_total))
		c->totals_changed = true;
	if (p->all_bytes_done < c->all_done || p->blobs_done < c->blobs_done || p->bytes_done > p->bytes_total)
		c->went_back = true;
	c->all_done = p->all_bytes_done;
	c->all_total = p->all_bytes_total;
	c->blobs_done = p->blobs_done;
	c->blobs_total = p->blobs_total;
	if (c->stopped)
		c->after_stop++;
	c->calls++;
	c->ev[p->event]++;
	if ((int)p->event == c->stop_on && c->ev[p->event] == c->stop_after) {
		c->stopped = true;
		return c->stop_rc;
	}
	return 0;
}

static void counts_check(const counts *c)
{
	assert_false(c->wrong_thread);
	assert_false(c->totals_changed);
	assert_false(c->went_back);
	assert_int_equal(c->after_stop, 0);
}

/* --- helpers --- */

static void digest_of(char out[ECR__DIGEST_STRLEN_MAX], const void *data, size_t len)
{
	assert_ok(ecr__digest_buf(out, ECR__DIGEST_STRLEN_MAX, ECR__DIGEST_SHA256, data, len));
}

static void random_image(fixture *f, th_image *img, size_t layers, const size_t *sizes)
{
	assert_ok(th_image_random(img, &f->rng, layers, sizes));
}

static void push(ecr_repository *repo, const th_image *img, const char *tag)
{
	if (th_image_push(repo, img, tag, 1 << 20))
		fail_msg("push: %s", th_problem());
}

static void verify_exact(ecr_repository *repo, const th_image *img)
{
	if (th_image_verify_exact(repo, img))
		fail_msg("verify: %s", th_problem());
}

static void expect_no_image(ecr_repository *repo, const char *ref)
{
	ecr_image *img = NULL;
	int rc = ecr_image_get(&img, repo, ref, ECR_IMAGE_GET_ANY_STATUS);
	ecr_image_free(img);
	assert_int_equal(rc, ECR_EIMAGE_NOT_FOUND);
}

static void expect_image(ecr_repository *repo, const char *ref, const char *digest)
{
	ecr_image *img = NULL;
	assert_ok(ecr_image_get(&img, repo, ref, 0));
	assert_string_equal(ecr_image_digest(img), digest);
	ecr_image_free(img);
}

static void expect_blob(ecr_repository *repo, const char *digest, bool present)
{
	int rc = ecr_blob_stat(repo, digest, NULL);
	assert_int_equal(rc, present ? 0 : ECR_ENOTFOUND);
}

static size_t image_list_count(ecr_repository *repo)
{
	ecr_image_iterator *it = NULL;
	ecr_image *img = NULL;
	size_t n = 0;
	int rc;
	assert_ok(ecr_image_iterator_new(&it, repo, NULL));
	while ((rc = ecr_image_iterator_next(&img, it)) == 0) /* img is borrowed */
		n++;
	assert_int_equal(rc, ECR_ITEROVER);
	ecr_image_iterator_free(it);
	return n;
}

/* --- cases --- */

static void test_api_copy__options_init(void **state)
{
	ecr_copy_options o;
	(void)state;
	memset(&o, 0xff, sizeof(o));
	assert_ok(ecr_copy_options_init(&o, ECR_COPY_OPTIONS_VERSION));
	assert_int_equal(o.version, ECR_COPY_OPTIONS_VERSION);
	assert_null(o.platforms);
	assert_int_equal(o.parallel, 0);
	assert_int_equal(o.flags, 0);
	assert_null(o.progress_cb);
	assert_int_equal(ecr_copy_options_init(&o, 0), ECR_EINVALID);
	assert_int_equal(ecr_copy_options_init(&o, ECR_COPY_OPTIONS_VERSION + 1), ECR_EINVALID);
}

static void test_api_copy__bad_arguments(void **state)
{
	fixture *f = *state;
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	o.version = 99;
	assert_int_equal(ecr_image_copy(NULL, f->dst, NULL, f->src, "latest", &o), ECR_EINVALID);
	assert_int_equal(ecr_image_copy(NULL, NULL, NULL, f->src, "latest", NULL), ECR_EINVALID);
	assert_int_equal(ecr_image_copy(NULL, f->dst, NULL, f->src, NULL, NULL), ECR_EINVALID);
	assert_int_equal(ecr_image_copy(NULL, f->dst, "bad tag!", f->src, "latest", NULL), ECR_EINVALID);
	assert_int_equal(ecr_image_copy(NULL, f->dst, NULL, f->src, "nope", NULL), ECR_EIMAGE_NOT_FOUND);
}

static void test_api_copy__single_across_registries(void **state)
{
	fixture *f = *state;
	th_image img;
	size_t sizes[] = {1000, 70000, 300000};
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	ecr_buf d = ECR_BUF_INIT;
	counts c;

	random_image(f, &img, 3, sizes);
	push(f->src, &img, "v1");
	counts_init(&c);
	o.progress_cb = count_cb;
	o.progress_payload = &c;
	assert_ok(ecr_image_copy(&d, f->dst, "copied", f->src, "v1", &o));
	assert_string_equal(d.ptr, img.digest);
	verify_exact(f->dst, &img);
	expect_image(f->dst, "copied", img.digest);
	expect_no_image(f->dst, "v1");

	counts_check(&c);
	assert_int_equal(c.ev[ECR_COPY_BLOB_START], 4);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 4);
	assert_int_equal(c.ev[ECR_COPY_BLOB_SKIPPED], 0);
	assert_int_equal(c.ev[ECR_COPY_BLOB_MOUNTED], 0);
	assert_int_equal(c.ev[ECR_COPY_MANIFEST_DONE], 1);
	assert_int_equal(c.blobs_total, 4);
	assert_int_equal(c.blobs_done, 4);
	assert_int_equal(c.all_total, img.config.len + 1000 + 70000 + 300000);
	assert_int_equal(c.all_done, c.all_total);

	/* Again: everything is there, by digest this time. */
	counts_init(&c);
	ecr_buf_dispose(&d);
	assert_ok(ecr_image_copy(&d, f->dst, NULL, f->src, img.digest, &o));
	assert_string_equal(d.ptr, img.digest);
	assert_int_equal(c.ev[ECR_COPY_BLOB_SKIPPED], 4);
	assert_int_equal(c.ev[ECR_COPY_BLOB_START], 0);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 0);
	counts_check(&c);

	/* Back the other way, from file:// to memory:, without options. */
	ecr_buf_dispose(&d);
	assert_ok(ecr_image_copy(&d, f->src2, "back", f->dst, "copied", NULL));
	verify_exact(f->src2, &img);
	expect_image(f->src2, "back", img.digest);
	ecr_buf_dispose(&d);
	th_image_dispose(&img);
}

static void test_api_copy__skip_existing(void **state)
{
	fixture *f = *state;
	th_image img;
	size_t sizes[] = {5000, 6000, 7000};
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	counts c;

	random_image(f, &img, 3, sizes);
	push(f->src, &img, "skip");
	assert_ok(th_blob_push(f->dst, &img.layers[0], 0));
	assert_ok(th_blob_push(f->dst, &img.config, 0));
	counts_init(&c);
	o.progress_cb = count_cb;
	o.progress_payload = &c;
	assert_ok(ecr_image_copy(NULL, f->dst, "skip", f->src, "skip", &o));
	verify_exact(f->dst, &img);
	counts_check(&c);
	assert_int_equal(c.ev[ECR_COPY_BLOB_SKIPPED], 2);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 2);
	assert_int_equal(c.ev[ECR_COPY_BLOB_START], 2);
	assert_int_equal(c.blobs_done, 4);
	assert_int_equal(c.all_done, c.all_total);
	th_image_dispose(&img);
}

static void test_api_copy__mount_within_registry(void **state)
{
	fixture *f = *state;
	th_image img;
	size_t sizes[] = {100, 200};
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	ecr_repository *third = NULL;
	counts c;

	random_image(f, &img, 2, sizes);
	push(f->src, &img, "m");
	counts_init(&c);
	o.progress_cb = count_cb;
	o.progress_payload = &c;
	assert_ok(ecr_image_copy(NULL, f->src2, "m", f->src, "m", &o));
	verify_exact(f->src2, &img);
	counts_check(&c);
	assert_int_equal(c.ev[ECR_COPY_BLOB_MOUNTED], 3);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 0);
	assert_int_equal(c.all_done, c.all_total);

	/* ECR_COPY_NO_MOUNT: the bytes are copied. */
	assert_ok(ecr_repository_create(&third, f->mem, "team/third", NULL));
	counts_init(&c);
	o.flags = ECR_COPY_NO_MOUNT;
	assert_ok(ecr_image_copy(NULL, third, "m", f->src, "m", &o));
	verify_exact(third, &img);
	assert_int_equal(c.ev[ECR_COPY_BLOB_MOUNTED], 0);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 3);
	ecr_repository_free(third);
	th_image_dispose(&img);
}

/* An index of three platform images pushed to src under tag. */
typedef struct multi {
	th_image imgs[3];
	char *index;
	size_t index_len;
	char digest[ECR__DIGEST_STRLEN_MAX];
} multi;

static const char *const multi_platforms[3][3] = {
    {"linux", "amd64", NULL}, {"linux", "arm64", "v8"}, {"linux", "arm", "v7"}};

static void multi_push(fixture *f, multi *m, const char *tag)
{
	char buf[8192];
	size_t n = 0;
	memset(m, 0, sizeof(*m));
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
	                      "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[");
	for (int i = 0; i < 3; i++) {
		size_t sizes[] = {1000 + (size_t)i, 2000};
		random_image(f, &m->imgs[i], 2, sizes);
		push(f->src, &m->imgs[i], NULL);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		                      "%s{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
		                      "\"platform\":{\"architecture\":\"%s\",\"os\":\"%s\"%s%s%s}}",
		                      i ? "," : "", m->imgs[i].digest, m->imgs[i].manifest_len, multi_platforms[i][1],
		                      multi_platforms[i][0], multi_platforms[i][2] ? ",\"variant\":\"" : "",
		                      multi_platforms[i][2] ? multi_platforms[i][2] : "",
		                      multi_platforms[i][2] ? "\"" : "");
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
	                      "],\"annotations\":{\"org.opencontainers.image.ref.name\":\"multi\",\"n\":\"3\"}}");
	assert_true(n < sizeof(buf));
	m->index = strdup(buf);
	m->index_len = n;
	digest_of(m->digest, m->index, n);
	assert_ok(ecr_image_put(NULL, f->src, tag, m->digest, MT_INDEX, m->index, n, 0));
}

static void multi_dispose(multi *m)
{
	for (int i = 0; i < 3; i++)
		th_image_dispose(&m->imgs[i]);
	free(m->index);
}

static void test_api_copy__index_all(void **state)
{
	fixture *f = *state;
	multi m;
	ecr_buf d = ECR_BUF_INIT;
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	counts c;

	multi_push(f, &m, "multi");
	counts_init(&c);
	o.progress_cb = count_cb;
	o.progress_payload = &c;
	assert_ok(ecr_image_copy(&d, f->dst, "multi", f->src, "multi", &o));
	assert_string_equal(d.ptr, m.digest);
	expect_image(f->dst, "multi", m.digest);
	for (int i = 0; i < 3; i++)
		verify_exact(f->dst, &m.imgs[i]);
	assert_int_equal(c.ev[ECR_COPY_MANIFEST_DONE], 4);
	assert_int_equal(c.blobs_total, 9);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 9);
	counts_check(&c);
	ecr_buf_dispose(&d);
	multi_dispose(&m);
}

static void test_api_copy__index_one_platform(void **state)
{
	fixture *f = *state;
	multi m;
	ecr_buf d = ECR_BUF_INIT;
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	const char *want[] = {"linux/arm64"}; /* no variant: matches linux/arm64/v8 */

	multi_push(f, &m, "multi1");
	o.platforms = want;
	o.platforms_count = 1;
	assert_ok(ecr_image_copy(&d, f->dst, "arm64", f->src, "multi1", &o));
	assert_string_equal(d.ptr, m.imgs[1].digest);
	expect_image(f->dst, "arm64", m.imgs[1].digest);
	verify_exact(f->dst, &m.imgs[1]);
	expect_no_image(f->dst, m.digest);
	expect_no_image(f->dst, m.imgs[0].digest);
	expect_no_image(f->dst, m.imgs[2].digest);
	expect_blob(f->dst, m.imgs[0].layers[0].digest, false);

	/* A platform the index lacks. */
	want[0] = "linux/s390x";
	ecr_error_clear();
	assert_int_equal(ecr_image_copy(NULL, f->dst2, "x", f->src, "multi1", &o), ECR_ENOTFOUND);
	assert_non_null(strstr(ecr_error_last()->message, "linux/s390x"));
	want[0] = "linux/arm64/v9";
	assert_int_equal(ecr_image_copy(NULL, f->dst2, "x", f->src, "multi1", &o), ECR_ENOTFOUND);
	want[0] = "linux";
	assert_int_equal(ecr_image_copy(NULL, f->dst2, "x", f->src, "multi1", &o), ECR_EINVALID);
	assert_int_equal(image_list_count(f->dst2), 0);

	/* Platforms are ignored for a single image. */
	want[0] = "linux/s390x";
	ecr_buf_dispose(&d);
	assert_ok(ecr_image_copy(&d, f->dst2, "single", f->src, m.imgs[2].digest, &o));
	assert_string_equal(d.ptr, m.imgs[2].digest);
	ecr_buf_dispose(&d);
	multi_dispose(&m);
}

static void test_api_copy__index_two_platforms(void **state)
{
	fixture *f = *state;
	multi m;
	ecr_buf d = ECR_BUF_INIT;
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	const char *want[] = {"linux/arm/v7", "linux/amd64", "linux/amd64"};
	ecr_image *img = NULL;
	const void *bytes;
	size_t len;
	ecr__json *doc = NULL;
	const ecr__json *mans, *ann;
	char check[ECR__DIGEST_STRLEN_MAX];

	multi_push(f, &m, "multi2");
	o.platforms = want;
	o.platforms_count = 3;
	assert_ok(ecr_image_copy(&d, f->dst, "two", f->src, "multi2", &o));
	assert_string_not_equal(d.ptr, m.digest);
	expect_no_image(f->dst, m.digest);
	verify_exact(f->dst, &m.imgs[0]);
	verify_exact(f->dst, &m.imgs[2]);
	expect_no_image(f->dst, m.imgs[1].digest);

	assert_ok(ecr_image_get(&img, f->dst, "two", 0));
	assert_string_equal(ecr_image_digest(img), d.ptr);
	assert_string_equal(ecr_image_media_type(img), MT_INDEX);
	assert_ok(ecr_image_manifest(&bytes, &len, img));
	digest_of(check, bytes, len);
	assert_string_equal(check, d.ptr);
	assert_ok(ecr__json_parse(&doc, bytes, len, NULL));
	assert_string_equal(ecr__json_get_string(doc, "mediaType"), MT_INDEX);
	ann = ecr__json_get(doc, "annotations");
	assert_non_null(ann);
	assert_string_equal(ecr__json_get_string(ann, "org.opencontainers.image.ref.name"), "multi");
	mans = ecr__json_get(doc, "manifests");
	assert_non_null(mans);
	assert_int_equal(mans->count, 2);
	/* In the index's order. */
	assert_string_equal(ecr__json_get_string(ecr__json_at(mans, 0), "digest"), m.imgs[0].digest);
	assert_string_equal(ecr__json_get_string(ecr__json_at(mans, 1), "digest"), m.imgs[2].digest);
	assert_string_equal(ecr__json_get_string(ecr__json_get(ecr__json_at(mans, 1), "platform"), "variant"), "v7");
	/* Members in their original order. */
	assert_string_equal(doc->keys[0], "schemaVersion");
	assert_string_equal(doc->keys[1], "mediaType");
	assert_string_equal(doc->keys[2], "manifests");
	assert_string_equal(doc->keys[3], "annotations");
	ecr__json_free(doc);
	ecr_image_free(img);
	ecr_buf_dispose(&d);
	multi_dispose(&m);
}

/* An artifact manifest whose subject is subject_digest, with one layer blob pushed to repo. */
static void push_referrer(fixture *f, ecr_repository *repo, const char *subject_digest, size_t subject_len,
                          const char *subject_mt, char out[ECR__DIGEST_STRLEN_MAX], th_blob *blob)
{
	char buf[2048];
	int n;
	assert_ok(th_blob_random(blob, &f->rng, 300));
	assert_ok(th_blob_push(repo, blob, 0));
	assert_ok(
	    ecr_blob_put(repo, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "{}", 2));
	n = snprintf(buf, sizeof(buf),
	             "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST
	             "\",\"artifactType\":\"application/example.sig\","
	             "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":"
	             "\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},"
	             "\"layers\":[{\"mediaType\":\"application/example.sig.v1\",\"digest\":\"%s\",\"size\":%zu}],"
	             "\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}}",
	             blob->digest, blob->len, subject_mt, subject_digest, subject_len);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	digest_of(out, buf, (size_t)n);
	assert_ok(ecr_image_put(NULL, repo, NULL, out, MT_MANIFEST, buf, (size_t)n, 0));
}

static void test_api_copy__referrers(void **state)
{
	fixture *f = *state;
	th_image img;
	th_blob sig1, sig2;
	size_t sizes[] = {500};
	char r1[ECR__DIGEST_STRLEN_MAX], r2[ECR__DIGEST_STRLEN_MAX];
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	ecr_image *got = NULL;

	random_image(f, &img, 1, sizes);
	push(f->src, &img, "signed");
	push_referrer(f, f->src, img.digest, img.manifest_len, MT_MANIFEST, r1, &sig1);
	{
		/* A signature of the signature. */
		ecr_image *ri = NULL;
		assert_ok(ecr_image_get(&ri, f->src, r1, 0));
		push_referrer(f, f->src, r1, (size_t)ecr_image_manifest_size(ri), MT_MANIFEST, r2, &sig2);
		ecr_image_free(ri);
	}

	/* Without the flag: the image alone. */
	assert_ok(ecr_image_copy(NULL, f->dst, "plain", f->src, "signed", NULL));
	expect_no_image(f->dst, r1);
	expect_blob(f->dst, sig1.digest, false);

	o.flags = ECR_COPY_REFERRERS;
	assert_ok(ecr_image_copy(NULL, f->dst2, "signed", f->src, "signed", &o));
	verify_exact(f->dst2, &img);
	expect_image(f->dst2, "signed", img.digest);
	assert_ok(ecr_image_get(&got, f->dst2, r1, 0));
	assert_string_equal(ecr_image_subject(got), img.digest);
	assert_int_equal(ecr_image_tag_count(got), 0);
	ecr_image_free(got);
	assert_ok(ecr_image_get(&got, f->dst2, r2, 0));
	assert_string_equal(ecr_image_subject(got), r1);
	ecr_image_free(got);
	expect_blob(f->dst2, sig1.digest, true);
	expect_blob(f->dst2, sig2.digest, true);
	assert_int_equal(image_list_count(f->dst2), 3);
	th_blob_dispose(&sig1);
	th_blob_dispose(&sig2);
	th_image_dispose(&img);
}

static void test_api_copy__callback_stops(void **state)
{
	fixture *f = *state;
	th_image img;
	size_t sizes[] = {100, 200, 300, 400, 500, 600};
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	counts c;
	multi m;
	int rc;

	random_image(f, &img, 6, sizes);
	push(f->src, &img, "stop");
	counts_init(&c);
	c.stop_on = ECR_COPY_BLOB_DONE;
	c.stop_after = 2;
	c.stop_rc = ECR_EUSER;
	o.progress_cb = count_cb;
	o.progress_payload = &c;
	o.parallel = 2;
	rc = ecr_image_copy(NULL, f->dst, "stop", f->src, "stop", &o);
	assert_int_equal(rc, ECR_EUSER);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 2); /* no report after the stop */
	assert_int_equal(c.ev[ECR_COPY_MANIFEST_DONE], 0);
	counts_check(&c);
	expect_no_image(f->dst, "stop");
	expect_no_image(f->dst, img.digest);

	/* Any non-zero value is returned as it is. */
	counts_init(&c);
	c.stop_on = ECR_COPY_BLOB_START;
	c.stop_after = 1;
	c.stop_rc = 42;
	assert_int_equal(ecr_image_copy(NULL, f->dst2, "stop", f->src, "stop", &o), 42);
	assert_int_equal(c.calls, 1);
	counts_check(&c);
	expect_no_image(f->dst2, "stop");
	expect_no_image(f->dst2, img.digest);

	/* Stopped after the first child of an index: the index is not there, nor the tag. */
	multi_push(f, &m, "stopmulti");
	counts_init(&c);
	c.stop_on = ECR_COPY_MANIFEST_DONE;
	c.stop_after = 1;
	c.stop_rc = ECR_EUSER;
	assert_int_equal(ecr_image_copy(NULL, f->dst, "stopmulti", f->src, "stopmulti", &o), ECR_EUSER);
	assert_int_equal(c.ev[ECR_COPY_MANIFEST_DONE], 1);
	counts_check(&c);
	expect_no_image(f->dst, "stopmulti");
	expect_no_image(f->dst, m.digest);
	multi_dispose(&m);
	th_image_dispose(&img);
}

static void test_api_copy__missing_source_blob(void **state)
{
	fixture *f = *state;
	th_image img;
	size_t sizes[] = {100, 200, 300};
	int rc;

	random_image(f, &img, 3, sizes);
	push(f->src, &img, "holey");
	assert_ok(ecr_blob_delete(f->src, img.layers[1].digest));
	expect_blob(f->src, img.layers[1].digest, false);
	rc = ecr_image_copy(NULL, f->dst, "holey", f->src, "holey", NULL);
	assert_int_equal(rc, ECR_ENOTFOUND);
	assert_non_null(strstr(ecr_error_last()->message, img.layers[1].digest + 7));
	expect_no_image(f->dst, "holey");
	expect_no_image(f->dst, img.digest);
	th_image_dispose(&img);
}

static void test_api_copy__foreign_layer(void **state)
{
	fixture *f = *state;
	th_blob cfg, layer;
	char buf[2048], digest[ECR__DIGEST_STRLEN_MAX];
	const char *foreign = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	counts c;
	int n;

	assert_ok(th_blob_random(&cfg, &f->rng, 50));
	assert_ok(th_blob_random(&layer, &f->rng, 60));
	assert_ok(th_blob_push(f->src, &cfg, 0));
	assert_ok(th_blob_push(f->src, &layer, 0));
	n = snprintf(
	    buf, sizeof(buf),
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip\","
	    "\"digest\":\"%s\",\"size\":12345,\"urls\":[\"https://example.com/layer\"]},"
	    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
	    cfg.digest, cfg.len, foreign, layer.digest, layer.len);
	digest_of(digest, buf, (size_t)n);
	assert_ok(ecr_image_put(NULL, f->src, "foreign", digest, MT_MANIFEST, buf, (size_t)n, 0));
	counts_init(&c);
	o.progress_cb = count_cb;
	o.progress_payload = &c;
	assert_ok(ecr_image_copy(NULL, f->dst, "foreign", f->src, "foreign", &o));
	expect_image(f->dst, "foreign", digest);
	assert_int_equal(c.blobs_total, 2);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 2);
	expect_blob(f->dst, foreign, false);
	th_blob_dispose(&cfg);
	th_blob_dispose(&layer);
}

static void test_api_copy__parallel_1_and_8(void **state)
{
	fixture *f = *state;
	th_image img;
	size_t sizes[12];
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	ecr_buf d1 = ECR_BUF_INIT, d8 = ECR_BUF_INIT;
	counts c1, c8;

	for (size_t i = 0; i < 12; i++)
		sizes[i] = 10000 + i * 40000;
	random_image(f, &img, 12, sizes);
	push(f->src, &img, "par");
	o.progress_cb = count_cb;
	counts_init(&c1);
	o.progress_payload = &c1;
	o.parallel = 1;
	assert_ok(ecr_image_copy(&d1, f->dst, "par", f->src, "par", &o));
	counts_init(&c8);
	o.progress_payload = &c8;
	o.parallel = 8;
	assert_ok(ecr_image_copy(&d8, f->dst2, "par", f->src, "par", &o));
	assert_string_equal(d1.ptr, d8.ptr);
	verify_exact(f->dst, &img);
	verify_exact(f->dst2, &img);
	counts_check(&c1);
	counts_check(&c8);
	assert_int_equal(c1.ev[ECR_COPY_BLOB_DONE], 13);
	assert_int_equal(c8.ev[ECR_COPY_BLOB_DONE], 13);
	assert_int_equal(c1.all_done, c8.all_done);

	/* More than 16 is taken as 16. */
	ecr_buf_dispose(&d8);
	o.parallel = 1000;
	o.progress_cb = NULL;
	assert_ok(ecr_image_copy(&d8, f->src2, "par", f->dst, "par", &o));
	verify_exact(f->src2, &img);
	ecr_buf_dispose(&d1);
	ecr_buf_dispose(&d8);
	th_image_dispose(&img);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_api_copy__big_blob(void **state)
{
	fixture *f = *state;
	th_image img;
	size_t sizes[] = {64u << 20, 4u << 20, (4u << 20) + 1};
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	ecr_repository *fsrc = NULL;
	struct timespec t0;
	double secs;
	counts c;

	random_image(f, &img, 3, sizes);
	/* file:// to file:// (another registry on another folder would do as well; NO_MOUNT copies the bytes). */
	assert_ok(ecr_repository_create(&fsrc, f->fs, "big/src", NULL));
	push(fsrc, &img, "big");
	counts_init(&c);
	o.progress_cb = count_cb;
	o.progress_payload = &c;
	o.flags = ECR_COPY_NO_MOUNT;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_ok(ecr_image_copy(NULL, f->dst, "big", fsrc, "big", &o));
	secs = seconds_since(&t0);
	print_message("# 64 MiB + 8 MiB file:// -> file:// copy: %.3f s (%.0f MiB/s)\n", secs,
	              (double)(72u << 20) / (1 << 20) / (secs > 0 ? secs : 1e-9));
	verify_exact(f->dst, &img);
	counts_check(&c);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 4);
	assert_int_equal(c.all_done, c.all_total);
	assert_int_equal(c.all_total, img.config.len + (72u << 20) + 1);

	/* memory: -> file:// with one worker: progress reports in between. */
	counts_init(&c);
	o.parallel = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	push(f->src, &img, "big");
	assert_ok(ecr_image_copy(NULL, f->dst2, "big", f->src, "big", &o));
	print_message("# the same memory: -> file://, one worker: %.3f s\n", seconds_since(&t0));
	verify_exact(f->dst2, &img);
	counts_check(&c);
	ecr_repository_free(fsrc);
	th_image_dispose(&img);
}

/* The file holding a blob of a file:// registry under dir. */
static void blob_file(char *out, size_t outlen, const char *dir, const char *digest)
{
	const char *hex = strchr(digest, ':') + 1;
	snprintf(out, outlen, "%s/blobs/sha256/%.2s/%s", dir, hex, hex);
	if (access(out, F_OK) == 0)
		return;
	fail_msg("no blob file %s", out);
}

static void corrupt(const char *path, long at)
{
	int fd = open(path, O_RDWR);
	unsigned char b;
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, at), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

static void test_api_copy__corrupt_source_blob(void **state)
{
	fixture *f = *state;
	th_image img;
	size_t sizes[] = {3000, (9u << 20) + 17};
	char path[8192];
	ecr_repository *fsrc = NULL;
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;

	random_image(f, &img, 2, sizes);
	assert_ok(ecr_repository_create(&fsrc, f->fs, "bad/src", NULL));
	push(fsrc, &img, "bad");
	o.flags = ECR_COPY_NO_MOUNT;

	/* A small blob (one put). */
	blob_file(path, sizeof(path), f->dir, img.layers[0].digest);
	corrupt(path, 1000);
	assert_int_equal(ecr_image_copy(NULL, f->src, "bad", fsrc, "bad", &o), ECR_EDIGEST);
	assert_non_null(strstr(ecr_error_last()->message, img.layers[0].digest));
	expect_no_image(f->src, "bad");
	expect_no_image(f->src, img.digest);
	expect_blob(f->src, img.layers[0].digest, false);
	corrupt(path, 1000);

	/* A large one (an upload in chunks): the corruption is in its last chunk. */
	blob_file(path, sizeof(path), f->dir, img.layers[1].digest);
	corrupt(path, (long)(9u << 20) + 3);
	assert_int_equal(ecr_image_copy(NULL, f->src2, "bad", fsrc, "bad", &o), ECR_EDIGEST);
	assert_non_null(strstr(ecr_error_last()->message, img.layers[1].digest));
	expect_no_image(f->src2, "bad");
	expect_no_image(f->src2, img.digest);
	expect_blob(f->src2, img.layers[1].digest, false);
	corrupt(path, (long)(9u << 20) + 3);

	/* Repaired: the copy works. */
	assert_ok(ecr_image_copy(NULL, f->src2, "bad", fsrc, "bad", &o));
	verify_exact(f->src2, &img);
	ecr_repository_free(fsrc);
	th_image_dispose(&img);
}

/* --- remote handles: two in-process servers, each on its own memory: registry --- */

#define ADMIN_ARN "arn:aws:iam::123456789012:user/admin"

typedef struct rfx {
	ecr_registry *backing[2]; /* what the servers serve */
	ecr_server *srv[2];
	ecr_registry *remote[2];     /* http:// handles on them */
	ecr_repository *lsrc, *ldst; /* a local memory: registry */
	ecr_registry *local;
	ecr_repository *back[2]; /* "r/a" on each server, through its backing registry */
	ecr_repository *rem[2];  /* the same through the remote handles */
	ecr_repository *rem_b0;  /* "r/b" on server 0, remote */
	uint64_t rng;
} rfx;

static int setup_remote(void **state)
{
	rfx *f = calloc(1, sizeof(*f));
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_repository *tmp = NULL;
	assert_non_null(f);
	o.account_id = "123456789012";
	o.region = "us-east-1";
	f->rng = 0xabcdef12u + (uint64_t)time(NULL);
	assert_ok(ecr_registry_open(&f->local, "memory:", &o));
	assert_ok(ecr_repository_create(&f->lsrc, f->local, "local/src", NULL));
	assert_ok(ecr_repository_create(&f->ldst, f->local, "local/dst", NULL));
	for (int i = 0; i < 2; i++) {
		ecr_principal *p = NULL;
		ecr_buf key = ECR_BUF_INIT, secret = ECR_BUF_INIT;
		ecr_server_options so = ECR_SERVER_OPTIONS_INIT;
		ecr_registry_options r = ECR_REGISTRY_OPTIONS_INIT;
		char url[64];
		assert_ok(ecr_registry_open(&f->backing[i], "memory:", &o));
		assert_ok(ecr_principal_create(&p, f->backing[i], ADMIN_ARN, ECR_PRINCIPAL_ADMIN));
		assert_ok(ecr_principal_access_key_create(&key, &secret, p));
		ecr_principal_free(p);
		assert_ok(ecr_server_new(&f->srv[i], &so));
		assert_ok(ecr_server_add_registry(f->srv[i], f->backing[i], NULL));
		assert_ok(ecr_server_start(f->srv[i]));
		snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ecr_server_port(f->srv[i]));
		r.access_key_id = key.ptr;
		r.secret_access_key = secret.ptr;
		r.region = "us-east-1";
		r.remote_flags = ECR_REMOTE_NO_RETRY;
		if (ecr_registry_open(&f->remote[i], url, &r)) {
			ecr_buf_dispose(&key);
			ecr_buf_dispose(&secret);
			*state = f;
			return 0; /* no HTTP transport in this build: the tests skip */
		}
		ecr_buf_dispose(&key);
		ecr_buf_dispose(&secret);
		assert_ok(ecr_repository_create(&f->back[i], f->backing[i], "r/a", NULL));
		assert_ok(ecr_repository_open(&f->rem[i], f->remote[i], "r/a"));
	}
	assert_ok(ecr_repository_create(&tmp, f->backing[0], "r/b", NULL));
	ecr_repository_free(tmp);
	assert_ok(ecr_repository_open(&f->rem_b0, f->remote[0], "r/b"));
	*state = f;
	return 0;
}

static int teardown_remote(void **state)
{
	rfx *f = *state;
	ecr_repository_free(f->lsrc);
	ecr_repository_free(f->ldst);
	ecr_repository_free(f->rem_b0);
	for (int i = 0; i < 2; i++) {
		ecr_repository_free(f->rem[i]);
		ecr_repository_free(f->back[i]);
		ecr_registry_free(f->remote[i]);
		ecr_server_free(f->srv[i]);
		ecr_registry_free(f->backing[i]);
	}
	ecr_registry_free(f->local);
	free(f);
	return 0;
}

static void need_remote(rfx *f)
{
	if (!f->rem[1]) {
		print_message("# no HTTP transport: %s\n", ecr_error_last()->message);
		skip();
	}
}

static void test_api_copy__local_to_remote(void **state)
{
	rfx *f = *state;
	th_image img;
	size_t sizes[] = {1000, (20u << 20) + 5, 300000};
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	ecr_buf d = ECR_BUF_INIT;
	struct timespec t0;
	counts c;

	need_remote(f);
	assert_ok(th_image_random(&img, &f->rng, 3, sizes));
	push(f->lsrc, &img, "v1");
	counts_init(&c);
	o.progress_cb = count_cb;
	o.progress_payload = &c;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_ok(ecr_image_copy(&d, f->rem[0], "up", f->lsrc, "v1", &o));
	print_message("# ~20 MiB memory: -> http://: %.3f s\n", seconds_since(&t0));
	assert_string_equal(d.ptr, img.digest);
	verify_exact(f->back[0], &img); /* what the server stored */
	expect_image(f->back[0], "up", img.digest);
	counts_check(&c);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 4);
	assert_int_equal(c.ev[ECR_COPY_MANIFEST_DONE], 1);
	assert_int_equal(c.all_done, c.all_total);

	/* Again: the remote has every blob. */
	counts_init(&c);
	assert_ok(ecr_image_copy(NULL, f->rem[0], "up2", f->lsrc, "v1", &o));
	assert_int_equal(c.ev[ECR_COPY_BLOB_SKIPPED], 4);
	expect_image(f->back[0], "up2", img.digest);
	ecr_buf_dispose(&d);
	th_image_dispose(&img);
}

static void test_api_copy__remote_to_local(void **state)
{
	rfx *f = *state;
	th_image img;
	size_t sizes[] = {2000, (9u << 20) + 1};
	ecr_buf d = ECR_BUF_INIT;

	need_remote(f);
	assert_ok(th_image_random(&img, &f->rng, 2, sizes));
	push(f->back[1], &img, "down");
	assert_ok(ecr_image_copy(&d, f->ldst, "down", f->rem[1], "down", NULL));
	assert_string_equal(d.ptr, img.digest);
	verify_exact(f->ldst, &img);
	expect_image(f->ldst, "down", img.digest);
	assert_int_equal(ecr_image_copy(NULL, f->ldst, "x", f->rem[1], "missing", NULL), ECR_EIMAGE_NOT_FOUND);
	ecr_buf_dispose(&d);
	th_image_dispose(&img);
}

static void test_api_copy__remote_to_remote(void **state)
{
	rfx *f = *state;
	multi m;
	fixture lf;
	ecr_buf d = ECR_BUF_INIT;
	ecr_copy_options o = ECR_COPY_OPTIONS_INIT;
	const char *want[] = {"linux/amd64", "linux/arm/v7"};
	counts c;

	need_remote(f);
	/* An index pushed to server 1, copied to server 0 whole, then two of its platforms. */
	memset(&lf, 0, sizeof(lf));
	lf.src = f->back[1];
	lf.rng = f->rng;
	multi_push(&lf, &m, "multi");
	counts_init(&c);
	o.progress_cb = count_cb;
	o.progress_payload = &c;
	assert_ok(ecr_image_copy(&d, f->rem[0], "multi", f->rem[1], "multi", &o));
	assert_string_equal(d.ptr, m.digest);
	expect_image(f->back[0], "multi", m.digest);
	for (int i = 0; i < 3; i++)
		verify_exact(f->back[0], &m.imgs[i]);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 9);
	assert_int_equal(c.ev[ECR_COPY_MANIFEST_DONE], 4);
	counts_check(&c);

	/* Within server 0, from r/a to r/b: mounted. */
	counts_init(&c);
	o.platforms = want;
	o.platforms_count = 2;
	ecr_buf_dispose(&d);
	assert_ok(ecr_image_copy(&d, f->rem_b0, "two", f->rem[0], "multi", &o));
	assert_string_not_equal(d.ptr, m.digest);
	assert_int_equal(c.ev[ECR_COPY_BLOB_MOUNTED], 6);
	assert_int_equal(c.ev[ECR_COPY_BLOB_DONE], 0);
	{
		ecr_repository *b = NULL;
		assert_ok(ecr_repository_open(&b, f->backing[0], "r/b"));
		expect_image(b, "two", d.ptr);
		verify_exact(b, &m.imgs[0]);
		verify_exact(b, &m.imgs[2]);
		expect_no_image(b, m.imgs[1].digest);
		ecr_repository_free(b);
	}
	ecr_buf_dispose(&d);
	multi_dispose(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_api_copy__options_init),
	    cmocka_unit_test_setup_teardown(test_api_copy__bad_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__single_across_registries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__skip_existing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__mount_within_registry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__index_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__index_one_platform, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__index_two_platforms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__referrers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__callback_stops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__missing_source_blob, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__foreign_layer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__parallel_1_and_8, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__big_blob, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__corrupt_source_blob, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_copy__local_to_remote, setup_remote, teardown_remote),
	    cmocka_unit_test_setup_teardown(test_api_copy__remote_to_local, setup_remote, teardown_remote),
	    cmocka_unit_test_setup_teardown(test_api_copy__remote_to_remote, setup_remote, teardown_remote),
	};
	return cmocka_run_group_tests_name("api/copy", tests, NULL, NULL);
}
