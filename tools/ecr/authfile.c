/*
 * ecr CLI: the containers auth file, as podman, skopeo and buildah read it:
 * ${REGISTRY_AUTH_FILE:-${XDG_RUNTIME_DIR}/containers/auth.json}, else ~/.config/containers/auth.json;
 * {"auths": {"host:port": {"auth": "base64(user:pass)"}}}. Updates keep every other member, are written
 * atomically with mode 0600.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUTHFILE_MAX (4u << 20)

char *cli_authfile_path(void)
{
	const char *env = getenv("REGISTRY_AUTH_FILE"), *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
	char buf[PATH_MAX];
	if (env && *env)
		return strdup(env);
	if (xdg && *xdg) {
		struct stat st;
		if (stat(xdg, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(buf, sizeof(buf), "%s/containers/auth.json", xdg);
			return strdup(buf);
		}
	}
	snprintf(buf, sizeof(buf), "%s/.config/containers/auth.json", home && *home ? home : ".");
	return strdup(buf);
}

static yajl_val load(const char *path, int *rc)
{
	char *text = NULL;
	yajl_val v;
	*rc = cli_read_file(&text, NULL, path, AUTHFILE_MAX);
	if (*rc) {
		if (*rc == ECR_ENOTFOUND)
			ecr_error_clear();
		return NULL;
	}
	v = cli_json_parse(text, path);
	free(text);
	if (!v || !YAJL_IS_OBJECT(v)) {
		yajl_tree_free(v);
		*rc = cli_fail(ECR_EINVALID, "%s is not a JSON object", path);
		return NULL;
	}
	return v;
}

/* Keys that name host: "host", "https://host", "http://host", "host/..." (podman accepts these forms). */
static bool key_matches(const char *key, const char *host)
{
	size_t n = strlen(host);
	if (!strncmp(key, "https://", 8))
		key += 8;
	else if (!strncmp(key, "http://", 7))
		key += 7;
	return !strncmp(key, host, n) && (key[n] == '\0' || key[n] == '/');
}

int cli_authfile_get(char **user_out, char **pass_out, const char *host)
{
	char *path = cli_authfile_path();
	yajl_val v = NULL;
	int rc = 0;

	*user_out = *pass_out = NULL;
	if (!path)
		return cli_fail(ECR_ENOMEM, "out of memory");
	if (!(v = load(path, &rc))) {
		free(path);
		return rc == ECR_ENOTFOUND ? ECR_ENOTFOUND : rc;
	}
	yajl_val auths = cli_json_get(v, "auths");
	rc = ECR_ENOTFOUND;
	for (size_t i = 0; YAJL_IS_OBJECT(auths) && i < auths->u.object.len; i++) {
		if (!key_matches(auths->u.object.keys[i], host))
			continue;
		const char *auth = cli_json_str(auths->u.object.values[i], "auth");
		size_t len;
		unsigned char *dec = auth ? cli_base64_decode(auth, &len) : NULL;
		char *colon = dec ? memchr(dec, ':', len) : NULL;
		if (!colon || memchr(dec, '\0', len)) {
			free(dec);
			rc = cli_fail(ECR_EINVALID, "%s: the entry of %s has no valid auth", path, host);
			break;
		}
		*colon = '\0';
		*user_out = strdup((char *)dec);
		*pass_out = strdup(colon + 1);
		free(dec);
		rc = *user_out && *pass_out ? 0 : cli_fail(ECR_ENOMEM, "out of memory");
		break;
	}
	yajl_tree_free(v);
	free(path);
	return rc;
}

int cli_authfile_set(const char *host, const char *user, const char *pass)
{
	char *path = cli_authfile_path(), *text = NULL, *auth = NULL, *plain = NULL;
	size_t len = 0;
	yajl_val v = NULL;
	yajl_gen g = NULL;
	bool found = false;
	int rc = 0;

	if (!path)
		return cli_fail(ECR_ENOMEM, "out of memory");
	v = load(path, &rc);
	if (rc && rc != ECR_ENOTFOUND)
		goto done;
	rc = 0;
	if (user) {
		if (!(plain = malloc(strlen(user) + strlen(pass) + 2))) {
			rc = cli_fail(ECR_ENOMEM, "out of memory");
			goto done;
		}
		sprintf(plain, "%s:%s", user, pass);
		if (!(auth = cli_base64_encode(plain, strlen(plain)))) {
			rc = cli_fail(ECR_ENOMEM, "out of memory");
			goto done;
		}
	}
	if (!(g = cli_gen_new(true))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	yajl_gen_map_open(g);
	yajl_val auths = cli_json_get(v, "auths");
	cli_gen_str(g, "auths");
	yajl_gen_map_open(g);
	for (size_t i = 0; YAJL_IS_OBJECT(auths) && i < auths->u.object.len; i++) {
		if (!strcmp(auths->u.object.keys[i], host)) {
			found = true;
			continue;
		}
		cli_gen_str(g, auths->u.object.keys[i]);
		cli_json_emit(g, auths->u.object.values[i]);
	}
	if (auth) {
		cli_gen_str(g, host);
		yajl_gen_map_open(g);
		cli_gen_kv(g, "auth", auth);
		yajl_gen_map_close(g);
	}
	yajl_gen_map_close(g);
	for (size_t i = 0; v && i < v->u.object.len; i++) {
		if (!strcmp(v->u.object.keys[i], "auths"))
			continue;
		cli_gen_str(g, v->u.object.keys[i]);
		cli_json_emit(g, v->u.object.values[i]);
	}
	yajl_gen_map_close(g);
	if (!user && !found) {
		rc = cli_fail(ECR_ENOTFOUND, "not logged in to %s (%s)", host, path);
		goto done;
	}
	if (!(text = cli_gen_take(g, &len))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if ((rc = cli_mkdirs(dir, 0700)))
			goto done;
	}
	rc = cli_write_file_atomic(path, text, len, 0600);
done:
	if (plain) {
		memset(plain, 0, strlen(plain));
		free(plain);
	}
	free(auth);
	free(text);
	if (g)
		yajl_gen_free(g);
	yajl_tree_free(v);
	free(path);
	return rc;
}
