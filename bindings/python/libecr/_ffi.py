"""The generated ctypes layer of libecr (do not edit: bindings/gen/gen_bindings.py writes it
from include/, and the meson test bindings/regen checks that it is fresh).

Everything the public headers declare: structures (opaque handles have no fields), callback
types, enums (IntEnum), integer constants, the *_INIT defaults, and FUNCTIONS, the signature
and documentation of every function. bind(cdll) sets argtypes and restype on a loaded
libecr and returns the names it could not find.
"""
# flake8: noqa
# pylint: skip-file
import ctypes
import enum

# Integer #defines.
ECR_ALLOCATOR_VERSION = 1
ECR_ANONYMOUS_TOKEN_LIFETIME_SECONDS = 3600
ECR_BLOB_STORE_READER_VERSION = 1
ECR_BLOB_STORE_VERSION = 2
ECR_BLOB_STORE_WRITER_VERSION = 2
ECR_BLOB_TOKEN_MAX_LIFETIME_SECONDS = 3600
ECR_CACHE_OPTIONS_VERSION = 1
ECR_COPY_NO_MOUNT = 2
ECR_COPY_OPTIONS_VERSION = 1
ECR_COPY_PROGRESS_VERSION = 1
ECR_COPY_REFERRERS = 1
ECR_COPY_REPLICA = 4
ECR_COST_VERSION = 1
ECR_EVENT_VERSION = 2
ECR_FSCK_ALL_REGISTRIES = 1
ECR_FSCK_NO_HASH = 2
ECR_FSCK_OPTIONS_VERSION = 1
ECR_FSCK_PROBLEM_VERSION = 1
ECR_FSCK_STATS_VERSION = 1
ECR_GC_DRY_RUN = 1
ECR_GC_OPTIONS_VERSION = 1
ECR_GC_STATS_VERSION = 1
ECR_IMAGE_GET_ANY_STATUS = 2
ECR_IMAGE_GET_RECORD_PULL = 1
ECR_IMAGE_LIST_OPTIONS_VERSION = 2
ECR_IMAGE_PUT_EXCLUSIVE = 1
ECR_IMAGE_PUT_REPLICA = 2
ECR_LIFECYCLE_MAX_RULES = 50
ECR_LIFECYCLE_POLICY_MAX_SIZE = 30720
ECR_LIFECYCLE_POLICY_MIN_SIZE = 100
ECR_MANIFEST_MAX_SIZE = 4194304
ECR_META_STORE_VERSION = 1
ECR_POLICY_FORCE = 1
ECR_POLICY_MAX_SIZE = 10240
ECR_POLICY_REQUEST_VERSION = 1
ECR_PRICE_TABLE_VERSION = 1
ECR_PRICE_TIERS_MAX = 8
ECR_PRINCIPAL_ADMIN = 1
ECR_PUBLIC_ALIAS_MAX = 50
ECR_PUBLIC_DESCRIPTION_MAX = 1024
ECR_PUBLIC_DISPLAY_NAME_MAX = 100
ECR_PUBLIC_LIST_MAX = 50
ECR_PUBLIC_LOGO_MAX = 512000
ECR_PUBLIC_TEXT_MAX = 25600
ECR_REGISTRY_OPTIONS_VERSION = 3
ECR_REMOTE_INSECURE = 1
ECR_REMOTE_NO_RETRY = 4
ECR_REMOTE_OCI_ONLY = 2
ECR_REPLICATOR_OPTIONS_VERSION = 1
ECR_REPOSITORY_DELETE_FORCE = 1
ECR_REPOSITORY_OPTIONS_VERSION = 1
ECR_SCAN_OPTIONS_VERSION = 1
ECR_SERVER_BLOB_REDIRECT_SECONDS = 1200
ECR_SERVER_CREATE_ON_PUSH = 1
ECR_SERVER_NO_AUTH = 4
ECR_SERVER_OPTIONS_VERSION = 1
ECR_SERVER_SINGLE_THREAD = 2
ECR_SIGV4_REQUEST_VERSION = 1
ECR_STATS_VERSION = 1
ECR_STORAGE_NOSYNC = 1
ECR_TEMPLATE_CREATE_ON_PUSH = 4
ECR_TEMPLATE_PULL_THROUGH_CACHE = 2
ECR_TEMPLATE_REPLICATION = 1
ECR_TOKEN_LIFETIME_SECONDS = 43200
ECR_TRANSPORT_HAS_ECR_API = 1
ECR_TRANSPORT_HAS_OCI = 2
ECR_TRANSPORT_STREAM_VERSION = 1
ECR_TRANSPORT_VERSION = 1
ECR_UNTAG_DELETE_UNTAGGED = 1
ECR_UPLOAD_ID_LEN = 36
ECR_USAGE_VERSION = 1
ECR_VERSION_MAJOR = 0
ECR_VERSION_MINOR = 1
ECR_VERSION_PATCH = 0
ECR_WEBHOOKS_OPTIONS_VERSION = 1
ECR_WEBHOOK_STATS_VERSION = 1

# Enums: an IntEnum per C enum, and every value as a module constant too.


class ErrorCode(enum.IntEnum):
    """Return codes. Keep in sync with libecr/core/errors_table.h (checked by the compiler).

    C: ecr_error_code
    """
    OK = 0
    """success"""
    ERROR = -1
    """generic failure (ServerException)"""
    ENOTFOUND = -3
    """an object does not exist"""
    EEXISTS = -4
    """an object already exists"""
    EINVALID = -5
    """invalid argument (InvalidParameterException)"""
    EIMMUTABLE = -6
    """the tag exists and is immutable (ImageTagAlreadyExistsException)"""
    EDIGEST = -7
    """content does not match its digest (InvalidLayerException)"""
    ELIMIT = -8
    """a size or count limit was hit (LimitExceededException)"""
    EAUTH = -9
    """authentication failed"""
    EDENIED = -10
    """denied by a policy (AccessDeniedException)"""
    EUPLOAD = -11
    """upload session unknown or expired (UploadNotFoundException)"""
    EBUFS = -12
    """the output buffer is too small"""
    EUSER = -13
    """reserved for callbacks that stop an operation"""
    ITEROVER = -14
    """an iterator has no more items"""
    ENOMEM = -15
    """out of memory"""
    EIO = -16
    """the storage failed (disk full, I/O error)"""
    ERANGE = -17
    """bad offset or range (InvalidLayerPartException)"""
    EEMPTY = -18
    """an upload with no data (EmptyUploadException)"""
    EUNSUPPORTED = -19
    """unsupported manifest type (UnsupportedImageTypeException)"""
    EBUSY = -20
    """the resource is in use by another process"""
    EREPOSITORY_NOT_FOUND = -30
    """RepositoryNotFoundException"""
    EREPOSITORY_EXISTS = -31
    """RepositoryAlreadyExistsException"""
    EREPOSITORY_NOT_EMPTY = -32
    """RepositoryNotEmptyException"""
    EIMAGE_NOT_FOUND = -33
    """ImageNotFoundException"""
    EIMAGE_EXISTS = -34
    """ImageAlreadyExistsException"""
    EIMAGE_DIGEST = -35
    """ImageDigestDoesNotMatchException"""
    ELAYERS_NOT_FOUND = -36
    """LayersNotFoundException"""
    EREFERENCED_IMAGES_NOT_FOUND = -37
    """ReferencedImagesNotFoundException"""
    ELAYER_EXISTS = -38
    """LayerAlreadyExistsException"""
    EIMAGE_REFERENCED = -39
    """the image is a child of a manifest list (ImageReferencedByManifestList)"""
    EINVALID_TAG_PARAMETER = -40
    """InvalidTagParameterException (resource tags)"""
    ETOO_MANY_TAGS = -41
    """TooManyTagsException (resource tags)"""
    EREPOSITORY_POLICY_NOT_FOUND = -42
    """RepositoryPolicyNotFoundException"""
    EREGISTRY_POLICY_NOT_FOUND = -43
    """RegistryPolicyNotFoundException"""
    EMISSING_AUTH = -44
    """no credentials (MissingAuthenticationTokenException)"""
    EINCOMPLETE_SIGNATURE = -45
    """malformed Authorization (IncompleteSignatureException)"""
    EUNRECOGNIZED_CLIENT = -46
    """unknown access key or principal (UnrecognizedClientException)"""
    EINVALID_SIGNATURE = -47
    """wrong or stale signature (InvalidSignatureException)"""
    EEXPIRED_TOKEN = -48
    """expired token (ExpiredTokenException)"""
    EVALIDATION = -49
    """ValidationException"""
    ELAYER_PART_TOO_SMALL = -50
    """LayerPartTooSmallException"""
    ELAYER_INACCESSIBLE = -51
    """the layer is in no image of the repository (LayerInaccessibleException)"""
    ELIFECYCLE_POLICY_NOT_FOUND = -52
    """LifecyclePolicyNotFoundException"""
    ELIFECYCLE_PREVIEW_NOT_FOUND = -53
    """LifecyclePolicyPreviewNotFoundException"""
    ELIFECYCLE_PREVIEW_IN_PROGRESS = -54
    """LifecyclePolicyPreviewInProgressException"""
    EIMAGE_ARCHIVED = -55
    """the image is archived (ImageArchivedException)"""
    ESTORAGE_CLASS_UPDATE = -56
    """ImageStorageClassUpdateNotSupportedException"""
    ESCAN_NOT_FOUND = -57
    """the image was never scanned (ScanNotFoundException)"""
    ENETWORK = -58
    """a remote registry could not be reached: connection, TLS, timeout (after retries)"""
    ENOTSUPPORTED = -59
    """the registry does not offer this operation (e.g. the ECR API on a plain OCI registry)"""
    ETHROTTLED = -60
    """too many requests, still refused after retries (ThrottlingException)"""
    ETEMPLATE_EXISTS = -61
    """a repository creation template already exists (TemplateAlreadyExistsException)"""
    ETEMPLATE_NOT_FOUND = -62
    """no repository creation template has the prefix (TemplateNotFoundException)"""
    EPTC_RULE_EXISTS = -63
    """PullThroughCacheRuleAlreadyExistsException"""
    EPTC_RULE_NOT_FOUND = -64
    """PullThroughCacheRuleNotFoundException"""
    ESECRET_NOT_FOUND = -65
    """no upstream credential under that ARN (SecretNotFoundException)"""
    EUNSUPPORTED_UPSTREAM = -66
    """not an http(s) registry URL (UnsupportedUpstreamRegistryException)"""
    ECATALOG_DATA_NOT_FOUND = -67
    """a public repository has no catalog data (RepositoryCatalogDataNotFoundException)"""
    EREGISTRY_NOT_FOUND = -68
    """no such registry (RegistryNotFoundException)"""
    EUNSUPPORTED_COMMAND = -69
    """the operation is not available here (UnsupportedCommandException)"""


ECR_OK = 0
ECR_ERROR = -1
ECR_ENOTFOUND = -3
ECR_EEXISTS = -4
ECR_EINVALID = -5
ECR_EIMMUTABLE = -6
ECR_EDIGEST = -7
ECR_ELIMIT = -8
ECR_EAUTH = -9
ECR_EDENIED = -10
ECR_EUPLOAD = -11
ECR_EBUFS = -12
ECR_EUSER = -13
ECR_ITEROVER = -14
ECR_ENOMEM = -15
ECR_EIO = -16
ECR_ERANGE = -17
ECR_EEMPTY = -18
ECR_EUNSUPPORTED = -19
ECR_EBUSY = -20
ECR_EREPOSITORY_NOT_FOUND = -30
ECR_EREPOSITORY_EXISTS = -31
ECR_EREPOSITORY_NOT_EMPTY = -32
ECR_EIMAGE_NOT_FOUND = -33
ECR_EIMAGE_EXISTS = -34
ECR_EIMAGE_DIGEST = -35
ECR_ELAYERS_NOT_FOUND = -36
ECR_EREFERENCED_IMAGES_NOT_FOUND = -37
ECR_ELAYER_EXISTS = -38
ECR_EIMAGE_REFERENCED = -39
ECR_EINVALID_TAG_PARAMETER = -40
ECR_ETOO_MANY_TAGS = -41
ECR_EREPOSITORY_POLICY_NOT_FOUND = -42
ECR_EREGISTRY_POLICY_NOT_FOUND = -43
ECR_EMISSING_AUTH = -44
ECR_EINCOMPLETE_SIGNATURE = -45
ECR_EUNRECOGNIZED_CLIENT = -46
ECR_EINVALID_SIGNATURE = -47
ECR_EEXPIRED_TOKEN = -48
ECR_EVALIDATION = -49
ECR_ELAYER_PART_TOO_SMALL = -50
ECR_ELAYER_INACCESSIBLE = -51
ECR_ELIFECYCLE_POLICY_NOT_FOUND = -52
ECR_ELIFECYCLE_PREVIEW_NOT_FOUND = -53
ECR_ELIFECYCLE_PREVIEW_IN_PROGRESS = -54
ECR_EIMAGE_ARCHIVED = -55
ECR_ESTORAGE_CLASS_UPDATE = -56
ECR_ESCAN_NOT_FOUND = -57
ECR_ENETWORK = -58
ECR_ENOTSUPPORTED = -59
ECR_ETHROTTLED = -60
ECR_ETEMPLATE_EXISTS = -61
ECR_ETEMPLATE_NOT_FOUND = -62
ECR_EPTC_RULE_EXISTS = -63
ECR_EPTC_RULE_NOT_FOUND = -64
ECR_ESECRET_NOT_FOUND = -65
ECR_EUNSUPPORTED_UPSTREAM = -66
ECR_ECATALOG_DATA_NOT_FOUND = -67
ECR_EREGISTRY_NOT_FOUND = -68
ECR_EUNSUPPORTED_COMMAND = -69


class ErrorClass(enum.IntEnum):
    """Where an error happened.

    C: ecr_error_class
    """
    NONE = 0
    NOMEMORY = 1
    OS = 2
    INVALID = 3
    JSON = 4
    STORAGE = 5
    OCI = 6
    REPOSITORY = 7
    IMAGE = 8
    UPLOAD = 9
    TRANSPORT = 10
    POLICY = 11
    INTERNAL = 12
    CALLBACK = 13


ECR_ERROR_NONE = 0
ECR_ERROR_NOMEMORY = 1
ECR_ERROR_OS = 2
ECR_ERROR_INVALID = 3
ECR_ERROR_JSON = 4
ECR_ERROR_STORAGE = 5
ECR_ERROR_OCI = 6
ECR_ERROR_REPOSITORY = 7
ECR_ERROR_IMAGE = 8
ECR_ERROR_UPLOAD = 9
ECR_ERROR_TRANSPORT = 10
ECR_ERROR_POLICY = 11
ECR_ERROR_INTERNAL = 12
ECR_ERROR_CALLBACK = 13


class LogLevel(enum.IntEnum):
    """Log levels; a registry logs messages at or below its level.

    C: ecr_log_level
    """
    NONE = 0
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4
    TRACE = 5


ECR_LOG_NONE = 0
ECR_LOG_ERROR = 1
ECR_LOG_WARN = 2
ECR_LOG_INFO = 3
ECR_LOG_DEBUG = 4
ECR_LOG_TRACE = 5


class EventType(enum.IntEnum):
    """What happened.

    C: ecr_event_type
    """
    LIFECYCLE_EXPIRE = 1
    """a lifecycle rule expired (deleted) an image"""
    LIFECYCLE_TRANSITION = 2
    """a lifecycle rule archived an image"""
    IMAGE_PUSH = 3
    """"ECR Image Action" PUSH: an image or a tag was pushed"""
    IMAGE_DELETE = 4
    """"ECR Image Action" DELETE: an image deleted, or a tag removed"""
    IMAGE_SCAN = 5
    """"ECR Image Scan": a basic scan completed"""
    REPLICATION = 6
    """"ECR Replication Action" REPLICATE: success or given up"""
    PULL_THROUGH_CACHE = 7
    """"ECR Pull Through Cache Action": an image synced from upstream"""


ECR_EVENT_LIFECYCLE_EXPIRE = 1
ECR_EVENT_LIFECYCLE_TRANSITION = 2
ECR_EVENT_IMAGE_PUSH = 3
ECR_EVENT_IMAGE_DELETE = 4
ECR_EVENT_IMAGE_SCAN = 5
ECR_EVENT_REPLICATION = 6
ECR_EVENT_PULL_THROUGH_CACHE = 7


class EventResult(enum.IntEnum):
    """The outcome an event reports.

    C: ecr_event_result
    """
    SUCCESS = 0
    FAILURE = 1


ECR_EVENT_SUCCESS = 0
ECR_EVENT_FAILURE = 1


class TagMutability(enum.IntEnum):
    """Image tag mutability, as ECR's imageTagMutability.

    C: ecr_tag_mutability
    """
    MUTABLE = 0
    IMMUTABLE = 1
    IMMUTABLE_WITH_EXCLUSION = 2
    """immutable but for tags matching an exclusion filter"""
    MUTABLE_WITH_EXCLUSION = 3
    """mutable but for tags matching an exclusion filter"""


ECR_TAG_MUTABLE = 0
ECR_TAG_IMMUTABLE = 1
ECR_TAG_IMMUTABLE_WITH_EXCLUSION = 2
ECR_TAG_MUTABLE_WITH_EXCLUSION = 3


class EncryptionType(enum.IntEnum):
    """Encryption setting, as ECR's encryptionType.

    C: ecr_encryption_type
    """
    AES256 = 0
    KMS = 1
    KMS_DSSE = 2


ECR_ENCRYPTION_AES256 = 0
ECR_ENCRYPTION_KMS = 1
ECR_ENCRYPTION_KMS_DSSE = 2


class StorageClass(enum.IntEnum):
    """Storage class, as ECR's (lifecycle transitions and UpdateImageStorageClass).

    C: ecr_storage_class
    """
    STANDARD = 0
    ARCHIVE = 1


ECR_STORAGE_CLASS_STANDARD = 0
ECR_STORAGE_CLASS_ARCHIVE = 1


class ImageStatus(enum.IntEnum):
    """imageStatus, as ECR's.

    C: ecr_image_status
    """
    ACTIVE = 0
    ARCHIVED = 1
    """not pullable until restored"""
    ACTIVATING = 2
    """being restored"""


ECR_IMAGE_ACTIVE = 0
ECR_IMAGE_ARCHIVED = 1
ECR_IMAGE_ACTIVATING = 2


class TagStatus(enum.IntEnum):
    """Tag status filter, as ECR's TagStatus.

    C: ecr_tag_status
    """
    ANY = 0
    TAGGED = 1
    UNTAGGED = 2


ECR_TAG_STATUS_ANY = 0
ECR_TAG_STATUS_TAGGED = 1
ECR_TAG_STATUS_UNTAGGED = 2


class LifecycleAction(enum.IntEnum):
    """What a policy does to an image.

    C: ecr_lifecycle_action
    """
    KEEP = 0
    EXPIRE = 1
    """delete the image"""
    TRANSITION = 2
    """move it to the ARCHIVE storage class"""


ECR_LIFECYCLE_KEEP = 0
ECR_LIFECYCLE_EXPIRE = 1
ECR_LIFECYCLE_TRANSITION = 2


class PolicyKind(enum.IntEnum):
    """What a policy is attached to.

    C: ecr_policy_kind
    """
    RESOURCE = 0
    """repository or registry policy: every statement names a Principal"""
    IDENTITY = 1
    """a principal's own policy: no Principal"""


ECR_POLICY_RESOURCE = 0
ECR_POLICY_IDENTITY = 1


class PolicyDecision(enum.IntEnum):
    """The outcome of evaluating one policy.

    C: ecr_policy_decision
    """
    NOT_APPLICABLE = 0
    """no statement matched: an implicit deny"""
    ALLOW = 1
    """no statement matched: an implicit deny"""
    DENY = 2
    """an explicit deny"""


ECR_POLICY_NOT_APPLICABLE = 0
ECR_POLICY_ALLOW = 1
ECR_POLICY_DENY = 2


class Severity(enum.IntEnum):
    """Severity levels, as ECR reports them.

    C: ecr_severity
    """
    UNDEFINED = 0
    INFORMATIONAL = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    CRITICAL = 5


ECR_SEVERITY_UNDEFINED = 0
ECR_SEVERITY_INFORMATIONAL = 1
ECR_SEVERITY_LOW = 2
ECR_SEVERITY_MEDIUM = 3
ECR_SEVERITY_HIGH = 4
ECR_SEVERITY_CRITICAL = 5


class ScanStatus(enum.IntEnum):
    """Scan status, as ECR's imageScanStatus.

    C: ecr_scan_status
    """
    NONE = 0
    """never scanned"""
    IN_PROGRESS = 1
    """never scanned"""
    COMPLETE = 2
    FAILED = 3


ECR_SCAN_NONE = 0
ECR_SCAN_IN_PROGRESS = 1
ECR_SCAN_COMPLETE = 2
ECR_SCAN_FAILED = 3


class CopyEvent(enum.IntEnum):
    """What a progress report is about.

    C: ecr_copy_event
    """
    BLOB_START = 0
    """a blob starts moving"""
    BLOB_PROGRESS = 1
    """bytes of a blob moved (at most every 64 KiB and 100 ms per blob)"""
    BLOB_DONE = 2
    """a blob is on the destination, verified"""
    BLOB_SKIPPED = 3
    """the destination had the blob already"""
    BLOB_MOUNTED = 4
    """the blob was mounted from the source repository (same registry)"""
    MANIFEST_DONE = 5
    """a manifest was put on the destination"""


ECR_COPY_BLOB_START = 0
ECR_COPY_BLOB_PROGRESS = 1
ECR_COPY_BLOB_DONE = 2
ECR_COPY_BLOB_SKIPPED = 3
ECR_COPY_BLOB_MOUNTED = 4
ECR_COPY_MANIFEST_DONE = 5


class ReplicationStatus(enum.IntEnum):
    """Where an image stands at one destination.

    C: ecr_replication_status
    """
    IN_PROGRESS = 0
    """queued or being copied (also between retries)"""
    COMPLETE = 1
    """queued or being copied (also between retries)"""
    FAILED = 2
    """gave up; failure_reason says why"""


ECR_REPLICATION_IN_PROGRESS = 0
ECR_REPLICATION_COMPLETE = 1
ECR_REPLICATION_FAILED = 2


class ServerMetricsAccess(enum.IntEnum):
    """Who may read /metrics (ecr_server_set_metrics()).

    C: ecr_server_metrics_access
    """
    LOCAL = 0
    """loopback peers only (127.0.0.0/8, ::1): the default"""
    OFF = 1
    """no /metrics route (404)"""
    ANY = 2
    """every peer (it reveals account ids and repository activity)"""


ECR_SERVER_METRICS_LOCAL = 0
ECR_SERVER_METRICS_OFF = 1
ECR_SERVER_METRICS_ANY = 2


class FsckKind(enum.IntEnum):
    """What a problem is about.

    C: ecr_fsck_kind
    """
    BLOB_MISSING = 1
    """a blob the metadata needs is not in the blob store"""
    BLOB_CORRUPT = 2
    """a blob's content does not hash to its digest"""
    BLOB_SIZE = 3
    """a blob's size differs from the size the metadata records"""
    TAG_DANGLING = 4
    """a tag names an image that is not in its repository"""
    CHILD_MISSING = 5
    """an index's child manifest is not an image of the repository"""
    BLOB_UNLINKED = 6
    """a manifest's config or layer is not linked to the repository"""
    ARCHIVE_MISSING = 7
    """an archived blob has neither its raw nor its compressed copy"""
    IO = 8
    """the storage failed while reading (the message says how)"""
    UNREFERENCED = 9
    """notice: a blob nothing references (garbage collection removes it)"""
    STAGE_ORPHAN = 10
    """notice: a staging object without an upload session"""


ECR_FSCK_BLOB_MISSING = 1
ECR_FSCK_BLOB_CORRUPT = 2
ECR_FSCK_BLOB_SIZE = 3
ECR_FSCK_TAG_DANGLING = 4
ECR_FSCK_CHILD_MISSING = 5
ECR_FSCK_BLOB_UNLINKED = 6
ECR_FSCK_ARCHIVE_MISSING = 7
ECR_FSCK_IO = 8
ECR_FSCK_UNREFERENCED = 9
ECR_FSCK_STAGE_ORPHAN = 10


class FsckSeverity(enum.IntEnum):
    """How serious a problem is.

    C: ecr_fsck_severity
    """
    ERROR = 0
    """an inconsistency"""
    NOTICE = 1
    """garbage that GC removes; not an inconsistency"""


ECR_FSCK_ERROR = 0
ECR_FSCK_NOTICE = 1


class SqlType(enum.IntEnum):
    """Types of SQL values.

    C: ecr_sql_type
    """
    NULL = 0
    INT = 1
    """i"""
    TEXT = 2
    """s, len (NUL-terminated as well)"""
    BLOB = 3
    """s, len"""


ECR_SQL_NULL = 0
ECR_SQL_INT = 1
ECR_SQL_TEXT = 2
ECR_SQL_BLOB = 3


# Structures, declared first so that pointers can refer to any of them.


class ecr_error(ctypes.Structure):
    """The last error on this thread.

    C: struct ecr_error
    """
    _field_docs_ = {
        'message': 'UTF-8, never NULL',
        'klass': 'an ecr_error_class',
        'code': 'the ecr_error_code that was returned',
    }


class ecr_buf(ctypes.Structure):
    """A buffer filled by the library. ptr is always NUL-terminated when size > 0
    (the terminator is not counted in size). Initialise with ECR_BUF_INIT or
    zeros; release with ecr_buf_dispose().

    C: struct ecr_buf
    """
    _field_docs_ = {
        'ptr': 'the bytes, or NULL when empty',
        'size': 'number of bytes, not counting the terminator',
        'reserved': 'allocated size; 0 when ptr is not owned',
    }


class ecr_blob_store(ctypes.Structure):
    """A blob store (see ecr/sys/blob_store.h).

    C: struct ecr_blob_store
    """
    _field_docs_ = {
        'stage_open': "Open the staging object named stage_id (letters, digits, '-'),\ncreating it when missing. An existing one is reopened for appending:\nits bytes are hashed again so the writer can go on.",
        'stage_remove': 'Remove a staging object. ECR_ENOTFOUND when there is none.',
        'stage_list': 'List the staging objects (used to expire abandoned uploads).',
        'read_open': 'Open a blob for reading from offset. ECR_ENOTFOUND; ECR_ERANGE when offset > size.',
        'stat': 'The size of a blob. ECR_ENOTFOUND.',
        'remove': 'Remove a blob. ECR_ENOTFOUND.',
        'list': 'List every published blob.',
        'free': 'Release the store.',
        'presign': "Optional (may be NULL): a URL from which anyone holding it can GET the\nblob's bytes without other credentials for lifetime_seconds (1 to\n604800), e.g. an S3 presigned URL, written into url_out (replacing its\ncontent). The blob's existence is not checked. ECR_EINVALID (digest,\nlifetime); ECR_ENOTSUPPORTED when this store cannot presign after all.\nRead by the library only when version >= 2.",
    }


class ecr_meta_store(ctypes.Structure):
    """A metadata store (see ecr/sys/meta_store.h).

    C: struct ecr_meta_store
    """
    _field_docs_ = {
        'dialect': '"sqlite" or "postgres".',
        'begin': "Start a transaction. write != 0 takes the write lock at once (SQLite\nBEGIN IMMEDIATE), so a read-then-write transaction cannot deadlock.\nwrite == 2 asks for an atomic write transaction: its statements are\neach atomic and it claims rows itself (leases, job claims with\nFOR UPDATE SKIP LOCKED), so a store may run it beside other atomic\nones instead of behind the write lock (PostgreSQL: READ COMMITTED\nunder the shared form of the writers' lock); a store that does not\ndistinguish it treats it as any write (write != 0).",
        'exec': 'Run one statement with params bound to its placeholders; call cb for\neach row (cb may be NULL). *changes_out (may be NULL) gets the number\nof rows changed. A constraint violation returns ECR_EEXISTS; a storage\nfailure ECR_EIO.',
        'commit': 'Commit and release the transaction. On failure it is rolled back and released too.',
        'rollback': 'Roll back and release the transaction.',
        'free': 'Release the store.',
    }


class ecr_event(ctypes.Structure):
    """One event; borrowed for the duration of the callback. Fields an event type does not use are NULL or 0.

    C: struct ecr_event
    """
    _field_docs_ = {
        'account_id': 'the registry the event belongs to (replication: the destination)',
        'region': 'the registry the event belongs to (replication: the destination)',
        'tags': "the image's tags at the time (lifecycle, scan, delete)",
        'tags_count': "the image's tags at the time (lifecycle, scan, delete)",
        'rule_priority': 'lifecycle events: the rule that acted',
        'time_ms': 'lifecycle events: the rule that acted',
        'tag': 'PUSH: the tag pushed (NULL: by digest); DELETE: the tag removed, or NULL',
        'result': 'PUSH: the tag pushed (NULL: by digest); DELETE: the tag removed, or NULL',
        'reason': 'FAILURE: why (or NULL)',
        'findings_critical': "IMAGE_SCAN: the findings per severity (ECR's finding-severity-counts; zero counts are left out).",
        'source_account_id': 'REPLICATION: the source registry',
        'source_region': 'REPLICATION: the source registry',
        'upstream_url': 'PULL_THROUGH_CACHE: the upstream registry',
        'repository_prefix': "PULL_THROUGH_CACHE: the rule's ECR repository prefix",
    }


class ecr_registry(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_registry (opaque)
    """


class ecr_registry_options(ctypes.Structure):
    """Options for ecr_registry_open(). NULL means all defaults.

    C: struct ecr_registry_options
    """
    _field_docs_ = {
        'account_id': 'The 12-digit account id; NULL: "123456789012".',
        'region': 'The region, e.g. "eu-west-1"; NULL: "us-east-1".',
        'log_cb': 'Log messages go here; NULL: nowhere. Called from any thread.',
        'log_level': 'The most verbose level passed to log_cb; 0: ECR_LOG_WARN.',
        'clock_cb': "The clock; NULL: the system's. Tests set it to move time.",
        'upload_expiry_seconds': 'Upload sessions untouched for this long expire; 0: 24 hours.',
        'flags': 'ECR_STORAGE_NOSYNC, or 0.',
        'event_cb': 'Events (lifecycle actions, ...) go here; NULL: nowhere. See ecr/event.h.',
        'username': 'Basic credentials for the data plane ("AWS" and a token from\nGetAuthorizationToken for Amazon ECR); NULL: none, or derived from the\nAWS credentials below (the library gets a token itself).',
        'access_key_id': "AWS credentials for the ECR API (SigV4). NULL: the usual AWS sources, in\nthe AWS CLI's order: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /\nAWS_SESSION_TOKEN, then the shared credentials file\n(AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials) for profile.",
        'profile': 'The profile of the shared credentials and config files; NULL: AWS_PROFILE, else "default".',
        'api_endpoint': 'The ECR API\'s endpoint, e.g. "https://api.ecr.eu-west-1.amazonaws.com";\nNULL: the registry URL itself (as ecrd serves both), or api.ecr.<region>\nfor an Amazon ECR registry host.',
        'ca_file': "CA certificates to trust for https (a PEM file, a hashed folder); NULL: the system's.",
        'remote_flags': 'ECR_REMOTE_* flags.',
        'timeout_ms': 'Give up on a request after this long without progress; 0: 60 s. Connecting: at most 10 s.',
        'max_retries': 'Retries of a failed request (5xx, 429, reset connection), with jittered backoff; 0: 4 (ECR_REMOTE_NO_RETRY: none).',
        'user_agent': 'Appended to the User-Agent header; NULL: nothing.',
    }


class ecr_gc_options(ctypes.Structure):
    """Options for ecr_registry_gc().

    C: struct ecr_gc_options
    """
    _field_docs_ = {
        'grace_seconds': 'Blobs and links younger than this are kept; 0: 1 hour.',
        'flags': 'ECR_GC_DRY_RUN: count only.',
    }


class ecr_gc_stats(ctypes.Structure):
    """What a garbage collection did.

    C: struct ecr_gc_stats
    """
    _field_docs_ = {
        'uploads_expired': 'abandoned upload sessions removed',
        'links_removed': 'repository blob links no image needs',
        'blobs_removed': 'blobs removed from the blob store',
        'bytes_removed': 'their total size',
        'blobs_kept': 'blobs still in the store',
    }


class ecr_repository(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_repository (opaque)
    """


class ecr_repository_iterator(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_repository_iterator (opaque)
    """


class ecr_resource_tag(ctypes.Structure):
    """A resource tag (ECR's Tag: Key and Value).

    C: struct ecr_resource_tag
    """
    _field_docs_ = {
        'key': '1-128 characters; "aws:" is reserved',
        'value': '0-256 characters',
    }


class ecr_repository_options(ctypes.Structure):
    """Options for ecr_repository_create(). NULL means all defaults.

    C: struct ecr_repository_options
    """
    _field_docs_ = {
        'exclusions': 'WILDCARD exclusion filters ([0-9a-zA-Z._*-]{1,128}); 1-5, only with the *_WITH_EXCLUSION modes.',
        'scan_on_push': 'Scan images when they are pushed.',
        'kms_key': 'The KMS key with ECR_ENCRYPTION_KMS*; NULL: the AWS-managed key.',
        'tags': 'Resource tags, at most 50.',
    }


class ecr_upload(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_upload (opaque)
    """


class ecr_blob(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_blob (opaque)
    """


class ecr_webhooks(ctypes.Structure):
    """A set of webhook endpoints with their delivery queue and thread.

    C: struct ecr_webhooks (opaque)
    """


class ecr_webhooks_options(ctypes.Structure):
    """Options of ecr_webhooks_new(); initialise with ecr_webhooks_options_init().

    C: struct ecr_webhooks_options
    """
    _field_docs_ = {
        'queue_capacity': 'deliveries waiting at most per endpoint; 0: 10000',
        'max_attempts': 'attempts per delivery, the first included; 0: 8',
        'timeout_ms': 'per request (connect + answer); 0: 10000',
        'backoff_initial_ms': 'first retry delay (doubled each time, +- jitter); 0: 500',
        'backoff_max_ms': 'cap of the retry delay; 0: 60000',
        'log_cb': 'delivery failures and drops (once per burst); NULL: silent',
        'log_payload': 'delivery failures and drops (once per burst); NULL: silent',
    }


class ecr_webhook_stats(ctypes.Structure):
    """Counters since ecr_webhooks_new(); set version to ECR_WEBHOOK_STATS_VERSION before the call.

    C: struct ecr_webhook_stats
    """
    _field_docs_ = {
        'queued': 'deliveries queued (an event times the endpoints)',
        'delivered': 'answered with 2xx',
        'failed': 'given up: attempts exhausted, or a final 4xx',
        'dropped': 'not queued: the queue was full (or the sender was stopping)',
        'retries': 'attempts after the first',
        'pending': 'in the queue now (gauge)',
    }


class ecr_image(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_image (opaque)
    """


class ecr_image_iterator(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_image_iterator (opaque)
    """


class ecr_tag_iterator(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_tag_iterator (opaque)
    """


class ecr_image_list_options(ctypes.Structure):
    """Options for ecr_image_iterator_new(). NULL means all images.

    C: struct ecr_image_list_options
    """
    _field_docs_ = {
        'subject': 'Only referrers of this digest (OCI 1.1 subject), or NULL.',
        'artifact_type': 'With subject: only this artifact type, or NULL.',
        'start_token': 'Resume after a token from ecr_image_iterator_token(), or NULL.',
        'status_mask': 'Only images whose status bit (1u << ecr_image_status) is set; 0: every status.',
    }


class ecr_lifecycle_policy(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_lifecycle_policy (opaque)
    """


class ecr_lifecycle_image(ctypes.Structure):
    """An image as the evaluator sees it (input; the caller owns every pointer).

    C: struct ecr_lifecycle_image
    """
    _field_docs_ = {
        'pushed_at': 'ms since the epoch',
        'last_pulled_at': '0: never',
        'last_archived_at': '0: never',
        'last_activated_at': '0: never restored',
        'storage_class': '0: never restored',
        'parents': 'Digests of the manifest lists / indexes (in the same set) that list this image.',
        'subject': 'The subject digest of a referrer (OCI 1.1), or NULL.',
    }


class ecr_policy(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_policy (opaque)
    """


class ecr_policy_context_key(ctypes.Structure):
    """A condition key and its value(s) for evaluation, e.g. {"aws:SourceIp", "10.0.0.1"}.

    C: struct ecr_policy_context_key
    """


class ecr_policy_request(ctypes.Structure):
    """The request being evaluated.

    C: struct ecr_policy_request
    """
    _field_docs_ = {
        'principal_arn': 'The caller, e.g. "arn:aws:iam::111122223333:user/alice"; NULL for anonymous.',
        'principal_account': "The caller's account id (aws:PrincipalAccount).",
        'action': 'The action, e.g. "ecr:BatchGetImage".',
        'resource': 'The resource ARN, e.g. "arn:aws:ecr:us-east-1:123456789012:repository/app".',
        'keys': ' Further condition keys (aws:SourceIp, aws:SecureTransport, aws:CurrentTime,\n ecr:ResourceTag/..., ...); a key given twice has several values.',
    }


class ecr_principal(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_principal (opaque)
    """


class ecr_principal_iterator(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_principal_iterator (opaque)
    """


class ecr_http_header(ctypes.Structure):
    """One HTTP header.

    C: struct ecr_http_header
    """


class ecr_sigv4_request(ctypes.Structure):
    """A request to verify with AWS Signature Version 4.

    C: struct ecr_sigv4_request
    """
    _field_docs_ = {
        'method': '"POST"',
        'path': 'the path as sent, "/"',
        'query': "the raw query string without '?', or NULL",
        'headers': 'every header as received',
        'headers_count': 'every header as received',
        'payload_sha256': 'lowercase hex SHA-256 of the body',
        'service': 'the signing name: "ecr" (NULL) or "ecr-public"',
        'now_ms': "the time to check the date against; 0: the registry's clock",
    }


class ecr_vulndb(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_vulndb (opaque)
    """


class ecr_scan_report(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_scan_report (opaque)
    """


class ecr_scanner(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_scanner (opaque)
    """


class ecr_scan_options(ctypes.Structure):
    """Limits of a scan (untrusted layers). Zero fields take the defaults.

    C: struct ecr_scan_options
    """
    _field_docs_ = {
        'max_total_bytes': 'decompressed bytes over all layers; 0: 8 GiB',
        'max_entries': 'tar entries over all layers; 0: 1,000,000',
        'max_file_size': 'largest file kept in memory (package databases); 0: 64 MiB',
        'max_path_length': '0: 4096',
        'platform': 'For an index: the platform to scan, "os/arch[/variant]"; NULL: linux/amd64, else the first.',
    }


class ecr_scan_finding(ctypes.Structure):
    """One finding; borrowed from its report.

    C: struct ecr_scan_finding
    """
    _field_docs_ = {
        'name': 'the advisory\'s id or CVE alias, e.g. "CVE-2023-4911"',
        'uri': 'a reference URL, or NULL',
        'description': 'summary or details, or NULL',
        'severity': 'summary or details, or NULL',
        'package_name': 'the installed (binary) package',
        'package_version': 'its installed version',
        'fixed_version': 'the first fixed version, or NULL',
        'cvss_version': '2 or 3, 0 when none',
        'cvss_vector': 'or NULL',
        'cvss_score': '0 when none',
    }


class ecr_copy_progress(ctypes.Structure):
    """A progress report (valid during the callback only).

    C: struct ecr_copy_progress
    """
    _field_docs_ = {
        'digest': 'the blob or manifest',
        'media_type': 'its media type as the manifest names it',
        'bytes_done': 'of this blob',
        'bytes_total': 'its size',
        'all_bytes_done': 'of every blob of the copy (skipped and mounted ones count as done)',
        'all_bytes_total': 'the size of every blob of the copy',
        'blobs_done': 'blobs finished (done, skipped, mounted)',
        'blobs_total': 'blobs finished (done, skipped, mounted)',
    }


class ecr_copy_options(ctypes.Structure):
    """Options for ecr_image_copy(). NULL means all defaults.

    C: struct ecr_copy_options
    """
    _field_docs_ = {
        'platforms': 'For an image index (manifest list): the platforms to copy, as\n"os/architecture[/variant]" (e.g. "linux/arm64/v8"); NULL: all, and the\nindex is copied unchanged (same digest). With one platform the\ndestination gets that platform\'s manifest alone; with several, a new\nindex listing only them (another digest). ECR_ENOTFOUND when a platform\nis not in the index. Ignored for a single image.',
        'flags': 'ECR_COPY_* flags.',
        'parallel': 'Blobs moved at once; 0: 4; at most 16.',
    }


class ecr_replicator(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_replicator (opaque)
    """


class ecr_replicator_options(ctypes.Structure):
    """

    C: struct ecr_replicator_options
    """
    _field_docs_ = {
        'threads': 'Jobs copied at once; 0: 2.',
        'max_attempts': 'Attempts before a job is FAILED; 0: 8.',
        'retry_base_ms': "The first retry's delay, doubled each time (jittered), at most 10 minutes; 0: 2 s.",
        'poll_ms': 'Look for due jobs at least this often (new jobs of attached registries wake it at once); 0: 1000 ms.',
    }


class ecr_cache(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_cache (opaque)
    """


class ecr_cache_options(ctypes.Structure):
    """

    C: struct ecr_cache_options
    """
    _field_docs_ = {
        'freshness_seconds': "A cached tag is checked upstream again when older than this; 0: 24 hours (ECR's).",
        'upstream_options': 'Options for the upstream registry handles (timeouts, CA files, ECR_REMOTE_* flags); NULL: defaults.',
        'log_cb': 'Log messages (upstream failures) go here; NULL: nowhere.',
    }


class ecr_server(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_server (opaque)
    """


class ecr_server_options(ctypes.Structure):
    """Options for ecr_server_new(). NULL means all defaults.

    C: struct ecr_server_options
    """
    _field_docs_ = {
        'bind_address': 'Address to listen on, IPv4 or IPv6 literal; NULL: "127.0.0.1".',
        'port': 'Port; 0 picks a free one (see ecr_server_port()).',
        'tls_cert_file': "PEM certificate (chain) and key files for HTTPS; both NULL for plain\nHTTP. When libecr was built with its own libmicrohttpd (without TLS,\nmeson option bundled_mhd), an HTTPS server loads the system's\nlibmicrohttpd.so.12 (and GnuTLS) with dlopen when it starts.",
        'flags': 'ECR_SERVER_* flags.',
        'threads': "Worker threads (event loops); 0: half the online CPUs, from 1 to 64. Requests that wait for a durable\ncommit (manifest PUT and DELETE, blob DELETE, the last request of a blob upload) or may wait for a\npull-through cache's upstream (pulls of the repositories its rules cover) finish on a second pool of up\nto 64 threads, started as they are needed, while the worker thread serves its other connections (not\nwith ECR_SERVER_SINGLE_THREAD: there they finish on the one thread).",
        'max_connections': 'Most concurrent connections; 0: 1024.',
        'timeout_seconds': 'Idle connection timeout in seconds; 0: 120.',
        'max_header_size': 'Largest request headers, in bytes (answered 431 beyond); 0: 16 KiB.',
        'max_blob_size': "Largest blob accepted in one request, in bytes; 0: 52,000 MiB (ECR's layer limit).",
        'log_cb': 'One line per request and server events go here; NULL: nowhere. Called from worker threads.',
        'log_level': 'The most verbose level passed to log_cb; 0: ECR_LOG_INFO.',
    }


class ecr_stats(ctypes.Structure):
    """A registry's statistics. Set version (ECR_STATS_INIT) before the call.

    C: struct ecr_stats
    """
    _field_docs_ = {
        'gc_runs': 'collections that ran to the end (dry runs and skipped ones not counted)',
        'gc_failures': 'collections that failed',
        'gc_blobs_deleted': 'blobs removed from the blob store',
        'gc_bytes_freed': 'their total size',
        'scans_failed': 'FAILED, UNSUPPORTED_IMAGE and other terminal non-complete states',
        'replication_queued': 'waiting (including retries not due yet)',
        'replication_running': 'waiting (including retries not due yet)',
    }


class ecr_fsck_problem(ctypes.Structure):
    """One problem; borrowed for the duration of the callback.

    C: struct ecr_fsck_problem
    """
    _field_docs_ = {
        'account_id': 'the registry, or NULL for the storage as a whole',
        'region': 'or NULL',
        'repository': 'or NULL',
        'digest': 'the image or blob concerned, or NULL',
        'message': 'one line, for people',
    }


class ecr_fsck_options(ctypes.Structure):
    """Options for ecr_registry_fsck().

    C: struct ecr_fsck_options
    """
    _field_docs_ = {
        'flags': 'ECR_FSCK_ALL_REGISTRIES, ECR_FSCK_NO_HASH.',
    }


class ecr_fsck_stats(ctypes.Structure):
    """What a check looked at and found.

    C: struct ecr_fsck_stats
    """
    _field_docs_ = {
        'registries': 'registries checked',
        'repositories': 'registries checked',
        'blobs_checked': 'distinct blobs the metadata needs, checked',
        'bytes_hashed': 'distinct blobs the metadata needs, checked',
        'blobs_stored': 'blobs in the blob store (with ECR_FSCK_ALL_REGISTRIES)',
        'errors': 'problems of severity ECR_FSCK_ERROR',
        'notices': 'problems of severity ECR_FSCK_NOTICE',
    }


class ecr_usage(ctypes.Structure):
    """Usage of a repository or a registry over a time window.

    C: struct ecr_usage
    """
    _field_docs_ = {
        'repositories': 'repositories counted (1 for a repository)',
        'images': 'images (manifests) stored now',
        'stored_bytes': 'now: each blob once per repository, summed over repositories',
        'stored_bytes_unique': 'now: each blob once across the registry (= stored_bytes for a repository)',
        'pushed_bytes': 'in the window: bytes received (blob uploads and manifests)',
        'pulled_bytes': 'in the window: bytes served (blobs, ranges as served, and manifests)',
        'image_pushes': 'in the window: manifests stored',
        'image_pulls': 'in the window: manifests served (GET, not HEAD)',
        'blob_uploads': 'in the window: blob uploads completed',
        'blob_downloads': 'in the window: blob reads served',
        'from_ms': "the window as counted: first day's start (ms since the epoch, UTC)",
        'to_ms': 'the window as counted: end (exclusive)',
    }


class ecr_price_tier(ctypes.Structure):
    """One tier of a per-GB price: applies to the GBs up to up_to_gb (0: no limit) not covered by earlier tiers.

    C: struct ecr_price_tier
    """


class ecr_price_table(ctypes.Structure):
    """A price table (GB = 2^30 bytes).

    C: struct ecr_price_table
    """
    _field_docs_ = {
        'storage_usd_per_gb_month': 'stored GB-month',
        'transfer_in_usd_per_gb': 'bytes pushed',
        'transfer_out_tiers_count': 'bytes pushed',
        'transfer_out': 'bytes pulled, per month, in tier order',
    }


class ecr_cost(ctypes.Structure):
    """A cost estimate: its parts in US dollars.

    C: struct ecr_cost
    """
    _field_docs_ = {
        'storage_usd': 'stored_bytes_unique held for `months`',
        'transfer_in_usd': 'stored_bytes_unique held for `months`',
        'transfer_out_usd': 'pulled_bytes spread evenly over `months`, tiers applied per month',
        'total_usd': 'pulled_bytes spread evenly over `months`, tiers applied per month',
    }


class ecr_allocator(ctypes.Structure):
    """

    C: struct ecr_allocator
    """
    _field_docs_ = {
        'malloc_fn': 'Like malloc(3); may return NULL.',
        'realloc_fn': 'Like realloc(3); may return NULL, leaving ptr untouched.',
        'free_fn': 'Like free(3); ptr may be NULL.',
    }


class ecr_blob_store_writer(ctypes.Structure):
    """

    C: struct ecr_blob_store_writer
    """
    _field_docs_ = {
        'size': 'Bytes in the staging object so far.',
        'write': 'Append len bytes. ECR_EIO on a storage failure (the bytes may be partly written: size says how many).',
        'commit': 'Verify the content against digest, make it durable and publish it under\nthat digest; the staging object is gone afterwards. Publishing a digest\nthat exists already succeeds. ECR_EDIGEST (staging removed) when the\ncontent does not match; ECR_EIO on a storage failure (staging kept).\nThe writer must still be closed.',
        'digest': 'The digest of the bytes written so far, into out (at least 136 bytes).',
        'close': 'Release the writer; the staging object stays (unless committed).',
        'flush': 'Optional (may be NULL): make every byte written so far part of the\nstaging object, as digest() does, but without waiting for work that\ndoes not change it (a backend may go on hashing in the background).\nCalled at the end of each request of a chunked upload; digest(),\ncommit() and close() still settle everything. The library calls\ndigest() instead when this is NULL or version < 2.',
    }


class ecr_blob_store_reader(ctypes.Structure):
    """

    C: struct ecr_blob_store_reader
    """
    _field_docs_ = {
        'size': 'Size of the whole blob.',
        'read': 'Read up to len bytes at the current position; *nread is 0 at the end.',
        'fd': "Optional (may be NULL): a file descriptor and the file offset of the\nblob's first byte, so a server can sendfile(2) it. The descriptor stays\nowned by the reader.",
    }


class ecr_meta_txn(ctypes.Structure):
    """An opaque handle.

    C: struct ecr_meta_txn (opaque)
    """


class ecr_sql_value(ctypes.Structure):
    """A parameter or a column value.

    C: struct ecr_sql_value
    """


class ecr_transport(ctypes.Structure):
    """

    C: struct ecr_transport
    """
    _field_docs_ = {
        'info': 'What the registry behind the transport offers (ECR_TRANSPORT_HAS_*), its\naccount id and region (each empty when unknown: a plain OCI registry),\nand the host[:port] of its data plane (the start of repository URIs).\nCalled once, when the registry handle is opened; ECR_ENETWORK or\nECR_EAUTH when the registry cannot be reached or refuses the credentials.',
        'call': 'Run one ECR API operation, e.g. "DescribeRepositories": request is its\ninput document (a JSON object), response receives its output document.\nAn ECR error response fails with the code of its __type and its message.',
        'manifest_get': 'Fetch a manifest by tag or digest, accepting every manifest media type the\nlibrary knows. body receives the manifest, media_type its Content-Type and\ndigest its digest (as computed from body; a server that states another is\nrefused with ECR_EDIGEST). ECR_EREPOSITORY_NOT_FOUND, ECR_EIMAGE_NOT_FOUND.',
        'manifest_head': 'Only the digest, media type and size of a manifest (HEAD).',
        'manifest_put': 'Store a manifest under a tag or under its digest; digest_out (may be NULL) receives its digest.',
        'manifest_delete': 'Delete a manifest by digest, or a tag.',
        'blob_stat': 'The size of a blob (HEAD); ECR_ENOTFOUND when the repository has no such blob.',
        'blob_open': 'Start downloading length bytes of a blob from offset (length 0: to the\nend); *size_out receives the size of the whole blob.',
        'blob_put': 'Upload a whole blob held in memory in one go (small blobs).',
        'blob_mount': 'Make a blob of repository from available in repository without copying\nit. ECR_ENOTFOUND when the registry did not mount it (then copy it).',
        'blob_delete': 'Delete a blob from a repository.',
        'upload_begin': "Open an upload session; session_out receives the transport's handle on it:\na printable string (for HTTP, the Location the registry gave) that lets\nany later call, in this process or another, resume the session. It may\nchange with every write.",
        'upload_status': 'The bytes a session holds so far; ECR_EUPLOAD when it is unknown or expired.',
        'upload_write': "Append len bytes at offset (the session's size: ECR_ERANGE otherwise).\nsession is updated to the session's new handle.",
        'upload_commit': 'Finish a session: the registry verifies digest and publishes the blob. ECR_EDIGEST on a mismatch.',
        'upload_cancel': 'Abandon a session.',
        'tags_list': 'One page of a repository\'s tags in lexical order, after last (NULL: from\nthe start), at most n (0: the registry\'s default): a JSON object\n{"name": ..., "tags": [...]} as the OCI tags/list route returns it;\nmore_out is set when another page follows.',
        'referrers': 'The referrers of a digest (an OCI image index), optionally of one artifact type only (NULL: all).',
        'free': 'Release the transport (after every handle that used it is gone).',
    }


class ecr_transport_stream(ctypes.Structure):
    """A blob being downloaded, returned by blob_open().

    C: struct ecr_transport_stream
    """
    _field_docs_ = {
        'read': "Read up to len bytes into buf. *nread_out is 0 only at the end of the\nrange. A transport resumes an interrupted download itself (ranged\nrequest from the next byte) before it gives up with ECR_ENETWORK.\nThe bytes are the server's: the library checks the digest.",
        'close': 'Stop and release the stream.',
    }


# Callback types.
ecr_log_cb = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
ecr_event_cb = ctypes.CFUNCTYPE(None, ctypes.POINTER(ecr_event), ctypes.c_void_p)
ecr_clock_cb = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)
ecr_resource_tag_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
ecr_repository_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_repository), ctypes.c_void_p)
ecr_lifecycle_result_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_size_t, ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p)
ecr_lifecycle_image_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_image), ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p)
ecr_principal_policy_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
ecr_copy_progress_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_copy_progress), ctypes.c_void_p)
ecr_replication_status_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
ecr_replication_destination_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.POINTER(ecr_registry)), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
ecr_credential_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
ecr_public_registry_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
ecr_server_registry_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.POINTER(ecr_registry)), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
ecr_server_metrics_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_buf), ctypes.c_void_p)
ecr_fsck_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_fsck_problem), ctypes.c_void_p)
ecr_usage_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ecr_usage), ctypes.c_void_p)
ecr_blob_store_list_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_uint64, ctypes.c_int64, ctypes.c_void_p)
ecr_blob_store_stage_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_uint64, ctypes.c_int64, ctypes.c_void_p)
ecr_sql_row_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_sql_value), ctypes.c_size_t, ctypes.c_void_p)
CALLBACK_DOCS = {
    'ecr_log_cb': 'Receives one log message (UTF-8, no trailing newline). Secrets are never\nlogged.',
    'ecr_event_cb': 'Receives events.',
    'ecr_clock_cb': 'Returns the current time in milliseconds since the epoch.',
    'ecr_resource_tag_cb': 'Called for each resource tag.',
    'ecr_repository_cb': 'Called for each repository by ecr_repository_foreach(); repo is borrowed.',
    'ecr_lifecycle_result_cb': 'Receives the decision for images[index] (called once per image, in index\norder). rule_priority is the rule that decided, 0 for KEEP. A non-zero\nreturn stops the evaluation and is returned.',
    'ecr_lifecycle_image_cb': 'Receives one image of a preview or an application: img is borrowed for the\ncall; action and rule_priority say what the policy does to it. A non-zero\nreturn stops and is returned.',
    'ecr_principal_policy_cb': 'Called for each identity policy of a principal.',
    'ecr_copy_progress_cb': 'Receives progress reports, from the thread that called ecr_image_copy()\nonly, never two at once. A non-zero return stops the copy (ECR_EUSER) and\nis returned.',
    'ecr_replication_status_cb': "One destination's status; strings are borrowed for the call. A non-zero return stops and is returned.",
    'ecr_replication_destination_cb': 'The replicator\'s registry resolver: give it the registry of (region,\nregistry_id) in the deployment. It is asked for:\n- a job\'s destination: a local registry of the same deployment (another\n  region or account) or a remote one (ecr_registry_open("https://..."));\n- a job\'s source, when the job belongs to a registry of an attached\n  registry\'s storage other than that registry itself (the replicator works\n  the jobs of every account and region of the storage): this must be the\n  local registry of that account and region on the same storage.\n*out is borrowed: it must stay valid until ecr_replicator_free().\nECR_ENOTFOUND when the registry is unknown (the job fails with that\nreason; it is retried, and fails for good after max_attempts).',
    'ecr_credential_cb': "Called with each stored credential's ARN and username (never its password).",
    'ecr_public_registry_cb': 'Called with each public registry of a storage; non-zero stops and is returned.',
    'ecr_server_registry_cb': 'Finds (or opens) the registry of an account in a region, for requests that\nname one: the ECR API (account of the caller\'s access key, region of its\nSigV4 scope) and /v2/ requests to "<account>.dkr.ecr.<region>.<anything>".\nThe registry returned stays owned by the callback\'s owner and must live as\nlong as the server. Called from worker threads, possibly concurrently.\n@return 0, or a negative ECR_E* code (the request then fails).',
    'ecr_server_metrics_cb': "Append lines to a scrape: called at every `GET /metrics` (from a worker\nthread, possibly concurrently with itself) after the server's own\nfamilies; it appends complete families (`# HELP`, `# TYPE`, samples) in\nthe text exposition format to out. A non-zero return fails the scrape (500).",
    'ecr_fsck_cb': 'Receives each problem. Return 0 to go on; a non-zero value stops the check\nand ecr_registry_fsck() returns it.',
    'ecr_usage_cb': 'Per repository usage callback; name and usage are borrowed. Non-zero stops and is returned.',
    'ecr_blob_store_list_cb': 'Called for each blob by list(): digest, size, modification time (ms since the epoch).',
    'ecr_blob_store_stage_cb': 'Called for each staging object by stage_list().',
    'ecr_sql_row_cb': 'Called once per result row; the values are valid during the call. Non-zero stops and is returned.',
}

# Fields, each structure after the ones it embeds by value.
ecr_error._fields_ = [
    ('message', ctypes.c_char_p),
    ('klass', ctypes.c_int),
    ('code', ctypes.c_int),
]
ecr_buf._fields_ = [
    ('ptr', ctypes.POINTER(ctypes.c_char)),
    ('size', ctypes.c_size_t),
    ('reserved', ctypes.c_size_t),
]
ecr_blob_store._fields_ = [
    ('version', ctypes.c_uint),
    ('stage_open', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.POINTER(ecr_blob_store_writer)), ctypes.POINTER(ecr_blob_store), ctypes.c_char_p, ctypes.c_int)),
    ('stage_remove', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store), ctypes.c_char_p)),
    ('stage_list', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store), ecr_blob_store_stage_cb, ctypes.c_void_p)),
    ('read_open', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.POINTER(ecr_blob_store_reader)), ctypes.POINTER(ecr_blob_store), ctypes.c_char_p, ctypes.c_uint64)),
    ('stat', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store), ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64))),
    ('remove', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store), ctypes.c_char_p)),
    ('list', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store), ecr_blob_store_list_cb, ctypes.c_void_p)),
    ('free', ctypes.CFUNCTYPE(None, ctypes.POINTER(ecr_blob_store))),
    ('presign', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store), ctypes.c_char_p, ctypes.c_int64, ctypes.POINTER(ecr_buf))),
]
ecr_meta_store._fields_ = [
    ('version', ctypes.c_uint),
    ('dialect', ctypes.c_char_p),
    ('begin', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.POINTER(ecr_meta_txn)), ctypes.POINTER(ecr_meta_store), ctypes.c_int)),
    ('exec', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_meta_txn), ctypes.c_char_p, ctypes.POINTER(ecr_sql_value), ctypes.c_size_t, ecr_sql_row_cb, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64))),
    ('commit', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_meta_txn))),
    ('rollback', ctypes.CFUNCTYPE(None, ctypes.POINTER(ecr_meta_txn))),
    ('free', ctypes.CFUNCTYPE(None, ctypes.POINTER(ecr_meta_store))),
]
ecr_event._fields_ = [
    ('version', ctypes.c_uint),
    ('type', ctypes.c_int),
    ('account_id', ctypes.c_char_p),
    ('region', ctypes.c_char_p),
    ('repository', ctypes.c_char_p),
    ('digest', ctypes.c_char_p),
    ('tags', ctypes.POINTER(ctypes.c_char_p)),
    ('tags_count', ctypes.c_size_t),
    ('rule_priority', ctypes.c_uint32),
    ('time_ms', ctypes.c_int64),
    ('tag', ctypes.c_char_p),
    ('result', ctypes.c_int),
    ('reason', ctypes.c_char_p),
    ('findings_critical', ctypes.c_uint32),
    ('findings_high', ctypes.c_uint32),
    ('findings_medium', ctypes.c_uint32),
    ('findings_low', ctypes.c_uint32),
    ('findings_informational', ctypes.c_uint32),
    ('findings_undefined', ctypes.c_uint32),
    ('source_account_id', ctypes.c_char_p),
    ('source_region', ctypes.c_char_p),
    ('upstream_url', ctypes.c_char_p),
    ('repository_prefix', ctypes.c_char_p),
]
ecr_registry_options._fields_ = [
    ('version', ctypes.c_uint),
    ('account_id', ctypes.c_char_p),
    ('region', ctypes.c_char_p),
    ('log_cb', ecr_log_cb),
    ('log_payload', ctypes.c_void_p),
    ('log_level', ctypes.c_int),
    ('clock_cb', ecr_clock_cb),
    ('clock_payload', ctypes.c_void_p),
    ('upload_expiry_seconds', ctypes.c_uint64),
    ('flags', ctypes.c_uint32),
    ('event_cb', ecr_event_cb),
    ('event_payload', ctypes.c_void_p),
    ('username', ctypes.c_char_p),
    ('password', ctypes.c_char_p),
    ('access_key_id', ctypes.c_char_p),
    ('secret_access_key', ctypes.c_char_p),
    ('session_token', ctypes.c_char_p),
    ('profile', ctypes.c_char_p),
    ('api_endpoint', ctypes.c_char_p),
    ('ca_file', ctypes.c_char_p),
    ('ca_path', ctypes.c_char_p),
    ('remote_flags', ctypes.c_uint32),
    ('timeout_ms', ctypes.c_uint32),
    ('max_retries', ctypes.c_uint32),
    ('user_agent', ctypes.c_char_p),
]
ecr_gc_options._fields_ = [
    ('version', ctypes.c_uint),
    ('grace_seconds', ctypes.c_uint64),
    ('flags', ctypes.c_uint32),
]
ecr_gc_stats._fields_ = [
    ('version', ctypes.c_uint),
    ('uploads_expired', ctypes.c_uint64),
    ('links_removed', ctypes.c_uint64),
    ('blobs_removed', ctypes.c_uint64),
    ('bytes_removed', ctypes.c_uint64),
    ('blobs_kept', ctypes.c_uint64),
]
ecr_resource_tag._fields_ = [
    ('key', ctypes.c_char_p),
    ('value', ctypes.c_char_p),
]
ecr_repository_options._fields_ = [
    ('version', ctypes.c_uint),
    ('tag_mutability', ctypes.c_int),
    ('exclusions', ctypes.POINTER(ctypes.c_char_p)),
    ('exclusions_count', ctypes.c_size_t),
    ('scan_on_push', ctypes.c_int),
    ('encryption_type', ctypes.c_int),
    ('kms_key', ctypes.c_char_p),
    ('tags', ctypes.POINTER(ecr_resource_tag)),
    ('tags_count', ctypes.c_size_t),
]
ecr_webhooks_options._fields_ = [
    ('version', ctypes.c_uint),
    ('queue_capacity', ctypes.c_size_t),
    ('max_attempts', ctypes.c_uint),
    ('timeout_ms', ctypes.c_uint32),
    ('backoff_initial_ms', ctypes.c_uint32),
    ('backoff_max_ms', ctypes.c_uint32),
    ('log_cb', ecr_log_cb),
    ('log_payload', ctypes.c_void_p),
]
ecr_webhook_stats._fields_ = [
    ('version', ctypes.c_uint),
    ('queued', ctypes.c_uint64),
    ('delivered', ctypes.c_uint64),
    ('failed', ctypes.c_uint64),
    ('dropped', ctypes.c_uint64),
    ('retries', ctypes.c_uint64),
    ('pending', ctypes.c_uint64),
]
ecr_image_list_options._fields_ = [
    ('version', ctypes.c_uint),
    ('tag_status', ctypes.c_int),
    ('subject', ctypes.c_char_p),
    ('artifact_type', ctypes.c_char_p),
    ('start_token', ctypes.c_char_p),
    ('status_mask', ctypes.c_uint32),
]
ecr_lifecycle_image._fields_ = [
    ('digest', ctypes.c_char_p),
    ('tags', ctypes.POINTER(ctypes.c_char_p)),
    ('tags_count', ctypes.c_size_t),
    ('pushed_at', ctypes.c_int64),
    ('last_pulled_at', ctypes.c_int64),
    ('last_archived_at', ctypes.c_int64),
    ('last_activated_at', ctypes.c_int64),
    ('storage_class', ctypes.c_int),
    ('parents', ctypes.POINTER(ctypes.c_char_p)),
    ('parents_count', ctypes.c_size_t),
    ('subject', ctypes.c_char_p),
]
ecr_policy_context_key._fields_ = [
    ('name', ctypes.c_char_p),
    ('value', ctypes.c_char_p),
]
ecr_policy_request._fields_ = [
    ('version', ctypes.c_uint),
    ('principal_arn', ctypes.c_char_p),
    ('principal_account', ctypes.c_char_p),
    ('action', ctypes.c_char_p),
    ('resource', ctypes.c_char_p),
    ('keys', ctypes.POINTER(ecr_policy_context_key)),
    ('keys_count', ctypes.c_size_t),
]
ecr_http_header._fields_ = [
    ('name', ctypes.c_char_p),
    ('value', ctypes.c_char_p),
]
ecr_sigv4_request._fields_ = [
    ('version', ctypes.c_uint),
    ('method', ctypes.c_char_p),
    ('path', ctypes.c_char_p),
    ('query', ctypes.c_char_p),
    ('headers', ctypes.POINTER(ecr_http_header)),
    ('headers_count', ctypes.c_size_t),
    ('payload_sha256', ctypes.c_char_p),
    ('service', ctypes.c_char_p),
    ('now_ms', ctypes.c_int64),
]
ecr_scan_options._fields_ = [
    ('version', ctypes.c_uint),
    ('max_total_bytes', ctypes.c_uint64),
    ('max_entries', ctypes.c_uint64),
    ('max_file_size', ctypes.c_uint64),
    ('max_path_length', ctypes.c_uint32),
    ('platform', ctypes.c_char_p),
]
ecr_scan_finding._fields_ = [
    ('name', ctypes.c_char_p),
    ('uri', ctypes.c_char_p),
    ('description', ctypes.c_char_p),
    ('severity', ctypes.c_int),
    ('package_name', ctypes.c_char_p),
    ('package_version', ctypes.c_char_p),
    ('fixed_version', ctypes.c_char_p),
    ('cvss_version', ctypes.c_int),
    ('cvss_vector', ctypes.c_char_p),
    ('cvss_score', ctypes.c_double),
]
ecr_copy_progress._fields_ = [
    ('version', ctypes.c_uint),
    ('event', ctypes.c_int),
    ('digest', ctypes.c_char_p),
    ('media_type', ctypes.c_char_p),
    ('bytes_done', ctypes.c_uint64),
    ('bytes_total', ctypes.c_uint64),
    ('all_bytes_done', ctypes.c_uint64),
    ('all_bytes_total', ctypes.c_uint64),
    ('blobs_done', ctypes.c_size_t),
    ('blobs_total', ctypes.c_size_t),
]
ecr_copy_options._fields_ = [
    ('version', ctypes.c_uint),
    ('platforms', ctypes.POINTER(ctypes.c_char_p)),
    ('platforms_count', ctypes.c_size_t),
    ('flags', ctypes.c_uint32),
    ('parallel', ctypes.c_uint),
    ('progress_cb', ecr_copy_progress_cb),
    ('progress_payload', ctypes.c_void_p),
]
ecr_replicator_options._fields_ = [
    ('version', ctypes.c_uint),
    ('threads', ctypes.c_uint),
    ('destination_cb', ecr_replication_destination_cb),
    ('destination_payload', ctypes.c_void_p),
    ('max_attempts', ctypes.c_uint),
    ('retry_base_ms', ctypes.c_uint32),
    ('poll_ms', ctypes.c_uint32),
]
ecr_cache_options._fields_ = [
    ('version', ctypes.c_uint),
    ('freshness_seconds', ctypes.c_uint64),
    ('upstream_options', ctypes.POINTER(ecr_registry_options)),
    ('log_cb', ecr_log_cb),
    ('log_payload', ctypes.c_void_p),
    ('log_level', ctypes.c_int),
]
ecr_server_options._fields_ = [
    ('version', ctypes.c_uint),
    ('bind_address', ctypes.c_char_p),
    ('port', ctypes.c_uint16),
    ('tls_cert_file', ctypes.c_char_p),
    ('tls_key_file', ctypes.c_char_p),
    ('flags', ctypes.c_uint32),
    ('threads', ctypes.c_uint),
    ('max_connections', ctypes.c_uint),
    ('timeout_seconds', ctypes.c_uint),
    ('max_header_size', ctypes.c_size_t),
    ('max_blob_size', ctypes.c_uint64),
    ('log_cb', ecr_log_cb),
    ('log_payload', ctypes.c_void_p),
    ('log_level', ctypes.c_int),
]
ecr_stats._fields_ = [
    ('version', ctypes.c_uint),
    ('gc_runs', ctypes.c_uint64),
    ('gc_failures', ctypes.c_uint64),
    ('gc_blobs_deleted', ctypes.c_uint64),
    ('gc_bytes_freed', ctypes.c_uint64),
    ('blob_store_errors', ctypes.c_uint64),
    ('meta_store_errors', ctypes.c_uint64),
    ('scans_in_progress', ctypes.c_uint64),
    ('scans_complete', ctypes.c_uint64),
    ('scans_failed', ctypes.c_uint64),
    ('replication_queued', ctypes.c_uint64),
    ('replication_running', ctypes.c_uint64),
    ('replication_complete', ctypes.c_uint64),
    ('replication_failed', ctypes.c_uint64),
]
ecr_fsck_problem._fields_ = [
    ('version', ctypes.c_uint),
    ('kind', ctypes.c_int),
    ('severity', ctypes.c_int),
    ('account_id', ctypes.c_char_p),
    ('region', ctypes.c_char_p),
    ('repository', ctypes.c_char_p),
    ('digest', ctypes.c_char_p),
    ('message', ctypes.c_char_p),
]
ecr_fsck_options._fields_ = [
    ('version', ctypes.c_uint),
    ('flags', ctypes.c_uint32),
]
ecr_fsck_stats._fields_ = [
    ('version', ctypes.c_uint),
    ('registries', ctypes.c_uint64),
    ('repositories', ctypes.c_uint64),
    ('images', ctypes.c_uint64),
    ('tags', ctypes.c_uint64),
    ('blobs_checked', ctypes.c_uint64),
    ('bytes_hashed', ctypes.c_uint64),
    ('blobs_stored', ctypes.c_uint64),
    ('errors', ctypes.c_uint64),
    ('notices', ctypes.c_uint64),
]
ecr_usage._fields_ = [
    ('version', ctypes.c_uint),
    ('repositories', ctypes.c_uint64),
    ('images', ctypes.c_uint64),
    ('stored_bytes', ctypes.c_uint64),
    ('stored_bytes_unique', ctypes.c_uint64),
    ('pushed_bytes', ctypes.c_uint64),
    ('pulled_bytes', ctypes.c_uint64),
    ('image_pushes', ctypes.c_uint64),
    ('image_pulls', ctypes.c_uint64),
    ('blob_uploads', ctypes.c_uint64),
    ('blob_downloads', ctypes.c_uint64),
    ('from_ms', ctypes.c_int64),
    ('to_ms', ctypes.c_int64),
]
ecr_price_tier._fields_ = [
    ('up_to_gb', ctypes.c_double),
    ('usd_per_gb', ctypes.c_double),
]
ecr_price_table._fields_ = [
    ('version', ctypes.c_uint),
    ('storage_usd_per_gb_month', ctypes.c_double),
    ('transfer_in_usd_per_gb', ctypes.c_double),
    ('transfer_out_tiers_count', ctypes.c_size_t),
    ('transfer_out', (ecr_price_tier * 8)),
]
ecr_cost._fields_ = [
    ('version', ctypes.c_uint),
    ('storage_usd', ctypes.c_double),
    ('transfer_in_usd', ctypes.c_double),
    ('transfer_out_usd', ctypes.c_double),
    ('total_usd', ctypes.c_double),
]
ecr_allocator._fields_ = [
    ('version', ctypes.c_uint),
    ('malloc_fn', ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)),
    ('realloc_fn', ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)),
    ('free_fn', ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)),
    ('payload', ctypes.c_void_p),
]
ecr_blob_store_writer._fields_ = [
    ('version', ctypes.c_uint),
    ('size', ctypes.c_uint64),
    ('write', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store_writer), ctypes.c_void_p, ctypes.c_size_t)),
    ('commit', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store_writer), ctypes.c_char_p)),
    ('digest', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store_writer), ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)),
    ('close', ctypes.CFUNCTYPE(None, ctypes.POINTER(ecr_blob_store_writer))),
    ('flush', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store_writer))),
]
ecr_blob_store_reader._fields_ = [
    ('version', ctypes.c_uint),
    ('size', ctypes.c_uint64),
    ('read', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store_reader), ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t))),
    ('fd', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_blob_store_reader), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_uint64))),
    ('close', ctypes.CFUNCTYPE(None, ctypes.POINTER(ecr_blob_store_reader))),
]
ecr_sql_value._fields_ = [
    ('type', ctypes.c_int),
    ('i', ctypes.c_int64),
    ('s', ctypes.c_char_p),
    ('len', ctypes.c_size_t),
]
ecr_transport._fields_ = [
    ('version', ctypes.c_uint),
    ('info', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_transport))),
    ('call', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t)),
    ('manifest_get', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p)),
    ('manifest_head', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_buf), ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p)),
    ('manifest_put', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t)),
    ('manifest_delete', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p)),
    ('blob_stat', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p)),
    ('blob_open', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.POINTER(ecr_transport_stream)), ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint64, ctypes.c_uint64)),
    ('blob_put', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t)),
    ('blob_mount', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p)),
    ('blob_delete', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p)),
    ('upload_begin', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_transport), ctypes.c_char_p)),
    ('upload_status', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p)),
    ('upload_write', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t)),
    ('upload_commit', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p)),
    ('upload_cancel', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p)),
    ('tags_list', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_buf), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint)),
    ('referrers', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_transport), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p)),
    ('free', ctypes.CFUNCTYPE(None, ctypes.POINTER(ecr_transport))),
]
ecr_transport_stream._fields_ = [
    ('version', ctypes.c_uint),
    ('read', ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ecr_transport_stream), ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t))),
    ('close', ctypes.CFUNCTYPE(None, ctypes.POINTER(ecr_transport_stream))),
]

# Typedef names of structures.

# The *_INIT static initialisers: field name -> default value, for each macro.
INITS = {
    'ECR_ALLOCATOR_INIT': (ecr_allocator, {'version': 1, 'malloc_fn': None, 'realloc_fn': None, 'free_fn': None, 'payload': None}),
    'ECR_BUF_INIT': (ecr_buf, {'ptr': None, 'size': 0, 'reserved': 0}),
    'ECR_CACHE_OPTIONS_INIT': (ecr_cache_options, {'version': 1, 'freshness_seconds': 0, 'upstream_options': None, 'log_cb': None, 'log_payload': None, 'log_level': 0}),
    'ECR_COPY_OPTIONS_INIT': (ecr_copy_options, {'version': 1, 'platforms': None, 'platforms_count': 0, 'flags': 0, 'parallel': 0, 'progress_cb': None, 'progress_payload': None}),
    'ECR_FSCK_OPTIONS_INIT': (ecr_fsck_options, {'version': 1, 'flags': 0}),
    'ECR_FSCK_STATS_INIT': (ecr_fsck_stats, {'version': 1, 'registries': 0, 'repositories': 0, 'images': 0, 'tags': 0, 'blobs_checked': 0, 'bytes_hashed': 0, 'blobs_stored': 0, 'errors': 0, 'notices': 0}),
    'ECR_GC_OPTIONS_INIT': (ecr_gc_options, {'version': 1, 'grace_seconds': 0, 'flags': 0}),
    'ECR_GC_STATS_INIT': (ecr_gc_stats, {'version': 1, 'uploads_expired': 0, 'links_removed': 0, 'blobs_removed': 0, 'bytes_removed': 0, 'blobs_kept': 0}),
    'ECR_IMAGE_LIST_OPTIONS_INIT': (ecr_image_list_options, {'version': 2, 'tag_status': 0, 'subject': None, 'artifact_type': None, 'start_token': None, 'status_mask': 0}),
    'ECR_POLICY_REQUEST_INIT': (ecr_policy_request, {'version': 1, 'principal_arn': None, 'principal_account': None, 'action': None, 'resource': None, 'keys': None, 'keys_count': 0}),
    'ECR_REGISTRY_OPTIONS_INIT': (ecr_registry_options, {'version': 3, 'account_id': None, 'region': None, 'log_cb': None, 'log_payload': None, 'log_level': 0, 'clock_cb': None, 'clock_payload': None, 'upload_expiry_seconds': 0, 'flags': 0, 'event_cb': None, 'event_payload': None, 'username': None, 'password': None, 'access_key_id': None, 'secret_access_key': None, 'session_token': None, 'profile': None, 'api_endpoint': None, 'ca_file': None, 'ca_path': None, 'remote_flags': 0, 'timeout_ms': 0, 'max_retries': 0, 'user_agent': None}),
    'ECR_REPLICATOR_OPTIONS_INIT': (ecr_replicator_options, {'version': 1, 'threads': 0, 'destination_cb': None, 'destination_payload': None, 'max_attempts': 0, 'retry_base_ms': 0, 'poll_ms': 0}),
    'ECR_REPOSITORY_OPTIONS_INIT': (ecr_repository_options, {'version': 1, 'tag_mutability': 0, 'exclusions': None, 'exclusions_count': 0, 'scan_on_push': 0, 'encryption_type': 0, 'kms_key': None, 'tags': None, 'tags_count': 0}),
    'ECR_SCAN_OPTIONS_INIT': (ecr_scan_options, {'version': 1, 'max_total_bytes': 0, 'max_entries': 0, 'max_file_size': 0, 'max_path_length': 0, 'platform': None}),
    'ECR_SERVER_OPTIONS_INIT': (ecr_server_options, {'version': 1, 'bind_address': None, 'port': 0, 'tls_cert_file': None, 'tls_key_file': None, 'flags': 0, 'threads': 0, 'max_connections': 0, 'timeout_seconds': 0, 'max_header_size': 0, 'max_blob_size': 0, 'log_cb': None, 'log_payload': None, 'log_level': 0}),
    'ECR_SIGV4_REQUEST_INIT': (ecr_sigv4_request, {'version': 1, 'method': None, 'path': None, 'query': None, 'headers': None, 'headers_count': 0, 'payload_sha256': None, 'service': None, 'now_ms': 0}),
    'ECR_STATS_INIT': (ecr_stats, {'version': 1, 'gc_runs': 0, 'gc_failures': 0, 'gc_blobs_deleted': 0, 'gc_bytes_freed': 0, 'blob_store_errors': 0, 'meta_store_errors': 0, 'scans_in_progress': 0, 'scans_complete': 0, 'scans_failed': 0, 'replication_queued': 0, 'replication_running': 0, 'replication_complete': 0, 'replication_failed': 0}),
    'ECR_USAGE_INIT': (ecr_usage, {'version': 1, 'repositories': 0, 'images': 0, 'stored_bytes': 0, 'stored_bytes_unique': 0, 'pushed_bytes': 0, 'pulled_bytes': 0, 'image_pushes': 0, 'image_pulls': 0, 'blob_uploads': 0, 'blob_downloads': 0, 'from_ms': 0, 'to_ms': 0}),
}


def init(macro):
    """A structure filled as the C initialiser macro (e.g. "ECR_REGISTRY_OPTIONS_INIT") fills it."""
    cls, values = INITS[macro]
    obj = cls()
    for name, value in values.items():
        if value is not None:
            setattr(obj, name, value)
    return obj


# Every function: name -> (restype, argtypes, parameter names, C signature, documentation).
FUNCTIONS = {
    'ecr_version': (
        ctypes.c_char_p,
        [],
        (),
        'const char * ecr_version(void)',
        'The library version as "MAJOR.MINOR.PATCH", plus the digest provider it was\nbuilt with, e.g. "0.1.0 (sha256: libcrypto)".\n@return a static string.'),
    'ecr_init': (
        ctypes.c_int,
        [],
        (),
        'int ecr_init(void)',
        "Initialise the library's global state (the allocator). Reference counted:\nevery call must be matched by ecr_shutdown(). libcurl, libpq, libarchive\nand libcrypto are loaded (dlopen) and initialised on first use, so a\nprocess that never needs them never maps them; a library that cannot be\nloaded then fails the call that needed it with ECR_ENOTSUPPORTED.\n@return the new reference count (>= 1), or a negative ECR_E* code."),
    'ecr_shutdown': (
        ctypes.c_int,
        [],
        (),
        'int ecr_shutdown(void)',
        'Release one reference taken by ecr_init(); the last one frees the global\nstate.\n@return the remaining reference count (>= 0), or a negative ECR_E* code when\n        the library was not initialised.'),
    'ecr_error_last': (
        ctypes.POINTER(ecr_error),
        [],
        (),
        'const ecr_error * ecr_error_last(void)',
        'The last error that happened on the calling thread.\n@return never NULL; valid until the next failing call on this thread.\n        When no error happened, message is "no error" and code is 0.'),
    'ecr_error_clear': (
        None,
        [],
        (),
        'void ecr_error_clear(void)',
        'Forget the last error of the calling thread.'),
    'ecr_error_name': (
        ctypes.c_char_p,
        [ctypes.c_int],
        ('code',),
        'const char * ecr_error_name(int code)',
        'The symbolic name of a code, e.g. "ECR_ENOTFOUND".\n@return a static string; "ECR_UNKNOWN" for a code that does not exist.'),
    'ecr_error_exception': (
        ctypes.c_char_p,
        [ctypes.c_int],
        ('code',),
        'const char * ecr_error_exception(int code)',
        'The Amazon ECR exception a code corresponds to, e.g.\n"RepositoryNotFoundException", as the ECR API\'s __type uses it.\n@return a static string; "ServerException" for codes without one.'),
    'ecr_error_category': (
        ctypes.c_int,
        [ctypes.c_int],
        ('code',),
        'int ecr_error_category(int code)',
        'The general code a specific one belongs to: ECR_EREPOSITORY_NOT_FOUND and\nECR_EIMAGE_NOT_FOUND are both ECR_ENOTFOUND, for instance. General codes map\nto themselves.'),
    'ecr_buf_dispose': (
        None,
        [ctypes.POINTER(ecr_buf)],
        ('buf',),
        'void ecr_buf_dispose(ecr_buf * buf)',
        'Free the memory the library allocated for a buffer and reset it to empty.\n@param buf the buffer; NULL is a no-op.'),
    'ecr_log_level_name': (
        ctypes.c_char_p,
        [ctypes.c_int],
        ('level',),
        'const char * ecr_log_level_name(ecr_log_level level)',
        'The name of a level ("error", "warn", ...).\n@return a static string.'),
    'ecr_blob_store_fs_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_blob_store)), ctypes.c_char_p, ctypes.c_uint32],
        ('out', 'path', 'flags'),
        'int ecr_blob_store_fs_new(ecr_blob_store ** out, const char * path, uint32_t flags)',
        'A blob store in a folder: blobs/<alg>/<2 hex>/<hex>, staging in uploads/.\nEvery published blob was fsynced, renamed into place and its folder fsynced.\n@param out receives the store; free it with its free method or hand it to\n       ecr_registry_open_storage().\n@param path the folder; created if missing.\n@param flags 0, or ECR_STORAGE_NOSYNC to skip fsync (tests only).\n@return 0, ECR_EIO, ECR_ENOMEM.'),
    'ecr_blob_store_memory_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_blob_store))],
        ('out',),
        'int ecr_blob_store_memory_new(ecr_blob_store ** out)',
        'A blob store in memory; everything is lost when it is freed.'),
    'ecr_meta_store_sqlite_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_meta_store)), ctypes.c_char_p, ctypes.c_uint32],
        ('out', 'path', 'flags'),
        'int ecr_meta_store_sqlite_new(ecr_meta_store ** out, const char * path, uint32_t flags)',
        'A SQLite metadata store (WAL mode, versioned schema, migrated on open).\n@param path a file name, or ":memory:" for a private in-memory database.\n@param flags 0, or ECR_STORAGE_NOSYNC (synchronous=OFF; tests only).\n@return 0, ECR_EIO, ECR_ENOMEM, ECR_EINVALID (a newer schema than this\n        library knows).'),
    'ecr_meta_store_postgres_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_meta_store)), ctypes.c_char_p, ctypes.c_uint32],
        ('out', 'conninfo', 'flags'),
        'int ecr_meta_store_postgres_new(ecr_meta_store ** out, const char * conninfo, uint32_t flags)',
        'A PostgreSQL metadata store (libpq): the same schema and migrations as the\nSQLite store, migrated on open; a pool of connections shared by threads;\nreconnects after the server restarts. Several processes (ecrd nodes) may\nshare one database.\n@param conninfo "postgres://user[:password]@host[:port]/dbname[?...]",\n       "postgresql://...", or a libpq "key=value ..." string.\n@param flags 0 (ECR_STORAGE_NOSYNC is accepted and ignored: durability is the server\'s).\n@return 0, ECR_EINVALID (conninfo; a newer schema than this library\n        knows), ECR_ENETWORK (the server cannot be reached), ECR_EIO, ECR_ENOMEM.'),
    'ecr_blob_store_s3_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_blob_store)), ctypes.c_char_p, ctypes.c_uint32],
        ('out', 'url', 'flags'),
        'int ecr_blob_store_s3_new(ecr_blob_store ** out, const char * url, uint32_t flags)',
        'A blob store in an S3 bucket (libcurl, SigV4): blobs under\n"<prefix>/blobs/sha256/<hex>", uploads staged as multipart uploads and\npublished only when their digest matches.\n@param url "s3://bucket[/prefix][?endpoint=http://host:port][&region=R]\n       [&path_style=1]"; without endpoint, AWS\'s for the region.\n       Credentials: the usual AWS environment variables and shared files.\n@param flags 0.\n@return 0, ECR_EINVALID (url), ECR_EAUTH (no credentials), ECR_ENETWORK\n        (the bucket cannot be reached), ECR_ENOMEM.'),
    'ecr_blob_store_free': (
        None,
        [ctypes.POINTER(ecr_blob_store)],
        ('store',),
        'void ecr_blob_store_free(ecr_blob_store * store)',
        'Free a blob store that was not handed to a registry. NULL is a no-op.'),
    'ecr_meta_store_free': (
        None,
        [ctypes.POINTER(ecr_meta_store)],
        ('store',),
        'void ecr_meta_store_free(ecr_meta_store * store)',
        'Free a metadata store that was not handed to a registry. NULL is a no-op.'),
    'ecr_event_to_json': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_event)],
        ('out', 'e'),
        'int ecr_event_to_json(ecr_buf * out, const ecr_event * e)',
        'Append to out the EventBridge event ECR sends for e: {"version": "0", "id": a\nrandom UUID v4, "detail-type", "source": "aws.ecr", "account", "time" (ISO 8601,\nUTC, seconds), "region", "resources": [the repository ARN], "detail"} (docs/events.md\nlists the detail of each type).\n@return 0, ECR_EINVALID (unknown type, no account/region/repository), ECR_ENOMEM'),
    'ecr_event_detail_type': (
        ctypes.c_char_p,
        [ctypes.c_int],
        ('type',),
        'const char * ecr_event_detail_type(ecr_event_type type)',
        'The EventBridge detail-type of an event type ("ECR Image Action", ...), or NULL for an unknown one.'),
    'ecr_registry_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_registry_options_init(ecr_registry_options * opts, unsigned int version)',
        'Initialise options to the defaults. @return 0 or ECR_EINVALID for an unknown version.'),
    'ecr_registry_open': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_registry)), ctypes.c_char_p, ctypes.POINTER(ecr_registry_options)],
        ('out', 'url', 'opts'),
        'int ecr_registry_open(ecr_registry ** out, const char * url, const ecr_registry_options * opts)',
        'Open a registry.\n@param out receives the registry; free with ecr_registry_free().\n@param url "file:///path/to/folder" (created if missing: blobs in files,\n       metadata in SQLite), "memory:" (nothing kept after the last free),\n       or "https://host[:port]" / "http://host[:port]": a remote registry\n       (ecrd, Amazon ECR, any OCI Distribution registry) reached through the\n       HTTP transport (ecr/sys/transport.h). Every operation works on a\n       remote handle as on a local one, with the same error codes, except\n       the registry host\'s own maintenance (garbage collection, applying\n       lifecycle policies, principals), which answers ECR_ENOTSUPPORTED.\n@param opts options, or NULL for defaults; read during the call only.\n@return 0; ECR_EINVALID for a bad URL, account id, region or options\n        version; ECR_EIO when the storage cannot be opened; ECR_ENETWORK\n        when a remote registry cannot be reached; ECR_EAUTH when it\n        refuses the credentials.'),
    'ecr_registry_open_urls': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_registry)), ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ecr_registry_options)],
        ('out', 'meta_url', 'blob_url', 'opts'),
        'int ecr_registry_open_urls(ecr_registry ** out, const char * meta_url, const char * blob_url, const ecr_registry_options * opts)',
        'Open a registry on a metadata store and a blob store named by URLs: the\nstorage of several ecrd nodes (processes, machines) serving one registry.\nRegistries opened with the same pair of URLs in one process (accounts x\nregions) share one store, as those of one file:// folder do. No lock file\nis taken: any number of processes may open the same pair.\n@param out receives the registry; free with ecr_registry_free().\n@param meta_url "postgres://user[:password]@host[:port]/db[?...]" or\n       "postgresql://..." (ecr_meta_store_postgres_new()), or\n       "sqlite:///abs/path.db" (ecr_meta_store_sqlite_new(); one machine).\n@param blob_url "s3://bucket[/prefix][?endpoint=...&region=...&path_style=1]"\n       (ecr_blob_store_s3_new()), "file:///abs/dir" (ecr_blob_store_fs_new())\n       or "memory:". With s3:// and file:// an upload session keeps no\n       staging writer open between its handles, so it can continue in\n       another process.\n@param opts options, or NULL for defaults; read during the call only.\n@return 0; ECR_EINVALID for a bad URL, account id, region or options\n        version; ECR_ENETWORK when a server cannot be reached; ECR_EAUTH\n        when no S3 credentials are found; ECR_EIO when the storage cannot\n        be opened.'),
    'ecr_registry_open_storage': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_registry)), ctypes.POINTER(ecr_blob_store), ctypes.POINTER(ecr_meta_store), ctypes.POINTER(ecr_registry_options)],
        ('out', 'blobs', 'meta', 'opts'),
        'int ecr_registry_open_storage(ecr_registry ** out, ecr_blob_store * blobs, ecr_meta_store * meta, const ecr_registry_options * opts)',
        "Open a registry on storage backends of the caller's (see ecr/storage.h).\nThe registry takes ownership of both stores, also when it fails."),
    'ecr_registry_free': (
        None,
        [ctypes.POINTER(ecr_registry)],
        ('reg',),
        'void ecr_registry_free(ecr_registry * reg)',
        'Close a registry. Open repositories, images and uploads must be freed first. NULL is a no-op.'),
    'ecr_registry_account_id': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_registry)],
        ('reg',),
        'const char * ecr_registry_account_id(const ecr_registry * reg)',
        'The account id. @return borrowed, lives as long as reg.'),
    'ecr_registry_region': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_registry)],
        ('reg',),
        'const char * ecr_registry_region(const ecr_registry * reg)',
        'The region. @return borrowed, lives as long as reg.'),
    'ecr_registry_now': (
        ctypes.c_int64,
        [ctypes.POINTER(ecr_registry)],
        ('reg',),
        'int64_t ecr_registry_now(const ecr_registry * reg)',
        "The registry's clock, in milliseconds since the epoch."),
    'ecr_registry_arn': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_registry)],
        ('reg',),
        'const char * ecr_registry_arn(const ecr_registry * reg)',
        'The registry\'s ARN, "arn:aws:ecr:<region>:<account>:registry" (the\nresource of registry-level actions). @return borrowed.'),
    'ecr_registry_set_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('reg', 'text'),
        'int ecr_registry_set_policy(ecr_registry * reg, const char * text)',
        'Set the registry policy (a resource policy, see ecr/policy.h).\n@return 0; ECR_EINVALID (document); ECR_ELIMIT.'),
    'ecr_registry_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry)],
        ('out', 'reg'),
        'int ecr_registry_policy(ecr_buf * out, ecr_registry * reg)',
        'The registry policy. @return 0; ECR_EREGISTRY_POLICY_NOT_FOUND.'),
    'ecr_registry_delete_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry)],
        ('deleted_out', 'reg'),
        'int ecr_registry_delete_policy(ecr_buf * deleted_out, ecr_registry * reg)',
        'Delete the registry policy.\n@param deleted_out receives what was deleted; may be NULL.\n@return 0; ECR_EREGISTRY_POLICY_NOT_FOUND.'),
    'ecr_registry_setting': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('out', 'reg', 'name'),
        'int ecr_registry_setting(ecr_buf * out, ecr_registry * reg, const char * name)',
        'An account setting (ECR\'s GetAccountSetting): "BASIC_SCAN_TYPE_VERSION"\n(default "AWS_NATIVE") or "REGISTRY_POLICY_SCOPE" (default "V2").\n@return 0; ECR_EVALIDATION for an unknown name.'),
    'ecr_registry_set_setting': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_char_p],
        ('reg', 'name', 'value'),
        'int ecr_registry_set_setting(ecr_registry * reg, const char * name, const char * value)',
        "Change an account setting (ECR's PutAccountSetting); the value must be one\nthe setting accepts (BASIC_SCAN_TYPE_VERSION: AWS_NATIVE or CLAIR;\nREGISTRY_POLICY_SCOPE: V1 or V2).\n@return 0; ECR_EVALIDATION."),
    'ecr_gc_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_gc_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_gc_options_init(ecr_gc_options * opts, unsigned int version)',
        'Initialise GC options. @return 0 or ECR_EINVALID.'),
    'ecr_registry_gc': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.POINTER(ecr_gc_options), ctypes.POINTER(ecr_gc_stats)],
        ('reg', 'opts', 'stats_out'),
        'int ecr_registry_gc(ecr_registry * reg, const ecr_gc_options * opts, ecr_gc_stats * stats_out)',
        "Collect garbage in the registry's storage: expired uploads, blob links of\nrepositories that no image of that repository references, and blobs that no\nregistry in the same storage references. Nothing younger than the grace\nperiod is removed, so a concurrent push is never broken.\n@param stats_out may be NULL; else version must be set."),
    'ecr_repository_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_repository_options_init(ecr_repository_options * opts, unsigned int version)',
        'Initialise options to the defaults. @return 0 or ECR_EINVALID.'),
    'ecr_repository_create': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_repository)), ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.POINTER(ecr_repository_options)],
        ('out', 'reg', 'name', 'opts'),
        'int ecr_repository_create(ecr_repository ** out, ecr_registry * reg, const char * name, const ecr_repository_options * opts)',
        'Create a repository.\nOn a remote plain OCI registry (no ECR API), which creates repositories\nwith their first push, this only returns a handle on the name (existing or\nnot), and ECR_ENOTSUPPORTED for options other than the defaults.\n@param out receives the new repository (free with ecr_repository_free()), or NULL.\n@param name 2-256 characters of the OCI repository name grammar.\n@return 0; ECR_EINVALID (name, options); ECR_EREPOSITORY_EXISTS;\n        ECR_EINVALID_TAG_PARAMETER; ECR_ETOO_MANY_TAGS.'),
    'ecr_repository_open': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_repository)), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('out', 'reg', 'name'),
        'int ecr_repository_open(ecr_repository ** out, ecr_registry * reg, const char * name)',
        'Open an existing repository. @return 0, ECR_EREPOSITORY_NOT_FOUND, ECR_EINVALID (malformed name).'),
    'ecr_repository_free': (
        None,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'void ecr_repository_free(ecr_repository * repo)',
        'Free a repository handle (not the repository). NULL is a no-op.'),
    'ecr_repository_delete': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_uint32],
        ('reg', 'name', 'flags'),
        'int ecr_repository_delete(ecr_registry * reg, const char * name, uint32_t flags)',
        'Delete a repository.\n@return 0; ECR_EREPOSITORY_NOT_FOUND; ECR_EREPOSITORY_NOT_EMPTY when it\n        holds images and ECR_REPOSITORY_DELETE_FORCE is not given.'),
    'ecr_repository_name': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'const char * ecr_repository_name(const ecr_repository * repo)',
        'The name. @return borrowed.'),
    'ecr_repository_arn': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'const char * ecr_repository_arn(const ecr_repository * repo)',
        'The ARN, arn:aws:ecr:<region>:<account>:repository/<name>. @return borrowed.'),
    'ecr_repository_uri': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'const char * ecr_repository_uri(const ecr_repository * repo)',
        'The URI, <account>.dkr.ecr.<region>.amazonaws.com/<name>. @return borrowed.'),
    'ecr_repository_registry_id': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'const char * ecr_repository_registry_id(const ecr_repository * repo)',
        'The registry (account) id. @return borrowed.'),
    'ecr_repository_created_at': (
        ctypes.c_int64,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'int64_t ecr_repository_created_at(const ecr_repository * repo)',
        'Creation time, ms since the epoch.'),
    'ecr_repository_tag_mutability': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'ecr_tag_mutability ecr_repository_tag_mutability(const ecr_repository * repo)',
        ''),
    'ecr_repository_exclusion_count': (
        ctypes.c_size_t,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'size_t ecr_repository_exclusion_count(const ecr_repository * repo)',
        'Number of exclusion filters.'),
    'ecr_repository_exclusion': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_repository), ctypes.c_size_t],
        ('repo', 'i'),
        'const char * ecr_repository_exclusion(const ecr_repository * repo, size_t i)',
        'Exclusion filter i. @return borrowed, or NULL when i is out of range.'),
    'ecr_repository_scan_on_push': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'int ecr_repository_scan_on_push(const ecr_repository * repo)',
        ''),
    'ecr_repository_encryption_type': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'ecr_encryption_type ecr_repository_encryption_type(const ecr_repository * repo)',
        ''),
    'ecr_repository_kms_key': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_repository)],
        ('repo',),
        'const char * ecr_repository_kms_key(const ecr_repository * repo)',
        'The KMS key, or NULL. @return borrowed.'),
    'ecr_repository_tag_is_mutable': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_char_p],
        ('repo', 'tag'),
        'int ecr_repository_tag_is_mutable(const ecr_repository * repo, const char * tag)',
        "Whether a tag may be moved to another image under the repository's\nmutability setting and exclusion filters.\n@return 1 mutable, 0 immutable."),
    'ecr_repository_set_tag_mutability': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t],
        ('repo', 'mutability', 'exclusions', 'exclusions_count'),
        'int ecr_repository_set_tag_mutability(ecr_repository * repo, ecr_tag_mutability mutability, const char * const * exclusions, size_t exclusions_count)',
        'Change tag mutability (affects future pushes only).\n@return 0, ECR_EINVALID, ECR_EREPOSITORY_NOT_FOUND.'),
    'ecr_repository_set_scan_on_push': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_int],
        ('repo', 'scan_on_push'),
        'int ecr_repository_set_scan_on_push(ecr_repository * repo, int scan_on_push)',
        'Change scan on push. @return 0, ECR_EREPOSITORY_NOT_FOUND.'),
    'ecr_repository_tag_resource': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.POINTER(ecr_resource_tag), ctypes.c_size_t],
        ('repo', 'tags', 'count'),
        'int ecr_repository_tag_resource(ecr_repository * repo, const ecr_resource_tag * tags, size_t count)',
        'Add or overwrite resource tags.\n@return 0, ECR_EINVALID_TAG_PARAMETER, ECR_ETOO_MANY_TAGS (more than 50), ECR_EREPOSITORY_NOT_FOUND.'),
    'ecr_repository_untag_resource': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t],
        ('repo', 'keys', 'count'),
        'int ecr_repository_untag_resource(ecr_repository * repo, const char * const * keys, size_t count)',
        'Remove resource tags by key (missing keys are ignored).'),
    'ecr_repository_resource_tags': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ecr_resource_tag_cb, ctypes.c_void_p],
        ('repo', 'cb', 'payload'),
        'int ecr_repository_resource_tags(ecr_repository * repo, ecr_resource_tag_cb cb, void * payload)',
        'Call cb for each resource tag, in key order. A non-zero return from cb stops and is returned.'),
    'ecr_repository_set_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.c_uint32],
        ('repo', 'text', 'flags'),
        'int ecr_repository_set_policy(ecr_repository * repo, const char * text, uint32_t flags)',
        'Set the repository policy (a resource policy, see ecr/policy.h).\n@return 0; ECR_EINVALID (document, with a message saying why); ECR_ELIMIT\n        (over ECR_POLICY_MAX_SIZE); ECR_EREPOSITORY_NOT_FOUND.'),
    'ecr_repository_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_repository)],
        ('out', 'repo'),
        'int ecr_repository_policy(ecr_buf * out, ecr_repository * repo)',
        'The repository policy, as it was set.\n@return 0; ECR_EREPOSITORY_POLICY_NOT_FOUND; ECR_EREPOSITORY_NOT_FOUND.'),
    'ecr_repository_delete_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_repository)],
        ('deleted_out', 'repo'),
        'int ecr_repository_delete_policy(ecr_buf * deleted_out, ecr_repository * repo)',
        'Delete the repository policy.\n@param deleted_out receives the policy that was deleted; may be NULL.\n@return 0; ECR_EREPOSITORY_POLICY_NOT_FOUND; ECR_EREPOSITORY_NOT_FOUND.'),
    'ecr_repository_iterator_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_repository_iterator)), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('out', 'reg', 'start_token'),
        'int ecr_repository_iterator_new(ecr_repository_iterator ** out, ecr_registry * reg, const char * start_token)',
        "Iterate over the registry's repositories in name order.\n@param start_token NULL to start at the beginning, or a token from\n       ecr_repository_iterator_token() to go on after the item it was taken at.\n@return 0, ECR_EINVALID (bad token)."),
    'ecr_repository_iterator_new_after': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_repository_iterator)), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('out', 'reg', 'after'),
        'int ecr_repository_iterator_new_after(ecr_repository_iterator ** out, ecr_registry * reg, const char * after)',
        'Iterate over the registry\'s repositories in name order, starting after a\nname (the OCI catalog\'s "last" parameter).\n@param after start after this name, or NULL to start at the beginning.'),
    'ecr_repository_iterator_next': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_repository)), ctypes.POINTER(ecr_repository_iterator)],
        ('out', 'it'),
        'int ecr_repository_iterator_next(ecr_repository ** out, ecr_repository_iterator * it)',
        'The next repository.\n@param out receives a borrowed handle, valid until the next call or free.\n@return 0, ECR_ITEROVER at the end.'),
    'ecr_repository_iterator_token': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_repository_iterator)],
        ('out', 'it'),
        'int ecr_repository_iterator_token(ecr_buf * out, ecr_repository_iterator * it)',
        'A token that resumes after the last item returned (a nextToken for\npagination). Empty when nothing was returned yet.'),
    'ecr_repository_iterator_free': (
        None,
        [ctypes.POINTER(ecr_repository_iterator)],
        ('it',),
        'void ecr_repository_iterator_free(ecr_repository_iterator * it)',
        'Free an iterator. NULL is a no-op.'),
    'ecr_repository_foreach': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ecr_repository_cb, ctypes.c_void_p],
        ('reg', 'cb', 'payload'),
        'int ecr_repository_foreach(ecr_registry * reg, ecr_repository_cb cb, void * payload)',
        'Call cb for every repository in name order. A non-zero return from cb stops and is returned.'),
    'ecr_upload_begin': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_upload)), ctypes.POINTER(ecr_repository)],
        ('out', 'repo'),
        'int ecr_upload_begin(ecr_upload ** out, ecr_repository * repo)',
        'Start an upload session in a repository.\n@return 0, ECR_EREPOSITORY_NOT_FOUND, ECR_EIO.'),
    'ecr_upload_open': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_upload)), ctypes.POINTER(ecr_repository), ctypes.c_char_p],
        ('out', 'repo', 'upload_id'),
        'int ecr_upload_open(ecr_upload ** out, ecr_repository * repo, const char * upload_id)',
        'Reopen an upload session to resume it.\n@return 0; ECR_EUPLOAD when the id is unknown, finished or expired.'),
    'ecr_upload_id': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_upload)],
        ('up',),
        'const char * ecr_upload_id(const ecr_upload * up)',
        "The session id: a UUID for a local registry. For a remote registry it is\nthe transport's handle on the session (for HTTP, the Location the registry\ngave), longer than ECR_UPLOAD_ID_LEN, and it changes with every\necr_upload_write(): read it again before handing it to ecr_upload_open().\n@return borrowed, valid until the next write or ecr_upload_free()."),
    'ecr_upload_size': (
        ctypes.c_uint64,
        [ctypes.POINTER(ecr_upload)],
        ('up',),
        'uint64_t ecr_upload_size(const ecr_upload * up)',
        'Bytes received so far.'),
    'ecr_upload_started_at': (
        ctypes.c_int64,
        [ctypes.POINTER(ecr_upload)],
        ('up',),
        'int64_t ecr_upload_started_at(const ecr_upload * up)',
        'When the session started, ms since the epoch.'),
    'ecr_upload_write': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_upload), ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t],
        ('up', 'offset', 'data', 'len'),
        'int ecr_upload_write(ecr_upload * up, uint64_t offset, const void * data, size_t len)',
        'Append a chunk.\n@param offset where the chunk starts; must equal ecr_upload_size().\n@return 0; ECR_ERANGE when offset is not the current size (nothing is\n        written); ECR_ELIMIT beyond the blob size limit; ECR_EIO.'),
    'ecr_upload_commit': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_upload), ctypes.c_char_p],
        ('up', 'digest'),
        'int ecr_upload_commit(ecr_upload * up, const char * digest)',
        'Finish the upload: verify the digest, publish the blob and link it to the\nrepository. The session ends either way, except on ECR_EIO (retry).\n@param digest "sha256:<hex>" or "sha512:<hex>".\n@return 0; ECR_EINVALID (malformed digest); ECR_EDIGEST (content does not\n        match); ECR_EEMPTY is never returned (an empty blob is valid in OCI);\n        ECR_EIO.'),
    'ecr_upload_cancel': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_upload)],
        ('up',),
        'int ecr_upload_cancel(ecr_upload * up)',
        'Cancel the upload and discard what was received. @return 0, ECR_EUPLOAD.'),
    'ecr_upload_free': (
        None,
        [ctypes.POINTER(ecr_upload)],
        ('up',),
        'void ecr_upload_free(ecr_upload * up)',
        'Free the handle. An unfinished session stays open for ecr_upload_open(). NULL is a no-op.'),
    'ecr_blob_stat': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64)],
        ('repo', 'digest', 'size_out'),
        'int ecr_blob_stat(ecr_repository * repo, const char * digest, uint64_t * size_out)',
        'Whether the repository holds a blob.\n@param size_out receives its size; may be NULL.\n@return 0; ECR_ENOTFOUND; ECR_EINVALID (malformed digest).'),
    'ecr_blob_open': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_blob)), ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.c_uint64, ctypes.c_uint64],
        ('out', 'repo', 'digest', 'offset', 'length'),
        'int ecr_blob_open(ecr_blob ** out, ecr_repository * repo, const char * digest, uint64_t offset, uint64_t length)',
        'Open a blob for reading.\n@param offset first byte to read.\n@param length bytes to read; 0 means to the end.\n@return 0; ECR_ENOTFOUND; ECR_ERANGE when the range is not within the blob.'),
    'ecr_blob_size': (
        ctypes.c_uint64,
        [ctypes.POINTER(ecr_blob)],
        ('blob',),
        'uint64_t ecr_blob_size(const ecr_blob * blob)',
        'Size of the whole blob.'),
    'ecr_blob_read': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_blob), ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)],
        ('blob', 'buf', 'len', 'nread_out'),
        'int ecr_blob_read(ecr_blob * blob, void * buf, size_t len, size_t * nread_out)',
        'Read up to len bytes of the opened range.\n@param nread_out receives the count; 0 at the end of the range.'),
    'ecr_blob_fd': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_blob), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_uint64)],
        ('blob', 'fd_out', 'offset_out'),
        'int ecr_blob_fd(ecr_blob * blob, int * fd_out, uint64_t * offset_out)',
        "A file descriptor holding the blob and the file offset of the requested\nrange's first byte, for sendfile(2). The descriptor belongs to the blob.\n@return 0; ECR_ENOTFOUND when the storage has no file descriptors."),
    'ecr_blob_download_url': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.c_int64],
        ('out', 'repo', 'digest', 'lifetime_seconds'),
        'int ecr_blob_download_url(ecr_buf * out, ecr_repository * repo, const char * digest, int64_t lifetime_seconds)',
        "A URL from which the blob's bytes can be fetched directly from the blob\nstore without other credentials, valid for lifetime_seconds (ECR's\nGetDownloadUrlForLayer; an S3 presigned URL). Anyone holding the URL can\nread the blob until it expires.\n@param out receives the URL (its content is replaced).\n@param lifetime_seconds 1 to 604800 (7 days).\n@return 0; ECR_ENOTFOUND (the repository has no such blob);\n        ECR_ENOTSUPPORTED (the blob store cannot presign, or a remote\n        registry); ECR_EINVALID."),
    'ecr_blob_free': (
        None,
        [ctypes.POINTER(ecr_blob)],
        ('blob',),
        'void ecr_blob_free(ecr_blob * blob)',
        'Free a blob reader. NULL is a no-op.'),
    'ecr_blob_put': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t],
        ('repo', 'digest', 'data', 'len'),
        'int ecr_blob_put(ecr_repository * repo, const char * digest, const void * data, size_t len)',
        'Store a whole blob from memory (a monolithic upload).\n@return 0; ECR_EINVALID; ECR_EDIGEST; ECR_EIO.'),
    'ecr_blob_mount': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.POINTER(ecr_repository), ctypes.c_char_p],
        ('repo', 'from', 'digest'),
        'int ecr_blob_mount(ecr_repository * repo, ecr_repository * from, const char * digest)',
        'Make a blob of another repository of the same registry available in repo\nwithout copying it (cross-repository mount).\n@return 0; ECR_ENOTFOUND when from does not hold the blob.'),
    'ecr_blob_delete': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_char_p],
        ('repo', 'digest'),
        'int ecr_blob_delete(ecr_repository * repo, const char * digest)',
        'Remove a blob from a repository. The bytes go at the next garbage\ncollection if nothing else holds them.\n@return 0; ECR_ENOTFOUND.'),
    'ecr_webhooks_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_webhooks_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_webhooks_options_init(ecr_webhooks_options * opts, unsigned int version)',
        '@return 0, ECR_EINVALID (version unknown)'),
    'ecr_webhooks_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_webhooks)), ctypes.POINTER(ecr_webhooks_options)],
        ('out', 'opts'),
        'int ecr_webhooks_new(ecr_webhooks ** out, const ecr_webhooks_options * opts)',
        'Create a webhook sender and start its delivery thread. opts may be NULL (defaults).\n@return 0, ECR_EINVALID, ECR_ENOMEM, ECR_ERROR (thread)'),
    'ecr_webhooks_add': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_webhooks), ctypes.c_char_p, ctypes.c_char_p],
        ('wh', 'url', 'secret'),
        'int ecr_webhooks_add(ecr_webhooks * wh, const char * url, const char * secret)',
        'Add an endpoint (http:// or https://). secret (may be NULL: unsigned) is copied.\n@return 0, ECR_EINVALID (not an http(s) URL), ECR_ENOMEM'),
    'ecr_webhooks_event_cb': (
        None,
        [ctypes.POINTER(ecr_event), ctypes.c_void_p],
        ('event', 'payload'),
        'void ecr_webhooks_event_cb(const ecr_event * event, void * payload)',
        'An ecr_event_cb: pass it as ecr_registry_options.event_cb with event_payload = the\necr_webhooks. Serialises the event and queues one delivery per endpoint, without blocking.'),
    'ecr_webhooks_stats': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_webhook_stats), ctypes.POINTER(ecr_webhooks)],
        ('out', 'wh'),
        'int ecr_webhooks_stats(ecr_webhook_stats * out, ecr_webhooks * wh)',
        '@return 0, ECR_EINVALID (version)'),
    'ecr_webhooks_metrics': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_webhooks)],
        ('out', 'wh'),
        'int ecr_webhooks_metrics(ecr_buf * out, ecr_webhooks * wh)',
        'Append the counters to out as Prometheus text exposition lines (# HELP, # TYPE and\nsamples of ecr_webhook_queued_total, _delivered_total, _failed_total, _dropped_total,\n_retries_total and the gauge ecr_webhook_pending).\n@return 0, ECR_ENOMEM'),
    'ecr_webhooks_free_deadline': (
        None,
        [ctypes.POINTER(ecr_webhooks), ctypes.c_uint32],
        ('wh', 'deadline_ms'),
        'void ecr_webhooks_free_deadline(ecr_webhooks * wh, uint32_t deadline_ms)',
        'Stop: deliver what is queued for at most deadline_ms more (retries included), then\nstop the thread and free everything; deliveries left are counted as dropped.\nNo event callback may run or start during or after it (close the registries first).\nNULL is a no-op.'),
    'ecr_webhooks_free': (
        None,
        [ctypes.POINTER(ecr_webhooks)],
        ('wh',),
        'void ecr_webhooks_free(ecr_webhooks * wh)',
        'ecr_webhooks_free_deadline(wh, 5000).'),
    'ecr_image_put': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_image)), ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32],
        ('out', 'repo', 'tag', 'digest', 'media_type', 'manifest', 'len', 'flags'),
        'int ecr_image_put(ecr_image ** out, ecr_repository * repo, const char * tag, const char * digest, const char * media_type, const void * manifest, size_t len, uint32_t flags)',
        'Put a manifest into a repository.\nChecks, in ECR\'s order: the manifest parses and its type is supported;\ndigest (if given) matches; every blob it references is in the repository\nand, for an index, every child manifest is an image there; then the tag.\n@param out receives the image (free with ecr_image_free()), or NULL.\n@param tag tag to set, or NULL.\n@param digest expected digest, or NULL.\n@param media_type the Content-Type; NULL or "" to take it from the\n       manifest\'s mediaType.\n@param flags 0 or ECR_IMAGE_PUT_EXCLUSIVE.\n@return 0; ECR_EINVALID (bad tag, JSON or schema); ECR_EUNSUPPORTED;\n        ECR_ELIMIT (too large); ECR_EIMAGE_DIGEST; ECR_ELAYERS_NOT_FOUND;\n        ECR_EREFERENCED_IMAGES_NOT_FOUND; ECR_EIMMUTABLE;\n        ECR_EIMAGE_EXISTS (with ECR_IMAGE_PUT_EXCLUSIVE); ECR_EIO.'),
    'ecr_image_get': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_image)), ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.c_uint32],
        ('out', 'repo', 'reference', 'flags'),
        'int ecr_image_get(ecr_image ** out, ecr_repository * repo, const char * reference, uint32_t flags)',
        'Get an image by tag or digest.\n@param reference a tag or a digest.\n@return 0; ECR_EIMAGE_NOT_FOUND; ECR_EINVALID; ECR_EIMAGE_ARCHIVED (an\n        archived image, unless ECR_IMAGE_GET_ANY_STATUS).'),
    'ecr_image_free': (
        None,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'void ecr_image_free(ecr_image * img)',
        'Free an image. NULL is a no-op.'),
    'ecr_image_digest': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'const char * ecr_image_digest(const ecr_image * img)',
        'The digest. @return borrowed.'),
    'ecr_image_media_type': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'const char * ecr_image_media_type(const ecr_image * img)',
        'The manifest media type. @return borrowed.'),
    'ecr_image_artifact_type': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'const char * ecr_image_artifact_type(const ecr_image * img)',
        'The artifact type (artifactType, else the config media type), or NULL. @return borrowed.'),
    'ecr_image_subject': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'const char * ecr_image_subject(const ecr_image * img)',
        'The digest of the subject (OCI referrers), or NULL. @return borrowed.'),
    'ecr_image_manifest': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ecr_image)],
        ('out', 'len_out', 'img'),
        'int ecr_image_manifest(const void ** out, size_t * len_out, ecr_image * img)',
        'The manifest bytes exactly as pushed, loaded on first use.\n@param out receives a pointer borrowed from img.\n@param len_out receives the length.'),
    'ecr_image_manifest_size': (
        ctypes.c_uint64,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'uint64_t ecr_image_manifest_size(const ecr_image * img)',
        'Size of the manifest in bytes.'),
    'ecr_image_size': (
        ctypes.c_uint64,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'uint64_t ecr_image_size(const ecr_image * img)',
        "imageSizeInBytes as ECR computes it: the layers' sizes, or the largest child's for an index."),
    'ecr_image_pushed_at': (
        ctypes.c_int64,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'int64_t ecr_image_pushed_at(const ecr_image * img)',
        'When it was pushed, ms since the epoch.'),
    'ecr_image_last_pulled_at': (
        ctypes.c_int64,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'int64_t ecr_image_last_pulled_at(const ecr_image * img)',
        'When a pull was last recorded, ms since the epoch, or 0.'),
    'ecr_image_storage_class': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'ecr_storage_class ecr_image_storage_class(const ecr_image * img)',
        'The storage class.'),
    'ecr_image_status_of': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'ecr_image_status ecr_image_status_of(const ecr_image * img)',
        'The status (ACTIVE, ARCHIVED, ACTIVATING).'),
    'ecr_image_last_archived_at': (
        ctypes.c_int64,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'int64_t ecr_image_last_archived_at(const ecr_image * img)',
        'When it was last archived, ms since the epoch, or 0.'),
    'ecr_image_last_activated_at': (
        ctypes.c_int64,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'int64_t ecr_image_last_activated_at(const ecr_image * img)',
        'When it was last restored from the archive, ms since the epoch, or 0.'),
    'ecr_image_set_storage_class': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_image)), ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.c_int],
        ('out', 'repo', 'digest', 'storage_class'),
        'int ecr_image_set_storage_class(ecr_image ** out, ecr_repository * repo, const char * digest, ecr_storage_class storage_class)',
        "Move an image to another storage class (ECR's UpdateImageStorageClass).\nARCHIVE: the image is no longer pullable and blobs that no active image\nneeds are kept compressed (zlib) instead. STANDARD: the image is restored\n(ACTIVATING, then ACTIVE once its blobs are back). Children of an index and\nreferrers follow it.\n@param out receives the image after the change (free with\n       ecr_image_free()), or NULL.\n@return 0; ECR_EIMAGE_NOT_FOUND; ECR_ESTORAGE_CLASS_UPDATE (not possible\n        in the image's current state); ECR_EIO."),
    'ecr_image_tag_count': (
        ctypes.c_size_t,
        [ctypes.POINTER(ecr_image)],
        ('img',),
        'size_t ecr_image_tag_count(const ecr_image * img)',
        'Number of tags.'),
    'ecr_image_tag': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_image), ctypes.c_size_t],
        ('img', 'i'),
        'const char * ecr_image_tag(const ecr_image * img, size_t i)',
        'Tag i, in lexical order. @return borrowed, or NULL when out of range.'),
    'ecr_image_delete': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_char_p],
        ('repo', 'digest'),
        'int ecr_image_delete(ecr_repository * repo, const char * digest)',
        'Delete an image and its tags; its referrers (OCI subject) go with it.\n@return 0; ECR_EIMAGE_NOT_FOUND; ECR_EIMAGE_REFERENCED when an index in\n        the repository lists it.'),
    'ecr_image_untag': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.c_uint32],
        ('digest_out', 'repo', 'tag', 'flags'),
        'int ecr_image_untag(ecr_buf * digest_out, ecr_repository * repo, const char * tag, uint32_t flags)',
        'Remove a tag.\n@param digest_out receives the digest the tag pointed to; may be NULL.\n@return 0; ECR_EIMAGE_NOT_FOUND.'),
    'ecr_image_list_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_image_list_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_image_list_options_init(ecr_image_list_options * opts, unsigned int version)',
        'Initialise list options. @return 0 or ECR_EINVALID.'),
    'ecr_image_iterator_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_image_iterator)), ctypes.POINTER(ecr_repository), ctypes.POINTER(ecr_image_list_options)],
        ('out', 'repo', 'opts'),
        'int ecr_image_iterator_new(ecr_image_iterator ** out, ecr_repository * repo, const ecr_image_list_options * opts)',
        "Iterate over a repository's images, in digest order.\n@return 0; ECR_EINVALID (bad token or options)."),
    'ecr_image_iterator_next': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_image)), ctypes.POINTER(ecr_image_iterator)],
        ('out', 'it'),
        'int ecr_image_iterator_next(ecr_image ** out, ecr_image_iterator * it)',
        'The next image; borrowed until the next call or free. @return 0, ECR_ITEROVER.'),
    'ecr_image_iterator_token': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_image_iterator)],
        ('out', 'it'),
        'int ecr_image_iterator_token(ecr_buf * out, ecr_image_iterator * it)',
        'A token that resumes after the last image returned.'),
    'ecr_image_iterator_free': (
        None,
        [ctypes.POINTER(ecr_image_iterator)],
        ('it',),
        'void ecr_image_iterator_free(ecr_image_iterator * it)',
        'Free an iterator. NULL is a no-op.'),
    'ecr_tag_iterator_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_tag_iterator)), ctypes.POINTER(ecr_repository), ctypes.c_char_p],
        ('out', 'repo', 'after'),
        'int ecr_tag_iterator_new(ecr_tag_iterator ** out, ecr_repository * repo, const char * after)',
        'Iterate over a repository\'s tags in lexical (byte) order.\n@param after start after this tag (the OCI "last" parameter), or NULL.'),
    'ecr_tag_iterator_next': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ecr_tag_iterator)],
        ('tag_out', 'digest_out', 'it'),
        'int ecr_tag_iterator_next(const char ** tag_out, const char ** digest_out, ecr_tag_iterator * it)',
        'The next tag.\n@param tag_out receives the tag, borrowed until the next call.\n@param digest_out receives its image digest, borrowed; may be NULL.\n@return 0, ECR_ITEROVER.'),
    'ecr_tag_iterator_free': (
        None,
        [ctypes.POINTER(ecr_tag_iterator)],
        ('it',),
        'void ecr_tag_iterator_free(ecr_tag_iterator * it)',
        'Free an iterator. NULL is a no-op.'),
    'ecr_lifecycle_policy_parse': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_lifecycle_policy)), ctypes.c_char_p, ctypes.c_size_t],
        ('out', 'text', 'len'),
        'int ecr_lifecycle_policy_parse(ecr_lifecycle_policy ** out, const char * text, size_t len)',
        'Parse and validate a lifecycle policy.\n@return 0; ECR_EINVALID with ECR\'s message ("Invalid parameter at\n        \'LifecyclePolicyText\' failed to satisfy constraint: \'Lifecycle policy\n        validation failure: ...\'").'),
    'ecr_lifecycle_policy_free': (
        None,
        [ctypes.POINTER(ecr_lifecycle_policy)],
        ('policy',),
        'void ecr_lifecycle_policy_free(ecr_lifecycle_policy * policy)',
        'Free a policy. NULL is a no-op.'),
    'ecr_lifecycle_policy_rule_count': (
        ctypes.c_size_t,
        [ctypes.POINTER(ecr_lifecycle_policy)],
        ('policy',),
        'size_t ecr_lifecycle_policy_rule_count(const ecr_lifecycle_policy * policy)',
        'Number of rules.'),
    'ecr_lifecycle_policy_evaluate': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_lifecycle_policy), ctypes.POINTER(ecr_lifecycle_image), ctypes.c_size_t, ctypes.c_int64, ecr_lifecycle_result_cb, ctypes.c_void_p],
        ('policy', 'images', 'count', 'now_ms', 'cb', 'payload'),
        'int ecr_lifecycle_policy_evaluate(const ecr_lifecycle_policy * policy, const ecr_lifecycle_image * images, size_t count, int64_t now_ms, ecr_lifecycle_result_cb cb, void * payload)',
        "Evaluate a policy over a set of images: pure, no storage involved.\n@param now_ms the time the ages are measured at.\n@return 0; ECR_EINVALID (bad input); or cb's non-zero return."),
    'ecr_repository_set_lifecycle_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_char_p],
        ('repo', 'text'),
        'int ecr_repository_set_lifecycle_policy(ecr_repository * repo, const char * text)',
        "Set a repository's lifecycle policy (validated first).\n@return 0; ECR_EINVALID; ECR_EREPOSITORY_NOT_FOUND."),
    'ecr_repository_lifecycle_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ecr_repository)],
        ('text_out', 'last_evaluated_at_out', 'repo'),
        'int ecr_repository_lifecycle_policy(ecr_buf * text_out, int64_t * last_evaluated_at_out, ecr_repository * repo)',
        "A repository's lifecycle policy.\n@param last_evaluated_at_out when it was last applied (ms), 0 if never; may be NULL.\n@return 0; ECR_ELIFECYCLE_POLICY_NOT_FOUND; ECR_EREPOSITORY_NOT_FOUND."),
    'ecr_repository_delete_lifecycle_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ecr_repository)],
        ('deleted_out', 'last_evaluated_at_out', 'repo'),
        'int ecr_repository_delete_lifecycle_policy(ecr_buf * deleted_out, int64_t * last_evaluated_at_out, ecr_repository * repo)',
        "Delete a repository's lifecycle policy.\n@param deleted_out receives the deleted text; may be NULL.\n@return 0; ECR_ELIFECYCLE_POLICY_NOT_FOUND; ECR_EREPOSITORY_NOT_FOUND."),
    'ecr_repository_lifecycle_preview': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_char_p, ecr_lifecycle_image_cb, ctypes.c_void_p],
        ('repo', 'text', 'cb', 'payload'),
        'int ecr_repository_lifecycle_preview(ecr_repository * repo, const char * text, ecr_lifecycle_image_cb cb, void * payload)',
        "Preview a policy on a repository: evaluate it over the repository's images\nnow and report every image's decision, changing nothing.\n@param text a policy to try, or NULL for the repository's own.\n@return 0; ECR_EINVALID; ECR_ELIFECYCLE_POLICY_NOT_FOUND (text NULL and none set)."),
    'ecr_repository_apply_lifecycle': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ecr_lifecycle_image_cb, ctypes.c_void_p],
        ('repo', 'cb', 'payload'),
        'int ecr_repository_apply_lifecycle(ecr_repository * repo, ecr_lifecycle_image_cb cb, void * payload)',
        "Apply the repository's lifecycle policy now: expired images are deleted the\nnormal way (blob GC reclaims the space), transitioned ones archived. Each\naction is logged, raised as an event (ecr_registry_options.event_cb) and\nreported to cb (may be NULL) after it happened; lastEvaluatedAt is updated.\n@return 0; ECR_ELIFECYCLE_POLICY_NOT_FOUND; storage errors."),
    'ecr_policy_parse': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_policy)), ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int],
        ('out', 'text', 'len', 'kind'),
        'int ecr_policy_parse(ecr_policy ** out, const char * text, size_t len, ecr_policy_kind kind)',
        'Parse and validate a policy document.\n@return 0; ECR_EINVALID with a message naming what is wrong; ECR_ELIMIT\n        when larger than ECR_POLICY_MAX_SIZE.'),
    'ecr_policy_free': (
        None,
        [ctypes.POINTER(ecr_policy)],
        ('policy',),
        'void ecr_policy_free(ecr_policy * policy)',
        'Free a policy. NULL is a no-op.'),
    'ecr_policy_request_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_policy_request), ctypes.c_uint],
        ('req', 'version'),
        'int ecr_policy_request_init(ecr_policy_request * req, unsigned int version)',
        'Initialise a request. @return 0 or ECR_EINVALID.'),
    'ecr_policy_evaluate': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ecr_policy), ctypes.POINTER(ecr_policy_request)],
        ('out', 'policy', 'req'),
        'int ecr_policy_evaluate(ecr_policy_decision * out, const ecr_policy * policy, const ecr_policy_request * req)',
        'Evaluate one policy against a request: an explicit deny wins over an allow.\n@param out receives the decision.\n@return 0; ECR_EINVALID (request incomplete or bad version).'),
    'ecr_principal_create': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_principal)), ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_uint32],
        ('out', 'reg', 'arn', 'flags'),
        'int ecr_principal_create(ecr_principal ** out, ecr_registry * reg, const char * arn, uint32_t flags)',
        'Create a principal.\n@param arn "arn:aws:iam::<12 digits>:user/<name>", ":role/<name>" or ":root".\n@return 0; ECR_EINVALID (malformed ARN); ECR_EEXISTS.'),
    'ecr_principal_open': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_principal)), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('out', 'reg', 'arn'),
        'int ecr_principal_open(ecr_principal ** out, ecr_registry * reg, const char * arn)',
        'Open a principal by ARN. @return 0; ECR_ENOTFOUND.'),
    'ecr_principal_delete': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('reg', 'arn'),
        'int ecr_principal_delete(ecr_registry * reg, const char * arn)',
        'Delete a principal with its keys and policies; its tokens stop working at once.\n@return 0; ECR_ENOTFOUND.'),
    'ecr_principal_free': (
        None,
        [ctypes.POINTER(ecr_principal)],
        ('p',),
        'void ecr_principal_free(ecr_principal * p)',
        'Free a handle. NULL is a no-op.'),
    'ecr_principal_arn': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_principal)],
        ('p',),
        'const char * ecr_principal_arn(const ecr_principal * p)',
        'The ARN. @return borrowed.'),
    'ecr_principal_account_id': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_principal)],
        ('p',),
        'const char * ecr_principal_account_id(const ecr_principal * p)',
        'The account id. @return borrowed.'),
    'ecr_principal_is_admin': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_principal)],
        ('p',),
        'int ecr_principal_is_admin(const ecr_principal * p)',
        '1 when the principal administers its account.'),
    'ecr_principal_access_key_create': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_principal)],
        ('key_id_out', 'secret_out', 'p'),
        'int ecr_principal_access_key_create(ecr_buf * key_id_out, ecr_buf * secret_out, ecr_principal * p)',
        'Create an access key (AWS format: a 20-character id starting "AKIA" and a\n40-character secret). The secret is returned only here.'),
    'ecr_principal_access_key_delete': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_principal), ctypes.c_char_p],
        ('p', 'key_id'),
        'int ecr_principal_access_key_delete(ecr_principal * p, const char * key_id)',
        'Delete an access key. @return 0; ECR_ENOTFOUND.'),
    'ecr_principal_put_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_principal), ctypes.c_char_p, ctypes.c_char_p],
        ('p', 'name', 'document'),
        'int ecr_principal_put_policy(ecr_principal * p, const char * name, const char * document)',
        'Attach (or replace) a named identity policy.\n@return 0; ECR_EINVALID (name, or the document: see ecr_policy_parse()).'),
    'ecr_principal_delete_policy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_principal), ctypes.c_char_p],
        ('p', 'name'),
        'int ecr_principal_delete_policy(ecr_principal * p, const char * name)',
        'Remove a named identity policy. @return 0; ECR_ENOTFOUND.'),
    'ecr_principal_policies': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_principal), ecr_principal_policy_cb, ctypes.c_void_p],
        ('p', 'cb', 'payload'),
        'int ecr_principal_policies(ecr_principal * p, ecr_principal_policy_cb cb, void * payload)',
        'Call cb for each identity policy, by name. A non-zero return stops and is returned.'),
    'ecr_principal_iterator_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_principal_iterator)), ctypes.POINTER(ecr_registry)],
        ('out', 'reg'),
        'int ecr_principal_iterator_new(ecr_principal_iterator ** out, ecr_registry * reg)',
        'Iterate over every principal of the storage, by ARN.'),
    'ecr_principal_iterator_next': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_principal)), ctypes.POINTER(ecr_principal_iterator)],
        ('out', 'it'),
        'int ecr_principal_iterator_next(ecr_principal ** out, ecr_principal_iterator * it)',
        'The next principal, borrowed until the next call. @return 0, ECR_ITEROVER.'),
    'ecr_principal_iterator_free': (
        None,
        [ctypes.POINTER(ecr_principal_iterator)],
        ('it',),
        'void ecr_principal_iterator_free(ecr_principal_iterator * it)',
        ''),
    'ecr_sigv4_request_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_sigv4_request), ctypes.c_uint],
        ('req', 'version'),
        'int ecr_sigv4_request_init(ecr_sigv4_request * req, unsigned int version)',
        'Initialise a request. @return 0 or ECR_EINVALID.'),
    'ecr_auth_sigv4_verify': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_principal)), ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry), ctypes.POINTER(ecr_sigv4_request)],
        ('principal_out', 'region_out', 'reg', 'req'),
        'int ecr_auth_sigv4_verify(ecr_principal ** principal_out, ecr_buf * region_out, ecr_registry * reg, const ecr_sigv4_request * req)',
        "Verify a request's AWS SigV4 Authorization header.\n@param principal_out receives the signer.\n@param region_out receives the region of the credential scope (the\n       request's region); may be NULL.\n@return 0; ECR_EMISSING_AUTH (no Authorization); ECR_EINCOMPLETE_SIGNATURE\n        (malformed); ECR_EUNRECOGNIZED_CLIENT (unknown key); ECR_EINVALID_SIGNATURE\n        (wrong signature, or a date more than 5 minutes off)."),
    'ecr_auth_token_create': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ecr_registry), ctypes.POINTER(ecr_principal)],
        ('token_out', 'expires_at_out', 'reg', 'p'),
        'int ecr_auth_token_create(ecr_buf * token_out, int64_t * expires_at_out, ecr_registry * reg, const ecr_principal * p)',
        'Issue a registry token for a principal (the password of "AWS:<token>").\nIt is signed with the storage\'s token key and can be checked without a\ndatabase lookup by every node that shares the key. On a remote registry\nhandle it is the registry\'s GetAuthorizationToken for the handle\'s own\ncredentials: p is ignored (pass NULL).\n@param expires_at_out receives the expiry, ms since the epoch; may be NULL.'),
    'ecr_auth_token_verify': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_principal)), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('out', 'reg', 'token'),
        'int ecr_auth_token_verify(ecr_principal ** out, ecr_registry * reg, const char * token)',
        'Check a registry token and return its principal.\n@return 0; ECR_EAUTH (forged, truncated or malformed); ECR_EEXPIRED_TOKEN;\n        ECR_EUNRECOGNIZED_CLIENT (the principal was deleted).'),
    'ecr_auth_anonymous_token_create': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ecr_registry)],
        ('token_out', 'expires_at_out', 'reg'),
        'int ecr_auth_anonymous_token_create(ecr_buf * token_out, int64_t * expires_at_out, ecr_registry * reg)',
        "Issue an anonymous token: the bearer token an anonymous client gets to\npull public repositories (ecr/public.h) with, signed with the storage's\ntoken key. It names no principal and grants nothing else;\necr_auth_token_verify() rejects it.\n@param expires_at_out receives the expiry, ms since the epoch; may be NULL."),
    'ecr_auth_anonymous_token_verify': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('reg', 'token'),
        'int ecr_auth_anonymous_token_verify(ecr_registry * reg, const char * token)',
        'Check an anonymous token.\n@return 0; ECR_EAUTH (forged, truncated, malformed, or another kind of\n        token); ECR_EEXPIRED_TOKEN.'),
    'ecr_auth_blob_token_create': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ecr_registry), ctypes.POINTER(ecr_principal), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64],
        ('token_out', 'expires_at_out', 'reg', 'p', 'repository', 'digest', 'lifetime_seconds'),
        'int ecr_auth_blob_token_create(ecr_buf * token_out, int64_t * expires_at_out, ecr_registry * reg, const ecr_principal * p, const char * repository, const char * digest, int64_t lifetime_seconds)',
        'Issue a blob download token (the X-Ecr-Token of a GetDownloadUrlForLayer\nURL): it lets its holder read one blob, digest, of one repository of reg\n(account and region included) as p, and nothing else. ecr_auth_token_verify()\nrejects it, so it is no registry token.\n@param expires_at_out receives the expiry, ms since the epoch; may be NULL.\n@param lifetime_seconds 1 to ECR_BLOB_TOKEN_MAX_LIFETIME_SECONDS.\n@return 0; ECR_EINVALID (missing argument, lifetime out of range, name too long).'),
    'ecr_auth_blob_token_verify': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_principal)), ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p],
        ('out', 'reg', 'token', 'repository', 'digest'),
        'int ecr_auth_blob_token_verify(ecr_principal ** out, ecr_registry * reg, const char * token, const char * repository, const char * digest)',
        'Check a blob download token for reading blob digest of repository in reg,\nand return its principal (whose permissions still apply).\n@return 0; ECR_EAUTH (forged, truncated, malformed, a registry token, or a\n        token for another registry, repository or blob); ECR_EEXPIRED_TOKEN;\n        ECR_EUNRECOGNIZED_CLIENT (the principal was deleted).'),
    'ecr_authorize': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.POINTER(ecr_principal), ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ecr_policy_context_key), ctypes.c_size_t],
        ('reg', 'p', 'action', 'resource_arn', 'context', 'context_count'),
        'int ecr_authorize(ecr_registry * reg, const ecr_principal * p, const char * action, const char * resource_arn, const ecr_policy_context_key * context, size_t context_count)',
        'Decide whether a principal may perform an action on a resource of reg:\nan explicit deny in any applicable policy wins; otherwise, in the\nprincipal\'s own account an allow by an identity policy (administrators\nhave one for everything) or by the resource\'s policy suffices; across\naccounts both are needed.\n@param resource_arn the repository ARN, or the registry\'s ARN for\n       registry-level actions ("arn:aws:ecr:<region>:<account>:registry").\n@param context further condition keys (aws:SourceIp, ...); may be NULL.\n@return 0 allowed; ECR_EDENIED with ECR\'s message ("User: <arn> is not\n        authorized to perform: <action> on resource: <arn> because ...").'),
    'ecr_severity_name': (
        ctypes.c_char_p,
        [ctypes.c_int],
        ('severity',),
        'const char * ecr_severity_name(ecr_severity severity)',
        'ECR\'s name of a severity ("CRITICAL", ...). @return a static string.'),
    'ecr_vulndb_load': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_vulndb)), ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t],
        ('out', 'paths', 'paths_count'),
        'int ecr_vulndb_load(ecr_vulndb ** out, const char * const * paths, size_t paths_count)',
        'Load an OSV vulnerability database: one advisory file (.json), a folder of\nthem (searched recursively), or a .zip of them as osv.dev publishes them per\necosystem. Advisories are indexed by ecosystem ("Debian:12", "Alpine:v3.19",\n"Ubuntu:22.04:LTS", "Red Hat", ...) and package.\n@param paths one or more paths, all loaded into one database.\n@return 0; ECR_ENOTFOUND (a path is missing); ECR_EINVALID (a malformed\n        advisory, with its file in the message); ECR_ELIMIT.'),
    'ecr_vulndb_free': (
        None,
        [ctypes.POINTER(ecr_vulndb)],
        ('db',),
        'void ecr_vulndb_free(ecr_vulndb * db)',
        'Free a database (scans holding it keep it alive). NULL is a no-op.'),
    'ecr_vulndb_advisory_count': (
        ctypes.c_size_t,
        [ctypes.POINTER(ecr_vulndb)],
        ('db',),
        'size_t ecr_vulndb_advisory_count(const ecr_vulndb * db)',
        'Number of advisories loaded.'),
    'ecr_vulndb_load_ms': (
        ctypes.c_int64,
        [ctypes.POINTER(ecr_vulndb)],
        ('db',),
        'int64_t ecr_vulndb_load_ms(const ecr_vulndb * db)',
        'Time the load took, in ms.'),
    'ecr_vulndb_loaded_at': (
        ctypes.c_int64,
        [ctypes.POINTER(ecr_vulndb)],
        ('db',),
        'int64_t ecr_vulndb_loaded_at(const ecr_vulndb * db)',
        'When it was loaded, ms since the epoch (vulnerabilitySourceUpdatedAt).'),
    'ecr_scan_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_scan_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_scan_options_init(ecr_scan_options * opts, unsigned int version)',
        'Initialise options. @return 0 or ECR_EINVALID.'),
    'ecr_scan_image': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_scan_report)), ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.POINTER(ecr_vulndb), ctypes.POINTER(ecr_scan_options)],
        ('out', 'repo', 'reference', 'db', 'opts'),
        'int ecr_scan_image(ecr_scan_report ** out, ecr_repository * repo, const char * reference, const ecr_vulndb * db, const ecr_scan_options * opts)',
        'Scan an image of a repository.\n@param db the database to match against; may be NULL (inventory only).\n@return 0 with a report (also when the OS is not supported: see\n        ecr_scan_report_status_reason()); ECR_EIMAGE_NOT_FOUND; ECR_ELIMIT or\n        ECR_EINVALID for a hostile or broken layer (message says which cap\n        or which entry).'),
    'ecr_scan_layout': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_scan_report)), ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ecr_vulndb), ctypes.POINTER(ecr_scan_options)],
        ('out', 'layout_dir', 'reference', 'db', 'opts'),
        'int ecr_scan_layout(ecr_scan_report ** out, const char * layout_dir, const char * reference, const ecr_vulndb * db, const ecr_scan_options * opts)',
        'Scan an image in a local OCI image layout folder, without a registry.\n@param reference a tag (org.opencontainers.image.ref.name) or digest in\n       index.json; NULL when the layout holds one image.'),
    'ecr_scan_report_free': (
        None,
        [ctypes.POINTER(ecr_scan_report)],
        ('report',),
        'void ecr_scan_report_free(ecr_scan_report * report)',
        'Free a report. NULL is a no-op.'),
    'ecr_scan_report_os': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_scan_report)],
        ('report',),
        'const char * ecr_scan_report_os(const ecr_scan_report * report)',
        'The OS found, e.g. "debian 12", or NULL. @return borrowed.'),
    'ecr_scan_report_ecosystem': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_scan_report)],
        ('report',),
        'const char * ecr_scan_report_ecosystem(const ecr_scan_report * report)',
        'The OSV ecosystem the packages were matched in, e.g. "Debian:12", or NULL. @return borrowed.'),
    'ecr_scan_report_status_reason': (
        ctypes.c_char_p,
        [ctypes.POINTER(ecr_scan_report)],
        ('report',),
        'const char * ecr_scan_report_status_reason(const ecr_scan_report * report)',
        'Why packages could not be scanned, or NULL when they were: e.g.\n"UNSUPPORTED_IMAGE: rpm Berkeley DB format (Packages) is not supported".\n@return borrowed.'),
    'ecr_scan_report_package_count': (
        ctypes.c_size_t,
        [ctypes.POINTER(ecr_scan_report)],
        ('report',),
        'size_t ecr_scan_report_package_count(const ecr_scan_report * report)',
        'Number of packages in the inventory.'),
    'ecr_scan_report_package': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ecr_scan_report), ctypes.c_size_t],
        ('name_out', 'version_out', 'source_name_out', 'source_version_out', 'report', 'i'),
        'int ecr_scan_report_package(const char ** name_out, const char ** version_out, const char ** source_name_out, const char ** source_version_out, const ecr_scan_report * report, size_t i)',
        'Package i of the inventory. Every out-parameter may be NULL; strings are\nborrowed from the report; source_* are NULL when the database gives none.\n@return 0; ECR_ENOTFOUND when i is out of range.'),
    'ecr_scan_report_finding_count': (
        ctypes.c_size_t,
        [ctypes.POINTER(ecr_scan_report)],
        ('report',),
        'size_t ecr_scan_report_finding_count(const ecr_scan_report * report)',
        'Number of findings.'),
    'ecr_scan_report_finding': (
        ctypes.POINTER(ecr_scan_finding),
        [ctypes.POINTER(ecr_scan_report), ctypes.c_size_t],
        ('report', 'i'),
        'const ecr_scan_finding * ecr_scan_report_finding(const ecr_scan_report * report, size_t i)',
        'Finding i (ordered by severity, then name), or NULL when out of range. @return borrowed.'),
    'ecr_scan_report_severity_count': (
        ctypes.c_size_t,
        [ctypes.POINTER(ecr_scan_report), ctypes.c_int],
        ('report', 'severity'),
        'size_t ecr_scan_report_severity_count(const ecr_scan_report * report, ecr_severity severity)',
        'Number of findings of one severity.'),
    'ecr_scan_report_rematch': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_scan_report), ctypes.POINTER(ecr_vulndb)],
        ('report', 'db'),
        'int ecr_scan_report_rematch(ecr_scan_report * report, const ecr_vulndb * db)',
        "Match the report's package inventory again against another database\n(continuous scanning: no layer is read), replacing its findings."),
    'ecr_scan_report_sbom': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_scan_report)],
        ('out', 'report'),
        'int ecr_scan_report_sbom(ecr_buf * out, const ecr_scan_report * report)',
        'The package inventory as a CycloneDX 1.5 JSON SBOM, appended to out.'),
    'ecr_scanner_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_scanner)), ctypes.c_uint],
        ('out', 'threads'),
        'int ecr_scanner_new(ecr_scanner ** out, unsigned int threads)',
        "A scanner: a bounded pool of worker threads that scans images of the\nregistries attached to it, never on the caller's thread.\n@param threads worker threads; 0: 2."),
    'ecr_scanner_set_db': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_scanner), ctypes.POINTER(ecr_vulndb)],
        ('scanner', 'db'),
        'int ecr_scanner_set_db(ecr_scanner * scanner, ecr_vulndb * db)',
        "Replace the scanner's database (takes a reference; the caller still frees\nits own). Images scanned before are matched again against it\n(CONTINUOUS_SCAN), in the background, from their stored inventory."),
    'ecr_scanner_attach': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_scanner), ctypes.POINTER(ecr_registry)],
        ('scanner', 'reg'),
        'int ecr_scanner_attach(ecr_scanner * scanner, ecr_registry * reg)',
        'Attach a registry: its pushes are scanned when the repository has scan on\npush (or the registry scanning configuration says so). The registry must\noutlive the scanner or be detached with ecr_scanner_detach().'),
    'ecr_scanner_detach': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_scanner), ctypes.POINTER(ecr_registry)],
        ('scanner', 'reg'),
        'int ecr_scanner_detach(ecr_scanner * scanner, ecr_registry * reg)',
        ''),
    'ecr_scanner_start': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_scanner), ctypes.POINTER(ecr_repository), ctypes.c_char_p],
        ('scanner', 'repo', 'digest'),
        'int ecr_scanner_start(ecr_scanner * scanner, ecr_repository * repo, const char * digest)',
        "Queue a scan of an image (ECR's StartImageScan): at most one per image per\n24 hours (ECR_ELIMIT), ECR_EIMAGE_ARCHIVED for an archived image."),
    'ecr_scanner_drain': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_scanner), ctypes.c_int64],
        ('scanner', 'timeout_ms'),
        'int ecr_scanner_drain(ecr_scanner * scanner, int64_t timeout_ms)',
        'Wait until the queue is empty and no scan runs (tests, shutdown); timeout_ms 0: forever.'),
    'ecr_scanner_free': (
        None,
        [ctypes.POINTER(ecr_scanner)],
        ('scanner',),
        'void ecr_scanner_free(ecr_scanner * scanner)',
        'Stop the workers (scans in flight finish) and free the scanner. NULL is a no-op.'),
    'ecr_image_scan_result': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ecr_buf), ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.POINTER(ecr_scan_report)), ctypes.POINTER(ecr_repository), ctypes.c_char_p],
        ('status_out', 'reason_out', 'completed_at_out', 'report_out', 'repo', 'digest'),
        'int ecr_image_scan_result(ecr_scan_status * status_out, ecr_buf * reason_out, int64_t * completed_at_out, ecr_scan_report ** report_out, ecr_repository * repo, const char * digest)',
        "The stored result of the last scan of an image.\n@param status_out the status; *report_out is NULL unless COMPLETE.\n@param reason_out a description of FAILED (or of a complete scan's limits); may be NULL.\n@param completed_at_out ms since the epoch, 0 if none; may be NULL.\n@param report_out may be NULL; else receives a report to free."),
    'ecr_registry_set_scanning_configuration': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('reg', 'json'),
        'int ecr_registry_set_scanning_configuration(ecr_registry * reg, const char * json)',
        'Set the registry scanning configuration (ECR\'s PutRegistryScanningConfiguration),\nas ECR\'s JSON: {"scanType": "BASIC"|"ENHANCED", "rules": [{"scanFrequency":\n"SCAN_ON_PUSH"|"CONTINUOUS_SCAN"|"MANUAL", "repositoryFilters": [{"filter":\n"prod-*", "filterType": "WILDCARD"}]}]} (0-2 rules).\n@return 0; ECR_EVALIDATION with ECR\'s message.'),
    'ecr_registry_scanning_configuration': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry)],
        ('out', 'reg'),
        'int ecr_registry_scanning_configuration(ecr_buf * out, ecr_registry * reg)',
        'The registry scanning configuration as ECR\'s JSON; {"scanType":"BASIC","rules":[]} when never set.'),
    'ecr_repository_scan_frequency': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_repository)],
        ('out', 'repo'),
        'int ecr_repository_scan_frequency(ecr_buf * out, ecr_repository * repo)',
        'The effective scan frequency of a repository: the first registry rule whose\nfilter matches its name, else SCAN_ON_PUSH when the repository has\nscanOnPush, else MANUAL. Writes "SCAN_ON_PUSH", "CONTINUOUS_SCAN" or "MANUAL".'),
    'ecr_copy_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_copy_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_copy_options_init(ecr_copy_options * opts, unsigned int version)',
        'Initialise options to the defaults. @return 0 or ECR_EINVALID for an unknown version.'),
    'ecr_image_copy': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.POINTER(ecr_repository), ctypes.c_char_p, ctypes.POINTER(ecr_copy_options)],
        ('digest_out', 'dst', 'dst_tag', 'src', 'src_reference', 'opts'),
        'int ecr_image_copy(ecr_buf * digest_out, ecr_repository * dst, const char * dst_tag, ecr_repository * src, const char * src_reference, const ecr_copy_options * opts)',
        "Copy an image.\n@param digest_out receives the digest of the top manifest put on the\n       destination (that of the source unless platforms were chosen from\n       an index); may be NULL.\n@param dst the destination repository (it must exist).\n@param dst_tag the tag it gets there, or NULL: none (by digest only).\n@param src the source repository.\n@param src_reference a tag or a digest in src.\n@param opts options, or NULL.\n@return 0; ECR_EIMAGE_NOT_FOUND (source); ECR_EDIGEST when bytes received\n        do not match their digest; ECR_ENETWORK; ECR_EIMMUTABLE (the tag\n        exists and is immutable on the destination); ECR_EUSER (stopped by\n        the callback); any code of the handles' operations."),
    'ecr_registry_set_replication_configuration': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('reg', 'json'),
        'int ecr_registry_set_replication_configuration(ecr_registry * reg, const char * json)',
        'Replace the registry\'s replication configuration, ECR\'s JSON:\n{"rules": [{"destinations": [{"region": "eu-west-1", "registryId":\n"123456789012"}], "repositoryFilters": [{"filter": "prod",\n"filterType": "PREFIX_MATCH"}]}]}: 0-10 rules, 1-25 destinations in all,\n0-100 filters per rule (none: every repository); a destination that is\nthe registry itself is refused.\n@return 0; ECR_EVALIDATION / ECR_EINVALID with ECR\'s messages.'),
    'ecr_registry_replication_configuration': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry)],
        ('out', 'reg'),
        'int ecr_registry_replication_configuration(ecr_buf * out, ecr_registry * reg)',
        'The replication configuration as ECR\'s JSON; {"rules":[]} when never set.'),
    'ecr_image_replication_status': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_char_p, ecr_replication_status_cb, ctypes.c_void_p],
        ('repo', 'digest', 'cb', 'payload'),
        'int ecr_image_replication_status(ecr_repository * repo, const char * digest, ecr_replication_status_cb cb, void * payload)',
        'The replication status of an image, one callback per destination it was\nqueued for (none when it never was), in (region, registry id) order.\n@return 0; ECR_EIMAGE_NOT_FOUND; ECR_EREPOSITORY_NOT_FOUND.'),
    'ecr_replicator_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_replicator_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_replicator_options_init(ecr_replicator_options * opts, unsigned int version)',
        ''),
    'ecr_replicator_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_replicator)), ctypes.POINTER(ecr_replicator_options)],
        ('out', 'opts'),
        'int ecr_replicator_new(ecr_replicator ** out, const ecr_replicator_options * opts)',
        'Create a replicator; its threads start with the first ecr_replicator_attach().'),
    'ecr_replicator_attach': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_replicator), ctypes.POINTER(ecr_registry)],
        ('r', 'reg'),
        'int ecr_replicator_attach(ecr_replicator * r, ecr_registry * reg)',
        "Work the replication queue of a (local) registry's storage: the jobs of\nevery registry of that storage (all accounts and regions of its data\nfolder), whether or not they are attached or even open, their sources\nresolved through destination_cb; jobs left by an earlier process\n(interrupted ones included) are picked up too. Attaching another registry\nof the same storage adds no queue (each job is claimed once); it makes its\npushes wake the replicator at once (others' are seen within poll_ms). The\nregistry must outlive the attachment. ECR_ENOTSUPPORTED for a remote\nregistry."),
    'ecr_replicator_detach': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_replicator), ctypes.POINTER(ecr_registry)],
        ('r', 'reg'),
        'int ecr_replicator_detach(ecr_replicator * r, ecr_registry * reg)',
        ''),
    'ecr_replicator_drain': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_replicator), ctypes.c_int64],
        ('r', 'timeout_ms'),
        'int ecr_replicator_drain(ecr_replicator * r, int64_t timeout_ms)',
        "Wait until no job of the attached registries' storages is queued or running\n(failed ones waiting for a retry count as queued), at most timeout_ms\n(-1: no limit). @return 0, or ECR_EBUSY on the timeout."),
    'ecr_replicator_free': (
        None,
        [ctypes.POINTER(ecr_replicator)],
        ('r',),
        'void ecr_replicator_free(ecr_replicator * r)',
        'Stop the threads (running copies finish their current blob and stop; their jobs stay queued) and free.'),
    'ecr_registry_put_creation_template': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_int],
        ('out', 'reg', 'json', 'create'),
        'int ecr_registry_put_creation_template(ecr_buf * out, ecr_registry * reg, const char * json, int create)',
        "Create (create != 0) or update a repository creation template, ECR's JSON\n(CreateRepositoryCreationTemplate's input without registryId: prefix,\ndescription, encryptionConfiguration, resourceTags, imageTagMutability,\nimageTagMutabilityExclusionFilters, repositoryPolicy, lifecyclePolicy,\nappliedFor, customRoleArn). out (may be NULL) receives the stored template\nas ECR returns it (with createdAt/updatedAt).\n@return 0; ECR_EVALIDATION / ECR_EINVALID; ECR_EEXISTS\n        (TemplateAlreadyExistsException) on create; ECR_ENOTFOUND\n        (TemplateNotFoundException) on update; ECR_ELIMIT."),
    'ecr_registry_delete_creation_template': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('deleted_out', 'reg', 'prefix'),
        'int ecr_registry_delete_creation_template(ecr_buf * deleted_out, ecr_registry * reg, const char * prefix)',
        'Delete a template; deleted_out (may be NULL) receives it. @return 0; ECR_ENOTFOUND.'),
    'ecr_registry_creation_templates': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry), ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t],
        ('out', 'reg', 'prefixes', 'prefixes_count'),
        'int ecr_registry_creation_templates(ecr_buf * out, ecr_registry * reg, const char * const * prefixes, size_t prefixes_count)',
        'Templates as a JSON array in prefix order: all, or those whose prefix is\nin prefixes (ECR_ENOTFOUND for one that does not exist).'),
    'ecr_repository_create_templated': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_repository)), ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_uint32],
        ('out', 'reg', 'name', 'applied_for'),
        'int ecr_repository_create_templated(ecr_repository ** out, ecr_registry * reg, const char * name, uint32_t applied_for)',
        'Create a repository with the settings of the template that applies to its\nname and to applied_for (one ECR_TEMPLATE_* value): the longest prefix\nthat is a whole leading part of the name ("prod" matches "prod/x", not\n"production"), else "ROOT"; default settings when none applies. The\ntemplate\'s repository policy, lifecycle policy and resource tags are set\nwith the repository.\n@return as ecr_repository_create().'),
    'ecr_registry_put_pull_through_cache_rule': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_int],
        ('out', 'reg', 'json', 'create'),
        'int ecr_registry_put_pull_through_cache_rule(ecr_buf * out, ecr_registry * reg, const char * json, int create)',
        "Create (create != 0) or update a pull-through cache rule, ECR's JSON\n(CreatePullThroughCacheRule's input without registryId:\necrRepositoryPrefix, upstreamRegistryUrl, upstreamRegistry, credentialArn,\ncustomRoleArn, upstreamRepositoryPrefix; UpdatePullThroughCacheRule's for\nan update). out (may be NULL) receives the rule as ECR returns it.\n@return 0; ECR_EVALIDATION / ECR_EINVALID; ECR_EUNSUPPORTED_UPSTREAM (a URL\n        that is not http(s)://host[:port] or host[:port]); ECR_EPTC_RULE_EXISTS;\n        ECR_EPTC_RULE_NOT_FOUND on update; ECR_ELIMIT (50 rules);\n        ECR_ESECRET_NOT_FOUND for an unknown credentialArn. (The specific\n        codes belong to ECR_EEXISTS, ECR_ENOTFOUND, ECR_EINVALID.)"),
    'ecr_registry_delete_pull_through_cache_rule': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('deleted_out', 'reg', 'prefix'),
        'int ecr_registry_delete_pull_through_cache_rule(ecr_buf * deleted_out, ecr_registry * reg, const char * prefix)',
        'Delete a rule (the cached repositories stay); deleted_out (may be NULL) receives it.\n@return 0; ECR_EPTC_RULE_NOT_FOUND.'),
    'ecr_registry_pull_through_cache_rules': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry), ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t],
        ('out', 'reg', 'prefixes', 'prefixes_count'),
        'int ecr_registry_pull_through_cache_rules(ecr_buf * out, ecr_registry * reg, const char * const * prefixes, size_t prefixes_count)',
        'Rules as a JSON array in prefix order: all, or those named (ECR_EPTC_RULE_NOT_FOUND for one that does not exist).'),
    'ecr_registry_put_credential': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p],
        ('reg', 'arn', 'username', 'password'),
        'int ecr_registry_put_credential(ecr_registry * reg, const char * arn, const char * username, const char * password)',
        'Store upstream credentials under an ARN ("arn:aws:secretsmanager:REGION:\nACCOUNT:secret:ecr-pullthroughcache/NAME"), replacing any.'),
    'ecr_registry_delete_credential': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('reg', 'arn'),
        'int ecr_registry_delete_credential(ecr_registry * reg, const char * arn)',
        '@return 0; ECR_ENOTFOUND.'),
    'ecr_registry_credentials_foreach': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ecr_credential_cb, ctypes.c_void_p],
        ('reg', 'cb', 'payload'),
        'int ecr_registry_credentials_foreach(ecr_registry * reg, ecr_credential_cb cb, void * payload)',
        'Call cb for each stored credential, in ARN order; a non-zero return stops\nand is returned. ECR_ENOTSUPPORTED on a remote registry (as for put and delete).'),
    'ecr_cache_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_cache_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_cache_options_init(ecr_cache_options * opts, unsigned int version)',
        ''),
    'ecr_cache_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_cache)), ctypes.POINTER(ecr_cache_options)],
        ('out', 'opts'),
        'int ecr_cache_new(ecr_cache ** out, const ecr_cache_options * opts)',
        ''),
    'ecr_cache_free': (
        None,
        [ctypes.POINTER(ecr_cache)],
        ('cache',),
        'void ecr_cache_free(ecr_cache * cache)',
        'Free the cache: upstream fetches in flight are stopped (their partial blobs are not published).'),
    'ecr_cache_covers': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_cache), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('cache', 'reg', 'repository'),
        'int ecr_cache_covers(ecr_cache * cache, ecr_registry * reg, const char * repository)',
        'Whether a repository name falls under a rule of reg (1), or not (0); negative on errors.'),
    'ecr_cache_image_get': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_image)), ctypes.POINTER(ecr_cache), ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint32],
        ('out', 'cache', 'reg', 'repository', 'reference', 'flags'),
        'int ecr_cache_image_get(ecr_image ** out, ecr_cache * cache, ecr_registry * reg, const char * repository, const char * reference, uint32_t flags)',
        'An image through the cache: from the registry when it has it and (for a\ntag) checked upstream within the freshness window; else from upstream,\nstored first (the repository created when missing). Flags as for\necr_image_get(). A tag that moved upstream moves here too.\n@return 0; ECR_EIMAGE_NOT_FOUND / ECR_EREPOSITORY_NOT_FOUND when neither\n        has it; ECR_ENOTFOUND when no rule covers the repository; upstream\n        errors when the registry has no copy to fall back on.'),
    'ecr_cache_blob_open': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_blob)), ctypes.POINTER(ecr_cache), ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint64, ctypes.c_uint64],
        ('out', 'cache', 'reg', 'repository', 'digest', 'offset', 'length'),
        'int ecr_cache_blob_open(ecr_blob ** out, ecr_cache * cache, ecr_registry * reg, const char * repository, const char * digest, uint64_t offset, uint64_t length)',
        "A blob through the cache: from the registry when stored, else streamed\nfrom upstream while it is stored (the first reader does not wait for the\nwhole blob; every concurrent reader shares one upstream fetch). Reading\nfails with ECR_EDIGEST at the end when upstream's bytes do not match the\ndigest (then nothing is stored). offset/length as for ecr_blob_open()."),
    'ecr_cache_blob_stat': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_cache), ctypes.POINTER(ecr_registry), ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64)],
        ('cache', 'reg', 'repository', 'digest', 'size_out'),
        'int ecr_cache_blob_stat(ecr_cache * cache, ecr_registry * reg, const char * repository, const char * digest, uint64_t * size_out)',
        'The size of a blob through the cache (from upstream when not stored yet, without fetching it).'),
    'ecr_registry_is_public': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry)],
        ('reg',),
        'int ecr_registry_is_public(const ecr_registry * reg)',
        "Whether reg is an account's public registry (opened with ECR_REGION_PUBLIC)."),
    'ecr_public_alias': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry)],
        ('out', 'reg'),
        'int ecr_public_alias(ecr_buf * out, ecr_registry * reg)',
        "The public registry's alias; one is assigned (8 random characters, a\nletter first) and stored if it has none yet.\n@return 0; ECR_EINVALID (not a public registry)."),
    'ecr_public_set_alias': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('reg', 'alias'),
        'int ecr_public_set_alias(ecr_registry * reg, const char * alias)',
        "Set the public registry's alias (2 to 50 characters,\n[a-z][a-z0-9]+([._-][a-z0-9]+)*). Images are then pulled under the new\nalias only.\n@return 0; ECR_EINVALID (not public, or a bad alias); ECR_EEXISTS (another\n        account's public registry has it)."),
    'ecr_public_alias_lookup': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('account_out', 'any', 'alias'),
        'int ecr_public_alias_lookup(ecr_buf * account_out, ecr_registry * any, const char * alias)',
        'The account whose public registry has alias, found through any registry\nhandle of the same storage.\n@param account_out receives the 12-digit account id.\n@return 0; ECR_ENOTFOUND (no such alias); ECR_EINVALID (a bad alias).'),
    'ecr_public_registries_foreach': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ecr_public_registry_cb, ctypes.c_void_p],
        ('any', 'cb', 'payload'),
        'int ecr_public_registries_foreach(ecr_registry * any, ecr_public_registry_cb cb, void * payload)',
        'Every public registry that has an alias, in the storage of any (any\nregistry handle of it), by alias.\n@return 0, or what cb returned.'),
    'ecr_public_display_name': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_registry)],
        ('out', 'reg'),
        'int ecr_public_display_name(ecr_buf * out, ecr_registry * reg)',
        'The registry\'s display name (RegistryCatalogData.displayName); "" when unset. @return 0; ECR_EINVALID.'),
    'ecr_public_set_display_name': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('reg', 'name'),
        'int ecr_public_set_display_name(ecr_registry * reg, const char * name)',
        'Set the display name (0 to 100 characters). @return 0; ECR_EINVALID.'),
    'ecr_repository_set_catalog_data': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_repository), ctypes.c_char_p],
        ('repo', 'json'),
        'int ecr_repository_set_catalog_data(ecr_repository * repo, const char * json)',
        'Replace a public repository\'s catalog data with json, an object in ECR\nPublic\'s RepositoryCatalogDataInput shape: "description" (up to 1024\ncharacters), "architectures" and "operatingSystems" (up to 50 strings of 1\nto 50 characters each), "logoImageBlob" (base64 of a PNG or JPEG image of up\nto 512000 bytes), "aboutText" and "usageText" (Markdown, up to 25600\ncharacters each). Members left out are cleared; unknown members are an\nerror.\n@return 0; ECR_EINVALID (the message names the member and the limit).'),
    'ecr_repository_catalog_data': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_repository)],
        ('out', 'repo'),
        'int ecr_repository_catalog_data(ecr_buf * out, ecr_repository * repo)',
        'The repository\'s catalog data as JSON, ECR Public\'s RepositoryCatalogData\nshape without logoUrl: description, architectures, operatingSystems,\naboutText, usageText (members that are empty are left out) and\n"marketplaceCertified": false.\n@return 0; ECR_ECATALOG_DATA_NOT_FOUND (never set); ECR_EINVALID.'),
    'ecr_repository_catalog_logo': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_repository)],
        ('out', 'repo'),
        'int ecr_repository_catalog_logo(ecr_buf * out, ecr_repository * repo)',
        "The repository's logo image (the bytes given as logoImageBlob).\n@return 0; ECR_ENOTFOUND (no logo); ECR_EINVALID."),
    'ecr_server_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_server_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_server_options_init(ecr_server_options * opts, unsigned int version)',
        'Initialise options to the defaults. @return 0 or ECR_EINVALID.'),
    'ecr_server_new': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_server)), ctypes.POINTER(ecr_server_options)],
        ('out', 'opts'),
        'int ecr_server_new(ecr_server ** out, const ecr_server_options * opts)',
        'Create a server (not listening yet).\n@param opts read during the call only; the TLS files are read by ecr_server_start().\n@return 0; ECR_EINVALID (options).'),
    'ecr_server_add_registry': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_server), ctypes.POINTER(ecr_registry), ctypes.c_char_p],
        ('srv', 'reg', 'host'),
        'int ecr_server_add_registry(ecr_server * srv, ecr_registry * reg, const char * host)',
        'Serve a registry. The first one added is the default; others are chosen by\nthe request\'s Host header (without port), e.g.\n"111122223333.dkr.ecr.eu-west-1.localhost". The registry must outlive the server.\n@param host the host name that selects it, or NULL for the default.\n@return 0; ECR_EEXISTS (host already served); ECR_EBUSY (server running).'),
    'ecr_server_set_cache': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_server), ctypes.POINTER(ecr_cache)],
        ('srv', 'cache'),
        'int ecr_server_set_cache(ecr_server * srv, ecr_cache * cache)',
        'Serve pulls of repositories that pull-through cache rules cover through a\ncache (ecr/cache.h): manifests and blobs the registry lacks come from\nupstream. The cache must outlive the server. Set before ecr_server_start().\n@return 0; ECR_EBUSY (server running).'),
    'ecr_server_set_registry_cb': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_server), ecr_server_registry_cb, ctypes.c_void_p],
        ('srv', 'cb', 'payload'),
        'int ecr_server_set_registry_cb(ecr_server * srv, ecr_server_registry_cb cb, void * payload)',
        'Set the registry provider. Without one, only the registries added with\necr_server_add_registry() are served.\n@return 0; ECR_EBUSY (server running).'),
    'ecr_server_set_anonymous_limit': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_server), ctypes.c_uint32, ctypes.c_uint32],
        ('srv', 'per_second', 'burst'),
        'int ecr_server_set_anonymous_limit(ecr_server * srv, uint32_t per_second, uint32_t burst)',
        'Public registries (ecr/public.h) are served too: "/v2/<alias>/<repository>"\nnames a repository of the public registry with that alias (the registry\nprovider is asked for the account\'s ECR_REGION_PUBLIC registry). Anyone may\npull from them: a request without credentials is answered 401 with a\nBearer challenge whose realm ("/token") issues an anonymous token, as\npublic.ecr.aws does, and with that token pulls of public repositories\nsucceed; everything else answers as for a repository that does not exist.\nAnonymous pulls (manifest requests) are limited per client address: a\ntoken bucket of per_second pulls a second, up to burst at once; over it,\n429 TOOMANYREQUESTS with Retry-After. Defaults: 1 a second, burst 10 (ECR\nPublic\'s one unauthenticated pull a second). per_second 0: no limit.\n@return 0; ECR_EINVALID (burst 0 with a limit).'),
    'ecr_server_set_blob_redirect': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_server), ctypes.c_int],
        ('srv', 'enabled'),
        'int ecr_server_set_blob_redirect(ecr_server * srv, int enabled)',
        "Blob GETs answered with a redirect: when enabled and the registry's blob\nstore can presign (the S3 store), an authorized GET of a whole blob (not\nHEAD, not a Range request, not a pull-through cache download) is answered\n307 Temporary Redirect with Location set to a download URL valid for\nECR_SERVER_BLOB_REDIRECT_SECONDS (see ecr_blob_download_url()), as ECR\nanswers layer downloads; clients then fetch the bytes from the store.\nOtherwise, and by default, the server streams the blob itself. Set before\necr_server_start().\n@param enabled 1 to redirect, 0 to stream.\n@return 0; ECR_EINVALID; ECR_EBUSY (server running)."),
    'ecr_server_start': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_server)],
        ('srv',),
        'int ecr_server_start(ecr_server * srv)',
        'Start listening and serving.\n@return 0; ECR_EINVALID (no registry, bad address); ECR_EIO (cannot bind,\n        cannot read the TLS files); ECR_EBUSY (already running);\n        ECR_ENOTSUPPORTED (HTTPS, and libmicrohttpd.so.12 cannot be loaded).'),
    'ecr_server_port': (
        ctypes.c_uint16,
        [ctypes.POINTER(ecr_server)],
        ('srv',),
        'uint16_t ecr_server_port(const ecr_server * srv)',
        'The port the server listens on (useful with port 0), or 0 when not running.'),
    'ecr_server_stop': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_server)],
        ('srv',),
        'int ecr_server_stop(ecr_server * srv)',
        'Stop: stop accepting, let requests in flight finish (up to the timeout),\nthen close every connection. The server may be started again.'),
    'ecr_server_free': (
        None,
        [ctypes.POINTER(ecr_server)],
        ('srv',),
        'void ecr_server_free(ecr_server * srv)',
        'Stop if running and free the server. NULL is a no-op.'),
    'ecr_registry_stats': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_stats), ctypes.POINTER(ecr_registry)],
        ('out', 'reg'),
        'int ecr_registry_stats(ecr_stats * out, ecr_registry * reg)',
        "A registry's statistics into out (out->version must be set).\n@return 0; ECR_EINVALID (version, NULL); ECR_ENOTSUPPORTED (a remote registry);\n        a storage error code."),
    'ecr_server_set_metrics': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_server), ctypes.c_int],
        ('srv', 'access'),
        'int ecr_server_set_metrics(ecr_server * srv, ecr_server_metrics_access access)',
        'Choose who may read `GET /metrics`. Refused peers get 403. Set before\necr_server_start().\n@return 0; ECR_EINVALID; ECR_EBUSY (server running).'),
    'ecr_server_add_metrics_cb': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_server), ecr_server_metrics_cb, ctypes.c_void_p],
        ('srv', 'cb', 'payload'),
        'int ecr_server_add_metrics_cb(ecr_server * srv, ecr_server_metrics_cb cb, void * payload)',
        'Add a metrics callback (up to 8). Set before ecr_server_start().\n@return 0; ECR_EINVALID; ECR_ELIMIT (too many); ECR_EBUSY (server running).'),
    'ecr_server_metrics': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.POINTER(ecr_server)],
        ('out', 'srv'),
        'int ecr_server_metrics(ecr_buf * out, ecr_server * srv)',
        'The text a `GET /metrics` would answer now, into out (appended). For\nembedders that serve it elsewhere, and for tests.\n@return 0; ECR_ENOMEM; what a metrics callback returned.'),
    'ecr_metrics_append': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.c_char_p, ctypes.c_size_t],
        ('out', 'text', 'len'),
        'int ecr_metrics_append(ecr_buf * out, const char * text, size_t len)',
        'Append len bytes of text to out (for metrics callbacks: ecr_buf has no other\npublic writer).\n@return 0; ECR_EINVALID; ECR_ENOMEM.'),
    'ecr_metrics_escape': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_buf), ctypes.c_char_p],
        ('out', 'value'),
        'int ecr_metrics_escape(ecr_buf * out, const char * value)',
        'Prometheus label value escaping (backslash, double quote, newline), appended\nto out. For metrics callbacks.\n@return 0; ECR_ENOMEM.'),
    'ecr_fsck_options_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_fsck_options), ctypes.c_uint],
        ('opts', 'version'),
        'int ecr_fsck_options_init(ecr_fsck_options * opts, unsigned int version)',
        'Initialise fsck options. @since 0.2 @return 0 or ECR_EINVALID.'),
    'ecr_registry_fsck': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.POINTER(ecr_fsck_options), ecr_fsck_cb, ctypes.c_void_p, ctypes.POINTER(ecr_fsck_stats)],
        ('reg', 'opts', 'cb', 'payload', 'stats_out'),
        'int ecr_registry_fsck(ecr_registry * reg, const ecr_fsck_options * opts, ecr_fsck_cb cb, void * payload, ecr_fsck_stats * stats_out)',
        "Check the consistency of the registry's storage (see the file's comment).\nUnreferenced blobs and orphaned staging objects are looked for only with\nECR_FSCK_ALL_REGISTRIES (a blob of another registry is not garbage).\n@since 0.2\n@param reg an in-process registry (ECR_ENOTSUPPORTED for a remote one)\n@param opts may be NULL (this registry, blobs re-hashed)\n@param cb called for each problem; may be NULL (then count only)\n@param stats_out may be NULL; else its version must be set\n@return 0 when the check ran to the end, whatever it found (see\n        stats_out->errors); a non-zero value cb returned; ECR_EINVALID;\n        ECR_ENOTSUPPORTED; an error of the metadata store."),
    'ecr_usage_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_usage), ctypes.c_uint],
        ('usage', 'version'),
        'int ecr_usage_init(ecr_usage * usage, unsigned int version)',
        'Initialise a usage record for the given version (ECR_USAGE_VERSION).'),
    'ecr_registry_usage': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_usage), ctypes.POINTER(ecr_registry), ctypes.c_int64, ctypes.c_int64],
        ('out', 'reg', 'from_ms', 'to_ms'),
        'int ecr_registry_usage(ecr_usage * out, ecr_registry * reg, int64_t from_ms, int64_t to_ms)',
        "A registry's usage: stored bytes now, transfer and requests counted in\n[from_ms, to_ms) rounded out to whole UTC days (0, 0: everything ever\ncounted). Counters not yet flushed are included.\n@return 0; ECR_EINVALID."),
    'ecr_repository_usage': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_usage), ctypes.POINTER(ecr_repository), ctypes.c_int64, ctypes.c_int64],
        ('out', 'repo', 'from_ms', 'to_ms'),
        'int ecr_repository_usage(ecr_usage * out, ecr_repository * repo, int64_t from_ms, int64_t to_ms)',
        "One repository's usage, as ecr_registry_usage(). @return 0; ECR_EREPOSITORY_NOT_FOUND."),
    'ecr_registry_usage_foreach': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry), ctypes.c_int64, ctypes.c_int64, ecr_usage_cb, ctypes.c_void_p],
        ('reg', 'from_ms', 'to_ms', 'cb', 'payload'),
        'int ecr_registry_usage_foreach(ecr_registry * reg, int64_t from_ms, int64_t to_ms, ecr_usage_cb cb, void * payload)',
        "Every repository's usage (as ecr_repository_usage()), in name order."),
    'ecr_usage_flush': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_registry)],
        ('reg',),
        'int ecr_usage_flush(ecr_registry * reg)',
        'Write the counters counted in memory to the metadata store now.'),
    'ecr_price_table_default': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_price_table), ctypes.c_uint],
        ('out', 'version'),
        'int ecr_price_table_default(ecr_price_table * out, unsigned int version)',
        "Amazon ECR's list prices (us-east-1, private repositories): storage\n$0.10 per GB-month; transfer in free; transfer out to the internet per\nmonth: first 100 GB free, next 9,999.9 GB... as the AWS price list gives\n($0.09, $0.085, $0.07, $0.05 per GB)."),
    'ecr_price_table_parse': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_price_table), ctypes.c_char_p, ctypes.c_size_t],
        ('out', 'json', 'len'),
        'int ecr_price_table_parse(ecr_price_table * out, const char * json, size_t len)',
        'A price table from JSON: {"storageUsdPerGbMonth": 0.1, "transferInUsdPerGb": 0,\n"transferOut": [{"upToGb": 100, "usdPerGb": 0}, ..., {"usdPerGb": 0.05}]};\nmissing members keep the default\'s values.\n@return 0; ECR_EINVALID with the member at fault.'),
    'ecr_usage_estimate': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_cost), ctypes.POINTER(ecr_usage), ctypes.POINTER(ecr_price_table), ctypes.c_double],
        ('out', 'usage', 'prices', 'months'),
        'int ecr_usage_estimate(ecr_cost * out, const ecr_usage * usage, const ecr_price_table * prices, double months)',
        'Estimate what usage costs at prices, for a period of `months` (> 0) months. @return 0; ECR_EINVALID.'),
    'ecr_set_allocator': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_allocator)],
        ('allocator',),
        'int ecr_set_allocator(const ecr_allocator * allocator)',
        "Install an allocator; NULL restores the C library's.\n@return 0, ECR_EINVALID for a bad version or missing function, ECR_EBUSY\n        when the library is already initialised."),
    'ecr_blob_store_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_blob_store), ctypes.c_uint],
        ('store', 'version'),
        'int ecr_blob_store_init(ecr_blob_store * store, unsigned int version)',
        'Zero a vtable and set its version: only the members that version has are\nwritten, so a backend built against an older header may call it.\n@return 0 or ECR_EINVALID.'),
    'ecr_meta_store_init': (
        ctypes.c_int,
        [ctypes.POINTER(ecr_meta_store), ctypes.c_uint],
        ('store', 'version'),
        'int ecr_meta_store_init(ecr_meta_store * store, unsigned int version)',
        'Zero a vtable and set its version. @return 0 or ECR_EINVALID.'),
    'ecr_registry_open_transport': (
        ctypes.c_int,
        [ctypes.POINTER(ctypes.POINTER(ecr_registry)), ctypes.POINTER(ecr_transport), ctypes.POINTER(ecr_registry_options)],
        ('out', 't', 'opts'),
        'int ecr_registry_open_transport(ecr_registry ** out, ecr_transport * t, const ecr_registry_options * opts)',
        'Open a registry handle over a transport. The handle owns t from then on\n(also on failure: t is freed). opts as for ecr_registry_open(); account_id\nand region default to what info() reports.'),
    'ecr_registry_transport': (
        ctypes.POINTER(ecr_transport),
        [ctypes.POINTER(ecr_registry)],
        ('reg',),
        'ecr_transport * ecr_registry_transport(const ecr_registry * reg)',
        'The transport of a remote registry handle, or NULL for a local one.'),
    'ecr_transport_fail': (
        ctypes.c_int,
        [ctypes.c_int, ctypes.c_char_p],
        ('code', 'message'),
        'int ecr_transport_fail(int code, const char * message)',
        "Set the calling thread's error (as ecr_error_last() reports it) and return\ncode: what a transport does when it fails. message is used as it is."),
    'ecr_error_from_exception': (
        ctypes.c_int,
        [ctypes.c_char_p],
        ('type',),
        'int ecr_error_from_exception(const char * type)',
        'The code of an ECR API error type (the __type of an error response, with\nor without its "namespace#" prefix), e.g. ECR_EREPOSITORY_NOT_FOUND for\n"RepositoryNotFoundException"; ECR_ERROR for a type the library does not know.'),
    'ecr_error_from_oci': (
        ctypes.c_int,
        [ctypes.c_char_p, ctypes.c_int],
        ('oci_code', 'http_status'),
        'int ecr_error_from_oci(const char * oci_code, int http_status)',
        "The code of an OCI Distribution error code with its HTTP status, e.g.\nECR_EIMAGE_NOT_FOUND for MANIFEST_UNKNOWN (404), as the library's own\nserver answers them."),
}


def bind(lib):
    """Set argtypes and restype of every function on lib (a ctypes.CDLL).

    Returns the names lib does not export (empty when it matches the headers)."""
    missing = []
    for name, (restype, argtypes, _names, _sig, doc) in FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
        fn.__doc__ = doc
    return missing
