/*
 * The public headers must compile as C++ (extern "C", no C-only constructs).
 * Built and run as the test headers/cpp; it calls nothing in the library.
 */
#include <ecr.h>
#include <ecr/sys/alloc.h>
#include <ecr/sys/blob_store.h>
#include <ecr/sys/meta_store.h>

int main()
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
	(void)sopts;
	(void)preq;
	(void)sreq;
	if (buf.ptr != NULL || ropts.version != ECR_REGISTRY_OPTIONS_VERSION ||
	    repo_opts.version != ECR_REPOSITORY_OPTIONS_VERSION || lopts.version != ECR_IMAGE_LIST_OPTIONS_VERSION ||
	    gopts.version != ECR_GC_OPTIONS_VERSION || stats.version != ECR_GC_STATS_VERSION ||
	    alloc.version != ECR_ALLOCATOR_VERSION)
		return 1;
	return 0;
}
