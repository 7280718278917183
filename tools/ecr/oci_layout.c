/*
 * ecr CLI: the oci: transport, an OCI image layout folder (index.json, oci-layout, blobs/<alg>/<hex>) seen as a
 * registry with one repository (the repository name is ignored).
 *
 * Tags are the org.opencontainers.image.ref.name annotations of index.json's entries. A manifest put by tag gets
 * an entry with that name (the name moves from any other entry); a manifest put by digest is only stored as a blob
 * (children of an index are not listed in index.json, as skopeo does), unless it is a referrer (it has a subject):
 * those get an unnamed entry so that the referrers can be found again. index.json is rewritten atomically (temp
 * file + rename) under a lock of the transport. Uploads go to a temporary file in the folder (the session is its
 * name) and are committed with a digest check, fsync and rename.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REF_NAME "org.opencontainers.image.ref.name"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MANIFEST_MAX (4u << 20)
#define INDEX_MAX (64u << 20)
#define UPLOAD_PREFIX ".ecr-upload-"

typedef struct oci_t {
	ecr_transport base;
	char *dir;
	bool create;
	pthread_mutex_t mu;
} oci_t;

typedef struct entry {
	char *media_type;
	char *digest;
	uint64_t size;
	char *ref;     /* org.opencontainers.image.ref.name, or NULL */
	yajl_val orig; /* the entry as read (other members are kept), or NULL */
	bool removed;
} entry;

typedef struct oci_index {
	yajl_val tree;
	entry *e;
	size_t n, cap;
} oci_index;

static void index_dispose(oci_index *idx)
{
	for (size_t i = 0; i < idx->n; i++) {
		free(idx->e[i].media_type);
		free(idx->e[i].digest);
		free(idx->e[i].ref);
	}
	free(idx->e);
	yajl_tree_free(idx->tree);
	memset(idx, 0, sizeof(*idx));
}

static int index_add(oci_index *idx, const char *mt, const char *digest, uint64_t size, const char *ref,
	yajl_val orig)
{
	if (idx->n == idx->cap) {
		size_t cap = idx->cap ? idx->cap * 2 : 8;
		entry *e = realloc(idx->e, cap * sizeof(*e));
		if (!e)
			return cli_fail(ECR_ENOMEM, "out of memory");
		idx->e = e;
		idx->cap = cap;
	}
	entry *e = &idx->e[idx->n];
	memset(e, 0, sizeof(*e));
	e->media_type = strdup(mt ? mt : MT_OCI_MANIFEST);
	e->digest = strdup(digest);
	e->ref = ref ? strdup(ref) : NULL;
	e->size = size;
	e->orig = orig;
	idx->n++;
	if (!e->media_type || !e->digest || (ref && !e->ref))
		return cli_fail(ECR_ENOMEM, "out of memory");
	return 0;
}

static int path_of(char *out, size_t n, const oci_t *o, const char *rel)
{
	if ((size_t)snprintf(out, n, "%s/%s", o->dir, rel) >= n)
		return cli_fail(ECR_EINVALID, "path too long in %s", o->dir);
	return 0;
}

static int blob_path(char *out, size_t n, const oci_t *o, const char *digest)
{
	if (!cli_digest_valid(digest))
		return cli_fail(ECR_EINVALID, "malformed digest %s", digest);
	const char *colon = strchr(digest, ':');
	if ((size_t)snprintf(out, n, "%s/blobs/%.*s/%s", o->dir, (int)(colon - digest), digest, colon + 1) >= n)
		return cli_fail(ECR_EINVALID, "path too long in %s", o->dir);
	return 0;
}

/* Load index.json (a missing one is empty when the layout may be created). Called with the lock held. */
static int index_load(oci_index *idx, const oci_t *o)
{
	char path[PATH_MAX], *text = NULL;
	int rc;

	memset(idx, 0, sizeof(*idx));
	if ((rc = path_of(path, sizeof(path), o, "index.json")))
		return rc;
	if ((rc = cli_read_file(&text, NULL, path, INDEX_MAX))) {
		if (rc == ECR_ENOTFOUND && o->create) {
			ecr_error_clear();
			return 0;
		}
		if (rc == ECR_ENOTFOUND)
			return cli_fail(ECR_EREPOSITORY_NOT_FOUND, "%s is not an OCI image layout (no index.json)", o->dir);
		return rc;
	}
	if (!(idx->tree = cli_json_parse(text, "index.json"))) {
		rc = ECR_EINVALID;
		goto done;
	}
	yajl_val ms = cli_json_get(idx->tree, "manifests");
	if (!YAJL_IS_OBJECT(idx->tree) || (ms && !YAJL_IS_ARRAY(ms))) {
		rc = cli_fail(ECR_EINVALID, "%s/index.json is not an image index", o->dir);
		goto done;
	}
	for (size_t i = 0; ms && i < ms->u.array.len; i++) {
		yajl_val m = ms->u.array.values[i];
		const char *digest = cli_json_str(m, "digest");
		yajl_val size = cli_json_get(m, "size");
		if (!digest || !cli_digest_valid(digest) || !size || !YAJL_IS_INTEGER(size) || YAJL_GET_INTEGER(size) < 0) {
			rc = cli_fail(ECR_EINVALID, "%s/index.json: entry %zu has no valid digest and size", o->dir, i);
			goto done;
		}
		if ((rc = index_add(idx, cli_json_str(m, "mediaType"), digest, (uint64_t)YAJL_GET_INTEGER(size),
			     cli_json_str(cli_json_get(m, "annotations"), REF_NAME), m)))
			goto done;
	}
done:
	free(text);
	if (rc)
		index_dispose(idx);
	return rc;
}

static int ensure_layout(const oci_t *o)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;
	if ((rc = cli_mkdirs(o->dir, 0755)) || (rc = path_of(path, sizeof(path), o, "oci-layout")))
		return rc;
	if (stat(path, &st) == 0)
		return 0;
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	return cli_write_file_atomic(path, layout, sizeof(layout) - 1, 0644);
}

static int index_save(const oci_index *idx, const oci_t *o)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int rc;
	yajl_gen g;

	if ((rc = ensure_layout(o)) || (rc = path_of(path, sizeof(path), o, "index.json")))
		return rc;
	if (!(g = cli_gen_new(false)))
		return cli_fail(ECR_ENOMEM, "out of memory");
	yajl_gen_map_open(g);
	cli_gen_ki(g, "schemaVersion", 2);
	cli_gen_kv(g, "mediaType", MT_OCI_INDEX);
	cli_gen_str(g, "manifests");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < idx->n; i++) {
		const entry *e = &idx->e[i];
		if (e->removed)
			continue;
		yajl_gen_map_open(g);
		cli_gen_kv(g, "mediaType", e->media_type);
		cli_gen_kv(g, "digest", e->digest);
		cli_gen_ki(g, "size", (long long)e->size);
		yajl_val ann = cli_json_get(e->orig, "annotations");
		for (size_t k = 0; e->orig && k < e->orig->u.object.len; k++) {
			const char *key = e->orig->u.object.keys[k];
			if (!strcmp(key, "mediaType") || !strcmp(key, "digest") || !strcmp(key, "size") ||
				!strcmp(key, "annotations"))
				continue;
			cli_gen_str(g, key);
			cli_json_emit(g, e->orig->u.object.values[k]);
		}
		size_t other = 0;
		for (size_t k = 0; YAJL_IS_OBJECT(ann) && k < ann->u.object.len; k++)
			other += strcmp(ann->u.object.keys[k], REF_NAME) != 0;
		if (other || e->ref) {
			cli_gen_str(g, "annotations");
			yajl_gen_map_open(g);
			for (size_t k = 0; YAJL_IS_OBJECT(ann) && k < ann->u.object.len; k++) {
				if (!strcmp(ann->u.object.keys[k], REF_NAME))
					continue;
				cli_gen_str(g, ann->u.object.keys[k]);
				cli_json_emit(g, ann->u.object.values[k]);
			}
			if (e->ref)
				cli_gen_kv(g, REF_NAME, e->ref);
			yajl_gen_map_close(g);
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	for (size_t k = 0; idx->tree && k < idx->tree->u.object.len; k++) {
		const char *key = idx->tree->u.object.keys[k];
		if (!strcmp(key, "schemaVersion") || !strcmp(key, "mediaType") || !strcmp(key, "manifests"))
			continue;
		cli_gen_str(g, key);
		cli_json_emit(g, idx->tree->u.object.values[k]);
	}
	yajl_gen_map_close(g);
	if (!(text = cli_gen_take(g, &len)))
		rc = cli_fail(ECR_ENOMEM, "out of memory");
	else
		rc = cli_write_file_atomic(path, text, len, 0644);
	free(text);
	yajl_gen_free(g);
	return rc;
}

/* The digest an index.json entry names for a tag (the last entry with that name). */
static const entry *find_tag(const oci_index *idx, const char *tag)
{
	const entry *found = NULL;
	for (size_t i = 0; i < idx->n; i++)
		if (!idx->e[i].removed && idx->e[i].ref && !strcmp(idx->e[i].ref, tag))
			found = &idx->e[i];
	return found;
}

static const entry *find_digest(const oci_index *idx, const char *digest)
{
	for (size_t i = 0; i < idx->n; i++)
		if (!idx->e[i].removed && !strcmp(idx->e[i].digest, digest))
			return &idx->e[i];
	return NULL;
}

/* The media type a manifest's bytes declare (or imply). */
static char *manifest_media_type(const char *body)
{
	yajl_val v = yajl_tree_parse(body, NULL, 0);
	const char *mt = cli_json_str(v, "mediaType");
	char *out = strdup(mt ? mt : cli_json_get(v, "manifests") ? MT_OCI_INDEX : MT_OCI_MANIFEST);
	yajl_tree_free(v);
	return out;
}

/* Resolve a reference to a digest and, when index.json lists it, its media type. Lock held. */
static int resolve(char *digest, size_t n, char **mt_out, const oci_t *o, const char *reference)
{
	oci_index idx;
	int rc;
	const entry *e;

	*mt_out = NULL;
	if ((rc = index_load(&idx, o)))
		return rc;
	if (cli_is_digest_ref(reference)) {
		snprintf(digest, n, "%s", reference);
		e = find_digest(&idx, reference);
	} else {
		if (!(e = find_tag(&idx, reference))) {
			rc = cli_fail(ECR_EIMAGE_NOT_FOUND, "no image tagged %s in the OCI layout %s", reference, o->dir);
			goto done;
		}
		snprintf(digest, n, "%s", e->digest);
	}
	if (e && !(*mt_out = strdup(e->media_type)))
		rc = cli_fail(ECR_ENOMEM, "out of memory");
done:
	index_dispose(&idx);
	return rc;
}

static int read_manifest(char **body, size_t *len, char **mt, char *digest, size_t dn, oci_t *o,
	const char *reference)
{
	char path[PATH_MAX], check[140];
	int rc;

	*body = NULL;
	pthread_mutex_lock(&o->mu);
	rc = resolve(digest, dn, mt, o, reference);
	pthread_mutex_unlock(&o->mu);
	if (rc)
		return rc;
	if ((rc = blob_path(path, sizeof(path), o, digest)))
		goto done;
	if ((rc = cli_read_file(body, len, path, MANIFEST_MAX))) {
		if (rc == ECR_ENOTFOUND)
			rc = cli_fail(ECR_EIMAGE_NOT_FOUND, "no manifest %s in the OCI layout %s", digest, o->dir);
		goto done;
	}
	if ((rc = cli_digest_like(check, digest, *body, *len)))
		goto done;
	if (strcmp(check, digest)) {
		rc = cli_fail(ECR_EDIGEST, "%s in the OCI layout %s does not match its digest", digest, o->dir);
		goto done;
	}
	if (!*mt && !(*mt = manifest_media_type(*body)))
		rc = cli_fail(ECR_ENOMEM, "out of memory");
done:
	if (rc) {
		free(*body);
		*body = NULL;
		free(*mt);
		*mt = NULL;
	}
	return rc;
}

/* --- the transport's methods --- */

static int m_info(uint32_t *features_out, ecr_buf *account_id_out, ecr_buf *region_out, ecr_buf *host_out,
	ecr_transport *t)
{
	(void)account_id_out;
	(void)region_out;
	(void)t;
	*features_out = ECR_TRANSPORT_HAS_OCI;
	return cli_buf_set(host_out, "oci-layout", 10);
}

static int m_call(ecr_buf *response, ecr_transport *t, const char *operation, const char *request, size_t len)
{
	(void)response;
	(void)request;
	(void)len;
	return cli_fail(ECR_ENOTSUPPORTED, "%s is not available on the OCI layout %s", operation, ((oci_t *)t)->dir);
}

static int m_manifest_get(ecr_buf *body, ecr_buf *media_type, ecr_buf *digest, ecr_transport *t,
	const char *repository, const char *reference)
{
	oci_t *o = (oci_t *)t;
	char d[140], *b = NULL, *mt = NULL;
	size_t len = 0;
	int rc;
	(void)repository;
	if ((rc = read_manifest(&b, &len, &mt, d, sizeof(d), o, reference)))
		return rc;
	if (!(rc = cli_buf_set(body, b, len)) && !(rc = cli_buf_set(media_type, mt, strlen(mt))))
		rc = cli_buf_set(digest, d, strlen(d));
	free(b);
	free(mt);
	return rc;
}

static int m_manifest_head(ecr_buf *media_type, ecr_buf *digest, uint64_t *size_out, ecr_transport *t,
	const char *repository, const char *reference)
{
	oci_t *o = (oci_t *)t;
	char d[140], *b = NULL, *mt = NULL;
	size_t len = 0;
	int rc;
	(void)repository;
	if ((rc = read_manifest(&b, &len, &mt, d, sizeof(d), o, reference)))
		return rc;
	*size_out = len;
	if (!(rc = cli_buf_set(media_type, mt, strlen(mt))))
		rc = cli_buf_set(digest, d, strlen(d));
	free(b);
	free(mt);
	return rc;
}

/* Write a blob from memory (digest checked). */
static int put_blob(oci_t *o, const char *digest, const void *data, size_t len)
{
	char path[PATH_MAX], check[140];
	struct stat st;
	int rc;

	if ((rc = blob_path(path, sizeof(path), o, digest)) || (rc = cli_digest_like(check, digest, data, len)))
		return rc;
	if (strcmp(check, digest))
		return cli_fail(ECR_EDIGEST, "the content's digest is %s, not %s", check, digest);
	if (stat(path, &st) == 0 && (uint64_t)st.st_size == len)
		return 0;
	*strrchr(path, '/') = '\0';
	if ((rc = ensure_layout(o)) || (rc = cli_mkdirs(path, 0755)))
		return rc;
	if ((rc = blob_path(path, sizeof(path), o, digest)))
		return rc;
	return cli_write_file_atomic(path, data, len, 0644);
}

static int m_manifest_put(ecr_buf *digest_out, ecr_transport *t, const char *repository, const char *reference,
	const char *media_type, const void *body, size_t len)
{
	oci_t *o = (oci_t *)t;
	char digest[80], *text = NULL;
	oci_index idx;
	yajl_val v = NULL;
	int rc;
	(void)repository;

	if (len > MANIFEST_MAX)
		return cli_fail(ECR_ELIMIT, "manifest larger than %u bytes", MANIFEST_MAX);
	if ((rc = cli_sha256(digest, body, len)))
		return rc;
	if (cli_is_digest_ref(reference) && strcmp(reference, digest) && strncmp(reference, "sha512:", 7))
		return cli_fail(ECR_EIMAGE_DIGEST, "the manifest's digest is %s, not %s", digest, reference);
	if (cli_is_digest_ref(reference))
		snprintf(digest, sizeof(digest), "%.79s", reference);
	if ((rc = put_blob(o, digest, body, len)))
		return rc;
	if (!(text = malloc(len + 1)))
		return cli_fail(ECR_ENOMEM, "out of memory");
	memcpy(text, body, len);
	text[len] = '\0';
	v = yajl_tree_parse(text, NULL, 0);
	free(text);
	bool referrer = cli_json_get(v, "subject") != NULL;
	yajl_tree_free(v);

	pthread_mutex_lock(&o->mu);
	if ((rc = index_load(&idx, o)))
		goto unlock;
	if (!cli_is_digest_ref(reference)) {
		for (size_t i = 0; i < idx.n; i++)
			if (idx.e[i].ref && !strcmp(idx.e[i].ref, reference))
				idx.e[i].removed = true; /* the name moves */
		rc = index_add(&idx, media_type, digest, len, reference, NULL);
	} else if (referrer && !find_digest(&idx, digest)) {
		rc = index_add(&idx, media_type, digest, len, NULL, NULL);
	} else {
		goto dispose;
	}
	if (!rc)
		rc = index_save(&idx, o);
dispose:
	index_dispose(&idx);
unlock:
	pthread_mutex_unlock(&o->mu);
	if (!rc && digest_out)
		rc = cli_buf_set(digest_out, digest, strlen(digest));
	return rc;
}

int cli_oci_add_untagged(ecr_transport *t, const char *digest)
{
	oci_t *o = (oci_t *)t;
	char path[PATH_MAX], *body = NULL;
	size_t len = 0;
	oci_index idx;
	int rc;

	if ((rc = blob_path(path, sizeof(path), o, digest)) || (rc = cli_read_file(&body, &len, path, MANIFEST_MAX)))
		return rc;
	char *mt = manifest_media_type(body);
	pthread_mutex_lock(&o->mu);
	if (!(rc = index_load(&idx, o))) {
		if (!find_digest(&idx, digest) && !(rc = index_add(&idx, mt, digest, len, NULL, NULL)))
			rc = index_save(&idx, o);
		index_dispose(&idx);
	}
	pthread_mutex_unlock(&o->mu);
	free(mt);
	free(body);
	return rc;
}

static int m_manifest_delete(ecr_transport *t, const char *repository, const char *reference)
{
	oci_t *o = (oci_t *)t;
	oci_index idx;
	bool found = false;
	int rc;
	(void)repository;

	pthread_mutex_lock(&o->mu);
	if ((rc = index_load(&idx, o)))
		goto unlock;
	for (size_t i = 0; i < idx.n; i++) {
		entry *e = &idx.e[i];
		if (e->removed)
			continue;
		if (cli_is_digest_ref(reference) ? !strcmp(e->digest, reference) : (e->ref && !strcmp(e->ref, reference))) {
			e->removed = true;
			found = true;
		}
	}
	if (!found)
		rc = cli_fail(ECR_EIMAGE_NOT_FOUND, "no image %s in the OCI layout %s", reference, o->dir);
	else
		rc = index_save(&idx, o);
	index_dispose(&idx);
	if (!rc && cli_is_digest_ref(reference)) {
		char path[PATH_MAX];
		if (!blob_path(path, sizeof(path), o, reference))
			unlink(path);
	}
unlock:
	pthread_mutex_unlock(&o->mu);
	return rc;
}

static int m_blob_stat(uint64_t *size_out, ecr_transport *t, const char *repository, const char *digest)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;
	(void)repository;
	if ((rc = blob_path(path, sizeof(path), (oci_t *)t, digest)))
		return rc;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return cli_fail(ECR_ENOTFOUND, "no blob %s in the OCI layout %s", digest, ((oci_t *)t)->dir);
	*size_out = (uint64_t)st.st_size;
	return 0;
}

static int m_blob_open(ecr_transport_stream **out, uint64_t *size_out, ecr_transport *t, const char *repository,
	const char *digest, uint64_t offset, uint64_t length)
{
	char path[PATH_MAX];
	int fd, rc;
	(void)repository;

	*out = NULL;
	if ((rc = blob_path(path, sizeof(path), (oci_t *)t, digest)))
		return rc;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cli_fail(ECR_ENOTFOUND, "no blob %s in the OCI layout %s", digest, ((oci_t *)t)->dir);
	return cli_file_stream_new(out, size_out, fd, digest, offset, length);
}

static int m_blob_put(ecr_transport *t, const char *repository, const char *digest, const void *data, size_t len)
{
	(void)repository;
	return put_blob((oci_t *)t, digest, data, len);
}

static int m_blob_mount(ecr_transport *t, const char *repository, const char *from, const char *digest)
{
	(void)t;
	(void)repository;
	(void)from;
	return cli_fail(ECR_ENOTFOUND, "no mount in an OCI layout (%s)", digest);
}

static int m_blob_delete(ecr_transport *t, const char *repository, const char *digest)
{
	char path[PATH_MAX];
	int rc;
	(void)repository;
	if ((rc = blob_path(path, sizeof(path), (oci_t *)t, digest)))
		return rc;
	if (unlink(path) < 0)
		return cli_fail(ECR_ENOTFOUND, "no blob %s in the OCI layout %s", digest, ((oci_t *)t)->dir);
	return 0;
}

static cli_upload_dir uploads(const oci_t *o)
{
	return (cli_upload_dir){ o->dir, UPLOAD_PREFIX, 0644, true };
}

static int m_upload_begin(ecr_buf *session_out, ecr_transport *t, const char *repository)
{
	oci_t *o = (oci_t *)t;
	cli_upload_dir u = uploads(o);
	int rc;
	(void)repository;
	return (rc = ensure_layout(o)) ? rc : cli_upload_begin(session_out, &u);
}

static int m_upload_status(uint64_t *size_out, ecr_transport *t, const char *repository, const char *session)
{
	cli_upload_dir u = uploads((oci_t *)t);
	(void)repository;
	return cli_upload_status(size_out, &u, session);
}

static int m_upload_write(ecr_buf *session, ecr_transport *t, const char *repository, uint64_t offset,
	const void *data, size_t len)
{
	cli_upload_dir u = uploads((oci_t *)t);
	(void)repository;
	return cli_upload_write(&u, session->ptr, offset, data, len);
}

static int m_upload_commit(ecr_transport *t, const char *repository, const char *session, const char *digest)
{
	oci_t *o = (oci_t *)t;
	cli_upload_dir u = uploads(o);
	char dst[PATH_MAX];
	int rc;
	(void)repository;
	return (rc = blob_path(dst, sizeof(dst), o, digest)) ? rc : cli_upload_commit(&u, session, dst, digest);
}

static int m_upload_cancel(ecr_transport *t, const char *repository, const char *session)
{
	cli_upload_dir u = uploads((oci_t *)t);
	(void)repository;
	return cli_upload_cancel(&u, session);
}

static int m_tags_list(ecr_buf *json_out, int *more_out, ecr_transport *t, const char *repository, const char *last,
	unsigned int n)
{
	oci_t *o = (oci_t *)t;
	oci_index idx;
	const char **tags = NULL;
	size_t count = 0;
	int rc;

	*more_out = 0;
	pthread_mutex_lock(&o->mu);
	rc = index_load(&idx, o);
	pthread_mutex_unlock(&o->mu);
	if (rc)
		return rc;
	if (idx.n && !(tags = calloc(idx.n, sizeof(*tags)))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < idx.n; i++)
		if (!idx.e[i].removed && idx.e[i].ref)
			tags[count++] = idx.e[i].ref;
	rc = cli_tags_json(json_out, more_out, repository, tags, count, last, n);
done:
	free(tags);
	index_dispose(&idx);
	return rc;
}

static int m_referrers(ecr_buf *index_out, ecr_transport *t, const char *repository, const char *digest,
	const char *artifact_type)
{
	oci_t *o = (oci_t *)t;
	oci_index idx;
	char *text = NULL;
	size_t len = 0;
	int rc;
	yajl_gen g;
	(void)repository;

	pthread_mutex_lock(&o->mu);
	rc = index_load(&idx, o);
	pthread_mutex_unlock(&o->mu);
	if (rc)
		return rc;
	if (!(g = cli_gen_new(false))) {
		index_dispose(&idx);
		return cli_fail(ECR_ENOMEM, "out of memory");
	}
	yajl_gen_map_open(g);
	cli_gen_ki(g, "schemaVersion", 2);
	cli_gen_kv(g, "mediaType", MT_OCI_INDEX);
	cli_gen_str(g, "manifests");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < idx.n; i++) {
		char path[PATH_MAX], *body = NULL;
		size_t blen;
		if (idx.e[i].removed || blob_path(path, sizeof(path), o, idx.e[i].digest) ||
			cli_read_file(&body, &blen, path, MANIFEST_MAX)) {
			ecr_error_clear();
			continue;
		}
		yajl_val v = yajl_tree_parse(body, NULL, 0);
		const char *subject = cli_json_str(cli_json_get(v, "subject"), "digest");
		const char *at = cli_json_str(v, "artifactType");
		if (!at)
			at = cli_json_str(cli_json_get(v, "config"), "mediaType");
		if (subject && !strcmp(subject, digest) && (!artifact_type || (at && !strcmp(at, artifact_type)))) {
			yajl_gen_map_open(g);
			cli_gen_kv(g, "mediaType", idx.e[i].media_type);
			cli_gen_kv(g, "digest", idx.e[i].digest);
			cli_gen_ki(g, "size", (long long)blen);
			if (at)
				cli_gen_kv(g, "artifactType", at);
			yajl_val ann = cli_json_get(v, "annotations");
			if (YAJL_IS_OBJECT(ann)) {
				cli_gen_str(g, "annotations");
				cli_json_emit(g, ann);
			}
			yajl_gen_map_close(g);
		}
		yajl_tree_free(v);
		free(body);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	if (!(text = cli_gen_take(g, &len)))
		rc = cli_fail(ECR_ENOMEM, "out of memory");
	else
		rc = cli_buf_set(index_out, text, len);
	free(text);
	yajl_gen_free(g);
	index_dispose(&idx);
	return rc;
}

static void m_free(ecr_transport *t)
{
	oci_t *o = (oci_t *)t;
	if (!o)
		return;
	pthread_mutex_destroy(&o->mu);
	free(o->dir);
	free(o);
}

int cli_oci_transport_new(ecr_transport **out, const char *dir, bool create)
{
	oci_t *o;
	struct stat st;

	*out = NULL;
	if (!create && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
		return cli_fail(ECR_EREPOSITORY_NOT_FOUND, "no OCI image layout at %s", dir);
	if (!(o = calloc(1, sizeof(*o))) || !(o->dir = strdup(dir))) {
		free(o);
		return cli_fail(ECR_ENOMEM, "out of memory");
	}
	size_t n = strlen(o->dir);
	while (n > 1 && o->dir[n - 1] == '/')
		o->dir[--n] = '\0';
	o->create = create;
	pthread_mutex_init(&o->mu, NULL);
	o->base.version = ECR_TRANSPORT_VERSION;
	o->base.info = m_info;
	o->base.call = m_call;
	o->base.manifest_get = m_manifest_get;
	o->base.manifest_head = m_manifest_head;
	o->base.manifest_put = m_manifest_put;
	o->base.manifest_delete = m_manifest_delete;
	o->base.blob_stat = m_blob_stat;
	o->base.blob_open = m_blob_open;
	o->base.blob_put = m_blob_put;
	o->base.blob_mount = m_blob_mount;
	o->base.blob_delete = m_blob_delete;
	o->base.upload_begin = m_upload_begin;
	o->base.upload_status = m_upload_status;
	o->base.upload_write = m_upload_write;
	o->base.upload_commit = m_upload_commit;
	o->base.upload_cancel = m_upload_cancel;
	o->base.tags_list = m_tags_list;
	o->base.referrers = m_referrers;
	o->base.free = m_free;
	*out = &o->base;
	return 0;
}

int cli_oci_resolve(char *digest_out, size_t n, const char *dir, const char *reference)
{
	oci_t o = { .dir = (char *)dir };
	oci_index idx;
	int rc;
	char *mt = NULL;

	if (reference) {
		rc = resolve(digest_out, n, &mt, &o, reference);
		free(mt);
		return rc;
	}
	if ((rc = index_load(&idx, &o)))
		return rc;
	if (idx.n != 1)
		rc = cli_fail(ECR_EINVALID, "the OCI layout %s holds %zu images: name one (oci:%s:TAG)", dir, idx.n, dir);
	else
		snprintf(digest_out, n, "%s", idx.e[0].digest);
	index_dispose(&idx);
	return rc;
}
