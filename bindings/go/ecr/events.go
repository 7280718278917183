package ecr

/*
#include <stdint.h>
#include <stdlib.h>
#include <ecr.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

func init() {
	for c, g := range map[string]any{
		"ecr_event_to_json":         (*Event).JSON,
		"ecr_webhooks_options_init": NewWebhooks,
		"ecr_webhooks_new":          NewWebhooks,
		"ecr_webhooks_stats":        (*Webhooks).Stats,
		"ecr_webhooks_event_cb":     Open, // through Options.Webhooks
		"ecr_server_add_metrics_cb": (*Server).AddMetricsFunc,
	} {
		handWrittenAPI[c] = g
	}
}

// Event is a registry event (as ECR sends them to EventBridge). Fields an
// event type does not use are left zero.
type Event struct {
	Type         EventType
	AccountID    string // the registry (replication: the destination)
	Region       string
	Repository   string
	Digest       string
	Tags         []string // the image's tags at the time (lifecycle, scan, delete)
	RulePriority uint32   // lifecycle events: the rule that acted
	TimeMs       int64
	Tag          string // PUSH: the tag pushed ("" by digest); DELETE: the tag removed
	Result       EventResult
	Reason       string // FAILURE: why

	// IMAGE_SCAN: the findings per severity.
	FindingsCritical, FindingsHigh, FindingsMedium, FindingsLow, FindingsInformational, FindingsUndefined uint32

	SourceAccountID, SourceRegion string // REPLICATION: the source registry
	UpstreamURL, RepositoryPrefix string // PULL_THROUGH_CACHE
}

// JSON is the EventBridge document ECR sends for the event (a random id each call).
func (e *Event) JSON() (string, error) {
	var strs []*C.char
	str := func(s string) *C.char {
		c := cstrOrNil(s)
		if c != nil {
			strs = append(strs, c)
		}
		return c
	}
	defer func() {
		for _, s := range strs {
			freeStr(s)
		}
	}()
	ce := C.ecr_event{version: C.ECR_EVENT_VERSION, _type: C.ecr_event_type(e.Type)}
	ce.account_id, ce.region, ce.repository, ce.digest = str(e.AccountID), str(e.Region), str(e.Repository), str(e.Digest)
	if len(e.Tags) > 0 {
		tags := (*[1 << 20]*C.char)(C.calloc(C.size_t(len(e.Tags)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:len(e.Tags):len(e.Tags)]
		defer C.free(unsafe.Pointer(&tags[0]))
		for i, t := range e.Tags {
			tags[i] = cstr(t)
			strs = append(strs, tags[i])
		}
		ce.tags, ce.tags_count = &tags[0], C.size_t(len(e.Tags))
	}
	ce.rule_priority, ce.time_ms = C.uint32_t(e.RulePriority), C.int64_t(e.TimeMs)
	ce.tag, ce.result, ce.reason = str(e.Tag), C.ecr_event_result(e.Result), str(e.Reason)
	ce.findings_critical, ce.findings_high = C.uint32_t(e.FindingsCritical), C.uint32_t(e.FindingsHigh)
	ce.findings_medium, ce.findings_low = C.uint32_t(e.FindingsMedium), C.uint32_t(e.FindingsLow)
	ce.findings_informational = C.uint32_t(e.FindingsInformational)
	ce.findings_undefined = C.uint32_t(e.FindingsUndefined)
	ce.source_account_id, ce.source_region = str(e.SourceAccountID), str(e.SourceRegion)
	ce.upstream_url, ce.repository_prefix = str(e.UpstreamURL), str(e.RepositoryPrefix)
	var b C.ecr_buf
	if _, err := ecr_event_to_json(&b, &ce); err != nil {
		C.ecr_buf_dispose(&b)
		return "", err
	}
	return takeBuf(&b), nil
}

// WebhooksOptions of NewWebhooks; zero fields take the library's defaults.
type WebhooksOptions struct {
	QueueCapacity    int    // deliveries waiting at most per endpoint; 0: 10000
	MaxAttempts      uint   // attempts per delivery, the first included; 0: 8
	TimeoutMs        uint32 // per request; 0: 10000
	BackoffInitialMs uint32 // first retry delay; 0: 500
	BackoffMaxMs     uint32 // cap of the retry delay; 0: 60000
}

// NewWebhooks creates a webhook sender (its delivery threads start with it).
// Add endpoints with Add, hand it to registries with Options.Webhooks, and
// Close it after closing those registries.
func NewWebhooks(o *WebhooksOptions) (*Webhooks, error) {
	var opts C.ecr_webhooks_options
	if _, err := ecr_webhooks_options_init(&opts, C.ECR_WEBHOOKS_OPTIONS_VERSION); err != nil {
		return nil, err
	}
	if o != nil {
		if o.QueueCapacity < 0 {
			return nil, &Error{Code: EINVALID, Message: fmt.Sprintf("queue capacity %d", o.QueueCapacity)}
		}
		opts.queue_capacity, opts.max_attempts = C.size_t(o.QueueCapacity), C.uint(o.MaxAttempts)
		opts.timeout_ms, opts.backoff_initial_ms = C.uint32_t(o.TimeoutMs), C.uint32_t(o.BackoffInitialMs)
		opts.backoff_max_ms = C.uint32_t(o.BackoffMaxMs)
	}
	var ptr *C.ecr_webhooks
	if _, err := ecr_webhooks_new(&ptr, &opts); err != nil {
		return nil, err
	}
	return wrapWebhooks(ptr, true), nil
}

// WebhookStats are a webhook sender's counters since NewWebhooks.
type WebhookStats struct {
	Queued    uint64 // deliveries queued (an event times the endpoints)
	Delivered uint64 // answered with 2xx
	Failed    uint64 // given up: attempts exhausted, or a final 4xx
	Dropped   uint64 // not queued: the queue was full
	Retries   uint64 // attempts after the first
	Pending   uint64 // in the queue now
}

// Stats reads the sender's counters.
func (wh *Webhooks) Stats() (WebhookStats, error) {
	defer runtime.KeepAlive(wh)
	s := C.ecr_webhook_stats{version: C.ECR_WEBHOOK_STATS_VERSION}
	if _, err := ecr_webhooks_stats(&s, wh.c()); err != nil {
		return WebhookStats{}, err
	}
	return WebhookStats{uint64(s.queued), uint64(s.delivered), uint64(s.failed), uint64(s.dropped),
		uint64(s.retries), uint64(s.pending)}, nil
}

// keeps is what a registry opened with o must keep alive.
func (o *Options) keeps() []any {
	if o != nil && o.Webhooks != nil {
		return []any{o.Webhooks}
	}
	return nil
}

//export ecrgoMetrics
func ecrgoMetrics(out *C.ecr_buf, payload unsafe.Pointer) (rc C.int) {
	defer func() {
		if recover() != nil {
			rc = C.ECR_EUSER
		}
	}()
	fn := cgo.Handle(uintptr(payload)).Value().(func() (string, error))
	text, err := fn()
	if err != nil {
		return C.ECR_EUSER
	}
	if text == "" {
		return 0
	}
	ct := C.CString(text)
	defer C.free(unsafe.Pointer(ct))
	return C.ecr_metrics_append(out, ct, C.size_t(len(text)))
}

// AddMetricsFunc adds lines to every `GET /metrics` scrape: fn returns complete
// families (# HELP, # TYPE, samples) in the Prometheus text format, appended
// after the server's own; an error fails the scrape (500). fn is called from
// server threads, possibly concurrently with itself. Set before the server
// starts: inside the setup function of NewServerWith.
func (s *Server) AddMetricsFunc(fn func() (string, error)) error {
	defer runtime.KeepAlive(s)
	h := cgo.NewHandle(fn)
	if _, err := call(func() C.int { return serverAddMetricsCb(s.c(), C.uintptr_t(h)) }); err != nil {
		h.Delete()
		return err
	}
	s.keep = append(s.keep, cbHandle(h))
	return nil
}

// NewServerWith is NewServer with setup called on the server before it starts
// (for what must be set first: SetMetrics, AddMetricsFunc, SetCache, ...).
func NewServerWith(reg *Registry, o ServerOptions, setup func(*Server) error) (*Server, error) {
	var opts C.ecr_server_options
	if _, err := ecr_server_options_init(&opts, C.ECR_SERVER_OPTIONS_VERSION); err != nil {
		return nil, err
	}
	addr := cstrOrNil(o.BindAddress)
	defer freeStr(addr)
	opts.bind_address = addr
	opts.port = C.uint16_t(o.Port)
	opts.flags = C.uint32_t(o.Flags)
	var srv *C.ecr_server
	if _, err := ecr_server_new(&srv, &opts); err != nil {
		return nil, err
	}
	s := wrapServer(srv, true, reg)
	if _, err := ecr_server_add_registry(srv, reg.ptr, nil); err != nil {
		s.Close()
		return nil, err
	}
	if setup != nil {
		if err := setup(s); err != nil {
			s.Close()
			return nil, err
		}
	}
	if _, err := ecr_server_start(srv); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
