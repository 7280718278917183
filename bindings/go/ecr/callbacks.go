package ecr

/*
#include <stdint.h>
#include <ecr.h>
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"unsafe"
)

//export ecrgoLifecycleImage
func ecrgoLifecycleImage(img *C.ecr_image, action C.ecr_lifecycle_action, prio C.uint32_t, payload unsafe.Pointer) C.int {
	fn := cgo.Handle(uintptr(payload)).Value().(func(ImageInfo, LifecycleAction, uint32) bool)
	if !fn(describe(img), LifecycleAction(action), uint32(prio)) {
		return C.ECR_EUSER
	}
	return 0
}

// LifecycleDecision is what a lifecycle policy does to one image.
type LifecycleDecision struct {
	Image        ImageInfo
	Action       LifecycleAction
	RulePriority uint32
}

// LifecyclePreview evaluates a lifecycle policy (text, or "" for the
// repository's own) over the repository's images, changing nothing, and
// calls fn for each image (return false to stop).
func (r *Repository) LifecyclePreviewFunc(text string, fn func(ImageInfo, LifecycleAction, uint32) bool) error {
	defer runtime.KeepAlive(r)
	h := cgo.NewHandle(fn)
	defer h.Delete()
	ct := cstrOrNil(text)
	defer freeStr(ct)
	_, err := call(func() C.int { return lifecyclePreview(r.ptr, ct, h) })
	return err
}

// LifecyclePreview returns every image's decision under a policy.
func (r *Repository) LifecyclePreview(text string) ([]LifecycleDecision, error) {
	var out []LifecycleDecision
	err := r.LifecyclePreviewFunc(text, func(i ImageInfo, a LifecycleAction, p uint32) bool {
		out = append(out, LifecycleDecision{i, a, p})
		return true
	})
	return out, err
}
