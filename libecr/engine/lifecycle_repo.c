/*
 * Lifecycle policies of repositories: storage (PutLifecyclePolicy,
 * GetLifecyclePolicy, DeleteLifecyclePolicy), preview and application. The
 * images of a repository are read in one read transaction into
 * ecr_lifecycle_image records, evaluated by the pure evaluator
 * (libecr/lifecycle/), and the decisions reported or carried out. An image
 * that changed between the evaluation and its action (re-tagged, pulled,
 * pushed again, archived or restored) is evaluated again rather than acted on
 * blindly.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>

#include "../oci/oci.h"
#include "../remote/remote_repo.h"
#include "leases.h"

/* A repository's lifecycle run holds the lease "lifecycle/<repository id>", so that the lifecycle timers of
 * several nodes do not act on one repository together; a dead node's lease expires after this. */
#define LIFECYCLE_LEASE_TTL_MS (10 * 60 * 1000)

/* Rounds of re-evaluation for images that changed under an application. */
#define MAX_RECHECKS 3

static int policy_not_found(const ecr_repository *repo)
{
	return ecr__fail(
	    ECR_ELIFECYCLE_POLICY_NOT_FOUND, ECR_ERROR_REPOSITORY,
	    "Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'",
	    repo->name, repo->reg->account_id);
}

int ecr_repository_set_lifecycle_policy(ecr_repository *repo, const char *text)
{
	ecr_lifecycle_policy *policy = NULL;
	ecr__txn t = {0};
	int rc;

	if (!repo || !text)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository or lifecycle policy text");
	if ((rc = ecr_lifecycle_policy_parse(&policy, text, strlen(text))))
		return rc;
	ecr_lifecycle_policy_free(policy);
	if (repo->reg->remote)
		return ecr__remote_repository_set_lifecycle_policy(repo, text);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)) || (rc = ecr__meta_lifecycle_put(&t, repo->id, text)) ||
	    (rc = ecr__txn_commit(&t)))
		goto done;
	ecr__log(&repo->reg->log, ECR_LOG_INFO, "lifecycle policy of %s set", repo->name);
done:
	ecr__txn_rollback(&t);
	return rc;
}

/* Read the stored policy inside t. */
static int policy_get(ecr__txn *t, ecr_repository *repo, char **doc_out, int64_t *last_out)
{
	int rc = ecr__repository_check(t, repo);
	if (rc)
		return rc;
	rc = ecr__meta_lifecycle_get(t, repo->id, doc_out, last_out);
	if (rc == ECR_ENOTFOUND)
		return policy_not_found(repo);
	return rc;
}

int ecr_repository_lifecycle_policy(ecr_buf *text_out, int64_t *last_evaluated_at_out, ecr_repository *repo)
{
	ecr__txn t = {0};
	char *doc = NULL;
	int64_t last = 0;
	int rc;

	if (!repo || !text_out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository or output buffer");
	if (repo->reg->remote)
		return ecr__remote_repository_lifecycle_policy(text_out, last_evaluated_at_out, repo);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, false)))
		return rc;
	if ((rc = policy_get(&t, repo, &doc, &last)))
		goto done;
	ecr__txn_rollback(&t);
	if ((rc = ecr__buf_puts(text_out, doc)))
		goto done;
	if (last_evaluated_at_out)
		*last_evaluated_at_out = last;
done:
	ecr__txn_rollback(&t);
	ecr__free(doc);
	return rc;
}

int ecr_repository_delete_lifecycle_policy(ecr_buf *deleted_out, int64_t *last_evaluated_at_out, ecr_repository *repo)
{
	ecr__txn t = {0};
	char *doc = NULL;
	int64_t last = 0;
	int rc;

	if (!repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository");
	if (repo->reg->remote)
		return ecr__remote_repository_delete_lifecycle_policy(deleted_out, last_evaluated_at_out, repo);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		return rc;
	if ((rc = policy_get(&t, repo, &doc, &last)))
		goto done;
	if ((rc = ecr__meta_lifecycle_delete(&t, repo->id)) || (rc = ecr__txn_commit(&t)))
		goto done;
	ecr__log(&repo->reg->log, ECR_LOG_INFO, "lifecycle policy of %s deleted", repo->name);
	if (deleted_out && (rc = ecr__buf_puts(deleted_out, doc)))
		goto done;
	if (last_evaluated_at_out)
		*last_evaluated_at_out = last;
done:
	ecr__txn_rollback(&t);
	ecr__free(doc);
	return rc;
}

/* The images of a repository as the evaluator sees them, in digest order. */
typedef struct snapshot {
	ecr__meta_image *recs; /* while loading */
	ecr_image **imgs;      /* handles, once loaded */
	ecr_lifecycle_image *li;
	ecr__strvec *tags;    /* per image, owned until moved into imgs[i] */
	ecr__strvec *parents; /* per image */
	size_t count, cap;
	ecr_lifecycle_action *action;
	uint32_t *priority;
} snapshot;

static void snapshot_dispose(snapshot *s)
{
	for (size_t i = 0; i < s->count; i++) {
		if (s->recs)
			ecr__meta_image_dispose(&s->recs[i]);
		if (s->imgs)
			ecr_image_free(s->imgs[i]);
		if (s->tags)
			ecr__strvec_dispose(&s->tags[i]);
		if (s->parents)
			ecr__strvec_dispose(&s->parents[i]);
	}
	ecr__free(s->recs);
	ecr__free(s->imgs);
	ecr__free(s->li);
	ecr__free(s->tags);
	ecr__free(s->parents);
	ecr__free(s->action);
	ecr__free(s->priority);
	memset(s, 0, sizeof(*s));
}

static int dup_rec(ecr__meta_image *dst, const ecr__meta_image *src)
{
	*dst = *src;
	dst->digest = ecr__strdup(src->digest);
	dst->media_type = ecr__strdup(src->media_type);
	dst->artifact_type = src->artifact_type ? ecr__strdup(src->artifact_type) : NULL;
	dst->subject = src->subject ? ecr__strdup(src->subject) : NULL;
	if (!dst->digest || !dst->media_type || (src->artifact_type && !dst->artifact_type) ||
	    (src->subject && !dst->subject)) {
		ecr__meta_image_dispose(dst);
		return ECR_ENOMEM;
	}
	return 0;
}

static int snap_image_cb(const ecr__meta_image *img, void *payload)
{
	snapshot *s = payload;
	if (s->count == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64, bytes;
		if (ecr__mul_overflow(cap, sizeof(*s->recs), &bytes))
			return ecr__fail_oom();
		ecr__meta_image *p = ecr__realloc(s->recs, bytes);
		if (!p)
			return ECR_ENOMEM;
		s->recs = p;
		s->cap = cap;
	}
	int rc = dup_rec(&s->recs[s->count], img);
	if (!rc)
		s->count++;
	return rc;
}

static ssize_t snap_find(const snapshot *s, const char *digest)
{
	size_t lo = 0, hi = s->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *d = s->recs ? s->recs[mid].digest : ecr_image_digest(s->imgs[mid]);
		int c = strcmp(d, digest);
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int snap_tag_cb(const char *tag, const char *digest, void *payload)
{
	snapshot *s = payload;
	ssize_t i = snap_find(s, digest);
	return i < 0 ? 0 : ecr__strvec_add(&s->tags[i], tag);
}

static int snap_parent_cb(const char *parent, const char *child, void *payload)
{
	snapshot *s = payload;
	ssize_t i = snap_find(s, child);
	if (i < 0 || snap_find(s, parent) < 0)
		return 0;
	return ecr__strvec_add(&s->parents[i], parent);
}

/* Load the policy (the stored one when text is NULL) and every image of the repository in one read transaction. */
static int snapshot_load(snapshot *s, ecr_lifecycle_policy **policy_out, ecr_repository *repo, const char *text)
{
	ecr__txn t = {0};
	char *doc = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	*policy_out = NULL;
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, false)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)))
		goto done;
	if (!text) {
		if ((rc = policy_get(&t, repo, &doc, NULL)))
			goto done;
		text = doc;
	}
	if ((rc = ecr_lifecycle_policy_parse(policy_out, text, strlen(text))))
		goto done;
	if ((rc = ecr__meta_image_list(&t, repo->id, NULL, ECR_TAG_STATUS_ANY, 0, NULL, NULL, SIZE_MAX >> 2,
	                               snap_image_cb, s)))
		goto done;
	size_t n = s->count ? s->count : 1;
	if (!(s->tags = ecr__calloc(n, sizeof(*s->tags))) || !(s->parents = ecr__calloc(n, sizeof(*s->parents))) ||
	    !(s->imgs = ecr__calloc(n, sizeof(*s->imgs))) || !(s->li = ecr__calloc(n, sizeof(*s->li))) ||
	    !(s->action = ecr__calloc(n, sizeof(*s->action))) ||
	    !(s->priority = ecr__calloc(n, sizeof(*s->priority)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = ecr__meta_tag_list_all(&t, repo->id, snap_tag_cb, s)) ||
	    (rc = ecr__meta_ref_list_kind(&t, repo->id, ECR__REF_MANIFEST, snap_parent_cb, s)))
		goto done;
	ecr__txn_rollback(&t);
	/* Build the handles: records and tags move into them; the views borrow from them. */
	for (size_t i = 0; i < s->count; i++) {
		if ((rc = ecr__image_new(&s->imgs[i], repo->reg, &s->recs[i], s->tags[i].v, s->tags[i].n)))
			goto done;
		memset(&s->tags[i], 0, sizeof(s->tags[i]));
		const ecr__meta_image *r = ecr__image_rec(s->imgs[i]);
		ecr_lifecycle_image *li = &s->li[i];
		li->digest = r->digest;
		li->tags = (const char *const *)ecr__image_tags(s->imgs[i]);
		li->tags_count = ecr_image_tag_count(s->imgs[i]);
		li->pushed_at = r->pushed_at;
		li->last_pulled_at = r->last_pulled_at;
		li->last_archived_at = r->last_archived_at;
		li->last_activated_at = r->last_activated_at;
		li->storage_class = ecr_image_storage_class(s->imgs[i]);
		li->parents = (const char *const *)s->parents[i].v;
		li->parents_count = s->parents[i].n;
		li->subject = r->subject;
	}
	ecr__free(s->recs);
	s->recs = NULL;
done:
	ecr__txn_rollback(&t);
	ecr__free(doc);
	if (rc) {
		ecr_lifecycle_policy_free(*policy_out);
		*policy_out = NULL;
		snapshot_dispose(s);
	}
	return rc;
}

static int decision_cb(size_t index, ecr_lifecycle_action action, uint32_t rule_priority, void *payload)
{
	snapshot *s = payload;
	if (index >= s->count)
		return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "lifecycle evaluation reported image %zu of %zu", index,
		                 s->count);
	s->action[index] = action;
	s->priority[index] = action == ECR_LIFECYCLE_KEEP ? 0 : rule_priority;
	return 0;
}

/* Load and evaluate: s->action / s->priority hold the decisions. */
static int evaluate(snapshot *s, ecr_repository *repo, const char *text, int64_t now)
{
	ecr_lifecycle_policy *policy = NULL;
	int rc = snapshot_load(s, &policy, repo, text);
	if (rc)
		return rc;
	rc = ecr_lifecycle_policy_evaluate(policy, s->li, s->count, now, decision_cb, s);
	ecr_lifecycle_policy_free(policy);
	if (rc)
		snapshot_dispose(s);
	return rc;
}

int ecr_repository_lifecycle_preview(ecr_repository *repo, const char *text, ecr_lifecycle_image_cb cb, void *payload)
{
	snapshot s;
	int rc;
	if (!repo || !cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository or callback");
	if (repo->reg->remote)
		return ecr__remote_repository_lifecycle_preview(repo, text, cb, payload);
	if ((rc = evaluate(&s, repo, text, ecr_registry_now(repo->reg))))
		return rc;
	for (size_t i = 0; !rc && i < s.count; i++)
		rc = cb(s.imgs[i], s.action[i], s.priority[i], payload);
	snapshot_dispose(&s);
	return rc;
}

static int tag_collect(const char *tag, const char *digest, void *payload)
{
	(void)digest;
	return ecr__strvec_add(payload, tag);
}

/* Whether the image as stored now is the one that was evaluated (same status, times and tags). */
static int unchanged(ecr__txn *t, ecr_repository *repo, const ecr_image *img, bool *exists, bool *same)
{
	const ecr__meta_image *was = ecr__image_rec(img);
	ecr__meta_image cur = {0};
	ecr__strvec tags = {0};
	*exists = *same = false;
	int rc = ecr__meta_image_get(t, repo->id, was->digest, &cur);
	if (rc == ECR_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	*exists = true;
	if ((rc = ecr__meta_tags_of_image(t, repo->id, was->digest, tag_collect, &tags)))
		goto done;
	bool same_tags = tags.n == ecr_image_tag_count(img);
	for (size_t i = 0; same_tags && i < tags.n; i++)
		same_tags = strcmp(tags.v[i], ecr_image_tag(img, i)) == 0;
	*same = same_tags && cur.status == was->status && cur.pushed_at == was->pushed_at &&
	        cur.last_pulled_at == was->last_pulled_at && cur.last_activated_at == was->last_activated_at &&
	        cur.last_archived_at == was->last_archived_at;
done:
	ecr__strvec_dispose(&tags);
	ecr__meta_image_dispose(&cur);
	return rc;
}

typedef struct apply_ctx {
	ecr_repository *repo;
	ecr_lifecycle_image_cb cb;
	void *payload;
	ecr__strvec done;    /* digests expired or archived by this run (directly or as followers) */
	ecr__strvec changed; /* digests that changed since their evaluation: evaluated again */
	size_t expired, transitioned;
	const char *lease, *holder; /* the run's lease, renewed as the run goes on */
	int64_t renewed_at;         /* registry time of its last renewal */
} apply_ctx;

/* Renew the run's lease when a third of its time has passed since the last renewal: a long run keeps it (a
 * lease lost to another node stops the run: ECR_EBUSY). */
static int lease_keep(apply_ctx *c)
{
	int64_t now = ecr_registry_now(c->repo->reg);
	if (!c->lease || now - c->renewed_at < LIFECYCLE_LEASE_TTL_MS / 3)
		return 0;
	int rc = ecr__lease_renew(c->repo->reg->store, c->lease, c->holder, now, LIFECYCLE_LEASE_TTL_MS);
	if (rc == ECR_EBUSY)
		return ecr__fail(ECR_EBUSY, ECR_ERROR_REPOSITORY,
		                 "lifecycle policy of %s: the run's lease expired and another node took it; stopped",
		                 c->repo->name);
	if (rc == 0)
		c->renewed_at = now;
	return rc;
}

/* Log, raise and report an action that happened to img (as evaluated). */
static int report(apply_ctx *c, ecr_image *img, ecr_lifecycle_action action, uint32_t priority)
{
	ecr_registry *reg = c->repo->reg;
	const char *digest = ecr_image_digest(img);
	bool expire = action == ECR_LIFECYCLE_EXPIRE;
	ecr__log(&reg->log, ECR_LOG_INFO, "lifecycle: %s %s@%s (rule %u)", expire ? "expired" : "archived",
	         c->repo->name, digest, (unsigned)priority);
	if (expire)
		c->expired++;
	else
		c->transitioned++;
	ecr__event_raise(reg, expire ? ECR_EVENT_LIFECYCLE_EXPIRE : ECR_EVENT_LIFECYCLE_TRANSITION, c->repo->name,
	                 digest, (const char *const *)ecr__image_tags(img), ecr_image_tag_count(img), priority,
	                 ecr_registry_now(reg));
	return c->cb ? c->cb(img, action, priority, c->payload) : 0;
}

/* Followers (referrers, index children) that went with an image of this run and had no decision of their own. */
static int report_followers(apply_ctx *c, snapshot *s, const ecr__strvec *went, ecr_lifecycle_action action,
                            uint32_t priority)
{
	int rc = 0;
	for (size_t k = 0; !rc && k < went->n; k++) {
		if (ecr__strvec_has(&c->done, went->v[k]))
			continue;
		if ((rc = ecr__strvec_add(&c->done, went->v[k])))
			break;
		ssize_t j = snap_find(s, went->v[k]);
		if (j >= 0 && s->action[j] == ECR_LIFECYCLE_KEEP)
			rc = report(c, s->imgs[j], action, priority);
	}
	return rc;
}

/* Act on image i of s. *deferred: it is listed by an index that is still there (try again after the others). */
static int act(apply_ctx *c, snapshot *s, size_t i, bool *deferred)
{
	ecr_repository *repo = c->repo;
	ecr_image *img = s->imgs[i];
	const char *digest = ecr_image_digest(img);
	ecr__strvec went = {0};
	ecr__txn t = {0};
	bool exists = false, same = false;
	int rc;

	*deferred = false;
	if (ecr__strvec_has(&c->done, digest)) {
		/* Went with its subject or parent in this run: it was acted on as decided. */
		return report(c, img, s->action[i], s->priority[i]);
	}
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, s->action[i] == ECR_LIFECYCLE_EXPIRE)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)) || (rc = unchanged(&t, repo, img, &exists, &same)))
		goto done;
	if (!exists)
		goto done; /* deleted meanwhile by someone else */
	if (!same) {
		rc = ecr__strvec_add(&c->changed, digest);
		goto done;
	}
	if (s->action[i] == ECR_LIFECYCLE_EXPIRE) {
		rc = ecr__image_delete_in(&t, repo, digest, &went);
		if (rc == ECR_EIMAGE_REFERENCED) {
			ecr__error_clear();
			*deferred = true;
			rc = 0;
			goto done;
		}
		if (rc || (rc = ecr__txn_commit(&t)))
			goto done;
	} else {
		ecr__txn_rollback(&t);
		rc = ecr__image_set_storage_class(repo, digest, ECR_STORAGE_CLASS_ARCHIVE, &went);
		if (rc == ECR_ESTORAGE_CLASS_UPDATE) { /* archived meanwhile */
			ecr__error_clear();
			rc = ecr__strvec_add(&c->changed, digest);
			goto done;
		}
		if (rc)
			goto done;
	}
	if ((rc = ecr__strvec_add(&c->done, digest)) || (rc = report(c, img, s->action[i], s->priority[i])))
		goto done;
	rc = report_followers(c, s, &went, s->action[i], s->priority[i]);
done:
	ecr__txn_rollback(&t);
	ecr__strvec_dispose(&went);
	return rc;
}

/* Carry out the decisions of s (only for the digests in only, when not NULL). */
static int act_all(apply_ctx *c, snapshot *s, const ecr__strvec *only)
{
	bool *pending = NULL;
	size_t left = 0;
	int rc = 0;

	if (s->count && !(pending = ecr__calloc(s->count, sizeof(*pending))))
		return ECR_ENOMEM;
	for (size_t i = 0; i < s->count; i++) {
		pending[i] = s->action[i] != ECR_LIFECYCLE_KEEP &&
		             (!only || ecr__strvec_has(only, ecr_image_digest(s->imgs[i])));
		left += pending[i];
	}
	/* Rounds: an image listed by an index that goes in this run waits for it. */
	while (left) {
		size_t progress = 0;
		for (size_t i = 0; !rc && i < s->count; i++) {
			bool deferred = false;
			if (!pending[i])
				continue;
			if ((rc = lease_keep(c)) || (rc = act(c, s, i, &deferred)))
				break;
			if (!deferred) {
				pending[i] = false;
				left--;
				progress++;
			}
		}
		if (rc || !progress)
			break;
	}
	ecr__free(pending);
	return rc;
}

int ecr_repository_apply_lifecycle(ecr_repository *repo, ecr_lifecycle_image_cb cb, void *payload)
{
	apply_ctx c;
	snapshot s = {0};
	ecr__strvec recheck = {0};
	ecr__txn t = {0};
	int64_t now;
	char holder[ECR__LEASE_HOLDER_MAX], lease[64];
	bool leased = false;
	int rc;

	if (!repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository");
	if (repo->reg->remote)
		return ecr__remote_local_only(repo->reg, "Applying a lifecycle policy");
	memset(&c, 0, sizeof(c));
	c.repo = repo;
	c.cb = cb;
	c.payload = payload;
	/* a repository without a policy takes no lease (one read, no write in the store) */
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, false)))
		return rc;
	{
		char *doc = NULL;
		rc = policy_get(&t, repo, &doc, NULL);
		ecr__free(doc);
		ecr__txn_rollback(&t);
		if (rc)
			return rc;
	}
	now = ecr_registry_now(repo->reg);
	ecr__lease_holder(repo->reg->store, holder);
	snprintf(lease, sizeof(lease), "lifecycle/%lld", (long long)repo->id);
	rc = ecr__lease_acquire(repo->reg->store, lease, holder, now, LIFECYCLE_LEASE_TTL_MS);
	if (rc == ECR_EBUSY) { /* another node is applying it: nothing done here */
		ecr__log(&repo->reg->log, ECR_LOG_INFO, "lifecycle policy of %s: skipped, another node applies it",
		         repo->name);
		return 0;
	}
	if (rc)
		return rc;
	leased = true;
	c.lease = lease;
	c.holder = holder;
	c.renewed_at = now;
	if ((rc = evaluate(&s, repo, NULL, now)) || (rc = act_all(&c, &s, NULL)))
		goto done;
	/* Images that changed since their evaluation: evaluate again (the others keep their first decision). */
	for (int round = 0; round < MAX_RECHECKS && c.changed.n; round++) {
		ecr__strvec_dispose(&recheck);
		recheck = c.changed;
		memset(&c.changed, 0, sizeof(c.changed));
		snapshot_dispose(&s);
		if ((rc = evaluate(&s, repo, NULL, ecr_registry_now(repo->reg))) || (rc = act_all(&c, &s, &recheck)))
			goto done;
	}
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		goto done;
	rc = ecr__meta_lifecycle_evaluated(&t, repo->id, now);
	if (rc == ECR_ENOTFOUND) { /* deleted meanwhile */
		rc = 0;
		goto done;
	}
	if (rc || (rc = ecr__txn_commit(&t)))
		goto done;
	ecr__log(&repo->reg->log, ECR_LOG_INFO, "lifecycle policy of %s applied: %zu expired, %zu archived", repo->name,
	         c.expired, c.transitioned);
done:
	ecr__txn_rollback(&t);
	if (leased) {
		int rl = ecr__lease_release(repo->reg->store, lease, holder);
		if (rl && rc == 0)
			rc = rl;
	}
	snapshot_dispose(&s);
	ecr__strvec_dispose(&recheck);
	ecr__strvec_dispose(&c.done);
	ecr__strvec_dispose(&c.changed);
	return rc;
}
