/* Test helper: random OCI images, push, end-to-end verification and a
 * registry-wide consistency check. See th_image.h. */
#include "th_image.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "libecr/core/digest.h"

static _Thread_local char problem[1024];

const char *th_problem(void) { return problem; }

static int broken(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int broken(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	return TH_EBROKEN;
}

/* Prepend context to the problem description. */
static void prefix_problem(const char *a, const char *b)
{
	char tmp[1700];
	snprintf(tmp, sizeof(tmp), "%.300s: %.300s: %.1023s", a, b, problem);
	snprintf(problem, sizeof(problem), "%.1023s", tmp);
}

/* Record a failed library call (its code and message) and pass the code up. */
static int lib_failed(int rc, const char *what)
{
	snprintf(problem, sizeof(problem), "%s: %s (%d): %s", what, ecr_error_name(rc), rc, ecr_error_last()->message);
	return rc;
}

uint64_t th_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t th_rand_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + th_rand(state) % (hi - lo + 1);
}

static int alg_of(const char *digest, ecr__digest_alg *alg)
{
	const char *colon = strchr(digest, ':');
	if (!colon || ecr__digest_alg_from_name(alg, digest, (size_t)(colon - digest)) != 0)
		return broken("not a digest: '%s'", digest);
	return 0;
}

static int blob_fill(th_blob *b, unsigned char *data, size_t len)
{
	b->data = data;
	b->len = len;
	if (ecr__digest_buf(b->digest, sizeof(b->digest), ECR__DIGEST_SHA256, data, len) != 0)
		return ECR_ENOMEM;
	return 0;
}

void th_image_dispose(th_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->layer_count; i++)
		free(img->layers[i].data);
	free(img->layers);
	free(img->config.data);
	free(img->manifest);
	memset(img, 0, sizeof(*img));
}

int th_blob_random(th_blob *out, uint64_t *rng, size_t len)
{
	unsigned char *data = malloc(len ? len : 1);
	memset(out, 0, sizeof(*out));
	if (!data)
		return ECR_ENOMEM;
	for (size_t j = 0; j < len; j += 8) {
		uint64_t r = th_rand(rng);
		memcpy(data + j, &r, len - j < 8 ? len - j : 8);
	}
	if (blob_fill(out, data, len) != 0) {
		free(data);
		memset(out, 0, sizeof(*out));
		return ECR_ENOMEM;
	}
	return 0;
}

void th_blob_dispose(th_blob *b)
{
	if (!b)
		return;
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static int image_build(th_image *out, uint64_t *rng, const th_blob *given, size_t given_count, size_t layer_count,
	const size_t *sizes)
{
	char *cfg = NULL, *man = NULL;
	size_t cfg_len = 0, man_len = 0;
	FILE *f = NULL;

	memset(out, 0, sizeof(*out));
	out->layers = calloc(given_count + layer_count ? given_count + layer_count : 1, sizeof(th_blob));
	if (!out->layers)
		goto oom;
	for (size_t i = 0; i < given_count; i++) {
		th_blob *b = &out->layers[i];
		if (!(b->data = malloc(given[i].len ? given[i].len : 1)))
			goto oom;
		memcpy(b->data, given[i].data, given[i].len);
		b->len = given[i].len;
		memcpy(b->digest, given[i].digest, sizeof(b->digest));
		out->layer_count++;
	}
	for (size_t i = 0; i < layer_count; i++) {
		size_t len = sizes ? sizes[i] : (size_t)th_rand_range(rng, 1, 4096);
		if (th_blob_random(&out->layers[out->layer_count], rng, len) != 0)
			goto oom;
		out->layer_count++;
	}
	layer_count = out->layer_count;

	f = open_memstream(&cfg, &cfg_len);
	if (!f)
		goto oom;
	fprintf(f, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"th.nonce\":\"%016llx%016llx\"}},"
		   "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[",
		(unsigned long long)th_rand(rng), (unsigned long long)th_rand(rng));
	for (size_t i = 0; i < layer_count; i++)
		fprintf(f, "%s\"%s\"", i ? "," : "", out->layers[i].digest);
	fprintf(f, "]}}");
	if (fclose(f) != 0) {
		f = NULL;
		goto oom;
	}
	f = NULL;
	if (blob_fill(&out->config, (unsigned char *)cfg, cfg_len) != 0)
		goto oom;
	cfg = NULL;

	f = open_memstream(&man, &man_len);
	if (!f)
		goto oom;
	fprintf(f,
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
		"\"layers\":[",
		out->config.digest, out->config.len);
	for (size_t i = 0; i < layer_count; i++)
		fprintf(f, "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}",
			i ? "," : "", out->layers[i].digest, out->layers[i].len);
	fprintf(f, "]}");
	if (fclose(f) != 0) {
		f = NULL;
		goto oom;
	}
	f = NULL;
	out->manifest = man;
	out->manifest_len = man_len;
	man = NULL;
	if (ecr__digest_buf(out->digest, sizeof(out->digest), ECR__DIGEST_SHA256, out->manifest, out->manifest_len) != 0)
		goto oom;
	return 0;

oom:
	if (f)
		fclose(f);
	free(cfg);
	free(man);
	th_image_dispose(out);
	snprintf(problem, sizeof(problem), "th_image_random: out of memory");
	return ECR_ENOMEM;
}

int th_image_random(th_image *out, uint64_t *rng, size_t layer_count, const size_t *sizes)
{
	return image_build(out, rng, NULL, 0, layer_count, sizes);
}

int th_image_with_layers(th_image *out, uint64_t *rng, const th_blob *layers, size_t count, size_t extra_layers)
{
	return image_build(out, rng, layers, count, extra_layers, NULL);
}

int th_blob_push(ecr_repository *repo, const th_blob *blob, size_t chunk)
{
	ecr_upload *up = NULL;
	uint64_t size = 0;
	int rc = ecr_blob_stat(repo, blob->digest, &size);
	if (rc == 0) {
		if (size != blob->len)
			return broken("blob %s is stored with size %llu, expected %zu", blob->digest,
				(unsigned long long)size, blob->len);
		return 0;
	}
	if (rc != ECR_ENOTFOUND)
		return lib_failed(rc, "ecr_blob_stat");
	if (!chunk)
		chunk = 1000;

	if ((rc = ecr_upload_begin(&up, repo)) != 0)
		return lib_failed(rc, "ecr_upload_begin");
	size_t off = 0;
	while (off < blob->len) {
		size_t n = blob->len - off < chunk ? blob->len - off : chunk;
		if ((rc = ecr_upload_write(up, off, blob->data + off, n)) != 0) {
			lib_failed(rc, "ecr_upload_write");
			goto done;
		}
		off += n;
		if (ecr_upload_size(up) != off) {
			rc = broken("upload size %llu after writing %zu bytes", (unsigned long long)ecr_upload_size(up), off);
			goto done;
		}
	}
	if ((rc = ecr_upload_commit(up, blob->digest)) != 0)
		lib_failed(rc, "ecr_upload_commit");
done:
	ecr_upload_free(up);
	return rc;
}

int th_image_push(ecr_repository *repo, const th_image *img, const char *tag, size_t chunk)
{
	int rc = th_blob_push(repo, &img->config, chunk);
	for (size_t i = 0; rc == 0 && i < img->layer_count; i++)
		rc = th_blob_push(repo, &img->layers[i], chunk);
	if (rc != 0)
		return rc;
	rc = ecr_image_put(NULL, repo, tag, img->digest, NULL, img->manifest, img->manifest_len, 0);
	if (rc != 0)
		return lib_failed(rc, "ecr_image_put");
	return 0;
}

int th_blob_verify(ecr_repository *repo, const char *digest, uint64_t expected_size)
{
	ecr_blob *b = NULL;
	ecr__digest_ctx *ctx = NULL;
	ecr__digest_alg alg;
	char got[TH_DIGEST_MAX];
	unsigned char buf[16384];
	uint64_t total = 0;
	int rc;

	if ((rc = alg_of(digest, &alg)) != 0)
		return rc;
	if ((rc = ecr_blob_open(&b, repo, digest, 0, 0)) != 0) {
		char what[256];
		snprintf(what, sizeof(what), "ecr_blob_open(%s, %s)", ecr_repository_name(repo), digest);
		return lib_failed(rc, what);
	}
	if (expected_size != UINT64_MAX && ecr_blob_size(b) != expected_size) {
		rc = broken("blob %s: size %llu, expected %llu", digest, (unsigned long long)ecr_blob_size(b),
			(unsigned long long)expected_size);
		goto done;
	}
	if (ecr__digest_new(&ctx, alg) != 0) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (;;) {
		size_t n = 0;
		if ((rc = ecr_blob_read(b, buf, sizeof(buf), &n)) != 0) {
			lib_failed(rc, "ecr_blob_read");
			goto done;
		}
		if (n == 0)
			break;
		if (n > sizeof(buf)) {
			rc = broken("ecr_blob_read returned %zu > %zu bytes", n, sizeof(buf));
			goto done;
		}
		total += n;
		ecr__digest_update(ctx, buf, n);
	}
	if (total != ecr_blob_size(b)) {
		rc = broken("blob %s: read %llu bytes, size says %llu", digest, (unsigned long long)total,
			(unsigned long long)ecr_blob_size(b));
		goto done;
	}
	ecr__digest_final(ctx, got, sizeof(got));
	if (strcmp(got, digest) != 0) {
		rc = broken("blob %s: content hashes to %s", digest, got);
		goto done;
	}
	rc = 0;
done:
	ecr__digest_free(ctx);
	ecr_blob_free(b);
	return rc;
}

/* A descriptor's digest and size; 0 or TH_EBROKEN. */
static int descriptor(const yajl_val d, const char **digest, uint64_t *size, const char *what)
{
	const char *dp[] = { "digest", NULL };
	const char *sp[] = { "size", NULL };
	yajl_val dv = yajl_tree_get(d, dp, yajl_t_string);
	yajl_val sv = yajl_tree_get(d, sp, yajl_t_number);
	if (!dv || !sv || !YAJL_IS_INTEGER(sv) || YAJL_GET_INTEGER(sv) < 0)
		return broken("manifest: %s has no digest or size", what);
	*digest = YAJL_GET_STRING(dv);
	*size = (uint64_t)YAJL_GET_INTEGER(sv);
	return 0;
}

static int image_verify(ecr_repository *repo, const char *reference, const char *expected_digest, char *digest_out,
	int depth)
{
	ecr_image *img = NULL;
	ecr__digest_alg alg;
	char got[TH_DIGEST_MAX], errbuf[128];
	char *text = NULL;
	yajl_val root = NULL;
	const void *man = NULL;
	size_t len = 0;
	int rc;

	if (depth > 4)
		return broken("image %s: index nesting too deep", reference);
	if ((rc = ecr_image_get(&img, repo, reference, 0)) != 0) {
		char what[400];
		snprintf(what, sizeof(what), "ecr_image_get(%s, %s)", ecr_repository_name(repo), reference);
		return lib_failed(rc, what);
	}
	const char *digest = ecr_image_digest(img);
	if (!digest || (expected_digest && strcmp(digest, expected_digest) != 0)) {
		rc = broken("image %s in %s: digest %s, expected %s", reference, ecr_repository_name(repo),
			digest ? digest : "(null)", expected_digest);
		goto done;
	}
	if (digest_out)
		snprintf(digest_out, TH_DIGEST_MAX, "%s", digest);
	if ((rc = alg_of(digest, &alg)) != 0)
		goto done;
	if ((rc = ecr_image_manifest(&man, &len, img)) != 0) {
		lib_failed(rc, "ecr_image_manifest");
		goto done;
	}
	if (len != ecr_image_manifest_size(img)) {
		rc = broken("image %s: manifest is %zu bytes, manifest_size says %llu", digest, len,
			(unsigned long long)ecr_image_manifest_size(img));
		goto done;
	}
	if (ecr__digest_buf(got, sizeof(got), alg, man, len) != 0 || strcmp(got, digest) != 0) {
		rc = broken("image %s: manifest bytes hash to %s", digest, got);
		goto done;
	}
	if (!(text = malloc(len + 1))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	memcpy(text, man, len);
	text[len] = '\0';
	if (!(root = yajl_tree_parse(text, errbuf, sizeof(errbuf)))) {
		rc = broken("image %s: manifest does not parse: %s", digest, errbuf);
		goto done;
	}

	const char *manifests_path[] = { "manifests", NULL };
	const char *layers_path[] = { "layers", NULL };
	const char *config_path[] = { "config", NULL };
	yajl_val children = yajl_tree_get(root, manifests_path, yajl_t_array);
	if (children) {
		for (size_t i = 0; i < YAJL_GET_ARRAY(children)->len; i++) {
			const char *cd;
			uint64_t cs;
			if ((rc = descriptor(YAJL_GET_ARRAY(children)->values[i], &cd, &cs, "a child manifest")) != 0)
				goto done;
			if ((rc = image_verify(repo, cd, cd, NULL, depth + 1)) != 0)
				goto done;
		}
	} else {
		yajl_val config = yajl_tree_get(root, config_path, yajl_t_object);
		yajl_val layers = yajl_tree_get(root, layers_path, yajl_t_array);
		const char *bd;
		uint64_t bs;
		if (!config || !layers) {
			rc = broken("image %s: manifest has no config or layers", digest);
			goto done;
		}
		if ((rc = descriptor(config, &bd, &bs, "config")) != 0 || (rc = th_blob_verify(repo, bd, bs)) != 0)
			goto done;
		for (size_t i = 0; i < YAJL_GET_ARRAY(layers)->len; i++) {
			if ((rc = descriptor(YAJL_GET_ARRAY(layers)->values[i], &bd, &bs, "a layer")) != 0 ||
				(rc = th_blob_verify(repo, bd, bs)) != 0)
				goto done;
		}
	}
	rc = 0;
done:
	yajl_tree_free(root);
	free(text);
	ecr_image_free(img);
	return rc;
}

int th_image_verify(ecr_repository *repo, const char *reference, const char *expected_digest, char *digest_out)
{
	return image_verify(repo, reference, expected_digest, digest_out, 0);
}

int th_image_verify_exact(ecr_repository *repo, const th_image *img)
{
	ecr_image *got = NULL;
	const void *man = NULL;
	size_t len = 0;
	int rc = th_image_verify(repo, img->digest, img->digest, NULL);
	if (rc != 0)
		return rc;
	if ((rc = ecr_image_get(&got, repo, img->digest, 0)) != 0)
		return lib_failed(rc, "ecr_image_get");
	if ((rc = ecr_image_manifest(&man, &len, got)) != 0)
		lib_failed(rc, "ecr_image_manifest");
	else if (len != img->manifest_len || memcmp(man, img->manifest, len) != 0)
		rc = broken("image %s: stored manifest differs from the one pushed", img->digest);
	ecr_image_free(got);
	return rc;
}

/* --- registry-wide check --- */

typedef struct strpair {
	char *a, *b;
} strpair;

typedef struct strlist {
	strpair *items;
	size_t count, cap;
} strlist;

static int strlist_add(strlist *l, const char *a, const char *b)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		strpair *n = realloc(l->items, cap * sizeof(*n));
		if (!n)
			return ECR_ENOMEM;
		l->items = n;
		l->cap = cap;
	}
	strpair *p = &l->items[l->count];
	p->a = strdup(a);
	p->b = b ? strdup(b) : NULL;
	if (!p->a || (b && !p->b)) {
		free(p->a);
		free(p->b);
		return ECR_ENOMEM;
	}
	l->count++;
	return 0;
}

static void strlist_dispose(strlist *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].a);
		free(l->items[i].b);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static int check_repository(ecr_repository *repo, th_check_stats *st)
{
	strlist tags = { 0 }, images = { 0 };
	ecr_tag_iterator *ti = NULL;
	ecr_image_iterator *ii = NULL;
	ecr_image *img = NULL;
	const char *name = ecr_repository_name(repo);
	int rc;

	/* Collect first, verify after: the iterators see one consistent listing. */
	if ((rc = ecr_tag_iterator_new(&ti, repo, NULL)) != 0) {
		lib_failed(rc, "ecr_tag_iterator_new");
		goto done;
	}
	for (;;) {
		const char *tag = NULL, *digest = NULL;
		rc = ecr_tag_iterator_next(&tag, &digest, ti);
		if (rc == ECR_ITEROVER)
			break;
		if (rc != 0) {
			lib_failed(rc, "ecr_tag_iterator_next");
			goto done;
		}
		if (!tag || !digest) {
			rc = broken("%s: tag iterator returned a NULL tag or digest", name);
			goto done;
		}
		if (tags.count && strcmp(tags.items[tags.count - 1].a, tag) >= 0) {
			rc = broken("%s: tags out of order: '%s' after '%s'", name, tag, tags.items[tags.count - 1].a);
			goto done;
		}
		if ((rc = strlist_add(&tags, tag, digest)) != 0)
			goto done;
	}
	if ((rc = ecr_image_iterator_new(&ii, repo, NULL)) != 0) {
		lib_failed(rc, "ecr_image_iterator_new");
		goto done;
	}
	for (;;) {
		ecr_image *it_img = NULL;
		rc = ecr_image_iterator_next(&it_img, ii);
		if (rc == ECR_ITEROVER)
			break;
		if (rc != 0) {
			lib_failed(rc, "ecr_image_iterator_next");
			goto done;
		}
		if ((rc = strlist_add(&images, ecr_image_digest(it_img), NULL)) != 0)
			goto done;
	}

	/* Every tag resolves, by tag, to the image it lists, which verifies. */
	for (size_t i = 0; i < tags.count; i++) {
		if ((rc = th_image_verify(repo, tags.items[i].a, tags.items[i].b, NULL)) != 0) {
			prefix_problem(name, tags.items[i].a);
			goto done;
		}
		bool listed = false;
		for (size_t j = 0; j < images.count && !listed; j++)
			listed = strcmp(images.items[j].a, tags.items[i].b) == 0;
		if (!listed) {
			rc = broken("%s: tag '%s' points to %s, which the image iterator does not list", name,
				tags.items[i].a, tags.items[i].b);
			goto done;
		}
		st->tags++;
	}
	/* Every image verifies by digest, and its tags are the tags that point to it. */
	for (size_t j = 0; j < images.count; j++) {
		const char *digest = images.items[j].a;
		if ((rc = th_image_verify(repo, digest, digest, NULL)) != 0) {
			prefix_problem(name, digest);
			goto done;
		}
		if ((rc = ecr_image_get(&img, repo, digest, 0)) != 0) {
			lib_failed(rc, "ecr_image_get");
			goto done;
		}
		size_t expect = 0;
		for (size_t i = 0; i < tags.count; i++)
			expect += strcmp(tags.items[i].b, digest) == 0;
		if (ecr_image_tag_count(img) != expect) {
			rc = broken("%s: image %s has %zu tags, the tag iterator lists %zu", name, digest,
				ecr_image_tag_count(img), expect);
			goto done;
		}
		for (size_t k = 0; k < ecr_image_tag_count(img); k++) {
			const char *t = ecr_image_tag(img, k);
			bool found = false;
			for (size_t i = 0; t && i < tags.count && !found; i++)
				found = strcmp(tags.items[i].a, t) == 0 && strcmp(tags.items[i].b, digest) == 0;
			if (!found) {
				rc = broken("%s: image %s has tag '%s', which the tag iterator does not give it", name,
					digest, t ? t : "(null)");
				goto done;
			}
		}
		ecr_image_free(img);
		img = NULL;
		st->images++;
	}
	rc = 0;
done:
	ecr_image_free(img);
	ecr_image_iterator_free(ii);
	ecr_tag_iterator_free(ti);
	strlist_dispose(&tags);
	strlist_dispose(&images);
	return rc;
}

int th_registry_check(ecr_registry *reg, th_check_stats *stats)
{
	th_check_stats local = { 0 };
	strlist names = { 0 };
	ecr_repository_iterator *it = NULL;
	ecr_repository *repo = NULL;
	int rc;

	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if ((rc = ecr_repository_iterator_new(&it, reg, NULL)) != 0)
		return lib_failed(rc, "ecr_repository_iterator_new");
	for (;;) {
		ecr_repository *r = NULL;
		rc = ecr_repository_iterator_next(&r, it);
		if (rc == ECR_ITEROVER)
			break;
		if (rc != 0) {
			lib_failed(rc, "ecr_repository_iterator_next");
			goto done;
		}
		if ((rc = strlist_add(&names, ecr_repository_name(r), NULL)) != 0)
			goto done;
	}
	for (size_t i = 0; i < names.count; i++) {
		if ((rc = ecr_repository_open(&repo, reg, names.items[i].a)) != 0) {
			lib_failed(rc, "ecr_repository_open (a repository the iterator listed)");
			goto done;
		}
		if ((rc = check_repository(repo, stats)) != 0)
			goto done;
		ecr_repository_free(repo);
		repo = NULL;
		stats->repositories++;
	}
	rc = 0;
done:
	ecr_repository_free(repo);
	ecr_repository_iterator_free(it);
	strlist_dispose(&names);
	return rc;
}

/* --- the fs blob store's files --- */

static _Thread_local struct {
	size_t count;
	int rc;
	th_blob_file_cb cb;
	void *payload;
} walk;

static bool all_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[len] == '\0';
}

static int hash_file(const char *path, ecr__digest_alg alg, char *out)
{
	ecr__digest_ctx *ctx = NULL;
	unsigned char buf[16384];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return broken("cannot open %s", path);
	if (ecr__digest_new(&ctx, alg) != 0) {
		close(fd);
		return ECR_ENOMEM;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		ecr__digest_update(ctx, buf, (size_t)n);
	close(fd);
	ecr__digest_final(ctx, out, TH_DIGEST_MAX);
	ecr__digest_free(ctx);
	return n < 0 ? broken("cannot read %s", path) : 0;
}

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag != FTW_F)
		return 0;
	/* .../blobs/<alg>/<2 hex>/<hex> */
	const char *parts[4] = { NULL, NULL, NULL, NULL };
	const char *end = path + strlen(path);
	const char *p = end;
	for (int k = 3; k >= 0; k--) {
		while (p > path && p[-1] != '/')
			p--;
		parts[k] = p;
		if (k > 0) {
			if (p == path)
				return 0;
			p--;
		}
	}
	if (strncmp(parts[0], "blobs/", 6) != 0)
		return 0;
	ecr__digest_alg alg;
	size_t hexlen;
	if (strncmp(parts[1], "sha256/", 7) == 0)
		alg = ECR__DIGEST_SHA256;
	else if (strncmp(parts[1], "sha512/", 7) == 0)
		alg = ECR__DIGEST_SHA512;
	else
		return 0;
	hexlen = ecr__digest_hex_len(alg);
	const char *hex = parts[3];
	if (!all_hex(hex, hexlen))
		return 0; /* a temporary file, not a published blob */
	if (parts[2][0] != hex[0] || parts[2][1] != hex[1] || parts[2][2] != '/') {
		walk.rc = broken("blob file %s is in the wrong folder", path);
		return 1;
	}
	char expect[TH_DIGEST_MAX], got[TH_DIGEST_MAX];
	snprintf(expect, sizeof(expect), "%s:%s", ecr__digest_alg_name(alg), hex);
	int rc = hash_file(path, alg, got);
	if (rc != 0) {
		walk.rc = rc;
		return 1;
	}
	if (strcmp(expect, got) != 0) {
		walk.rc = broken("blob file %s: content hashes to %s (a partial or corrupt blob is visible)", path, got);
		return 1;
	}
	walk.count++;
	if (walk.cb && (rc = walk.cb(expect, walk.payload)) != 0) {
		walk.rc = rc;
		return 1;
	}
	return 0;
}

int th_fs_blobs_verify(const char *root, size_t *count_out)
{
	return th_fs_blobs_walk(root, count_out, NULL, NULL);
}

int th_fs_blobs_walk(const char *root, size_t *count_out, th_blob_file_cb cb, void *payload)
{
	walk.count = 0;
	walk.rc = 0;
	walk.cb = cb;
	walk.payload = payload;
	if (nftw(root, walk_one, 16, FTW_PHYS) < 0 && walk.rc == 0)
		walk.rc = broken("cannot walk %s", root);
	if (count_out)
		*count_out = walk.count;
	return walk.rc;
}
