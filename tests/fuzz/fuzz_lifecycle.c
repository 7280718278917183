/* libFuzzer target: the lifecycle policy parser and, for policies that parse,
 * an evaluation over a small fixed set of images (tags, indexes, referrers,
 * archived images), whose decisions must be one per image, in order, and
 * never act on a child of a kept index. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ecr.h"

#define DAY INT64_C(86400000)
#define NOW INT64_C(1750000000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t next;
	ecr_lifecycle_action action[8];
};

static int check_cb(size_t index, ecr_lifecycle_action action, uint32_t rule_priority, void *payload)
{
	struct seen *s = payload;
	if (index != s->next || index >= 8 || action > ECR_LIFECYCLE_TRANSITION ||
	    (action == ECR_LIFECYCLE_KEEP) != (rule_priority == 0))
		__builtin_trap();
	s->action[s->next++] = action;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const t_prod[] = {"prod-1", "v1.0"};
	static const char *const t_beta[] = {"beta-2"};
	static const char *const t_rc[] = {"release-rc1", "prod-rc"};
	static const char *const idx[] = {"sha256:01"};
	ecr_lifecycle_image imgs[8];
	ecr_lifecycle_policy *p = NULL;
	struct seen s;

	if (ecr_lifecycle_policy_parse(&p, (const char *)data, size) != 0) {
		if (p)
			__builtin_trap();
		return 0;
	}
	if (ecr_lifecycle_policy_rule_count(p) < 1 || ecr_lifecycle_policy_rule_count(p) > ECR_LIFECYCLE_MAX_RULES)
		__builtin_trap();
	memset(imgs, 0, sizeof(imgs));
	imgs[0] =
	    (ecr_lifecycle_image){.digest = "sha256:01", .tags = t_prod, .tags_count = 2, .pushed_at = NOW - 40 * DAY};
	imgs[1] = (ecr_lifecycle_image){
	    .digest = "sha256:02", .pushed_at = NOW - 40 * DAY, .parents = idx, .parents_count = 1};
	imgs[2] = (ecr_lifecycle_image){.digest = "sha256:03",
	                                .tags = t_beta,
	                                .tags_count = 1,
	                                .pushed_at = NOW - 3 * DAY,
	                                .last_pulled_at = NOW - DAY};
	imgs[3] = (ecr_lifecycle_image){.digest = "sha256:04", .pushed_at = NOW - 200 * DAY, .subject = "sha256:01"};
	imgs[4] = (ecr_lifecycle_image){.digest = "sha256:05",
	                                .tags = t_rc,
	                                .tags_count = 2,
	                                .pushed_at = NOW - 500 * DAY,
	                                .storage_class = ECR_STORAGE_CLASS_ARCHIVE,
	                                .last_archived_at = NOW - 400 * DAY};
	imgs[5] = (ecr_lifecycle_image){.digest = "sha256:06",
	                                .pushed_at = NOW - 300 * DAY,
	                                .last_archived_at = NOW - 200 * DAY,
	                                .last_activated_at = NOW - 100 * DAY};
	imgs[6] = (ecr_lifecycle_image){.digest = "sha256:07", .pushed_at = NOW - 90 * DAY};
	memset(&s, 0, sizeof(s));
	if (ecr_lifecycle_policy_evaluate(p, imgs, 7, NOW, check_cb, &s) != 0 || s.next != 7)
		__builtin_trap();
	if (s.action[1] != ECR_LIFECYCLE_KEEP && s.action[0] == ECR_LIFECYCLE_KEEP)
		__builtin_trap(); /* a child of a kept index */
	if (s.action[3] != ECR_LIFECYCLE_KEEP && s.action[3] != s.action[0])
		__builtin_trap(); /* a referrer acted on alone */
	ecr_lifecycle_policy_free(p);
	return 0;
}
