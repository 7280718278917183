package ecr

/*
#include <stdint.h>
#include <ecr.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

func init() {
	handWrittenAPI["ecr_fsck_options_init"] = (*Registry).Fsck
	handWrittenAPI["ecr_registry_fsck"] = (*Registry).Fsck
}

// FsckOptions of (*Registry).Fsck; nil: this registry, blobs re-hashed.
type FsckOptions struct {
	AllRegistries bool // every registry of the storage (and unreferenced blobs, orphaned staging objects)
	NoHash        bool // check presence and sizes only
}

// FsckProblem is one problem a consistency check found.
type FsckProblem struct {
	Kind       FsckKind
	Severity   FsckSeverity // FSCK_ERROR, or FSCK_NOTICE for garbage that GC removes
	AccountID  string       // "" for the storage as a whole
	Region     string
	Repository string
	Digest     string // the image or blob concerned, or ""
	Message    string
}

// FsckStats is what a check looked at and found.
type FsckStats struct {
	Registries, Repositories, Images, Tags uint64
	BlobsChecked, BytesHashed, BlobsStored uint64
	Errors, Notices                        uint64
}

//export ecrgoFsckProblem
func ecrgoFsckProblem(p *C.ecr_fsck_problem, payload unsafe.Pointer) C.int {
	cb := cbOf(uintptr(payload))
	return guard(cb, func() C.int {
		return stop(cb.fn.(func(FsckProblem) bool)(FsckProblem{
			Kind: FsckKind(p.kind), Severity: FsckSeverity(p.severity), AccountID: C.GoString(p.account_id),
			Region: C.GoString(p.region), Repository: C.GoString(p.repository), Digest: C.GoString(p.digest),
			Message: C.GoString(p.message)}))
	})
}

// Fsck checks the consistency of the registry's storage and calls fn (may be
// nil: count only) for each problem; fn returns false to stop (ErrUser). A
// check that ran to the end returns a nil error whatever it found: see
// FsckStats.Errors. ErrNotSupported for a remote registry.
func (r *Registry) Fsck(o *FsckOptions, fn func(FsckProblem) bool) (FsckStats, error) {
	defer runtime.KeepAlive(r)
	var opts C.ecr_fsck_options
	if _, err := ecr_fsck_options_init(&opts, C.ECR_FSCK_OPTIONS_VERSION); err != nil {
		return FsckStats{}, err
	}
	if o != nil {
		if o.AllRegistries {
			opts.flags |= C.ECR_FSCK_ALL_REGISTRIES
		}
		if o.NoHash {
			opts.flags |= C.ECR_FSCK_NO_HASH
		}
	}
	st := C.ecr_fsck_stats{version: C.ECR_FSCK_STATS_VERSION}
	err := locked(func() error {
		rc, cb := withCallback(fn, func(h C.uintptr_t) C.int { return registryFsck(r.c(), &opts, fn != nil, h, &st) })
		return cbError(rc, cb)
	})
	if err != nil {
		return FsckStats{}, err
	}
	return FsckStats{uint64(st.registries), uint64(st.repositories), uint64(st.images), uint64(st.tags),
		uint64(st.blobs_checked), uint64(st.bytes_hashed), uint64(st.blobs_stored), uint64(st.errors),
		uint64(st.notices)}, nil
}
