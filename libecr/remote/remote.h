/*
 * The remote side of the public API: a registry handle whose operations go
 * over a transport (ecr/sys/transport.h) instead of into the engine. The
 * engine's public functions start with
 *     if (reg->remote) return ecr__remote_<function>(...);
 * and the functions of libecr/remote/ turn the call into ECR API operations
 * (transport call()) or OCI Distribution requests, and the answers into the
 * same handles, values and ECR_E* codes the engine gives.
 *
 * remote.c: the registry handle over a transport, and the helpers below.
 * remote_repo.h:  registry-wide settings, repositories, policies, lifecycle, scan results, tokens.
 * remote_image.h: images, tags, blobs, uploads.
 */
#ifndef ECR_REMOTE_REMOTE_H
#define ECR_REMOTE_REMOTE_H

#include "../engine/engine.h"
#include "../core/json.h"
#include "ecr/sys/transport.h"

struct ecr__remote {
	ecr_transport *t;
	uint32_t features; /* ECR_TRANSPORT_HAS_* (from info()) */
	char *host;        /* "host[:port]": repository URIs are <host>/<name> */
};

/* Open a registry handle on an http:// or https:// URL (the HTTP transport). */
int ecr__remote_open_url(ecr_registry **out, const char *url, const ecr_registry_options *opts);
/* Release a handle's remote part (its transport too); NULL is a no-op. */
void ecr__remote_free(ecr__remote *r);

/* Give a handle a name in messages: "remote registry <host>". */
#define ECR__REMOTE_HOST(reg) ((reg)->remote->host)

/*
 * Run one ECR API operation: w holds the request object (finished here, and
 * freed); *out receives the parsed response object (ecr__json_free). Without
 * the ECR API (a plain OCI registry): ECR_ENOTSUPPORTED naming the operation.
 * Any other failure is the transport's code and message, unchanged.
 */
int ecr__remote_call(ecr__json **out, ecr_registry *reg, const char *operation, ecr__jw *w);
/* Close the request object w (rc: how building it went) and, when all went well, run it with
 * ecr__remote_call(); w is freed and *out set (NULL on failure) in every case. */
int ecr__remote_run(ecr__json **out, ecr_registry *reg, const char *operation, ecr__jw *w, int rc);
/* Run an operation whose request is the JSON object text json (as it is, or as the member `member` of the request
 * when member is not NULL); json not an object: ECR_EINVALID with not_object as the message. *out as above. */
int ecr__remote_call_json(ecr__json **out, ecr_registry *reg, const char *operation, const char *member,
	const char *json, const char *not_object);
/* Put the string member key of the response res of operation into out (its content replaced when replace,
 * appended to otherwise; out NULL: only checked). A missing one: ECR_ERROR, a malformed response. */
int ecr__remote_copy_string(ecr_buf *out, bool replace, const ecr_registry *reg, const ecr__json *res,
	const char *operation, const char *key);

/* Fail with ECR_ENOTSUPPORTED: "<what> is not available on the remote registry <host>: <why>". */
int ecr__remote_unsupported(const ecr_registry *reg, const char *what, const char *why);

/* ECR API timestamps (epoch seconds, fractional) in ms; 0 when absent. */
int64_t ecr__remote_time(const ecr__json *obj, const char *key);

#endif
