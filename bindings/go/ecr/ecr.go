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

// bufString copies an ecr_buf into a Go string (the caller disposes the buffer).
func bufString(b *C.ecr_buf) string {
	if b.ptr == nil {
		return ""
	}
	return C.GoStringN(b.ptr, C.int(b.size))
}

// cstrArray converts ss into a C array of C strings; call free when done.
func cstrArray(ss []string) (**C.char, func()) {
	if len(ss) == 0 {
		return nil, func() {}
	}
	arr := (*[1 << 28]*C.char)(C.malloc(C.size_t(len(ss)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:len(ss):len(ss)]
	for i, s := range ss {
		arr[i] = C.CString(s)
	}
	return &arr[0], func() {
		for _, p := range arr {
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(&arr[0]))
	}
}

// cbytes copies b to C memory; call free when done.
func cbytes(b []byte) (unsafe.Pointer, func()) {
	if len(b) == 0 {
		return nil, func() {}
	}
	p := C.CBytes(b)
	return p, func() { C.free(p) }
}

// releaser is kept by a handle (keep) and released when the handle is closed.
type releaser interface{ release() }

// LastError is the error of the last failed call on this OS thread (ecr_error_last), or nil.
// Only meaningful with the goroutine locked to its thread (runtime.LockOSThread) since the
// call that failed; every function of this package reads it for you.
func LastError() *Error {
	last := C.ecr_error_last()
	if last == nil || last.code == 0 {
		return nil
	}
	return &Error{Code: ErrorCode(last.code), Class: ErrorClass(last.klass), Message: C.GoString(last.message)}
}
