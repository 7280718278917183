package ecr

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
)

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// pushImage pushes a one-layer OCI image made from bytes and returns its digest.
func pushImage(t testing.TB, repo *Repository, tag string, layer []byte) string {
	t.Helper()
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]}}`, digestOf(layer)))
	if err := repo.PutBlob(digestOf(config), config); err != nil {
		t.Fatalf("put config: %v", err)
	}
	up, err := repo.BeginUpload()
	if err != nil {
		t.Fatalf("begin upload: %v", err)
	}
	if _, err := io.Copy(up, bytes.NewReader(layer)); err != nil {
		t.Fatalf("write layer: %v", err)
	}
	if err := up.Commit(digestOf(layer)); err != nil {
		t.Fatalf("commit layer: %v", err)
	}
	up.Close()
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		digestOf(config), len(config), digestOf(layer), len(layer)))
	img, err := repo.PutImage(tag, manifest)
	if err != nil {
		t.Fatalf("put image: %v", err)
	}
	defer img.Close()
	if img.Digest() != digestOf(manifest) {
		t.Fatalf("digest %s, want %s", img.Digest(), digestOf(manifest))
	}
	return img.Digest()
}

func roundTrip(t *testing.T, url string) {
	reg, err := Open(url, &Options{AccountID: "111122223333", Region: "eu-west-1", NoSync: true})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	defer reg.Close()
	if reg.AccountID() != "111122223333" || reg.Region() != "eu-west-1" {
		t.Fatalf("account/region %s %s", reg.AccountID(), reg.Region())
	}
	repo, err := reg.CreateRepository("team/app", &RepositoryOptions{TagMutability: TAG_IMMUTABLE})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	defer repo.Close()
	if repo.ARN() != "arn:aws:ecr:eu-west-1:111122223333:repository/team/app" {
		t.Fatalf("arn %s", repo.ARN())
	}
	d := pushImage(t, repo, "v1", []byte("layer one"))
	if _, err := reg.CreateRepository("other", nil); err != nil {
		t.Fatal(err)
	}
	names, err := reg.Repositories("", 0)
	if err != nil || strings.Join(names, ",") != "other,team/app" {
		t.Fatalf("repositories %v %v", names, err)
	}
	imgs, err := repo.Images()
	if err != nil || len(imgs) != 1 || imgs[0].Digest != d || len(imgs[0].Tags) != 1 || imgs[0].Tags[0] != "v1" {
		t.Fatalf("images %+v %v", imgs, err)
	}
	if imgs[0].Size != uint64(len("layer one")) {
		t.Fatalf("size %d", imgs[0].Size)
	}
	img, err := repo.Image("v1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil || digestOf(m) != d || img.Describe().MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("manifest %v", err)
	}
	img.Close()
	tags, err := repo.Tags()
	if err != nil || len(tags) != 1 || tags[0] != (Tag{"v1", d}) {
		t.Fatalf("tags %v %v", tags, err)
	}
	// Blob reader.
	br, err := repo.OpenBlob(digestOf([]byte("layer one")), 6, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(br)
	br.Close()
	if err != nil || string(got) != "one" {
		t.Fatalf("blob read %q %v", got, err)
	}
	// Immutable tag.
	pushErr := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		ft := &fakeT{TB: t}
		pushImage(ft, repo, "v1", []byte("layer two"))
		return ft.err
	}()
	if pushErr == nil || !strings.Contains(pushErr.Error(), "ECR_EIMMUTABLE") {
		t.Fatalf("pushing over an immutable tag: %v", pushErr)
	}
	if err := repo.DeleteImage(d); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Image("v1"); !errors.Is(err, ErrImageNotFound) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted image: %v", err)
	}
	if err := reg.DeleteRepository("team/app", false); err != nil {
		t.Fatal(err)
	}
}

// fakeT turns Fatalf into a recorded error for the immutable-tag check.
type fakeT struct {
	testing.TB
	err error
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...interface{}) {
	f.err = fmt.Errorf(format, args...)
	panic(f.err)
}

func TestMemoryRegistry(t *testing.T) { roundTrip(t, "memory:") }

func TestFileRegistry(t *testing.T) { roundTrip(t, "file://"+t.TempDir()+"/data") }

func TestErrors(t *testing.T) {
	reg, err := Open("memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	_, err = reg.Repository("missing")
	var e *Error
	if !errors.As(err, &e) || e.Code != EREPOSITORY_NOT_FOUND || e.Name() != "ECR_EREPOSITORY_NOT_FOUND" ||
		e.Exception() != "RepositoryNotFoundException" || e.Message == "" {
		t.Fatalf("error %#v", err)
	}
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrRepositoryNotFound) || errors.Is(err, ErrImageNotFound) ||
		errors.Is(err, ErrExists) {
		t.Fatalf("errors.Is on %v", err)
	}
	if _, err := reg.CreateRepository("dup", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateRepository("dup", nil); !errors.Is(err, ErrExists) || !errors.Is(err, ErrRepositoryExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := reg.CreateRepository("Bad Name", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := Open("nosuchscheme:", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad url: %v", err)
	}
}

func TestPolicyEvaluation(t *testing.T) {
	p, err := ParsePolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":"*",`+
		`"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"*"},`+
		`{"Effect":"Deny","Principal":"*","Action":"ecr:DeleteRepository","Resource":"*"}]}`, POLICY_RESOURCE)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res := "arn:aws:ecr:us-east-1:123456789012:repository/app"
	for action, want := range map[string]PolicyDecision{"ecr:BatchGetImage": POLICY_ALLOW,
		"ecr:PutImage": POLICY_NOT_APPLICABLE, "ecr:DeleteRepository": POLICY_DENY} {
		d, err := p.Evaluate(PolicyRequest{PrincipalARN: "arn:aws:iam::111122223333:user/alice",
			PrincipalAccount: "111122223333", Action: action, Resource: res})
		if err != nil || d != want {
			t.Fatalf("%s: %v %v, want %v", action, d, err, want)
		}
	}
	if _, err := ParsePolicy(`{"Statement":"nope"}`, POLICY_RESOURCE); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad policy: %v", err)
	}
}

func TestLifecyclePreview(t *testing.T) {
	reg, _ := Open("memory:", nil)
	defer reg.Close()
	repo, err := reg.CreateRepository("lc", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	var digests []string
	for i := 0; i < 3; i++ {
		digests = append(digests, pushImage(t, repo, fmt.Sprintf("v%d", i), []byte(fmt.Sprintf("layer %d", i))))
	}
	policy := `{"rules":[{"rulePriority":1,"description":"keep the newest","selection":{"tagStatus":"any",` +
		`"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`
	res, err := repo.LifecyclePreview(policy)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("preview %+v", res)
	}
	expired := 0
	for _, r := range res {
		if r.Action == LIFECYCLE_EXPIRE {
			expired++
			if r.RulePriority != 1 {
				t.Fatalf("rule %d", r.RulePriority)
			}
		}
	}
	if expired != 2 {
		t.Fatalf("expired %d of %+v", expired, res)
	}
	// Nothing changed, and a callback can stop the preview.
	imgs, _ := repo.Images()
	if len(imgs) != 3 {
		t.Fatalf("images after preview %d", len(imgs))
	}
	calls := 0
	err = repo.LifecyclePreviewFunc(policy, func(ImageInfo, LifecycleAction, uint32) bool { calls++; return false })
	if calls != 1 || !errors.Is(err, ErrUser) {
		t.Fatalf("stopped preview: %d %v", calls, err)
	}
	if _, err := repo.LifecyclePreview(""); !errors.Is(err, ErrLifecyclePolicyMissing) {
		t.Fatalf("no policy: %v", err)
	}
	if _, err := repo.LifecyclePreview(`{"rules":[]}`); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad policy: %v", err)
	}
}

func TestServerWithSkopeo(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed")
	}
	reg, _ := Open("memory:", nil)
	defer reg.Close()
	repo, _ := reg.CreateRepository("served/app", nil)
	defer repo.Close()
	d := pushImage(t, repo, "latest", []byte("served layer"))
	srv, err := NewServer(reg, ServerOptions{Flags: SERVER_NO_AUTH})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.Port() == 0 {
		t.Fatal("no port")
	}
	out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "--raw",
		fmt.Sprintf("docker://127.0.0.1:%d/served/app:latest", srv.Port())).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo: %v\n%s", err, out)
	}
	if digestOf(out) != d {
		t.Fatalf("skopeo got another manifest: %s", out)
	}
	var m map[string]interface{}
	if json.Unmarshal(out, &m) != nil || m["schemaVersion"] != float64(2) {
		t.Fatalf("manifest %s", out)
	}
}

func TestSixteenGoroutines(t *testing.T) {
	reg, _ := Open("file://"+t.TempDir()+"/data", &Options{NoSync: true})
	defer reg.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			name := fmt.Sprintf("g%02d", g)
			repo, err := reg.CreateRepository(name, nil)
			if err != nil {
				errs <- err
				return
			}
			defer repo.Close()
			for i := 0; i < 5; i++ {
				pushImage(t, repo, fmt.Sprintf("t%d", i), []byte(fmt.Sprintf("%s layer %d", name, i)))
				// A failing call on every round: the error read must be this goroutine's.
				_, err := reg.Repository(fmt.Sprintf("missing-%s-%d", name, i))
				var e *Error
				if !errors.As(err, &e) || e.Code != EREPOSITORY_NOT_FOUND || !strings.Contains(e.Message, name) {
					errs <- fmt.Errorf("%s: wrong error %v", name, err)
					return
				}
			}
			imgs, err := repo.Images()
			if err != nil || len(imgs) != 5 {
				errs <- fmt.Errorf("%s: %d images %v", name, len(imgs), err)
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	names, _ := reg.Repositories("", 0)
	if len(names) != 16 {
		t.Fatalf("%d repositories", len(names))
	}
}

func exportedSymbols(t *testing.T) []string {
	lib := os.Getenv("LIBECR_LIBRARY")
	if lib == "" {
		t.Skip("LIBECR_LIBRARY not set")
	}
	out, err := exec.Command("nm", "-D", "--defined-only", lib).Output()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[1] == "T" {
			exported = append(exported, strings.SplitN(f[2], "@", 2)[0])
		}
	}
	return exported
}

// Every exported symbol of the library is wrapped by the generated layer.
func TestGeneratedLayerCoversExports(t *testing.T) {
	exported := exportedSymbols(t)
	have := map[string]bool{}
	for _, n := range exportedFunctions {
		have[n] = true
	}
	var missing []string
	for _, n := range exported {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 || len(exported) == 0 || len(exportedFunctions) != len(exported) {
		t.Fatalf("%d exported, %d generated; not generated: %v", len(exported), len(exportedFunctions), missing)
	}
}

// Every exported C function has a path Go users can call (a generated
// exported wrapper or a hand-written one), or is excluded with a reason.
func TestGoAPICoversExports(t *testing.T) {
	exported := exportedSymbols(t)
	var missing []string
	generated, hand := 0, 0
	for _, n := range exported {
		switch {
		case generatedAPI[n] != nil:
			generated++
		case handWrittenAPI[n] != nil:
			hand++
		case excludedAPI[n] != "":
		default:
			missing = append(missing, n)
		}
	}
	for n := range handWritten {
		if handWrittenAPI[n] == nil {
			t.Errorf("%s: listed as hand-written (gen_bindings.py) but absent from handWrittenAPI", n)
		}
	}
	for n := range handWrittenAPI {
		if _, ok := handWritten[n]; !ok {
			t.Errorf("%s: in handWrittenAPI but not in the generator's GO_HANDWRITTEN", n)
		}
	}
	sort.Strings(missing)
	t.Logf("%d exported: %d generated, %d hand-written, %d excluded (C-only): %v", len(exported), generated, hand,
		len(exported)-generated-hand-len(missing), excludedAPI)
	if len(missing) > 0 || len(notGenerated) > 0 {
		t.Fatalf("no Go path for %v (generator: %v)", missing, notGenerated)
	}
}

// Public registries: the generated calls and the hand-written PublicRegistriesForeach.
func TestPublicRegistries(t *testing.T) {
	url := "file://" + t.TempDir() + "/data"
	open := func(account, region string) *Registry {
		r, err := Open(url, &Options{AccountID: account, Region: region})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, priv := open("111111111111", "public"), open("222222222222", "public"), open("111111111111", "")
	defer a.Close()
	defer b.Close()
	defer priv.Close()
	if pub, err := a.IsPublic(); err != nil || !pub {
		t.Fatalf("IsPublic = %v, %v", pub, err)
	}
	if pub, err := priv.IsPublic(); err != nil || pub {
		t.Fatalf("private IsPublic = %v, %v", pub, err)
	}
	var seen []string
	if err := priv.PublicRegistriesForeach(func(acct, alias string) bool { seen = append(seen, alias); return true }); err != nil || len(seen) != 0 {
		t.Fatalf("before any alias: %v, %v", seen, err)
	}
	if err := PublicSetAlias(a, "zulu"); err != nil {
		t.Fatal(err)
	}
	if err := PublicSetAlias(b, "alpha"); err != nil {
		t.Fatal(err)
	}
	if err := PublicSetAlias(b, "zulu"); !errors.Is(err, ErrExists) {
		t.Fatalf("taken alias: %v", err)
	}
	if acct, err := PublicAliasLookup(priv, "alpha"); err != nil || acct != "222222222222" {
		t.Fatalf("lookup = %q, %v", acct, err)
	}
	if err := priv.PublicRegistriesForeach(func(acct, alias string) bool {
		seen = append(seen, alias+"="+acct)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ";") != "alpha=222222222222;zulu=111111111111" {
		t.Fatalf("listed %v", seen)
	}
	seen = nil
	if err := a.PublicRegistriesForeach(func(acct, alias string) bool { seen = append(seen, alias); return false }); err == nil || len(seen) != 1 {
		t.Fatalf("a stop: %v, %v", seen, err)
	}
}
