/*
 * api_transcript URL: run one scenario over the public API of a registry
 * handle and print a transcript of every result and error code.
 * tests/integration/transparency.sh runs it on a file:// registry and on a fresh
 * registry served by ecrd over http://, and requires the two transcripts to
 * be identical: the transport is transparent. Values that differ by nature
 * (times, the host part of repository URIs) are printed normalised.
 *
 * Exit status: 0 when the scenario ran to its end (the comparison is the
 * test), 1 when the registry could not be opened.
 */
#include <ecr.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

static void say(const char *what, int rc)
{
	const ecr_error *e = ecr_error_last();
	printf("%-44s %s\n", what, ecr_error_name(rc));
	if (rc && getenv("TRANSCRIPT_VERBOSE"))
		fprintf(stderr, "  %s: %s\n", what, e->message);
}

static void sha256_digest(char out[72], const void *data, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(data, len, md);
	strcpy(out, "sha256:");
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

/* A blob of n bytes of a pattern picked by seed. */
static unsigned char *pattern(size_t n, unsigned seed)
{
	unsigned char *p = malloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(x >> 16);
	}
	return p;
}

/* Push a blob through an upload in parts of part bytes; print the results. */
static void push_blob(ecr_repository *repo, const char *label, const unsigned char *data, size_t len, size_t part,
	char digest[72])
{
	ecr_upload *up = NULL;
	char what[96];
	int rc;
	sha256_digest(digest, data, len);
	snprintf(what, sizeof(what), "upload %s begin", label);
	say(what, rc = ecr_upload_begin(&up, repo));
	if (rc)
		return;
	for (size_t off = 0; off < len; off += part) {
		size_t n = len - off < part ? len - off : part;
		rc = ecr_upload_write(up, off, data + off, n);
		if (rc) {
			snprintf(what, sizeof(what), "upload %s write @%zu", label, off);
			say(what, rc);
			break;
		}
	}
	printf("%-44s %" PRIu64 "\n", "upload size", ecr_upload_size(up));
	snprintf(what, sizeof(what), "upload %s commit", label);
	say(what, ecr_upload_commit(up, digest));
	ecr_upload_free(up);
}

static char *image_manifest(const char *config, size_t config_len, const char *layer, size_t layer_len,
	const char *subject, size_t subject_len, const char *artifact_type)
{
	char *m = malloc(2048);
	int n = snprintf(m, 2048,
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",%s%s%s"
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
		"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]",
		artifact_type ? "\"artifactType\":\"" : "", artifact_type ? artifact_type : "", artifact_type ? "\"," : "",
		config, config_len, layer, layer_len);
	if (subject)
		n += snprintf(m + n, 2048 - n,
			",\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu}",
			subject, subject_len);
	snprintf(m + n, 2048 - n, "}");
	return m;
}

static void print_image(const char *label, ecr_image *img)
{
	printf("%-44s digest=%s type=%s size=%" PRIu64 " msize=%" PRIu64 " pushed=%s class=%d status=%d tags=",
		label, ecr_image_digest(img), ecr_image_media_type(img), ecr_image_size(img), ecr_image_manifest_size(img),
		ecr_image_pushed_at(img) > 0 ? "yes" : "no", (int)ecr_image_storage_class(img), (int)ecr_image_status_of(img));
	for (size_t i = 0; i < ecr_image_tag_count(img); i++)
		printf("%s%s", i ? "," : "", ecr_image_tag(img, i));
	const char *at = ecr_image_artifact_type(img), *sub = ecr_image_subject(img);
	printf(" artifact=%s subject=%s\n", at ? at : "-", sub ? sub : "-");
}

static void print_repository(const char *label, ecr_repository *repo)
{
	const char *uri = ecr_repository_uri(repo), *slash = strchr(uri, '/');
	printf("%-44s name=%s arn=%s uri=*%s mutability=%d exclusions=%zu scan=%d enc=%d created=%s\n", label,
		ecr_repository_name(repo), ecr_repository_arn(repo), slash ? slash : uri,
		(int)ecr_repository_tag_mutability(repo), ecr_repository_exclusion_count(repo),
		ecr_repository_scan_on_push(repo), (int)ecr_repository_encryption_type(repo),
		ecr_repository_created_at(repo) > 0 ? "yes" : "no");
}

static int tag_cb(const char *key, const char *value, void *payload)
{
	(void)payload;
	printf("  resource tag %s=%s\n", key, value);
	return 0;
}

static int preview_cb(ecr_image *img, ecr_lifecycle_action action, uint32_t rule, void *payload)
{
	(void)payload;
	const void *body;
	size_t len = 0;
	int rc = ecr_image_manifest(&body, &len, img);
	printf("  preview %s action=%d rule=%u msize=%" PRIu64 " manifest=%s/%zu tags=%zu\n", ecr_image_digest(img),
		(int)action, rule, ecr_image_manifest_size(img), ecr_error_name(rc), len, ecr_image_tag_count(img));
	return 0;
}

static void list_images(ecr_repository *repo, const char *label, const ecr_image_list_options *opts)
{
	ecr_image_iterator *it = NULL;
	ecr_image *img;
	int rc;
	printf("%s:\n", label);
	if ((rc = ecr_image_iterator_new(&it, repo, opts))) {
		say("  iterator", rc);
		return;
	}
	while ((rc = ecr_image_iterator_next(&img, it)) == 0)
		print_image("  image", img);
	say("  end", rc);
	ecr_image_iterator_free(it);
}

static void list_tags(ecr_repository *repo, const char *after)
{
	ecr_tag_iterator *it = NULL;
	const char *tag, *digest;
	int rc;
	printf("tags after %s:\n", after ? after : "-");
	if ((rc = ecr_tag_iterator_new(&it, repo, after))) {
		say("  iterator", rc);
		return;
	}
	while ((rc = ecr_tag_iterator_next(&tag, &digest, it)) == 0)
		printf("  %s %s\n", tag, digest);
	say("  end", rc);
	ecr_tag_iterator_free(it);
}

int main(int argc, char **argv)
{
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *reg = NULL;
	ecr_repository *app = NULL, *lib = NULL, *repo = NULL;
	ecr_image *img = NULL;
	ecr_buf buf = ECR_BUF_INIT;
	char cfg_d[72], layer_d[72], big_d[72], man_d[72], man2_d[72], ref_d[72], idx_d[72];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s URL\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = ecr_registry_open(&reg, argv[1], &ro))) {
		fprintf(stderr, "cannot open %s: %s\n", argv[1], ecr_error_last()->message);
		return 1;
	}
	printf("registry account=%s region=%s arn=%s\n", ecr_registry_account_id(reg), ecr_registry_region(reg),
		ecr_registry_arn(reg));

	/* Repositories. */
	ecr_repository_options opts = ECR_REPOSITORY_OPTIONS_INIT;
	say("create app", rc = ecr_repository_create(&app, reg, "team/app", &opts));
	if (rc)
		return 0;
	print_repository("app", app);
	say("create app again", ecr_repository_create(&repo, reg, "team/app", &opts));
	say("create bad name", ecr_repository_create(&repo, reg, "Bad_Name", &opts));
	const char *excl[] = { "dev-*" };
	ecr_resource_tag rtags[] = { { "team", "core" }, { "cost", "42" } };
	opts.tag_mutability = ECR_TAG_IMMUTABLE_WITH_EXCLUSION;
	opts.exclusions = excl;
	opts.exclusions_count = 1;
	opts.scan_on_push = 1;
	opts.tags = rtags;
	opts.tags_count = 2;
	say("create lib", rc = ecr_repository_create(&lib, reg, "team/lib", &opts));
	if (rc)
		return 0;
	print_repository("lib", lib);
	say("open missing", ecr_repository_open(&repo, reg, "nope"));
	say("open lib", ecr_repository_open(&repo, reg, "team/lib"));
	if (repo) {
		print_repository("lib opened", repo);
		ecr_repository_free(repo);
		repo = NULL;
	}
	for (int i = 0; i < 7; i++) {
		char name[32];
		snprintf(name, sizeof(name), "bulk/r%02d", i);
		ecr_repository *r = NULL;
		rc = ecr_repository_create(&r, reg, name, NULL);
		if (rc)
			say(name, rc);
		ecr_repository_free(r);
	}
	ecr_repository_iterator *rit = NULL;
	say("repository iterator", rc = ecr_repository_iterator_new(&rit, reg, NULL));
	for (int n = 0; !rc && (rc = ecr_repository_iterator_next(&repo, rit)) == 0; n++) {
		printf("  repository %s\n", ecr_repository_name(repo));
		if (n == 3) { /* resume from a token in a new iterator */
			ecr_buf tok = ECR_BUF_INIT;
			say("  token", ecr_repository_iterator_token(&tok, rit));
			ecr_repository_iterator_free(rit);
			rit = NULL;
			say("  resume", rc = ecr_repository_iterator_new(&rit, reg, tok.ptr));
			ecr_buf_dispose(&tok);
		}
	}
	say("repository iterator end", rc);
	ecr_repository_iterator_free(rit);
	say("iterator after bulk/r04", rc = ecr_repository_iterator_new_after(&rit, reg, "bulk/r04"));
	while (!rc && (rc = ecr_repository_iterator_next(&repo, rit)) == 0)
		printf("  repository %s\n", ecr_repository_name(repo));
	ecr_repository_iterator_free(rit);
	say("delete bulk/r00", ecr_repository_delete(reg, "bulk/r00", 0));
	say("delete bulk/r00 again", ecr_repository_delete(reg, "bulk/r00", 0));

	/* Settings, tags, policies. */
	say("set scan on push app", ecr_repository_set_scan_on_push(app, 1));
	say("set mutability app", ecr_repository_set_tag_mutability(app, ECR_TAG_MUTABLE, NULL, 0));
	say("bad mutability exclusions", ecr_repository_set_tag_mutability(app, ECR_TAG_IMMUTABLE, excl, 1));
	print_repository("app now", app);
	say("resource tags lib", ecr_repository_resource_tags(lib, tag_cb, NULL));
	ecr_resource_tag more[] = { { "env", "prod" } };
	say("tag resource", ecr_repository_tag_resource(lib, more, 1));
	const char *rmkeys[] = { "cost" };
	say("untag resource", ecr_repository_untag_resource(lib, rmkeys, 1));
	say("resource tags lib", ecr_repository_resource_tags(lib, tag_cb, NULL));
	const char *policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"pull\",\"Effect\":\"Allow\","
			     "\"Principal\":{\"AWS\":\"arn:aws:iam::123456789012:root\"},\"Action\":[\"ecr:BatchGetImage\"]}]}";
	say("repository policy missing", ecr_repository_policy(&buf, app));
	say("set repository policy", ecr_repository_set_policy(app, policy, 0));
	say("set bad policy", ecr_repository_set_policy(app, "{\"Version\":1}", 0));
	rc = ecr_repository_policy(&buf, app);
	say("repository policy", rc);
	if (!rc)
		printf("  %s\n", buf.ptr);
	say("delete repository policy", ecr_repository_delete_policy(&buf, app));
	say("delete repository policy again", ecr_repository_delete_policy(NULL, app));
	say("registry policy missing", ecr_registry_policy(&buf, reg));

	/* Blobs and uploads. */
	const char *config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	unsigned char *layer = pattern(300000, 1), *big = pattern(5u << 20, 2);
	sha256_digest(cfg_d, config, strlen(config));
	say("blob put config", ecr_blob_put(app, cfg_d, config, strlen(config)));
	say("blob put wrong digest", ecr_blob_put(app, cfg_d, "nope", 4));
	push_blob(app, "layer", layer, 300000, 65536, layer_d);
	push_blob(app, "big", big, 5u << 20, 1u << 20, big_d);
	uint64_t size = 0;
	say("blob stat layer", ecr_blob_stat(app, layer_d, &size));
	printf("  size %" PRIu64 "\n", size);
	say("blob stat missing", ecr_blob_stat(app, "sha256:0000000000000000000000000000000000000000000000000000000000000000", &size));
	ecr_blob *blob = NULL;
	say("blob open range", rc = ecr_blob_open(&blob, app, big_d, 1000, 5000));
	if (!rc) {
		unsigned char part[5000];
		size_t got = 0, n;
		while (got < sizeof(part) && (rc = ecr_blob_read(blob, part + got, 777, &n)) == 0 && n)
			got += n;
		printf("  range %zu bytes, equal=%d, blob size %" PRIu64 "\n", got, got == 5000 && !memcmp(part, big + 1000, 5000),
			ecr_blob_size(blob));
		ecr_blob_free(blob);
	}
	ecr_upload *up = NULL;
	say("upload out of order", (rc = ecr_upload_begin(&up, app)) ? rc : ecr_upload_write(up, 10, layer, 10));
	if (up) {
		say("upload cancel", ecr_upload_cancel(up));
		ecr_upload_free(up);
		up = NULL;
	}
	say("upload open unknown", ecr_upload_open(&up, app, "00000000-0000-0000-0000-000000000000"));
	say("mount layer into lib", ecr_blob_mount(lib, app, layer_d));
	say("mount config into lib", ecr_blob_mount(lib, app, cfg_d));
	say("blob stat mounted", ecr_blob_stat(lib, layer_d, &size));

	/* Images. */
	char *m1 = image_manifest(cfg_d, strlen(config), layer_d, 300000, NULL, 0, NULL);
	char *m2 = image_manifest(cfg_d, strlen(config), big_d, 5u << 20, NULL, 0, NULL);
	const char *oci = "application/vnd.oci.image.manifest.v1+json";
	sha256_digest(man_d, m1, strlen(m1));
	sha256_digest(man2_d, m2, strlen(m2));
	say("put v1", rc = ecr_image_put(&img, app, "v1", NULL, oci, m1, strlen(m1), 0));
	if (!rc) {
		print_image("v1", img);
		ecr_image_free(img);
	}
	say("put v2 by digest", ecr_image_put(NULL, app, NULL, man2_d, oci, m2, strlen(m2), 0));
	say("put latest", ecr_image_put(NULL, app, "latest", NULL, oci, m2, strlen(m2), 0));
	say("put manifest missing blob", ecr_image_put(NULL, lib, "x", NULL, oci, m2, strlen(m2), 0));
	say("put lib release", ecr_image_put(NULL, lib, "release", NULL, oci, m1, strlen(m1), 0));
	say("move immutable release", ecr_image_put(NULL, lib, "release", NULL, oci, m2, strlen(m2), 0));
	say("get v1", rc = ecr_image_get(&img, app, "v1", 0));
	if (!rc) {
		const void *body;
		size_t len;
		print_image("v1", img);
		say("manifest", rc = ecr_image_manifest(&body, &len, img));
		printf("  manifest equal=%d\n", !rc && len == strlen(m1) && !memcmp(body, m1, len));
		ecr_image_free(img);
	}
	say("get missing tag", ecr_image_get(&img, app, "nope", 0));
	say("get missing digest", ecr_image_get(&img, app, "sha256:0000000000000000000000000000000000000000000000000000000000000000", 0));

	/* An index of the two images, and a referrer. */
	char idx[1024];
	snprintf(idx, sizeof(idx),
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
		"{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
		"{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}}]}",
		oci, man_d, strlen(m1), oci, man2_d, strlen(m2));
	sha256_digest(idx_d, idx, strlen(idx));
	say("put index", ecr_image_put(NULL, app, "multi", NULL, "application/vnd.oci.image.index.v1+json", idx,
				   strlen(idx), 0));
	say("delete child of index", ecr_image_delete(app, man_d));
	char *r = image_manifest(cfg_d, strlen(config), layer_d, 300000, man2_d, strlen(m2), "application/vnd.example.sbom");
	sha256_digest(ref_d, r, strlen(r));
	say("put referrer", ecr_image_put(NULL, app, NULL, ref_d, oci, r, strlen(r), 0));
	ecr_image_list_options lo = ECR_IMAGE_LIST_OPTIONS_INIT;
	list_images(app, "all images", &lo);
	lo.tag_status = ECR_TAG_STATUS_UNTAGGED;
	list_images(app, "untagged images", &lo);
	lo.tag_status = ECR_TAG_STATUS_ANY;
	lo.subject = man2_d;
	list_images(app, "referrers of v2", &lo);
	lo.artifact_type = "application/vnd.other";
	list_images(app, "referrers of another type", &lo);
	list_tags(app, NULL);
	list_tags(app, "latest");

	/* Tags and deletes. */
	say("untag latest", ecr_image_untag(&buf, app, "latest", 0));
	printf("  untagged %s\n", buf.size ? buf.ptr : "-");
	say("untag missing", ecr_image_untag(&buf, app, "latest", 0));
	say("retag latest", ecr_image_put(NULL, app, "latest", NULL, oci, m2, strlen(m2), 0));
	say("untag delete-untagged latest", ecr_image_untag(&buf, app, "latest", ECR_UNTAG_DELETE_UNTAGGED));
	say("delete index", ecr_image_delete(app, idx_d));
	say("delete index again", ecr_image_delete(app, idx_d));
	list_tags(app, NULL);

	/* Archive and restore. */
	say("archive v1", rc = ecr_image_set_storage_class(&img, app, man_d, ECR_STORAGE_CLASS_ARCHIVE));
	if (!rc) {
		print_image("archived", img);
		ecr_image_free(img);
	}
	say("get archived", ecr_image_get(&img, app, "v1", 0));
	say("restore v1", rc = ecr_image_set_storage_class(&img, app, man_d, ECR_STORAGE_CLASS_STANDARD));
	if (!rc) {
		print_image("restoring", img);
		ecr_image_free(img);
	}

	/* Lifecycle. */
	const char *lc = "{\"rules\":[{\"rulePriority\":1,\"description\":\"keep one\",\"selection\":{\"tagStatus\":\"any\","
			 "\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":{\"type\":\"expire\"}}]}";
	say("lifecycle missing", ecr_repository_lifecycle_policy(&buf, NULL, app));
	say("set lifecycle", ecr_repository_set_lifecycle_policy(app, lc));
	say("set bad lifecycle", ecr_repository_set_lifecycle_policy(app, "{\"rules\":[]}"));
	rc = ecr_repository_lifecycle_policy(&buf, NULL, app);
	say("lifecycle", rc);
	say("lifecycle preview", ecr_repository_lifecycle_preview(app, NULL, preview_cb, NULL));
	say("delete lifecycle", ecr_repository_delete_lifecycle_policy(NULL, NULL, app));

	/* Tear down. */
	say("delete app not empty", ecr_repository_delete(reg, "team/app", 0));
	say("delete app forced", ecr_repository_delete(reg, "team/app", ECR_REPOSITORY_DELETE_FORCE));
	say("blob stat after delete", ecr_blob_stat(lib, layer_d, &size));
	ecr_buf_dispose(&buf);
	free(m1);
	free(m2);
	free(r);
	free(layer);
	free(big);
	ecr_repository_free(app);
	ecr_repository_free(lib);
	ecr_registry_free(reg);
	printf("end\n");
	return 0;
}
