/**
 * @file ecr/public.h
 * @brief Public registries (ECR Public): aliases, registry and repository catalog data.
 * @defgroup ecr_public Public registries
 *
 * Every account also has a public registry, as Amazon ECR Public gives one:
 * open it with ecr_registry_open() and the region ECR_REGION_PUBLIC, on the
 * same storage as the account's private registries (blobs are shared). Its
 * repositories, images, uploads, tags, repository policies and resource tags
 * are those of any registry handle; what differs:
 *
 * - ARNs are ECR Public's: "arn:aws:ecr-public::<account>:repository/<name>"
 *   and "arn:aws:ecr-public::<account>:registry/<account>" (ecr_registry_arn());
 *   actions are authorized as "ecr-public:<Action>".
 * - The registry has an alias, unique in the storage ("public.ecr.aws/<alias>"):
 *   images are pulled as "<host>/<alias>/<repository>". An alias is assigned
 *   at random on first use; ecr_public_set_alias() chooses one.
 *   ecr_repository_uri() is "public.ecr.aws/<alias>/<repository>".
 * - Anyone may pull its images without credentials (ecrd answers anonymous
 *   requests for them, see ecr/server.h); pushing still needs a principal
 *   allowed to.
 * - Registries and repositories carry catalog data for the gallery:
 *   a display name; a description, about and usage text (Markdown),
 *   architectures, operating systems and a logo.
 *
 * Every function here answers ECR_EINVALID for a registry (or a repository of
 * a registry) that is not public, and ECR_ENOTSUPPORTED on a remote handle.
 * @{
 */
#ifndef ECR_PUBLIC_H
#define ECR_PUBLIC_H

#include "common.h"
#include "buffer.h"
#include "registry.h"
#include "repository.h"

ECR_BEGIN_DECL

/** The region of an account's public registry: ecr_registry_options.region. */
#define ECR_REGION_PUBLIC "public"

/** Limits of ECR Public's catalog data. */
#define ECR_PUBLIC_ALIAS_MAX 50
#define ECR_PUBLIC_DISPLAY_NAME_MAX 100
#define ECR_PUBLIC_DESCRIPTION_MAX 1024
#define ECR_PUBLIC_TEXT_MAX 25600 /**< aboutText, usageText */
#define ECR_PUBLIC_LOGO_MAX 512000 /**< bytes of the logo image */
#define ECR_PUBLIC_LIST_MAX 50     /**< architectures, operating systems */

/** Whether reg is an account's public registry (opened with ECR_REGION_PUBLIC). */
ECR_EXTERN(int) ecr_registry_is_public(const ecr_registry *reg);

/**
 * The public registry's alias; one is assigned (8 random characters, a
 * letter first) and stored if it has none yet.
 * @return 0; ECR_EINVALID (not a public registry).
 */
ECR_EXTERN(int) ecr_public_alias(ecr_buf *out, ecr_registry *reg);

/**
 * Set the public registry's alias (2 to 50 characters,
 * [a-z][a-z0-9]+([._-][a-z0-9]+)*). Images are then pulled under the new
 * alias only.
 * @return 0; ECR_EINVALID (not public, or a bad alias); ECR_EEXISTS (another
 *         account's public registry has it).
 */
ECR_EXTERN(int) ecr_public_set_alias(ecr_registry *reg, const char *alias);

/**
 * The account whose public registry has alias, found through any registry
 * handle of the same storage.
 * @param account_out receives the 12-digit account id.
 * @return 0; ECR_ENOTFOUND (no such alias); ECR_EINVALID (a bad alias).
 */
ECR_EXTERN(int) ecr_public_alias_lookup(ecr_buf *account_out, ecr_registry *any, const char *alias);

/** Called with each public registry of a storage; non-zero stops and is returned. */
typedef int (*ecr_public_registry_cb)(const char *account_id, const char *alias, void *payload);

/**
 * Every public registry that has an alias, in the storage of any (any
 * registry handle of it), by alias.
 * @return 0, or what cb returned.
 */
ECR_EXTERN(int) ecr_public_registries_foreach(ecr_registry *any, ecr_public_registry_cb cb, void *payload);

/** The registry's display name (RegistryCatalogData.displayName); "" when unset. @return 0; ECR_EINVALID. */
ECR_EXTERN(int) ecr_public_display_name(ecr_buf *out, ecr_registry *reg);

/** Set the display name (0 to 100 characters). @return 0; ECR_EINVALID. */
ECR_EXTERN(int) ecr_public_set_display_name(ecr_registry *reg, const char *name);

/**
 * Replace a public repository's catalog data with json, an object in ECR
 * Public's RepositoryCatalogDataInput shape: "description" (up to 1024
 * characters), "architectures" and "operatingSystems" (up to 50 strings of 1
 * to 50 characters each), "logoImageBlob" (base64 of a PNG or JPEG image of up
 * to 512000 bytes), "aboutText" and "usageText" (Markdown, up to 25600
 * characters each). Members left out are cleared; unknown members are an
 * error.
 * @return 0; ECR_EINVALID (the message names the member and the limit).
 */
ECR_EXTERN(int) ecr_repository_set_catalog_data(ecr_repository *repo, const char *json);

/**
 * The repository's catalog data as JSON, ECR Public's RepositoryCatalogData
 * shape without logoUrl: description, architectures, operatingSystems,
 * aboutText, usageText (members that are empty are left out) and
 * "marketplaceCertified": false.
 * @return 0; ECR_ECATALOG_DATA_NOT_FOUND (never set); ECR_EINVALID.
 */
ECR_EXTERN(int) ecr_repository_catalog_data(ecr_buf *out, ecr_repository *repo);

/**
 * The repository's logo image (the bytes given as logoImageBlob).
 * @return 0; ECR_ENOTFOUND (no logo); ECR_EINVALID.
 */
ECR_EXTERN(int) ecr_repository_catalog_logo(ecr_buf *out, ecr_repository *repo);

ECR_END_DECL
/** @} */
#endif
