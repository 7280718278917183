package ecr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// observedImage pushes the one-layer image of pushImage and returns the sizes
// of its three blobs (config, layer, manifest) and its digests.
func observedImage(t *testing.T, repo *Repository, tag string, layer []byte) (sizes [3]int, layerDigest, digest string) {
	t.Helper()
	digest = pushImage(t, repo, tag, layer)
	img, err := repo.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]}}`, digestOf(layer))
	return [3]int{len(config), len(layer), len(m)}, digestOf(layer), digest
}

func TestUsageExactAndEstimate(t *testing.T) {
	reg, err := Open("file://"+t.TempDir()+"/data", &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	a, err := reg.CreateRepository("team/a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := reg.CreateRepository("team/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	layer := []byte(strings.Repeat("usage layer ", 1000))
	sa, _, _ := observedImage(t, a, "v1", layer)
	sb, _, _ := observedImage(t, b, "v1", layer) // the same blobs in a second repository
	total := uint64(sa[0] + sa[1] + sa[2])
	if sa != sb {
		t.Fatalf("same image, sizes %v %v", sa, sb)
	}
	ua, err := a.Usage(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ua.Repositories != 1 || ua.Images != 1 || ua.StoredBytes != total || ua.StoredBytesUnique != total {
		t.Fatalf("repository usage %+v, want %d bytes stored", ua, total)
	}
	u, err := reg.Usage(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if u.Repositories != 2 || u.Images != 2 || u.StoredBytes != 2*total || u.StoredBytesUnique != total {
		t.Fatalf("registry usage %+v, want %d stored, %d unique", u, 2*total, total)
	}
	// Both pushes received every blob: two PutBlob configs and two uploaded layers (uploads), two manifests.
	if u.PushedBytes != 2*total || u.ImagePushes != 2 || u.BlobUploads != 4 || u.PulledBytes != 0 ||
		u.ImagePulls != 0 || u.BlobDownloads != 0 {
		t.Fatalf("registry transfer %+v, want %d bytes pushed", u, 2*total)
	}
	br, err := a.OpenBlob(digestOf(layer), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, br); err != nil || n != int64(len(layer)) {
		t.Fatalf("read %d %v", n, err)
	}
	br.Close()
	now := reg.Now()
	uw, err := reg.Usage(now-3600*1000, now+1)
	if err != nil || uw.BlobDownloads != 1 || uw.PulledBytes != uint64(len(layer)) || uw.PushedBytes != 2*total ||
		uw.FromMs > now-3600*1000 || uw.FromMs%(86400*1000) != 0 || uw.ToMs <= now {
		t.Fatalf("usage of today %+v %v", uw, err)
	}
	if u, err = reg.Usage(0, 0); err != nil {
		t.Fatal(err)
	}
	if old, err := reg.Usage(86400*1000, 2*86400*1000); err != nil || old.PushedBytes != 0 || old.StoredBytes != 2*total {
		t.Fatalf("usage of 2 January 1970 %+v %v", old, err)
	}
	if ua, err = a.Usage(0, 0); err != nil || ua.BlobDownloads != 1 || ua.PushedBytes != total {
		t.Fatalf("repository usage after a read %+v %v", ua, err)
	}
	byRepo, err := reg.UsageByRepository(0, 0)
	if err != nil || len(byRepo) != 2 || byRepo["team/a"] != ua || byRepo["team/b"].StoredBytes != total {
		t.Fatalf("per repository %+v %v", byRepo, err)
	}
	var names []string
	err = reg.UsageForeach(0, 0, func(name string, _ Usage) bool { names = append(names, name); return false })
	if !errors.Is(err, ErrUser) || len(names) != 1 || names[0] != "team/a" {
		t.Fatalf("stopped foreach %v %v", names, err)
	}
	if err := UsageFlush(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Repository("gone"); !errors.Is(err, ErrRepositoryNotFound) {
		t.Fatal(err)
	}

	// Prices: the default table, a parsed one, and an estimate computed by hand.
	def, err := DefaultPriceTable()
	if err != nil {
		t.Fatal(err)
	}
	if def.StorageUSDPerGBMonth != 0.10 || def.TransferInUSDPerGB != 0 || len(def.TransferOut) < 2 ||
		def.TransferOut[0] != (PriceTier{100, 0}) || def.TransferOut[len(def.TransferOut)-1].UpToGB != 0 {
		t.Fatalf("default prices %+v", def)
	}
	p, err := ParsePriceTable(`{"storageUsdPerGbMonth":0.5,"transferOut":[{"upToGb":1,"usdPerGb":0},{"usdPerGb":2}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if p.StorageUSDPerGBMonth != 0.5 || p.TransferInUSDPerGB != def.TransferInUSDPerGB ||
		len(p.TransferOut) != 2 || p.TransferOut[1] != (PriceTier{0, 2}) {
		t.Fatalf("parsed prices %+v", p)
	}
	if _, err := ParsePriceTable(`{"storageUsdPerGbMonth":"cheap"}`); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad price table: %v", err)
	}
	const gb = 1 << 30
	c, err := Usage{StoredBytesUnique: 4 * gb, PulledBytes: 6 * gb}.Estimate(p, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Storage: 4 GB x 2 months x 0.5; transfer out: 3 GB a month, the first free, 2 GB x 2 USD, twice.
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	if !near(c.StorageUSD, 4) || !near(c.TransferOutUSD, 8) || !near(c.TransferInUSD, 0) || !near(c.TotalUSD, 12) {
		t.Fatalf("estimate %+v", c)
	}
	if c, err := u.Estimate(def, 1); err != nil || !near(c.StorageUSD, float64(total)/gb*0.10) {
		t.Fatalf("estimate of the registry %+v %v", c, err)
	}
	if _, err := u.Estimate(def, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("0 months: %v", err)
	}
	if _, err := u.Estimate(PriceTable{TransferOut: make([]PriceTier, 9)}, 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("9 tiers: %v", err)
	}
}

func TestFsckAndStats(t *testing.T) {
	dir := t.TempDir() + "/data"
	reg, err := Open("file://"+dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	repo, err := reg.CreateRepository("checked", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	sizes, layerDigest, _ := observedImage(t, repo, "v1", []byte(strings.Repeat("fsck layer ", 500)))
	doomed, _, doomedDigest := observedImage(t, repo, "old", []byte("a layer that GC removes"))

	var problems []FsckProblem
	st, err := reg.Fsck(nil, func(p FsckProblem) bool { problems = append(problems, p); return true })
	if err != nil || len(problems) != 0 || st.Errors != 0 || st.Registries != 1 || st.Repositories != 1 ||
		st.Images != 2 || st.Tags != 2 || st.BlobsChecked != 6 {
		t.Fatalf("clean fsck %+v %+v %v", st, problems, err)
	}
	hashed := uint64(sizes[0] + sizes[1] + sizes[2] + doomed[0] + doomed[1] + doomed[2])
	if st.BytesHashed != hashed {
		t.Fatalf("hashed %d, want %d", st.BytesHashed, hashed)
	}
	if st, err := reg.Fsck(&FsckOptions{NoHash: true}, nil); err != nil || st.BytesHashed != 0 || st.BlobsChecked != 6 {
		t.Fatalf("no-hash fsck %+v %v", st, err)
	}

	// Corrupt the layer's file (same size, other bytes): fsck finds it.
	hexd := strings.TrimPrefix(layerDigest, "sha256:")
	var path string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.Contains(filepath.Base(p), hexd) {
			path = p
		}
		return nil
	})
	if path == "" {
		t.Fatalf("no file for %s under %s", layerDigest, dir)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("FSCK LAYER ", 500)), 0o644); err != nil {
		t.Fatal(err)
	}
	problems = nil
	st, err = reg.Fsck(nil, func(p FsckProblem) bool { problems = append(problems, p); return true })
	if err != nil || st.Errors != 1 || len(problems) != 1 {
		t.Fatalf("fsck of a corrupt blob %+v %+v %v", st, problems, err)
	}
	if p := problems[0]; p.Kind != FSCK_BLOB_CORRUPT || p.Severity != FSCK_ERROR || p.Digest != layerDigest ||
		p.Repository != "checked" || !strings.Contains(p.Message, "hash to") {
		t.Fatalf("problem %+v", p)
	}
	calls := 0
	if _, err := reg.Fsck(nil, func(FsckProblem) bool { calls++; return false }); !errors.Is(err, ErrUser) || calls != 1 {
		t.Fatalf("stopped fsck %d %v", calls, err)
	}

	// Stats: nothing collected yet; then a GC of the deleted image.
	s0, err := reg.Stats()
	if err != nil || s0.GCRuns != 0 || s0.BlobStoreErrors != 0 || s0.MetaStoreErrors != 0 {
		t.Fatalf("stats before GC %+v %v", s0, err)
	}
	if err := repo.DeleteImage(doomedDigest); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // past a grace of 1 s
	gc, err := reg.GC(1, false)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := reg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s1.GCRuns != 1 || s1.GCFailures != 0 || s1.GCBlobsDeleted != gc.BlobsRemoved || s1.GCBytesFreed != gc.BytesRemoved ||
		gc.BlobsRemoved != 2 || gc.BytesRemoved != uint64(doomed[0]+doomed[1]) { // the manifest went with its image
		t.Fatalf("stats after GC %+v (GC %+v)", s1, gc)
	}
	if _, err := reg.GC(1, true); err != nil {
		t.Fatal(err)
	}
	if s2, _ := reg.Stats(); s2.GCRuns != 1 {
		t.Fatalf("a dry run counted: %+v", s2)
	}
}

func TestEventJSON(t *testing.T) {
	e := &Event{Type: EVENT_IMAGE_PUSH, AccountID: "111122223333", Region: "eu-west-1", Repository: "team/app",
		Digest: digestOf([]byte("m")), Tag: "v1", TimeMs: 1700000000000}
	text, err := e.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version, ID, Source, Account, Time, Region string
		DetailType                                 string   `json:"detail-type"`
		Resources                                  []string `json:"resources"`
		Detail                                     map[string]any
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("%v: %s", err, text)
	}
	if doc.Version != "0" || doc.Source != "aws.ecr" || doc.Account != "111122223333" || doc.Region != "eu-west-1" ||
		doc.DetailType != "ECR Image Action" || doc.Time != "2023-11-14T22:13:20Z" || len(doc.ID) != 36 ||
		len(doc.Resources) != 1 || doc.Resources[0] != "arn:aws:ecr:eu-west-1:111122223333:repository/team/app" {
		t.Fatalf("event %s", text)
	}
	if doc.Detail["action-type"] != "PUSH" || doc.Detail["image-tag"] != "v1" || doc.Detail["result"] != "SUCCESS" ||
		doc.Detail["repository-name"] != "team/app" || doc.Detail["image-digest"] != e.Digest {
		t.Fatalf("detail %v", doc.Detail)
	}
	scan := &Event{Type: EVENT_IMAGE_SCAN, AccountID: "111122223333", Region: "eu-west-1", Repository: "r",
		Digest: e.Digest, Tags: []string{"a", "b"}, FindingsCritical: 3, FindingsLow: 1}
	text, err = scan.JSON()
	if err != nil || !strings.Contains(text, `"CRITICAL":3`) || !strings.Contains(text, `"LOW":1`) ||
		strings.Contains(text, "HIGH") || !strings.Contains(text, `["a","b"]`) {
		t.Fatalf("scan event %s %v", text, err)
	}
	if _, err := (&Event{Type: EVENT_IMAGE_PUSH, Region: "eu-west-1"}).JSON(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no account: %v", err)
	}
}

func TestWebhooksDeliverSignedPush(t *testing.T) {
	const secret = "go-webhook-secret"
	type delivery struct {
		body []byte
		sig  string
		ct   string
	}
	got := make(chan delivery, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{body, r.Header.Get("X-Ecr-Signature"), r.Header.Get("Content-Type")}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	wh, err := NewWebhooks(&WebhooksOptions{TimeoutMs: 5000, BackoffInitialMs: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Add(recv.URL+"/hook", secret); err != nil {
		t.Fatal(err)
	}
	if err := wh.Add("ftp://nope", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ftp URL: %v", err)
	}
	reg, err := Open("file://"+t.TempDir()+"/data", &Options{NoSync: true, Webhooks: wh})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := reg.CreateRepository("hooked", nil)
	if err != nil {
		t.Fatal(err)
	}
	digest := pushImage(t, repo, "v7", []byte("webhook layer"))

	var d delivery
	select {
	case d = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook delivery in 20 s")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(d.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); d.sig != want {
		t.Fatalf("signature %q, want %q", d.sig, want)
	}
	if !strings.HasPrefix(d.ct, "application/json") {
		t.Fatalf("content type %q", d.ct)
	}
	var ev struct {
		DetailType string `json:"detail-type"`
		Account    string
		Detail     map[string]any
	}
	if err := json.Unmarshal(d.body, &ev); err != nil {
		t.Fatalf("%v: %s", err, d.body)
	}
	if ev.DetailType != "ECR Image Action" || ev.Account != reg.AccountID() || ev.Detail["action-type"] != "PUSH" ||
		ev.Detail["image-digest"] != digest || ev.Detail["image-tag"] != "v7" || ev.Detail["repository-name"] != "hooked" {
		t.Fatalf("event %s", d.body)
	}
	var st WebhookStats
	for i := 0; i < 200; i++ {
		if st, err = wh.Stats(); err != nil || st.Delivered == 1 {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil || st.Queued != 1 || st.Delivered != 1 || st.Failed != 0 || st.Dropped != 0 || st.Pending != 0 {
		t.Fatalf("webhook stats %+v %v", st, err)
	}
	if m, err := wh.Metrics(); err != nil || !strings.Contains(m, "ecr_webhook_delivered_total 1") {
		t.Fatalf("webhook metrics %q %v", m, err)
	}
	repo.Close()
	reg.Close()
	wh.Close()
	select {
	case extra := <-got:
		t.Fatalf("a second delivery: %s", extra.body)
	default:
	}
}

func TestServerMetricsFunc(t *testing.T) {
	reg, err := Open("memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	scrapes := 0
	srv, err := NewServerWith(reg, ServerOptions{Flags: SERVER_NO_AUTH}, func(s *Server) error {
		if err := s.SetMetrics(SERVER_METRICS_LOCAL); err != nil {
			return err
		}
		return s.AddMetricsFunc(func() (string, error) {
			scrapes++
			return fmt.Sprintf("# HELP gotest_scrapes_total Scrapes seen by the Go test.\n"+
				"# TYPE gotest_scrapes_total counter\ngotest_scrapes_total %d\n", scrapes), nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func() (int, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", srv.Port()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get()
	if code != 200 || !strings.Contains(body, "\n# TYPE gotest_scrapes_total counter\ngotest_scrapes_total 1\n") {
		t.Fatalf("metrics %d:\n%s", code, body)
	}
	if code, body = get(); code != 200 || !strings.Contains(body, "gotest_scrapes_total 2\n") {
		t.Fatalf("second scrape %d:\n%s", code, body)
	}
	if m, err := srv.Metrics(); err != nil || !strings.Contains(m, "gotest_scrapes_total 3\n") {
		t.Fatalf("Metrics() %v:\n%s", err, m)
	}
	// Set after start: refused.
	if err := srv.AddMetricsFunc(func() (string, error) { return "", nil }); !errors.Is(err, ErrBusy) {
		t.Fatalf("after start: %v", err)
	}

	// A failing function fails the scrape.
	bad, err := NewServerWith(reg, ServerOptions{Flags: SERVER_NO_AUTH}, func(s *Server) error {
		return s.AddMetricsFunc(func() (string, error) { return "", errors.New("no numbers today") })
	})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", bad.Port()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("failing metrics func: %d", resp.StatusCode)
	}
}
