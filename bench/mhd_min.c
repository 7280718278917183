/* bench/mhd_min.c: the floor under ecrd's small-request latency. A minimal libmicrohttpd server that answers every
 * request with one fixed body, started with the daemon flags and options ecrd's server uses
 * (libecr/server/server.c: internal epoll threads, MHD_USE_TURBO, a thread pool, 32 KiB of connection memory),
 * so that wrk against it shows what libmicrohttpd itself costs on this machine: ecrd cannot be faster than this.
 *
 *   cc -O2 -o mhd_min bench/mhd_min.c $(pkg-config --cflags --libs libmicrohttpd)
 *   ./mhd_min [PORT=0] [THREADS=0] [BODY_BYTES=465]
 *
 * THREADS 1 runs one epoll thread; 0 means half the CPUs, at least 1 (ecrd's default).
 * Prints "listening on PORT" once the socket is bound, then serves until SIGTERM or SIGINT. bench/limits.py builds
 * and runs it. */
#define _GNU_SOURCE
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct MHD_Response *body;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) { /* the first call, headers only: answer in the second, as ecrd does */
		*con_cls = conn;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	return MHD_queue_response(conn, MHD_HTTP_OK, body);
}

int main(int argc, char **argv)
{
	unsigned int port = argc > 1 ? (unsigned int)atoi(argv[1]) : 0;
	long threads = argc > 2 ? atol(argv[2]) : 0;
	size_t size = argc > 3 ? (size_t)atol(argv[3]) : 465;
	if (threads <= 0)
		threads = sysconf(_SC_NPROCESSORS_ONLN) / 2 > 1 ? sysconf(_SC_NPROCESSORS_ONLN) / 2 : 1;
	char *text = malloc(size + 1);
	if (!text)
		return 1;
	memset(text, 'x', size);
	body = MHD_create_response_from_buffer(size, text, MHD_RESPMEM_PERSISTENT);
	if (!body)
		return 1;
	MHD_add_response_header(body, MHD_HTTP_HEADER_CONTENT_TYPE, "application/vnd.oci.image.manifest.v1+json");
	MHD_add_response_header(body, "Docker-Distribution-API-Version", "registry/2.0");

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL); /* the daemon's threads inherit the mask: sigwait below gets them */

	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ITC;
	struct MHD_Daemon *d;
	if (threads > 1)
		d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_CONNECTION_LIMIT,
			(unsigned int)1024, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			(size_t)(32 * 1024), MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads, MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_CONNECTION_LIMIT,
			(unsigned int)1024, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			(size_t)(32 * 1024), MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "mhd_min: cannot start the daemon on port %u\n", port);
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening on %u\n", info ? (unsigned int)info->port : port);
	fflush(stdout);
	int sig;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(body);
	free(text);
	return 0;
}
