/*
 * The HTTP transport (ecr/sys/transport.h over libcurl): its state, shared by
 * http_transport.c (construction, info, free), http_oci.c (the OCI
 * Distribution methods) and http_ecr.c (call(): the ECR API, SigV4).
 */
#ifndef ECR_TRANSPORT_HTTP_TRANSPORT_H
#define ECR_TRANSPORT_HTTP_TRANSPORT_H

#include <pthread.h>

#include "ecr/sys/transport.h"
#include "http.h"

/* AWS credentials (aws_creds.c). */
typedef struct ecr__aws_creds {
	char *access_key_id;     /* NULL: none found */
	char *secret_access_key;
	char *session_token;     /* or NULL */
} ecr__aws_creds;

/*
 * Resolve credentials as the AWS CLI does: explicit options (opts->access_key_id
 * and secret), else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,
 * else the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
 * $HOME/.aws/credentials; bounded size) section [profile] (opts->profile,
 * else AWS_PROFILE, else "default"). Finding none is not an error (fields NULL).
 * ECR_EINVALID for a malformed file section that names the profile but lacks a key.
 */
int ecr__aws_creds_resolve(ecr__aws_creds *out, const ecr_registry_options *opts);
void ecr__aws_creds_dispose(ecr__aws_creds *c);
/* The region from AWS_REGION, AWS_DEFAULT_REGION, or the config file ([profile X] / [default] "region"), or NULL
 * (allocated). */
char *ecr__aws_region_default(const ecr_registry_options *opts);

typedef struct ecr__http_transport {
	ecr_transport base; /* first: the vtable the library calls */
	ecr__http *data;    /* the registry URL: /v2/ */
	ecr__http *api;     /* the ECR API endpoint (its own pool; NULL when there is none: OCI only) */
	char *base_url;     /* "https://host:port" */
	char *host;         /* "host:port" as repository URIs start */
	char *account_id;   /* from options or the host name (<account>.dkr.ecr.<region>.amazonaws.com), or NULL */
	char *region;       /* likewise, or NULL */
	ecr__aws_creds creds;
	uint32_t remote_flags; /* ECR_REMOTE_* */
	bool basic_given;      /* username/password came from the options */
	pthread_mutex_t lock;  /* guards features_known, features, token_expires_at */
	bool features_known;
	uint32_t features;     /* ECR_TRANSPORT_HAS_* */
	int64_t token_expires_at; /* of the data-plane Basic token got through GetAuthorizationToken, ms; 0: none */
	ecr__logger log;
	bool region_defaulted; /* region came from neither the options nor the host (AWS config or us-east-1) */
} ecr__http_transport;

/* Build the transport for an http:// or https:// URL (http_transport.c). ECR_EINVALID for a bad URL. */
int ecr__http_transport_new(ecr_transport **out, const char *url, const ecr_registry_options *opts);

/* The OCI methods (http_oci.c) and the ECR API method (http_ecr.c), as the vtable takes them. */
void ecr__http_oci_install(ecr_transport *t);
int ecr__http_ecr_call(ecr_buf *response, ecr_transport *t, const char *operation, const char *request,
	size_t request_len);
/*
 * When the data plane has no Basic credentials of the caller's but AWS
 * credentials exist and the registry has the ECR API: get a token with
 * GetAuthorizationToken and give it to the data-plane client as "AWS:<token>";
 * renewed when it is within 5 minutes of its expiry. No-op otherwise (http_ecr.c).
 */
int ecr__http_ecr_refresh_token(ecr__http_transport *ht);

#endif
