/**
 * @file ecr/errors.h
 * @brief Error codes and the thread-local last error.
 * @defgroup ecr_errors Errors
 *
 * Every fallible function returns 0 on success or one of these negative codes.
 * Each code that mirrors an Amazon ECR exception says which; the numbers are
 * frozen once released. ecr_error_last() gives the message of the last failure
 * on the calling thread.
 *
 * THREAD SAFETY: error state is per thread.
 * @{
 */
#ifndef ECR_ERRORS_H
#define ECR_ERRORS_H

#include "common.h"

ECR_BEGIN_DECL

/** Return codes. Keep in sync with libecr/core/errors_table.h (checked by the compiler). */
typedef enum ecr_error_code {
	ECR_OK = 0,                  /**< success */
	ECR_ERROR = -1,              /**< generic failure (ServerException) */
	ECR_ENOTFOUND = -3,          /**< an object does not exist */
	ECR_EEXISTS = -4,            /**< an object already exists */
	ECR_EINVALID = -5,           /**< invalid argument (InvalidParameterException) */
	ECR_EIMMUTABLE = -6,         /**< the tag exists and is immutable (ImageTagAlreadyExistsException) */
	ECR_EDIGEST = -7,            /**< content does not match its digest (InvalidLayerException) */
	ECR_ELIMIT = -8,             /**< a size or count limit was hit (LimitExceededException) */
	ECR_EAUTH = -9,              /**< authentication failed */
	ECR_EDENIED = -10,           /**< denied by a policy (AccessDeniedException) */
	ECR_EUPLOAD = -11,           /**< upload session unknown or expired (UploadNotFoundException) */
	ECR_EBUFS = -12,             /**< the output buffer is too small */
	ECR_EUSER = -13,             /**< reserved for callbacks that stop an operation */
	ECR_ITEROVER = -14,          /**< an iterator has no more items */
	ECR_ENOMEM = -15,            /**< out of memory */
	ECR_EIO = -16,               /**< the storage failed (disk full, I/O error) */
	ECR_ERANGE = -17,            /**< bad offset or range (InvalidLayerPartException) */
	ECR_EEMPTY = -18,            /**< an upload with no data (EmptyUploadException) */
	ECR_EUNSUPPORTED = -19,      /**< unsupported manifest type (UnsupportedImageTypeException) */
	ECR_EBUSY = -20,             /**< the resource is in use by another process */
	ECR_EREPOSITORY_NOT_FOUND = -30, /**< RepositoryNotFoundException */
	ECR_EREPOSITORY_EXISTS = -31,    /**< RepositoryAlreadyExistsException */
	ECR_EREPOSITORY_NOT_EMPTY = -32, /**< RepositoryNotEmptyException */
	ECR_EIMAGE_NOT_FOUND = -33,      /**< ImageNotFoundException */
	ECR_EIMAGE_EXISTS = -34,         /**< ImageAlreadyExistsException */
	ECR_EIMAGE_DIGEST = -35,         /**< ImageDigestDoesNotMatchException */
	ECR_ELAYERS_NOT_FOUND = -36,     /**< LayersNotFoundException */
	ECR_EREFERENCED_IMAGES_NOT_FOUND = -37, /**< ReferencedImagesNotFoundException */
	ECR_ELAYER_EXISTS = -38,         /**< LayerAlreadyExistsException */
	ECR_EIMAGE_REFERENCED = -39,     /**< the image is a child of a manifest list (ImageReferencedByManifestList) */
	ECR_EINVALID_TAG_PARAMETER = -40,/**< InvalidTagParameterException (resource tags) */
	ECR_ETOO_MANY_TAGS = -41,        /**< TooManyTagsException (resource tags) */
	ECR_EREPOSITORY_POLICY_NOT_FOUND = -42, /**< RepositoryPolicyNotFoundException */
	ECR_EREGISTRY_POLICY_NOT_FOUND = -43,   /**< RegistryPolicyNotFoundException */
	ECR_EMISSING_AUTH = -44,         /**< no credentials (MissingAuthenticationTokenException) */
	ECR_EINCOMPLETE_SIGNATURE = -45, /**< malformed Authorization (IncompleteSignatureException) */
	ECR_EUNRECOGNIZED_CLIENT = -46,  /**< unknown access key or principal (UnrecognizedClientException) */
	ECR_EINVALID_SIGNATURE = -47,    /**< wrong or stale signature (InvalidSignatureException) */
	ECR_EEXPIRED_TOKEN = -48,        /**< expired token (ExpiredTokenException) */
	ECR_EVALIDATION = -49,           /**< ValidationException */
	ECR_ELAYER_PART_TOO_SMALL = -50, /**< LayerPartTooSmallException */
	ECR_ELAYER_INACCESSIBLE = -51,   /**< the layer is in no image of the repository (LayerInaccessibleException) */
	ECR_ELIFECYCLE_POLICY_NOT_FOUND = -52,     /**< LifecyclePolicyNotFoundException */
	ECR_ELIFECYCLE_PREVIEW_NOT_FOUND = -53,    /**< LifecyclePolicyPreviewNotFoundException */
	ECR_ELIFECYCLE_PREVIEW_IN_PROGRESS = -54,  /**< LifecyclePolicyPreviewInProgressException */
	ECR_EIMAGE_ARCHIVED = -55,                 /**< the image is archived (ImageArchivedException) */
	ECR_ESTORAGE_CLASS_UPDATE = -56,           /**< ImageStorageClassUpdateNotSupportedException */
	ECR_ESCAN_NOT_FOUND = -57,                 /**< the image was never scanned (ScanNotFoundException) */
	ECR_ENETWORK = -58,       /**< a remote registry could not be reached: connection, TLS, timeout (after retries) */
	ECR_ENOTSUPPORTED = -59,  /**< the registry does not offer this operation (e.g. the ECR API on a plain OCI registry) */
	ECR_ETHROTTLED = -60,     /**< too many requests, still refused after retries (ThrottlingException) */
	ECR_ETEMPLATE_EXISTS = -61,    /**< a repository creation template already exists (TemplateAlreadyExistsException) */
	ECR_ETEMPLATE_NOT_FOUND = -62, /**< no repository creation template has the prefix (TemplateNotFoundException) */
	ECR_EPTC_RULE_EXISTS = -63,     /**< PullThroughCacheRuleAlreadyExistsException */
	ECR_EPTC_RULE_NOT_FOUND = -64,  /**< PullThroughCacheRuleNotFoundException */
	ECR_ESECRET_NOT_FOUND = -65,    /**< no upstream credential under that ARN (SecretNotFoundException) */
	ECR_EUNSUPPORTED_UPSTREAM = -66, /**< not an http(s) registry URL (UnsupportedUpstreamRegistryException) */
	ECR_ECATALOG_DATA_NOT_FOUND = -67, /**< a public repository has no catalog data (RepositoryCatalogDataNotFoundException) */
	ECR_EREGISTRY_NOT_FOUND = -68,     /**< no such registry (RegistryNotFoundException) */
	ECR_EUNSUPPORTED_COMMAND = -69     /**< the operation is not available here (UnsupportedCommandException) */
} ecr_error_code;

/** Where an error happened. */
typedef enum ecr_error_class {
	ECR_ERROR_NONE = 0,
	ECR_ERROR_NOMEMORY = 1,
	ECR_ERROR_OS = 2,
	ECR_ERROR_INVALID = 3,
	ECR_ERROR_JSON = 4,
	ECR_ERROR_STORAGE = 5,
	ECR_ERROR_OCI = 6,
	ECR_ERROR_REPOSITORY = 7,
	ECR_ERROR_IMAGE = 8,
	ECR_ERROR_UPLOAD = 9,
	ECR_ERROR_TRANSPORT = 10,
	ECR_ERROR_POLICY = 11,
	ECR_ERROR_INTERNAL = 12,
	ECR_ERROR_CALLBACK = 13
} ecr_error_class;

/** The last error on this thread. */
typedef struct ecr_error {
	const char *message; /**< UTF-8, never NULL */
	int klass;           /**< an ecr_error_class */
	int code;            /**< the ecr_error_code that was returned */
} ecr_error;

/**
 * The last error that happened on the calling thread.
 * @return never NULL; valid until the next failing call on this thread.
 *         When no error happened, message is "no error" and code is 0.
 */
ECR_EXTERN(const ecr_error *) ecr_error_last(void);

/** Forget the last error of the calling thread. */
ECR_EXTERN(void) ecr_error_clear(void);

/**
 * The symbolic name of a code, e.g. "ECR_ENOTFOUND".
 * @return a static string; "ECR_UNKNOWN" for a code that does not exist.
 */
ECR_EXTERN(const char *) ecr_error_name(int code);

/**
 * The Amazon ECR exception a code corresponds to, e.g.
 * "RepositoryNotFoundException", as the ECR API's __type uses it.
 * @return a static string; "ServerException" for codes without one.
 */
ECR_EXTERN(const char *) ecr_error_exception(int code);

/**
 * The general code a specific one belongs to: ECR_EREPOSITORY_NOT_FOUND and
 * ECR_EIMAGE_NOT_FOUND are both ECR_ENOTFOUND, for instance. General codes map
 * to themselves.
 */
ECR_EXTERN(int) ecr_error_category(int code);

ECR_END_DECL
/** @} */
#endif
