package ecr

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

// A remote registry: the embedded server on a memory registry, opened over
// http:// from Go; a copy memory -> remote with progress; errors of a closed port.
func TestRemoteRegistry(t *testing.T) {
	backing, err := Open("memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer backing.Close()
	srv, err := NewServer(backing, ServerOptions{Flags: SERVER_NO_AUTH})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	remote, err := Open(fmt.Sprintf("http://127.0.0.1:%d", srv.Port()), &Options{TimeoutMs: 10000})
	if err != nil {
		t.Fatalf("open remote: %v", err)
	}
	defer remote.Close()
	dst, err := remote.CreateRepository("remote/app", nil)
	if err != nil {
		t.Fatalf("create over http: %v", err)
	}
	defer dst.Close()
	pushed := pushImage(t, dst, "pushed", []byte("pushed over http"))

	local, _ := Open("memory:", nil)
	defer local.Close()
	src, _ := local.CreateRepository("src", nil)
	defer src.Close()
	d := pushImage(t, src, "v1", []byte(strings.Repeat("copied layer ", 10000)))
	var events []CopyProgress
	got, err := CopyImage(dst, "copied", src, "v1", &CopyOptions{Progress: func(p CopyProgress) bool {
		events = append(events, p)
		return true
	}})
	if err != nil || got != d {
		t.Fatalf("copy: %s %v", got, err)
	}
	manifests, blobsDone := 0, 0
	for _, e := range events {
		switch e.Event {
		case COPY_MANIFEST_DONE:
			manifests++
		case COPY_BLOB_DONE, COPY_BLOB_SKIPPED, COPY_BLOB_MOUNTED:
			blobsDone++
		}
	}
	last := events[len(events)-1]
	if manifests != 1 || blobsDone != 2 || last.BlobsTotal != 2 || last.AllBytesDone != last.AllBytesTotal {
		t.Fatalf("progress: %d manifests, %d blobs, last %+v", manifests, blobsDone, last)
	}
	// A progress func that stops the copy.
	if _, err := CopyImage(dst, "stopped", src, "v1", &CopyOptions{Progress: func(CopyProgress) bool { return false }}); !errors.Is(err, ErrUser) {
		t.Fatalf("stopped copy: %v", err)
	}
	tags, err := dst.Tags()
	if err != nil || len(tags) != 2 || tags[0] != (Tag{"copied", d}) || tags[1] != (Tag{"pushed", pushed}) {
		t.Fatalf("remote tags %v %v", tags, err)
	}
	names, err := remote.Repositories("", 0)
	if err != nil || len(names) != 1 || names[0] != "remote/app" {
		t.Fatalf("remote repositories %v %v", names, err)
	}
	// The backing registry has what went over the wire (generated method).
	br, err := backing.Repository("remote/app")
	if err != nil {
		t.Fatal(err)
	}
	img, err := br.Image("copied")
	if err != nil || img.Digest() != d || img.TagCount() != 1 || img.Tag(0) != "copied" {
		t.Fatalf("backing image: %v", err)
	}
	img.Close()
	br.Close()
	// Maintenance of the registry host is not offered remotely.
	if _, err := remote.GC(0, true); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("remote gc: %v", err)
	}

	// A closed port: ErrNetwork.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_, err = Open(fmt.Sprintf("http://127.0.0.1:%d", port), &Options{TimeoutMs: 2000, RemoteFlags: REMOTE_NO_RETRY})
	var e *Error
	if !errors.Is(err, ErrNetwork) || !errors.As(err, &e) || e.Exception() == "" || e.Message == "" {
		t.Fatalf("closed port: %v", err)
	}
}

// Registry settings through the generated exported layer: templates,
// replication configuration, pull-through cache rules (skipped while the
// library answers ECR_ENOTSUPPORTED).
func TestGeneratedRegistryAPI(t *testing.T) {
	reg, _ := Open("memory:", nil)
	defer reg.Close()
	if err := reg.SetPolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Principal":` +
		`{"AWS":"arn:aws:iam::210987654321:root"},"Action":"ecr:ReplicateImage","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	if p, err := reg.Policy(); err != nil || !strings.Contains(p, "ReplicateImage") {
		t.Fatalf("policy %q %v", p, err)
	}
	if _, err := reg.DeletePolicy(); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Policy(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted policy: %v", err)
	}
	// Creation templates.
	{
		_, err := reg.PutCreationTemplate(`{"prefix":"prod","imageTagMutability":"IMMUTABLE","appliedFor":["REPLICATION"]}`, 1)
		if err != nil {
			t.Fatalf("template: %v", err)
		}
		if _, err := reg.PutCreationTemplate(`{"prefix":"prod","appliedFor":["REPLICATION"]}`, 1); !errors.Is(err, ErrTemplateExists) {
			t.Fatalf("template twice: %v", err)
		}
		list, err := reg.CreationTemplates(nil)
		if err != nil || !strings.Contains(list, `"prod"`) {
			t.Fatalf("templates %s %v", list, err)
		}
		repo, err := RepositoryCreateTemplated(reg, "prod/app", TEMPLATE_REPLICATION)
		if err != nil || repo.TagMutability() != TAG_IMMUTABLE {
			t.Fatalf("templated repository: %v", err)
		}
		repo.Close()
		if _, err := reg.DeleteCreationTemplate("prod"); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.DeleteCreationTemplate("prod"); !errors.Is(err, ErrTemplateNotFound) || !errors.Is(err, ErrNotFound) {
			t.Fatalf("template deleted twice: %v", err)
		}
	}
	// Replication configuration.
	conf := `{"rules":[{"destinations":[{"region":"eu-west-1","registryId":"123456789012"}]}]}`
	{
		err := reg.SetReplicationConfiguration(conf)
		if err != nil {
			t.Fatalf("replication configuration: %v", err)
		}
		got, err := reg.ReplicationConfiguration()
		if err != nil || !strings.Contains(got, "eu-west-1") {
			t.Fatalf("replication configuration %s %v", got, err)
		}
	}
	// Pull-through cache rules.
	rule := `{"ecrRepositoryPrefix":"hub","upstreamRegistryUrl":"http://127.0.0.1:1"}`
	{
		_, err := reg.PutPullThroughCacheRule(rule, 1)
		if err != nil {
			t.Fatalf("rule: %v", err)
		}
		if _, err := reg.PutPullThroughCacheRule(rule, 1); !errors.Is(err, ErrPullThroughRuleExists) {
			t.Fatalf("rule twice: %v", err)
		}
		rules, err := reg.PullThroughCacheRules(nil)
		if err != nil || !strings.Contains(rules, `"hub"`) {
			t.Fatalf("rules %s %v", rules, err)
		}
		if _, err := reg.PutPullThroughCacheRule(`{"ecrRepositoryPrefix":"ftpx","upstreamRegistryUrl":"ftp://h"}`, 1); !errors.Is(err, ErrUnsupportedUpstream) {
			t.Fatalf("ftp upstream: %v", err)
		}
		if _, err := reg.DeletePullThroughCacheRule("hub"); err != nil {
			t.Fatal(err)
		}
	}
}
