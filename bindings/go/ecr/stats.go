package ecr

/*
#include <ecr.h>
*/
import "C"

import "runtime"

func init() {
	handWrittenAPI["ecr_registry_stats"] = (*Registry).Stats
}

// Stats are a registry's operational counters. GC runs and storage errors are
// counted in this process over the registry's storage (shared by every registry
// of that storage); scans and replication jobs are the registry's own, now.
type Stats struct {
	GCRuns, GCFailures, GCBlobsDeleted, GCBytesFreed                              uint64
	BlobStoreErrors, MetaStoreErrors                                              uint64
	ScansInProgress, ScansComplete, ScansFailed                                   uint64
	ReplicationQueued, ReplicationRunning, ReplicationComplete, ReplicationFailed uint64
}

// Stats reads the registry's statistics (ErrNotSupported for a remote registry).
func (r *Registry) Stats() (Stats, error) {
	defer runtime.KeepAlive(r)
	s := C.ecr_stats{version: C.ECR_STATS_VERSION}
	if _, err := ecr_registry_stats(&s, r.c()); err != nil {
		return Stats{}, err
	}
	return Stats{
		GCRuns: uint64(s.gc_runs), GCFailures: uint64(s.gc_failures), GCBlobsDeleted: uint64(s.gc_blobs_deleted),
		GCBytesFreed: uint64(s.gc_bytes_freed), BlobStoreErrors: uint64(s.blob_store_errors),
		MetaStoreErrors: uint64(s.meta_store_errors), ScansInProgress: uint64(s.scans_in_progress),
		ScansComplete: uint64(s.scans_complete), ScansFailed: uint64(s.scans_failed),
		ReplicationQueued: uint64(s.replication_queued), ReplicationRunning: uint64(s.replication_running),
		ReplicationComplete: uint64(s.replication_complete), ReplicationFailed: uint64(s.replication_failed),
	}, nil
}
