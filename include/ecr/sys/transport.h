/**
 * @file ecr/sys/transport.h
 * @brief The transport interface, for backend authors.
 * @defgroup ecr_sys_transport Transports
 *
 * A registry handle is either local (file://, memory:, custom storage: the
 * engine runs in this process) or remote: its operations travel over a
 * transport to a registry somewhere else. ecr_registry_open() picks the
 * built-in HTTP transport (libcurl) for http:// and https:// URLs; a program
 * can bring its own with ecr_registry_open_transport().
 *
 * A transport speaks the two protocols every registry the library talks to
 * speaks, at the level of their operations, not of HTTP:
 * - the ECR control plane: call() runs one operation of the Amazon ECR API
 *   (its JSON 1.1 request and response documents, as in
 *   reference/ecr-service-2.json);
 * - the OCI Distribution data plane: manifests, blobs, upload sessions, tags
 *   and referrers.
 * The library turns the public API's calls into these operations and their
 * answers back into handles, so every transport gets the same, already
 * validated arguments (names, references, digests) and every handle behaves
 * the same whatever carries it.
 *
 * Methods return 0 or a negative ECR_E* code and set the error (message) with
 * ecr_transport_fail(). A remote error becomes the code the local engine
 * returns for the same failure: an ECR __type maps through
 * ecr_error_from_exception(), an OCI error code through ecr_error_from_oci().
 * A registry that does not offer an operation at all (a plain OCI registry
 * has no ECR control plane) answers ECR_ENOTSUPPORTED.
 *
 * THREAD SAFETY: methods are called from many threads at once, each with its
 * own arguments; a blob stream is used by one thread at a time.
 * The interface in ecr/sys/ may change between minor releases.
 * @{
 */
#ifndef ECR_SYS_TRANSPORT_H
#define ECR_SYS_TRANSPORT_H

#include "../common.h"
#include "../buffer.h"
#include "../registry.h"

ECR_BEGIN_DECL

typedef struct ecr_transport ecr_transport;

/** A blob being downloaded, returned by blob_open(). */
typedef struct ecr_transport_stream ecr_transport_stream;
struct ecr_transport_stream {
	unsigned int version;
	/**
	 * Read up to len bytes into buf. *nread_out is 0 only at the end of the
	 * range. A transport resumes an interrupted download itself (ranged
	 * request from the next byte) before it gives up with ECR_ENETWORK.
	 * The bytes are the server's: the library checks the digest.
	 */
	int (*read)(ecr_transport_stream *s, void *buf, size_t len, size_t *nread_out);
	/** Stop and release the stream. */
	void (*close)(ecr_transport_stream *s);
};

#define ECR_TRANSPORT_STREAM_VERSION 1

/** What a registry behind a transport offers (info()). */
#define ECR_TRANSPORT_HAS_ECR_API 1u /**< the ECR control plane: call() works */
#define ECR_TRANSPORT_HAS_OCI 2u     /**< the OCI Distribution API */

struct ecr_transport {
	unsigned int version;

	/**
	 * What the registry behind the transport offers (ECR_TRANSPORT_HAS_*), its
	 * account id and region (each empty when unknown: a plain OCI registry),
	 * and the host[:port] of its data plane (the start of repository URIs).
	 * Called once, when the registry handle is opened; ECR_ENETWORK or
	 * ECR_EAUTH when the registry cannot be reached or refuses the credentials.
	 */
	int (*info)(uint32_t *features_out, ecr_buf *account_id_out, ecr_buf *region_out, ecr_buf *host_out,
		ecr_transport *t);

	/**
	 * Run one ECR API operation, e.g. "DescribeRepositories": request is its
	 * input document (a JSON object), response receives its output document.
	 * An ECR error response fails with the code of its __type and its message.
	 */
	int (*call)(ecr_buf *response, ecr_transport *t, const char *operation, const char *request, size_t request_len);

	/**
	 * Fetch a manifest by tag or digest, accepting every manifest media type the
	 * library knows. body receives the manifest, media_type its Content-Type and
	 * digest its digest (as computed from body; a server that states another is
	 * refused with ECR_EDIGEST). ECR_EREPOSITORY_NOT_FOUND, ECR_EIMAGE_NOT_FOUND.
	 */
	int (*manifest_get)(ecr_buf *body, ecr_buf *media_type, ecr_buf *digest, ecr_transport *t, const char *repository,
		const char *reference);
	/** Only the digest, media type and size of a manifest (HEAD). */
	int (*manifest_head)(ecr_buf *media_type, ecr_buf *digest, uint64_t *size_out, ecr_transport *t,
		const char *repository, const char *reference);
	/** Store a manifest under a tag or under its digest; digest_out (may be NULL) receives its digest. */
	int (*manifest_put)(ecr_buf *digest_out, ecr_transport *t, const char *repository, const char *reference,
		const char *media_type, const void *body, size_t len);
	/** Delete a manifest by digest, or a tag. */
	int (*manifest_delete)(ecr_transport *t, const char *repository, const char *reference);

	/** The size of a blob (HEAD); ECR_ENOTFOUND when the repository has no such blob. */
	int (*blob_stat)(uint64_t *size_out, ecr_transport *t, const char *repository, const char *digest);
	/**
	 * Start downloading length bytes of a blob from offset (length 0: to the
	 * end); *size_out receives the size of the whole blob.
	 */
	int (*blob_open)(ecr_transport_stream **out, uint64_t *size_out, ecr_transport *t, const char *repository,
		const char *digest, uint64_t offset, uint64_t length);
	/** Upload a whole blob held in memory in one go (small blobs). */
	int (*blob_put)(ecr_transport *t, const char *repository, const char *digest, const void *data, size_t len);
	/**
	 * Make a blob of repository from available in repository without copying
	 * it. ECR_ENOTFOUND when the registry did not mount it (then copy it).
	 */
	int (*blob_mount)(ecr_transport *t, const char *repository, const char *from, const char *digest);
	/** Delete a blob from a repository. */
	int (*blob_delete)(ecr_transport *t, const char *repository, const char *digest);

	/**
	 * Open an upload session; session_out receives the transport's handle on it:
	 * a printable string (for HTTP, the Location the registry gave) that lets
	 * any later call, in this process or another, resume the session. It may
	 * change with every write.
	 */
	int (*upload_begin)(ecr_buf *session_out, ecr_transport *t, const char *repository);
	/** The bytes a session holds so far; ECR_EUPLOAD when it is unknown or expired. */
	int (*upload_status)(uint64_t *size_out, ecr_transport *t, const char *repository, const char *session);
	/**
	 * Append len bytes at offset (the session's size: ECR_ERANGE otherwise).
	 * session is updated to the session's new handle.
	 */
	int (*upload_write)(ecr_buf *session, ecr_transport *t, const char *repository, uint64_t offset,
		const void *data, size_t len);
	/** Finish a session: the registry verifies digest and publishes the blob. ECR_EDIGEST on a mismatch. */
	int (*upload_commit)(ecr_transport *t, const char *repository, const char *session, const char *digest);
	/** Abandon a session. */
	int (*upload_cancel)(ecr_transport *t, const char *repository, const char *session);

	/**
	 * One page of a repository's tags in lexical order, after last (NULL: from
	 * the start), at most n (0: the registry's default): a JSON object
	 * {"name": ..., "tags": [...]} as the OCI tags/list route returns it;
	 * more_out is set when another page follows.
	 */
	int (*tags_list)(ecr_buf *json_out, int *more_out, ecr_transport *t, const char *repository, const char *last,
		unsigned int n);
	/** The referrers of a digest (an OCI image index), optionally of one artifact type only (NULL: all). */
	int (*referrers)(ecr_buf *index_out, ecr_transport *t, const char *repository, const char *digest,
		const char *artifact_type);

	/** Release the transport (after every handle that used it is gone). */
	void (*free)(ecr_transport *t);
};

#define ECR_TRANSPORT_VERSION 1

/**
 * Open a registry handle over a transport. The handle owns t from then on
 * (also on failure: t is freed). opts as for ecr_registry_open(); account_id
 * and region default to what info() reports.
 */
ECR_EXTERN(int) ecr_registry_open_transport(ecr_registry **out, ecr_transport *t, const ecr_registry_options *opts);

/** The transport of a remote registry handle, or NULL for a local one. */
ECR_EXTERN(ecr_transport *) ecr_registry_transport(const ecr_registry *reg);

/**
 * Set the calling thread's error (as ecr_error_last() reports it) and return
 * code: what a transport does when it fails. message is used as it is.
 */
ECR_EXTERN(int) ecr_transport_fail(int code, const char *message);

/**
 * The code of an ECR API error type (the __type of an error response, with
 * or without its "namespace#" prefix), e.g. ECR_EREPOSITORY_NOT_FOUND for
 * "RepositoryNotFoundException"; ECR_ERROR for a type the library does not know.
 */
ECR_EXTERN(int) ecr_error_from_exception(const char *type);

/**
 * The code of an OCI Distribution error code with its HTTP status, e.g.
 * ECR_EIMAGE_NOT_FOUND for MANIFEST_UNKNOWN (404), as the library's own
 * server answers them.
 */
ECR_EXTERN(int) ecr_error_from_oci(const char *oci_code, int http_status);

ECR_END_DECL
/** @} */
#endif
