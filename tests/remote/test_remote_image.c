/*
 * libecr/remote/remote_image.c and remote_blob.c: images, tags, uploads and
 * blobs. Every scenario runs twice, on a local memory: registry and on a
 * remote handle (http://) to an ecr_server serving another memory: registry
 * with the same clock, and the two transcripts (digests, tags, sizes, times,
 * statuses, bytes read, ECR_E* codes) must be identical. The scenarios also
 * assert the codes they expect, so two identical wrong answers fail too.
 */
#include "../helpers/helpers.h"
#include "../server/api_client.h"
#include "remote_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecr/sys/transport.h"
#include "libecr/core/digest.h"
#include "libecr/transport/http_transport.h"

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar"

typedef remote_fixture fx;

static int setup(void **state)
{
	remote_fixture_opts o = {
		.account_id = "123456789012", .region = "us-east-1", .clock_cb = rf_clock, .remote_clock = true};
	*state = remote_fixture_new(&o);
	return 0;
}

static int teardown(void **state)
{
	remote_fixture_free(*state);
	return 0;
}

/* --- transcripts --- */

static bool is_remote(const ecr_registry *reg)
{
	return ecr_registry_transport(reg) != NULL;
}

/* Everything an image handle says; with_msize: its manifest size too (unknown to a remote archived image). */
static void say_image(ecr_buf *log, const ecr_image *img, bool with_msize)
{
	char tags[2048] = "";
	for (size_t i = 0; i < ecr_image_tag_count(img); i++) {
		strncat(tags, ecr_image_tag(img, i), sizeof(tags) - strlen(tags) - 2);
		strncat(tags, ",", sizeof(tags) - strlen(tags) - 1);
	}
	rf_say(log,
	    "image %s mt=%s at=%s subject=%s tags=[%s] size=%llu msize=%llu pushed=%lld pulled=%lld status=%d sc=%d "
	    "archived=%lld activated=%lld",
	    ecr_image_digest(img), ecr_image_media_type(img),
	    ecr_image_artifact_type(img) ? ecr_image_artifact_type(img) : "-",
	    ecr_image_subject(img) ? ecr_image_subject(img) : "-", tags, (unsigned long long)ecr_image_size(img),
	    with_msize ? (unsigned long long)ecr_image_manifest_size(img) : 0ULL, (long long)ecr_image_pushed_at(img),
	    (long long)ecr_image_last_pulled_at(img), (int)ecr_image_status_of(img), (int)ecr_image_storage_class(img),
	    (long long)ecr_image_last_archived_at(img), (long long)ecr_image_last_activated_at(img));
}

typedef void (*scenario)(ecr_buf *log, ecr_registry *reg);

static void both(fx *f, scenario s)
{
	ecr_buf a = ECR_BUF_INIT, b = ECR_BUF_INIT;
	int64_t start = rf_now;
	s(&a, f->local);
	rf_now = start;
	s(&b, f->remote);
	assert_non_null(a.ptr);
	assert_non_null(b.ptr);
	if (getenv("ECR_TEST_VERBOSE"))
		print_message("--- transcript\n%s", b.ptr);
	if (strcmp(a.ptr, b.ptr) != 0) {
		print_message("--- local\n%s--- remote\n%s", a.ptr, b.ptr);
		fail_msg("the local and remote transcripts differ");
	}
	free(a.ptr);
	free(b.ptr);
}

/* --- test data --- */

static void sha256(char out[ECR__DIGEST_STRLEN_MAX], const void *data, size_t len)
{
	assert_ok(ecr__digest_buf(out, ECR__DIGEST_STRLEN_MAX, ECR__DIGEST_SHA256, data, len));
}

typedef struct blob {
	char digest[ECR__DIGEST_STRLEN_MAX];
	char *data;
	size_t len;
} blob;

static void blob_make(blob *b, const char *seed, size_t len)
{
	b->data = malloc(len + 1);
	size_t sl = strlen(seed);
	for (size_t i = 0; i < len; i++)
		b->data[i] = (char)(seed[i % sl] ^ (char)(i * 31 + i / 7));
	b->data[len] = 0;
	b->len = len;
	sha256(b->digest, b->data, len);
}

static void blob_text(blob *b, const char *text)
{
	b->len = strlen(text);
	b->data = strdup(text);
	sha256(b->digest, b->data, b->len);
}

static void blob_free(blob *b)
{
	free(b->data);
	b->data = NULL;
}

/* An OCI manifest of one config and one layer, with an annotation making it unique; artifact_type and
 * subject (a manifest of subject_size bytes) may be NULL. */
static void manifest_make(blob *m, const blob *config, const blob *layer, const char *note, const char *artifact_type,
                          const char *subject, size_t subject_size)
{
	char buf[4096], at[300] = "", sub[400] = "";
	if (artifact_type)
		snprintf(at, sizeof(at), "\"artifactType\":\"%s\",", artifact_type);
	if (subject)
		snprintf(sub, sizeof(sub),
		         "\"subject\":{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu},", subject,
		         subject_size);
	snprintf(buf, sizeof(buf),
	         "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\",%s\"config\":{\"mediaType\":\"" MT_CONFIG
	         "\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"" MT_LAYER
	         "\",\"digest\":\"%s\",\"size\":%zu}],%s\"annotations\":{\"note\":\"%s\"}}",
	         at, config->digest, config->len, layer->digest, layer->len, sub, note);
	blob_text(m, buf);
}

static void index_make(blob *m, const blob *a, const blob *b)
{
	char buf[4096];
	snprintf(buf, sizeof(buf),
	         "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[{\"mediaType\":\"" MT_MANIFEST
	         "\",\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	         "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"architecture\":"
	         "\"arm64\",\"os\":\"linux\"}}]}",
	         a->digest, a->len, b->digest, b->len);
	blob_text(m, buf);
}

/* A repository with a config and a layer blob. */
static ecr_repository *repo_with_blobs(ecr_buf *log, ecr_registry *reg, const char *name, blob *config, blob *layer,
                                       ecr_tag_mutability mut)
{
	ecr_repository_options o = ECR_REPOSITORY_OPTIONS_INIT;
	ecr_repository *r = NULL;
	o.tag_mutability = mut;
	EXPECT(log, 0, ecr_repository_create(&r, reg, name, &o));
	blob_text(config, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}");
	blob_make(layer, name, 3000);
	EXPECT(log, 0, ecr_blob_put(r, config->digest, config->data, config->len));
	EXPECT(log, 0, ecr_blob_put(r, layer->digest, layer->data, layer->len));
	return r;
}

/* --- put, get --- */

static void sc_put_get(ecr_buf *log, ecr_registry *reg)
{
	blob config, layer, m1, m2, missing, other;
	ecr_repository *r, *imm;
	ecr_image *img = NULL;
	const void *bytes;
	size_t len;

	r = repo_with_blobs(log, reg, "app", &config, &layer, ECR_TAG_MUTABLE);
	manifest_make(&m1, &config, &layer, "one", NULL, NULL, 0);
	manifest_make(&m2, &config, &layer, "two", NULL, NULL, 0);
	blob_make(&other, "nothere", 10);
	manifest_make(&missing, &config, &other, "missing", NULL, NULL, 0);

	EXPECT(log, 0, ecr_image_put(&img, r, "v1", NULL, NULL, m1.data, m1.len, 0));
	say_image(log, img, true);
	assert_string_equal(ecr_image_digest(img), m1.digest);
	assert_int_equal(ecr_image_tag_count(img), 1);
	assert_int_equal(ecr_image_size(img), 3000);
	assert_int_equal(ecr_image_manifest_size(img), m1.len);
	assert_int_equal(ecr_image_pushed_at(img), rf_now);
	assert_ok(ecr_image_manifest(&bytes, &len, img));
	assert_int_equal(len, m1.len);
	assert_memory_equal(bytes, m1.data, len);
	ecr_image_free(img);

	/* the same again: nothing changes, which is only an error when exclusive */
	rf_now += 1000;
	EXPECT(log, 0, ecr_image_put(NULL, r, "v1", m1.digest, MT_MANIFEST, m1.data, m1.len, 0));
	EXPECT(log, ECR_EIMAGE_EXISTS,
	       ecr_image_put(NULL, r, "v1", NULL, NULL, m1.data, m1.len, ECR_IMAGE_PUT_EXCLUSIVE));
	EXPECT(log, ECR_EIMAGE_EXISTS,
	       ecr_image_put(NULL, r, NULL, NULL, NULL, m1.data, m1.len, ECR_IMAGE_PUT_EXCLUSIVE));
	EXPECT(log, 0, ecr_image_put(&img, r, "latest", NULL, NULL, m1.data, m1.len, ECR_IMAGE_PUT_EXCLUSIVE));
	say_image(log, img, true);
	assert_int_equal(ecr_image_tag_count(img), 2);
	ecr_image_free(img);
	EXPECT(log, ECR_EIMAGE_DIGEST, ecr_image_put(NULL, r, "v2", m1.digest, NULL, m2.data, m2.len, 0));
	EXPECT(log, ECR_ELAYERS_NOT_FOUND, ecr_image_put(NULL, r, "v3", NULL, NULL, missing.data, missing.len, 0));
	EXPECT(log, ECR_EINVALID, ecr_image_put(NULL, r, "bad tag", NULL, NULL, m2.data, m2.len, 0));
	EXPECT(log, ECR_EINVALID, ecr_image_put(NULL, r, "v2", NULL, NULL, "{not json", 9, 0));
	/* no tag: an untagged image */
	EXPECT(log, 0, ecr_image_put(&img, r, NULL, NULL, NULL, m2.data, m2.len, 0));
	say_image(log, img, true);
	assert_int_equal(ecr_image_tag_count(img), 0);
	ecr_image_free(img);
	/* a mutable tag moves */
	EXPECT(log, 0, ecr_image_put(NULL, r, "latest", NULL, NULL, m2.data, m2.len, 0));

	/* get by tag and by digest; a pull is recorded when asked for */
	rf_now += 120000;
	EXPECT(log, 0, ecr_image_get(&img, r, "v1", 0));
	say_image(log, img, true);
	assert_int_equal(ecr_image_last_pulled_at(img), 0);
	ecr_image_free(img);
	EXPECT(log, 0, ecr_image_get(&img, r, "latest", ECR_IMAGE_GET_RECORD_PULL));
	say_image(log, img, true);
	assert_string_equal(ecr_image_digest(img), m2.digest);
	assert_int_equal(ecr_image_last_pulled_at(img), rf_now);
	assert_ok(ecr_image_manifest(&bytes, &len, img));
	assert_memory_equal(bytes, m2.data, m2.len);
	ecr_image_free(img);
	EXPECT(log, 0, ecr_image_get(&img, r, m2.digest, 0));
	say_image(log, img, true);
	assert_int_equal(ecr_image_last_pulled_at(img), rf_now);
	ecr_image_free(img);
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_get(&img, r, "nope", 0));
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_get(&img, r, missing.digest, ECR_IMAGE_GET_RECORD_PULL));
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_get(&img, r, "nope", ECR_IMAGE_GET_RECORD_PULL));
	EXPECT(log, ECR_EINVALID, ecr_image_get(&img, r, "sha256:12", 0));
	EXPECT(log, ECR_EINVALID, ecr_image_get(&img, r, "bad tag", 0));

	/* immutable tags */
	blob c2, l2;
	imm = repo_with_blobs(log, reg, "imm", &c2, &l2, ECR_TAG_IMMUTABLE);
	blob i1, i2;
	manifest_make(&i1, &c2, &l2, "i1", NULL, NULL, 0);
	manifest_make(&i2, &c2, &l2, "i2", NULL, NULL, 0);
	EXPECT(log, 0, ecr_image_put(NULL, imm, "v1", NULL, NULL, i1.data, i1.len, 0));
	EXPECT(log, 0, ecr_image_put(NULL, imm, "v1", NULL, NULL, i1.data, i1.len, 0));
	EXPECT(log, ECR_EIMMUTABLE, ecr_image_put(NULL, imm, "v1", NULL, NULL, i2.data, i2.len, 0));
	EXPECT(log, ECR_EIMMUTABLE,
	       ecr_image_put(NULL, imm, "v1", NULL, NULL, i2.data, i2.len, ECR_IMAGE_PUT_EXCLUSIVE));
	EXPECT(log, 0, ecr_image_get(&img, imm, "v1", 0));
	assert_string_equal(ecr_image_digest(img), i1.digest);
	ecr_image_free(img);

	/* a repository that is not there */
	ecr_repository *gone = NULL;
	EXPECT(log, 0, ecr_repository_create(&gone, reg, "gone", NULL));
	EXPECT(log, 0, ecr_repository_delete(reg, "gone", 0));
	EXPECT(log, ECR_EREPOSITORY_NOT_FOUND, ecr_image_get(&img, gone, "v1", 0));
	EXPECT(log, ECR_EREPOSITORY_NOT_FOUND, ecr_image_put(NULL, gone, "v1", NULL, NULL, m1.data, m1.len, 0));
	ecr_repository_free(gone);

	blob_free(&i1);
	blob_free(&i2);
	blob_free(&c2);
	blob_free(&l2);
	blob_free(&config);
	blob_free(&layer);
	blob_free(&m1);
	blob_free(&m2);
	blob_free(&missing);
	blob_free(&other);
	ecr_repository_free(r);
	ecr_repository_free(imm);
}

/* --- index, delete, untag --- */

static void sc_index_delete(ecr_buf *log, ecr_registry *reg)
{
	blob config, layer, a, b, idx;
	ecr_repository *r = repo_with_blobs(log, reg, "multi", &config, &layer, ECR_TAG_MUTABLE);
	ecr_image *img = NULL;
	ecr_buf d = ECR_BUF_INIT;

	manifest_make(&a, &config, &layer, "amd64", NULL, NULL, 0);
	manifest_make(&b, &config, &layer, "arm64", NULL, NULL, 0);
	index_make(&idx, &a, &b);
	EXPECT(log, ECR_EREFERENCED_IMAGES_NOT_FOUND,
	       ecr_image_put(NULL, r, "multi", NULL, NULL, idx.data, idx.len, 0));
	EXPECT(log, 0, ecr_image_put(NULL, r, NULL, NULL, NULL, a.data, a.len, 0));
	EXPECT(log, 0, ecr_image_put(NULL, r, "b", NULL, NULL, b.data, b.len, 0));
	EXPECT(log, 0, ecr_image_put(&img, r, "multi", NULL, NULL, idx.data, idx.len, 0));
	say_image(log, img, true);
	assert_string_equal(ecr_image_media_type(img), MT_INDEX);
	assert_int_equal(ecr_image_size(img), 3000);
	ecr_image_free(img);

	EXPECT(log, ECR_EIMAGE_REFERENCED, ecr_image_delete(r, a.digest));
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_delete(r, layer.digest));
	EXPECT(log, ECR_EINVALID, ecr_image_delete(r, "sha256:zz"));
	/* untagging a child's last tag keeps it: the index needs it */
	EXPECT(log, 0, ecr_image_untag(&d, r, "b", ECR_UNTAG_DELETE_UNTAGGED));
	rf_say(log, "untagged b -> %s", d.ptr);
	assert_string_equal(d.ptr, b.digest);
	EXPECT(log, 0, ecr_image_get(&img, r, b.digest, 0));
	say_image(log, img, true);
	ecr_image_free(img);
	EXPECT(log, 0, ecr_image_delete(r, idx.digest));
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_get(&img, r, "multi", 0));
	EXPECT(log, 0, ecr_image_delete(r, a.digest));
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_delete(r, a.digest));

	/* untag: without the flag an image stays, untagged; with it, the last tag takes it */
	EXPECT(log, 0, ecr_image_put(NULL, r, "t1", NULL, NULL, a.data, a.len, 0));
	EXPECT(log, 0, ecr_image_put(NULL, r, "t2", NULL, NULL, a.data, a.len, 0));
	ecr_buf_dispose(&d);
	EXPECT(log, 0, ecr_image_untag(&d, r, "t1", 0));
	assert_string_equal(d.ptr, a.digest);
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_get(&img, r, "t1", 0));
	EXPECT(log, 0, ecr_image_untag(NULL, r, "t2", ECR_UNTAG_DELETE_UNTAGGED));
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_get(&img, r, a.digest, 0));
	EXPECT(log, 0, ecr_image_put(NULL, r, "t3", NULL, NULL, a.data, a.len, 0));
	EXPECT(log, 0, ecr_image_put(NULL, r, "t4", NULL, NULL, a.data, a.len, 0));
	EXPECT(log, 0, ecr_image_untag(NULL, r, "t3", ECR_UNTAG_DELETE_UNTAGGED));
	EXPECT(log, 0, ecr_image_get(&img, r, a.digest, 0));
	say_image(log, img, true);
	ecr_image_free(img);
	EXPECT(log, 0, ecr_image_untag(NULL, r, "t4", 0));
	EXPECT(log, 0, ecr_image_get(&img, r, a.digest, 0));
	say_image(log, img, true);
	assert_int_equal(ecr_image_tag_count(img), 0);
	ecr_image_free(img);
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_untag(NULL, r, "t4", 0));
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_untag(NULL, r, "t4", ECR_UNTAG_DELETE_UNTAGGED));
	EXPECT(log, ECR_EINVALID, ecr_image_untag(NULL, r, "bad tag", 0));

	ecr_buf_dispose(&d);
	blob_free(&config);
	blob_free(&layer);
	blob_free(&a);
	blob_free(&b);
	blob_free(&idx);
	ecr_repository_free(r);
}

/* --- listing --- */

#define MANY 230

static void list_all(ecr_buf *log, ecr_repository *r, const ecr_image_list_options *o, size_t stop_after,
                     ecr_buf *token, size_t *count_out, char *last_out)
{
	ecr_image_iterator *it = NULL;
	ecr_image *img;
	size_t n = 0;
	int rc;
	char prev[ECR__DIGEST_STRLEN_MAX] = "";
	EXPECT(log, 0, ecr_image_iterator_new(&it, r, o));
	while ((rc = ecr_image_iterator_next(&img, it)) == 0) {
		rf_say(log, "  %s tags=%zu", ecr_image_digest(img), ecr_image_tag_count(img));
		assert_true(strcmp(prev, ecr_image_digest(img)) < 0);
		snprintf(prev, sizeof(prev), "%s", ecr_image_digest(img));
		if (++n == stop_after)
			break;
	}
	if (n != stop_after)
		assert_int_equal(rc, ECR_ITEROVER);
	if (token) {
		ecr_buf_dispose(token);
		assert_ok(ecr_image_iterator_token(token, it));
	}
	ecr_image_iterator_free(it);
	*count_out = n;
	if (last_out)
		strcpy(last_out, prev);
}

static void sc_listing(ecr_buf *log, ecr_registry *reg)
{
	blob config, layer, m;
	ecr_repository *r = repo_with_blobs(log, reg, "many", &config, &layer, ECR_TAG_MUTABLE);
	ecr_image_list_options o = ECR_IMAGE_LIST_OPTIONS_INIT;
	ecr_buf token = ECR_BUF_INIT;
	size_t n = 0, n2 = 0;
	char last[ECR__DIGEST_STRLEN_MAX];

	for (int i = 0; i < MANY; i++) {
		char note[16], tag[16];
		snprintf(note, sizeof(note), "n%d", i);
		snprintf(tag, sizeof(tag), "t%03d", i);
		manifest_make(&m, &config, &layer, note, NULL, NULL, 0);
		rf_now += 7;
		EXPECT(log, 0, ecr_image_put(NULL, r, i % 3 == 0 ? tag : NULL, NULL, NULL, m.data, m.len, 0));
		blob_free(&m);
	}
	list_all(log, r, NULL, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, MANY);
	o.tag_status = ECR_TAG_STATUS_TAGGED;
	list_all(log, r, &o, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, (MANY + 2) / 3);
	o.tag_status = ECR_TAG_STATUS_UNTAGGED;
	list_all(log, r, &o, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, MANY - (MANY + 2) / 3);

	/* tokens: stop after 117, resume after the last one returned */
	o.tag_status = ECR_TAG_STATUS_ANY;
	list_all(log, r, &o, 117, &token, &n, last);
	assert_int_equal(n, 117);
	rf_say(log, "token after %s", last);
	o.start_token = token.ptr;
	list_all(log, r, &o, SIZE_MAX, NULL, &n2, NULL);
	assert_int_equal(n2, MANY - 117);
	o.start_token = "!!not a token!!";
	ecr_image_iterator *it = NULL;
	EXPECT(log, ECR_EINVALID, ecr_image_iterator_new(&it, r, &o));
	o.start_token = NULL;
	o.tag_status = (ecr_tag_status)7;
	EXPECT(log, ECR_EINVALID, ecr_image_iterator_new(&it, r, &o));

	/* tags in lexical order, with their digests, after a tag */
	ecr_tag_iterator *ti = NULL;
	const char *tag, *digest;
	int rc;
	n = 0;
	EXPECT(log, 0, ecr_tag_iterator_new(&ti, r, "t100"));
	while ((rc = ecr_tag_iterator_next(&tag, &digest, ti)) == 0) {
		rf_say(log, "  tag %s %s", tag, digest);
		n++;
	}
	assert_int_equal(rc, ECR_ITEROVER);
	assert_int_equal(n, (MANY + 2) / 3 - 34);
	ecr_tag_iterator_free(ti);
	EXPECT(log, 0, ecr_tag_iterator_new(&ti, r, NULL));
	n = 0;
	while ((rc = ecr_tag_iterator_next(&tag, NULL, ti)) == 0)
		n++;
	assert_int_equal(n, (MANY + 2) / 3);
	ecr_tag_iterator_free(ti);

	ecr_buf_dispose(&token);
	blob_free(&config);
	blob_free(&layer);
	ecr_repository_free(r);
}

static void sc_referrers(ecr_buf *log, ecr_registry *reg)
{
	blob config, layer, subject, sig1, sig2, sbom;
	ecr_repository *r = repo_with_blobs(log, reg, "refs", &config, &layer, ECR_TAG_MUTABLE);
	ecr_image_list_options o = ECR_IMAGE_LIST_OPTIONS_INIT;
	ecr_image *img = NULL;
	size_t n;

	manifest_make(&subject, &config, &layer, "subject", NULL, NULL, 0);
	manifest_make(&sig1, &config, &layer, "sig1", "application/vnd.example.sig", subject.digest, subject.len);
	manifest_make(&sig2, &config, &layer, "sig2", "application/vnd.example.sig", subject.digest, subject.len);
	manifest_make(&sbom, &config, &layer, "sbom", "application/spdx+json", subject.digest, subject.len);
	EXPECT(log, 0, ecr_image_put(NULL, r, "app", NULL, NULL, subject.data, subject.len, 0));
	EXPECT(log, 0, ecr_image_put(&img, r, NULL, NULL, NULL, sig1.data, sig1.len, 0));
	say_image(log, img, true);
	assert_string_equal(ecr_image_subject(img), subject.digest);
	assert_string_equal(ecr_image_artifact_type(img), "application/vnd.example.sig");
	ecr_image_free(img);
	EXPECT(log, 0, ecr_image_put(NULL, r, NULL, NULL, NULL, sig2.data, sig2.len, 0));
	EXPECT(log, 0, ecr_image_put(NULL, r, "sbom", NULL, NULL, sbom.data, sbom.len, 0));

	o.subject = subject.digest;
	list_all(log, r, &o, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, 3);
	o.artifact_type = "application/vnd.example.sig";
	list_all(log, r, &o, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, 2);
	o.tag_status = ECR_TAG_STATUS_TAGGED;
	o.artifact_type = NULL;
	list_all(log, r, &o, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, 1);
	o.subject = sbom.digest;
	list_all(log, r, &o, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, 0);

	/* referrers go with their subject */
	EXPECT(log, 0, ecr_image_delete(r, subject.digest));
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_get(&img, r, sig1.digest, 0));
	EXPECT(log, ECR_EIMAGE_NOT_FOUND, ecr_image_get(&img, r, "sbom", 0));

	blob_free(&config);
	blob_free(&layer);
	blob_free(&subject);
	blob_free(&sig1);
	blob_free(&sig2);
	blob_free(&sbom);
	ecr_repository_free(r);
}

/* --- archive --- */

static void sc_archive(ecr_buf *log, ecr_registry *reg)
{
	blob config, layer, m1, m2;
	ecr_repository *r = repo_with_blobs(log, reg, "cold", &config, &layer, ECR_TAG_MUTABLE);
	ecr_image_list_options o = ECR_IMAGE_LIST_OPTIONS_INIT;
	ecr_image *img = NULL;
	size_t n;

	manifest_make(&m1, &config, &layer, "old", NULL, NULL, 0);
	manifest_make(&m2, &config, &layer, "new", NULL, NULL, 0);
	EXPECT(log, 0, ecr_image_put(NULL, r, "old", NULL, NULL, m1.data, m1.len, 0));
	EXPECT(log, 0, ecr_image_put(NULL, r, "new", NULL, NULL, m2.data, m2.len, 0));
	rf_now += 5000;
	EXPECT(log, 0, ecr_image_set_storage_class(&img, r, m1.digest, ECR_STORAGE_CLASS_ARCHIVE));
	say_image(log, img, false);
	assert_int_equal(ecr_image_status_of(img), ECR_IMAGE_ARCHIVED);
	assert_int_equal(ecr_image_storage_class(img), ECR_STORAGE_CLASS_ARCHIVE);
	assert_int_equal(ecr_image_last_archived_at(img), rf_now);
	ecr_image_free(img);
	EXPECT(log, ECR_ESTORAGE_CLASS_UPDATE,
	       ecr_image_set_storage_class(NULL, r, m1.digest, ECR_STORAGE_CLASS_ARCHIVE));
	EXPECT(log, ECR_EIMAGE_ARCHIVED, ecr_image_get(&img, r, "old", 0));
	EXPECT(log, ECR_EIMAGE_ARCHIVED, ecr_image_get(&img, r, m1.digest, ECR_IMAGE_GET_RECORD_PULL));
	EXPECT(log, 0, ecr_image_get(&img, r, "old", ECR_IMAGE_GET_ANY_STATUS));
	say_image(log, img, false);
	ecr_image_free(img);
	/* still listed; by status */
	list_all(log, r, NULL, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, 2);
	o.status_mask = 1u << ECR_IMAGE_ARCHIVED;
	list_all(log, r, &o, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, 1);
	o.status_mask = 1u << ECR_IMAGE_ACTIVE;
	list_all(log, r, &o, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, 1);
	o.status_mask = (1u << ECR_IMAGE_ACTIVE) | (1u << ECR_IMAGE_ARCHIVED);
	list_all(log, r, &o, SIZE_MAX, NULL, &n, NULL);
	assert_int_equal(n, 2);
	/* the layer is still readable: the other image needs it */
	uint64_t size = 0;
	EXPECT(log, 0, ecr_blob_stat(r, layer.digest, &size));
	rf_now += 5000;
	EXPECT(log, 0, ecr_image_set_storage_class(&img, r, m1.digest, ECR_STORAGE_CLASS_STANDARD));
	say_image(log, img, true);
	assert_int_equal(ecr_image_status_of(img), ECR_IMAGE_ACTIVE);
	ecr_image_free(img);
	EXPECT(log, ECR_ESTORAGE_CLASS_UPDATE,
	       ecr_image_set_storage_class(NULL, r, m1.digest, ECR_STORAGE_CLASS_STANDARD));
	EXPECT(log, ECR_EIMAGE_NOT_FOUND,
	       ecr_image_set_storage_class(NULL, r, layer.digest, ECR_STORAGE_CLASS_ARCHIVE));
	EXPECT(log, ECR_EINVALID, ecr_image_set_storage_class(NULL, r, m1.digest, (ecr_storage_class)9));
	EXPECT(log, 0, ecr_image_get(&img, r, "old", ECR_IMAGE_GET_RECORD_PULL));
	say_image(log, img, true);
	ecr_image_free(img);

	blob_free(&config);
	blob_free(&layer);
	blob_free(&m1);
	blob_free(&m2);
	ecr_repository_free(r);
}

/* --- uploads and blobs --- */

static void read_range(ecr_buf *log, ecr_registry *reg, ecr_repository *r, const blob *b, uint64_t off, uint64_t len,
                       size_t piece)
{
	ecr_blob *rd = NULL;
	char *buf = malloc(piece);
	size_t got = 0, n;
	uint64_t want = len ? len : b->len - off;
	int rc;
	EXPECT(log, 0, ecr_blob_open(&rd, r, b->digest, off, len));
	assert_int_equal(ecr_blob_size(rd), b->len);
	while ((rc = ecr_blob_read(rd, buf, piece, &n)) == 0 && n) {
		assert_true(got + n <= want);
		assert_memory_equal(buf, b->data + off + got, n);
		got += n;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(got, want);
	rf_say(log, "read %s %llu+%llu in pieces of %zu: %zu bytes", b->digest, (unsigned long long)off,
	    (unsigned long long)len, piece, got);
	int fd;
	uint64_t foff;
	rc = ecr_blob_fd(rd, &fd, &foff);
	assert_int_equal(rc, is_remote(reg) ? ECR_ENOTSUPPORTED : ECR_ENOTFOUND);
	ecr_blob_free(rd);
	free(buf);
}

static void sc_uploads_blobs(ecr_buf *log, ecr_registry *reg)
{
	blob big, small, wrong;
	ecr_repository *r = NULL, *r2 = NULL;
	ecr_upload *up = NULL, *up2 = NULL;
	uint64_t size = 0;
	char *id;

	EXPECT(log, 0, ecr_repository_create(&r, reg, "blobs", NULL));
	EXPECT(log, 0, ecr_repository_create(&r2, reg, "blobs2", NULL));
	blob_make(&big, "big", 100000);
	blob_make(&small, "small", 777);
	blob_make(&wrong, "wrong", 100);

	/* an upload in chunks, resumed through another handle */
	EXPECT(log, 0, ecr_upload_begin(&up, r));
	assert_int_equal(ecr_upload_started_at(up), rf_now);
	EXPECT(log, 0, ecr_upload_write(up, 0, big.data, 30000));
	EXPECT(log, 0, ecr_upload_write(up, 30000, big.data + 30000, 20000));
	assert_int_equal(ecr_upload_size(up), 50000);
	EXPECT(log, ECR_ERANGE, ecr_upload_write(up, 10, big.data, 10));
	id = strdup(ecr_upload_id(up));
	ecr_upload_free(up);
	up = NULL;
	EXPECT(log, 0, ecr_upload_open(&up2, r, id));
	rf_say(log, "resumed at %llu", (unsigned long long)ecr_upload_size(up2));
	assert_int_equal(ecr_upload_size(up2), 50000);
	EXPECT(log, ECR_ERANGE, ecr_upload_write(up2, 60000, big.data, 10));
	EXPECT(log, 0, ecr_upload_write(up2, 50000, big.data + 50000, 50000));
	EXPECT(log, 0, ecr_upload_commit(up2, big.digest));
	EXPECT(log, ECR_EUPLOAD, ecr_upload_write(up2, 100000, big.data, 1));
	ecr_upload_free(up2);
	up2 = NULL;
	EXPECT(log, ECR_EUPLOAD, ecr_upload_open(&up2, r, id));
	free(id);
	EXPECT(log, ECR_EUPLOAD, ecr_upload_open(&up2, r, "no such upload"));
	EXPECT(log, 0, ecr_blob_stat(r, big.digest, &size));
	assert_int_equal(size, big.len);

	/* a wrong digest ends the session */
	EXPECT(log, 0, ecr_upload_begin(&up, r));
	EXPECT(log, 0, ecr_upload_write(up, 0, wrong.data, wrong.len));
	EXPECT(log, ECR_EDIGEST, ecr_upload_commit(up, small.digest));
	EXPECT(log, ECR_EUPLOAD, ecr_upload_commit(up, wrong.digest));
	ecr_upload_free(up);
	EXPECT(log, ECR_ENOTFOUND, ecr_blob_stat(r, small.digest, NULL));
	/* cancel */
	EXPECT(log, 0, ecr_upload_begin(&up, r));
	EXPECT(log, 0, ecr_upload_write(up, 0, wrong.data, wrong.len));
	EXPECT(log, 0, ecr_upload_cancel(up));
	EXPECT(log, ECR_EUPLOAD, ecr_upload_cancel(up));
	ecr_upload_free(up);

	/* reads: small pieces, ranges */
	read_range(log, reg, r, &big, 0, 0, 1000);
	read_range(log, reg, r, &big, 0, 0, 4093);
	read_range(log, reg, r, &big, 100, 50, 7);
	read_range(log, reg, r, &big, 99990, 0, 3);
	read_range(log, reg, r, &big, 0, 100000, 65536);
	ecr_blob *rd = NULL;
	EXPECT(log, ECR_ERANGE, ecr_blob_open(&rd, r, big.digest, 100001, 0));
	EXPECT(log, ECR_ERANGE, ecr_blob_open(&rd, r, big.digest, 99990, 11));
	EXPECT(log, ECR_ENOTFOUND, ecr_blob_open(&rd, r, small.digest, 0, 0));
	EXPECT(log, ECR_EINVALID, ecr_blob_open(&rd, r, "sha256:xyz", 0, 0));
	EXPECT(log, 0, ecr_blob_open(&rd, r, big.digest, 100000, 0));
	size_t nread = 1;
	char c;
	EXPECT(log, 0, ecr_blob_read(rd, &c, 1, &nread));
	assert_int_equal(nread, 0);
	ecr_blob_free(rd);

	/* put, mount, delete */
	EXPECT(log, ECR_EDIGEST, ecr_blob_put(r, small.digest, wrong.data, wrong.len));
	EXPECT(log, 0, ecr_blob_put(r, small.digest, small.data, small.len));
	EXPECT(log, 0, ecr_blob_stat(r, small.digest, &size));
	assert_int_equal(size, small.len);
	EXPECT(log, ECR_ENOTFOUND, ecr_blob_stat(r2, small.digest, NULL));
	EXPECT(log, 0, ecr_blob_mount(r2, r, small.digest));
	EXPECT(log, 0, ecr_blob_stat(r2, small.digest, &size));
	read_range(log, reg, r2, &small, 0, 0, 100);
	EXPECT(log, ECR_ENOTFOUND, ecr_blob_mount(r2, r, wrong.digest));
	EXPECT(log, 0, ecr_blob_delete(r2, small.digest));
	EXPECT(log, ECR_ENOTFOUND, ecr_blob_delete(r2, small.digest));
	EXPECT(log, ECR_ENOTFOUND, ecr_blob_stat(r2, small.digest, NULL));
	EXPECT(log, 0, ecr_blob_stat(r, small.digest, NULL));

	/* a put larger than one request's worth goes through a session in chunks */
	blob huge;
	blob_make(&huge, "huge", (33u << 20) + 5);
	EXPECT(log, ECR_EDIGEST, ecr_blob_put(r, small.digest, huge.data, huge.len));
	EXPECT(log, 0, ecr_blob_put(r, huge.digest, huge.data, huge.len));
	EXPECT(log, 0, ecr_blob_stat(r, huge.digest, &size));
	assert_int_equal(size, huge.len);
	read_range(log, reg, r, &huge, (32u << 20) - 3, 10, 4);
	blob_free(&huge);

	blob_free(&big);
	blob_free(&small);
	blob_free(&wrong);
	ecr_repository_free(r);
	ecr_repository_free(r2);
}

/* --- tests --- */

static void test_remote_remote_image__put_get(void **state)
{
	both(*state, sc_put_get);
}
static void test_remote_remote_image__index_delete(void **state)
{
	both(*state, sc_index_delete);
}
static void test_remote_remote_image__listing(void **state)
{
	both(*state, sc_listing);
}
static void test_remote_remote_image__referrers(void **state)
{
	both(*state, sc_referrers);
}
static void test_remote_remote_image__archive(void **state)
{
	both(*state, sc_archive);
}
static void test_remote_remote_image__uploads_blobs(void **state)
{
	both(*state, sc_uploads_blobs);
}

/* A transport that forwards to the HTTP one and flips a byte of every blob it downloads. */
typedef struct evil {
	ecr_transport base;
	ecr_transport *in;
} evil;

#define IN(t) (((evil *)(t))->in)

typedef struct evil_stream {
	ecr_transport_stream base;
	ecr_transport_stream *in;
	bool flipped;
} evil_stream;

static int es_read(ecr_transport_stream *s, void *buf, size_t len, size_t *n)
{
	evil_stream *e = (evil_stream *)s;
	int rc = e->in->read(e->in, buf, len, n);
	if (!rc && *n && !e->flipped) {
		((unsigned char *)buf)[0] ^= 1;
		e->flipped = true;
	}
	return rc;
}

static void es_close(ecr_transport_stream *s)
{
	evil_stream *e = (evil_stream *)s;
	e->in->close(e->in);
	free(e);
}

static int ev_blob_open(ecr_transport_stream **out, uint64_t *size, ecr_transport *t, const char *r, const char *d,
                        uint64_t off, uint64_t len)
{
	ecr_transport_stream *in = NULL;
	int rc = IN(t)->blob_open(&in, size, IN(t), r, d, off, len);
	if (rc)
		return rc;
	evil_stream *e = calloc(1, sizeof(*e));
	e->base.version = ECR_TRANSPORT_STREAM_VERSION;
	e->base.read = es_read;
	e->base.close = es_close;
	e->in = in;
	*out = &e->base;
	return 0;
}

static int ev_info(uint32_t *f, ecr_buf *a, ecr_buf *r, ecr_buf *h, ecr_transport *t)
{
	return IN(t)->info(f, a, r, h, IN(t));
}
static int ev_call(ecr_buf *res, ecr_transport *t, const char *op, const char *req, size_t len)
{
	return IN(t)->call(res, IN(t), op, req, len);
}
static int ev_mget(ecr_buf *b, ecr_buf *m, ecr_buf *d, ecr_transport *t, const char *r, const char *ref)
{
	return IN(t)->manifest_get(b, m, d, IN(t), r, ref);
}
static int ev_mhead(ecr_buf *m, ecr_buf *d, uint64_t *s, ecr_transport *t, const char *r, const char *ref)
{
	return IN(t)->manifest_head(m, d, s, IN(t), r, ref);
}
static int ev_mput(ecr_buf *d, ecr_transport *t, const char *r, const char *ref, const char *mt, const void *b,
                   size_t l)
{
	return IN(t)->manifest_put(d, IN(t), r, ref, mt, b, l);
}
static int ev_mdel(ecr_transport *t, const char *r, const char *ref)
{
	return IN(t)->manifest_delete(IN(t), r, ref);
}
static int ev_bstat(uint64_t *s, ecr_transport *t, const char *r, const char *d)
{
	return IN(t)->blob_stat(s, IN(t), r, d);
}
static int ev_bput(ecr_transport *t, const char *r, const char *d, const void *b, size_t l)
{
	return IN(t)->blob_put(IN(t), r, d, b, l);
}
static int ev_bmount(ecr_transport *t, const char *r, const char *f, const char *d)
{
	return IN(t)->blob_mount(IN(t), r, f, d);
}
static int ev_bdel(ecr_transport *t, const char *r, const char *d)
{
	return IN(t)->blob_delete(IN(t), r, d);
}
static int ev_ubegin(ecr_buf *s, ecr_transport *t, const char *r)
{
	return IN(t)->upload_begin(s, IN(t), r);
}
static int ev_ustatus(uint64_t *n, ecr_transport *t, const char *r, const char *s)
{
	return IN(t)->upload_status(n, IN(t), r, s);
}
static int ev_uwrite(ecr_buf *s, ecr_transport *t, const char *r, uint64_t o, const void *d, size_t l)
{
	return IN(t)->upload_write(s, IN(t), r, o, d, l);
}
static int ev_ucommit(ecr_transport *t, const char *r, const char *s, const char *d)
{
	return IN(t)->upload_commit(IN(t), r, s, d);
}
static int ev_ucancel(ecr_transport *t, const char *r, const char *s)
{
	return IN(t)->upload_cancel(IN(t), r, s);
}
static int ev_tags(ecr_buf *j, int *more, ecr_transport *t, const char *r, const char *last, unsigned int n)
{
	return IN(t)->tags_list(j, more, IN(t), r, last, n);
}
static int ev_refs(ecr_buf *i, ecr_transport *t, const char *r, const char *d, const char *at)
{
	return IN(t)->referrers(i, IN(t), r, d, at);
}
static void ev_free(ecr_transport *t)
{
	IN(t)->free(IN(t));
	free(t);
}

/* A blob corrupted on the way: a whole read fails at its end with ECR_EDIGEST; a ranged one is not checked. */
static void test_remote_remote_image__corrupt_blob(void **state)
{
	fx *f = *state;
	ecr_buf log = ECR_BUF_INIT;
	ecr_repository *r = NULL, *rb = NULL;
	ecr_registry *reg = NULL;
	blob b;
	char url[64];
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	evil *e = calloc(1, sizeof(*e));

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)f->port);
	o.access_key_id = f->key_id.ptr;
	o.secret_access_key = f->secret.ptr;
	o.region = "us-east-1";
	o.remote_flags = ECR_REMOTE_NO_RETRY;
	assert_ok(ecr__http_transport_new(&e->in, url, &o));
	e->base = (ecr_transport){ECR_TRANSPORT_VERSION,
	                          ev_info,
	                          ev_call,
	                          ev_mget,
	                          ev_mhead,
	                          ev_mput,
	                          ev_mdel,
	                          ev_bstat,
	                          ev_blob_open,
	                          ev_bput,
	                          ev_bmount,
	                          ev_bdel,
	                          ev_ubegin,
	                          ev_ustatus,
	                          ev_uwrite,
	                          ev_ucommit,
	                          ev_ucancel,
	                          ev_tags,
	                          ev_refs,
	                          ev_free};
	assert_ok(ecr_registry_open_transport(&reg, &e->base, &o));

	blob_make(&b, "good", 5000);
	EXPECT(&log, 0, ecr_repository_create(&rb, f->backing, "corrupt", NULL));
	EXPECT(&log, 0, ecr_blob_put(rb, b.digest, b.data, b.len));
	EXPECT(&log, 0, ecr_repository_open(&r, reg, "corrupt"));
	ecr_blob *rd = NULL;
	char buf[1000];
	size_t n, got = 0;
	int rc;
	EXPECT(&log, 0, ecr_blob_open(&rd, r, b.digest, 0, 0));
	while ((rc = ecr_blob_read(rd, buf, sizeof(buf), &n)) == 0 && n)
		got += n;
	assert_int_equal(rc, ECR_EDIGEST);
	assert_int_equal(got, b.len - 1000); /* the last piece is withheld */
	assert_int_equal(ecr_blob_read(rd, buf, sizeof(buf), &n), ECR_EDIGEST);
	ecr_blob_free(rd);
	/* a range is the caller's to check */
	EXPECT(&log, 0, ecr_blob_open(&rd, r, b.digest, 10, 100));
	EXPECT(&log, 0, ecr_blob_read(rd, buf, sizeof(buf), &n));
	assert_int_equal(n, 100);
	assert_int_equal((unsigned char)buf[0], (unsigned char)(b.data[10] ^ 1));
	ecr_blob_free(rd);
	/* the same through the plain transport is fine */
	ecr_repository_free(r);
	r = NULL;
	EXPECT(&log, 0, ecr_repository_open(&r, f->remote, "corrupt"));
	got = 0;
	EXPECT(&log, 0, ecr_blob_open(&rd, r, b.digest, 0, 0));
	while ((rc = ecr_blob_read(rd, buf, sizeof(buf), &n)) == 0 && n)
		got += n;
	assert_int_equal(rc, 0);
	assert_int_equal(got, b.len);
	ecr_blob_free(rd);

	free(log.ptr);
	blob_free(&b);
	ecr_repository_free(r);
	ecr_repository_free(rb);
	ecr_registry_free(reg);
}

/* A plain OCI registry (no ECR API): images are what the data plane knows. */
static void test_remote_remote_image__oci_only(void **state)
{
	fx *f = *state;
	ecr_buf log = ECR_BUF_INIT, d = ECR_BUF_INIT;
	ecr_repository *r = NULL, *ro = NULL;
	blob config, layer, m;
	ecr_image *img = NULL;
	const void *bytes;
	size_t len;

	r = repo_with_blobs(&log, f->remote, "plain", &config, &layer, ECR_TAG_MUTABLE);
	remote_fixture_open_remote(&f->oci, f, ECR_REMOTE_OCI_ONLY);
	EXPECT(&log, 0, ecr_repository_open(&ro, f->oci, "plain"));
	manifest_make(&m, &config, &layer, "oci", NULL, NULL, 0);
	EXPECT(&log, 0, ecr_image_put(&img, ro, "v1", NULL, NULL, m.data, m.len, 0));
	assert_string_equal(ecr_image_digest(img), m.digest);
	ecr_image_free(img);
	EXPECT(&log, 0, ecr_image_get(&img, ro, "v1", 0));
	assert_string_equal(ecr_image_digest(img), m.digest);
	assert_string_equal(ecr_image_media_type(img), MT_MANIFEST);
	assert_int_equal(ecr_image_manifest_size(img), m.len);
	assert_ok(ecr_image_manifest(&bytes, &len, img));
	assert_memory_equal(bytes, m.data, m.len);
	ecr_image_free(img);
	EXPECT(&log, ECR_EIMAGE_NOT_FOUND, ecr_image_get(&img, ro, "v2", 0));
	ecr_tag_iterator *ti = NULL;
	const char *tag, *digest;
	EXPECT(&log, 0, ecr_tag_iterator_new(&ti, ro, NULL));
	EXPECT(&log, 0, ecr_tag_iterator_next(&tag, &digest, ti));
	assert_string_equal(tag, "v1");
	assert_string_equal(digest, m.digest);
	EXPECT(&log, ECR_ITEROVER, ecr_tag_iterator_next(&tag, &digest, ti));
	ecr_tag_iterator_free(ti);
	EXPECT(&log, 0, ecr_image_untag(&d, ro, "v1", 0));
	assert_string_equal(d.ptr, m.digest);
	EXPECT(&log, 0, ecr_image_get(&img, ro, m.digest, 0));
	ecr_image_free(img);
	EXPECT(&log, 0, ecr_image_delete(ro, m.digest));
	EXPECT(&log, ECR_EIMAGE_NOT_FOUND, ecr_image_get(&img, ro, m.digest, 0));
	read_range(&log, f->oci, ro, &layer, 10, 20, 3);
	free(log.ptr);
	ecr_buf_dispose(&d);
	blob_free(&config);
	blob_free(&layer);
	blob_free(&m);
	ecr_repository_free(r);
	ecr_repository_free(ro);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_remote_remote_image__put_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_remote_image__index_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_remote_image__listing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_remote_image__referrers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_remote_image__archive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_remote_image__uploads_blobs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_remote_image__corrupt_blob, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_remote_image__oci_only, setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("remote/remote_image", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
