/*
 * ecr CLI: copy progress. On a terminal: one line per blob (short digest, bytes done/total, rate) and a total
 * line, redrawn in place (at most every 100 ms, and at every start and end of a blob). JSON: one line per event.
 * Quiet: nothing (the caller prints the final digest).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LINES 64

typedef struct blob_line {
	char digest[80];
	uint64_t done, total;
	int64_t start_ms, end_ms;
	const char *state; /* NULL: moving */
} blob_line;

struct cli_progress {
	cli_progress_mode mode;
	FILE *out;
	blob_line *lines;
	size_t n, cap;
	int drawn; /* lines on screen */
	int64_t start_ms, last_draw_ms;
	uint64_t all_done, all_total;
	size_t blobs_done, blobs_total;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void human(char *out, size_t n, double v)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

cli_progress *cli_progress_new(cli_progress_mode mode, FILE *out)
{
	cli_progress *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return NULL;
	pr->mode = mode;
	pr->out = out;
	pr->start_ms = now_ms();
	return pr;
}

static blob_line *line_of(cli_progress *pr, const char *digest)
{
	for (size_t i = 0; i < pr->n; i++)
		if (!strcmp(pr->lines[i].digest, digest))
			return &pr->lines[i];
	if (pr->n == pr->cap) {
		size_t cap = pr->cap ? pr->cap * 2 : 16;
		blob_line *l = realloc(pr->lines, cap * sizeof(*l));
		if (!l)
			return NULL;
		pr->lines = l;
		pr->cap = cap;
	}
	blob_line *l = &pr->lines[pr->n++];
	memset(l, 0, sizeof(*l));
	snprintf(l->digest, sizeof(l->digest), "%s", digest);
	l->start_ms = now_ms();
	return l;
}

static void draw(cli_progress *pr)
{
	char a[32], b[32], r[32];
	int64_t t = now_ms();
	if (pr->drawn)
		fprintf(pr->out, "\033[%dA", pr->drawn);
	pr->drawn = 0;
	/* the last MAX_LINES blobs */
	size_t first = pr->n > MAX_LINES ? pr->n - MAX_LINES : 0;
	for (size_t i = first; i < pr->n; i++) {
		blob_line *l = &pr->lines[i];
		const char *hex = strchr(l->digest, ':');
		hex = hex ? hex + 1 : l->digest;
		human(a, sizeof(a), (double)l->done);
		human(b, sizeof(b), (double)l->total);
		int64_t el = (l->end_ms ? l->end_ms : t) - l->start_ms;
		human(r, sizeof(r), el > 0 ? (double)l->done * 1000.0 / (double)el : 0);
		if (l->state)
			fprintf(pr->out, "\r\033[KCopying blob %.12s %s (%s)\n", hex, l->state, b);
		else
			fprintf(pr->out, "\r\033[KCopying blob %.12s %s / %s  %s/s\n", hex, a, b, r);
		pr->drawn++;
	}
	human(a, sizeof(a), (double)pr->all_done);
	human(b, sizeof(b), (double)pr->all_total);
	int64_t el = t - pr->start_ms;
	human(r, sizeof(r), el > 0 ? (double)pr->all_done * 1000.0 / (double)el : 0);
	fprintf(pr->out, "\r\033[KTotal: %zu/%zu blobs, %s / %s  %s/s\n", pr->blobs_done, pr->blobs_total, a, b, r);
	pr->drawn++;
	fflush(pr->out);
	pr->last_draw_ms = t;
}

static const char *event_name(ecr_copy_event e)
{
	switch (e) {
	case ECR_COPY_BLOB_START:
		return "blob_start";
	case ECR_COPY_BLOB_PROGRESS:
		return "blob_progress";
	case ECR_COPY_BLOB_DONE:
		return "blob_done";
	case ECR_COPY_BLOB_SKIPPED:
		return "blob_skipped";
	case ECR_COPY_BLOB_MOUNTED:
		return "blob_mounted";
	case ECR_COPY_MANIFEST_DONE:
		return "manifest_done";
	}
	return "unknown";
}

int cli_progress_cb(const ecr_copy_progress *p, void *payload)
{
	cli_progress *pr = payload;
	if (!pr || pr->mode == PROGRESS_QUIET)
		return 0;
	if (pr->mode == PROGRESS_JSON) {
		yajl_gen g = cli_gen_new(false);
		char *text;
		if (!g)
			return 0;
		yajl_gen_map_open(g);
		cli_gen_kv(g, "event", event_name(p->event));
		cli_gen_kv(g, "digest", p->digest);
		if (p->media_type)
			cli_gen_kv(g, "mediaType", p->media_type);
		cli_gen_ki(g, "bytesDone", (long long)p->bytes_done);
		cli_gen_ki(g, "bytesTotal", (long long)p->bytes_total);
		cli_gen_ki(g, "allBytesDone", (long long)p->all_bytes_done);
		cli_gen_ki(g, "allBytesTotal", (long long)p->all_bytes_total);
		cli_gen_ki(g, "blobsDone", (long long)p->blobs_done);
		cli_gen_ki(g, "blobsTotal", (long long)p->blobs_total);
		yajl_gen_map_close(g);
		if ((text = cli_gen_take(g, NULL))) {
			fprintf(pr->out, "%s\n", text);
			fflush(pr->out);
			free(text);
		}
		yajl_gen_free(g);
		return 0;
	}
	pr->all_done = p->all_bytes_done;
	pr->all_total = p->all_bytes_total;
	pr->blobs_done = p->blobs_done;
	pr->blobs_total = p->blobs_total;
	bool force = false;
	if (p->event == ECR_COPY_MANIFEST_DONE) {
		draw(pr);
		fprintf(pr->out, "Writing manifest %s\n", p->digest);
		pr->drawn = 0; /* keep what is above */
		return 0;
	}
	blob_line *l = p->digest ? line_of(pr, p->digest) : NULL;
	if (l) {
		l->done = p->bytes_done;
		l->total = p->bytes_total;
		switch (p->event) {
		case ECR_COPY_BLOB_DONE:
			l->state = "done";
			l->end_ms = now_ms();
			force = true;
			break;
		case ECR_COPY_BLOB_SKIPPED:
			l->state = "skipped: already exists";
			l->end_ms = now_ms();
			force = true;
			break;
		case ECR_COPY_BLOB_MOUNTED:
			l->state = "mounted";
			l->end_ms = now_ms();
			force = true;
			break;
		case ECR_COPY_BLOB_START:
			force = true;
			break;
		default:
			break;
		}
	}
	if (force || now_ms() - pr->last_draw_ms >= 100)
		draw(pr);
	return 0;
}

void cli_progress_finish(cli_progress *pr, const char *digest)
{
	if (pr && pr->mode == PROGRESS_TTY && pr->n)
		draw(pr);
	if (pr && pr->mode == PROGRESS_JSON) {
		yajl_gen g = cli_gen_new(false);
		char *text;
		if (!g)
			return;
		yajl_gen_map_open(g);
		cli_gen_kv(g, "digest", digest);
		yajl_gen_map_close(g);
		if ((text = cli_gen_take(g, NULL))) {
			fprintf(pr->out, "%s\n", text);
			free(text);
		}
		yajl_gen_free(g);
		return;
	}
	printf("%s\n", digest);
}

void cli_progress_free(cli_progress *pr)
{
	if (!pr)
		return;
	free(pr->lines);
	free(pr);
}
