/* Public registries (libecr/engine/public.c): the public flag, aliases (assigned once, stable, chosen,
 * unique in a storage, looked up, listed), display names, repository catalog data and logos with every limit,
 * ECR Public's ARNs and URIs, private registries refused, and public and private repositories of one data folder
 * side by side, sharing blobs. */
#include "libecr/core/crypto.h"
#include "libecr/core/digest.h"

#include "../helpers/helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCT "111111111111"
#define OTHER "222222222222"

static ecr_registry *open_reg(const char *url, const char *account, const char *region)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *reg;
	opts.account_id = account;
	opts.region = region;
	assert_ok(ecr_registry_open(&reg, url, &opts));
	return reg;
}

static char *file_url(const char *dir)
{
	size_t n = strlen(dir) + 8;
	char *url = malloc(n);
	snprintf(url, n, "file://%s", dir);
	return url;
}

static bool alias_shape(const char *a)
{
	if (strlen(a) != 8 || a[0] < 'a' || a[0] > 'z')
		return false;
	for (size_t i = 1; i < 8; i++)
		if (!((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= '0' && a[i] <= '9')))
			return false;
	return true;
}

static void test_engine_public__flag_and_alias_memory(void **state)
{
	(void)state;
	ecr_registry *pub = open_reg("memory:", ACCT, ECR_REGION_PUBLIC);
	ecr_registry *priv = open_reg("memory:", ACCT, "us-east-1");
	assert_int_equal(ecr_registry_is_public(pub), 1);
	assert_int_equal(ecr_registry_is_public(priv), 0);
	assert_int_equal(ecr_registry_is_public(NULL), 0);
	assert_string_equal(ecr_registry_region(pub), "public");
	assert_string_equal(ecr_registry_arn(pub), "arn:aws:ecr-public::" ACCT ":registry/" ACCT);
	assert_string_equal(ecr_registry_arn(priv), "arn:aws:ecr:us-east-1:" ACCT ":registry");

	/* assigned on first use, then the same */
	ecr_buf a = ECR_BUF_INIT, b = ECR_BUF_INIT;
	assert_ok(ecr_public_alias(&a, pub));
	assert_true(alias_shape(a.ptr));
	assert_ok(ecr_public_alias(&b, pub));
	assert_string_equal(a.ptr, b.ptr);
	ecr_buf_dispose(&a);
	ecr_buf_dispose(&b);
	ecr_registry_free(pub);
	ecr_registry_free(priv);
}

static int collect_cb(const char *account, const char *alias, void *payload)
{
	char *s = payload;
	size_t n = strlen(s);
	snprintf(s + n, 512 - n, "%s=%s;", alias, account);
	return 0;
}

static int stop_cb(const char *account, const char *alias, void *payload)
{
	(void)account;
	(void)alias;
	(*(int *)payload)++;
	return 42;
}

static void test_engine_public__alias_file_store(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char *url = file_url(dir);
	ecr_registry *pub = open_reg(url, ACCT, ECR_REGION_PUBLIC);
	ecr_registry *priv = open_reg(url, ACCT, "us-east-1");
	ecr_buf a = ECR_BUF_INIT, b = ECR_BUF_INIT;
	char list[512] = "";

	/* opening does not assign: no public registry is listed yet */
	assert_ok(ecr_public_registries_foreach(priv, collect_cb, list));
	assert_string_equal(list, "");

	/* assigned once, stable across a reopen */
	assert_ok(ecr_public_alias(&a, pub));
	assert_true(alias_shape(a.ptr));
	ecr_registry_free(pub);
	pub = open_reg(url, ACCT, ECR_REGION_PUBLIC);
	assert_ok(ecr_public_alias(&b, pub));
	assert_string_equal(a.ptr, b.ptr);
	/* found through any handle of the storage, the private one included */
	assert_ok(ecr_public_alias_lookup(&b, priv, a.ptr));
	assert_string_equal(b.ptr, ACCT);

	/* chosen aliases: validation */
	static const char *const bad[] = {"",
	                                  "a",
	                                  "1abc",
	                                  "Abc",
	                                  "ab-",
	                                  "a-b",
	                                  "ab..cd",
	                                  "ab_",
	                                  "-ab",
	                                  "ab cd",
	                                  "ab/cd",
	                                  "ab.-cd",
	                                  "abc\xc3\xa9",
	                                  "a12345678901234567890123456789012345678901234567890" /* 51 */};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ecr_public_set_alias(pub, bad[i]) != ECR_EINVALID)
			fail_msg("alias '%s' was accepted", bad[i]);
		assert_int_equal(ecr_public_alias_lookup(&b, priv, bad[i]), ECR_EINVALID);
	}
	assert_int_equal(ecr_public_set_alias(pub, NULL), ECR_EINVALID);
	static const char *const good[] = {
	    "ab",       "a1",          "team-x",
	    "my.org_2", "a1-b2.c3_d4", "a1234567890123456789012345678901234567890123456789" /* 50 */};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_ok(ecr_public_set_alias(pub, good[i]));
		assert_ok(ecr_public_alias(&b, pub));
		assert_string_equal(b.ptr, good[i]);
	}
	/* the old alias is gone */
	assert_int_equal(ecr_public_alias_lookup(&b, priv, a.ptr), ECR_ENOTFOUND);
	assert_ok(ecr_public_set_alias(pub, "zeta"));

	/* unique across accounts */
	ecr_registry *other = open_reg(url, OTHER, ECR_REGION_PUBLIC);
	assert_int_equal(ecr_public_set_alias(other, "zeta"), ECR_EEXISTS);
	assert_non_null(strstr(ecr_error_last()->message, "zeta"));
	assert_ok(ecr_public_set_alias(pub, "zeta")); /* its own: fine */
	assert_ok(ecr_public_set_alias(other, "alpha"));
	assert_ok(ecr_public_alias_lookup(&b, pub, "alpha"));
	assert_string_equal(b.ptr, OTHER);
	assert_ok(ecr_public_alias_lookup(&b, other, "zeta"));
	assert_string_equal(b.ptr, ACCT);
	assert_int_equal(ecr_public_alias_lookup(&b, pub, "nobody"), ECR_ENOTFOUND);

	/* listed by alias, store-wide */
	list[0] = '\0';
	assert_ok(ecr_public_registries_foreach(priv, collect_cb, list));
	assert_string_equal(list, "alpha=" OTHER ";zeta=" ACCT ";");
	int calls = 0;
	assert_int_equal(ecr_public_registries_foreach(pub, stop_cb, &calls), 42);
	assert_int_equal(calls, 1);
	assert_int_equal(ecr_public_registries_foreach(pub, NULL, NULL), ECR_EINVALID);

	/* a freed alias can be taken */
	assert_ok(ecr_public_set_alias(pub, "omega"));
	assert_ok(ecr_public_set_alias(other, "zeta"));
	ecr_registry_free(other);
	ecr_registry_free(pub);
	ecr_registry_free(priv);
	ecr_buf_dispose(&a);
	ecr_buf_dispose(&b);
	free(url);
	th_rmtree(dir);
}

static void test_engine_public__display_name(void **state)
{
	(void)state;
	ecr_registry *pub = open_reg("memory:", ACCT, ECR_REGION_PUBLIC);
	ecr_buf b = ECR_BUF_INIT;
	char name[512];
	assert_ok(ecr_public_display_name(&b, pub));
	assert_string_equal(b.ptr, "");
	assert_ok(ecr_public_set_display_name(pub, "My Team"));
	assert_ok(ecr_public_display_name(&b, pub));
	assert_string_equal(b.ptr, "My Team");
	/* setting it assigned an alias */
	assert_ok(ecr_public_alias(&b, pub));
	assert_true(alias_shape(b.ptr));
	/* 100 characters pass, 101 fail; counted in characters, not bytes */
	memset(name, 'x', 100);
	name[100] = '\0';
	assert_ok(ecr_public_set_display_name(pub, name));
	name[100] = 'x';
	name[101] = '\0';
	assert_int_equal(ecr_public_set_display_name(pub, name), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "displayName"));
	name[0] = '\0';
	for (int i = 0; i < 100; i++)
		strcat(name, "\xc3\xa9");
	assert_ok(ecr_public_set_display_name(pub, name));
	assert_ok(ecr_public_display_name(&b, pub));
	assert_int_equal(b.size, 200);
	strcat(name, "\xc3\xa9");
	assert_int_equal(ecr_public_set_display_name(pub, name), ECR_EINVALID);
	assert_int_equal(ecr_public_set_display_name(pub, "bad \xc3"), ECR_EINVALID);
	assert_int_equal(ecr_public_set_display_name(pub, NULL), ECR_EINVALID);
	/* cleared */
	assert_ok(ecr_public_set_display_name(pub, ""));
	assert_ok(ecr_public_display_name(&b, pub));
	assert_string_equal(b.ptr, "");
	ecr_buf_dispose(&b);
	ecr_registry_free(pub);
}

/* Base64 of a fake image: sig (sig_len bytes) then filler up to size bytes. */
static char *image_b64(const char *sig, size_t sig_len, size_t size)
{
	unsigned char *img = calloc(1, size ? size : 1);
	memcpy(img, sig, sig_len < size ? sig_len : size);
	for (size_t i = sig_len; i < size; i++)
		img[i] = (unsigned char)(i * 7);
	ecr_buf b = ECR_BUF_INIT;
	assert_ok(ecr__base64_encode(&b, img, size));
	free(img);
	char *s = strdup(b.ptr ? b.ptr : "");
	ecr_buf_dispose(&b);
	return s;
}

#define PNG_SIG "\x89PNG\r\n\x1a\n"
#define JPEG_SIG "\xff\xd8\xff\xe0"

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* {"<member>":"<value>"} */
static int set_text(ecr_repository *repo, const char *member, const char *value)
{
	size_t n = strlen(member) + strlen(value) + 16;
	char *json = malloc(n);
	snprintf(json, n, "{\"%s\":\"%s\"}", member, value);
	int rc = ecr_repository_set_catalog_data(repo, json);
	free(json);
	return rc;
}

/* {"<member>":["x..", ...]}: count items of len characters. */
static int set_list(ecr_repository *repo, const char *member, size_t count, size_t len)
{
	ecr_buf b = ECR_BUF_INIT;
	char *item = repeat('a', len);
	assert_ok(ecr__buf_printf(&b, "{\"%s\":[", member));
	for (size_t i = 0; i < count; i++)
		assert_ok(ecr__buf_printf(&b, "%s\"%s\"", i ? "," : "", item));
	assert_ok(ecr__buf_puts(&b, "]}"));
	int rc = ecr_repository_set_catalog_data(repo, b.ptr);
	free(item);
	ecr_buf_dispose(&b);
	return rc;
}

static void test_engine_public__catalog_round_trip(void **state)
{
	(void)state;
	ecr_registry *pub = open_reg("memory:", ACCT, ECR_REGION_PUBLIC);
	ecr_repository *repo;
	ecr_buf b = ECR_BUF_INIT;
	assert_ok(ecr_repository_create(&repo, pub, "team/app", NULL));

	/* never set */
	assert_int_equal(ecr_repository_catalog_data(&b, repo), ECR_ECATALOG_DATA_NOT_FOUND);
	assert_int_equal(ecr_repository_catalog_logo(&b, repo), ECR_ENOTFOUND);

	char *png = image_b64(PNG_SIG, 8, 300);
	ecr_buf json = ECR_BUF_INIT;
	assert_ok(ecr__buf_printf(
	    &json,
	    "{\"usageText\":\"docker pull it\",\"logoImageBlob\":\"%s\",\"aboutText\":\"# About\\n\\u00e9t\\u00e9\","
	    "\"operatingSystems\":[\"Linux\"],\"architectures\":[\"x86-64\",\"ARM 64\"],\"description\":\"An app\"}",
	    png));
	assert_ok(ecr_repository_set_catalog_data(repo, json.ptr));
	assert_ok(ecr_repository_catalog_data(&b, repo));
	assert_string_equal(b.ptr, "{\"description\":\"An app\",\"architectures\":[\"x86-64\",\"ARM 64\"],"
	                           "\"operatingSystems\":[\"Linux\"],\"aboutText\":\"# About\\n\xc3\xa9t\xc3\xa9\","
	                           "\"usageText\":\"docker pull it\",\"marketplaceCertified\":false}");
	assert_ok(ecr_repository_catalog_logo(&b, repo));
	assert_int_equal(b.size, 300);
	assert_memory_equal(b.ptr, PNG_SIG, 8);
	assert_int_equal((unsigned char)b.ptr[299], (unsigned char)(299 * 7));

	/* replaced: members left out are cleared, the logo too; empty members are left out */
	assert_ok(ecr_repository_set_catalog_data(
	    repo, "{\"description\":\"Only\",\"architectures\":[],\"usageText\":\"\"}"));
	assert_ok(ecr_repository_catalog_data(&b, repo));
	assert_string_equal(b.ptr, "{\"description\":\"Only\",\"marketplaceCertified\":false}");
	assert_int_equal(ecr_repository_catalog_logo(&b, repo), ECR_ENOTFOUND);
	assert_ok(ecr_repository_set_catalog_data(repo, "{}"));
	assert_ok(ecr_repository_catalog_data(&b, repo));
	assert_string_equal(b.ptr, "{\"marketplaceCertified\":false}");

	/* a JPEG logo, through another handle of the repository */
	char *jpeg = image_b64(JPEG_SIG, 4, 100);
	ecr__buf_clear(&json);
	assert_ok(ecr__buf_printf(&json, "{\"logoImageBlob\":\"%s\"}", jpeg));
	ecr_repository *again;
	assert_ok(ecr_repository_open(&again, pub, "team/app"));
	assert_ok(ecr_repository_set_catalog_data(again, json.ptr));
	assert_ok(ecr_repository_catalog_logo(&b, repo));
	assert_int_equal(b.size, 100);
	assert_memory_equal(b.ptr, JPEG_SIG, 4);
	ecr_repository_free(again);

	free(png);
	free(jpeg);
	ecr_buf_dispose(&json);
	ecr_buf_dispose(&b);
	ecr_repository_free(repo);
	ecr_registry_free(pub);
}

static void expect_invalid(ecr_repository *repo, const char *json, const char *in_message)
{
	int rc = ecr_repository_set_catalog_data(repo, json);
	if (rc != ECR_EINVALID)
		fail_msg("%.80s: expected ECR_EINVALID, got %d", json ? json : "(null)", rc);
	if (in_message && !strstr(ecr_error_last()->message, in_message))
		fail_msg("'%s' not in '%s'", in_message, ecr_error_last()->message);
}

static void test_engine_public__catalog_limits(void **state)
{
	(void)state;
	ecr_registry *pub = open_reg("memory:", ACCT, ECR_REGION_PUBLIC);
	ecr_repository *repo;
	ecr_buf b = ECR_BUF_INIT, json = ECR_BUF_INIT;
	assert_ok(ecr_repository_create(&repo, pub, "app", NULL));
	assert_ok(ecr_repository_set_catalog_data(repo, "{\"description\":\"before\"}"));

	/* description: 1024 characters */
	char *s = repeat('d', 1024);
	assert_ok(set_text(repo, "description", s));
	free(s);
	s = repeat('d', 1025);
	assert_int_equal(set_text(repo, "description", s), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "description"));
	assert_non_null(strstr(ecr_error_last()->message, "1024"));
	free(s);
	/* characters, not bytes */
	ecr__buf_clear(&b);
	for (int i = 0; i < 1024; i++)
		assert_ok(ecr__buf_puts(&b, "\xc3\xa9"));
	assert_ok(set_text(repo, "description", b.ptr));
	assert_ok(ecr__buf_puts(&b, "\xc3\xa9"));
	assert_int_equal(set_text(repo, "description", b.ptr), ECR_EINVALID);

	/* aboutText, usageText: 25600 */
	static const char *const texts[] = {"aboutText", "usageText"};
	for (int i = 0; i < 2; i++) {
		s = repeat('t', 25600);
		assert_ok(set_text(repo, texts[i], s));
		free(s);
		s = repeat('t', 25601);
		assert_int_equal(set_text(repo, texts[i], s), ECR_EINVALID);
		assert_non_null(strstr(ecr_error_last()->message, texts[i]));
		assert_non_null(strstr(ecr_error_last()->message, "25600"));
		free(s);
	}

	/* architectures, operatingSystems: 50 items of 1 to 50 characters */
	static const char *const lists[] = {"architectures", "operatingSystems"};
	for (int i = 0; i < 2; i++) {
		assert_ok(set_list(repo, lists[i], 50, 50));
		assert_ok(set_list(repo, lists[i], 1, 1));
		assert_int_equal(set_list(repo, lists[i], 51, 1), ECR_EINVALID);
		assert_non_null(strstr(ecr_error_last()->message, lists[i]));
		assert_int_equal(set_list(repo, lists[i], 1, 51), ECR_EINVALID);
		assert_non_null(strstr(ecr_error_last()->message, lists[i]));
		assert_int_equal(set_list(repo, lists[i], 2, 0), ECR_EINVALID);
	}
	ecr__buf_clear(&json);
	assert_ok(ecr__buf_printf(&json, "{\"architectures\":[\"x\",3]}"));
	expect_invalid(repo, json.ptr, "architectures");
	expect_invalid(repo, "{\"operatingSystems\":\"Linux\"}", "operatingSystems");

	/* the logo: PNG or JPEG, at most 512000 bytes */
	char *img = image_b64(PNG_SIG, 8, 512000);
	ecr__buf_clear(&json);
	assert_ok(ecr__buf_printf(&json, "{\"logoImageBlob\":\"%s\"}", img));
	assert_ok(ecr_repository_set_catalog_data(repo, json.ptr));
	assert_ok(ecr_repository_catalog_logo(&b, repo));
	assert_int_equal(b.size, 512000);
	free(img);
	img = image_b64(PNG_SIG, 8, 512001);
	ecr__buf_clear(&json);
	assert_ok(ecr__buf_printf(&json, "{\"logoImageBlob\":\"%s\"}", img));
	expect_invalid(repo, json.ptr, "512000");
	free(img);
	img = image_b64("GIF89a", 6, 200);
	ecr__buf_clear(&json);
	assert_ok(ecr__buf_printf(&json, "{\"logoImageBlob\":\"%s\"}", img));
	expect_invalid(repo, json.ptr, "logoImageBlob");
	free(img);
	expect_invalid(repo, "{\"logoImageBlob\":\"not base64!\"}", "logoImageBlob");
	expect_invalid(repo, "{\"logoImageBlob\":\"iVBO\"}", "logoImageBlob"); /* 3 bytes of a PNG signature */
	expect_invalid(repo, "{\"logoImageBlob\":17}", "logoImageBlob");

	/* unknown members, wrong types, not an object, not JSON */
	expect_invalid(repo, "{\"description\":\"x\",\"logoUrl\":\"http://x\"}", "logoUrl");
	expect_invalid(repo, "{\"marketplaceCertified\":false}", "marketplaceCertified");
	expect_invalid(repo, "{\"description\":1}", "description");
	expect_invalid(repo, "{\"description\":\"a\\u0000b\"}", "description");
	expect_invalid(repo, "[]", NULL);
	expect_invalid(repo, "{\"description\":", NULL);
	expect_invalid(repo, "{\"description\":\"a\",\"description\":\"b\"}", NULL);
	expect_invalid(repo, NULL, NULL);

	/* a failed set leaves the data as it was: the last good one was the 512000-byte logo */
	assert_ok(ecr_repository_catalog_data(&b, repo));
	assert_string_equal(b.ptr, "{\"marketplaceCertified\":false}");
	assert_ok(ecr_repository_catalog_logo(&b, repo));
	assert_int_equal(b.size, 512000);

	ecr_buf_dispose(&b);
	ecr_buf_dispose(&json);
	ecr_repository_free(repo);
	ecr_registry_free(pub);
}

static int count_files(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		DIR *s = opendir(sub);
		if (s) {
			closedir(s);
			n += count_files(sub);
		} else {
			n++;
		}
	}
	closedir(d);
	return n;
}

/* Push a small image (config + one layer) to repo under tag. */
static void push(ecr_repository *repo, const char *layer, const char *tag)
{
	char ld[ECR__DIGEST_STRLEN_MAX], cd[ECR__DIGEST_STRLEN_MAX];
	const char *config =
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	assert_ok(ecr__digest_buf(ld, sizeof(ld), ECR__DIGEST_SHA256, layer, strlen(layer)));
	assert_ok(ecr__digest_buf(cd, sizeof(cd), ECR__DIGEST_SHA256, config, strlen(config)));
	assert_ok(ecr_blob_put(repo, ld, layer, strlen(layer)));
	assert_ok(ecr_blob_put(repo, cd, config, strlen(config)));
	char manifest[1024];
	snprintf(
	    manifest, sizeof(manifest),
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\","
	    "\"size\":%zu}]}",
	    cd, strlen(config), ld, strlen(layer));
	assert_ok(ecr_image_put(NULL, repo, tag, NULL, NULL, manifest, strlen(manifest), 0));
}

static void test_engine_public__arns_uris_and_shared_storage(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char *url = file_url(dir);
	char path[1024];
	ecr_registry *pub = open_reg(url, ACCT, ECR_REGION_PUBLIC);
	ecr_registry *priv = open_reg(url, ACCT, "us-east-1");
	ecr_repository *pr, *vr;
	ecr_buf b = ECR_BUF_INIT;

	/* the same name in both: two repositories */
	assert_ok(ecr_repository_create(&pr, pub, "team/app", NULL));
	assert_ok(ecr_repository_create(&vr, priv, "team/app", NULL));
	assert_ok(ecr_public_alias(&b, pub));
	char uri[128];
	snprintf(uri, sizeof(uri), "public.ecr.aws/%s/team/app", b.ptr);
	assert_string_equal(ecr_repository_uri(pr), uri);
	assert_string_equal(ecr_repository_arn(pr), "arn:aws:ecr-public::" ACCT ":repository/team/app");
	assert_string_equal(ecr_repository_uri(vr), ACCT ".dkr.ecr.us-east-1.amazonaws.com/team/app");
	assert_string_equal(ecr_repository_arn(vr), "arn:aws:ecr:us-east-1:" ACCT ":repository/team/app");

	/* a chosen alias shows in handles made after it (open and iterate) */
	assert_ok(ecr_public_set_alias(pub, "my-team"));
	ecr_repository *again;
	assert_ok(ecr_repository_open(&again, pub, "team/app"));
	assert_string_equal(ecr_repository_uri(again), "public.ecr.aws/my-team/team/app");
	ecr_repository_free(again);
	ecr_repository_iterator *it;
	assert_ok(ecr_repository_iterator_new(&it, pub, NULL));
	assert_ok(ecr_repository_iterator_next(&again, it));
	assert_string_equal(ecr_repository_uri(again), "public.ecr.aws/my-team/team/app");
	assert_int_equal(ecr_repository_iterator_next(&again, it), ECR_ITEROVER);
	ecr_repository_iterator_free(it);

	/* the same layer pushed to both is stored once */
	snprintf(path, sizeof(path), "%s/blobs", dir);
	push(pr, "the shared layer", "v1");
	int stored = count_files(path);
	assert_true(stored >= 2); /* the layer and the config (and the manifest, if kept as a blob) */
	push(vr, "the shared layer", "v1");
	assert_int_equal(count_files(path), stored);
	/* a new layer (and the manifest naming it) adds files: the count is real */
	push(vr, "a private layer", "v2");
	assert_true(count_files(path) > stored);
	char ld[ECR__DIGEST_STRLEN_MAX];
	uint64_t size;
	assert_ok(ecr__digest_buf(ld, sizeof(ld), ECR__DIGEST_SHA256, "a private layer", 15));
	assert_ok(ecr_blob_stat(vr, ld, &size));
	assert_int_equal(ecr_blob_stat(pr, ld, &size), ECR_ENOTFOUND);

	/* private repositories have no catalog data */
	assert_int_equal(ecr_repository_set_catalog_data(vr, "{}"), ECR_EINVALID);

	/* the catalog goes with the repository: force delete (it has images) */
	assert_ok(ecr_repository_set_catalog_data(pr, "{\"description\":\"gone soon\"}"));
	assert_ok(ecr_repository_delete(pub, "team/app", ECR_REPOSITORY_DELETE_FORCE));
	assert_int_equal(ecr_repository_catalog_data(&b, pr), ECR_EREPOSITORY_NOT_FOUND);
	ecr_repository_free(pr);
	assert_ok(ecr_repository_create(&pr, pub, "team/app", NULL));
	assert_int_equal(ecr_repository_catalog_data(&b, pr), ECR_ECATALOG_DATA_NOT_FOUND);
	/* and a normal delete */
	assert_ok(ecr_repository_set_catalog_data(pr, "{\"description\":\"again\"}"));
	ecr_repository_free(pr);
	assert_ok(ecr_repository_delete(pub, "team/app", 0));
	assert_ok(ecr_repository_create(&pr, pub, "team/app", NULL));
	assert_int_equal(ecr_repository_catalog_data(&b, pr), ECR_ECATALOG_DATA_NOT_FOUND);
	/* the private one is untouched */
	assert_ok(ecr_repository_open(&again, priv, "team/app"));
	ecr_repository_free(again);

	ecr_repository_free(pr);
	ecr_repository_free(vr);
	ecr_registry_free(pub);
	ecr_registry_free(priv);
	ecr_buf_dispose(&b);
	free(url);
	th_rmtree(dir);
}

static void test_engine_public__private_refused(void **state)
{
	(void)state;
	ecr_registry *priv = open_reg("memory:", ACCT, "eu-west-1");
	ecr_repository *repo;
	ecr_buf b = ECR_BUF_INIT;
	assert_ok(ecr_repository_create(&repo, priv, "app", NULL));
	assert_int_equal(ecr_registry_is_public(priv), 0);
	assert_int_equal(ecr_public_alias(&b, priv), ECR_EINVALID);
	assert_int_equal(ecr_public_set_alias(priv, "fine-alias"), ECR_EINVALID);
	assert_int_equal(ecr_public_display_name(&b, priv), ECR_EINVALID);
	assert_int_equal(ecr_public_set_display_name(priv, "x"), ECR_EINVALID);
	assert_int_equal(ecr_repository_set_catalog_data(repo, "{}"), ECR_EINVALID);
	assert_int_equal(ecr_repository_catalog_data(&b, repo), ECR_EINVALID);
	assert_int_equal(ecr_repository_catalog_logo(&b, repo), ECR_EINVALID);
	/* store-wide lookups work through any handle: there is nothing here */
	assert_int_equal(ecr_public_alias_lookup(&b, priv, "fine-alias"), ECR_ENOTFOUND);
	char list[512] = "";
	assert_ok(ecr_public_registries_foreach(priv, collect_cb, list));
	assert_string_equal(list, "");
	ecr_buf_dispose(&b);
	ecr_repository_free(repo);
	ecr_registry_free(priv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engine_public__flag_and_alias_memory),
	    cmocka_unit_test(test_engine_public__alias_file_store),
	    cmocka_unit_test(test_engine_public__display_name),
	    cmocka_unit_test(test_engine_public__catalog_round_trip),
	    cmocka_unit_test(test_engine_public__catalog_limits),
	    cmocka_unit_test(test_engine_public__arns_uris_and_shared_storage),
	    cmocka_unit_test(test_engine_public__private_refused),
	};
	return cmocka_run_group_tests_name("engine/public", tests, NULL, NULL);
}
