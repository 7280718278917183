// registry-tour: libecr from Go, end to end.
//
//	registry-tour LAYOUT_DIR [REGISTRY_URL]
//
// Embeds a registry (default "memory:"), pushes the OCI image layout
// LAYOUT_DIR into it as example/hello:latest (blobs streamed through upload
// sessions, children of an index first), lists the images, previews a
// lifecycle policy, then serves the registry over HTTP (the OCI Distribution
// API) and reads the tag list back. Public domain (CC0).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"libecr.dev/ecr/ecr"
)

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
}

type manifest struct {
	MediaType string       `json:"mediaType"`
	Config    *descriptor  `json:"config"`
	Layers    []descriptor `json:"layers"`
	Manifests []descriptor `json:"manifests"`
}

func blobPath(layout, digest string) (string, error) {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok || strings.ContainsAny(alg+hex, "/.") {
		return "", fmt.Errorf("unsafe digest %q", digest)
	}
	return filepath.Join(layout, "blobs", alg, hex), nil
}

func pushBlob(repo *ecr.Repository, layout, digest string) error {
	if _, err := repo.StatBlob(digest); err == nil {
		return nil
	} else if !errors.Is(err, ecr.ErrNotFound) {
		return err
	}
	p, err := blobPath(layout, digest)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	up, err := repo.BeginUpload()
	if err != nil {
		return err
	}
	defer up.Close()
	if _, err := io.Copy(up, f); err != nil { // Upload is an io.Writer
		return err
	}
	return up.Commit(digest)
}

func pushManifest(repo *ecr.Repository, layout string, d descriptor, tag string) (string, error) {
	p, err := blobPath(layout, d.Digest)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return "", err
	}
	for _, child := range m.Manifests {
		if _, err := pushManifest(repo, layout, child, ""); err != nil {
			return "", err
		}
	}
	if m.Config != nil {
		for _, b := range append([]descriptor{*m.Config}, m.Layers...) {
			if err := pushBlob(repo, layout, b.Digest); err != nil {
				return "", err
			}
		}
	}
	img, err := repo.PutImage(tag, data)
	if err != nil {
		return "", err
	}
	defer img.Close()
	return img.Digest(), nil
}

func run(layout, url string) error {
	fmt.Println("libecr", ecr.Version())
	reg, err := ecr.Open(url, nil)
	if err != nil {
		return err
	}
	defer reg.Close()
	repo, err := reg.CreateRepository("example/hello", nil)
	if errors.Is(err, ecr.ErrRepositoryExists) {
		repo, err = reg.Repository("example/hello")
	}
	if err != nil {
		return err
	}
	defer repo.Close()

	// 1. push the layout
	var index manifest
	raw, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &index); err != nil || len(index.Manifests) == 0 {
		return fmt.Errorf("bad index.json: %v", err)
	}
	digest, err := pushManifest(repo, layout, index.Manifests[0], "latest")
	if err != nil {
		return err
	}
	fmt.Println("pushed example/hello:latest", digest)

	// 2. list
	names, err := reg.Repositories("", 0)
	if err != nil {
		return err
	}
	fmt.Println("repositories", names)
	images, err := repo.Images()
	if err != nil {
		return err
	}
	for _, i := range images {
		fmt.Printf("image %s %s %d bytes tags=%v\n", i.Digest, i.MediaType, i.Size, i.Tags)
	}

	// 3. lifecycle preview
	policy := `{"rules":[{"rulePriority":1,"description":"keep only the newest image","selection":` +
		`{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`
	decisions, err := repo.LifecyclePreview(policy)
	if err != nil {
		return err
	}
	for _, d := range decisions {
		fmt.Printf("lifecycle preview: %s -> %s (rule %d)\n", d.Image.Digest, ecr.LifecycleActionNames[d.Action], d.RulePriority)
	}

	// 4. serve over HTTP
	srv, err := ecr.NewServer(reg, ecr.ServerOptions{Flags: ecr.SERVER_NO_AUTH})
	if err != nil {
		return err
	}
	defer srv.Close()
	base := fmt.Sprintf("http://127.0.0.1:%d", srv.Port())
	resp, err := http.Get(base + "/v2/example/hello/tags/list")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var tags struct {
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tags); err != nil {
		return err
	}
	fmt.Println("served on", base, "tags:", tags.Tags)
	if len(tags.Tags) != 1 || tags.Tags[0] != "latest" {
		return fmt.Errorf("unexpected tags %v", tags.Tags)
	}
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: registry-tour LAYOUT_DIR [REGISTRY_URL]")
		os.Exit(2)
	}
	url := "memory:"
	if len(os.Args) > 2 {
		url = os.Args[2]
	}
	if err := run(os.Args[1], url); err != nil {
		fmt.Fprintln(os.Stderr, "registry-tour:", err)
		os.Exit(1)
	}
}
