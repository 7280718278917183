// Package ecr is the Go binding of libecr, an embeddable, Amazon-ECR-compatible
// container registry.
//
// zz_generated.go (written by bindings/gen/gen_bindings.py from the public C
// headers) holds the constants, the enum types and one wrapper per C function;
// the files beside it make that layer feel like Go: a Registry, Repository,
// Image, Upload (an io.Writer), blob readers (io.ReadCloser), Close methods
// with finalizers as a safety net, errors usable with errors.Is and errors.As,
// and callbacks through runtime/cgo.Handle.
//
// Every call that can fail locks the goroutine to its OS thread until the
// thread-local error of libecr has been read.
package ecr

/*
#cgo pkg-config: libecr
#include <stdlib.h>
#include <ecr.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Version is the library version, e.g. "0.1.0 (sha256: libcrypto)".
func Version() string { return C.GoString(ecr_version()) }

// cstr converts s for a call; free the result with freeStr.
func cstr(s string) *C.char { return C.CString(s) }

// cstrOrNil is cstr, or NULL for "".
func cstrOrNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

func freeStr(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

// call runs f with the OS thread locked and turns a negative result into an *Error.
func call(f func() C.int) (C.int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := f()
	if rc < 0 {
		return rc, lastError(rc)
	}
	return rc, nil
}

// takeBuf copies an ecr_buf into a Go string and disposes it.
func takeBuf(b *C.ecr_buf) string {
	s := ""
	if b.ptr != nil {
		s = C.GoStringN(b.ptr, C.int(b.size))
	}
	C.ecr_buf_dispose(b)
	return s
}
