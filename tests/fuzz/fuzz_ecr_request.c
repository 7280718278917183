/* libFuzzer target: the ECR API's request handling (input validation of
 * every operation of ECR's and ECR Public's tables) on arbitrary JSON bodies,
 * in process, without HTTP: the operation runs as ecr_api.c's run() runs it
 * (size-bounded parse, the body must be an object, a fresh response writer),
 * on a "memory:" registry (ECR operations) or its public registry (ECR
 * Public's), with authentication off, as ecrd --no-auth serves them.
 *
 * Input: byte 0 picks the operation (ECR's table then ECR Public's), the rest
 * is the body. A few repositories, an image and a public repository exist
 * beforehand so that the operations reach past "not found". Every 512 inputs
 * the registries are made afresh so that state cannot pile up. The target
 * traps when an operation succeeds with an unbalanced response writer, or
 * fails with a positive code. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libecr/core/core.h"
#include "libecr/server/ecr_api.h"
#include "ecr/public.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY (1u << 20)
#define RESET_EVERY 512

static ecr_registry *reg, *pub;
static ecr_server *srv;
static const ecr_api_op_entry *ops[256];
static const char *services[256];
static size_t ops_count;
static unsigned runs;

static void add_table(const ecr_api_op_entry *t, const char *service)
{
	for (; t->name && ops_count < 256; t++) {
		services[ops_count] = service;
		ops[ops_count++] = t;
	}
}

static void seed(void)
{
	static const char manifest[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":2,"
		"\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\"},\"layers\":[]}";
	ecr_repository *repo = NULL;
	ecr_repository_options ro = ECR_REPOSITORY_OPTIONS_INIT;
	static const char config_digest[] = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

	if (ecr_repository_create(&repo, reg, "fuzz/app", &ro) == 0) {
		if (ecr_blob_put(repo, config_digest, "{}", 2) == 0)
			(void)ecr_image_put(NULL, repo, "latest", NULL, "application/vnd.oci.image.manifest.v1+json", manifest,
				strlen(manifest), 0);
		ecr_repository_free(repo);
	}
	repo = NULL;
	if (ecr_repository_create(&repo, pub, "fuzz-public", &ro) == 0)
		ecr_repository_free(repo);
}

static int setup(void)
{
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_server_options so = ECR_SERVER_OPTIONS_INIT;

	if (!ops_count) {
		add_table(ecr__api_ops_repositories, "ecr");
		add_table(ecr__api_ops_images, "ecr");
		add_table(ecr__api_ops_lifecycle, "ecr");
		add_table(ecr__api_ops_scan, "ecr");
		add_table(ecr__api_ops_replication, "ecr");
		add_table(ecr__api_ops_templates, "ecr");
		add_table(ecr__api_ops_cache, "ecr");
		add_table(ecr__api_ops_public, "ecr-public");
	}
	if (ecr_registry_open(&reg, "memory:", NULL))
		return -1;
	o.region = ECR_REGION_PUBLIC;
	if (ecr_registry_open(&pub, "memory:", &o))
		return -1;
	so.flags = ECR_SERVER_NO_AUTH;
	so.max_blob_size = 1u << 20;
	if (ecr_server_new(&srv, &so) || ecr_server_add_registry(srv, reg, NULL))
		return -1;
	seed();
	return 0;
}

static void teardown(void)
{
	ecr_server_free(srv);
	ecr_registry_free(pub);
	ecr_registry_free(reg);
	srv = NULL;
	pub = reg = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ecr__json_limits limits = { MAX_BODY, 32, 100000, MAX_BODY };
	ecr__json *input = NULL;
	ecr__jw *w = NULL;
	ecr_buf out = ECR_BUF_INIT;
	http_request r;
	ecr_api_call call;
	const ecr_api_op_entry *op;
	int rc;

	if (size < 1 || size > MAX_BODY)
		return 0;
	if (runs++ % RESET_EVERY == 0) {
		teardown();
		if (setup())
			__builtin_trap();
	}
	op = ops[data[0] % ops_count];
	memset(&r, 0, sizeof(r));
	r.srv = srv;
	r.reg = reg;
	r.method = "POST";
	memset(&call, 0, sizeof(call));
	call.r = &r;
	call.operation = op->name;
	call.service = services[data[0] % ops_count];
	call.region = strcmp(call.service, "ecr") == 0 ? "us-east-1" : ECR_REGION_PUBLIC;
	call.endpoint = (char *)"http://localhost";
	call.reg = strcmp(call.service, "ecr") == 0 ? reg : pub;
	if (ecr__json_parse(&input, (const char *)data + 1, size - 1, &limits) != 0 || input->type != ECR__JSON_OBJECT)
		goto done;
	call.input = input;
	if (ecr__jw_new(&w) || ecr__jw_object_open(w))
		goto done;
	call.out = w;
	rc = op->fn(&call);
	if (rc > 0)
		__builtin_trap();
	if (rc == 0 && (ecr__jw_object_close(w) || ecr__jw_finish(w, &out)))
		__builtin_trap(); /* an operation left the response unbalanced */
done:
	ecr__jw_free(w);
	ecr__json_free(input);
	ecr_buf_dispose(&out);
	return 0;
}
