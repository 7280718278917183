package ecr

/*
#include <stdint.h>
#include <ecr.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

func init() {
	for c, g := range map[string]any{
		"ecr_usage_init":             (*Registry).Usage,
		"ecr_registry_usage":         (*Registry).Usage,
		"ecr_repository_usage":       (*Repository).Usage,
		"ecr_registry_usage_foreach": (*Registry).UsageForeach,
		"ecr_price_table_default":    DefaultPriceTable,
		"ecr_price_table_parse":      ParsePriceTable,
		"ecr_usage_estimate":         Usage.Estimate,
	} {
		handWrittenAPI[c] = g
	}
}

// Usage of a repository or a registry: what is stored now, and the transfer
// and requests counted in a time window (whole UTC days).
type Usage struct {
	Repositories      uint64 // repositories counted (1 for a repository)
	Images            uint64 // images (manifests) stored now
	StoredBytes       uint64 // now: each blob once per repository, summed over repositories
	StoredBytesUnique uint64 // now: each blob once across the registry
	PushedBytes       uint64 // in the window: bytes received (blob uploads and manifests)
	PulledBytes       uint64 // in the window: bytes served
	ImagePushes       uint64 // in the window: manifests stored
	ImagePulls        uint64 // in the window: manifests served (GET)
	BlobUploads       uint64 // in the window: blob uploads completed
	BlobDownloads     uint64 // in the window: blob reads served
	FromMs, ToMs      int64  // the window as counted (ms since the epoch, UTC; To exclusive)
}

func usageFromC(u *C.ecr_usage) Usage {
	return Usage{uint64(u.repositories), uint64(u.images), uint64(u.stored_bytes), uint64(u.stored_bytes_unique),
		uint64(u.pushed_bytes), uint64(u.pulled_bytes), uint64(u.image_pushes), uint64(u.image_pulls),
		uint64(u.blob_uploads), uint64(u.blob_downloads), int64(u.from_ms), int64(u.to_ms)}
}

func (u Usage) toC() (C.ecr_usage, error) {
	var c C.ecr_usage
	if _, err := ecr_usage_init(&c, C.ECR_USAGE_VERSION); err != nil {
		return c, err
	}
	c.repositories, c.images = C.uint64_t(u.Repositories), C.uint64_t(u.Images)
	c.stored_bytes, c.stored_bytes_unique = C.uint64_t(u.StoredBytes), C.uint64_t(u.StoredBytesUnique)
	c.pushed_bytes, c.pulled_bytes = C.uint64_t(u.PushedBytes), C.uint64_t(u.PulledBytes)
	c.image_pushes, c.image_pulls = C.uint64_t(u.ImagePushes), C.uint64_t(u.ImagePulls)
	c.blob_uploads, c.blob_downloads = C.uint64_t(u.BlobUploads), C.uint64_t(u.BlobDownloads)
	c.from_ms, c.to_ms = C.int64_t(u.FromMs), C.int64_t(u.ToMs)
	return c, nil
}

// Usage is the registry's usage: stored bytes now, transfer and requests
// counted in [fromMs, toMs) rounded out to whole UTC days (0, 0: everything
// ever counted). Counters not yet flushed are included.
func (r *Registry) Usage(fromMs, toMs int64) (Usage, error) {
	defer runtime.KeepAlive(r)
	var c C.ecr_usage
	if _, err := ecr_usage_init(&c, C.ECR_USAGE_VERSION); err != nil {
		return Usage{}, err
	}
	if _, err := ecr_registry_usage(&c, r.c(), C.int64_t(fromMs), C.int64_t(toMs)); err != nil {
		return Usage{}, err
	}
	return usageFromC(&c), nil
}

// Usage is the repository's usage, as (*Registry).Usage.
func (r *Repository) Usage(fromMs, toMs int64) (Usage, error) {
	defer runtime.KeepAlive(r)
	var c C.ecr_usage
	if _, err := ecr_usage_init(&c, C.ECR_USAGE_VERSION); err != nil {
		return Usage{}, err
	}
	if _, err := ecr_repository_usage(&c, r.c(), C.int64_t(fromMs), C.int64_t(toMs)); err != nil {
		return Usage{}, err
	}
	return usageFromC(&c), nil
}

//export ecrgoUsage
func ecrgoUsage(repository *C.char, u *C.ecr_usage, payload unsafe.Pointer) C.int {
	cb := cbOf(uintptr(payload))
	return guard(cb, func() C.int {
		return stop(cb.fn.(func(string, Usage) bool)(C.GoString(repository), usageFromC(u)))
	})
}

// UsageForeach calls fn with every repository's usage (as (*Repository).Usage),
// in name order; fn returns false to stop (the error is then ErrUser).
func (r *Registry) UsageForeach(fromMs, toMs int64, fn func(repository string, u Usage) bool) error {
	defer runtime.KeepAlive(r)
	return locked(func() error {
		rc, cb := withCallback(fn, func(h C.uintptr_t) C.int { return registryUsageForeach(r.c(), fromMs, toMs, h) })
		return cbError(rc, cb)
	})
}

// UsageByRepository returns every repository's usage, by name.
func (r *Registry) UsageByRepository(fromMs, toMs int64) (map[string]Usage, error) {
	out := map[string]Usage{}
	err := r.UsageForeach(fromMs, toMs, func(name string, u Usage) bool { out[name] = u; return true })
	return out, err
}

// PriceTier is one tier of a per-GB price: it applies to the GBs up to UpToGB
// (0: no limit) not covered by earlier tiers.
type PriceTier struct {
	UpToGB   float64
	USDPerGB float64
}

// PriceTable is a price list (GB = 2^30 bytes).
type PriceTable struct {
	StorageUSDPerGBMonth float64     // stored GB-month
	TransferInUSDPerGB   float64     // bytes pushed
	TransferOut          []PriceTier // bytes pulled, per month, in tier order (at most 8)
}

func priceTableFromC(p *C.ecr_price_table) PriceTable {
	t := PriceTable{StorageUSDPerGBMonth: float64(p.storage_usd_per_gb_month),
		TransferInUSDPerGB: float64(p.transfer_in_usd_per_gb)}
	for i := 0; i < int(p.transfer_out_tiers_count) && i < C.ECR_PRICE_TIERS_MAX; i++ {
		t.TransferOut = append(t.TransferOut, PriceTier{float64(p.transfer_out[i].up_to_gb),
			float64(p.transfer_out[i].usd_per_gb)})
	}
	return t
}

func (t PriceTable) toC() (C.ecr_price_table, error) {
	var c C.ecr_price_table
	if len(t.TransferOut) > C.ECR_PRICE_TIERS_MAX {
		return c, &Error{Code: EINVALID, Message: fmt.Sprintf("%d transfer-out tiers (at most %d)",
			len(t.TransferOut), C.ECR_PRICE_TIERS_MAX)}
	}
	c.version = C.ECR_PRICE_TABLE_VERSION
	c.storage_usd_per_gb_month = C.double(t.StorageUSDPerGBMonth)
	c.transfer_in_usd_per_gb = C.double(t.TransferInUSDPerGB)
	c.transfer_out_tiers_count = C.size_t(len(t.TransferOut))
	for i, tier := range t.TransferOut {
		c.transfer_out[i].up_to_gb, c.transfer_out[i].usd_per_gb = C.double(tier.UpToGB), C.double(tier.USDPerGB)
	}
	return c, nil
}

// DefaultPriceTable is Amazon ECR's list prices (us-east-1, private repositories).
func DefaultPriceTable() (PriceTable, error) {
	var c C.ecr_price_table
	if _, err := ecr_price_table_default(&c, C.ECR_PRICE_TABLE_VERSION); err != nil {
		return PriceTable{}, err
	}
	return priceTableFromC(&c), nil
}

// ParsePriceTable reads a price table from JSON ({"storageUsdPerGbMonth": 0.1,
// "transferInUsdPerGb": 0, "transferOut": [{"upToGb": 100, "usdPerGb": 0}, ...]});
// missing members keep the default's values.
func ParsePriceTable(json string) (PriceTable, error) {
	var c C.ecr_price_table
	cj := cstr(json)
	defer freeStr(cj)
	if _, err := ecr_price_table_parse(&c, cj, C.size_t(len(json))); err != nil {
		return PriceTable{}, err
	}
	return priceTableFromC(&c), nil
}

// Cost is a cost estimate, in US dollars.
type Cost struct {
	StorageUSD     float64 // StoredBytesUnique held for the months
	TransferInUSD  float64
	TransferOutUSD float64 // PulledBytes spread evenly over the months, tiers applied per month
	TotalUSD       float64
}

// Estimate is what u costs at prices over months (> 0) months.
func (u Usage) Estimate(prices PriceTable, months float64) (Cost, error) {
	cu, err := u.toC()
	if err != nil {
		return Cost{}, err
	}
	cp, err := prices.toC()
	if err != nil {
		return Cost{}, err
	}
	out := C.ecr_cost{version: C.ECR_COST_VERSION}
	if _, err := ecr_usage_estimate(&out, &cu, &cp, C.double(months)); err != nil {
		return Cost{}, err
	}
	return Cost{float64(out.storage_usd), float64(out.transfer_in_usd), float64(out.transfer_out_usd),
		float64(out.total_usd)}, nil
}
