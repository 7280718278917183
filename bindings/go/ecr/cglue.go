package ecr

/*
#include <stdint.h>
#include <ecr.h>

// The trampolines are exported from callbacks.go; a file with //export may
// only declare in its preamble, so the calls that pass them live here.
extern int ecrgoLifecycleImage(ecr_image *img, ecr_lifecycle_action action, uint32_t rule_priority, void *payload);

static int ecrgo_lifecycle_preview(ecr_repository *repo, const char *text, uintptr_t handle)
{
	return ecr_repository_lifecycle_preview(repo, text, ecrgoLifecycleImage, (void *)handle);
}
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

func unsafePointer[T any](p *T) unsafe.Pointer { return unsafe.Pointer(p) }

func lifecyclePreview(repo *C.ecr_repository, text *C.char, h cgo.Handle) C.int {
	return C.ecrgo_lifecycle_preview(repo, text, C.uintptr_t(h))
}
