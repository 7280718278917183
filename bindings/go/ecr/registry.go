package ecr

/*
#include <stdlib.h>
#include <ecr.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Registry is one account in one region, opened in-process ("memory:",
// "file:///path") or remote. A Registry may be used by any number of
// goroutines at once (libecr locks it internally).
// Options of Open; the zero value means the library's defaults. The fields
// after NoSync are for remote registries (http://, https://) only.
type Options struct {
	AccountID string // 12 digits; "": 123456789012
	Region    string // "": us-east-1
	NoSync    bool   // skip fsync (tests only)

	Username, Password string // Basic credentials of the data plane
	// AWS credentials for the ECR API (SigV4); "": the usual AWS sources.
	AccessKeyID, SecretAccessKey, SessionToken, Profile string
	APIEndpoint                                         string // the ECR API's endpoint; "": the registry URL
	CAFile, CAPath                                      string // CA certificates for https; "": the system's
	Insecure                                            bool   // do not verify TLS certificates (tests only): REMOTE_INSECURE
	RemoteFlags                                         uint32 // REMOTE_* flags (REMOTE_OCI_ONLY, REMOTE_NO_RETRY, ...)
	TimeoutMs                                           uint32 // without progress; 0: 60 s
	MaxRetries                                          uint32 // 0: 4
	UserAgent                                           string // appended to the User-Agent

	// Webhooks receives the registry's events (ecr_webhooks_event_cb); it
	// must be closed after the registry (the registry keeps it alive).
	Webhooks *Webhooks
}

// cOptions fills C registry options from o; call free when the call is done.
func (o *Options) cOptions() (*C.ecr_registry_options, func(), error) {
	opts := (*C.ecr_registry_options)(C.calloc(1, C.sizeof_ecr_registry_options))
	var strs []*C.char
	free := func() {
		for _, s := range strs {
			freeStr(s)
		}
		C.free(unsafe.Pointer(opts))
	}
	if _, err := ecr_registry_options_init(opts, C.ECR_REGISTRY_OPTIONS_VERSION); err != nil {
		free()
		return nil, nil, err
	}
	if o == nil {
		return opts, free, nil
	}
	str := func(s string) *C.char {
		c := cstrOrNil(s)
		if c != nil {
			strs = append(strs, c)
		}
		return c
	}
	opts.account_id, opts.region = str(o.AccountID), str(o.Region)
	if o.NoSync {
		opts.flags |= C.ECR_STORAGE_NOSYNC
	}
	opts.username, opts.password = str(o.Username), str(o.Password)
	opts.access_key_id, opts.secret_access_key = str(o.AccessKeyID), str(o.SecretAccessKey)
	opts.session_token, opts.profile = str(o.SessionToken), str(o.Profile)
	opts.api_endpoint, opts.ca_file, opts.ca_path = str(o.APIEndpoint), str(o.CAFile), str(o.CAPath)
	opts.remote_flags = C.uint32_t(o.RemoteFlags)
	if o.Insecure {
		opts.remote_flags |= C.ECR_REMOTE_INSECURE
	}
	opts.timeout_ms, opts.max_retries = C.uint32_t(o.TimeoutMs), C.uint32_t(o.MaxRetries)
	opts.user_agent = str(o.UserAgent)
	if o.Webhooks != nil {
		optionsSetWebhooks(opts, o.Webhooks.c())
	}
	return opts, free, nil
}

// Open opens a registry: "memory:", "file:///path/to/folder", or a remote
// "http://host:port" / "https://host" (ecrd, Amazon ECR, any OCI registry).
func Open(url string, o *Options) (*Registry, error) {
	opts, free, err := o.cOptions()
	if err != nil {
		return nil, err
	}
	defer free()
	curl := cstr(url)
	defer freeStr(curl)
	var ptr *C.ecr_registry
	if _, err := ecr_registry_open(&ptr, curl, opts); err != nil {
		return nil, err
	}
	return wrapRegistry(ptr, true, o.keeps()...), nil
}

// AccountID is the registry's account id.
func (r *Registry) AccountID() string {
	defer runtime.KeepAlive(r)
	return C.GoString(ecr_registry_account_id(r.ptr))
}

// Region is the registry's region.
func (r *Registry) Region() string {
	defer runtime.KeepAlive(r)
	return C.GoString(ecr_registry_region(r.ptr))
}

// RepositoryOptions of CreateRepository.
type RepositoryOptions struct {
	TagMutability TagMutability
	ScanOnPush    bool
}

// CreateRepository creates a repository and opens it.
func (r *Registry) CreateRepository(name string, o *RepositoryOptions) (*Repository, error) {
	defer runtime.KeepAlive(r)
	var opts C.ecr_repository_options
	if _, err := ecr_repository_options_init(&opts, C.ECR_REPOSITORY_OPTIONS_VERSION); err != nil {
		return nil, err
	}
	if o != nil {
		opts.tag_mutability = C.ecr_tag_mutability(o.TagMutability)
		if o.ScanOnPush {
			opts.scan_on_push = 1
		}
	}
	cname := cstr(name)
	defer freeStr(cname)
	var ptr *C.ecr_repository
	if _, err := ecr_repository_create(&ptr, r.ptr, cname, &opts); err != nil {
		return nil, err
	}
	return newRepository(ptr, r), nil
}

// Repository opens an existing repository.
func (r *Registry) Repository(name string) (*Repository, error) {
	defer runtime.KeepAlive(r)
	cname := cstr(name)
	defer freeStr(cname)
	var ptr *C.ecr_repository
	if _, err := ecr_repository_open(&ptr, r.ptr, cname); err != nil {
		return nil, err
	}
	return newRepository(ptr, r), nil
}

// DeleteRepository deletes a repository; force deletes its images too.
func (r *Registry) DeleteRepository(name string, force bool) error {
	defer runtime.KeepAlive(r)
	cname := cstr(name)
	defer freeStr(cname)
	var flags C.uint32_t
	if force {
		flags = C.ECR_REPOSITORY_DELETE_FORCE
	}
	_, err := ecr_repository_delete(r.ptr, cname, flags)
	return err
}

// Repositories lists the repository names in name order, after the name
// after ("" from the start), at most limit of them (0: all).
func (r *Registry) Repositories(after string, limit int) ([]string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer runtime.KeepAlive(r)
	cafter := cstrOrNil(after)
	defer freeStr(cafter)
	var it *C.ecr_repository_iterator
	if rc := C.ecr_repository_iterator_new_after(&it, r.ptr, cafter); rc < 0 {
		return nil, lastError(rc)
	}
	defer C.ecr_repository_iterator_free(it)
	var names []string
	for limit <= 0 || len(names) < limit {
		var repo *C.ecr_repository
		rc := C.ecr_repository_iterator_next(&repo, it)
		if rc == C.ECR_ITEROVER {
			break
		}
		if rc < 0 {
			return nil, lastError(rc)
		}
		names = append(names, C.GoString(C.ecr_repository_name(repo)))
	}
	return names, nil
}

func newRepository(ptr *C.ecr_repository, reg *Registry) *Repository {
	return wrapRepository(ptr, true, reg)
}

// Name of the repository.
func (r *Repository) Name() string {
	defer runtime.KeepAlive(r)
	return C.GoString(ecr_repository_name(r.ptr))
}

// ARN of the repository.
func (r *Repository) ARN() string {
	defer runtime.KeepAlive(r)
	return C.GoString(ecr_repository_arn(r.ptr))
}

// URI of the repository.
func (r *Repository) URI() string {
	defer runtime.KeepAlive(r)
	return C.GoString(ecr_repository_uri(r.ptr))
}

// TagMutability of the repository.
func (r *Repository) TagMutability() TagMutability {
	defer runtime.KeepAlive(r)
	return TagMutability(ecr_repository_tag_mutability(r.ptr))
}

// PutBlob stores a whole blob (a monolithic upload) under its digest.
func (r *Repository) PutBlob(digest string, data []byte) error {
	defer runtime.KeepAlive(r)
	cd := cstr(digest)
	defer freeStr(cd)
	var p unsafe.Pointer
	if len(data) > 0 {
		p = C.CBytes(data)
		defer C.free(p)
	}
	_, err := ecr_blob_put(r.ptr, cd, p, C.size_t(len(data)))
	return err
}

// StatBlob returns the size of a blob the repository holds.
func (r *Repository) StatBlob(digest string) (uint64, error) {
	defer runtime.KeepAlive(r)
	cd := cstr(digest)
	defer freeStr(cd)
	var size C.uint64_t
	_, err := ecr_blob_stat(r.ptr, cd, &size)
	return uint64(size), err
}

// PutImage puts a manifest, tagged with tag ("": untagged).
func (r *Repository) PutImage(tag string, manifest []byte) (*Image, error) {
	defer runtime.KeepAlive(r)
	ctag := cstrOrNil(tag)
	defer freeStr(ctag)
	p := C.CBytes(manifest)
	defer C.free(p)
	var img *C.ecr_image
	if _, err := ecr_image_put(&img, r.ptr, ctag, nil, nil, p, C.size_t(len(manifest)), 0); err != nil {
		return nil, err
	}
	return newImage(img), nil
}

// Image gets an image by tag or digest.
func (r *Repository) Image(reference string) (*Image, error) {
	defer runtime.KeepAlive(r)
	cref := cstr(reference)
	defer freeStr(cref)
	var img *C.ecr_image
	if _, err := ecr_image_get(&img, r.ptr, cref, 0); err != nil {
		return nil, err
	}
	return newImage(img), nil
}

// DeleteImage deletes an image (by digest) and its tags.
func (r *Repository) DeleteImage(digest string) error {
	defer runtime.KeepAlive(r)
	cd := cstr(digest)
	defer freeStr(cd)
	_, err := ecr_image_delete(r.ptr, cd)
	return err
}

// ImageInfo describes an image of a listing.
type ImageInfo struct {
	Digest    string
	MediaType string
	Size      uint64
	PushedAt  int64
	Tags      []string
}

func describe(img *C.ecr_image) ImageInfo {
	info := ImageInfo{
		Digest:    C.GoString(C.ecr_image_digest(img)),
		MediaType: C.GoString(C.ecr_image_media_type(img)),
		Size:      uint64(C.ecr_image_size(img)),
		PushedAt:  int64(C.ecr_image_pushed_at(img)),
	}
	n := C.ecr_image_tag_count(img)
	for i := C.size_t(0); i < n; i++ {
		info.Tags = append(info.Tags, C.GoString(C.ecr_image_tag(img, i)))
	}
	return info
}

// Images lists the repository's images in digest order.
func (r *Repository) Images() ([]ImageInfo, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer runtime.KeepAlive(r)
	var it *C.ecr_image_iterator
	if rc := C.ecr_image_iterator_new(&it, r.ptr, nil); rc < 0 {
		return nil, lastError(rc)
	}
	defer C.ecr_image_iterator_free(it)
	var out []ImageInfo
	for {
		var img *C.ecr_image
		rc := C.ecr_image_iterator_next(&img, it)
		if rc == C.ECR_ITEROVER {
			return out, nil
		}
		if rc < 0 {
			return nil, lastError(rc)
		}
		out = append(out, describe(img))
	}
}

// Tag is a tag and the digest it points to.
type Tag struct {
	Name, Digest string
}

// Tags lists the repository's tags in lexical order.
func (r *Repository) Tags() ([]Tag, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer runtime.KeepAlive(r)
	var it *C.ecr_tag_iterator
	if rc := C.ecr_tag_iterator_new(&it, r.ptr, nil); rc < 0 {
		return nil, lastError(rc)
	}
	defer C.ecr_tag_iterator_free(it)
	var out []Tag
	for {
		var tag, digest *C.char
		rc := C.ecr_tag_iterator_next(&tag, &digest, it)
		if rc == C.ECR_ITEROVER {
			return out, nil
		}
		if rc < 0 {
			return nil, lastError(rc)
		}
		out = append(out, Tag{C.GoString(tag), C.GoString(digest)})
	}
}

func newImage(ptr *C.ecr_image) *Image { return wrapImage(ptr, true) }

// Describe returns the image's digest, media type, size, push time and tags.
func (i *Image) Describe() ImageInfo {
	defer runtime.KeepAlive(i)
	return describe(i.ptr)
}

// Digest of the manifest.
func (i *Image) Digest() string {
	defer runtime.KeepAlive(i)
	return C.GoString(ecr_image_digest(i.ptr))
}

// Manifest returns the manifest bytes as pushed.
func (i *Image) Manifest() ([]byte, error) {
	defer runtime.KeepAlive(i)
	var p unsafe.Pointer
	var n C.size_t
	if _, err := ecr_image_manifest(&p, &n, i.ptr); err != nil {
		return nil, err
	}
	return C.GoBytes(p, C.int(n)), nil
}
