/*
 * push-layout: push an OCI image layout directory into a registry.
 *
 *   push-layout LAYOUT_DIR REGISTRY_URL NAME:TAG
 *   push-layout ./hello file:///tmp/ecr-data example/hello:latest
 *
 * It reads LAYOUT_DIR/index.json and takes the manifest annotated with
 * org.opencontainers.image.ref.name = TAG (or the only one there is). Then,
 * depth first, for an image manifest it uploads the config and the layers,
 * and for an image index its child manifests, before putting the manifest
 * itself; only the top manifest gets the tag. A blob the repository already
 * holds (ecr_blob_stat) is not uploaded again; the others are streamed in
 * 1 MiB chunks through an upload session. The repository is created when it
 * does not exist.
 *
 * Every libecr call is checked and a failure prints ecr_error_last()->message.
 * Uses only the public API (ecr.h) and yajl to read the layout's JSON.
 * This example is in the public domain (CC0).
 */
#include <ecr.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#define CHUNK_SIZE (1024 * 1024)
#define MAX_DEPTH 8

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

static const char *layout_dir;

/* Print a libecr failure and return its code. */
static int fail_ecr(int rc, const char *what)
{
	fprintf(stderr, "push-layout: %s: %s (%s)\n", what, ecr_error_last()->message, ecr_error_name(rc));
	return rc;
}

/* Accept "<alg>:<hex>" with a lowercase algorithm and hex: it becomes a path. */
static int digest_is_safe(const char *digest)
{
	const char *colon = strchr(digest, ':');
	const char *p;

	if (colon == NULL || colon == digest || colon[1] == '\0')
		return 0;
	for (p = digest; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return 0;
	for (p = colon + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'f') || (*p >= '0' && *p <= '9')))
			return 0;
	return 1;
}

/* LAYOUT_DIR/blobs/<alg>/<hex> into path. */
static int blob_path(char *path, size_t size, const char *digest)
{
	const char *colon = strchr(digest, ':');
	int n;

	if (!digest_is_safe(digest)) {
		fprintf(stderr, "push-layout: malformed digest \"%s\"\n", digest);
		return -1;
	}
	n = snprintf(path, size, "%s/blobs/%.*s/%s", layout_dir, (int)(colon - digest), digest, colon + 1);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "push-layout: path too long for %s\n", digest);
		return -1;
	}
	return 0;
}

/* Read a whole (small) file; the result is NUL-terminated. */
static int read_file(char **out, size_t *len_out, const char *path, size_t max)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, n;
	int error = -1;

	if (f == NULL) {
		fprintf(stderr, "push-layout: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((data = malloc(max + 1)) == NULL) {
		fprintf(stderr, "push-layout: out of memory\n");
		goto done;
	}
	while ((n = fread(data + len, 1, max + 1 - len, f)) > 0) {
		len += n;
		if (len > max) {
			fprintf(stderr, "push-layout: %s: larger than %zu bytes\n", path, max);
			goto done;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "push-layout: %s: read error\n", path);
		goto done;
	}
	data[len] = '\0';
	*out = data;
	*len_out = len;
	data = NULL;
	error = 0;
done:
	free(data);
	fclose(f);
	return error;
}

static yajl_val parse_json(const char *text, const char *what)
{
	char errbuf[256];
	yajl_val v = yajl_tree_parse(text, errbuf, sizeof(errbuf));

	if (v == NULL || !YAJL_IS_OBJECT(v)) {
		fprintf(stderr, "push-layout: %s: not a JSON object: %s\n", what, v == NULL ? errbuf : "");
		yajl_tree_free(v);
		return NULL;
	}
	return v;
}

static const char *json_string(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(obj, path, yajl_t_string);

	return v ? YAJL_GET_STRING(v) : NULL;
}

/* Upload one blob of the layout unless the repository holds it already. */
static int push_blob(ecr_repository *repo, const char *digest)
{
	char path[4096];
	char *chunk = NULL;
	ecr_upload *up = NULL;
	FILE *f = NULL;
	uint64_t offset = 0;
	size_t n;
	int rc;

	rc = ecr_blob_stat(repo, digest, NULL);
	if (rc == 0) {
		printf("  blob %s exists\n", digest);
		return 0;
	}
	if (rc != ECR_ENOTFOUND)
		return fail_ecr(rc, digest);

	if (blob_path(path, sizeof(path), digest) < 0)
		return ECR_EINVALID;
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "push-layout: %s: %s\n", path, strerror(errno));
		return ECR_ENOTFOUND;
	}
	if ((chunk = malloc(CHUNK_SIZE)) == NULL) {
		fprintf(stderr, "push-layout: out of memory\n");
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = ecr_upload_begin(&up, repo)) < 0) {
		fail_ecr(rc, "ecr_upload_begin");
		goto done;
	}
	while ((n = fread(chunk, 1, CHUNK_SIZE, f)) > 0) {
		if ((rc = ecr_upload_write(up, offset, chunk, n)) < 0) {
			fail_ecr(rc, "ecr_upload_write");
			goto done;
		}
		offset += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "push-layout: %s: read error\n", path);
		rc = ECR_EIO;
		goto done;
	}
	if ((rc = ecr_upload_commit(up, digest)) < 0) {
		fail_ecr(rc, "ecr_upload_commit");
		goto done;
	}
	printf("  blob %s uploaded (%llu bytes)\n", digest, (unsigned long long)offset);
done:
	if (rc < 0 && up != NULL && ecr_upload_cancel(up) < 0)
		fail_ecr(ECR_EUPLOAD, "ecr_upload_cancel");
	ecr_upload_free(up);
	free(chunk);
	if (f != NULL)
		fclose(f);
	return rc;
}

/* Push a manifest (and, first, everything it references). tag may be NULL. */
static int push_manifest(ecr_repository *repo, const char *digest, const char *media_type, const char *tag,
	int depth)
{
	char path[4096];
	char *text = NULL;
	size_t len = 0, i;
	yajl_val doc = NULL, list;
	ecr_image *img = NULL;
	const char *mt;
	int rc = ECR_EINVALID;

	if (depth > MAX_DEPTH) {
		fprintf(stderr, "push-layout: image indexes nested too deeply\n");
		return ECR_ELIMIT;
	}
	if (blob_path(path, sizeof(path), digest) < 0)
		return ECR_EINVALID;
	if (read_file(&text, &len, path, ECR_MANIFEST_MAX_SIZE) < 0)
		return ECR_EIO;
	if ((doc = parse_json(text, path)) == NULL)
		goto done;

	mt = json_string(doc, "mediaType");
	if (media_type == NULL)
		media_type = mt;

	{
		const char *manifests_path[] = { "manifests", NULL };
		const char *layers_path[] = { "layers", NULL };
		const char *config_path[] = { "config", NULL };
		yajl_val config = yajl_tree_get(doc, config_path, yajl_t_object);

		if ((list = yajl_tree_get(doc, manifests_path, yajl_t_array)) != NULL) {
			/* An image index: its children first. */
			for (i = 0; i < YAJL_GET_ARRAY(list)->len; i++) {
				yajl_val child = YAJL_GET_ARRAY(list)->values[i];
				const char *cd = json_string(child, "digest");

				if (cd == NULL) {
					fprintf(stderr, "push-layout: %s: manifests[%zu] has no digest\n", path, i);
					rc = ECR_EINVALID;
					goto done;
				}
				if ((rc = push_manifest(repo, cd, json_string(child, "mediaType"), NULL, depth + 1)) < 0)
					goto done;
			}
		} else {
			/* An image manifest: its config and layers. */
			const char *cd = config ? json_string(config, "digest") : NULL;

			if (cd != NULL && (rc = push_blob(repo, cd)) < 0)
				goto done;
			list = yajl_tree_get(doc, layers_path, yajl_t_array);
			for (i = 0; list != NULL && i < YAJL_GET_ARRAY(list)->len; i++) {
				const char *ld = json_string(YAJL_GET_ARRAY(list)->values[i], "digest");

				if (ld == NULL) {
					fprintf(stderr, "push-layout: %s: layers[%zu] has no digest\n", path, i);
					rc = ECR_EINVALID;
					goto done;
				}
				if ((rc = push_blob(repo, ld)) < 0)
					goto done;
			}
		}
	}

	/* The manifest goes in byte for byte, checked against its digest. */
	if ((rc = ecr_image_put(&img, repo, tag, digest, media_type, text, len, 0)) < 0) {
		fail_ecr(rc, "ecr_image_put");
		goto done;
	}
	printf("  manifest %s (%s)%s%s\n", ecr_image_digest(img), ecr_image_media_type(img), tag ? " tagged " : "",
		tag ? tag : "");
	rc = 0;
done:
	ecr_image_free(img);
	yajl_tree_free(doc);
	free(text);
	return rc;
}

/* The manifest of index.json to push: annotated with tag, or the only one. */
static int pick_manifest(char **digest_out, char **media_type_out, const char *tag)
{
	char path[4096];
	char *text = NULL;
	size_t len, i;
	yajl_val doc = NULL, list;
	const char *manifests_path[] = { "manifests", NULL };
	const char *ref_path[] = { "annotations", "org.opencontainers.image.ref.name", NULL };
	yajl_val pick = NULL;
	const char *d, *mt;
	int error = -1;

	snprintf(path, sizeof(path), "%s/index.json", layout_dir);
	if (read_file(&text, &len, path, ECR_MANIFEST_MAX_SIZE) < 0)
		return -1;
	if ((doc = parse_json(text, path)) == NULL)
		goto done;
	list = yajl_tree_get(doc, manifests_path, yajl_t_array);
	if (list == NULL || YAJL_GET_ARRAY(list)->len == 0) {
		fprintf(stderr, "push-layout: %s lists no manifests\n", path);
		goto done;
	}
	for (i = 0; i < YAJL_GET_ARRAY(list)->len; i++) {
		yajl_val m = YAJL_GET_ARRAY(list)->values[i];
		yajl_val ref = yajl_tree_get(m, ref_path, yajl_t_string);
		const char *ref_name = ref != NULL ? YAJL_GET_STRING(ref) : NULL;

		if (ref_name != NULL && strcmp(ref_name, tag) == 0)
			pick = m;
	}
	if (pick == NULL && YAJL_GET_ARRAY(list)->len == 1)
		pick = YAJL_GET_ARRAY(list)->values[0];
	if (pick == NULL) {
		fprintf(stderr, "push-layout: %s: no manifest is named \"%s\"\n", path, tag);
		goto done;
	}
	if ((d = json_string(pick, "digest")) == NULL) {
		fprintf(stderr, "push-layout: %s: a manifest has no digest\n", path);
		goto done;
	}
	mt = json_string(pick, "mediaType");
	if ((*digest_out = strdup(d)) == NULL || (mt != NULL && (*media_type_out = strdup(mt)) == NULL)) {
		fprintf(stderr, "push-layout: out of memory\n");
		goto done;
	}
	error = 0;
done:
	yajl_tree_free(doc);
	free(text);
	return error;
}

int main(int argc, char **argv)
{
	ecr_registry *reg = NULL;
	ecr_repository *repo = NULL;
	char *name = NULL, *tag, *digest = NULL, *media_type = NULL;
	int rc, initialised = 0, status = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: %s LAYOUT_DIR REGISTRY_URL NAME:TAG\n", argv[0]);
		return 2;
	}
	layout_dir = argv[1];
	if ((name = strdup(argv[3])) == NULL)
		return 1;
	tag = strrchr(name, ':');
	if (tag == NULL || strchr(tag, '/') != NULL) {
		fprintf(stderr, "push-layout: \"%s\" is not NAME:TAG\n", argv[3]);
		goto done;
	}
	*tag++ = '\0';

	if (pick_manifest(&digest, &media_type, tag) < 0)
		goto done;

	if ((rc = ecr_init()) < 0) {
		fail_ecr(rc, "ecr_init");
		goto done;
	}
	initialised = 1;
	if ((rc = ecr_registry_open(&reg, argv[2], NULL)) < 0) {
		fail_ecr(rc, argv[2]);
		goto done;
	}
	rc = ecr_repository_open(&repo, reg, name);
	if (rc == ECR_EREPOSITORY_NOT_FOUND) {
		if ((rc = ecr_repository_create(&repo, reg, name, NULL)) < 0) {
			fail_ecr(rc, "ecr_repository_create");
			goto done;
		}
		printf("created repository %s\n", ecr_repository_name(repo));
	} else if (rc < 0) {
		fail_ecr(rc, "ecr_repository_open");
		goto done;
	}

	printf("pushing %s to %s as %s:%s\n", digest, argv[2], name, tag);
	if (push_manifest(repo, digest, media_type, tag, 0) < 0)
		goto done;
	printf("pushed %s:%s %s\n", name, tag, digest);
	status = 0;
done:
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	if (initialised && (rc = ecr_shutdown()) < 0) {
		fail_ecr(rc, "ecr_shutdown");
		status = 1;
	}
	free(digest);
	free(media_type);
	free(name);
	return status;
}
