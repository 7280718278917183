/* Test helper: Debian's docker-registry (the reference OCI Distribution
 * registry, /usr/bin/docker-registry 2.8), started by a test on a free
 * loopback port with its data in a temporary folder, optionally with Basic
 * authentication (htpasswd) and TLS (a self-signed certificate for
 * 127.0.0.1), or with token authentication (the Bearer flow of Docker Hub,
 * GHCR, Quay) against tests/transport/tokenserver.py. Deletes are enabled.
 * These functions do not use cmocka: they return 0 or -1 with a reason in
 * regfix_problem(). */
#ifndef ECR_TESTS_TRANSPORT_REGISTRY_FIXTURE_H
#define ECR_TESTS_TRANSPORT_REGISTRY_FIXTURE_H

#include <stdint.h>
#include <sys/types.h>

#define REGFIX_HTPASSWD 1u /* Basic auth: user REGFIX_USER, password REGFIX_PASSWORD */
#define REGFIX_TLS 2u      /* https with a self-signed certificate; trust it with ca_file */
/* Token auth: tokenserver.py (python3 + python3-cryptography) issues ES256 JWTs to REGFIX_USER/REGFIX_PASSWORD
 * (pull, push, delete); the registry answers 401 "Bearer realm=<token_realm>,service=regfix,scope=...".
 * Not with REGFIX_HTPASSWD. */
#define REGFIX_TOKEN 4u
#define REGFIX_TOKEN_ANON_PULL 8u /* with REGFIX_TOKEN: requests without credentials get pull */
#define REGFIX_TOKEN_SHORT 16u    /* with REGFIX_TOKEN: tokens expire in 20 s (else 300 s) */

#define REGFIX_USER "tester"
#define REGFIX_PASSWORD "secret-pw"
#define REGFIX_BINARY "/usr/bin/docker-registry"
#define REGFIX_TOKEN_SERVICE "regfix" /* the challenge's service (the tokens' aud) */
#define REGFIX_TOKEN_ISSUER "regfix-token-issuer"

typedef struct regfix {
	pid_t pid; /* 0 when not running */
	uint16_t port;
	unsigned flags;
	char url[64];       /* "http://127.0.0.1:<port>" or "https://..." */
	char dir[512];      /* the folder holding config, data, log, certificate */
	char ca_file[600];  /* the certificate (PEM) when REGFIX_TLS, else "" */
	char log_file[600]; /* the registry's output */
	/* REGFIX_TOKEN: the token server */
	pid_t token_pid;       /* 0 when not running */
	char token_realm[96];  /* "http://127.0.0.1:<port>/token" */
	char token_stats[600]; /* its stats file (JSON, see tokenserver.py), rewritten after every token request */
} regfix;

/* Start a registry in tmpdir (which must exist; files are written into it)
 * and wait until /v2/ answers (at most ~15 s). Retries on a port race. */
int regfix_start(regfix *out, const char *tmpdir, unsigned flags);
/* SIGTERM, then wait for it (SIGKILL after 5 s), and the token server. Safe on a stopped fixture. */
void regfix_stop(regfix *f);
/* Stop the token server alone (the registry keeps running). */
void regfix_token_stop(regfix *f);
/* Why the last call failed. */
const char *regfix_problem(void);

#endif
