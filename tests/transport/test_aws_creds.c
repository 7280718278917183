/* transport/aws_creds: AWS credentials and region as the AWS CLI finds them (options, environment, shared
 * credentials file, config file; profiles; precedence; malformed files). */
#include "../helpers/helpers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "libecr/transport/http_transport.h"

static const char *vars[] = { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_REGION", "AWS_DEFAULT_REGION", "HOME" };

typedef struct fixture {
	char *dir;
	char creds[512], config[512];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	f->dir = th_tmpdir();
	snprintf(f->creds, sizeof(f->creds), "%s/credentials", f->dir);
	snprintf(f->config, sizeof(f->config), "%s/config", f->dir);
	/* the files of a HOME that has none */
	setenv("HOME", f->dir, 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	th_rmtree(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	fclose(fp);
}

static void expect(const ecr_registry_options *o, const char *id, const char *secret, const char *token)
{
	ecr__aws_creds c;
	assert_ok(ecr__aws_creds_resolve(&c, o));
	if (!id) {
		assert_null(c.access_key_id);
		assert_null(c.secret_access_key);
	} else {
		assert_non_null(c.access_key_id);
		assert_string_equal(c.access_key_id, id);
		assert_string_equal(c.secret_access_key, secret);
	}
	if (token)
		assert_string_equal(c.session_token, token);
	else
		assert_null(c.session_token);
	ecr__aws_creds_dispose(&c);
}

static void expect_fail(const ecr_registry_options *o, int code, const char *in_message)
{
	ecr__aws_creds c;
	assert_int_equal(ecr__aws_creds_resolve(&c, o), code);
	assert_null(c.access_key_id);
	if (in_message && !strstr(ecr_error_last()->message, in_message))
		fail_msg("'%s' not in '%s'", in_message, ecr_error_last()->message);
}

static void test_transport_aws_creds__none(void **state)
{
	(void)state;
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	expect(NULL, NULL, NULL, NULL);
	expect(&o, NULL, NULL, NULL);
	unsetenv("HOME");
	expect(&o, NULL, NULL, NULL);
	char *r = ecr__aws_region_default(&o);
	assert_null(r);
}

static void test_transport_aws_creds__options_and_env(void **state)
{
	(void)state;
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	expect(&o, "AKIAENV", "envsecret", NULL);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	expect(&o, "AKIAENV", "envsecret", "envtoken");
	/* options win over the environment */
	o.access_key_id = "AKIAOPT";
	o.secret_access_key = "optsecret";
	expect(&o, "AKIAOPT", "optsecret", NULL);
	o.session_token = "opttoken";
	expect(&o, "AKIAOPT", "optsecret", "opttoken");
	/* half of a pair */
	o.secret_access_key = NULL;
	expect_fail(&o, ECR_EINVALID, "go together");
	o.access_key_id = NULL;
	o.secret_access_key = "s";
	expect_fail(&o, ECR_EINVALID, NULL);
	/* options of an older version have no credentials: the environment's */
	o.version = 2;
	expect(&o, "AKIAENV", "envsecret", "envtoken");
	o.version = 3;
	o.secret_access_key = NULL;
	unsetenv("AWS_SECRET_ACCESS_KEY");
	expect_fail(&o, ECR_EINVALID, "AWS_SECRET_ACCESS_KEY");
	/* empty variables count as unset */
	setenv("AWS_ACCESS_KEY_ID", "", 1);
	expect(&o, NULL, NULL, NULL);
}

static void test_transport_aws_creds__files_and_profiles(void **state)
{
	fixture *f = *state;
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	write_file(f->creds, "# a comment\n"
			     "; another\n"
			     "[default]\n"
			     "aws_access_key_id = AKIADEFAULT\n"
			     "aws_secret_access_key=defaultsecret  \n"
			     "\n"
			     "[  work  ]\n"
			     "  \n"
			     "AWS_ACCESS_KEY_ID = AKIAWORK\r\n"
			     "aws_secret_access_key = work/secret+with=equals\r\n"
			     "aws_session_token = worktoken\r\n"
			     "s3 =\n"
			     "    max_concurrent_requests = 10\n"
			     "[profile work]\n"
			     "aws_access_key_id = AKIANOTTHIS\n"
			     "aws_secret_access_key = no\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", f->creds, 1);
	expect(&o, "AKIADEFAULT", "defaultsecret", NULL);
	setenv("AWS_PROFILE", "work", 1);
	expect(&o, "AKIAWORK", "work/secret+with=equals", "worktoken");
	/* the environment's keys win over AWS_PROFILE ... */
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	expect(&o, "AKIAENV", "envsecret", NULL);
	/* ... but not over a profile given explicitly (the CLI's --profile) */
	o.profile = "default";
	expect(&o, "AKIADEFAULT", "defaultsecret", NULL);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	/* a profile that is nowhere: none */
	o.profile = "nope";
	expect(&o, NULL, NULL, NULL);

	/* the config file: [profile name] and [default]; the credentials file first */
	write_file(f->config, "[default]\nregion = eu-west-1\n"
			      "[profile cfg]\naws_access_key_id = AKIACFG\naws_secret_access_key = cfgsecret\n"
			      "region = ap-south-1\n"
			      "[cfg2]\naws_access_key_id = AKIAIGNORED\naws_secret_access_key = x\n"
			      "[profile work]\naws_access_key_id = AKIACFGWORK\naws_secret_access_key = x\n");
	setenv("AWS_CONFIG_FILE", f->config, 1);
	o.profile = "cfg";
	expect(&o, "AKIACFG", "cfgsecret", NULL);
	o.profile = "cfg2"; /* a config section without "profile " names no profile but default */
	expect(&o, NULL, NULL, NULL);
	o.profile = "work";
	expect(&o, "AKIAWORK", "work/secret+with=equals", "worktoken");

	/* ~/.aws/credentials and ~/.aws/config by default */
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_PROFILE");
	char aws[600], path[700];
	snprintf(aws, sizeof(aws), "%s/.aws", f->dir);
	assert_int_equal(mkdir(aws, 0700), 0);
	snprintf(path, sizeof(path), "%s/credentials", aws);
	write_file(path, "[default]\naws_access_key_id = AKIAHOME\naws_secret_access_key = homesecret\n");
	o.profile = NULL;
	expect(&o, "AKIAHOME", "homesecret", NULL);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", 1);
	expect(&o, "AKIAHOME", "homesecret", NULL);
}

static void test_transport_aws_creds__region(void **state)
{
	fixture *f = *state;
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	char *r;
	write_file(f->config, "[default]\nregion = eu-west-1\n[profile x]\n  region = us-west-2 \n");
	setenv("AWS_CONFIG_FILE", f->config, 1);
	r = ecr__aws_region_default(&o);
	assert_string_equal(r, "eu-west-1");
	ecr__free(r);
	o.profile = "x";
	r = ecr__aws_region_default(&o);
	assert_string_equal(r, "us-west-2");
	ecr__free(r);
	o.profile = "none";
	assert_null(ecr__aws_region_default(&o));
	setenv("AWS_DEFAULT_REGION", "sa-east-1", 1);
	r = ecr__aws_region_default(&o);
	assert_string_equal(r, "sa-east-1");
	ecr__free(r);
	setenv("AWS_REGION", "me-south-1", 1);
	r = ecr__aws_region_default(&o);
	assert_string_equal(r, "me-south-1");
	ecr__free(r);
	/* a broken config file is no region, and no error */
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	write_file(f->config, "[default\nregion = eu-west-1\n");
	o.profile = NULL;
	assert_null(ecr__aws_region_default(&o));
}

static void test_transport_aws_creds__malformed(void **state)
{
	fixture *f = *state;
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	setenv("AWS_SHARED_CREDENTIALS_FILE", f->creds, 1);
	/* the profile's section lacks a key */
	write_file(f->creds, "[default]\naws_access_key_id = AKIAHALF\n");
	expect_fail(&o, ECR_EINVALID, "aws_secret_access_key");
	write_file(f->creds, "[default]\naws_secret_access_key = s\n");
	expect_fail(&o, ECR_EINVALID, "aws_access_key_id");
	/* another profile's half section does not matter */
	write_file(f->creds, "[other]\naws_access_key_id = AKIAHALF\n[default]\naws_access_key_id = A\n"
			     "aws_secret_access_key = B\n");
	expect(&o, "A", "B", NULL);
	/* syntax */
	write_file(f->creds, "[default\naws_access_key_id = A\n");
	expect_fail(&o, ECR_EINVALID, "credentials:1");
	write_file(f->creds, "[default]\njust some words\n");
	expect_fail(&o, ECR_EINVALID, "credentials:2");
	/* empty values are none */
	write_file(f->creds, "[default]\naws_access_key_id =\naws_secret_access_key =\n");
	expect(&o, NULL, NULL, NULL);
	/* bounded: more than 1 MiB is refused */
	FILE *fp = fopen(f->creds, "w");
	assert_non_null(fp);
	fputs("[default]\naws_access_key_id = A\naws_secret_access_key = B\n", fp);
	for (int i = 0; i < 20000; i++)
		fputs("# padding padding padding padding padding padding padding\n", fp);
	fclose(fp);
	expect_fail(&o, ECR_EINVALID, "1 MiB");
	/* a folder where the file should be */
	setenv("AWS_SHARED_CREDENTIALS_FILE", f->dir, 1);
	expect_fail(&o, ECR_EIO, NULL);
	/* a missing file is no credentials */
	char missing[600];
	snprintf(missing, sizeof(missing), "%s/missing", f->dir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", missing, 1);
	expect(&o, NULL, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transport_aws_creds__none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_aws_creds__options_and_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_aws_creds__files_and_profiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_aws_creds__region, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_aws_creds__malformed, setup, teardown),
	};
	return cmocka_run_group_tests_name("transport/aws_creds", tests, NULL, NULL);
}
