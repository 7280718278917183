/*
 * list: list the repositories of a registry and the images of each.
 *
 *   list REGISTRY_URL
 *   list file:///tmp/ecr-data
 *
 * For every repository (ecr_repository_iterator, in name order) it prints the
 * name and URI, then one line per image (ecr_image_iterator, in digest order):
 * digest, tags, size (imageSizeInBytes), push time (UTC) and media type.
 *
 * Every libecr call is checked and a failure prints ecr_error_last()->message.
 * Uses only the public API (ecr.h). This example is in the public domain (CC0).
 */
#include <ecr.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static int fail_ecr(int rc, const char *what)
{
	fprintf(stderr, "list: %s: %s (%s)\n", what, ecr_error_last()->message, ecr_error_name(rc));
	return rc;
}

/* ms since the epoch as "YYYY-MM-DDThh:mm:ssZ". */
static void format_time(char *out, size_t size, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "%lld ms", (long long)ms);
}

static int list_images(ecr_repository *repo, size_t *count)
{
	ecr_image_iterator *it = NULL;
	ecr_image *img;
	int rc;

	if ((rc = ecr_image_iterator_new(&it, repo, NULL)) < 0)
		return fail_ecr(rc, "ecr_image_iterator_new");
	while ((rc = ecr_image_iterator_next(&img, it)) == 0) {
		char when[64];
		size_t i, ntags = ecr_image_tag_count(img);

		format_time(when, sizeof(when), ecr_image_pushed_at(img));
		printf("  %s  tags: ", ecr_image_digest(img));
		if (ntags == 0)
			printf("<untagged>");
		for (i = 0; i < ntags; i++)
			printf("%s%s", i ? "," : "", ecr_image_tag(img, i));
		printf("  size: %llu  pushed: %s  %s\n", (unsigned long long)ecr_image_size(img), when,
			ecr_image_media_type(img));
		(*count)++;
	}
	if (rc == ECR_ITEROVER)
		rc = 0;
	else
		fail_ecr(rc, "ecr_image_iterator_next");
	ecr_image_iterator_free(it);
	return rc;
}

int main(int argc, char **argv)
{
	ecr_registry *reg = NULL;
	ecr_repository_iterator *it = NULL;
	ecr_repository *repo;
	size_t nrepos = 0, nimages = 0;
	int rc, initialised = 0, status = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s REGISTRY_URL\n", argv[0]);
		return 2;
	}
	if ((rc = ecr_init()) < 0) {
		fail_ecr(rc, "ecr_init");
		goto done;
	}
	initialised = 1;
	if ((rc = ecr_registry_open(&reg, argv[1], NULL)) < 0) {
		fail_ecr(rc, argv[1]);
		goto done;
	}
	if ((rc = ecr_repository_iterator_new(&it, reg, NULL)) < 0) {
		fail_ecr(rc, "ecr_repository_iterator_new");
		goto done;
	}
	/* repo is borrowed from the iterator: valid until the next call. */
	while ((rc = ecr_repository_iterator_next(&repo, it)) == 0) {
		printf("%s  %s\n", ecr_repository_name(repo), ecr_repository_uri(repo));
		nrepos++;
		if (list_images(repo, &nimages) < 0)
			goto done;
	}
	if (rc != ECR_ITEROVER) {
		fail_ecr(rc, "ecr_repository_iterator_next");
		goto done;
	}
	printf("%zu repositories, %zu images\n", nrepos, nimages);
	status = 0;
done:
	ecr_repository_iterator_free(it);
	ecr_registry_free(reg);
	if (initialised && (rc = ecr_shutdown()) < 0) {
		fail_ecr(rc, "ecr_shutdown");
		status = 1;
	}
	return status;
}
