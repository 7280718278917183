/*
 * ecr CLI: image locations, as skopeo writes them, and opening them as repository handles.
 *
 *   docker://HOST[:PORT]/REPO[:TAG|@DIGEST]   a remote registry (https://, or http:// with --plain-http)
 *   ecr:///PATH//REPO[:TAG|@DIGEST]           a local data folder: the absolute folder, "//", the repository
 *   oci:DIR[:TAG|@DIGEST]                     an OCI image layout folder
 *   docker-archive:FILE[:NAME:TAG|:@N]        a docker save tarball
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int usage_fail(const char *fmt, const char *arg)
{
	return cli_fail(ECR_EINVALID, fmt, arg);
}

static bool valid_tag(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			(i > 0 && (c == '.' || c == '-'));
		if (!ok)
			return false;
	}
	return true;
}

/* Split "NAME[:TAG|@DIGEST]" into its parts (name may contain '/'). */
static int split_ref(cli_location *loc, const char *s, bool default_latest, const char *text)
{
	const char *at = strchr(s, '@');
	size_t name_len;
	if (at) {
		if (!cli_digest_valid(at + 1))
			return usage_fail("malformed digest in %s", text);
		loc->digest = strdup(at + 1);
		name_len = (size_t)(at - s);
	} else {
		const char *slash = strrchr(s, '/');
		const char *colon = strrchr(slash ? slash : s, ':');
		if (colon) {
			if (!valid_tag(colon + 1))
				return usage_fail("malformed tag in %s", text);
			loc->tag = strdup(colon + 1);
			name_len = (size_t)(colon - s);
		} else {
			name_len = strlen(s);
			if (default_latest)
				loc->tag = strdup("latest");
		}
	}
	if (!(loc->repository = strndup(s, name_len)))
		return cli_fail(ECR_ENOMEM, "out of memory");
	return 0;
}

int cli_location_parse(cli_location *loc, const char *text)
{
	int rc = 0;
	memset(loc, 0, sizeof(*loc));
	if (!strncmp(text, "docker://", 9)) {
		const char *rest = text + 9, *slash = strchr(rest, '/');
		loc->kind = LOC_DOCKER;
		if (!slash || slash == rest || !slash[1])
			return usage_fail("%s: expected docker://HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]", text);
		loc->host = strndup(rest, (size_t)(slash - rest));
		rc = split_ref(loc, slash + 1, true, text);
	} else if (!strncmp(text, "ecr:", 4)) {
		const char *rest = text + 4;
		if (!strncmp(rest, "//", 2))
			rest += 2;
		loc->kind = LOC_ECR;
		const char *sep = rest[0] == '/' ? strstr(rest + 1, "//") : NULL;
		if (!sep || !sep[2])
			return usage_fail("%s: expected ecr:///ABSOLUTE/DATA/FOLDER//REPOSITORY[:TAG|@DIGEST]", text);
		loc->path = strndup(rest, (size_t)(sep - rest));
		rc = split_ref(loc, sep + 2, true, text);
	} else if (!strncmp(text, "oci:", 4)) {
		const char *rest = text + 4, *at = strstr(rest, "@sha");
		loc->kind = LOC_OCI;
		if (at) {
			if (!cli_digest_valid(at + 1))
				return usage_fail("malformed digest in %s", text);
			loc->digest = strdup(at + 1);
			loc->path = strndup(rest, (size_t)(at - rest));
		} else {
			const char *colon = strrchr(rest, ':');
			if (colon && !strchr(colon, '/')) {
				if (!valid_tag(colon + 1))
					return usage_fail("malformed tag in %s", text);
				loc->tag = strdup(colon + 1);
				loc->path = strndup(rest, (size_t)(colon - rest));
			} else {
				loc->path = strdup(rest);
			}
		}
		loc->repository = strdup("oci-layout");
		if (loc->path && !*loc->path)
			return usage_fail("%s: expected oci:DIRECTORY[:TAG|@DIGEST]", text);
	} else if (!strncmp(text, "docker-archive:", 15)) {
		const char *rest = text + 15, *colon = strchr(rest, ':');
		loc->kind = LOC_DOCKER_ARCHIVE;
		loc->path = colon ? strndup(rest, (size_t)(colon - rest)) : strdup(rest);
		if (colon && colon[1])
			loc->archive_ref = strdup(colon + 1);
		loc->repository = strdup("docker-archive");
		if (loc->path && !*loc->path)
			return usage_fail("%s: expected docker-archive:FILE[:NAME:TAG|:@N]", text);
	} else {
		return usage_fail("%s: unknown location (docker://, ecr://, oci:, docker-archive:)", text);
	}
	if (rc)
		return rc;
	if (!loc->repository || (loc->kind == LOC_DOCKER && !loc->host) || (loc->kind != LOC_DOCKER && !loc->path))
		return cli_fail(ECR_ENOMEM, "out of memory");
	if ((loc->kind == LOC_DOCKER || loc->kind == LOC_ECR) && !*loc->repository)
		return usage_fail("%s: no repository", text);
	return 0;
}

void cli_location_dispose(cli_location *loc)
{
	free(loc->host);
	free(loc->path);
	free(loc->repository);
	free(loc->tag);
	free(loc->digest);
	free(loc->archive_ref);
	memset(loc, 0, sizeof(*loc));
}

char *cli_url_host(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, "/?#");
	return strndup(p, n);
}

static int open_remote(ecr_registry **out, const char *url, const cli_remote_opts *ro, uint32_t flags)
{
	ecr_registry_options opts;
	char *user = NULL, *pass = NULL, *host = NULL, *ucopy = NULL;
	int rc;

	ecr_registry_options_init(&opts, ECR_REGISTRY_OPTIONS_VERSION);
	if (ro && ro->creds) {
		const char *colon = strchr(ro->creds, ':');
		if (!colon)
			return cli_fail(ECR_EINVALID, "credentials must be USER:PASSWORD");
		if (!(ucopy = strndup(ro->creds, (size_t)(colon - ro->creds))))
			return cli_fail(ECR_ENOMEM, "out of memory");
		opts.username = ucopy;
		opts.password = colon + 1;
	} else if ((host = cli_url_host(url))) {
		rc = cli_authfile_get(&user, &pass, host);
		if (rc == 0) {
			opts.username = user;
			opts.password = pass;
		} else if (rc != ECR_ENOTFOUND) {
			goto done;
		}
		ecr_error_clear();
	}
	const char *ep = ro && ro->endpoint_url ? ro->endpoint_url : NULL;
	if (!ep)
		ep = getenv("AWS_ENDPOINT_URL_ECR");
	if (!ep || !*ep)
		ep = getenv("AWS_ENDPOINT_URL");
	if (ep && *ep)
		opts.api_endpoint = ep;
	opts.remote_flags = flags;
	if (ro && !ro->tls_verify)
		opts.remote_flags |= ECR_REMOTE_INSECURE;
	opts.user_agent = "ecr-cli/" "0.1";
	rc = ecr_registry_open(out, url, &opts);
done:
	free(ucopy);
	free(user);
	if (pass) {
		memset(pass, 0, strlen(pass));
		free(pass);
	}
	free(host);
	return rc;
}

int cli_open_registry_url(ecr_registry **out, const char *url, const cli_remote_opts *ro)
{
	char buf[1024];
	*out = NULL;
	if (!strncmp(url, "file://", 7) || !strncmp(url, "memory:", 7))
		return ecr_registry_open(out, url, NULL);
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		snprintf(buf, sizeof(buf), "%s://%s", ro && ro->plain_http ? "http" : "https", url);
		url = buf;
	}
	return open_remote(out, url, ro, 0);
}

static int open_registry(ecr_registry **out, char *digest_out, size_t dn, const cli_location *loc,
	const cli_remote_opts *ro, bool write, bool oci_only)
{
	char url[4096];
	struct stat st;
	ecr_transport *t = NULL;
	int rc;

	*out = NULL;
	switch (loc->kind) {
	case LOC_DOCKER:
		snprintf(url, sizeof(url), "%s://%s", ro && ro->plain_http ? "http" : "https", loc->host);
		return open_remote(out, url, ro, oci_only ? ECR_REMOTE_OCI_ONLY : 0);
	case LOC_ECR:
		if (!write && stat(loc->path, &st) < 0)
			return cli_fail(ECR_EREPOSITORY_NOT_FOUND, "no data folder at %s", loc->path);
		snprintf(url, sizeof(url), "file://%s", loc->path);
		return ecr_registry_open(out, url, NULL);
	case LOC_OCI:
		if ((rc = cli_oci_transport_new(&t, loc->path, write)))
			return rc;
		return ecr_registry_open_transport(out, t, NULL);
	case LOC_DOCKER_ARCHIVE:
		if (write)
			rc = cli_docker_archive_dest_new(&t, loc->path, loc->archive_ref);
		else
			rc = cli_docker_archive_source_new(&t, digest_out, dn, loc->path, loc->archive_ref);
		if (rc)
			return rc;
		return ecr_registry_open_transport(out, t, NULL);
	}
	return cli_fail(ECR_EINVALID, "unknown location");
}

int cli_open_registry(ecr_registry **out, const cli_location *loc, const cli_remote_opts *ro, bool write)
{
	char digest[160];
	return open_registry(out, digest, sizeof(digest), loc, ro, write, false);
}

int cli_target_open(cli_target *t, const cli_location *loc, const cli_remote_opts *ro, bool write)
{
	int rc;
	memset(t, 0, sizeof(*t));
	char archive_digest[160] = "";
	if ((rc = open_registry(&t->reg, archive_digest, sizeof(archive_digest), loc, ro, write, false)))
		return rc;
	t->transport = ecr_registry_transport(t->reg);
	rc = ecr_repository_open(&t->repo, t->reg, loc->repository);
	if (rc == ECR_EMISSING_AUTH && loc->kind == LOC_DOCKER) {
		/*
		 * No AWS credentials for the ECR API: talk to the registry as a plain OCI registry, with the
		 * Basic credentials (--creds, the auth file) or none.
		 */
		ecr_registry_free(t->reg);
		t->reg = NULL;
		if ((rc = open_registry(&t->reg, archive_digest, sizeof(archive_digest), loc, ro, write, true)))
			return rc;
		t->transport = ecr_registry_transport(t->reg);
		rc = ecr_repository_open(&t->repo, t->reg, loc->repository);
	}
	if (rc == ECR_EREPOSITORY_NOT_FOUND && write) {
		rc = ecr_repository_create(&t->repo, t->reg, loc->repository, NULL);
		if (rc == ECR_EREPOSITORY_EXISTS)
			rc = ecr_repository_open(&t->repo, t->reg, loc->repository);
	if (rc == ECR_EMISSING_AUTH && loc->kind == LOC_DOCKER) {
		/*
		 * No AWS credentials for the ECR API: talk to the registry as a plain OCI registry, with the
		 * Basic credentials (--creds, the auth file) or none.
		 */
		ecr_registry_free(t->reg);
		t->reg = NULL;
		if ((rc = open_registry(&t->reg, archive_digest, sizeof(archive_digest), loc, ro, write, true)))
			return rc;
		t->transport = ecr_registry_transport(t->reg);
		rc = ecr_repository_open(&t->repo, t->reg, loc->repository);
	}
	}
	if (rc)
		return rc;
	if (write)
		return 0;
	if (loc->digest) {
		snprintf(t->reference, sizeof(t->reference), "%s", loc->digest);
	} else if (loc->kind == LOC_OCI) {
		if ((rc = cli_oci_resolve(t->reference, sizeof(t->reference), loc->path, loc->tag)))
			return rc;
		if (loc->tag) /* keep the tag: the copy reads by tag */
			snprintf(t->reference, sizeof(t->reference), "%s", loc->tag);
	} else if (loc->kind == LOC_DOCKER_ARCHIVE) {
		/* the synthesized manifest's digest */
		snprintf(t->reference, sizeof(t->reference), "%s", archive_digest);
	} else if (loc->tag) {
		snprintf(t->reference, sizeof(t->reference), "%s", loc->tag);
	}
	return rc;
}

void cli_target_close(cli_target *t)
{
	ecr_repository_free(t->repo);
	ecr_registry_free(t->reg);
	memset(t, 0, sizeof(*t));
}
