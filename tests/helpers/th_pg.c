/* A throwaway PostgreSQL server for a test file (see th_pg.h). */
#define _GNU_SOURCE 1
#include "th_pg.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_dir[256];
static char g_url[512];
static char g_script[1024];
static int g_port;

const char *th_pg_url(void) { return g_url; }
int th_pg_port(void) { return g_port; }

double th_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* pg_ctl on the test cluster (as the postgres user when root, like the script). */
int th_pg_ctl(const char *action)
{
	const char *bindir = getenv("PG_BINDIR") ? getenv("PG_BINDIR") : "/usr/lib/postgresql/15/bin";
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s %s/pg_ctl -D %s/pgdata -l %s/postgres.log -m fast -w -t 60 %s >/dev/null 2>&1",
		getuid() == 0 ? "runuser -u postgres --" : "", bindir, g_dir, g_dir, action);
	return system(cmd);
}

static void stop_server(void)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "bash '%s' stop '%s' >/dev/null 2>&1 && rm -rf '%s'", g_script, g_dir, g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# stopping the PostgreSQL test server in %s failed\n", g_dir);
}

/* A child that waits for this process to end (its pipe closes), then stops the server. */
static pid_t g_guard = -1;
static int g_guard_fd = -1;

static void start_guard(void)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[1]);
		/* its own session: a test runner that kills the test's process group (timeout) spares the guard */
		setsid();
		prctl(PR_SET_PDEATHSIG, 0);
		char c;
		while (read(fds[0], &c, 1) > 0)
			;
		stop_server();
		_exit(0);
	}
	close(fds[0]);
	if (pid < 0) {
		close(fds[1]);
		return;
	}
	g_guard = pid;
	g_guard_fd = fds[1];
}

/* Start the server; 0 when it runs. */
int th_pg_start(void)
{
	const char *script = getenv("PG_TEST_SERVER");
	if (!script || access(script, R_OK) != 0)
		return -1;
	snprintf(g_script, sizeof(g_script), "%s", script);
	snprintf(g_dir, sizeof(g_dir), "/tmp/ecr-pg-XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	start_guard();
	for (int attempt = 0; attempt < 3; attempt++) {
		g_port = 20000 + (int)((getpid() * 7 + attempt * 997) % 30000);
		char cmd[2048];
		snprintf(cmd, sizeof(cmd), "bash '%s' start '%s' %d 2>&1", g_script, g_dir, g_port);
		double t0 = th_now_s();
		FILE *fp = popen(cmd, "r");
		if (!fp)
			return -1;
		char line[512];
		g_url[0] = '\0';
		while (fgets(line, sizeof(line), fp)) {
			if (strncmp(line, "DATABASE_URL=", 13) == 0) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(g_url, sizeof(g_url), "%s", line + 13);
			} else if (!strstr(line, "=")) {
				fprintf(stderr, "# %s", line);
			}
		}
		int st = pclose(fp);
		if (st == 0 && g_url[0]) {
			fprintf(stderr, "# PostgreSQL started on port %d in %.2f s\n", g_port, th_now_s() - t0);
			return 0;
		}
		stop_server(); /* a half-started cluster (port taken?): clean and try another port */
		mkdir(g_dir, 0700);
	}
	return -1;
}

void th_pg_finish(void)
{
	if (g_guard <= 0)
		return;
	/* the guard stops the server now; wait for it */
	double t0 = th_now_s();
	close(g_guard_fd);
	waitpid(g_guard, NULL, 0);
	g_guard = -1;
	fprintf(stderr, "# PostgreSQL stopped in %.2f s\n", th_now_s() - t0);
}
