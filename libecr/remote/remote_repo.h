/*
 * The remote side of the registry-wide and repository operations of the
 * public API (remote.h says how the engine forwards to them). Each function
 * has the contract of the public function it is named after, on a registry
 * handle with reg->remote set; arguments arrive already checked the way the
 * public function checks them before it touches storage.
 *
 * remote_registry.c: registry policy, account settings, the registry's
 *   scanning configuration, authorization tokens.
 * remote_repository.c: repositories (create, open, delete, settings, resource
 *   tags, policies, listing), lifecycle policies and previews, scan results
 *   and scan frequencies.
 */
#ifndef ECR_REMOTE_REMOTE_REPO_H
#define ECR_REMOTE_REMOTE_REPO_H

#include "remote.h"
#include "ecr/lifecycle.h"
#include "ecr/scan.h"

/* --- remote_registry.c --- */

int ecr__remote_registry_set_policy(ecr_registry *reg, const char *text);
int ecr__remote_registry_policy(ecr_buf *out, ecr_registry *reg);
int ecr__remote_registry_delete_policy(ecr_buf *deleted_out, ecr_registry *reg);
int ecr__remote_registry_setting(ecr_buf *out, ecr_registry *reg, const char *name);
int ecr__remote_registry_set_setting(ecr_registry *reg, const char *name, const char *value);
int ecr__remote_registry_set_scanning_configuration(ecr_registry *reg, const char *json);
int ecr__remote_registry_scanning_configuration(ecr_buf *out, ecr_registry *reg);
/* GetAuthorizationToken: the password of the data plane's Basic "AWS:<password>" (the principal is the caller's
 * AWS credentials: none is passed). */
int ecr__remote_auth_token_create(ecr_buf *token_out, int64_t *expires_at_out, ecr_registry *reg);
/* ECR_ENOTSUPPORTED for what works only where the registry's storage is (principals, token verification,
 * authorization decisions, scanners, lifecycle application); what names the operation. */
int ecr__remote_local_only(ecr_registry *reg, const char *what);

/* --- remote_repository.c --- */

int ecr__remote_repository_create(ecr_repository **out, ecr_registry *reg, const char *name,
	const ecr_repository_options *opts);
int ecr__remote_repository_open(ecr_repository **out, ecr_registry *reg, const char *name);
int ecr__remote_repository_delete(ecr_registry *reg, const char *name, uint32_t flags);
int ecr__remote_repository_set_tag_mutability(ecr_repository *repo, ecr_tag_mutability mutability,
	const char *const *exclusions, size_t exclusions_count);
int ecr__remote_repository_set_scan_on_push(ecr_repository *repo, int scan_on_push);
int ecr__remote_repository_tag_resource(ecr_repository *repo, const ecr_resource_tag *tags, size_t count);
int ecr__remote_repository_untag_resource(ecr_repository *repo, const char *const *keys, size_t count);
int ecr__remote_repository_resource_tags(ecr_repository *repo, ecr_resource_tag_cb cb, void *payload);
int ecr__remote_repository_set_policy(ecr_repository *repo, const char *text, uint32_t flags);
int ecr__remote_repository_policy(ecr_buf *out, ecr_repository *repo);
int ecr__remote_repository_delete_policy(ecr_buf *deleted_out, ecr_repository *repo);

/*
 * Listing (DescribeRepositories, 100 a page). The engine's iterator holds one
 * of these when its registry is remote and forwards to it. Tokens are
 * base64url("R:<the server's token of the page, or empty>|<items of that page
 * already consumed>"), so a token taken in the middle of a page resumes there.
 */
typedef struct ecr__remote_repo_iter ecr__remote_repo_iter;
int ecr__remote_repository_iter_new(ecr__remote_repo_iter **out, ecr_registry *reg, const char *start_token,
	const char *after);
int ecr__remote_repository_iter_next(ecr_repository **out, ecr__remote_repo_iter *it);
int ecr__remote_repository_iter_token(ecr_buf *out, ecr__remote_repo_iter *it);
void ecr__remote_repository_iter_free(ecr__remote_repo_iter *it);

int ecr__remote_repository_set_lifecycle_policy(ecr_repository *repo, const char *text);
int ecr__remote_repository_lifecycle_policy(ecr_buf *text_out, int64_t *last_evaluated_at_out, ecr_repository *repo);
int ecr__remote_repository_delete_lifecycle_policy(ecr_buf *deleted_out, int64_t *last_evaluated_at_out,
	ecr_repository *repo);
int ecr__remote_repository_lifecycle_preview(ecr_repository *repo, const char *text, ecr_lifecycle_image_cb cb,
	void *payload);

int ecr__remote_repository_scan_frequency(ecr_buf *out, ecr_repository *repo);
int ecr__remote_image_scan_result(ecr_scan_status *status_out, ecr_buf *reason_out, int64_t *completed_at_out,
	ecr_scan_report **report_out, ecr_repository *repo, const char *digest);

#endif
