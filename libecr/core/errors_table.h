/*
 * The one table of error codes: X(code, ECR exception, category, text).
 * errors.c expands it into ecr_error_name(), ecr_error_exception() and
 * ecr_error_category(); a switch over ecr_error_code built from it makes the
 * compiler check that it and include/ecr/errors.h agree.
 */
#define ECR__ERROR_TABLE(X) \
	X(ECR_OK, "", ECR_OK, "success") \
	X(ECR_ERROR, "ServerException", ECR_ERROR, "generic failure") \
	X(ECR_ENOTFOUND, "ServerException", ECR_ENOTFOUND, "not found") \
	X(ECR_EEXISTS, "ServerException", ECR_EEXISTS, "already exists") \
	X(ECR_EINVALID, "InvalidParameterException", ECR_EINVALID, "invalid argument") \
	X(ECR_EIMMUTABLE, "ImageTagAlreadyExistsException", ECR_EIMMUTABLE, "the tag is immutable") \
	X(ECR_EDIGEST, "InvalidLayerException", ECR_EDIGEST, "digest mismatch") \
	X(ECR_ELIMIT, "LimitExceededException", ECR_ELIMIT, "limit exceeded") \
	X(ECR_EAUTH, "UnrecognizedClientException", ECR_EAUTH, "authentication failed") \
	X(ECR_EDENIED, "AccessDeniedException", ECR_EDENIED, "access denied") \
	X(ECR_EUPLOAD, "UploadNotFoundException", ECR_EUPLOAD, "upload unknown") \
	X(ECR_EBUFS, "ServerException", ECR_EBUFS, "buffer too small") \
	X(ECR_EUSER, "ServerException", ECR_EUSER, "stopped by a callback") \
	X(ECR_ITEROVER, "ServerException", ECR_ITEROVER, "no more items") \
	X(ECR_ENOMEM, "ServerException", ECR_ENOMEM, "out of memory") \
	X(ECR_EIO, "ServerException", ECR_EIO, "storage failure") \
	X(ECR_ERANGE, "InvalidLayerPartException", ECR_ERANGE, "bad offset or range") \
	X(ECR_EEMPTY, "EmptyUploadException", ECR_EEMPTY, "empty upload") \
	X(ECR_EUNSUPPORTED, "UnsupportedImageTypeException", ECR_EUNSUPPORTED, "unsupported image type") \
	X(ECR_EBUSY, "ServerException", ECR_EBUSY, "resource busy") \
	X(ECR_EREPOSITORY_NOT_FOUND, "RepositoryNotFoundException", ECR_ENOTFOUND, "repository not found") \
	X(ECR_EREPOSITORY_EXISTS, "RepositoryAlreadyExistsException", ECR_EEXISTS, "repository already exists") \
	X(ECR_EREPOSITORY_NOT_EMPTY, "RepositoryNotEmptyException", ECR_EINVALID, "repository not empty") \
	X(ECR_EIMAGE_NOT_FOUND, "ImageNotFoundException", ECR_ENOTFOUND, "image not found") \
	X(ECR_EIMAGE_EXISTS, "ImageAlreadyExistsException", ECR_EEXISTS, "image already exists") \
	X(ECR_EIMAGE_DIGEST, "ImageDigestDoesNotMatchException", ECR_EDIGEST, "image digest does not match") \
	X(ECR_ELAYERS_NOT_FOUND, "LayersNotFoundException", ECR_ENOTFOUND, "layers not found") \
	X(ECR_EREFERENCED_IMAGES_NOT_FOUND, "ReferencedImagesNotFoundException", ECR_ENOTFOUND, "referenced images not found") \
	X(ECR_ELAYER_EXISTS, "LayerAlreadyExistsException", ECR_EEXISTS, "layer already exists") \
	X(ECR_EIMAGE_REFERENCED, "InvalidParameterException", ECR_EINVALID, "image referenced by a manifest list") \
	X(ECR_EINVALID_TAG_PARAMETER, "InvalidTagParameterException", ECR_EINVALID, "invalid resource tag") \
	X(ECR_ETOO_MANY_TAGS, "TooManyTagsException", ECR_ELIMIT, "too many resource tags") \
	X(ECR_EREPOSITORY_POLICY_NOT_FOUND, "RepositoryPolicyNotFoundException", ECR_ENOTFOUND, "repository policy not found") \
	X(ECR_EREGISTRY_POLICY_NOT_FOUND, "RegistryPolicyNotFoundException", ECR_ENOTFOUND, "registry policy not found") \
	X(ECR_EMISSING_AUTH, "MissingAuthenticationTokenException", ECR_EAUTH, "missing authentication") \
	X(ECR_EINCOMPLETE_SIGNATURE, "IncompleteSignatureException", ECR_EAUTH, "incomplete signature") \
	X(ECR_EUNRECOGNIZED_CLIENT, "UnrecognizedClientException", ECR_EAUTH, "unrecognized client") \
	X(ECR_EINVALID_SIGNATURE, "InvalidSignatureException", ECR_EAUTH, "invalid signature") \
	X(ECR_EEXPIRED_TOKEN, "ExpiredTokenException", ECR_EAUTH, "expired token") \
	X(ECR_EVALIDATION, "ValidationException", ECR_EINVALID, "validation failed") \
	X(ECR_ELAYER_PART_TOO_SMALL, "LayerPartTooSmallException", ECR_EINVALID, "layer part too small") \
	X(ECR_ELAYER_INACCESSIBLE, "LayerInaccessibleException", ECR_ENOTFOUND, "layer not referenced by an image") \
	X(ECR_ELIFECYCLE_POLICY_NOT_FOUND, "LifecyclePolicyNotFoundException", ECR_ENOTFOUND, "lifecycle policy not found") \
	X(ECR_ELIFECYCLE_PREVIEW_NOT_FOUND, "LifecyclePolicyPreviewNotFoundException", ECR_ENOTFOUND, "lifecycle policy preview not found") \
	X(ECR_ELIFECYCLE_PREVIEW_IN_PROGRESS, "LifecyclePolicyPreviewInProgressException", ECR_EBUSY, "lifecycle policy preview in progress") \
	X(ECR_EIMAGE_ARCHIVED, "ImageArchivedException", ECR_EINVALID, "image archived") \
	X(ECR_ESTORAGE_CLASS_UPDATE, "ImageStorageClassUpdateNotSupportedException", ECR_EINVALID, "storage class update not supported") \
	X(ECR_ESCAN_NOT_FOUND, "ScanNotFoundException", ECR_ENOTFOUND, "scan not found") \
	X(ECR_ENETWORK, "ServerException", ECR_ENETWORK, "network failure") \
	X(ECR_ENOTSUPPORTED, "ServerException", ECR_ENOTSUPPORTED, "operation not supported by the registry") \
	X(ECR_ETHROTTLED, "ThrottlingException", ECR_ETHROTTLED, "too many requests") \
	X(ECR_ETEMPLATE_EXISTS, "TemplateAlreadyExistsException", ECR_EEXISTS, "creation template already exists") \
	X(ECR_ETEMPLATE_NOT_FOUND, "TemplateNotFoundException", ECR_ENOTFOUND, "creation template not found") \
	X(ECR_EPTC_RULE_EXISTS, "PullThroughCacheRuleAlreadyExistsException", ECR_EEXISTS, "pull through cache rule already exists") \
	X(ECR_EPTC_RULE_NOT_FOUND, "PullThroughCacheRuleNotFoundException", ECR_ENOTFOUND, "pull through cache rule not found") \
	X(ECR_ESECRET_NOT_FOUND, "SecretNotFoundException", ECR_ENOTFOUND, "upstream credential not found") \
	X(ECR_EUNSUPPORTED_UPSTREAM, "UnsupportedUpstreamRegistryException", ECR_EINVALID, "unsupported upstream registry") \
	X(ECR_ECATALOG_DATA_NOT_FOUND, "RepositoryCatalogDataNotFoundException", ECR_ENOTFOUND, "repository catalog data not found") \
	X(ECR_EREGISTRY_NOT_FOUND, "RegistryNotFoundException", ECR_ENOTFOUND, "registry not found") \
	X(ECR_EUNSUPPORTED_COMMAND, "UnsupportedCommandException", ECR_EINVALID, "unsupported command")
