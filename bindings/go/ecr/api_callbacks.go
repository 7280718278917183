package ecr

/*
#include <stdint.h>
#include <ecr.h>
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// guard runs f, turning a panic into the callback's error and ECR_EUSER.
func guard(cb *callback, f func() C.int) (rc C.int) {
	defer func() {
		if r := recover(); r != nil {
			cb.err = fmt.Errorf("panic in callback: %v", r)
			rc = C.ECR_EUSER
		}
	}()
	return f()
}

func stop(cont bool) C.int {
	if cont {
		return 0
	}
	return C.ECR_EUSER
}

//export ecrgoResourceTag
func ecrgoResourceTag(key, value *C.char, payload unsafe.Pointer) C.int {
	cb := cbOf(uintptr(payload))
	return guard(cb, func() C.int {
		return stop(cb.fn.(func(string, string) bool)(C.GoString(key), C.GoString(value)))
	})
}

//export ecrgoRepository
func ecrgoRepository(repo *C.ecr_repository, payload unsafe.Pointer) C.int {
	cb := cbOf(uintptr(payload))
	return guard(cb, func() C.int { return stop(cb.fn.(func(*Repository) bool)(wrapRepository(repo, false))) })
}

//export ecrgoLifecycleResult
func ecrgoLifecycleResult(index C.size_t, action C.ecr_lifecycle_action, prio C.uint32_t, payload unsafe.Pointer) C.int {
	cb := cbOf(uintptr(payload))
	return guard(cb, func() C.int {
		return stop(cb.fn.(func(int, LifecycleAction, uint32) bool)(int(index), LifecycleAction(action), uint32(prio)))
	})
}

//export ecrgoPrincipalPolicy
func ecrgoPrincipalPolicy(name, doc *C.char, payload unsafe.Pointer) C.int {
	cb := cbOf(uintptr(payload))
	return guard(cb, func() C.int { return stop(cb.fn.(func(string, string) bool)(C.GoString(name), C.GoString(doc))) })
}

//export ecrgoCopyProgress
func ecrgoCopyProgress(p *C.ecr_copy_progress, payload unsafe.Pointer) C.int {
	cb := cbOf(uintptr(payload))
	return guard(cb, func() C.int {
		return stop(cb.fn.(func(CopyProgress) bool)(CopyProgress{
			Event: CopyEvent(p.event), Digest: C.GoString(p.digest), MediaType: C.GoString(p.media_type),
			BytesDone: uint64(p.bytes_done), BytesTotal: uint64(p.bytes_total),
			AllBytesDone: uint64(p.all_bytes_done), AllBytesTotal: uint64(p.all_bytes_total),
			BlobsDone: int(p.blobs_done), BlobsTotal: int(p.blobs_total),
		}))
	})
}

//export ecrgoReplicationStatus
func ecrgoReplicationStatus(region, id *C.char, status C.ecr_replication_status, reason *C.char, payload unsafe.Pointer) C.int {
	cb := cbOf(uintptr(payload))
	return guard(cb, func() C.int {
		return stop(cb.fn.(func(ReplicationDestinationStatus) bool)(ReplicationDestinationStatus{
			Region: C.GoString(region), RegistryID: C.GoString(id), Status: ReplicationStatus(status),
			FailureReason: C.GoString(reason)}))
	})
}

//export ecrgoReplicationDestination
func ecrgoReplicationDestination(out **C.ecr_registry, region, id *C.char, payload unsafe.Pointer) (rc C.int) {
	defer func() {
		if recover() != nil {
			rc = C.ECR_EUSER
		}
	}()
	fn := cgo.Handle(uintptr(payload)).Value().(func(string, string) *Registry)
	reg := fn(C.GoString(region), C.GoString(id))
	if reg == nil || reg.ptr == nil {
		return C.ECR_ENOTFOUND
	}
	*out = reg.ptr
	return 0
}

//export ecrgoCredential
func ecrgoCredential(arn, user *C.char, payload unsafe.Pointer) C.int {
	cb := cbOf(uintptr(payload))
	return guard(cb, func() C.int { return stop(cb.fn.(func(string, string) bool)(C.GoString(arn), C.GoString(user))) })
}

//export ecrgoServerRegistry
func ecrgoServerRegistry(out **C.ecr_registry, account, region *C.char, payload unsafe.Pointer) (rc C.int) {
	defer func() {
		if recover() != nil {
			rc = C.ECR_EUSER
		}
	}()
	fn := cgo.Handle(uintptr(payload)).Value().(func(string, string) *Registry)
	reg := fn(C.GoString(account), C.GoString(region))
	if reg == nil || reg.ptr == nil {
		return C.ECR_ENOTFOUND
	}
	*out = reg.ptr
	return 0
}
