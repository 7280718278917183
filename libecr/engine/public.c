/* placeholder: public registries (helper A replaces this file) */
#include "engine.h"
#include "ecr/public.h"

#define NOT_YET return ECR_ENOTSUPPORTED
int ecr_registry_is_public(const ecr_registry *reg) { (void)reg; return 0; }
int ecr_public_alias(ecr_buf *out, ecr_registry *reg) { (void)out; (void)reg; NOT_YET; }
int ecr_public_set_alias(ecr_registry *reg, const char *alias) { (void)reg; (void)alias; NOT_YET; }
int ecr_public_alias_lookup(ecr_buf *out, ecr_registry *any, const char *alias) { (void)out; (void)any; (void)alias; NOT_YET; }
int ecr_public_registries_foreach(ecr_registry *any, ecr_public_registry_cb cb, void *payload) { (void)any; (void)cb; (void)payload; NOT_YET; }
int ecr_public_display_name(ecr_buf *out, ecr_registry *reg) { (void)out; (void)reg; NOT_YET; }
int ecr_public_set_display_name(ecr_registry *reg, const char *name) { (void)reg; (void)name; NOT_YET; }
int ecr_repository_set_catalog_data(ecr_repository *repo, const char *json) { (void)repo; (void)json; NOT_YET; }
int ecr_repository_catalog_data(ecr_buf *out, ecr_repository *repo) { (void)out; (void)repo; NOT_YET; }
int ecr_repository_catalog_logo(ecr_buf *out, ecr_repository *repo) { (void)out; (void)repo; NOT_YET; }
int ecr_auth_anonymous_token_create(ecr_buf *out, int64_t *exp, ecr_registry *reg) { (void)out; (void)exp; (void)reg; NOT_YET; }
int ecr_auth_anonymous_token_verify(ecr_registry *reg, const char *token) { (void)reg; (void)token; NOT_YET; }
