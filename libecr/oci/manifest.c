/*
 * Manifest parsing and validation. Manifests are stored as pushed; this only
 * checks them and extracts the descriptors the engine needs.
 *
 * Sources: OCI image-spec v1.1 (manifest.md, image-index.md, descriptor.md,
 * the artifact guidelines and schema/defs-descriptor.json), the Docker Image
 * Manifest V2 Schema 2 / manifest list spec, ECR's PutImage checks.
 *
 * The checks, in this order (the first failure wins):
 *
 *  1. len > ECR_MANIFEST_MAX_SIZE: ECR_ELIMIT. len == 0 (or data NULL):
 *     ECR_EINVALID.
 *  2. The bytes are parsed as JSON with limits (depth 32, 262144 nodes,
 *     strings up to the manifest size; duplicate keys and invalid UTF-8 are
 *     rejected by the parser). Any parse failure, the parser's own limits
 *     included, is ECR_EINVALID (the size limit of step 1 is the only
 *     ECR_ELIMIT of the document as a whole). The root must be an object.
 *  3. The body's "mediaType", when present, must be a string.
 *     content_type is the client's media type; parameters after ';' and
 *     blanks are ignored, and NULL, "" and the generic "application/json"
 *     count as "not given".
 *  4. Docker schema 1 (body mediaType or content_type is
 *     ...manifest.v1+json / v1+prettyjws, or schemaVersion is 1):
 *     ECR_EUNSUPPORTED.
 *  5. schemaVersion must be the integer 2 (missing, not an integer, or another
 *     value: ECR_EINVALID).
 *  6. Both the body's mediaType and content_type given and different (as
 *     media types: case-insensitive, parameters ignored): ECR_EINVALID.
 *  7. The media type is the body's mediaType, else content_type. When it is
 *     not one of the four supported types: ECR_EINVALID if it does not even
 *     match the media type grammar, else ECR_EUNSUPPORTED. When neither is
 *     given (OCI allows mediaType to be absent), the type is inferred: a
 *     "manifests" member and no "config"/"layers" is an OCI index; "config"
 *     and "layers" and no "manifests" is an OCI image manifest; anything else
 *     is ECR_EINVALID. The manifest's media_type is then the canonical
 *     spelling of its kind.
 *  8. Manifest/index confusion (image-spec "mediaType SHOULD be used"): an
 *     image manifest must not have "manifests", an index must have neither
 *     "config" nor "layers": ECR_EINVALID.
 *  9. Descriptors (config, layers[i], manifests[i], subject), each:
 *     - an object;
 *     - "mediaType": required string matching the image-spec grammar
 *       [A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126};
 *     - "digest": required string, valid per ecr__oci_check_digest: sha256 or
 *       sha512 lowercase hex; grammatical digests of other algorithms are
 *       ECR_EUNSUPPORTED, malformed ones ECR_EINVALID;
 *     - "size": required integer, 0 <= size <= INT64_MAX;
 *     - optional "artifactType" (string, media type grammar), "urls" (array
 *       of strings), "annotations" (object of strings), "data" (string);
 *     - "platform" (index entries): an object with "architecture" and "os"
 *       strings; optional "os.version" and "variant" strings, "os.features"
 *       and "features" arrays of strings.
 *     Strings must not contain NUL characters.
 * 10. Docker V2 schema 2: "config" descriptor required (its mediaType should
 *     be the docker config type; any valid one is accepted), "layers" array
 *     required. The Docker spec sets no minimum number of layers and FROM
 *     scratch images without files have none, so an empty "layers" is
 *     accepted. artifactType and subject are not Docker fields: ignored.
 * 11. OCI image manifest: "config" required, "layers" required array;
 *     optional "artifactType" (media type grammar), "subject" descriptor and
 *     "annotations" (object of strings). Per image-spec 1.1:
 *     - config.mediaType application/vnd.oci.empty.v1+json requires
 *       artifactType ("MUST be defined");
 *     - "layers" may be empty only for artifacts: with artifactType, or a
 *       config mediaType other than application/vnd.oci.image.config.v1+json
 *       (an image config requires "the base layer at index 0").
 * 12. Docker manifest list: "manifests" array required; every entry needs
 *     "platform". OCI index: "manifests" array required (may be empty);
 *     "platform" optional; optional "artifactType", "subject", "annotations".
 *     In both, an entry's mediaType must be one of the four supported
 *     manifest / index types, else ECR_EINVALID (the image-spec asks clients
 *     to tolerate unknown entries, but ECR requires every child to be an
 *     image of the repository, which only a manifest can be).
 * 13. At most ECR__OCI_MAX_DESCRIPTORS layers or manifests: ECR_ELIMIT.
 *
 * Unknown members are ignored. Errors have class ECR_ERROR_OCI and messages
 * of the form "manifest: layers[3].digest: invalid digest 'sha256:xyz': ...".
 */
#include "oci.h"

#include <stdarg.h>
#include <stdio.h>

#include "../core/json.h"
#include "ecr/image.h"

#define QUOTE_MAX 80
#define PATH_MAX_LEN 64

static int failf(int code, const char *path, const char *field, const char *fmt, ...) ECR__PRINTF(4, 5);

/* "manifest: <path>.<field>: <message>" */
static int failf(int code, const char *path, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	bool has_path = path && *path, has_field = field && *field;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ecr__fail(code, ECR_ERROR_OCI, "manifest: %s%s%s%s%s", has_path ? path : "",
		(has_path && has_field) ? "." : "", has_field ? field : "", (has_path || has_field) ? ": " : "", msg);
}

static const char *type_name(const ecr__json *v)
{
	switch (v->type) {
	case ECR__JSON_NULL:
		return "null";
	case ECR__JSON_BOOL:
		return "a boolean";
	case ECR__JSON_NUMBER:
		return "a number";
	case ECR__JSON_STRING:
		return "a string";
	case ECR__JSON_ARRAY:
		return "an array";
	case ECR__JSON_OBJECT:
		return "an object";
	}
	return "a value";
}

static int check_string(const ecr__json *v, const char *path, const char *field)
{
	if (v->type != ECR__JSON_STRING)
		return failf(ECR_EINVALID, path, field, "must be a string, not %s", type_name(v));
	if (strlen(v->string) != v->length)
		return failf(ECR_EINVALID, path, field, "must not contain NUL characters");
	return 0;
}

/* An optional string member: *out NULL when absent. */
static int opt_string(const char **out, const ecr__json *obj, const char *path, const char *key)
{
	const ecr__json *v = ecr__json_get(obj, key);
	int rc;

	*out = NULL;
	if (!v)
		return 0;
	if ((rc = check_string(v, path, key)) < 0)
		return rc;
	*out = v->string;
	return 0;
}

static int req_string(const char **out, const ecr__json *obj, const char *path, const char *key)
{
	int rc = opt_string(out, obj, path, key);

	if (rc == 0 && !*out)
		return failf(ECR_EINVALID, path, key, "missing");
	return rc;
}

static int check_media_type(const char *mt, const char *path, const char *key)
{
	char q[QUOTE_MAX];

	if (!ecr__oci_media_type_valid(mt))
		return failf(ECR_EINVALID, path, key, "invalid media type '%s' (expected type/subtype, RFC 6838)",
			ecr__oci_quote(q, sizeof(q), mt, strlen(mt)));
	return 0;
}

static int opt_string_array(const ecr__json *obj, const char *path, const char *key)
{
	const ecr__json *v = ecr__json_get(obj, key);
	char field[PATH_MAX_LEN];
	size_t i;
	int rc;

	if (!v)
		return 0;
	if (v->type != ECR__JSON_ARRAY)
		return failf(ECR_EINVALID, path, key, "must be an array of strings, not %s", type_name(v));
	for (i = 0; i < v->count; i++) {
		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		if ((rc = check_string(v->values[i], path, field)) < 0)
			return rc;
	}
	return 0;
}

/* annotations: an object whose values are strings. */
static int opt_string_map(const ecr__json *obj, const char *path, const char *key)
{
	const ecr__json *v = ecr__json_get(obj, key);
	char q[QUOTE_MAX];
	size_t i;

	if (!v)
		return 0;
	if (v->type != ECR__JSON_OBJECT)
		return failf(ECR_EINVALID, path, key, "must be an object of strings, not %s", type_name(v));
	for (i = 0; i < v->count; i++)
		if (v->values[i]->type != ECR__JSON_STRING)
			return failf(ECR_EINVALID, path, key, "value of '%s' must be a string, not %s",
				ecr__oci_quote(q, sizeof(q), v->keys[i], strlen(v->keys[i])),
				type_name(v->values[i]));
	return 0;
}

static void descriptor_dispose(ecr__descriptor *d)
{
	ecr__free(d->media_type);
	ecr__free(d->digest);
	ecr__free(d->artifact_type);
	ecr__free(d->platform_os);
	ecr__free(d->platform_arch);
	memset(d, 0, sizeof(*d));
}

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (s && !(*out = ecr__strdup(s)))
		return ECR_ENOMEM;
	return 0;
}

static int parse_platform(const ecr__json *v, const char *path, const char **os, const char **arch)
{
	char ppath[PATH_MAX_LEN + 16];
	const char *s;
	int rc;

	snprintf(ppath, sizeof(ppath), "%s%splatform", path, *path ? "." : "");
	if (v->type != ECR__JSON_OBJECT)
		return failf(ECR_EINVALID, ppath, NULL, "must be an object, not %s", type_name(v));
	if ((rc = req_string(arch, v, ppath, "architecture")) < 0 || (rc = req_string(os, v, ppath, "os")) < 0 ||
	    (rc = opt_string(&s, v, ppath, "os.version")) < 0 || (rc = opt_string(&s, v, ppath, "variant")) < 0 ||
	    (rc = opt_string_array(v, ppath, "os.features")) < 0 || (rc = opt_string_array(v, ppath, "features")) < 0)
		return rc;
	return 0;
}

/* Parse one descriptor at path; platform_required for Docker list entries. */
static int parse_descriptor(ecr__descriptor *d, const ecr__json *v, const char *path, bool platform_required)
{
	const char *mt, *digest, *artifact_type, *data, *os = NULL, *arch = NULL, *reason = NULL;
	const ecr__json *size, *platform;
	char q[QUOTE_MAX];
	int rc;

	memset(d, 0, sizeof(*d));
	if (v->type != ECR__JSON_OBJECT)
		return failf(ECR_EINVALID, path, NULL, "must be an object (a descriptor), not %s", type_name(v));

	if ((rc = req_string(&mt, v, path, "mediaType")) < 0 || (rc = check_media_type(mt, path, "mediaType")) < 0)
		return rc;

	if ((rc = req_string(&digest, v, path, "digest")) < 0)
		return rc;
	if ((rc = ecr__oci_check_digest(digest, strlen(digest), NULL, &reason)) < 0)
		return failf(rc, path, "digest", "invalid digest '%s': %s",
			ecr__oci_quote(q, sizeof(q), digest, strlen(digest)), reason);

	size = ecr__json_get(v, "size");
	if (!size)
		return failf(ECR_EINVALID, path, "size", "missing");
	if (size->type != ECR__JSON_NUMBER || !size->is_integer)
		return failf(ECR_EINVALID, path, "size", "must be an integer from 0 to 2^63-1");
	if (size->integer < 0)
		return failf(ECR_EINVALID, path, "size", "must not be negative (%lld)", (long long)size->integer);

	if ((rc = opt_string(&artifact_type, v, path, "artifactType")) < 0 ||
	    (artifact_type && (rc = check_media_type(artifact_type, path, "artifactType")) < 0))
		return rc;
	if ((rc = opt_string_array(v, path, "urls")) < 0 || (rc = opt_string_map(v, path, "annotations")) < 0 ||
	    (rc = opt_string(&data, v, path, "data")) < 0)
		return rc;

	platform = ecr__json_get(v, "platform");
	if (platform) {
		if ((rc = parse_platform(platform, path, &os, &arch)) < 0)
			return rc;
	} else if (platform_required) {
		return failf(ECR_EINVALID, path, "platform", "missing (required in a Docker manifest list)");
	}

	d->size = size->integer;
	if (!(d->media_type = ecr__strdup(mt)) || !(d->digest = ecr__strdup(digest)) ||
	    dup_opt(&d->artifact_type, artifact_type) < 0 || dup_opt(&d->platform_os, os) < 0 ||
	    dup_opt(&d->platform_arch, arch) < 0) {
		descriptor_dispose(d);
		return ECR_ENOMEM;
	}
	return 0;
}

/* A required array of descriptors: "layers" or "manifests". */
static int parse_descriptor_array(ecr__descriptor **out, size_t *count_out, const ecr__json *root, const char *key,
	bool index_entries, bool platform_required)
{
	const ecr__json *arr = ecr__json_get(root, key);
	ecr__descriptor *ds = NULL;
	char path[PATH_MAX_LEN], q[QUOTE_MAX];
	size_t i, n = 0;
	int rc = 0;

	*out = NULL;
	*count_out = 0;
	if (!arr)
		return failf(ECR_EINVALID, NULL, key, "missing");
	if (arr->type != ECR__JSON_ARRAY)
		return failf(ECR_EINVALID, NULL, key, "must be an array, not %s", type_name(arr));
	if (arr->count > ECR__OCI_MAX_DESCRIPTORS)
		return failf(ECR_ELIMIT, NULL, key, "%zu entries, at most %d are allowed", arr->count,
			ECR__OCI_MAX_DESCRIPTORS);
	if (arr->count == 0)
		return 0;
	if (!(ds = ecr__calloc(arr->count, sizeof(*ds))))
		return ECR_ENOMEM;
	for (i = 0; i < arr->count; i++) {
		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		if ((rc = parse_descriptor(&ds[i], arr->values[i], path, platform_required)) < 0)
			goto done;
		n++;
		if (index_entries && ecr__oci_manifest_kind(ds[i].media_type) == ECR__MANIFEST_UNKNOWN) {
			rc = failf(ECR_EINVALID, path, "mediaType",
				"'%s' is not a manifest or index media type",
				ecr__oci_quote(q, sizeof(q), ds[i].media_type, strlen(ds[i].media_type)));
			goto done;
		}
	}
	*out = ds;
	*count_out = n;
	ds = NULL;
done:
	if (ds) {
		for (i = 0; i < n; i++)
			descriptor_dispose(&ds[i]);
		ecr__free(ds);
	}
	return rc;
}

void ecr__manifest_free(ecr__manifest *m)
{
	size_t i;

	if (!m)
		return;
	ecr__free(m->media_type);
	ecr__free(m->artifact_type);
	descriptor_dispose(&m->config);
	for (i = 0; i < m->layers_count; i++)
		descriptor_dispose(&m->layers[i]);
	ecr__free(m->layers);
	for (i = 0; i < m->manifests_count; i++)
		descriptor_dispose(&m->manifests[i]);
	ecr__free(m->manifests);
	descriptor_dispose(&m->subject);
	ecr__free(m);
}

const char *ecr__manifest_artifact_type(const ecr__manifest *m)
{
	if (!m)
		return NULL;
	if (m->artifact_type)
		return m->artifact_type;
	if (m->has_config)
		return m->config.media_type;
	return NULL;
}

/* The OCI-only members: artifactType, subject, annotations. */
static int parse_oci_extras(ecr__manifest *m, const ecr__json *root)
{
	const char *artifact_type;
	const ecr__json *subject;
	int rc;

	if ((rc = opt_string(&artifact_type, root, NULL, "artifactType")) < 0 ||
	    (artifact_type && (rc = check_media_type(artifact_type, NULL, "artifactType")) < 0) ||
	    (rc = opt_string_map(root, NULL, "annotations")) < 0)
		return rc;
	if (artifact_type && !(m->artifact_type = ecr__strdup(artifact_type)))
		return ECR_ENOMEM;
	subject = ecr__json_get(root, "subject");
	if (subject) {
		if ((rc = parse_descriptor(&m->subject, subject, "subject", false)) < 0)
			return rc;
		m->has_subject = true;
	}
	return 0;
}

static int parse_image(ecr__manifest *m, const ecr__json *root)
{
	const ecr__json *config;
	bool oci = m->kind == ECR__MANIFEST_OCI;
	int rc;

	if (ecr__json_get(root, "manifests"))
		return failf(ECR_EINVALID, NULL, "manifests", "not allowed in an image manifest (%s)", m->media_type);
	if (oci && (rc = parse_oci_extras(m, root)) < 0)
		return rc;

	config = ecr__json_get(root, "config");
	if (!config)
		return failf(ECR_EINVALID, NULL, "config", "missing");
	if ((rc = parse_descriptor(&m->config, config, "config", false)) < 0)
		return rc;
	m->has_config = true;
	if ((rc = parse_descriptor_array(&m->layers, &m->layers_count, root, "layers", false, false)) < 0)
		return rc;

	if (oci) {
		if (!m->artifact_type && ecr__oci_media_type_equal(m->config.media_type, ECR__MT_OCI_EMPTY))
			return failf(ECR_EINVALID, NULL, "artifactType",
				"missing; required when config.mediaType is " ECR__MT_OCI_EMPTY);
		if (m->layers_count == 0 && !m->artifact_type &&
		    ecr__oci_media_type_equal(m->config.media_type, ECR__MT_OCI_CONFIG))
			return failf(ECR_EINVALID, NULL, "layers",
				"empty; an image (config.mediaType " ECR__MT_OCI_CONFIG
				") needs a base layer, only artifacts may have no layers");
	}
	return 0;
}

static int parse_index(ecr__manifest *m, const ecr__json *root)
{
	bool docker = m->kind == ECR__MANIFEST_DOCKER_LIST;
	int rc;

	if (ecr__json_get(root, "config"))
		return failf(ECR_EINVALID, NULL, "config", "not allowed in an index (%s)", m->media_type);
	if (ecr__json_get(root, "layers"))
		return failf(ECR_EINVALID, NULL, "layers", "not allowed in an index (%s)", m->media_type);
	if (!docker && (rc = parse_oci_extras(m, root)) < 0)
		return rc;
	return parse_descriptor_array(&m->manifests, &m->manifests_count, root, "manifests", true, docker);
}

/* NULL, "", blanks only, and the generic application/json mean "not given". */
static const char *given_content_type(const char *ct)
{
	if (!ct)
		return NULL;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (*ct == '\0' || *ct == ';' || ecr__oci_media_type_equal(ct, "application/json"))
		return NULL;
	return ct;
}

/* The type/subtype of a media type, without parameters, for messages. */
static char *quote_mt(char *out, size_t outlen, const char *mt)
{
	size_t n = strcspn(mt, ";");

	while (n > 0 && (mt[n - 1] == ' ' || mt[n - 1] == '\t'))
		n--;
	return ecr__oci_quote(out, outlen, mt, n);
}

static int kind_of(ecr__manifest_kind *out, const char *mt, const char *field)
{
	char q[QUOTE_MAX], ess[256];
	size_t n;

	*out = ecr__oci_manifest_kind(mt);
	if (*out != ECR__MANIFEST_UNKNOWN)
		return 0;
	quote_mt(q, sizeof(q), mt);
	/* the grammar applies to type/subtype, without parameters or blanks */
	while (*mt == ' ' || *mt == '\t')
		mt++;
	n = strcspn(mt, ";");
	while (n > 0 && (mt[n - 1] == ' ' || mt[n - 1] == '\t'))
		n--;
	if (n >= sizeof(ess))
		n = sizeof(ess) - 1;
	memcpy(ess, mt, n);
	ess[n] = '\0';
	if (!ecr__oci_media_type_valid(ess))
		return failf(ECR_EINVALID, NULL, field, "invalid media type '%s'", q);
	return failf(ECR_EUNSUPPORTED, NULL, field, "unsupported manifest media type '%s'", q);
}

int ecr__manifest_parse(ecr__manifest **out, const void *data, size_t len, const char *content_type)
{
	ecr__json_limits limits = { ECR_MANIFEST_MAX_SIZE, 32, 262144, ECR_MANIFEST_MAX_SIZE };
	ecr__json *root = NULL;
	ecr__manifest *m = NULL;
	const ecr__json *sv;
	const char *body_mt = NULL, *ct;
	char q1[QUOTE_MAX], q2[QUOTE_MAX];
	bool has_manifests, has_config, has_layers;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "manifest: no output");
	*out = NULL;
	if (len > ECR_MANIFEST_MAX_SIZE)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_OCI, "manifest: %zu bytes, larger than the %d bytes allowed", len,
			ECR_MANIFEST_MAX_SIZE);
	if (!data || len == 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "manifest: empty");

	if ((rc = ecr__json_parse(&root, data, len, &limits)) < 0) {
		if (rc != ECR_ENOMEM) {
			char jmsg[512];
			snprintf(jmsg, sizeof(jmsg), "%s", ecr_error_last()->message);
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "manifest: invalid JSON: %s", jmsg);
		}
		goto done;
	}
	if (root->type != ECR__JSON_OBJECT) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "manifest: must be a JSON object, not %s", type_name(root));
		goto done;
	}

	/* 3. media types */
	if ((rc = opt_string(&body_mt, root, NULL, "mediaType")) < 0)
		goto done;
	ct = given_content_type(content_type);

	/* 4, 5. schema version */
	sv = ecr__json_get(root, "schemaVersion");
	if (ecr__oci_media_type_is_schema1(body_mt) || ecr__oci_media_type_is_schema1(ct) ||
	    (sv && sv->type == ECR__JSON_NUMBER && sv->is_integer && sv->integer == 1)) {
		rc = failf(ECR_EUNSUPPORTED, NULL, NULL,
			"Docker image manifest schema 1 is not supported; push a schema 2 or OCI manifest");
		goto done;
	}
	if (!sv) {
		rc = failf(ECR_EINVALID, NULL, "schemaVersion", "missing");
		goto done;
	}
	if (sv->type != ECR__JSON_NUMBER || !sv->is_integer || sv->integer != 2) {
		rc = failf(ECR_EINVALID, NULL, "schemaVersion", "must be 2");
		goto done;
	}

	if (!(m = ecr__calloc(1, sizeof(*m)))) {
		rc = ECR_ENOMEM;
		goto done;
	}

	/* 6, 7. the effective media type */
	if (body_mt && ct && !ecr__oci_media_type_equal(body_mt, ct)) {
		rc = failf(ECR_EINVALID, NULL, "mediaType", "'%s' does not match the given media type '%s'",
			quote_mt(q1, sizeof(q1), body_mt), quote_mt(q2, sizeof(q2), ct));
		goto done;
	}
	has_manifests = ecr__json_get(root, "manifests") != NULL;
	has_config = ecr__json_get(root, "config") != NULL;
	has_layers = ecr__json_get(root, "layers") != NULL;
	if (body_mt) {
		if ((rc = kind_of(&m->kind, body_mt, "mediaType")) < 0)
			goto done;
	} else if (ct) {
		if ((rc = kind_of(&m->kind, ct, "media type")) < 0)
			goto done;
	} else if (has_manifests && !has_config && !has_layers) {
		m->kind = ECR__MANIFEST_OCI_INDEX;
	} else if (!has_manifests && has_config && has_layers) {
		m->kind = ECR__MANIFEST_OCI;
	} else {
		rc = failf(ECR_EINVALID, NULL, "mediaType",
			"missing and no media type given; cannot tell an image manifest (config, layers) "
			"from an index (manifests)");
		goto done;
	}
	if (!(m->media_type = ecr__strdup(ecr__oci_kind_media_type(m->kind)))) {
		rc = ECR_ENOMEM;
		goto done;
	}

	/* 8-13. the body */
	if (ecr__oci_kind_is_index(m->kind))
		rc = parse_index(m, root);
	else
		rc = parse_image(m, root);
	if (rc < 0)
		goto done;

	*out = m;
	m = NULL;
	rc = 0;
done:
	ecr__manifest_free(m);
	ecr__json_free(root);
	return rc;
}
