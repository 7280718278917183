/* libmicrohttpd through a table of functions, one per daemon.
 *
 * With the bundled libmicrohttpd (meson option bundled_mhd; subprojects/
 * libmicrohttpd.wrap) libecr links a libmicrohttpd 0.9.75 built without TLS,
 * whose symbols are renamed MHD_x -> ecr__mhd_x: a plain-HTTP server never maps
 * GnuTLS (nor nettle, hogweed, gmp, p11-kit...). A TLS server needs a
 * libmicrohttpd with TLS: Debian's libmicrohttpd.so.12 is then opened with
 * dlopen() on first need (by core/lazy.c) and serves that daemon. Without the
 * bundled libmicrohttpd both tables are the linked system library.
 *
 * Both are libmicrohttpd 0.9.75 (the build checks the MHD_VERSION of the
 * bundled source against <microhttpd.h>, which libecr compiles with), but their
 * objects do not mix: every call for a connection or a response goes through
 * the table of the daemon it belongs to (http_request.mhd, ecr_server.mhd). */
#ifndef ECR_SERVER_MHD_H
#define ECR_SERVER_MHD_H

#include <microhttpd.h>
#include <stdbool.h>

/* The libmicrohttpd functions the server calls. */
#define ECR__MHD_FUNCS(X)                                                                                              \
	X(start_daemon)                                                                                                \
	X(stop_daemon)                                                                                                 \
	X(get_daemon_info)                                                                                             \
	X(queue_response)                                                                                              \
	X(create_response_from_buffer)                                                                                 \
	X(create_response_from_callback)                                                                               \
	X(create_response_from_fd_at_offset64)                                                                         \
	X(destroy_response)                                                                                            \
	X(add_response_header)                                                                                         \
	X(lookup_connection_value)                                                                                     \
	X(get_connection_values)                                                                                       \
	X(get_connection_info)                                                                                         \
	X(suspend_connection)                                                                                          \
	X(resume_connection)

typedef struct ecr__mhd {
	const char *name; /* which libmicrohttpd, for messages */
#define ECR__MHD_FIELD(f) __typeof__(&MHD_##f) f;
	ECR__MHD_FUNCS(ECR__MHD_FIELD)
#undef ECR__MHD_FIELD
} ecr__mhd;

/* The libmicrohttpd for a server with (tls) or without TLS, into *out (never
 * freed). With TLS and the bundled libmicrohttpd, the first call opens
 * libmicrohttpd.so.12: ECR_ENOTSUPPORTED with dlerror()'s text when it or one of
 * its functions is missing (the same error on every later call). */
int ecr__server_mhd(const ecr__mhd **out, bool tls);
/* Whether libecr was built with the bundled libmicrohttpd (no TLS). */
bool ecr__server_mhd_bundled(void);

#endif
