package ecr

/*
#include <stdlib.h>
#include <stdint.h>
#include <ecr.h>
#include <ecr/sys/blob_store.h>
#include <ecr/sys/meta_store.h>

// Declared in api_glue.go's preamble (cgo keeps each preamble to its file).
extern int ecrgoLifecycleImage(ecr_image *img, ecr_lifecycle_action action, uint32_t rule_priority, void *payload);
int ecrgo_resource_tags(ecr_repository *repo, uintptr_t h);
int ecrgo_repository_foreach(ecr_registry *reg, uintptr_t h);
int ecrgo_apply_lifecycle(ecr_repository *repo, uintptr_t h);
int ecrgo_lifecycle_evaluate(const ecr_lifecycle_policy *p, const ecr_lifecycle_image *images, size_t count,
	int64_t now_ms, uintptr_t h);
int ecrgo_principal_policies(ecr_principal *p, uintptr_t h);
void ecrgo_copy_set_progress(ecr_copy_options *o, uintptr_t h);
int ecrgo_replication_status(ecr_repository *repo, const char *digest, uintptr_t h);
void ecrgo_replicator_set_destination(ecr_replicator_options *o, uintptr_t h);
int ecrgo_credentials_foreach(ecr_registry *reg, uintptr_t h);
int ecrgo_server_set_registry_cb(ecr_server *srv, uintptr_t h);

// ecr_public_registry_cb has ecr_credential_cb's shape (two strings and the payload): the
// trampoline ecrgoCredential (api_callbacks.go) serves both.
extern int ecrgoCredential(char *arn, char *username, void *payload);
static int ecrgo_public_registries_foreach(ecr_registry *any, uintptr_t h)
{
	return ecr_public_registries_foreach(any, (ecr_public_registry_cb)ecrgoCredential, (void *)h);
}
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// handWrittenAPI: the Go path of each C function listed in handWritten (zz_api.go);
// the coverage test checks that the two agree.
var handWrittenAPI = map[string]any{
	"ecr_version":                      Version,
	"ecr_error_last":                   LastError,
	"ecr_registry_options_init":        Open,
	"ecr_registry_open":                Open,
	"ecr_registry_open_storage":        OpenStorage,
	"ecr_registry_open_urls":           OpenURLs,
	"ecr_registry_account_id":          (*Registry).AccountID,
	"ecr_registry_region":              (*Registry).Region,
	"ecr_gc_options_init":              (*Registry).GC,
	"ecr_registry_gc":                  (*Registry).GC,
	"ecr_repository_options_init":      (*Registry).CreateRepository,
	"ecr_repository_create":            (*Registry).CreateRepository,
	"ecr_repository_open":              (*Registry).Repository,
	"ecr_repository_delete":            (*Registry).DeleteRepository,
	"ecr_repository_name":              (*Repository).Name,
	"ecr_repository_arn":               (*Repository).ARN,
	"ecr_repository_uri":               (*Repository).URI,
	"ecr_repository_tag_mutability":    (*Repository).TagMutability,
	"ecr_repository_tag_resource":      (*Repository).TagResource,
	"ecr_repository_resource_tags":     (*Repository).ResourceTags,
	"ecr_repository_foreach":           (*Registry).ForeachRepository,
	"ecr_repository_lifecycle_preview": (*Repository).LifecyclePreviewFunc,
	"ecr_repository_apply_lifecycle":   (*Repository).ApplyLifecycle,
	"ecr_upload_begin":                 (*Repository).BeginUpload,
	"ecr_upload_id":                    (*Upload).ID,
	"ecr_upload_size":                  (*Upload).Size,
	"ecr_upload_write":                 (*Upload).Write,
	"ecr_upload_commit":                (*Upload).Commit,
	"ecr_upload_cancel":                (*Upload).Cancel,
	"ecr_blob_stat":                    (*Repository).StatBlob,
	"ecr_blob_open":                    (*Repository).OpenBlob,
	"ecr_blob_size":                    (*BlobReader).Size,
	"ecr_blob_read":                    (*BlobReader).Read,
	"ecr_blob_put":                     (*Repository).PutBlob,
	"ecr_image_put":                    (*Repository).PutImage,
	"ecr_image_get":                    (*Repository).Image,
	"ecr_image_delete":                 (*Repository).DeleteImage,
	"ecr_image_digest":                 (*Image).Digest,
	"ecr_image_manifest":               (*Image).Manifest,
	"ecr_image_list_options_init":      (*Repository).ImagesWith,
	"ecr_image_iterator_new":           (*Repository).ImagesWith,
	"ecr_policy_parse":                 ParsePolicy,
	"ecr_policy_request_init":          (*Policy).Evaluate,
	"ecr_policy_evaluate":              (*Policy).Evaluate,
	"ecr_lifecycle_policy_evaluate":    (*LifecyclePolicy).Evaluate,
	"ecr_principal_policies":           (*Principal).Policies,
	"ecr_sigv4_request_init":           (*Registry).VerifySigV4,
	"ecr_auth_sigv4_verify":            (*Registry).VerifySigV4,
	"ecr_authorize":                    (*Registry).Authorize,
	"ecr_scan_options_init":            ScanImage,
	"ecr_scan_image":                   ScanImage,
	"ecr_scan_layout":                  ScanLayout,
	"ecr_scan_report_finding":          (*ScanReport).Finding,
	"ecr_copy_options_init":            CopyImage,
	"ecr_image_copy":                   CopyImage,
	"ecr_image_replication_status":     (*Repository).ReplicationStatus,
	"ecr_replicator_options_init":      NewReplicator,
	"ecr_replicator_new":               NewReplicator,
	"ecr_cache_options_init":           NewCache,
	"ecr_cache_new":                    NewCache,
	"ecr_server_options_init":          NewServer,
	"ecr_server_new":                   NewServer,
	"ecr_server_add_registry":          NewServer,
	"ecr_server_start":                 NewServer,
	"ecr_server_port":                  (*Server).Port,
	"ecr_server_set_registry_cb":       (*Server).SetRegistryFunc,
	"ecr_registry_credentials_foreach": (*Registry).CredentialsForeach,
	"ecr_public_registries_foreach":    (*Registry).PublicRegistriesForeach,
}

// cbError: the error of a call whose callback may have stopped it.
func cbError(rc C.int, cb *callback) error {
	if cb != nil && cb.err != nil {
		return cb.err
	}
	if rc < 0 {
		return lastError(rc)
	}
	return nil
}

// locked runs f with the OS thread locked (f reads the thread's error).
func locked(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return f()
}

// OpenURLs opens a registry on a metadata store and a blob store named by URLs
// ("postgres://..." or "sqlite:///path.db"; "s3://bucket?endpoint=...",
// "file:///dir" or "memory:"): the shared storage of several ecrd nodes.
func OpenURLs(metaURL, blobURL string, o *Options) (*Registry, error) {
	opts, free, err := o.cOptions()
	if err != nil {
		return nil, err
	}
	defer free()
	cm, cb := cstr(metaURL), cstr(blobURL)
	defer freeStr(cm)
	defer freeStr(cb)
	var ptr *C.ecr_registry
	if _, err := ecr_registry_open_urls(&ptr, cm, cb, opts); err != nil {
		return nil, err
	}
	return wrapRegistry(ptr, true, o.keeps()...), nil
}

// OpenStorage opens a registry on stores (BlobStoreFsNew, MetaStoreSqliteNew, ...);
// the registry takes both stores over, also when it fails.
func OpenStorage(blobs *BlobStore, meta *MetaStore, o *Options) (*Registry, error) {
	opts, free, err := o.cOptions()
	if err != nil {
		return nil, err
	}
	defer free()
	b, m := blobs.c(), meta.c()
	for _, s := range []interface{ disown() }{blobs, meta} {
		s.disown()
	}
	var ptr *C.ecr_registry
	if _, err := ecr_registry_open_storage(&ptr, b, m, opts); err != nil {
		return nil, err
	}
	return wrapRegistry(ptr, true, o.keeps()...), nil
}

func (h *BlobStore) disown() {
	if h != nil {
		h.owned = false
		runtime.SetFinalizer(h, nil)
		h.ptr = nil
	}
}

func (h *MetaStore) disown() {
	if h != nil {
		h.owned = false
		runtime.SetFinalizer(h, nil)
		h.ptr = nil
	}
}

// GCStats is what a garbage collection did.
type GCStats struct {
	UploadsExpired, LinksRemoved, BlobsRemoved, BytesRemoved, BlobsKept uint64
}

// GC collects garbage; blobs and links younger than grace (seconds; 0: 1 hour) stay.
func (r *Registry) GC(graceSeconds uint64, dryRun bool) (GCStats, error) {
	defer runtime.KeepAlive(r)
	var opts C.ecr_gc_options
	if _, err := ecr_gc_options_init(&opts, C.ECR_GC_OPTIONS_VERSION); err != nil {
		return GCStats{}, err
	}
	opts.grace_seconds = C.uint64_t(graceSeconds)
	if dryRun {
		opts.flags = C.ECR_GC_DRY_RUN
	}
	st := C.ecr_gc_stats{version: C.ECR_GC_STATS_VERSION}
	if _, err := ecr_registry_gc(r.c(), &opts, &st); err != nil {
		return GCStats{}, err
	}
	return GCStats{uint64(st.uploads_expired), uint64(st.links_removed), uint64(st.blobs_removed),
		uint64(st.bytes_removed), uint64(st.blobs_kept)}, nil
}

// TagResource adds (or replaces) resource tags.
func (r *Repository) TagResource(tags map[string]string) error {
	defer runtime.KeepAlive(r)
	if len(tags) == 0 {
		_, err := ecr_repository_tag_resource(r.c(), nil, 0)
		return err
	}
	arr := (*[1 << 20]C.ecr_resource_tag)(C.calloc(C.size_t(len(tags)), C.sizeof_ecr_resource_tag))[:len(tags):len(tags)]
	defer C.free(unsafe.Pointer(&arr[0]))
	i := 0
	for k, v := range tags {
		arr[i].key, arr[i].value = cstr(k), cstr(v)
		defer freeStr(arr[i].key)
		defer freeStr(arr[i].value)
		i++
	}
	_, err := ecr_repository_tag_resource(r.c(), &arr[0], C.size_t(len(tags)))
	return err
}

// ResourceTags returns the repository's resource tags.
func (r *Repository) ResourceTags() (map[string]string, error) {
	defer runtime.KeepAlive(r)
	out := map[string]string{}
	err := locked(func() error {
		rc, cb := withCallback(func(k, v string) bool { out[k] = v; return true },
			func(h C.uintptr_t) C.int { return C.ecrgo_resource_tags(r.c(), h) })
		return cbError(rc, cb)
	})
	return out, err
}

// ForeachRepository calls fn with each repository (borrowed for the call); return false to stop (ErrUser).
func (r *Registry) ForeachRepository(fn func(*Repository) bool) error {
	defer runtime.KeepAlive(r)
	return locked(func() error {
		rc, cb := withCallback(fn, func(h C.uintptr_t) C.int { return C.ecrgo_repository_foreach(r.c(), h) })
		return cbError(rc, cb)
	})
}

// ApplyLifecycle applies the repository's lifecycle policy; fn (may be nil) sees each decision.
func (r *Repository) ApplyLifecycle(fn func(ImageInfo, LifecycleAction, uint32) bool) error {
	defer runtime.KeepAlive(r)
	if fn == nil {
		fn = func(ImageInfo, LifecycleAction, uint32) bool { return true }
	}
	h := cgo.NewHandle(fn)
	defer h.Delete()
	_, err := call(func() C.int { return C.ecrgo_apply_lifecycle(r.c(), C.uintptr_t(h)) })
	return err
}

// ImageListOptions filter Repository.ImagesWith.
type ImageListOptions struct {
	TagStatus    TagStatus
	Subject      string // images whose subject is this digest
	ArtifactType string
	StartToken   string
	StatusMask   uint32
}

// ImagesWith lists the images a filter selects, in digest order.
func (r *Repository) ImagesWith(o ImageListOptions) ([]ImageInfo, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer runtime.KeepAlive(r)
	var opts C.ecr_image_list_options
	if _, err := ecr_image_list_options_init(&opts, C.ECR_IMAGE_LIST_OPTIONS_VERSION); err != nil {
		return nil, err
	}
	opts.tag_status = C.ecr_tag_status(o.TagStatus)
	opts.subject, opts.artifact_type, opts.start_token = cstrOrNil(o.Subject), cstrOrNil(o.ArtifactType),
		cstrOrNil(o.StartToken)
	defer freeStr(opts.subject)
	defer freeStr(opts.artifact_type)
	defer freeStr(opts.start_token)
	if o.StatusMask != 0 {
		opts.status_mask = C.uint32_t(o.StatusMask)
	}
	var it *C.ecr_image_iterator
	if rc := C.ecr_image_iterator_new(&it, r.c(), &opts); rc < 0 {
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

// LifecycleImage is an image description for LifecyclePolicy.Evaluate.
type LifecycleImage struct {
	Digest                                             string
	Tags                                               []string
	PushedAt, LastPulledAt, LastArchivedAt, LastActive int64
	StorageClass                                       StorageClass
	Parents                                            []string
	Subject                                            string
}

// Evaluate runs the policy over image descriptions at nowMs; fn gets each
// image's index, action and rule priority (return false to stop).
func (p *LifecyclePolicy) Evaluate(images []LifecycleImage, nowMs int64, fn func(int, LifecycleAction, uint32) bool) error {
	defer runtime.KeepAlive(p)
	n := len(images)
	var arr []C.ecr_lifecycle_image
	var frees []func()
	defer func() {
		for _, f := range frees {
			f()
		}
	}()
	if n > 0 {
		arr = (*[1 << 20]C.ecr_lifecycle_image)(C.calloc(C.size_t(n), C.sizeof_ecr_lifecycle_image))[:n:n]
		frees = append(frees, func() { C.free(unsafe.Pointer(&arr[0])) })
	}
	for i, im := range images {
		a := &arr[i]
		a.digest, a.subject = cstrOrNil(im.Digest), cstrOrNil(im.Subject)
		frees = append(frees, func() { freeStr(a.digest); freeStr(a.subject) })
		tags, ft := cstrArray(im.Tags)
		parents, fp := cstrArray(im.Parents)
		frees = append(frees, ft, fp)
		a.tags, a.tags_count = tags, C.size_t(len(im.Tags))
		a.parents, a.parents_count = parents, C.size_t(len(im.Parents))
		a.pushed_at, a.last_pulled_at = C.int64_t(im.PushedAt), C.int64_t(im.LastPulledAt)
		a.last_archived_at, a.last_activated_at = C.int64_t(im.LastArchivedAt), C.int64_t(im.LastActive)
		a.storage_class = C.ecr_storage_class(im.StorageClass)
	}
	var first *C.ecr_lifecycle_image
	if n > 0 {
		first = &arr[0]
	}
	return locked(func() error {
		rc, cb := withCallback(fn, func(h C.uintptr_t) C.int {
			return C.ecrgo_lifecycle_evaluate(p.c(), first, C.size_t(n), C.int64_t(nowMs), h)
		})
		return cbError(rc, cb)
	})
}

// Policies returns the principal's inline policies, name -> document.
func (p *Principal) Policies() (map[string]string, error) {
	defer runtime.KeepAlive(p)
	out := map[string]string{}
	err := locked(func() error {
		rc, cb := withCallback(func(n, d string) bool { out[n] = d; return true },
			func(h C.uintptr_t) C.int { return C.ecrgo_principal_policies(p.c(), h) })
		return cbError(rc, cb)
	})
	return out, err
}

// SigV4Request is a request to verify (ecr_sigv4_request).
type SigV4Request struct {
	Method, Path, Query string
	Headers             [][2]string
	PayloadSHA256       string
	Service             string
	NowMs               int64
}

// VerifySigV4 verifies a SigV4-signed request; returns its principal and region.
func (r *Registry) VerifySigV4(req SigV4Request) (*Principal, string, error) {
	defer runtime.KeepAlive(r)
	var c C.ecr_sigv4_request
	if _, err := ecr_sigv4_request_init(&c, C.ECR_SIGV4_REQUEST_VERSION); err != nil {
		return nil, "", err
	}
	var strs []*C.char
	str := func(s string) *C.char { p := cstrOrNil(s); strs = append(strs, p); return p }
	defer func() {
		for _, s := range strs {
			freeStr(s)
		}
	}()
	c.method, c.path, c.query = str(req.Method), str(req.Path), str(req.Query)
	c.payload_sha256, c.service, c.now_ms = str(req.PayloadSHA256), str(req.Service), C.int64_t(req.NowMs)
	if n := len(req.Headers); n > 0 {
		hs := (*[1 << 16]C.ecr_http_header)(C.calloc(C.size_t(n), C.sizeof_ecr_http_header))[:n:n]
		defer C.free(unsafe.Pointer(&hs[0]))
		for i, h := range req.Headers {
			hs[i].name, hs[i].value = str(h[0]), str(h[1])
		}
		c.headers, c.headers_count = &hs[0], C.size_t(n)
	}
	var p *C.ecr_principal
	var region C.ecr_buf
	if _, err := ecr_auth_sigv4_verify(&p, &region, r.c(), &c); err != nil {
		return nil, "", err
	}
	return wrapPrincipal(p, true, r), takeBuf(&region), nil
}

// Authorize checks that principal p may do action on resource, with condition keys.
func (r *Registry) Authorize(p *Principal, action, resourceARN string, keys map[string]string) error {
	defer runtime.KeepAlive(r)
	defer runtime.KeepAlive(p)
	ca, cr := cstr(action), cstr(resourceARN)
	defer freeStr(ca)
	defer freeStr(cr)
	var first *C.ecr_policy_context_key
	if n := len(keys); n > 0 {
		arr := (*[1 << 16]C.ecr_policy_context_key)(C.calloc(C.size_t(n), C.sizeof_ecr_policy_context_key))[:n:n]
		defer C.free(unsafe.Pointer(&arr[0]))
		i := 0
		for k, v := range keys {
			arr[i].name, arr[i].value = cstr(k), cstr(v)
			defer freeStr(arr[i].name)
			defer freeStr(arr[i].value)
			i++
		}
		first = &arr[0]
	}
	_, err := ecr_authorize(r.c(), p.c(), ca, cr, first, C.size_t(len(keys)))
	return err
}

// ScanOptions bound a scan (0: the library's defaults).
type ScanOptions struct {
	MaxTotalBytes, MaxEntries, MaxFileSize uint64
	MaxPathLength                          uint32
	Platform                               string
}

func (o *ScanOptions) c() (*C.ecr_scan_options, func(), error) {
	opts := (*C.ecr_scan_options)(C.calloc(1, C.sizeof_ecr_scan_options))
	free := func() { freeStr(opts.platform); C.free(unsafe.Pointer(opts)) }
	if _, err := ecr_scan_options_init(opts, C.ECR_SCAN_OPTIONS_VERSION); err != nil {
		free()
		return nil, nil, err
	}
	if o != nil {
		opts.max_total_bytes, opts.max_entries = C.uint64_t(o.MaxTotalBytes), C.uint64_t(o.MaxEntries)
		opts.max_file_size, opts.max_path_length = C.uint64_t(o.MaxFileSize), C.uint32_t(o.MaxPathLength)
		opts.platform = cstrOrNil(o.Platform)
	}
	return opts, free, nil
}

// ScanImage scans an image of a repository against a vulnerability database.
func ScanImage(repo *Repository, reference string, db *Vulndb, o *ScanOptions) (*ScanReport, error) {
	defer runtime.KeepAlive(repo)
	defer runtime.KeepAlive(db)
	opts, free, err := o.c()
	if err != nil {
		return nil, err
	}
	defer free()
	cref := cstr(reference)
	defer freeStr(cref)
	var rep *C.ecr_scan_report
	if _, err := ecr_scan_image(&rep, repo.c(), cref, db.c(), opts); err != nil {
		return nil, err
	}
	return wrapScanReport(rep, true), nil
}

// ScanLayout scans an image of an OCI layout folder.
func ScanLayout(layoutDir, reference string, db *Vulndb, o *ScanOptions) (*ScanReport, error) {
	defer runtime.KeepAlive(db)
	opts, free, err := o.c()
	if err != nil {
		return nil, err
	}
	defer free()
	cdir, cref := cstr(layoutDir), cstrOrNil(reference)
	defer freeStr(cdir)
	defer freeStr(cref)
	var rep *C.ecr_scan_report
	if _, err := ecr_scan_layout(&rep, cdir, cref, db.c(), opts); err != nil {
		return nil, err
	}
	return wrapScanReport(rep, true), nil
}

// ScanFinding is one finding of a scan report.
type ScanFinding struct {
	Name, URI, Description                    string
	Severity                                  Severity
	PackageName, PackageVersion, FixedVersion string
	CVSSVersion                               int
	CVSSVector                                string
	CVSSScore                                 float64
}

// Finding i of the report (ordered by severity, then name); ok false when out of range.
func (r *ScanReport) Finding(i int) (ScanFinding, bool) {
	defer runtime.KeepAlive(r)
	f := C.ecr_scan_report_finding(r.c(), C.size_t(i))
	if f == nil {
		return ScanFinding{}, false
	}
	return ScanFinding{C.GoString(f.name), C.GoString(f.uri), C.GoString(f.description), Severity(f.severity),
		C.GoString(f.package_name), C.GoString(f.package_version), C.GoString(f.fixed_version),
		int(f.cvss_version), C.GoString(f.cvss_vector), float64(f.cvss_score)}, true
}

// CopyProgress is one progress report of CopyImage.
type CopyProgress struct {
	Event                       CopyEvent
	Digest, MediaType           string
	BytesDone, BytesTotal       uint64
	AllBytesDone, AllBytesTotal uint64
	BlobsDone, BlobsTotal       int
}

// CopyOptions of CopyImage; nil means all defaults.
type CopyOptions struct {
	Platforms []string // of an index: "os/arch[/variant]"; nil: all (the index unchanged)
	Referrers bool     // copy referrers (signatures, SBOMs) too: COPY_REFERRERS
	Flags     uint32   // more COPY_* flags
	Parallel  uint     // blobs at once; 0: 4
	// Progress is called on the calling goroutine's thread; return false to stop (ErrUser).
	Progress func(CopyProgress) bool
}

// CopyImage copies an image (manifests, blobs, optionally referrers) from src to dst,
// local or remote, tagged dstTag there ("": by digest); returns the digest put.
func CopyImage(dst *Repository, dstTag string, src *Repository, srcReference string, o *CopyOptions) (string, error) {
	defer runtime.KeepAlive(dst)
	defer runtime.KeepAlive(src)
	opts := (*C.ecr_copy_options)(C.calloc(1, C.sizeof_ecr_copy_options))
	defer C.free(unsafe.Pointer(opts))
	if _, err := ecr_copy_options_init(opts, C.ECR_COPY_OPTIONS_VERSION); err != nil {
		return "", err
	}
	var cb *callback
	if o != nil {
		plats, free := cstrArray(o.Platforms)
		defer free()
		opts.platforms, opts.platforms_count = plats, C.size_t(len(o.Platforms))
		opts.flags = C.uint32_t(o.Flags)
		if o.Referrers {
			opts.flags |= C.ECR_COPY_REFERRERS
		}
		opts.parallel = C.uint(o.Parallel)
		if o.Progress != nil {
			cb = &callback{fn: o.Progress}
			h := cgo.NewHandle(cb)
			defer h.Delete()
			C.ecrgo_copy_set_progress(opts, C.uintptr_t(h))
		}
	}
	ctag, cref := cstrOrNil(dstTag), cstr(srcReference)
	defer freeStr(ctag)
	defer freeStr(cref)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var out C.ecr_buf
	rc := C.ecr_image_copy(&out, dst.c(), ctag, src.c(), cref, opts)
	d := takeBuf(&out)
	if err := cbError(rc, cb); err != nil {
		return "", err
	}
	return d, nil
}

// ReplicationDestinationStatus is where an image stands at one destination.
type ReplicationDestinationStatus struct {
	Region, RegistryID string
	Status             ReplicationStatus
	FailureReason      string
}

// ReplicationStatus returns an image's replication status per destination.
func (r *Repository) ReplicationStatus(digest string) ([]ReplicationDestinationStatus, error) {
	defer runtime.KeepAlive(r)
	cd := cstr(digest)
	defer freeStr(cd)
	var out []ReplicationDestinationStatus
	err := locked(func() error {
		rc, cb := withCallback(func(s ReplicationDestinationStatus) bool { out = append(out, s); return true },
			func(h C.uintptr_t) C.int { return C.ecrgo_replication_status(r.c(), cd, h) })
		return cbError(rc, cb)
	})
	return out, err
}

// ReplicatorOptions of NewReplicator.
type ReplicatorOptions struct {
	Threads     uint
	MaxAttempts uint
	RetryBaseMs uint32
	PollMs      uint32
	// Destination gives the registry of a destination (nil: unknown); the
	// registry must stay open until the replicator is closed. Called from
	// the replicator's threads.
	Destination func(region, registryID string) *Registry
}

// NewReplicator creates a replicator; Attach registries to start it.
func NewReplicator(o ReplicatorOptions) (*Replicator, error) {
	var opts C.ecr_replicator_options
	if _, err := ecr_replicator_options_init(&opts, C.ECR_REPLICATOR_OPTIONS_VERSION); err != nil {
		return nil, err
	}
	opts.threads, opts.max_attempts = C.uint(o.Threads), C.uint(o.MaxAttempts)
	opts.retry_base_ms, opts.poll_ms = C.uint32_t(o.RetryBaseMs), C.uint32_t(o.PollMs)
	var keep []any
	if o.Destination != nil {
		h := cgo.NewHandle(o.Destination)
		C.ecrgo_replicator_set_destination(&opts, C.uintptr_t(h))
		keep = append(keep, cbHandle(h))
	}
	var r *C.ecr_replicator
	if _, err := ecr_replicator_new(&r, &opts); err != nil {
		for _, k := range keep {
			k.(releaser).release()
		}
		return nil, err
	}
	return wrapReplicator(r, true, keep...), nil
}

// CacheOptions of NewCache.
type CacheOptions struct {
	FreshnessSeconds uint64   // 0: 24 hours
	Upstream         *Options // options of the upstream registry handles (timeouts, CA, flags)
}

// NewCache creates a pull-through cache (serve it with Server.SetCache).
func NewCache(o CacheOptions) (*Cache, error) {
	var opts C.ecr_cache_options
	if _, err := ecr_cache_options_init(&opts, C.ECR_CACHE_OPTIONS_VERSION); err != nil {
		return nil, err
	}
	opts.freshness_seconds = C.uint64_t(o.FreshnessSeconds)
	if o.Upstream != nil {
		up, free, err := o.Upstream.cOptions()
		if err != nil {
			return nil, err
		}
		defer free()
		opts.upstream_options = up
	}
	var c *C.ecr_cache
	if _, err := ecr_cache_new(&c, &opts); err != nil {
		return nil, err
	}
	return wrapCache(c, true), nil
}

// CredentialsForeach calls fn with each stored upstream credential's ARN and username.
func (r *Registry) CredentialsForeach(fn func(arn, username string) bool) error {
	defer runtime.KeepAlive(r)
	return locked(func() error {
		rc, cb := withCallback(fn, func(h C.uintptr_t) C.int { return C.ecrgo_credentials_foreach(r.c(), h) })
		return cbError(rc, cb)
	})
}

// PublicRegistriesForeach calls fn with the account and alias of each public
// registry of r's storage that has an alias, by alias; fn returns false to stop.
func (r *Registry) PublicRegistriesForeach(fn func(accountID, alias string) bool) error {
	defer runtime.KeepAlive(r)
	return locked(func() error {
		rc, cb := withCallback(fn, func(h C.uintptr_t) C.int { return C.ecrgo_public_registries_foreach(r.c(), h) })
		return cbError(rc, cb)
	})
}

// SetRegistryFunc makes the server find registries by account and region
// (ECR API callers, <account>.dkr.ecr.<region> hosts); fn returns nil for
// none. Registries returned must outlive the server. Called from server threads.
func (s *Server) SetRegistryFunc(fn func(accountID, region string) *Registry) error {
	defer runtime.KeepAlive(s)
	h := cgo.NewHandle(fn)
	_, err := call(func() C.int { return C.ecrgo_server_set_registry_cb(s.c(), C.uintptr_t(h)) })
	if err != nil {
		h.Delete()
		return err
	}
	s.keep = append(s.keep, cbHandle(h))
	return nil
}
