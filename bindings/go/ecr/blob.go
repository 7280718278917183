package ecr

/*
#include <stdlib.h>
#include <ecr.h>
*/
import "C"

import (
	"io"
	"runtime"
	"unsafe"
)

// Upload is a blob upload session; write the blob with Write (it is an
// io.Writer), then Commit with its digest.
// BeginUpload starts an upload session.
func (r *Repository) BeginUpload() (*Upload, error) {
	defer runtime.KeepAlive(r)
	var up *C.ecr_upload
	if _, err := ecr_upload_begin(&up, r.ptr); err != nil {
		return nil, err
	}
	return wrapUpload(up, true, r), nil
}

// ID of the session (a UUID).
func (u *Upload) ID() string {
	defer runtime.KeepAlive(u)
	return C.GoString(ecr_upload_id(u.ptr))
}

// Size is the number of bytes received.
func (u *Upload) Size() uint64 {
	defer runtime.KeepAlive(u)
	return uint64(ecr_upload_size(u.ptr))
}

// Write appends p to the upload.
func (u *Upload) Write(p []byte) (int, error) {
	defer runtime.KeepAlive(u)
	if len(p) == 0 {
		return 0, nil
	}
	buf := C.CBytes(p)
	defer C.free(buf)
	if _, err := ecr_upload_write(u.ptr, ecr_upload_size(u.ptr), buf, C.size_t(len(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Commit verifies the digest and publishes the blob.
func (u *Upload) Commit(digest string) error {
	defer runtime.KeepAlive(u)
	cd := cstr(digest)
	defer freeStr(cd)
	_, err := ecr_upload_commit(u.ptr, cd)
	return err
}

// Cancel discards the upload.
func (u *Upload) Cancel() error {
	defer runtime.KeepAlive(u)
	_, err := ecr_upload_cancel(u.ptr)
	return err
}

var _ io.ReadCloser = (*BlobReader)(nil)

// OpenBlob opens a blob for reading from offset (length 0: to the end).
func (r *Repository) OpenBlob(digest string, offset, length uint64) (*BlobReader, error) {
	defer runtime.KeepAlive(r)
	cd := cstr(digest)
	defer freeStr(cd)
	var b *C.ecr_blob
	if _, err := ecr_blob_open(&b, r.ptr, cd, C.uint64_t(offset), C.uint64_t(length)); err != nil {
		return nil, err
	}
	return wrapBlobReader(b, true, r), nil
}

// Size of the whole blob.
func (b *BlobReader) Size() uint64 {
	defer runtime.KeepAlive(b)
	return uint64(ecr_blob_size(b.ptr))
}

// Read reads the next bytes; io.EOF at the end of the range.
func (b *BlobReader) Read(p []byte) (int, error) {
	defer runtime.KeepAlive(b)
	if len(p) == 0 {
		return 0, nil
	}
	buf := C.malloc(C.size_t(len(p)))
	defer C.free(buf)
	var n C.size_t
	if _, err := ecr_blob_read(b.ptr, buf, C.size_t(len(p)), &n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	copy(p, unsafe.Slice((*byte)(buf), int(n)))
	return int(n), nil
}
