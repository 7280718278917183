/* The OCI model: the distribution spec's reference grammar, media types, and
 * validation of manifests (Docker v2 schema 2, Docker manifest list, OCI image
 * manifest, OCI image index, OCI artifacts with artifactType and subject).
 * Manifests are never re-serialised: parsing only validates and extracts the
 * descriptors the engine needs. */
#ifndef ECR_OCI_OCI_H
#define ECR_OCI_OCI_H

#include "../core/core.h"
#include "../core/digest.h"

/* Limits. */
#define ECR__OCI_NAME_MAX 256        /* ECR's repositoryName max (min 2) */
#define ECR__OCI_TAG_MAX 128         /* distribution spec tag grammar */
#define ECR__OCI_MAX_DESCRIPTORS 10000 /* layers or manifests in one manifest */

/* Repository name: the distribution spec grammar
 *   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 * and ECR's length 2..256. ECR_EINVALID with a message naming the rule. */
int ecr__oci_validate_name(const char *name);
/* Whether name[0..len) matches that grammar (no length rule, no message). */
bool ecr__oci_name_grammar_ok(const char *name, size_t len);
/* ECR's repository prefix (creation templates, pull-through cache rules): "ROOT", or the name grammar with an
 * optional trailing '/' (no length rule, no message). */
bool ecr__oci_prefix_ok(const char *prefix);
/* Tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
int ecr__oci_validate_tag(const char *tag);
/* Digest: "sha256:" + 64 lowercase hex or "sha512:" + 128 lowercase hex.
 * alg_out may be NULL. Other algorithms that match the spec's general grammar
 * get ECR_EUNSUPPORTED; malformed ones ECR_EINVALID. */
int ecr__oci_validate_digest(const char *digest, ecr__digest_alg *alg_out);
/* True when s looks like a digest (contains ':'), i.e. is not a tag. */
bool ecr__oci_is_digest(const char *s);

/* Like ecr__oci_validate_digest for len bytes, without setting the error:
 * returns 0, ECR_EINVALID or ECR_EUNSUPPORTED and points *reason (when not
 * NULL) at a static explanation. For callers that add their own context. */
int ecr__oci_check_digest(const char *digest, size_t len, ecr__digest_alg *alg_out, const char **reason);

/* Copy at most max characters of s (len bytes) into out (outlen > 0) for an
 * error message: bytes outside printable ASCII become '?', a cut string ends
 * in "...". Always NUL-terminates; returns out. */
char *ecr__oci_quote(char *out, size_t outlen, const char *s, size_t len);

/* A full reference: [host[:port]/]name[:tag][@digest]. */
typedef struct ecr__oci_reference {
	char *host;   /* NULL when absent */
	char *name;
	char *tag;    /* NULL when absent */
	char *digest; /* NULL when absent */
} ecr__oci_reference;
int ecr__oci_reference_parse(ecr__oci_reference *out, const char *ref);
void ecr__oci_reference_dispose(ecr__oci_reference *ref);

/* Media types. */
#define ECR__MT_DOCKER_MANIFEST_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define ECR__MT_DOCKER_MANIFEST_V1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define ECR__MT_DOCKER_MANIFEST_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define ECR__MT_DOCKER_MANIFEST_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define ECR__MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define ECR__MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define ECR__MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define ECR__MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define ECR__MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"

typedef enum ecr__manifest_kind {
	ECR__MANIFEST_UNKNOWN = 0,
	ECR__MANIFEST_DOCKER_V2,   /* single image, docker */
	ECR__MANIFEST_DOCKER_LIST, /* docker manifest list */
	ECR__MANIFEST_OCI,         /* OCI image manifest (images and artifacts) */
	ECR__MANIFEST_OCI_INDEX    /* OCI image index */
} ecr__manifest_kind;

/* Kind of a manifest media type (ignoring parameters such as "; charset=");
 * UNKNOWN for anything else. */
ecr__manifest_kind ecr__oci_manifest_kind(const char *media_type);
/* True for index-like kinds (DOCKER_LIST, OCI_INDEX). */
bool ecr__oci_kind_is_index(ecr__manifest_kind kind);
/* The canonical media type of a kind; NULL for UNKNOWN. */
const char *ecr__oci_kind_media_type(ecr__manifest_kind kind);
/* True for Docker schema 1 types (v1+json, v1+prettyjws), parameters ignored. */
bool ecr__oci_media_type_is_schema1(const char *media_type);
/* True when two media types are the same type/subtype: parameters after ';'
 * and surrounding blanks are ignored, letters compared case-insensitively
 * (RFC 6838). NULL equals nothing. */
bool ecr__oci_media_type_equal(const char *a, const char *b);
/* True when media_type (no parameters) matches the image-spec's descriptor
 * grammar (RFC 6838 restricted names):
 *   [A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126} "/" [A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126} */
bool ecr__oci_media_type_valid(const char *media_type);

typedef struct ecr__descriptor {
	char *media_type;
	char *digest;
	int64_t size;
	char *artifact_type;  /* may be NULL */
	char *platform_os;    /* index entries: may be NULL */
	char *platform_arch;  /* index entries: may be NULL */
} ecr__descriptor;

typedef struct ecr__manifest {
	ecr__manifest_kind kind;
	char *media_type;      /* the effective media type (body's mediaType, else the given one) */
	char *artifact_type;   /* artifactType, or NULL */
	bool has_config;
	ecr__descriptor config;      /* image manifests */
	ecr__descriptor *layers;     /* image manifests: layers (OCI: may be empty for artifacts) */
	size_t layers_count;
	ecr__descriptor *manifests;  /* indexes */
	size_t manifests_count;
	bool has_subject;
	ecr__descriptor subject;     /* OCI 1.1 referrers */
} ecr__manifest;

/*
 * Parse and validate a manifest.
 * content_type: the media type the client declared (Content-Type or
 * imageManifestMediaType); NULL or "" when unknown.
 * Rules: valid JSON within ECR_MANIFEST_MAX_SIZE (else ECR_ELIMIT); schemaVersion 2;
 * media type from the body's "mediaType", else content_type (both present and
 * different: ECR_EINVALID); Docker schema 1 and unknown types: ECR_EUNSUPPORTED;
 * every descriptor has a mediaType string, a valid digest and a size >= 0;
 * docker v2 needs config and layers; OCI manifests need config, layers may be
 * empty only when artifactType or a non-image config media type makes it an
 * artifact... (see oci/manifest.c for the exact rules); index entries must be
 * manifests. Errors are ECR_EINVALID (class ECR_ERROR_OCI) with a message
 * saying which field is wrong.
 */
int ecr__manifest_parse(ecr__manifest **out, const void *data, size_t len, const char *content_type);
void ecr__manifest_free(ecr__manifest *m);

/* The artifact type as ECR reports it (artifactMediaType): artifactType, else
 * the config media type; NULL for indexes without artifactType. Borrowed. */
const char *ecr__manifest_artifact_type(const ecr__manifest *m);

#endif
