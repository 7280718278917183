/*
 * ecr, the command-line client: shared declarations of its files.
 *
 * main.c           commands and option parsing
 * location.c       image locations (docker://, ecr://, oci:, docker-archive:) -> repository handles
 * oci_layout.c     the oci: transport (an OCI image layout folder)
 * docker_archive.c the docker-archive: transport (a `docker save` tarball, read and written)
 * progress.c       copy progress (terminal, quiet, JSON lines)
 * authfile.c       the containers auth file (podman/skopeo's auth.json)
 * util.c           files, digests, JSON, base64
 * transport_common.c what the file transports (oci:, docker-archive:) share
 *
 * The CLI uses the library's public API only (ecr.h, ecr/sys/transport.h).
 */
#ifndef ECR_CLI_H
#define ECR_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <ecr.h>
#include <ecr/sys/transport.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define EXIT_USAGE 2

/* --- util.c --- */
/* Read a whole file (at most max bytes, else ECR_ELIMIT); *out is NUL-terminated, free() it. */
int cli_read_file(char **out, size_t *len_out, const char *path, size_t max);
/* Write a file atomically (temp file in the same folder, fsync, rename, fsync of the folder). */
int cli_write_file_atomic(const char *path, const void *data, size_t len, int mode);
/* mkdir -p with mode. */
int cli_mkdirs(const char *path, int mode);
/* Remove a folder tree (only files and folders). */
void cli_rmtree(const char *path);
/* Set the library error from errno (ecr_transport_fail) and return code. */
int cli_fail_os(int code, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "sha256:<hex>" / "sha512:<hex>": 1 when well formed; *alg_len_out the algorithm's length. */
bool cli_digest_valid(const char *digest);
/* A running digest of one algorithm. */
typedef struct cli_hash cli_hash;
int cli_hash_new(cli_hash **out, const char *algorithm);
void cli_hash_update(cli_hash *h, const void *data, size_t len);
/* Finish into "alg:hex" (out at least 140 bytes) and free. */
void cli_hash_finish(cli_hash *h, char *out);
void cli_hash_free(cli_hash *h);
/* sha256 of a buffer as "sha256:<hex>" (out: 72 bytes). */
int cli_sha256(char *out, const void *data, size_t len);
/* The digest of a file's bytes [offset, offset+len) with the algorithm of expect (or sha256). */
int cli_digest_fd(char *out, int fd, uint64_t offset, uint64_t len, const char *algorithm);

/* Base64 (standard alphabet, padded). Returns malloc'd strings or NULL. */
char *cli_base64_encode(const void *data, size_t len);
/* Decode; *len_out receives the length; NULL on bad input. */
unsigned char *cli_base64_decode(const char *s, size_t *len_out);

/* Parse JSON text into a yajl tree (NULL with the error set on failure). */
yajl_val cli_json_parse(const char *text, const char *what);
/* The string member key of obj, or NULL. */
const char *cli_json_str(yajl_val obj, const char *key);
/* The member key of obj, or NULL. */
yajl_val cli_json_get(yajl_val obj, const char *key);
/* Emit a yajl tree value into a generator. */
void cli_json_emit(yajl_gen g, yajl_val v);
/* Shorthands for generators. */
void cli_gen_str(yajl_gen g, const char *s);
void cli_gen_kv(yajl_gen g, const char *k, const char *v); /* v NULL: null */
void cli_gen_ki(yajl_gen g, const char *k, long long v);
/* Copy a generator's output into a malloc'd NUL-terminated string. */
char *cli_gen_take(yajl_gen g, size_t *len_out);
/* A new generator (beautify: pretty-printed). */
yajl_gen cli_gen_new(bool beautify);

/* ISO 8601 UTC of ms since the epoch into out (at least 32 bytes). */
void cli_iso8601(char *out, size_t n, int64_t ms);

/* --- transport_common.c --- */
/* Set a library buffer to a copy of data[0..len) (NUL-terminated). */
int cli_buf_set(ecr_buf *b, const char *data, size_t len);
/* A reference that is a digest ("alg:hex") rather than a tag. */
bool cli_is_digest_ref(const char *reference);
/* The digest of data with the algorithm of digest ("alg:..."), into out (at least 140 bytes). */
int cli_digest_like(char *out, const char *digest, const void *data, size_t len);
/* A stream of fd's bytes [pos, end) (own: fd is closed with the stream, or here on failure); read errors name
 * what ("the archive"). */
int cli_range_stream_new(ecr_transport_stream **out, int fd, bool own, const char *what, uint64_t pos, uint64_t end);
/* A stream of a blob file (fd, owned: closed on failure too), its range [offset, offset+length) (length 0: to the
 * end), and the file's size. */
int cli_file_stream_new(ecr_transport_stream **out, uint64_t *size_out, int fd, const char *digest, uint64_t offset,
	uint64_t length);
/* A tags/list answer {"name","tags"} of the tags after last (NULL: all), sorted and unique, at most n (0: all;
 * *more_out 1 when some were left). tags is reordered. */
int cli_tags_json(ecr_buf *json_out, int *more_out, const char *repository, const char **tags, size_t count,
	const char *last, unsigned int n);

/* Blob uploads as temporary files "<prefix>XXXXXX" in a folder; the session is the file's name. */
typedef struct cli_upload_dir {
	const char *dir;
	const char *prefix;
	int mode;     /* of a new upload file (0: mkstemp's 0600) */
	bool durable; /* commit: fsync the file, create the destination's folder, fsync it after the rename */
} cli_upload_dir;
int cli_upload_begin(ecr_buf *session_out, const cli_upload_dir *u);
int cli_upload_status(uint64_t *size_out, const cli_upload_dir *u, const char *session);
/* Append data at offset (the upload's current size, else ECR_ERANGE). */
int cli_upload_write(const cli_upload_dir *u, const char *session, uint64_t offset, const void *data, size_t len);
/* Check the upload's digest (a mismatch removes it), then rename it to dst. */
int cli_upload_commit(const cli_upload_dir *u, const char *session, const char *dst, const char *digest);
int cli_upload_cancel(const cli_upload_dir *u, const char *session);

/* --- oci_layout.c --- */
/* A transport on an OCI image layout folder (created with create). */
int cli_oci_transport_new(ecr_transport **out, const char *dir, bool create);
/* Add an index.json entry without a name for a manifest (untagged destination); ignored if present. */
int cli_oci_add_untagged(ecr_transport *t, const char *digest);
/* Resolve a reference (tag, digest, or NULL: the only manifest of index.json) to a digest. */
int cli_oci_resolve(char *digest_out, size_t n, const char *dir, const char *reference);

/* --- docker_archive.c --- */
/* A read-only transport on a docker save tarball; ref picks the image ("name:tag", "@N", NULL: the only one). */
int cli_docker_archive_source_new(ecr_transport **out, char *digest_out, size_t n, const char *file, const char *ref);
/* A transport that collects one image and writes the tarball at cli_docker_archive_finish(). */
int cli_docker_archive_dest_new(ecr_transport **out, const char *file, const char *ref);
int cli_docker_archive_finish(ecr_transport *t);
bool cli_is_docker_archive_dest(ecr_transport *t);

/* --- authfile.c --- */
/* The auth file's path (malloc'd). */
char *cli_authfile_path(void);
/* Credentials for host ("host[:port]"): 0 found (malloc'd user, pass), ECR_ENOTFOUND, or an error. */
int cli_authfile_get(char **user_out, char **pass_out, const char *host);
/* Store (user, pass) for host, or remove host when user is NULL (ECR_ENOTFOUND when absent). */
int cli_authfile_set(const char *host, const char *user, const char *pass);

/* --- location.c --- */
typedef enum cli_loc_kind { LOC_DOCKER, LOC_ECR, LOC_OCI, LOC_DOCKER_ARCHIVE } cli_loc_kind;

typedef struct cli_location {
	cli_loc_kind kind;
	char *host;       /* docker: host[:port] */
	char *path;       /* ecr: data folder; oci: folder; docker-archive: file */
	char *repository; /* docker, ecr; oci/docker-archive: a fixed name */
	char *tag;        /* or NULL */
	char *digest;     /* or NULL */
	char *archive_ref; /* docker-archive: the REF as written */
} cli_location;

/* Remote options of one side of a command. */
typedef struct cli_remote_opts {
	bool plain_http;
	bool tls_verify; /* default true */
	const char *creds;        /* USER:PASS or NULL */
	const char *endpoint_url; /* api_endpoint or NULL */
} cli_remote_opts;

/* Parse a location; ECR_EINVALID with a message (usage error). */
int cli_location_parse(cli_location *loc, const char *text);
void cli_location_dispose(cli_location *loc);

/* An opened location: its registry and repository. */
typedef struct cli_target {
	ecr_registry *reg;
	ecr_repository *repo;
	ecr_transport *transport; /* oci/docker-archive: ours (owned by reg) */
	char reference[160];      /* the tag or digest to read (source), empty when none */
} cli_target;

/* Open a location's registry (only). */
int cli_open_registry(ecr_registry **out, const cli_location *loc, const cli_remote_opts *ro, bool write);
/*
 * Open a location as a source (write false: the repository must exist; reference set) or as a destination (write
 * true: created when missing).
 */
int cli_target_open(cli_target *t, const cli_location *loc, const cli_remote_opts *ro, bool write);
void cli_target_close(cli_target *t);
/* Open a registry from a URL (http(s)://, file://, memory:, or host[:port] -> https). */
int cli_open_registry_url(ecr_registry **out, const char *url, const cli_remote_opts *ro);
/* host[:port] of a URL (malloc'd). */
char *cli_url_host(const char *url);

/* --- usage.c --- */
/* ecr usage: argv[0] is "usage"; parses its own options. Returns the exit status. */
int cli_cmd_usage(int argc, char **argv);

/* --- progress.c --- */
typedef enum cli_progress_mode { PROGRESS_QUIET, PROGRESS_TTY, PROGRESS_JSON } cli_progress_mode;
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_new(cli_progress_mode mode, FILE *out);
int cli_progress_cb(const ecr_copy_progress *p, void *payload);
/* Final line(s). */
void cli_progress_finish(cli_progress *pr, const char *digest);
void cli_progress_free(cli_progress *pr);

#endif
