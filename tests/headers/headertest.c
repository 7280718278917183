/*
 * The umbrella header and the backend headers together, as C99 with
 * -pedantic: every public initialiser macro must be valid there too.
 * Built and run as the test headers/c99; it calls nothing in the library.
 */
#include <ecr.h>
#include <ecr/sys/alloc.h>
#include <ecr/sys/blob_store.h>
#include <ecr/sys/meta_store.h>
#include <ecr/sys/transport.h>

int main(void)
{
	ecr_buf buf = ECR_BUF_INIT;
	ecr_registry_options ropts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_repository_options repo_opts = ECR_REPOSITORY_OPTIONS_INIT;
	ecr_image_list_options lopts = ECR_IMAGE_LIST_OPTIONS_INIT;
	ecr_gc_options gopts = ECR_GC_OPTIONS_INIT;
	ecr_gc_stats stats = ECR_GC_STATS_INIT;
	ecr_allocator alloc = ECR_ALLOCATOR_INIT;
	ecr_server_options sopts = ECR_SERVER_OPTIONS_INIT;
	ecr_policy_request preq = ECR_POLICY_REQUEST_INIT;
	ecr_sigv4_request sreq = ECR_SIGV4_REQUEST_INIT;

	if (buf.ptr != NULL || buf.size != 0)
		return 1;
	if (ropts.version != ECR_REGISTRY_OPTIONS_VERSION || repo_opts.version != ECR_REPOSITORY_OPTIONS_VERSION)
		return 1;
	if (lopts.version != ECR_IMAGE_LIST_OPTIONS_VERSION || gopts.version != ECR_GC_OPTIONS_VERSION)
		return 1;
	if (stats.version != ECR_GC_STATS_VERSION || alloc.version != ECR_ALLOCATOR_VERSION)
		return 1;
	if (sopts.version != ECR_SERVER_OPTIONS_VERSION || preq.version != ECR_POLICY_REQUEST_VERSION ||
		sreq.version != ECR_SIGV4_REQUEST_VERSION)
		return 1;
	return 0;
}
