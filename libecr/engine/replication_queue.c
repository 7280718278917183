/* The durable replication queue (replication_queue.h) over replication_jobs (meta_replication.c). */
#include "replication_queue.h"

#include "ecr/replication.h"
#include "../core/json.h"
#include "../storage/meta_replication.h"
#include "../storage/meta_lease.h"

void ecr__repl_job_dispose(ecr__repl_job *job)
{
	if (!job)
		return;
	ecr__free(job->repository);
	ecr__free(job->digest);
	for (size_t i = 0; i < job->tags_count; i++)
		ecr__free(job->tags[i]);
	ecr__free(job->tags);
	ecr__free(job->dest_region);
	ecr__free(job->dest_registry_id);
	ecr__free(job->src_account_id);
	ecr__free(job->src_region);
	memset(job, 0, sizeof(*job));
}

static int local_only(const ecr_registry *reg)
{
	if (!reg || !reg->store)
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_INVALID, "the replication queue is a local registry's");
	return 0;
}

/* A JSON array of strings: old's items, then tag unless already there. */
static int tags_merge(ecr_buf *out, const char *old, const char *tag)
{
	ecr__json *doc = NULL;
	ecr__jw *w = NULL;
	bool have = false;
	int rc;
	if (old && *old && (rc = ecr__json_parse(&doc, old, strlen(old), NULL)))
		return rc;
	if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_array_open(w)))
		goto done;
	for (size_t i = 0; doc && doc->type == ECR__JSON_ARRAY && i < doc->count; i++) {
		const ecr__json *v = doc->values[i];
		if (v->type != ECR__JSON_STRING)
			continue;
		if (tag && strcmp(v->string, tag) == 0)
			have = true;
		if ((rc = ecr__jw_string(w, v->string)))
			goto done;
	}
	if (tag && !have && (rc = ecr__jw_string(w, tag)))
		goto done;
	if (!(rc = ecr__jw_array_close(w)))
		rc = ecr__jw_finish(w, out);
done:
	ecr__jw_free(w);
	ecr__json_free(doc);
	return rc;
}

/* Whether one of the rule's filters selects name (no filter: every repository). */
static bool rule_selects(const ecr__json *rule, const char *name)
{
	const ecr__json *filters = ecr__json_get(rule, "repositoryFilters");
	if (!filters || filters->type != ECR__JSON_ARRAY || !filters->count)
		return true;
	for (size_t i = 0; i < filters->count; i++) {
		const char *f = ecr__json_get_string(filters->values[i], "filter");
		if (f && strncmp(name, f, strlen(f)) == 0)
			return true;
	}
	return false;
}

static int queue_one(ecr__txn *t, ecr_registry *reg, const ecr_repository *repo, const char *digest,
	const char *tag, const char *region, const char *registry_id, int64_t now)
{
	ecr__meta_repl_job old;
	ecr_buf tags = ECR_BUF_INIT;
	int rc = ecr__meta_repl_job_get(t, reg->id, repo->name, digest, region, registry_id, &old);
	if (rc && rc != ECR_ENOTFOUND)
		return rc;
	rc = tags_merge(&tags, rc ? NULL : old.tags, tag);
	if (!rc)
		rc = ecr__meta_repl_job_queue(t, reg->id, repo->name, digest, tags.ptr, region, registry_id, now);
	ecr__meta_repl_job_dispose(&old);
	ecr_buf_dispose(&tags);
	return rc;
}

int ecr__repl_enqueue_in(ecr__txn *t, ecr_registry *reg, const ecr_repository *repo, const char *digest,
	const char *tag, uint32_t flags, size_t *queued_out)
{
	char *doc_text = NULL;
	ecr__json *doc = NULL;
	size_t queued = 0;
	int rc;
	if (queued_out)
		*queued_out = 0;
	if ((flags & ECR_IMAGE_PUT_REPLICA) || !reg->store)
		return 0;
	rc = ecr__meta_repl_config_get(t, reg->id, &doc_text);
	if (rc == ECR_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	if ((rc = ecr__json_parse(&doc, doc_text, strlen(doc_text), NULL)))
		goto done;
	const ecr__json *rules = ecr__json_get(doc, "rules");
	int64_t now = ecr_registry_now(reg);
	for (size_t i = 0; rules && rules->type == ECR__JSON_ARRAY && i < rules->count; i++) {
		const ecr__json *rule = rules->values[i];
		if (!rule_selects(rule, repo->name))
			continue;
		const ecr__json *dests = ecr__json_get(rule, "destinations");
		for (size_t k = 0; dests && dests->type == ECR__JSON_ARRAY && k < dests->count; k++) {
			const char *region = ecr__json_get_string(dests->values[k], "region");
			const char *id = ecr__json_get_string(dests->values[k], "registryId");
			if (!region || !id)
				continue;
			/* the same destination in an earlier rule that also selected the repository: already queued */
			bool seen = false;
			for (size_t pi = 0; pi <= i && !seen; pi++) {
				const ecr__json *pr = rules->values[pi];
				if (pi < i && !rule_selects(pr, repo->name))
					continue;
				const ecr__json *pd = ecr__json_get(pr, "destinations");
				size_t end = pi < i ? (pd ? pd->count : 0) : k;
				for (size_t pk = 0; pd && pd->type == ECR__JSON_ARRAY && pk < end; pk++) {
					const char *r2 = ecr__json_get_string(pd->values[pk], "region");
					const char *i2 = ecr__json_get_string(pd->values[pk], "registryId");
					if (r2 && i2 && strcmp(r2, region) == 0 && strcmp(i2, id) == 0)
						seen = true;
				}
			}
			if (seen)
				continue;
			if ((rc = queue_one(t, reg, repo, digest, tag, region, id, now)))
				goto done;
			queued++;
		}
	}
	if (queued_out)
		*queued_out = queued;
done:
	ecr__json_free(doc);
	ecr__free(doc_text);
	return rc;
}

static int job_from_meta(ecr__repl_job *out, ecr__meta_repl_job *m)
{
	ecr__json *tags = NULL;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	out->id = m->id;
	out->attempts = m->attempts;
	out->claim = m->updated_at;
	out->repository = m->repository;
	out->digest = m->digest;
	out->dest_region = m->dest_region;
	out->dest_registry_id = m->dest_registry_id;
	m->repository = m->digest = m->dest_region = m->dest_registry_id = NULL;
	if (m->tags && *m->tags && (rc = ecr__json_parse(&tags, m->tags, strlen(m->tags), NULL)))
		goto done;
	if (tags && tags->type == ECR__JSON_ARRAY && tags->count) {
		if (!(out->tags = ecr__calloc(tags->count, sizeof(char *)))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		for (size_t i = 0; i < tags->count; i++) {
			if (tags->values[i]->type != ECR__JSON_STRING)
				continue;
			if (!(out->tags[out->tags_count] = ecr__strdup(tags->values[i]->string))) {
				rc = ECR_ENOMEM;
				goto done;
			}
			out->tags_count++;
		}
	}
done:
	ecr__json_free(tags);
	if (rc)
		ecr__repl_job_dispose(out);
	return rc;
}

/* Claim for reg (store_wide: for any registry of its store). */
static int claim(ecr__repl_job *out, int64_t *next_due_out, ecr_registry *reg, int64_t lease_ms, bool store_wide)
{
	ecr__meta_repl_job m = { 0 };
	ecr__txn t = { 0 };
	char *account = NULL, *region = NULL;
	int rc;
	memset(out, 0, sizeof(*out));
	if (next_due_out)
		*next_due_out = 0;
	if ((rc = local_only(reg)))
		return rc;
	int64_t now = ecr_registry_now(reg);
	int64_t until = now + (lease_ms > 0 ? lease_ms : 0);
	if ((rc = ecr__txn_begin_atomic(&t, reg->store->meta)))
		return rc;
	if (store_wide)
		rc = ecr__meta_repl_job_claim_store(&t, now, until, &m, next_due_out, &account, &region);
	else
		rc = ecr__meta_repl_job_claim(&t, reg->id, now, until, &m, next_due_out);
	if (rc == ECR_ENOTFOUND) {
		rc = ECR_ITEROVER;
		goto done;
	}
	if (rc || (rc = ecr__txn_commit(&t)))
		goto done;
	if (!store_wide && (!(account = ecr__strdup(reg->account_id)) || !(region = ecr__strdup(reg->region)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = job_from_meta(out, &m)))
		goto done;
	out->src_account_id = account;
	out->src_region = region;
	account = region = NULL;
done:
	ecr__txn_rollback(&t);
	ecr__meta_repl_job_dispose(&m);
	ecr__free(account);
	ecr__free(region);
	return rc;
}

int ecr__repl_claim(ecr__repl_job *out, int64_t *next_due_out, ecr_registry *reg, int64_t lease_ms)
{
	return claim(out, next_due_out, reg, lease_ms, false);
}

int ecr__repl_claim_store(ecr__repl_job *out, int64_t *next_due_out, ecr_registry *reg, int64_t lease_ms)
{
	return claim(out, next_due_out, reg, lease_ms, true);
}

int ecr__repl_renew(ecr_registry *reg, const ecr__repl_job *job, int64_t lease_ms)
{
	ecr__txn t = { 0 };
	bool changed = false;
	int rc;
	if ((rc = local_only(reg)))
		return rc;
	int64_t now = ecr_registry_now(reg);
	if ((rc = ecr__txn_begin_atomic(&t, reg->store->meta)))
		return rc;
	if ((rc = ecr__meta_repl_job_renew(&t, job->id, job->claim, now + (lease_ms > 0 ? lease_ms : 0), &changed)) ||
		(rc = ecr__txn_commit(&t)))
		goto done;
	if (!changed)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE,
			"the replication job of %s@%s to %s/%s is no longer claimed by this worker", job->repository,
			job->digest, job->dest_registry_id, job->dest_region);
done:
	ecr__txn_rollback(&t);
	return rc;
}

static int job_end(ecr_registry *reg, const ecr__repl_job *job, int status, const char *reason, int64_t next)
{
	ecr__txn t = { 0 };
	bool changed = false;
	int rc;
	if ((rc = local_only(reg)))
		return rc;
	int64_t now = ecr_registry_now(reg);
	if ((rc = ecr__txn_begin_atomic(&t, reg->store->meta)))
		return rc;
	/* no change: the job was queued again (or claimed by another worker after our lease) meanwhile: it stays so */
	if (!(rc = ecr__meta_repl_job_end(&t, job->id, job->claim, status, reason, next, now, &changed)))
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	if (rc == 0 && !changed)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE,
			"the replication job of %s@%s to %s/%s is no longer claimed by this worker (its lease ran out and "
			"another worker claimed it, or the image was queued again): its outcome was not recorded",
			job->repository, job->digest, job->dest_registry_id, job->dest_region);
	return rc;
}

int ecr__repl_complete(ecr_registry *reg, const ecr__repl_job *job)
{
	return job_end(reg, job, ECR__REPL_COMPLETE, NULL, 0);
}

int ecr__repl_fail(ecr_registry *reg, const ecr__repl_job *job, const char *reason, int64_t next_attempt_at,
	bool final)
{
	return job_end(reg, job, final ? ECR__REPL_FAILED : ECR__REPL_QUEUED, reason ? reason : "unknown failure",
		final ? 0 : next_attempt_at);
}

static int pending(int64_t *count_out, ecr_registry *reg, bool store_wide)
{
	ecr__txn t = { 0 };
	int rc;
	*count_out = 0;
	if ((rc = local_only(reg)))
		return rc;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	if (store_wide)
		rc = ecr__meta_repl_job_pending_store(&t, count_out);
	else
		rc = ecr__meta_repl_job_pending(&t, reg->id, count_out);
	ecr__txn_rollback(&t);
	return rc;
}

int ecr__repl_pending(int64_t *count_out, ecr_registry *reg)
{
	return pending(count_out, reg, false);
}

int ecr__repl_pending_store(int64_t *count_out, ecr_registry *reg)
{
	return pending(count_out, reg, true);
}
