/* Package lists filled by the package database parsers. */
#include "scan_internal.h"

static void pkg_dispose(ecr__pkg *p)
{
	ecr__free(p->name);
	ecr__free(p->version);
	ecr__free(p->source_name);
	ecr__free(p->source_version);
	ecr__free(p->arch);
	memset(p, 0, sizeof(*p));
}

void ecr__pkg_list_truncate(ecr__pkg_list *l, size_t count)
{
	if (!l)
		return;
	while (l->count > count)
		pkg_dispose(&l->items[--l->count]);
}

void ecr__pkg_list_dispose(ecr__pkg_list *l)
{
	if (!l)
		return;
	ecr__pkg_list_truncate(l, 0);
	ecr__free(l->items);
	l->items = NULL;
	l->count = l->cap = 0;
}

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = ecr__strdup(s);
	return *out ? 0 : ECR_ENOMEM;
}

int ecr__pkg_list_add(ecr__pkg_list *l, const char *name, const char *version, const char *source_name,
                      const char *source_version, const char *arch)
{
	ecr__pkg p = {0};
	int rc;

	if (!l || !name || !version)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "a package needs a name and a version");
	if (l->count >= ECR__PKG_MAX)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "more than %d packages", ECR__PKG_MAX);
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap : 16, bytes;
		if (l->cap && ecr__mul_overflow(cap, 2, &cap))
			return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "too many packages");
		if (ecr__mul_overflow(cap, sizeof(*l->items), &bytes))
			return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "too many packages");
		ecr__pkg *items = ecr__realloc(l->items, bytes);
		if (!items)
			return ECR_ENOMEM;
		l->items = items;
		l->cap = cap;
	}
	if ((rc = dup_opt(&p.name, name)) != 0 || (rc = dup_opt(&p.version, version)) != 0 ||
	    (rc = dup_opt(&p.source_name, source_name)) != 0 ||
	    (rc = dup_opt(&p.source_version, source_version)) != 0 || (rc = dup_opt(&p.arch, arch)) != 0)
		goto done;
	l->items[l->count++] = p;
	memset(&p, 0, sizeof(p));
done:
	pkg_dispose(&p);
	return rc;
}
