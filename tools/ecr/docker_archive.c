/*
 * ecr CLI: the docker-archive: transport, a `docker save` tarball (manifest.json with Config, RepoTags and
 * Layers; the config JSON; the layer tars).
 *
 * As a source it is read-only: the tar is indexed once (member name -> offset and size; a small ustar reader
 * with GNU long names and pax paths, every size and count bounded), and the image's manifest is synthesized as
 * Docker schema2, as skopeo does: the config blob and the layers, each with the sha256 of the member's bytes
 * and its size, media type ...diff.tar.gzip for a gzip member and ...diff.tar otherwise. Blobs are read straight
 * from the members.
 *
 * As a destination it collects the blobs of one image in a temporary folder beside the file and writes the
 * tarball at cli_docker_archive_finish() (layers as they are, "<hex>.tar"; the config "<hex>.json"; manifest.json
 * with RepoTags from the reference), into a temporary file renamed over FILE.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MAX_MEMBERS 100000
#define MAX_NAME 4096
#define MAX_PAX (1u << 20)
#define MAX_META (16u << 20) /* manifest.json, config */
#define MAX_LAYERS 1000
#define MANIFEST_MAX (4u << 20)

/* --- a bounded ustar reader --- */

typedef struct member {
	char *name;
	uint64_t offset, size;
} member;

static int parse_octal(uint64_t *out, const unsigned char *f, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;
	if (f[0] & 0x80) { /* base-256 */
		if (f[0] != 0x80)
			return -1;
		for (i = 1; i < n; i++) {
			if (v >> 56)
				return -1;
			v = (v << 8) | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < n && (f[i] == ' ' || f[i] == '0'))
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	*out = v;
	return 0;
}

static int read_exact(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;
	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static char *clean_name(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (name[0] == '/')
		name++;
	return strdup(name);
}

/* Index the regular files of a tar. */
static int tar_index(member **out, size_t *count_out, int fd, const char *file)
{
	struct stat st;
	unsigned char h[512];
	uint64_t off = 0;
	member *m = NULL;
	size_t n = 0, cap = 0;
	char *longname = NULL;
	int rc = 0;

	*out = NULL;
	*count_out = 0;
	if (fstat(fd, &st) < 0)
		return cli_fail_os(ECR_EIO, errno, "cannot stat %s", file);
	for (;;) {
		uint64_t size, data;
		if (off + 512 > (uint64_t)st.st_size) {
			rc = cli_fail(ECR_EINVALID, "%s: the tar ends without its end marker", file);
			break;
		}
		if (read_exact(fd, h, 512, off)) {
			rc = cli_fail_os(ECR_EIO, errno, "cannot read %s", file);
			break;
		}
		bool zero = true;
		for (int i = 0; i < 512 && zero; i++)
			zero = h[i] == 0;
		if (zero)
			break;
		unsigned sum = 0, want;
		uint64_t hs;
		for (int i = 0; i < 512; i++)
			sum += (i >= 148 && i < 156) ? ' ' : h[i];
		if (parse_octal(&hs, h + 148, 8) || (want = (unsigned)hs) != sum) {
			rc = cli_fail(ECR_EINVALID, "%s: bad tar header checksum at offset %llu", file,
				(unsigned long long)off);
			break;
		}
		if (parse_octal(&size, h + 124, 12) || size > (uint64_t)st.st_size) {
			rc = cli_fail(ECR_EINVALID, "%s: bad member size at offset %llu", file, (unsigned long long)off);
			break;
		}
		data = off + 512;
		if (size > (uint64_t)st.st_size - data) {
			rc = cli_fail(ECR_EINVALID, "%s: a member goes past the end of the file", file);
			break;
		}
		char type = (char)h[156];
		if (type == 'L' || type == 'x') {
			if (size > (type == 'L' ? MAX_NAME : MAX_PAX)) {
				rc = cli_fail(ECR_ELIMIT, "%s: a long name or pax header is too large", file);
				break;
			}
			char *text = malloc((size_t)size + 1);
			if (!text || read_exact(fd, text, (size_t)size, data)) {
				free(text);
				rc = text ? cli_fail(ECR_EIO, "cannot read %s", file) : cli_fail(ECR_ENOMEM, "out of memory");
				break;
			}
			text[size] = '\0';
			if (type == 'L') {
				free(longname);
				longname = text;
			} else {
				/* records "LEN key=value\n": keep path */
				size_t p = 0;
				while (p < size) {
					char *end;
					unsigned long len = strtoul(text + p, &end, 10);
					if (len == 0 || len > size - p || *end != ' ')
						break;
					char *kv = end + 1, *rec_end = text + p + len;
					if (rec_end > kv && rec_end[-1] == '\n' && !strncmp(kv, "path=", 5)) {
						free(longname);
						longname = strndup(kv + 5, (size_t)(rec_end - 1 - (kv + 5)));
					}
					p += len;
				}
				free(text);
			}
		} else if (type == '0' || type == '\0' || type == '7') {
			char name[512];
			if (longname) {
				snprintf(name, sizeof(name), "%s", longname);
			} else if (!memcmp(h + 257, "ustar", 5) && h[345]) {
				snprintf(name, sizeof(name), "%.155s/%.100s", (const char *)h + 345, (const char *)h);
			} else {
				snprintf(name, sizeof(name), "%.100s", (const char *)h);
			}
			free(longname);
			longname = NULL;
			if (n == MAX_MEMBERS) {
				rc = cli_fail(ECR_ELIMIT, "%s: more than %d members", file, MAX_MEMBERS);
				break;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 32;
				member *nm = realloc(m, cap * sizeof(*m));
				if (!nm) {
					rc = cli_fail(ECR_ENOMEM, "out of memory");
					break;
				}
				m = nm;
			}
			if (!(m[n].name = clean_name(name))) {
				rc = cli_fail(ECR_ENOMEM, "out of memory");
				break;
			}
			m[n].offset = data;
			m[n].size = size;
			n++;
		} else {
			free(longname);
			longname = NULL;
		}
		off = data + ((size + 511) & ~(uint64_t)511);
	}
	free(longname);
	if (rc) {
		for (size_t i = 0; i < n; i++)
			free(m[i].name);
		free(m);
		return rc;
	}
	*out = m;
	*count_out = n;
	return 0;
}

/* --- the source transport --- */

typedef struct blob_ref {
	char digest[80];
	uint64_t offset, size;
} blob_ref;

typedef struct da_src {
	ecr_transport base;
	char *file;
	int fd;
	char *manifest;
	size_t manifest_len;
	char digest[80];
	char *tag;
	blob_ref *blobs;
	size_t nblobs;
} da_src;

static const blob_ref *src_blob(const da_src *s, const char *digest)
{
	for (size_t i = 0; i < s->nblobs; i++)
		if (!strcmp(s->blobs[i].digest, digest))
			return &s->blobs[i];
	return NULL;
}

static int s_info(uint32_t *features_out, ecr_buf *account_id_out, ecr_buf *region_out, ecr_buf *host_out,
	ecr_transport *t)
{
	(void)account_id_out;
	(void)region_out;
	(void)t;
	*features_out = ECR_TRANSPORT_HAS_OCI;
	return cli_buf_set(host_out, "docker-archive", 14);
}

static int s_call(ecr_buf *response, ecr_transport *t, const char *operation, const char *request, size_t len)
{
	(void)response;
	(void)request;
	(void)len;
	return cli_fail(ECR_ENOTSUPPORTED, "%s is not available on the docker archive %s", operation,
		((da_src *)t)->file);
}

static int s_match(const da_src *s, const char *reference)
{
	if (cli_is_digest_ref(reference) ? !strcmp(reference, s->digest) : !strcmp(reference, s->tag))
		return 0;
	return cli_fail(ECR_EIMAGE_NOT_FOUND, "no image %s in the docker archive %s", reference, s->file);
}

static int s_manifest_get(ecr_buf *body, ecr_buf *media_type, ecr_buf *digest, ecr_transport *t,
	const char *repository, const char *reference)
{
	da_src *s = (da_src *)t;
	int rc;
	(void)repository;
	if ((rc = s_match(s, reference)) || (rc = cli_buf_set(body, s->manifest, s->manifest_len)) ||
		(rc = cli_buf_set(media_type, MT_DOCKER_MANIFEST, strlen(MT_DOCKER_MANIFEST))))
		return rc;
	return cli_buf_set(digest, s->digest, strlen(s->digest));
}

static int s_manifest_head(ecr_buf *media_type, ecr_buf *digest, uint64_t *size_out, ecr_transport *t,
	const char *repository, const char *reference)
{
	da_src *s = (da_src *)t;
	int rc;
	(void)repository;
	if ((rc = s_match(s, reference)) || (rc = cli_buf_set(media_type, MT_DOCKER_MANIFEST, strlen(MT_DOCKER_MANIFEST))))
		return rc;
	*size_out = s->manifest_len;
	return cli_buf_set(digest, s->digest, strlen(s->digest));
}

static int read_only(ecr_transport *t)
{
	return cli_fail(ECR_ENOTSUPPORTED, "the docker archive %s is read-only here (a source)", ((da_src *)t)->file);
}

static int s_manifest_put(ecr_buf *digest_out, ecr_transport *t, const char *repository, const char *reference,
	const char *media_type, const void *body, size_t len)
{
	(void)digest_out, (void)repository, (void)reference, (void)media_type, (void)body, (void)len;
	return read_only(t);
}

static int s_manifest_delete(ecr_transport *t, const char *repository, const char *reference)
{
	(void)repository, (void)reference;
	return read_only(t);
}

static int s_blob_stat(uint64_t *size_out, ecr_transport *t, const char *repository, const char *digest)
{
	const blob_ref *b = src_blob((da_src *)t, digest);
	(void)repository;
	if (!b)
		return cli_fail(ECR_ENOTFOUND, "no blob %s in the docker archive", digest);
	*size_out = b->size;
	return 0;
}

static int s_blob_open(ecr_transport_stream **out, uint64_t *size_out, ecr_transport *t, const char *repository,
	const char *digest, uint64_t offset, uint64_t length)
{
	da_src *s = (da_src *)t;
	const blob_ref *b = src_blob(s, digest);
	int rc;
	(void)repository;
	*out = NULL;
	if (!b)
		return cli_fail(ECR_ENOTFOUND, "no blob %s in the docker archive %s", digest, s->file);
	if (offset > b->size || (length && length > b->size - offset))
		return cli_fail(ECR_ERANGE, "range outside the blob %s", digest);
	if ((rc = cli_range_stream_new(out, s->fd, false, "the archive", b->offset + offset,
		     length ? b->offset + offset + length : b->offset + b->size)))
		return rc;
	*size_out = b->size;
	return 0;
}

static int s_blob_put(ecr_transport *t, const char *repository, const char *digest, const void *data, size_t len)
{
	(void)repository, (void)digest, (void)data, (void)len;
	return read_only(t);
}

static int s_blob_mount(ecr_transport *t, const char *repository, const char *from, const char *digest)
{
	(void)t, (void)repository, (void)from;
	return cli_fail(ECR_ENOTFOUND, "no mount in a docker archive (%s)", digest);
}

static int s_blob_delete(ecr_transport *t, const char *repository, const char *digest)
{
	(void)repository, (void)digest;
	return read_only(t);
}

static int s_upload_begin(ecr_buf *session_out, ecr_transport *t, const char *repository)
{
	(void)session_out, (void)repository;
	return read_only(t);
}

static int s_upload_status(uint64_t *size_out, ecr_transport *t, const char *repository, const char *session)
{
	(void)size_out, (void)t, (void)repository;
	return cli_fail(ECR_EUPLOAD, "unknown upload session %s", session);
}

static int s_upload_write(ecr_buf *session, ecr_transport *t, const char *repository, uint64_t offset,
	const void *data, size_t len)
{
	(void)session, (void)repository, (void)offset, (void)data, (void)len;
	return read_only(t);
}

static int s_upload_commit(ecr_transport *t, const char *repository, const char *session, const char *digest)
{
	(void)repository, (void)session, (void)digest;
	return read_only(t);
}

static int s_upload_cancel(ecr_transport *t, const char *repository, const char *session)
{
	(void)t, (void)repository;
	return cli_fail(ECR_EUPLOAD, "unknown upload session %s", session);
}

static int tags_json(ecr_buf *json_out, int *more_out, const char *repository, const char *tag, const char *last)
{
	const char *tags[1] = { tag };
	return cli_tags_json(json_out, more_out, repository, tags, tag ? 1 : 0, last, 0);
}

static int s_tags_list(ecr_buf *json_out, int *more_out, ecr_transport *t, const char *repository, const char *last,
	unsigned int n)
{
	(void)n;
	return tags_json(json_out, more_out, repository, ((da_src *)t)->tag, last);
}

static int s_referrers(ecr_buf *index_out, ecr_transport *t, const char *repository, const char *digest,
	const char *artifact_type)
{
	(void)t, (void)repository, (void)digest, (void)artifact_type;
	static const char empty[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}";
	return cli_buf_set(index_out, empty, sizeof(empty) - 1);
}

static void s_free(ecr_transport *t)
{
	da_src *s = (da_src *)t;
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->file);
	free(s->manifest);
	free(s->tag);
	free(s->blobs);
	free(s);
}

static const member *find_member(const member *m, size_t n, const char *name)
{
	char *clean = clean_name(name);
	const member *found = NULL;
	for (size_t i = 0; clean && i < n; i++)
		if (!strcmp(m[i].name, clean))
			found = &m[i];
	free(clean);
	return found;
}

/* The tag part of "name:tag" (after the last '/'), or NULL. */
static const char *ref_tag(const char *ref)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');
	return colon ? colon + 1 : NULL;
}

/* "skopeo/app:v2" names "docker.io/skopeo/app:v2" too, "app:v2" "docker.io/library/app:v2" (docker's normalisation). */
static bool repo_tag_matches(const char *entry, const char *ref)
{
	static const char *const prefixes[] = { "", "docker.io/", "docker.io/library/" };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		if (strlen(entry) >= n && memcmp(entry, prefixes[i], n) == 0 && strcmp(entry + n, ref) == 0)
			return true;
	}
	return false;
}

static int add_blob(da_src *s, const member *m, const char *what)
{
	blob_ref *b = &s->blobs[s->nblobs];
	int rc = cli_digest_fd(b->digest, s->fd, m->offset, m->size, "sha256");
	if (rc)
		return cli_fail(rc, "%s: cannot read %s %s", s->file, what, m->name);
	b->offset = m->offset;
	b->size = m->size;
	s->nblobs++;
	return 0;
}

int cli_docker_archive_source_new(ecr_transport **out, char *digest_out, size_t dn, const char *file, const char *ref)
{
	da_src *s = NULL;
	member *m = NULL;
	size_t nm = 0;
	char *text = NULL;
	yajl_val doc = NULL;
	yajl_gen g = NULL;
	int rc = 0;

	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))) || !(s->file = strdup(file))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	s->fd = -1;
	if ((s->fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = cli_fail_os(ECR_EREPOSITORY_NOT_FOUND, errno, "cannot open the docker archive %s", file);
		goto done;
	}
	if ((rc = tar_index(&m, &nm, s->fd, file)))
		goto done;
	const member *mj = find_member(m, nm, "manifest.json");
	if (!mj) {
		rc = cli_fail(ECR_EINVALID, "%s is no docker archive: it has no manifest.json", file);
		goto done;
	}
	if (mj->size > MAX_META) {
		rc = cli_fail(ECR_ELIMIT, "%s: manifest.json is too large", file);
		goto done;
	}
	if (!(text = malloc((size_t)mj->size + 1)) || read_exact(s->fd, text, (size_t)mj->size, mj->offset)) {
		rc = text ? cli_fail(ECR_EIO, "cannot read %s", file) : cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	text[mj->size] = '\0';
	if (!(doc = cli_json_parse(text, "manifest.json"))) {
		rc = ECR_EINVALID;
		goto done;
	}
	if (!YAJL_IS_ARRAY(doc) || doc->u.array.len == 0) {
		rc = cli_fail(ECR_EINVALID, "%s: manifest.json lists no image", file);
		goto done;
	}
	/* pick the image */
	yajl_val img = NULL;
	const char *tag = NULL;
	if (!ref || !*ref) {
		if (doc->u.array.len != 1) {
			rc = cli_fail(ECR_EINVALID, "%s holds %zu images: name one (docker-archive:%s:NAME:TAG or :@N)", file,
				doc->u.array.len, file);
			goto done;
		}
		img = doc->u.array.values[0];
	} else if (ref[0] == '@') {
		char *end;
		unsigned long i = strtoul(ref + 1, &end, 10);
		if (*end || end == ref + 1 || i >= doc->u.array.len) {
			rc = cli_fail(ECR_EIMAGE_NOT_FOUND, "%s: no image %s", file, ref);
			goto done;
		}
		img = doc->u.array.values[i];
	} else {
		for (size_t i = 0; i < doc->u.array.len && !img; i++) {
			yajl_val tags = cli_json_get(doc->u.array.values[i], "RepoTags");
			for (size_t k = 0; YAJL_IS_ARRAY(tags) && k < tags->u.array.len; k++) {
				yajl_val v = tags->u.array.values[k];
				if (YAJL_IS_STRING(v) && repo_tag_matches(v->u.string, ref)) {
					img = doc->u.array.values[i];
					break;
				}
			}
		}
		if (!img) {
			rc = cli_fail(ECR_EIMAGE_NOT_FOUND, "%s: no image tagged %s", file, ref);
			goto done;
		}
		tag = ref_tag(ref);
	}
	if (!tag) {
		yajl_val tags = cli_json_get(img, "RepoTags");
		if (YAJL_IS_ARRAY(tags) && tags->u.array.len && YAJL_IS_STRING(tags->u.array.values[0]))
			tag = ref_tag(tags->u.array.values[0]->u.string);
	}
	if (!(s->tag = strdup(tag ? tag : "latest"))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	const char *config = cli_json_str(img, "Config");
	yajl_val layers = cli_json_get(img, "Layers");
	if (!config || !YAJL_IS_ARRAY(layers) || layers->u.array.len > MAX_LAYERS) {
		rc = cli_fail(ECR_EINVALID, "%s: manifest.json has no Config and Layers (at most %d)", file, MAX_LAYERS);
		goto done;
	}
	if (!(s->blobs = calloc(layers->u.array.len + 1, sizeof(*s->blobs)))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	const member *cm = find_member(m, nm, config);
	if (!cm) {
		rc = cli_fail(ECR_EINVALID, "%s: the config %s is not in the archive", file, config);
		goto done;
	}
	if ((rc = add_blob(s, cm, "the config")))
		goto done;
	g = cli_gen_new(false);
	if (!g) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	yajl_gen_map_open(g);
	cli_gen_ki(g, "schemaVersion", 2);
	cli_gen_kv(g, "mediaType", MT_DOCKER_MANIFEST);
	cli_gen_str(g, "config");
	yajl_gen_map_open(g);
	cli_gen_kv(g, "mediaType", MT_DOCKER_CONFIG);
	cli_gen_ki(g, "size", (long long)s->blobs[0].size);
	cli_gen_kv(g, "digest", s->blobs[0].digest);
	yajl_gen_map_close(g);
	cli_gen_str(g, "layers");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < layers->u.array.len; i++) {
		yajl_val l = layers->u.array.values[i];
		const member *lm = YAJL_IS_STRING(l) ? find_member(m, nm, l->u.string) : NULL;
		unsigned char magic[2] = { 0, 0 };
		if (!lm) {
			rc = cli_fail(ECR_EINVALID, "%s: layer %zu is not in the archive", file, i);
			goto done;
		}
		if (lm->size >= 2)
			(void)read_exact(s->fd, magic, 2, lm->offset);
		if ((rc = add_blob(s, lm, "the layer")))
			goto done;
		const blob_ref *b = &s->blobs[s->nblobs - 1];
		yajl_gen_map_open(g);
		cli_gen_kv(g, "mediaType", magic[0] == 0x1f && magic[1] == 0x8b ? MT_DOCKER_LAYER_GZIP : MT_DOCKER_LAYER);
		cli_gen_ki(g, "size", (long long)b->size);
		cli_gen_kv(g, "digest", b->digest);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	if (!(s->manifest = cli_gen_take(g, &s->manifest_len))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = cli_sha256(s->digest, s->manifest, s->manifest_len)))
		goto done;
	snprintf(digest_out, dn, "%s", s->digest);
	s->base.version = ECR_TRANSPORT_VERSION;
	s->base.info = s_info;
	s->base.call = s_call;
	s->base.manifest_get = s_manifest_get;
	s->base.manifest_head = s_manifest_head;
	s->base.manifest_put = s_manifest_put;
	s->base.manifest_delete = s_manifest_delete;
	s->base.blob_stat = s_blob_stat;
	s->base.blob_open = s_blob_open;
	s->base.blob_put = s_blob_put;
	s->base.blob_mount = s_blob_mount;
	s->base.blob_delete = s_blob_delete;
	s->base.upload_begin = s_upload_begin;
	s->base.upload_status = s_upload_status;
	s->base.upload_write = s_upload_write;
	s->base.upload_commit = s_upload_commit;
	s->base.upload_cancel = s_upload_cancel;
	s->base.tags_list = s_tags_list;
	s->base.referrers = s_referrers;
	s->base.free = s_free;
	*out = &s->base;
	s = NULL;
done:
	if (g)
		yajl_gen_free(g);
	yajl_tree_free(doc);
	free(text);
	for (size_t i = 0; i < nm; i++)
		free(m[i].name);
	free(m);
	s_free(s ? &s->base : NULL);
	return rc;
}

/* --- the destination transport --- */

typedef struct da_dst {
	ecr_transport base;
	char *file;
	char *ref; /* RepoTags entry, or NULL */
	char *tmpdir;
	pthread_mutex_t mu;
	char *manifest;
	size_t manifest_len;
	char digest[80];
	char *media_type;
} da_dst;

static int d_blob_path(char *out, size_t n, const da_dst *d, const char *digest)
{
	if (!cli_digest_valid(digest))
		return cli_fail(ECR_EINVALID, "malformed digest %s", digest);
	const char *colon = strchr(digest, ':');
	if ((size_t)snprintf(out, n, "%s/%.*s-%s", d->tmpdir, (int)(colon - digest), digest, colon + 1) >= n)
		return cli_fail(ECR_EINVALID, "path too long");
	return 0;
}

static int d_info(uint32_t *features_out, ecr_buf *account_id_out, ecr_buf *region_out, ecr_buf *host_out,
	ecr_transport *t)
{
	(void)account_id_out, (void)region_out, (void)t;
	*features_out = ECR_TRANSPORT_HAS_OCI;
	return cli_buf_set(host_out, "docker-archive", 14);
}

static int d_call(ecr_buf *response, ecr_transport *t, const char *operation, const char *request, size_t len)
{
	(void)response, (void)request, (void)len;
	return cli_fail(ECR_ENOTSUPPORTED, "%s is not available on the docker archive %s", operation,
		((da_dst *)t)->file);
}

static int d_match(da_dst *d, const char *reference)
{
	if (d->manifest && (!cli_is_digest_ref(reference) || !strcmp(reference, d->digest)))
		return 0;
	return cli_fail(ECR_EIMAGE_NOT_FOUND, "no image %s in the docker archive being written", reference);
}

static int d_manifest_get(ecr_buf *body, ecr_buf *media_type, ecr_buf *digest, ecr_transport *t,
	const char *repository, const char *reference)
{
	da_dst *d = (da_dst *)t;
	int rc;
	(void)repository;
	pthread_mutex_lock(&d->mu);
	if (!(rc = d_match(d, reference)) && !(rc = cli_buf_set(body, d->manifest, d->manifest_len)) &&
		!(rc = cli_buf_set(media_type, d->media_type, strlen(d->media_type))))
		rc = cli_buf_set(digest, d->digest, strlen(d->digest));
	pthread_mutex_unlock(&d->mu);
	return rc;
}

static int d_manifest_head(ecr_buf *media_type, ecr_buf *digest, uint64_t *size_out, ecr_transport *t,
	const char *repository, const char *reference)
{
	da_dst *d = (da_dst *)t;
	int rc;
	(void)repository;
	pthread_mutex_lock(&d->mu);
	if (!(rc = d_match(d, reference)) && !(rc = cli_buf_set(media_type, d->media_type, strlen(d->media_type)))) {
		*size_out = d->manifest_len;
		rc = cli_buf_set(digest, d->digest, strlen(d->digest));
	}
	pthread_mutex_unlock(&d->mu);
	return rc;
}

static int d_manifest_put(ecr_buf *digest_out, ecr_transport *t, const char *repository, const char *reference,
	const char *media_type, const void *body, size_t len)
{
	da_dst *d = (da_dst *)t;
	char digest[80], *text, *mt = NULL;
	yajl_val v;
	int rc = 0;
	(void)repository, (void)reference;

	if (len > MANIFEST_MAX)
		return cli_fail(ECR_ELIMIT, "manifest too large");
	if ((rc = cli_sha256(digest, body, len)))
		return rc;
	if (!(text = malloc(len + 1)))
		return cli_fail(ECR_ENOMEM, "out of memory");
	memcpy(text, body, len);
	text[len] = '\0';
	v = yajl_tree_parse(text, NULL, 0);
	if (cli_json_get(v, "manifests")) {
		rc = cli_fail(ECR_EUNSUPPORTED,
			"a docker archive holds a single image, not an image index: choose one with --platform");
	} else if (cli_json_get(v, "subject")) {
		rc = 0; /* a referrer: a docker archive cannot hold it; skipped */
		free(text);
		yajl_tree_free(v);
		return digest_out ? cli_buf_set(digest_out, digest, strlen(digest)) : 0;
	} else if (!cli_json_str(cli_json_get(v, "config"), "digest") || !YAJL_IS_ARRAY(cli_json_get(v, "layers"))) {
		rc = cli_fail(ECR_EUNSUPPORTED, "a docker archive holds images with a config and layers only");
	} else if (!(mt = strdup(media_type && *media_type ? media_type : MT_DOCKER_MANIFEST))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
	}
	yajl_tree_free(v);
	if (rc) {
		free(text);
		return rc;
	}
	pthread_mutex_lock(&d->mu);
	free(d->manifest);
	free(d->media_type);
	d->manifest = text;
	d->manifest_len = len;
	d->media_type = mt;
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	pthread_mutex_unlock(&d->mu);
	return digest_out ? cli_buf_set(digest_out, digest, strlen(digest)) : 0;
}

static int d_manifest_delete(ecr_transport *t, const char *repository, const char *reference)
{
	(void)t, (void)repository;
	return cli_fail(ECR_EIMAGE_NOT_FOUND, "no image %s in the docker archive being written", reference);
}

static int d_blob_stat(uint64_t *size_out, ecr_transport *t, const char *repository, const char *digest)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;
	(void)repository;
	if ((rc = d_blob_path(path, sizeof(path), (da_dst *)t, digest)))
		return rc;
	if (stat(path, &st) < 0)
		return cli_fail(ECR_ENOTFOUND, "no blob %s yet", digest);
	*size_out = (uint64_t)st.st_size;
	return 0;
}

static int d_blob_open(ecr_transport_stream **out, uint64_t *size_out, ecr_transport *t, const char *repository,
	const char *digest, uint64_t offset, uint64_t length)
{
	char path[PATH_MAX];
	int fd, rc;
	(void)repository;
	*out = NULL;
	if ((rc = d_blob_path(path, sizeof(path), (da_dst *)t, digest)))
		return rc;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cli_fail(ECR_ENOTFOUND, "no blob %s yet", digest);
	return cli_file_stream_new(out, size_out, fd, digest, offset, length);
}

static int d_blob_put(ecr_transport *t, const char *repository, const char *digest, const void *data, size_t len)
{
	char path[PATH_MAX], check[140];
	int rc;
	(void)repository;
	if ((rc = d_blob_path(path, sizeof(path), (da_dst *)t, digest)) ||
	    (rc = cli_digest_like(check, digest, data, len)))
		return rc;
	if (strcmp(check, digest))
		return cli_fail(ECR_EDIGEST, "the content's digest is %s, not %s", check, digest);
	return cli_write_file_atomic(path, data, len, 0600);
}

static int d_blob_mount(ecr_transport *t, const char *repository, const char *from, const char *digest)
{
	(void)t, (void)repository, (void)from;
	return cli_fail(ECR_ENOTFOUND, "no mount in a docker archive (%s)", digest);
}

static int d_blob_delete(ecr_transport *t, const char *repository, const char *digest)
{
	char path[PATH_MAX];
	int rc;
	(void)repository;
	if ((rc = d_blob_path(path, sizeof(path), (da_dst *)t, digest)))
		return rc;
	return unlink(path) < 0 ? cli_fail(ECR_ENOTFOUND, "no blob %s", digest) : 0;
}

static cli_upload_dir uploads(const da_dst *d)
{
	return (cli_upload_dir){ d->tmpdir, "up-", 0, false };
}

static int d_upload_begin(ecr_buf *session_out, ecr_transport *t, const char *repository)
{
	cli_upload_dir u = uploads((da_dst *)t);
	(void)repository;
	return cli_upload_begin(session_out, &u);
}

static int d_upload_status(uint64_t *size_out, ecr_transport *t, const char *repository, const char *session)
{
	cli_upload_dir u = uploads((da_dst *)t);
	(void)repository;
	return cli_upload_status(size_out, &u, session);
}

static int d_upload_write(ecr_buf *session, ecr_transport *t, const char *repository, uint64_t offset,
	const void *data, size_t len)
{
	cli_upload_dir u = uploads((da_dst *)t);
	(void)repository;
	return cli_upload_write(&u, session->ptr, offset, data, len);
}

static int d_upload_commit(ecr_transport *t, const char *repository, const char *session, const char *digest)
{
	da_dst *d = (da_dst *)t;
	cli_upload_dir u = uploads(d);
	char dst[PATH_MAX];
	int rc;
	(void)repository;
	return (rc = d_blob_path(dst, sizeof(dst), d, digest)) ? rc : cli_upload_commit(&u, session, dst, digest);
}

static int d_upload_cancel(ecr_transport *t, const char *repository, const char *session)
{
	cli_upload_dir u = uploads((da_dst *)t);
	(void)repository;
	return cli_upload_cancel(&u, session);
}

static int d_tags_list(ecr_buf *json_out, int *more_out, ecr_transport *t, const char *repository, const char *last,
	unsigned int n)
{
	(void)t, (void)n;
	return tags_json(json_out, more_out, repository, NULL, last);
}

static void d_free(ecr_transport *t)
{
	da_dst *d = (da_dst *)t;
	if (!d)
		return;
	if (d->tmpdir)
		cli_rmtree(d->tmpdir);
	pthread_mutex_destroy(&d->mu);
	free(d->file);
	free(d->ref);
	free(d->tmpdir);
	free(d->manifest);
	free(d->media_type);
	free(d);
}

int cli_docker_archive_dest_new(ecr_transport **out, const char *file, const char *ref)
{
	da_dst *d;
	char tmpl[PATH_MAX];

	*out = NULL;
	if ((size_t)snprintf(tmpl, sizeof(tmpl), "%s.ecr-tmpXXXXXX", file) >= sizeof(tmpl))
		return cli_fail(ECR_EINVALID, "path too long: %s", file);
	if (!(d = calloc(1, sizeof(*d))))
		return cli_fail(ECR_ENOMEM, "out of memory");
	pthread_mutex_init(&d->mu, NULL);
	if (!(d->file = strdup(file)) || (ref && *ref && !(d->ref = malloc(strlen(ref) + 8)))) {
		d_free(&d->base);
		return cli_fail(ECR_ENOMEM, "out of memory");
	}
	if (d->ref) {
		const char *slash = strrchr(ref, '/');
		sprintf(d->ref, "%s%s", ref, strchr(slash ? slash : ref, ':') ? "" : ":latest");
	}
	if (!mkdtemp(tmpl)) {
		int err = errno;
		d_free(&d->base);
		return cli_fail_os(ECR_EIO, err, "cannot create a temporary folder beside %s", file);
	}
	if (!(d->tmpdir = strdup(tmpl))) {
		cli_rmtree(tmpl);
		d_free(&d->base);
		return cli_fail(ECR_ENOMEM, "out of memory");
	}
	d->base.version = ECR_TRANSPORT_VERSION;
	d->base.info = d_info;
	d->base.call = d_call;
	d->base.manifest_get = d_manifest_get;
	d->base.manifest_head = d_manifest_head;
	d->base.manifest_put = d_manifest_put;
	d->base.manifest_delete = d_manifest_delete;
	d->base.blob_stat = d_blob_stat;
	d->base.blob_open = d_blob_open;
	d->base.blob_put = d_blob_put;
	d->base.blob_mount = d_blob_mount;
	d->base.blob_delete = d_blob_delete;
	d->base.upload_begin = d_upload_begin;
	d->base.upload_status = d_upload_status;
	d->base.upload_write = d_upload_write;
	d->base.upload_commit = d_upload_commit;
	d->base.upload_cancel = d_upload_cancel;
	d->base.tags_list = d_tags_list;
	d->base.referrers = s_referrers;
	d->base.free = d_free;
	*out = &d->base;
	return 0;
}

bool cli_is_docker_archive_dest(ecr_transport *t)
{
	return t && t->info == d_info;
}

/* --- writing the tar --- */

static void put_octal(unsigned char *f, size_t n, uint64_t v)
{
	if (n == 12 && v >= (1ull << 33)) { /* base-256 */
		memset(f, 0, n);
		f[0] = 0x80;
		for (size_t i = n - 1; i > 0 && v; i--, v >>= 8)
			f[i] = (unsigned char)(v & 0xff);
		return;
	}
	snprintf((char *)f, n, "%0*llo", (int)n - 1, (unsigned long long)v);
}

static int tar_header(int fd, const char *name, uint64_t size, time_t mtime)
{
	unsigned char h[512];
	memset(h, 0, sizeof(h));
	if (strlen(name) > 99)
		return cli_fail(ECR_EINVALID, "tar member name too long: %s", name);
	memcpy(h, name, strlen(name));
	put_octal(h + 100, 8, 0644);
	put_octal(h + 108, 8, 0);
	put_octal(h + 116, 8, 0);
	put_octal(h + 124, 12, size);
	put_octal(h + 136, 12, (uint64_t)mtime);
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	if (write(fd, h, 512) != 512)
		return cli_fail_os(ECR_EIO, errno, "cannot write the archive");
	return 0;
}

static int tar_pad(int fd, uint64_t size)
{
	static const unsigned char zero[512];
	size_t pad = (size_t)((512 - (size % 512)) % 512);
	if (pad && write(fd, zero, pad) != (ssize_t)pad)
		return cli_fail_os(ECR_EIO, errno, "cannot write the archive");
	return 0;
}

static int tar_mem(int fd, const char *name, const void *data, size_t len, time_t mtime)
{
	int rc = tar_header(fd, name, len, mtime);
	if (rc)
		return rc;
	if (len && write(fd, data, len) != (ssize_t)len)
		return cli_fail_os(ECR_EIO, errno, "cannot write the archive");
	return tar_pad(fd, len);
}

static int tar_file(int fd, const char *name, const char *path, time_t mtime)
{
	struct stat st;
	char *buf = NULL;
	int in, rc;
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cli_fail_os(ECR_EIO, errno, "cannot open %s", path);
	if (fstat(in, &st) < 0) {
		rc = cli_fail_os(ECR_EIO, errno, "cannot stat %s", path);
		goto done;
	}
	if ((rc = tar_header(fd, name, (uint64_t)st.st_size, mtime)))
		goto done;
	if (!(buf = malloc(1 << 16))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	uint64_t left = (uint64_t)st.st_size;
	while (left) {
		ssize_t r = read(in, buf, left < (1 << 16) ? (size_t)left : (1 << 16));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = cli_fail(ECR_EIO, "cannot read %s", path);
			goto done;
		}
		if (write(fd, buf, (size_t)r) != r) {
			rc = cli_fail_os(ECR_EIO, errno, "cannot write the archive");
			goto done;
		}
		left -= (uint64_t)r;
	}
	rc = tar_pad(fd, (uint64_t)st.st_size);
done:
	free(buf);
	close(in);
	return rc;
}

int cli_docker_archive_finish(ecr_transport *t)
{
	da_dst *d = (da_dst *)t;
	char tmp[PATH_MAX], path[PATH_MAX], name[160];
	yajl_val v = NULL;
	yajl_gen g = NULL;
	char *mj = NULL;
	size_t mjlen = 0;
	int fd = -1, rc = 0;
	time_t now = time(NULL);

	if (!d->manifest)
		return cli_fail(ECR_EIMAGE_NOT_FOUND, "no image was copied into %s", d->file);
	if (!(v = cli_json_parse(d->manifest, "the manifest")))
		return ECR_EINVALID;
	snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", d->file);
	if ((fd = mkstemp(tmp)) < 0) {
		rc = cli_fail_os(ECR_EIO, errno, "cannot create a temporary file beside %s", d->file);
		goto done;
	}
	fchmod(fd, 0644);
	const char *config = cli_json_str(cli_json_get(v, "config"), "digest");
	yajl_val layers = cli_json_get(v, "layers");
	if (!(g = cli_gen_new(false))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	snprintf(name, sizeof(name), "%s.json", strchr(config, ':') + 1);
	cli_gen_kv(g, "Config", name);
	if ((rc = d_blob_path(path, sizeof(path), d, config)) || (rc = tar_file(fd, name, path, now)))
		goto done;
	cli_gen_str(g, "RepoTags");
	yajl_gen_array_open(g);
	if (d->ref)
		cli_gen_str(g, d->ref);
	yajl_gen_array_close(g);
	cli_gen_str(g, "Layers");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < layers->u.array.len; i++) {
		const char *ld = cli_json_str(layers->u.array.values[i], "digest");
		if (!ld || !cli_digest_valid(ld)) {
			rc = cli_fail(ECR_EINVALID, "layer %zu has no valid digest", i);
			goto done;
		}
		snprintf(name, sizeof(name), "%s.tar", strchr(ld, ':') + 1);
		cli_gen_str(g, name);
		bool seen = false;
		for (size_t k = 0; k < i; k++) {
			const char *od = cli_json_str(layers->u.array.values[k], "digest");
			seen = seen || (od && !strcmp(od, ld));
		}
		if (seen)
			continue;
		if ((rc = d_blob_path(path, sizeof(path), d, ld)) || (rc = tar_file(fd, name, path, now)))
			goto done;
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	yajl_gen_array_close(g);
	if (!(mj = cli_gen_take(g, &mjlen))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = tar_mem(fd, "manifest.json", mj, mjlen, now)))
		goto done;
	static const unsigned char end[1024];
	if (write(fd, end, sizeof(end)) != (ssize_t)sizeof(end) || fsync(fd) < 0) {
		rc = cli_fail_os(ECR_EIO, errno, "cannot write %s", tmp);
		goto done;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, d->file) < 0) {
		rc = cli_fail_os(ECR_EIO, errno, "cannot rename %s to %s", tmp, d->file);
		goto done;
	}
	tmp[0] = '\0';
done:
	if (fd >= 0)
		close(fd);
	if (rc && tmp[0])
		unlink(tmp);
	free(mj);
	if (g)
		yajl_gen_free(g);
	yajl_tree_free(v);
	return rc;
}
