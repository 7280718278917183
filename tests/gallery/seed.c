/* Seeds a data folder for the gallery's browser test through the public C
 * API only: account ACCOUNT's public registry gets the alias "acme" and two
 * repositories with catalog data, one image (pushed from files) under
 * several tags, a lifecycle policy, and a scan result from the OSV folder.
 *
 * Usage: gallery-seed DATA ACCOUNT WORK
 *   WORK holds layer.tar.gz, config.json, manifest.json, tools.json,
 *   webapp.json (catalog data) and osv/ (advisories). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecr.h"

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void check(int rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "gallery-seed: %s: %s (%d)\n", what, ecr_error_last()->message, rc);
		exit(1);
	}
}

/* sha256:... of a blob, from the manifest's text (the config, the first layer). */
static void digest_after(char *out, size_t size, const char *manifest, const char *key)
{
	const char *p = strstr(manifest, key);
	p = p ? strstr(p, "\"digest\"") : NULL;
	p = p ? strstr(p, "sha256:") : NULL;
	if (!p) {
		fprintf(stderr, "gallery-seed: no %s digest in the manifest\n", key);
		exit(1);
	}
	snprintf(out, size, "%.71s", p);
}

static ecr_repository *repository(ecr_registry *reg, const char *name, const char *catalog_json)
{
	ecr_repository *repo = NULL;
	check(ecr_repository_create(&repo, reg, name, NULL), name);
	check(ecr_repository_set_catalog_data(repo, catalog_json), "set catalog data");
	return repo;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s DATA ACCOUNT WORK\n", argv[0]);
		return 2;
	}
	const char *data = argv[1], *account = argv[2], *work = argv[3];
	char url[4096], cfg_digest[80], layer_digest[80], path[4096];
	size_t layer_len, cfg_len, man_len, n;
	check(ecr_init() < 0 ? -1 : 0, "init");
	char *layer = slurp(work, "layer.tar.gz", &layer_len), *cfg = slurp(work, "config.json", &cfg_len);
	char *man = slurp(work, "manifest.json", &man_len);
	char *tools_json = slurp(work, "tools.json", &n), *webapp_json = slurp(work, "webapp.json", &n);
	digest_after(cfg_digest, sizeof(cfg_digest), man, "\"config\"");
	digest_after(layer_digest, sizeof(layer_digest), man, "\"layers\"");

	ecr_registry *pub = NULL;
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.account_id = account;
	o.region = ECR_REGION_PUBLIC;
	snprintf(url, sizeof(url), "file://%s", data);
	check(ecr_registry_open(&pub, url, &o), "open the public registry");
	check(ecr_public_set_alias(pub, "acme"), "set the alias");
	check(ecr_public_set_display_name(pub, "Acme Corp"), "set the display name");

	ecr_repository *tools = repository(pub, "tools", tools_json);
	ecr_repository *webapp = repository(pub, "webapp", webapp_json);
	ecr_repository *repos[] = { tools, webapp };
	const char *tags[][2] = { { "1.0", "latest" }, { "v2", NULL } };
	ecr_image *img = NULL;
	for (int i = 0; i < 2; i++) {
		check(ecr_blob_put(repos[i], layer_digest, layer, layer_len), "put the layer");
		check(ecr_blob_put(repos[i], cfg_digest, cfg, cfg_len), "put the config");
		for (int t = 0; t < 2 && tags[i][t]; t++)
			check(ecr_image_put(t == 0 && i == 0 ? &img : NULL, repos[i], tags[i][t], NULL, NULL, man, man_len, 0),
				"put the manifest");
	}
	check(ecr_repository_set_lifecycle_policy(tools,
		      "{\"rules\":[{\"rulePriority\":1,\"description\":\"keep 5 untagged\",\"selection\":{\"tagStatus\":"
		      "\"untagged\",\"countType\":\"imageCountMoreThan\",\"countNumber\":5},\"action\":{\"type\":\"expire\"}}]}"),
		"set the lifecycle policy");

	/* a scan of the tools image with the OSV folder */
	ecr_vulndb *db = NULL;
	ecr_scanner *scanner = NULL;
	snprintf(path, sizeof(path), "%s/osv", work);
	const char *paths[] = { path };
	check(ecr_vulndb_load(&db, paths, 1), "load the vulnerability database");
	check(ecr_scanner_new(&scanner, 1), "scanner");
	check(ecr_scanner_set_db(scanner, db), "scanner database");
	check(ecr_scanner_attach(scanner, pub), "scanner attach");
	check(ecr_scanner_start(scanner, tools, ecr_image_digest(img)), "start the scan");
	check(ecr_scanner_drain(scanner, 60000), "scan");
	ecr_scan_status status = ECR_SCAN_NONE;
	ecr_scan_report *report = NULL;
	check(ecr_image_scan_result(&status, NULL, NULL, &report, tools, ecr_image_digest(img)), "scan result");
	if (status != ECR_SCAN_COMPLETE || !report) {
		fprintf(stderr, "gallery-seed: the scan did not complete (status %d)\n", (int)status);
		return 1;
	}
	printf("gallery-seed: acme/tools and acme/webapp, image %s, %zu findings\n", ecr_image_digest(img),
		ecr_scan_report_finding_count(report));
	ecr_scan_report_free(report);
	ecr_scanner_detach(scanner, pub);
	ecr_scanner_free(scanner);
	ecr_vulndb_free(db);
	ecr_image_free(img);
	ecr_repository_free(tools);
	ecr_repository_free(webapp);
	ecr_registry_free(pub);
	free(layer);
	free(cfg);
	free(man);
	free(tools_json);
	free(webapp_json);
	ecr_shutdown();
	return 0;
}
