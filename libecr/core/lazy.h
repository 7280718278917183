/* Libraries loaded on first use: libcurl (HTTP transport, S3, webhooks), libpq
 * (the PostgreSQL metadata store), libarchive (the scanner), libcrypto (digests)
 * and, next to a bundled libmicrohttpd without TLS, Debian's libmicrohttpd for
 * HTTPS (server/mhd.c) are opened with
 * dlopen() by their Debian sonames the first time a module needs them, so a
 * process that never uses them never maps them (nor what they link: OpenSSL's
 * TLS, GnuTLS's friends, Kerberos, LDAP, ICU, libxml2...): a smaller and faster
 * starting ecrd. The build still uses their -dev headers.
 *
 * A module includes lazy_curl.h, lazy_pq.h or lazy_archive.h instead of the
 * library's header: the library's function names then call through a table of
 * pointers (filled once, with pthread_once). Before its first call into the
 * library a module calls ecr__lazy_load() (or ecr__lazy_curl()) and passes an
 * error on; after a failed load the table stays empty. The functions that free
 * (curl_free, PQclear, archive_read_free...) accept NULL before any load.
 * libcrypto's and libmicrohttpd's tables belong to their modules, which resolve
 * them through a hook (ecr__lazy_load_with) when the library is opened. */
#ifndef ECR_CORE_LAZY_H
#define ECR_CORE_LAZY_H

enum ecr__lazy_lib {
	ECR__LAZY_CURL = 0,
	ECR__LAZY_PQ = 1,
	ECR__LAZY_ARCHIVE = 2,
	ECR__LAZY_CRYPTO = 3, /* the digest provider's (lazy_crypto.c) */
	ECR__LAZY_MHD = 4,    /* libmicrohttpd with TLS (server/mhd.c) */
	ECR__LAZY_COUNT = 5
};

/* The hooks of a library whose table its module keeps: resolve fills it from the
 * opened library (NULL, or the first name missing); clear empties it again. */
typedef const char *(*ecr__lazy_resolve_fn)(void *handle);
typedef void (*ecr__lazy_clear_fn)(void);

/* Open lib and resolve its functions, once for the process: 0, or
 * ECR_ENOTSUPPORTED with dlerror()'s text (the same error on every later call). */
int ecr__lazy_load(int lib);
/* ecr__lazy_load() of a library resolved by hooks (ECR__LAZY_MHD): the first
 * caller's hooks are kept; every caller passes the same. */
int ecr__lazy_load_with(int lib, ecr__lazy_resolve_fn resolve, ecr__lazy_clear_fn clear);
/* Whether lib has been loaded (never loads it). */
int ecr__lazy_is_loaded(int lib);
/* Why lib could not be loaded ("" before an attempt or after a success). */
const char *ecr__lazy_error(int lib);
/* lazy_crypto.c: resolve its functions in the opened libcrypto (NULL, or the first name missing); forget them. */
const char *ecr__lazy_crypto_resolve(void *handle);
void ecr__lazy_crypto_clear(void);
/* ecr__lazy_load(ECR__LAZY_CURL), then curl_global_init with libecr's
 * allocator if not done since the last ecr_shutdown(). */
int ecr__lazy_curl(void);
/* curl_global_cleanup() if libcurl was initialised (ecr_shutdown's last call). */
void ecr__lazy_curl_shutdown(void);
/* Tests: load soname (a file name or path) instead of Debian's for lib; NULL
 * restores it. Only before the first load: ECR_EBUSY after it. */
int ecr__lazy_set_soname(int lib, const char *soname);

#endif
