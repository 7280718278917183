/* Repositories: names, settings, resource tags, pagination, delete. */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <string.h>

#include "../helpers/th_image.h"
#include "libecr/engine/engine.h"

static int setup(void **state)
{
	ecr_registry *reg = NULL;
	if (ecr_registry_open(&reg, "memory:", NULL))
		return -1;
	*state = reg;
	return 0;
}

static int teardown(void **state)
{
	ecr_registry_free(*state);
	return 0;
}

static void test_engine_repository__create_defaults(void **state)
{
	ecr_registry *reg = *state;
	ecr_repository *repo;
	assert_ok(ecr_repository_create(&repo, reg, "team/app", NULL));
	assert_string_equal(ecr_repository_name(repo), "team/app");
	assert_string_equal(ecr_repository_registry_id(repo), "123456789012");
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_MUTABLE);
	assert_int_equal(ecr_repository_scan_on_push(repo), 0);
	assert_int_equal(ecr_repository_encryption_type(repo), ECR_ENCRYPTION_AES256);
	assert_null(ecr_repository_kms_key(repo));
	assert_int_equal(ecr_repository_exclusion_count(repo), 0);
	assert_null(ecr_repository_exclusion(repo, 0));
	ecr_repository_free(repo);

	assert_int_equal(ecr_repository_create(NULL, reg, "team/app", NULL), ECR_EREPOSITORY_EXISTS);
	assert_string_equal(ecr_error_last()->message,
		"The repository with name 'team/app' already exists in the registry with id '123456789012'");
	assert_int_equal(ecr_error_category(ECR_EREPOSITORY_EXISTS), ECR_EEXISTS);
	assert_string_equal(ecr_error_exception(ECR_EREPOSITORY_EXISTS), "RepositoryAlreadyExistsException");
}

static void test_engine_repository__names(void **state)
{
	ecr_registry *reg = *state;
	const char *bad[] = { "a", "UPPER", "-lead", "trail-", "a//b", "a/", "/a", "a..b", "a b", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ecr_repository_create(NULL, reg, bad[i], NULL);
		if (rc != ECR_EINVALID)
			fail_msg("name '%s' gave %d", bad[i], rc);
	}
	char longname[258];
	memset(longname, 'a', 257);
	longname[257] = '\0';
	assert_int_equal(ecr_repository_create(NULL, reg, longname, NULL), ECR_EINVALID);
	longname[256] = '\0';
	assert_ok(ecr_repository_create(NULL, reg, longname, NULL));
	const char *good[] = { "ab", "a-b", "a--b", "a__b", "a.b/c_d", "x/y/z" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_ok(ecr_repository_create(NULL, reg, good[i], NULL));
	assert_int_equal(ecr_repository_create(NULL, reg, NULL, NULL), ECR_EINVALID);
}

static void test_engine_repository__mutability(void **state)
{
	ecr_registry *reg = *state;
	ecr_repository_options opts = ECR_REPOSITORY_OPTIONS_INIT;
	ecr_repository *repo;
	const char *filters[] = { "latest", "dev-*" };

	/* filters only with the *_WITH_EXCLUSION modes, and required by them */
	opts.tag_mutability = ECR_TAG_IMMUTABLE;
	opts.exclusions = filters;
	opts.exclusions_count = 2;
	assert_int_equal(ecr_repository_create(NULL, reg, "m1", &opts), ECR_EINVALID);
	opts.tag_mutability = ECR_TAG_IMMUTABLE_WITH_EXCLUSION;
	opts.exclusions_count = 0;
	assert_int_equal(ecr_repository_create(NULL, reg, "m1", &opts), ECR_EINVALID);
	const char *badf[] = { "bad filter" };
	opts.exclusions = badf;
	opts.exclusions_count = 1;
	assert_int_equal(ecr_repository_create(NULL, reg, "m1", &opts), ECR_EINVALID);
	const char *six[] = { "a", "b", "c", "d", "e", "f" };
	opts.exclusions = six;
	opts.exclusions_count = 6;
	assert_int_equal(ecr_repository_create(NULL, reg, "m1", &opts), ECR_EINVALID);

	opts.exclusions = filters;
	opts.exclusions_count = 2;
	assert_ok(ecr_repository_create(&repo, reg, "m1", &opts));
	assert_int_equal(ecr_repository_exclusion_count(repo), 2);
	assert_string_equal(ecr_repository_exclusion(repo, 1), "dev-*");
	assert_int_equal(ecr_repository_tag_is_mutable(repo, "latest"), 1);
	assert_int_equal(ecr_repository_tag_is_mutable(repo, "dev-42"), 1);
	assert_int_equal(ecr_repository_tag_is_mutable(repo, "dev"), 0);
	assert_int_equal(ecr_repository_tag_is_mutable(repo, "v1.0"), 0);
	assert_int_equal(ecr_repository_tag_is_mutable(repo, "latest2"), 0);

	assert_ok(ecr_repository_set_tag_mutability(repo, ECR_TAG_MUTABLE_WITH_EXCLUSION, filters, 1));
	assert_int_equal(ecr_repository_tag_is_mutable(repo, "latest"), 0);
	assert_int_equal(ecr_repository_tag_is_mutable(repo, "v1"), 1);
	assert_ok(ecr_repository_set_scan_on_push(repo, 1));
	ecr_repository_free(repo);

	/* persisted */
	assert_ok(ecr_repository_open(&repo, reg, "m1"));
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_MUTABLE_WITH_EXCLUSION);
	assert_int_equal(ecr_repository_exclusion_count(repo), 1);
	assert_string_equal(ecr_repository_exclusion(repo, 0), "latest");
	assert_int_equal(ecr_repository_scan_on_push(repo), 1);
	assert_ok(ecr_repository_set_tag_mutability(repo, ECR_TAG_IMMUTABLE, NULL, 0));
	assert_int_equal(ecr_repository_tag_is_mutable(repo, "latest"), 0);
	assert_int_equal(ecr_repository_set_tag_mutability(repo, (ecr_tag_mutability)9, NULL, 0), ECR_EINVALID);
	ecr_repository_free(repo);
}

static void test_engine_repository__encryption(void **state)
{
	ecr_registry *reg = *state;
	ecr_repository_options opts = ECR_REPOSITORY_OPTIONS_INIT;
	ecr_repository *repo;
	opts.kms_key = "arn:aws:kms:us-east-1:123456789012:key/abc";
	assert_int_equal(ecr_repository_create(NULL, reg, "enc", &opts), ECR_EINVALID);
	opts.encryption_type = ECR_ENCRYPTION_KMS;
	assert_ok(ecr_repository_create(&repo, reg, "enc", &opts));
	assert_int_equal(ecr_repository_encryption_type(repo), ECR_ENCRYPTION_KMS);
	assert_string_equal(ecr_repository_kms_key(repo), opts.kms_key);
	ecr_repository_free(repo);
	opts.version = 0;
	assert_int_equal(ecr_repository_create(NULL, reg, "enc2", &opts), ECR_EINVALID);
	assert_int_equal(ecr_repository_options_init(&opts, 2), ECR_EINVALID);
}

static int collect_tags(const char *key, const char *value, void *payload)
{
	char *out = payload;
	strcat(out, key);
	strcat(out, "=");
	strcat(out, value);
	strcat(out, ";");
	return 0;
}

static int stop_at_first(const char *key, const char *value, void *payload)
{
	(void)key;
	(void)value;
	(*(int *)payload)++;
	return 42;
}

static void test_engine_repository__resource_tags(void **state)
{
	ecr_registry *reg = *state;
	ecr_repository_options opts = ECR_REPOSITORY_OPTIONS_INIT;
	ecr_resource_tag tags[] = { { "team", "infra" }, { "env", "" } };
	ecr_repository *repo;
	char out[4096] = "";
	opts.tags = tags;
	opts.tags_count = 2;
	assert_ok(ecr_repository_create(&repo, reg, "tagged", &opts));
	assert_ok(ecr_repository_resource_tags(repo, collect_tags, out));
	assert_string_equal(out, "env=;team=infra;");

	ecr_resource_tag more[] = { { "team", "platform" }, { "cost", "42" } };
	assert_ok(ecr_repository_tag_resource(repo, more, 2));
	out[0] = '\0';
	assert_ok(ecr_repository_resource_tags(repo, collect_tags, out));
	assert_string_equal(out, "cost=42;env=;team=platform;");

	const char *keys[] = { "env", "missing" };
	assert_ok(ecr_repository_untag_resource(repo, keys, 2));
	out[0] = '\0';
	assert_ok(ecr_repository_resource_tags(repo, collect_tags, out));
	assert_string_equal(out, "cost=42;team=platform;");

	int calls = 0;
	assert_int_equal(ecr_repository_resource_tags(repo, stop_at_first, &calls), 42);
	assert_int_equal(calls, 1);

	ecr_resource_tag reserved[] = { { "aws:owner", "x" } };
	assert_int_equal(ecr_repository_tag_resource(repo, reserved, 1), ECR_EINVALID_TAG_PARAMETER);
	char longkey[130];
	memset(longkey, 'k', 129);
	longkey[129] = '\0';
	ecr_resource_tag toolong[] = { { longkey, "x" } };
	assert_int_equal(ecr_repository_tag_resource(repo, toolong, 1), ECR_EINVALID_TAG_PARAMETER);

	/* at most 50, counting those already there */
	ecr_resource_tag many[49];
	char names[49][8];
	for (int i = 0; i < 49; i++) {
		snprintf(names[i], sizeof(names[i]), "k%02d", i);
		many[i].key = names[i];
		many[i].value = "v";
	}
	assert_int_equal(ecr_repository_tag_resource(repo, many, 49), ECR_ETOO_MANY_TAGS);
	out[0] = '\0';
	assert_ok(ecr_repository_resource_tags(repo, collect_tags, out));
	assert_string_equal(out, "cost=42;team=platform;"); /* all or nothing */
	assert_ok(ecr_repository_tag_resource(repo, many, 48));
	ecr_repository_free(repo);

	ecr_resource_tag fifty_one[51];
	for (int i = 0; i < 51; i++) {
		fifty_one[i].key = names[i % 49];
		fifty_one[i].value = "v";
	}
	opts.tags = fifty_one;
	opts.tags_count = 51;
	assert_int_equal(ecr_repository_create(NULL, reg, "toomany", &opts), ECR_ETOO_MANY_TAGS);
}

static void test_engine_repository__pagination(void **state)
{
	ecr_registry *reg = *state;
	char name[32];
	/* 250 repositories created out of order: listing is by name, in pages */
	for (int i = 0; i < 250; i++) {
		snprintf(name, sizeof(name), "repo-%03d", (i * 97) % 250);
		assert_ok(ecr_repository_create(NULL, reg, name, NULL));
	}
	ecr_repository_iterator *it;
	ecr_repository *repo;
	ecr_buf token = ECR_BUF_INIT;
	int seen = 0;
	assert_ok(ecr_repository_iterator_new(&it, reg, NULL));
	assert_ok(ecr_repository_iterator_token(&token, it));
	assert_int_equal(token.size, 0);
	for (int i = 0; i < 120; i++) {
		assert_ok(ecr_repository_iterator_next(&repo, it));
		snprintf(name, sizeof(name), "repo-%03d", i);
		assert_string_equal(ecr_repository_name(repo), name);
		seen++;
	}
	assert_ok(ecr_repository_iterator_token(&token, it));
	ecr_repository_iterator_free(it);

	/* resume from the token */
	assert_ok(ecr_repository_iterator_new(&it, reg, token.ptr));
	int rc;
	while ((rc = ecr_repository_iterator_next(&repo, it)) == 0) {
		snprintf(name, sizeof(name), "repo-%03d", seen);
		assert_string_equal(ecr_repository_name(repo), name);
		seen++;
	}
	assert_int_equal(rc, ECR_ITEROVER);
	assert_int_equal(seen, 250);
	assert_int_equal(ecr_repository_iterator_next(&repo, it), ECR_ITEROVER);
	ecr_repository_iterator_free(it);
	ecr_buf_dispose(&token);

	assert_int_equal(ecr_repository_iterator_new(&it, reg, "garbage!!"), ECR_EINVALID);
}

static int count_repos(ecr_repository *repo, void *payload)
{
	(void)repo;
	return ++*(int *)payload == 3 ? 7 : 0;
}

static void test_engine_repository__foreach(void **state)
{
	ecr_registry *reg = *state;
	int n = 0;
	assert_ok(ecr_repository_foreach(reg, count_repos, &n));
	assert_int_equal(n, 0);
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "r%d", i);
		assert_ok(ecr_repository_create(NULL, reg, name, NULL));
	}
	assert_int_equal(ecr_repository_foreach(reg, count_repos, &n), 7);
	assert_int_equal(n, 3);
}

static void test_engine_repository__delete(void **state)
{
	ecr_registry *reg = *state;
	ecr_repository *repo, *stale;
	uint64_t rng = 7;
	th_image img;
	assert_ok(ecr_repository_create(&repo, reg, "victim", NULL));
	assert_ok(ecr_repository_open(&stale, reg, "victim"));
	assert_ok(th_image_random(&img, &rng, 2, NULL));
	assert_ok(th_image_push(repo, &img, "v1", 0));

	assert_int_equal(ecr_repository_delete(reg, "victim", 0), ECR_EREPOSITORY_NOT_EMPTY);
	assert_string_equal(ecr_error_exception(ecr_error_last()->code), "RepositoryNotEmptyException");
	assert_ok(th_image_verify(repo, "v1", img.digest, NULL));
	assert_ok(ecr_repository_delete(reg, "victim", ECR_REPOSITORY_DELETE_FORCE));
	assert_int_equal(ecr_repository_delete(reg, "victim", 0), ECR_EREPOSITORY_NOT_FOUND);

	/* handles on a deleted repository fail cleanly */
	ecr_image *out;
	assert_int_equal(ecr_image_get(&out, stale, "v1", 0), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_repository_set_scan_on_push(stale, 1), ECR_EREPOSITORY_NOT_FOUND);

	/* a new repository of the same name starts empty */
	ecr_repository *fresh;
	assert_ok(ecr_repository_create(&fresh, reg, "victim", NULL));
	assert_int_equal(ecr_image_get(&out, fresh, "v1", 0), ECR_EIMAGE_NOT_FOUND);
	assert_int_equal(ecr_blob_stat(fresh, img.layers[0].digest, NULL), ECR_ENOTFOUND);
	assert_ok(ecr_repository_delete(reg, "victim", 0)); /* empty: no force needed */

	ecr_repository_free(fresh);
	ecr_repository_free(stale);
	ecr_repository_free(repo);
	th_image_dispose(&img);
}

/* The ECR API names of the settings, shared by the server and the remote registries. */
static void test_engine_repository__setting_names(void **state)
{
	static const char *const mut[] = { "MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION" };
	static const char *const enc[] = { "AES256", "KMS", "KMS_DSSE" };
	ecr_tag_mutability m;
	ecr_encryption_type e;
	(void)state;

	for (size_t i = 0; i < sizeof(mut) / sizeof(mut[0]); i++) {
		m = (ecr_tag_mutability)-1;
		assert_true(ecr__repository_mutability_parse(&m, mut[i]));
		assert_string_equal(ecr__repository_mutability_name(m), mut[i]);
	}
	assert_string_equal(ecr__repository_mutability_name(ECR_TAG_IMMUTABLE), mut[1]);
	for (size_t i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
		e = (ecr_encryption_type)-1;
		assert_true(ecr__repository_encryption_parse(&e, enc[i]));
		assert_string_equal(ecr__repository_encryption_name(e), enc[i]);
	}
	assert_string_equal(ecr__repository_encryption_name(ECR_ENCRYPTION_KMS_DSSE), enc[2]);
	/* unknown names (case matters) and NULL leave the value alone */
	m = ECR_TAG_IMMUTABLE;
	assert_false(ecr__repository_mutability_parse(&m, "mutable"));
	assert_false(ecr__repository_mutability_parse(&m, NULL));
	assert_int_equal(m, ECR_TAG_IMMUTABLE);
	e = ECR_ENCRYPTION_KMS;
	assert_false(ecr__repository_encryption_parse(&e, "AES"));
	assert_false(ecr__repository_encryption_parse(&e, NULL));
	assert_int_equal(e, ECR_ENCRYPTION_KMS);
	/* out of range: the defaults */
	assert_string_equal(ecr__repository_mutability_name((ecr_tag_mutability)99), "MUTABLE");
	assert_string_equal(ecr__repository_encryption_name((ecr_encryption_type)99), "AES256");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_repository__create_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_repository__names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_repository__mutability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_repository__encryption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_repository__resource_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_repository__pagination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_repository__foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_repository__delete, setup, teardown),
		cmocka_unit_test(test_engine_repository__setting_names),
	};
	return cmocka_run_group_tests_name("engine/repository", tests, NULL, NULL);
}
