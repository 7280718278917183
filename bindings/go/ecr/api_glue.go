package ecr

/*
#include <stdint.h>
#include <ecr.h>

// Trampolines exported from api_callbacks.go (a file with //export may only
// declare in its preamble, so the calls that pass them live here).
extern int ecrgoResourceTag(char *key, char *value, void *payload);
extern int ecrgoRepository(ecr_repository *repo, void *payload);
extern int ecrgoLifecycleResult(size_t index, ecr_lifecycle_action action, uint32_t rule_priority, void *payload);
extern int ecrgoPrincipalPolicy(char *name, char *document, void *payload);
extern int ecrgoCopyProgress(ecr_copy_progress *progress, void *payload);
extern int ecrgoReplicationStatus(char *region, char *registry_id, ecr_replication_status status,
	char *failure_reason, void *payload);
extern int ecrgoReplicationDestination(ecr_registry **out, char *region, char *registry_id, void *payload);
extern int ecrgoCredential(char *arn, char *username, void *payload);
extern int ecrgoServerRegistry(ecr_registry **out, char *account_id, char *region, void *payload);
extern int ecrgoLifecycleImage(ecr_image *img, ecr_lifecycle_action action, uint32_t rule_priority, void *payload);

int ecrgo_resource_tags(ecr_repository *repo, uintptr_t h)
{
	return ecr_repository_resource_tags(repo, (ecr_resource_tag_cb)ecrgoResourceTag, (void *)h);
}
int ecrgo_repository_foreach(ecr_registry *reg, uintptr_t h)
{
	return ecr_repository_foreach(reg, ecrgoRepository, (void *)h);
}
int ecrgo_apply_lifecycle(ecr_repository *repo, uintptr_t h)
{
	return ecr_repository_apply_lifecycle(repo, ecrgoLifecycleImage, (void *)h);
}
int ecrgo_lifecycle_evaluate(const ecr_lifecycle_policy *p, const ecr_lifecycle_image *images, size_t count,
	int64_t now_ms, uintptr_t h)
{
	return ecr_lifecycle_policy_evaluate(p, images, count, now_ms, ecrgoLifecycleResult, (void *)h);
}
int ecrgo_principal_policies(ecr_principal *p, uintptr_t h)
{
	return ecr_principal_policies(p, (ecr_principal_policy_cb)ecrgoPrincipalPolicy, (void *)h);
}
void ecrgo_copy_set_progress(ecr_copy_options *o, uintptr_t h)
{
	o->progress_cb = (ecr_copy_progress_cb)ecrgoCopyProgress;
	o->progress_payload = (void *)h;
}
int ecrgo_replication_status(ecr_repository *repo, const char *digest, uintptr_t h)
{
	return ecr_image_replication_status(repo, digest, (ecr_replication_status_cb)ecrgoReplicationStatus, (void *)h);
}
void ecrgo_replicator_set_destination(ecr_replicator_options *o, uintptr_t h)
{
	o->destination_cb = (ecr_replication_destination_cb)ecrgoReplicationDestination;
	o->destination_payload = (void *)h;
}
int ecrgo_credentials_foreach(ecr_registry *reg, uintptr_t h)
{
	return ecr_registry_credentials_foreach(reg, (ecr_credential_cb)ecrgoCredential, (void *)h);
}
int ecrgo_server_set_registry_cb(ecr_server *srv, uintptr_t h)
{
	return ecr_server_set_registry_cb(srv, (ecr_server_registry_cb)ecrgoServerRegistry, (void *)h);
}
*/
import "C"

import "runtime/cgo"

// cbHandle is a cgo.Handle kept by a C object; deleted when the object is closed.
type cbHandle cgo.Handle

func (h cbHandle) release() { cgo.Handle(h).Delete() }

// callback holds a Go function for the duration of a C call, and the panic
// or error it ended with.
type callback struct {
	fn  any
	err error
}

func withCallback(fn any, run func(h C.uintptr_t) C.int) (C.int, *callback) {
	cb := &callback{fn: fn}
	h := cgo.NewHandle(cb)
	defer h.Delete()
	rc := run(C.uintptr_t(h))
	return rc, cb
}

func cbOf(payload uintptr) *callback { return cgo.Handle(payload).Value().(*callback) }
