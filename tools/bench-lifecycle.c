/* bench-lifecycle: evaluate a lifecycle policy of 10 rules over 20,000 random
 * images (tags, push and pull times, indexes with children, referrers, a few
 * archived images) and report the median of 5 runs in milliseconds.
 *   bench-lifecycle [images] [runs]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecr.h"

#define DAY INT64_C(86400000)
#define NOW INT64_C(1750000000000)

static const char policy[] =
    "{\"rules\":["
    "{\"rulePriority\":1,\"description\":\"keep 50 prod\",\"selection\":{\"tagStatus\":\"tagged\","
    "\"tagPrefixList\":[\"prod\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":50},"
    "\"action\":{\"type\":\"expire\"}},"
    "{\"rulePriority\":2,\"selection\":{\"tagStatus\":\"tagged\",\"tagPatternList\":[\"release-*-rc*\"],"
    "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":30},\"action\":{\"type\":\"expire\"}},"
    "{\"rulePriority\":3,\"selection\":{\"tagStatus\":\"tagged\",\"tagPatternList\":[\"*-dev\",\"feature*\"],"
    "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":14},\"action\":{\"type\":\"expire\"}},"
    "{\"rulePriority\":4,\"selection\":{\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"v1\"],"
    "\"countType\":\"sinceImagePulled\",\"countUnit\":\"days\",\"countNumber\":90},"
    "\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}},"
    "{\"rulePriority\":5,\"selection\":{\"tagStatus\":\"tagged\",\"tagPatternList\":[\"*nightly*\"],"
    "\"countType\":\"imageCountMoreThan\",\"countNumber\":20},\"action\":{\"type\":\"expire\"}},"
    "{\"rulePriority\":6,\"selection\":{\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"beta\",\"b\"],"
    "\"countType\":\"imageCountMoreThan\",\"countNumber\":100},\"action\":{\"type\":\"expire\"}},"
    "{\"rulePriority\":7,\"selection\":{\"tagStatus\":\"untagged\",\"countType\":\"sinceImagePushed\","
    "\"countUnit\":\"days\",\"countNumber\":7},\"action\":{\"type\":\"expire\"}},"
    "{\"rulePriority\":8,\"selection\":{\"tagStatus\":\"tagged\",\"tagPatternList\":[\"*\"],"
    "\"countType\":\"sinceImagePulled\",\"countUnit\":\"days\",\"countNumber\":180},"
    "\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}},"
    "{\"rulePriority\":9,\"selection\":{\"tagStatus\":\"any\",\"storageClass\":\"archive\","
    "\"countType\":\"sinceImageTransitioned\",\"countUnit\":\"days\",\"countNumber\":365},"
    "\"action\":{\"type\":\"expire\"}},"
    "{\"rulePriority\":10,\"selection\":{\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\","
    "\"countNumber\":15000},\"action\":{\"type\":\"expire\"}}"
    "]}";

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static int count_cb(size_t index, ecr_lifecycle_action action, uint32_t rule_priority, void *payload)
{
	(void)index;
	(void)rule_priority;
	((size_t *)payload)[action]++;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 20000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	static const char *const stems[] = {"prod",    "release-1-rc", "x-dev", "feature", "v1",
	                                    "nightly", "beta",         "b",     "latest",  "misc"};
	ecr_lifecycle_policy *p = NULL;
	ecr_lifecycle_image *imgs;
	char(*digests)[72], (*tagstore)[2][64], (*subjects)[72];
	const char *(*tags)[2], **parents;
	double *times;
	int rc = 1;

	if (n == 0 || runs < 1)
		return 2;
	imgs = calloc(n, sizeof(*imgs));
	digests = calloc(n, sizeof(*digests));
	subjects = calloc(n, sizeof(*subjects));
	tagstore = calloc(n, sizeof(*tagstore));
	tags = calloc(n, sizeof(*tags));
	parents = calloc(n, sizeof(*parents));
	times = calloc((size_t)runs, sizeof(*times));
	if (!imgs || !digests || !subjects || !tagstore || !tags || !parents || !times)
		goto done;
	if (ecr_lifecycle_policy_parse(&p, policy, strlen(policy)) != 0) {
		fprintf(stderr, "policy: %s\n", ecr_error_last()->message);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		ecr_lifecycle_image *m = &imgs[i];
		snprintf(digests[i], sizeof(digests[i]), "sha256:%016llx%08zx", (unsigned long long)rng, i);
		rnd(2);
		m->digest = digests[i];
		size_t nt = rnd(3) == 0 ? 0 : 1 + rnd(2);
		for (size_t t = 0; t < nt; t++) {
			snprintf(tagstore[i][t], sizeof(tagstore[i][t]), "%s%s%zu-%zu", stems[rnd(10)],
			         rnd(4) ? "" : "-nightly", t, i);
			tags[i][t] = tagstore[i][t];
		}
		m->tags = tags[i];
		m->tags_count = nt;
		m->pushed_at = NOW - (int64_t)rnd(730 * 24) * (DAY / 24);
		if (rnd(2))
			m->last_pulled_at = m->pushed_at + (NOW - m->pushed_at) / (1 + rnd(10));
		if (rnd(20) == 0) {
			m->storage_class = ECR_STORAGE_CLASS_ARCHIVE;
			m->last_archived_at = m->pushed_at + (NOW - m->pushed_at) / 2;
		}
		if (i > 0 && nt == 0 && rnd(3) == 0) { /* a child of an earlier image */
			parents[i] = digests[rnd((uint32_t)i)];
			m->parents = &parents[i];
			m->parents_count = 1;
		} else if (i > 0 && nt == 0 && rnd(3) == 0) { /* a referrer */
			snprintf(subjects[i], sizeof(subjects[i]), "%s", digests[rnd((uint32_t)i)]);
			m->subject = subjects[i];
		}
	}
	size_t counts[3] = {0, 0, 0};
	for (int r = 0; r < runs; r++) {
		memset(counts, 0, sizeof(counts));
		double t0 = now_ms();
		if (ecr_lifecycle_policy_evaluate(p, imgs, n, NOW, count_cb, counts) != 0) {
			fprintf(stderr, "evaluate: %s\n", ecr_error_last()->message);
			goto done;
		}
		times[r] = now_ms() - t0;
	}
	qsort(times, (size_t)runs, sizeof(*times), cmp_double);
	printf("lifecycle evaluate: %zu images, %zu rules: median %.2f ms (min %.2f, max %.2f, %d runs); "
	       "kept %zu, expired %zu, transitioned %zu\n",
	       n, ecr_lifecycle_policy_rule_count(p), times[runs / 2], times[0], times[runs - 1], runs, counts[0],
	       counts[1], counts[2]);
	rc = 0;
done:
	ecr_lifecycle_policy_free(p);
	free(imgs);
	free(digests);
	free(subjects);
	free(tagstore);
	free(tags);
	free(parents);
	free(times);
	return rc;
}
