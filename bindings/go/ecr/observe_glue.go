package ecr

/*
#include <stdint.h>
#include <ecr.h>

// Trampolines exported from usage.go, fsck.go and events.go (a file with
// //export may only declare in its preamble, so the calls that pass them live here).
extern int ecrgoUsage(char *repository, ecr_usage *usage, void *payload);
extern int ecrgoFsckProblem(ecr_fsck_problem *problem, void *payload);
extern int ecrgoMetrics(ecr_buf *out, void *payload);

static int ecrgo_registry_usage_foreach(ecr_registry *reg, int64_t from_ms, int64_t to_ms, uintptr_t h)
{
	return ecr_registry_usage_foreach(reg, from_ms, to_ms, (ecr_usage_cb)ecrgoUsage, (void *)h);
}
static int ecrgo_registry_fsck(ecr_registry *reg, const ecr_fsck_options *opts, int with_cb, uintptr_t h,
	ecr_fsck_stats *stats)
{
	return ecr_registry_fsck(reg, opts, with_cb ? (ecr_fsck_cb)ecrgoFsckProblem : NULL, (void *)h, stats);
}
static int ecrgo_server_add_metrics_cb(ecr_server *srv, uintptr_t h)
{
	return ecr_server_add_metrics_cb(srv, ecrgoMetrics, (void *)h);
}
static void ecrgo_options_set_webhooks(ecr_registry_options *o, ecr_webhooks *wh)
{
	o->event_cb = ecr_webhooks_event_cb;
	o->event_payload = wh;
}
*/
import "C"

func registryUsageForeach(reg *C.ecr_registry, from, to int64, h C.uintptr_t) C.int {
	return C.ecrgo_registry_usage_foreach(reg, C.int64_t(from), C.int64_t(to), h)
}

func registryFsck(reg *C.ecr_registry, opts *C.ecr_fsck_options, withCb bool, h C.uintptr_t, st *C.ecr_fsck_stats) C.int {
	w := C.int(0)
	if withCb {
		w = 1
	}
	return C.ecrgo_registry_fsck(reg, opts, w, h, st)
}

func serverAddMetricsCb(srv *C.ecr_server, h C.uintptr_t) C.int {
	return C.ecrgo_server_add_metrics_cb(srv, h)
}

func optionsSetWebhooks(o *C.ecr_registry_options, wh *C.ecr_webhooks) {
	C.ecrgo_options_set_webhooks(o, wh)
}
