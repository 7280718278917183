"""libecr: an embeddable, Amazon-ECR-compatible container registry, from Python.

The mechanical layer, _ffi (generated from the C headers by
bindings/gen/gen_bindings.py), declares every function, structure, enum and
constant; ``libecr.lib`` is the loaded library with every function bound, so
anything this module does not wrap is still callable::

    import libecr
    with libecr.Registry("memory:") as reg:
        repo = reg.create_repository("team/app")
        digest = repo.put_blob(b"layer bytes")
        with libecr.Server(reg, port=0, no_auth=True) as srv:
            print("serving on", srv.port)

The library is found through LIBECR_LIBRARY (a path), else the system's
libecr.so.0 (ctypes.util.find_library("ecr")).
"""
import base64
import ctypes
import ctypes.util
import dataclasses
import hashlib
import io
import json
import os
import threading
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from . import _ffi
from ._ffi import (ErrorCode, EventResult, EventType, FsckKind, FsckSeverity, LifecycleAction,  # noqa: F401
                   PolicyDecision, PolicyKind, ServerMetricsAccess, StorageClass, TagMutability, TagStatus)

__all__ = [
    "lib", "version", "Registry", "Repository", "Image", "ImageInfo", "Upload", "Blob", "Policy", "Server",
    "LifecyclePolicy", "EcrError", "NotFoundError", "RepositoryNotFoundError", "ImageNotFoundError",
    "LifecyclePolicyNotFoundError", "PolicyNotFoundError", "AlreadyExistsError", "RepositoryAlreadyExistsError",
    "ImageAlreadyExistsError", "ImmutableTagError", "AccessDeniedError", "AuthError", "InvalidError", "LimitError",
    "DigestError", "UploadError", "StorageError", "NetworkError", "NotSupportedError", "BusyError",
    "RepositoryNotEmptyError", "ImageArchivedError", "CallbackError", "ThrottledError", "TemplateAlreadyExistsError",
    "TemplateNotFoundError", "PullThroughCacheRuleAlreadyExistsError", "PullThroughCacheRuleNotFoundError",
    "SecretNotFoundError", "UnsupportedUpstreamError", "CopyProgress", "copy", "ReplicationStatus", "Replicator",
    "Cache", "has_function", "ErrorCode", "LifecycleAction",
    "PolicyDecision", "PolicyKind", "StorageClass", "TagMutability", "TagStatus",
    "Webhooks", "FsckProblem", "price_table_default", "price_table_parse", "estimate", "event_to_json",
    "EventType", "EventResult", "FsckKind", "FsckSeverity", "ServerMetricsAccess",
]


def _load():
    path = os.environ.get("LIBECR_LIBRARY")
    if not path:
        path = ctypes.util.find_library("ecr") or "libecr.so.0"
    cdll = ctypes.CDLL(path)
    missing = _ffi.bind(cdll)
    # A library older than the headers lacks some functions: they stay unbound
    # (calling one raises AttributeError) and _missing says which.
    return cdll, missing


lib, _missing = _load()


def version() -> str:
    """The library version, e.g. "0.1.0 (sha256: libcrypto)"."""
    return lib.ecr_version().decode()


# --- Errors ---------------------------------------------------------------

class EcrError(Exception):
    """A failure reported by libecr: .code (an ErrorCode), .name ("ECR_E..."),
    .message (ecr_error_last()'s message) and .exception (the Amazon ECR
    exception name, e.g. "RepositoryNotFoundException")."""

    def __init__(self, code: int, message: str = ""):
        self.code = code
        self.name = lib.ecr_error_name(code).decode()
        self.exception = lib.ecr_error_exception(code).decode()
        self.message = message
        super().__init__("%s (%s)" % (message, self.name) if message else self.name)


class NotFoundError(EcrError, LookupError):
    """ECR_ENOTFOUND and every code of its category."""


class RepositoryNotFoundError(NotFoundError):
    pass


class ImageNotFoundError(NotFoundError):
    pass


class LifecyclePolicyNotFoundError(NotFoundError):
    pass


class PolicyNotFoundError(NotFoundError):
    """No repository or registry policy."""


class AlreadyExistsError(EcrError):
    """ECR_EEXISTS and every code of its category."""


class RepositoryAlreadyExistsError(AlreadyExistsError):
    pass


class ImageAlreadyExistsError(AlreadyExistsError):
    pass


class ImmutableTagError(EcrError):
    """The tag exists and is immutable (ImageTagAlreadyExistsException)."""


class AccessDeniedError(EcrError):
    pass


class AuthError(EcrError):
    pass


class InvalidError(EcrError, ValueError):
    pass


class LimitError(EcrError):
    pass


class DigestError(EcrError, ValueError):
    pass


class UploadError(EcrError):
    pass


class StorageError(EcrError, OSError):
    pass


class NetworkError(EcrError, ConnectionError):
    pass


class NotSupportedError(EcrError):
    """The registry does not offer the operation (e.g. maintenance of a remote registry)."""


class ThrottledError(EcrError):
    """Too many requests, still refused after retries (ThrottlingException)."""


class TemplateAlreadyExistsError(AlreadyExistsError):
    pass


class TemplateNotFoundError(NotFoundError):
    pass


class PullThroughCacheRuleAlreadyExistsError(AlreadyExistsError):
    pass


class PullThroughCacheRuleNotFoundError(NotFoundError):
    pass


class SecretNotFoundError(NotFoundError):
    pass


class UnsupportedUpstreamError(InvalidError):
    pass


class BusyError(EcrError):
    pass


class RepositoryNotEmptyError(EcrError):
    pass


class ImageArchivedError(EcrError):
    pass


class CallbackError(EcrError):
    """A callback stopped the operation (ECR_EUSER)."""


_BY_CODE = {
    "ECR_ENOTFOUND": NotFoundError, "ECR_EREPOSITORY_NOT_FOUND": RepositoryNotFoundError,
    "ECR_EIMAGE_NOT_FOUND": ImageNotFoundError, "ECR_ELIFECYCLE_POLICY_NOT_FOUND": LifecyclePolicyNotFoundError,
    "ECR_EREPOSITORY_POLICY_NOT_FOUND": PolicyNotFoundError, "ECR_EREGISTRY_POLICY_NOT_FOUND": PolicyNotFoundError,
    "ECR_EEXISTS": AlreadyExistsError, "ECR_EREPOSITORY_EXISTS": RepositoryAlreadyExistsError,
    "ECR_EIMAGE_EXISTS": ImageAlreadyExistsError, "ECR_EIMMUTABLE": ImmutableTagError,
    "ECR_EDENIED": AccessDeniedError, "ECR_EAUTH": AuthError, "ECR_EINVALID": InvalidError,
    "ECR_EVALIDATION": InvalidError, "ECR_ELIMIT": LimitError, "ECR_EDIGEST": DigestError,
    "ECR_EIMAGE_DIGEST": DigestError, "ECR_EUPLOAD": UploadError, "ECR_EIO": StorageError,
    "ECR_ENETWORK": NetworkError, "ECR_ENOTSUPPORTED": NotSupportedError, "ECR_EBUSY": BusyError,
    "ECR_EREPOSITORY_NOT_EMPTY": RepositoryNotEmptyError, "ECR_EIMAGE_ARCHIVED": ImageArchivedError,
    "ECR_EUSER": CallbackError, "ECR_ENOMEM": MemoryError, "ECR_ETHROTTLED": ThrottledError,
    "ECR_ETEMPLATE_EXISTS": TemplateAlreadyExistsError, "ECR_ETEMPLATE_NOT_FOUND": TemplateNotFoundError,
    "ECR_EPTC_RULE_EXISTS": PullThroughCacheRuleAlreadyExistsError,
    "ECR_EPTC_RULE_NOT_FOUND": PullThroughCacheRuleNotFoundError, "ECR_ESECRET_NOT_FOUND": SecretNotFoundError,
    "ECR_EUNSUPPORTED_UPSTREAM": UnsupportedUpstreamError,
}
_EXC = {getattr(_ffi, name): cls for name, cls in _BY_CODE.items() if hasattr(_ffi, name)}


def error_for(code: int, message: str = "") -> Exception:
    """The exception for an ECR_E* code: its own class, else its category's."""
    cls = _EXC.get(code) or _EXC.get(lib.ecr_error_category(code)) or EcrError
    if cls is MemoryError:
        return MemoryError(message or "out of memory")
    return cls(code, message)


def _check(rc: int) -> int:
    """Raise the exception of a negative return code, with the message of
    ecr_error_last() read straight away on this thread."""
    if rc < 0:
        last = lib.ecr_error_last().contents
        msg = last.message.decode(errors="replace") if last.code == rc and last.message else ""
        raise error_for(rc, msg)
    return rc


def has_function(name: str) -> bool:
    """Whether the loaded libecr exports a function of the headers."""
    return name in _ffi.FUNCTIONS and name not in _missing


def _strings(items):
    """A C array of C strings (kept alive by the returned tuple) and its length."""
    if not items:
        return None, 0, None
    enc = [i.encode() for i in items]
    arr = (ctypes.c_char_p * len(enc))(*enc)
    return arr, len(enc), enc


def _b(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode()


def _s(p) -> Optional[str]:
    return None if p is None else p.decode(errors="replace")


def _take_buf(buf: _ffi.ecr_buf) -> bytes:
    data = ctypes.string_at(buf.ptr, buf.size) if buf.size else b""
    lib.ecr_buf_dispose(ctypes.byref(buf))
    return data


def _fields(st) -> Dict[str, int]:
    """A versioned ctypes structure's fields as a dict (version left out)."""
    return {name: getattr(st, name) for name, _ in st._fields_ if name != "version"}


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Handle:
    _free = None
    _ptr = None

    def close(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr:
            getattr(lib, self._free)(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def _p(self):
        if not self._ptr:
            raise ValueError("%s is closed" % type(self).__name__)
        return self._ptr


class _Callback:
    """Runs a Python function for C: an exception inside it stops the C
    operation (ECR_EUSER) and is raised again by reraise()."""

    def __init__(self):
        self.error = None

    def guard(self, fn, *args):
        try:
            return fn(*args)
        except BaseException as e:  # noqa: B902 - handed back to the caller
            self.error = e
            return None

    def reraise(self):
        if self.error is not None:
            err, self.error = self.error, None
            raise err


# --- Registry ---------------------------------------------------------------

_REMOTE_STRINGS = ("username", "password", "access_key_id", "secret_access_key", "session_token", "profile",
                   "api_endpoint", "ca_file", "ca_path", "user_agent")


def _registry_options(account_id=None, region=None, nosync=False, insecure=False, oci_only=False,
                      no_retry=False, remote_flags=0, timeout_ms=0, max_retries=0, **strings):
    """An ecr_registry_options (version 3) and the bytes it points to (keep both alive)."""
    opts = _ffi.ecr_registry_options()
    _check(lib.ecr_registry_options_init(ctypes.byref(opts), _ffi.ECR_REGISTRY_OPTIONS_VERSION))
    keep = []
    opts.account_id = _b(account_id)
    opts.region = _b(region)
    if nosync:
        opts.flags |= _ffi.ECR_STORAGE_NOSYNC
    for name, value in strings.items():
        if name not in _REMOTE_STRINGS:
            raise TypeError("unknown registry option %r" % name)
        if value is not None:
            keep.append(value.encode())
            setattr(opts, name, keep[-1])
    opts.remote_flags = remote_flags | (_ffi.ECR_REMOTE_INSECURE if insecure else 0) | \
        (_ffi.ECR_REMOTE_OCI_ONLY if oci_only else 0) | (_ffi.ECR_REMOTE_NO_RETRY if no_retry else 0)
    opts.timeout_ms = timeout_ms
    opts.max_retries = max_retries
    return opts, keep


class Registry(_Handle):
    """A registry: "memory:", "file:///path" or a remote "http(s)://host[:port]"
    (ecrd, Amazon ECR, any OCI registry). Any number of threads may use one
    Registry at once.

    Remote options (ignored by local registries): username, password (Basic,
    data plane), access_key_id, secret_access_key, session_token, profile (AWS
    credentials for the ECR API; None: the usual AWS sources), api_endpoint,
    ca_file, ca_path, insecure (no TLS verification, tests only), oci_only,
    no_retry, remote_flags (ECR_REMOTE_*), timeout_ms, max_retries, user_agent."""

    _free = "ecr_registry_free"

    @classmethod
    def open(cls, url: str, **kwargs) -> "Registry":
        """Registry(url, **kwargs), e.g. Registry.open("https://host", username=..., password=...)."""
        return cls(url, **kwargs)

    def __init__(self, url: str = "memory:", account_id: Optional[str] = None, region: Optional[str] = None,
                 nosync: bool = False, log: Optional[Callable[[int, str], None]] = None,
                 log_level: int = _ffi.ECR_LOG_INFO, webhooks: Optional["Webhooks"] = None, **remote):
        opts, _keep = _registry_options(account_id, region, nosync, **remote)
        # Events go to webhooks (ecr_webhooks_event_cb); close the registry before the Webhooks.
        self._webhooks = webhooks
        if webhooks is not None:
            opts.event_cb = ctypes.cast(lib.ecr_webhooks_event_cb, _ffi.ecr_event_cb)
            opts.event_payload = ctypes.cast(webhooks._p(), ctypes.c_void_p)
        # Callbacks stay referenced as long as the registry: C may call them from any thread.
        self._log_cb = None
        if log is not None:
            def on_log(level, msg, _payload):
                try:
                    log(int(level), msg.decode(errors="replace"))
                except Exception:
                    pass
            self._log_cb = _ffi.ecr_log_cb(on_log)
            opts.log_cb = self._log_cb
            opts.log_level = log_level
        ptr = ctypes.POINTER(_ffi.ecr_registry)()
        _check(lib.ecr_registry_open(ctypes.byref(ptr), url.encode(), ctypes.byref(opts)))
        self._ptr = ptr
        self.url = url

    @property
    def account_id(self) -> str:
        return _s(lib.ecr_registry_account_id(self._p()))

    @property
    def region(self) -> str:
        return _s(lib.ecr_registry_region(self._p()))

    @property
    def arn(self) -> str:
        return _s(lib.ecr_registry_arn(self._p()))

    def create_repository(self, name: str, tag_mutability: int = TagMutability.MUTABLE,
                          scan_on_push: bool = False) -> "Repository":
        """Create a repository; raises RepositoryAlreadyExistsError, InvalidError."""
        opts = _ffi.ecr_repository_options()
        _check(lib.ecr_repository_options_init(ctypes.byref(opts), _ffi.ECR_REPOSITORY_OPTIONS_VERSION))
        opts.tag_mutability = int(tag_mutability)
        opts.scan_on_push = 1 if scan_on_push else 0
        ptr = ctypes.POINTER(_ffi.ecr_repository)()
        _check(lib.ecr_repository_create(ctypes.byref(ptr), self._p(), name.encode(), ctypes.byref(opts)))
        return Repository(ptr, self)

    def repository(self, name: str) -> "Repository":
        """Open a repository; raises RepositoryNotFoundError."""
        ptr = ctypes.POINTER(_ffi.ecr_repository)()
        _check(lib.ecr_repository_open(ctypes.byref(ptr), self._p(), name.encode()))
        return Repository(ptr, self)

    def delete_repository(self, name: str, force: bool = False) -> None:
        _check(lib.ecr_repository_delete(self._p(), name.encode(),
                                         _ffi.ECR_REPOSITORY_DELETE_FORCE if force else 0))

    def repositories(self, after: Optional[str] = None) -> Iterator[str]:
        """Repository names in name order, after `after` (paginated in C)."""
        it = ctypes.POINTER(_ffi.ecr_repository_iterator)()
        _check(lib.ecr_repository_iterator_new_after(ctypes.byref(it), self._p(), _b(after)))
        try:
            repo = ctypes.POINTER(_ffi.ecr_repository)()
            while True:
                rc = lib.ecr_repository_iterator_next(ctypes.byref(repo), it)
                if rc == _ffi.ECR_ITEROVER:
                    return
                _check(rc)
                yield _s(lib.ecr_repository_name(repo))
        finally:
            lib.ecr_repository_iterator_free(it)

    def set_policy(self, text: str) -> None:
        _check(lib.ecr_registry_set_policy(self._p(), text.encode()))

    # public registries (ecr/public.h)
    @property
    def is_public(self) -> bool:
        """Whether this is an account's public registry (region "public")."""
        return lib.ecr_registry_is_public(self._p()) != 0

    def public_alias(self) -> str:
        """The public registry's alias (assigned at random on first use)."""
        buf = _ffi.ecr_buf()
        _check(lib.ecr_public_alias(ctypes.byref(buf), self._p()))
        return _take_buf(buf).decode()

    def set_public_alias(self, alias: str) -> None:
        """Choose the alias; raises InvalidError, AlreadyExistsError (another account has it)."""
        _check(lib.ecr_public_set_alias(self._p(), alias.encode()))

    def public_alias_lookup(self, alias: str) -> str:
        """The account whose public registry has alias (any handle of the storage); raises NotFoundError."""
        buf = _ffi.ecr_buf()
        _check(lib.ecr_public_alias_lookup(ctypes.byref(buf), self._p(), alias.encode()))
        return _take_buf(buf).decode()

    @property
    def display_name(self) -> str:
        buf = _ffi.ecr_buf()
        _check(lib.ecr_public_display_name(ctypes.byref(buf), self._p()))
        return _take_buf(buf).decode()

    @display_name.setter
    def display_name(self, name: str) -> None:
        _check(lib.ecr_public_set_display_name(self._p(), name.encode()))

    def policy(self) -> str:
        buf = _ffi.ecr_buf()
        _check(lib.ecr_registry_policy(ctypes.byref(buf), self._p()))
        return _take_buf(buf).decode()

    def gc(self, grace_seconds: int = 0, dry_run: bool = False) -> Dict[str, int]:
        """Collect garbage; returns the counts of ecr_gc_stats."""
        opts = _ffi.init("ECR_GC_OPTIONS_INIT")
        opts.grace_seconds = grace_seconds
        opts.flags = _ffi.ECR_GC_DRY_RUN if dry_run else 0
        stats = _ffi.init("ECR_GC_STATS_INIT")
        _check(lib.ecr_registry_gc(self._p(), ctypes.byref(opts), ctypes.byref(stats)))
        return {name: getattr(stats, name) for name, _ in stats._fields_ if name != "version"}

    # replication
    def set_replication_configuration(self, config) -> None:
        """ECR's replication configuration: a dict or its JSON text."""
        text = config if isinstance(config, str) else json.dumps(config)
        _check(lib.ecr_registry_set_replication_configuration(self._p(), text.encode()))

    def replication_configuration(self) -> dict:
        buf = _ffi.ecr_buf()
        _check(lib.ecr_registry_replication_configuration(ctypes.byref(buf), self._p()))
        return json.loads(_take_buf(buf))

    # repository creation templates
    def put_creation_template(self, template, create: bool = True) -> dict:
        """Create (or with create=False update) a creation template; returns it as stored."""
        text = template if isinstance(template, str) else json.dumps(template)
        buf = _ffi.ecr_buf()
        _check(lib.ecr_registry_put_creation_template(ctypes.byref(buf), self._p(), text.encode(), 1 if create else 0))
        return json.loads(_take_buf(buf))

    def delete_creation_template(self, prefix: str) -> dict:
        buf = _ffi.ecr_buf()
        _check(lib.ecr_registry_delete_creation_template(ctypes.byref(buf), self._p(), prefix.encode()))
        return json.loads(_take_buf(buf))

    def creation_templates(self, prefixes: Optional[List[str]] = None) -> List[dict]:
        arr, n, _keep = _strings(prefixes)
        buf = _ffi.ecr_buf()
        _check(lib.ecr_registry_creation_templates(ctypes.byref(buf), self._p(), arr, n))
        return json.loads(_take_buf(buf))

    def create_repository_templated(self, name: str, applied_for: int = _ffi.ECR_TEMPLATE_CREATE_ON_PUSH
                                    ) -> "Repository":
        """Create a repository with the creation template that applies (ECR_TEMPLATE_* applied_for)."""
        ptr = ctypes.POINTER(_ffi.ecr_repository)()
        _check(lib.ecr_repository_create_templated(ctypes.byref(ptr), self._p(), name.encode(), applied_for))
        return Repository(ptr, self)

    # pull-through cache rules and upstream credentials
    def put_pull_through_cache_rule(self, rule, create: bool = True) -> dict:
        text = rule if isinstance(rule, str) else json.dumps(rule)
        buf = _ffi.ecr_buf()
        _check(lib.ecr_registry_put_pull_through_cache_rule(ctypes.byref(buf), self._p(), text.encode(),
                                                            1 if create else 0))
        return json.loads(_take_buf(buf))

    def delete_pull_through_cache_rule(self, prefix: str) -> dict:
        buf = _ffi.ecr_buf()
        _check(lib.ecr_registry_delete_pull_through_cache_rule(ctypes.byref(buf), self._p(), prefix.encode()))
        return json.loads(_take_buf(buf))

    def pull_through_cache_rules(self, prefixes: Optional[List[str]] = None) -> List[dict]:
        arr, n, _keep = _strings(prefixes)
        buf = _ffi.ecr_buf()
        _check(lib.ecr_registry_pull_through_cache_rules(ctypes.byref(buf), self._p(), arr, n))
        return json.loads(_take_buf(buf))

    def put_credential(self, arn: str, username: str, password: str) -> None:
        """Store upstream credentials under a secretsmanager ARN (never returned)."""
        _check(lib.ecr_registry_put_credential(self._p(), arn.encode(), username.encode(), password.encode()))

    def delete_credential(self, arn: str) -> None:
        _check(lib.ecr_registry_delete_credential(self._p(), arn.encode()))

    def credentials(self) -> List[Tuple[str, str]]:
        """[(arn, username)] in ARN order (never the passwords)."""
        out = []
        guard = _Callback()

        def on_cred(arn, user, _payload):
            rc = guard.guard(lambda: out.append((_s(arn), _s(user))) or 0)
            return _ffi.ECR_EUSER if rc is None else rc

        cb = _ffi.ecr_credential_cb(on_cred)
        rc = lib.ecr_registry_credentials_foreach(self._p(), cb, None)
        guard.reraise()
        _check(rc)
        return out

    # usage, statistics, consistency
    def usage(self, from_ms: int = 0, to_ms: int = 0) -> Dict[str, int]:
        """The registry's usage (ecr_usage's fields): stored bytes now, transfer and requests
        counted in [from_ms, to_ms) rounded out to whole UTC days (0, 0: everything)."""
        u = _ffi.init("ECR_USAGE_INIT")
        _check(lib.ecr_registry_usage(ctypes.byref(u), self._p(), from_ms, to_ms))
        return _fields(u)

    def usage_by_repository(self, from_ms: int = 0, to_ms: int = 0) -> Dict[str, Dict[str, int]]:
        """Every repository's usage, by name."""
        out = {}
        guard = _Callback()

        def on_usage(name, u, _payload):
            rc = guard.guard(lambda: out.__setitem__(_s(name), _fields(u.contents)) or 0)
            return _ffi.ECR_EUSER if rc is None else rc

        cb = _ffi.ecr_usage_cb(on_usage)
        rc = lib.ecr_registry_usage_foreach(self._p(), from_ms, to_ms, cb, None)
        guard.reraise()
        _check(rc)
        return out

    def flush_usage(self) -> None:
        """Write the usage counters counted in memory to the metadata store now."""
        _check(lib.ecr_usage_flush(self._p()))

    def stats(self) -> Dict[str, int]:
        """The registry's statistics (ecr_stats's fields: gc_runs, blob_store_errors, scans_*, replication_*)."""
        st = _ffi.init("ECR_STATS_INIT")
        _check(lib.ecr_registry_stats(ctypes.byref(st), self._p()))
        return _fields(st)

    def fsck(self, all_registries: bool = False, no_hash: bool = False,
             on_problem: Optional[Callable[["FsckProblem"], Optional[bool]]] = None
             ) -> Tuple[Dict[str, int], List["FsckProblem"]]:
        """Check the storage's consistency: (ecr_fsck_stats's fields, the problems found).
        on_problem, if given, sees each problem as it is found; returning False stops the check
        (CallbackError)."""
        opts = _ffi.init("ECR_FSCK_OPTIONS_INIT")
        opts.flags = (_ffi.ECR_FSCK_ALL_REGISTRIES if all_registries else 0) | \
            (_ffi.ECR_FSCK_NO_HASH if no_hash else 0)
        st = _ffi.init("ECR_FSCK_STATS_INIT")
        problems = []
        guard = _Callback()

        def one(p):
            prob = FsckProblem(FsckKind(p.kind), FsckSeverity(p.severity), _s(p.account_id), _s(p.region),
                               _s(p.repository), _s(p.digest), _s(p.message))
            problems.append(prob)
            return _ffi.ECR_EUSER if on_problem is not None and on_problem(prob) is False else 0

        def on_fsck(p, _payload):
            rc = guard.guard(one, p.contents)
            return _ffi.ECR_EUSER if rc is None else rc

        cb = _ffi.ecr_fsck_cb(on_fsck)
        rc = lib.ecr_registry_fsck(self._p(), ctypes.byref(opts), cb, None, ctypes.byref(st))
        guard.reraise()
        _check(rc)
        return _fields(st), problems


# --- Repository ---------------------------------------------------------------

@dataclasses.dataclass
class ImageInfo:
    """An image as a listing describes it."""
    digest: str
    media_type: str
    size: int
    pushed_at: int
    tags: List[str]
    storage_class: int = 0
    status: int = 0


def _describe(img) -> ImageInfo:
    tags = [_s(lib.ecr_image_tag(img, i)) for i in range(lib.ecr_image_tag_count(img))]
    return ImageInfo(_s(lib.ecr_image_digest(img)), _s(lib.ecr_image_media_type(img)), lib.ecr_image_size(img),
                     lib.ecr_image_pushed_at(img), tags, lib.ecr_image_storage_class(img),
                     lib.ecr_image_status_of(img))


class Repository(_Handle):
    """An open repository (one thread at a time; open one per thread)."""

    _free = "ecr_repository_free"

    def __init__(self, ptr, registry: Registry):
        self._ptr = ptr
        self.registry = registry  # the registry must outlive the handle

    @property
    def name(self) -> str:
        return _s(lib.ecr_repository_name(self._p()))

    @property
    def arn(self) -> str:
        return _s(lib.ecr_repository_arn(self._p()))

    @property
    def uri(self) -> str:
        return _s(lib.ecr_repository_uri(self._p()))

    @property
    def tag_mutability(self) -> TagMutability:
        return TagMutability(lib.ecr_repository_tag_mutability(self._p()))

    # catalog data of a public repository (ecr/public.h)
    def usage(self, from_ms: int = 0, to_ms: int = 0) -> Dict[str, int]:
        """The repository's usage, as Registry.usage()."""
        u = _ffi.init("ECR_USAGE_INIT")
        _check(lib.ecr_repository_usage(ctypes.byref(u), self._p(), from_ms, to_ms))
        return _fields(u)

    def set_catalog_data(self, data) -> None:
        """Replace the catalog data: a dict (RepositoryCatalogDataInput) or its JSON text. A logo may be
        given as bytes under "logoImageBlob" (it is base64-encoded here)."""
        if not isinstance(data, str):
            data = dict(data)
            if isinstance(data.get("logoImageBlob"), (bytes, bytearray)):
                data["logoImageBlob"] = base64.b64encode(bytes(data["logoImageBlob"])).decode()
            data = json.dumps(data)
        _check(lib.ecr_repository_set_catalog_data(self._p(), data.encode()))

    def catalog_data(self) -> dict:
        """The catalog data (RepositoryCatalogData without logoUrl); raises EcrError
        (ECR_ECATALOG_DATA_NOT_FOUND) when never set."""
        buf = _ffi.ecr_buf()
        _check(lib.ecr_repository_catalog_data(ctypes.byref(buf), self._p()))
        return json.loads(_take_buf(buf))

    def catalog_logo(self) -> bytes:
        """The logo image; raises NotFoundError when there is none."""
        buf = _ffi.ecr_buf()
        _check(lib.ecr_repository_catalog_logo(ctypes.byref(buf), self._p()))
        return _take_buf(buf)

    # blobs
    def put_blob(self, data: bytes, digest: Optional[str] = None) -> str:
        """Store a whole blob; returns its digest."""
        digest = digest or sha256_digest(data)
        _check(lib.ecr_blob_put(self._p(), digest.encode(), data, len(data)))
        return digest

    def blob_size(self, digest: str) -> int:
        """The size of a blob of the repository; raises NotFoundError."""
        size = ctypes.c_uint64()
        _check(lib.ecr_blob_stat(self._p(), digest.encode(), ctypes.byref(size)))
        return size.value

    def has_blob(self, digest: str) -> bool:
        try:
            self.blob_size(digest)
            return True
        except NotFoundError:
            return False

    def open_blob(self, digest: str, offset: int = 0, length: int = 0) -> "Blob":
        ptr = ctypes.POINTER(_ffi.ecr_blob)()
        _check(lib.ecr_blob_open(ctypes.byref(ptr), self._p(), digest.encode(), offset, length))
        return Blob(ptr, self)

    def upload(self, upload_id: Optional[str] = None) -> "Upload":
        """Start an upload session (or reopen one by id)."""
        ptr = ctypes.POINTER(_ffi.ecr_upload)()
        if upload_id is None:
            _check(lib.ecr_upload_begin(ctypes.byref(ptr), self._p()))
        else:
            _check(lib.ecr_upload_open(ctypes.byref(ptr), self._p(), upload_id.encode()))
        return Upload(ptr, self)

    # images
    def put_image(self, manifest: bytes, tag: Optional[str] = None, media_type: Optional[str] = None,
                  digest: Optional[str] = None) -> "Image":
        ptr = ctypes.POINTER(_ffi.ecr_image)()
        _check(lib.ecr_image_put(ctypes.byref(ptr), self._p(), _b(tag), _b(digest), _b(media_type), manifest,
                                 len(manifest), 0))
        return Image(ptr)

    def image(self, reference: str) -> "Image":
        """An image by tag or digest; raises ImageNotFoundError."""
        ptr = ctypes.POINTER(_ffi.ecr_image)()
        _check(lib.ecr_image_get(ctypes.byref(ptr), self._p(), reference.encode(), 0))
        return Image(ptr)

    def delete_image(self, digest: str) -> None:
        _check(lib.ecr_image_delete(self._p(), digest.encode()))

    def untag(self, tag: str) -> str:
        """Remove a tag; returns the digest it pointed to."""
        buf = _ffi.ecr_buf()
        _check(lib.ecr_image_untag(ctypes.byref(buf), self._p(), tag.encode(), 0))
        return _take_buf(buf).decode()

    def images(self, tag_status: int = TagStatus.ANY) -> Iterator[ImageInfo]:
        """The repository's images in digest order."""
        opts = _ffi.init("ECR_IMAGE_LIST_OPTIONS_INIT")
        opts.tag_status = int(tag_status)
        it = ctypes.POINTER(_ffi.ecr_image_iterator)()
        _check(lib.ecr_image_iterator_new(ctypes.byref(it), self._p(), ctypes.byref(opts)))
        try:
            img = ctypes.POINTER(_ffi.ecr_image)()
            while True:
                rc = lib.ecr_image_iterator_next(ctypes.byref(img), it)
                if rc == _ffi.ECR_ITEROVER:
                    return
                _check(rc)
                yield _describe(img)
        finally:
            lib.ecr_image_iterator_free(it)

    def tags(self, after: Optional[str] = None) -> Iterator[Tuple[str, str]]:
        """(tag, digest) pairs in lexical order."""
        it = ctypes.POINTER(_ffi.ecr_tag_iterator)()
        _check(lib.ecr_tag_iterator_new(ctypes.byref(it), self._p(), _b(after)))
        try:
            tag, digest = ctypes.c_char_p(), ctypes.c_char_p()
            while True:
                rc = lib.ecr_tag_iterator_next(ctypes.byref(tag), ctypes.byref(digest), it)
                if rc == _ffi.ECR_ITEROVER:
                    return
                _check(rc)
                yield _s(tag.value), _s(digest.value)
        finally:
            lib.ecr_tag_iterator_free(it)

    # lifecycle
    def set_lifecycle_policy(self, text: str) -> None:
        _check(lib.ecr_repository_set_lifecycle_policy(self._p(), text.encode()))

    def lifecycle_policy(self) -> str:
        buf = _ffi.ecr_buf()
        _check(lib.ecr_repository_lifecycle_policy(ctypes.byref(buf), None, self._p()))
        return _take_buf(buf).decode()

    def lifecycle_preview(self, text: Optional[str] = None,
                          callback: Optional[Callable[[ImageInfo, LifecycleAction, int], Optional[bool]]] = None
                          ) -> List[Tuple[ImageInfo, LifecycleAction, int]]:
        """What a lifecycle policy (text, or the repository's own) would do to
        each image, changing nothing: [(image, action, rule_priority)]. With
        callback, it is called for each image instead (return False to stop)."""
        out = []
        guard = _Callback()

        def on_image(img, action, prio, _payload):
            def run():
                info = _describe(img)
                if callback is None:
                    out.append((info, LifecycleAction(action), prio))
                    return 0
                return _ffi.ECR_EUSER if callback(info, LifecycleAction(action), prio) is False else 0
            rc = guard.guard(run)
            return _ffi.ECR_EUSER if rc is None else rc

        cb = _ffi.ecr_lifecycle_image_cb(on_image)  # referenced until the call returns
        rc = lib.ecr_repository_lifecycle_preview(self._p(), _b(text), cb, None)
        guard.reraise()
        _check(rc)
        return out

    def copy_from(self, source: "Repository", reference: str, tag: Optional[str] = None, **kwargs) -> str:
        """Copy an image (and its blobs) from another repository handle, local
        or remote (ecr_image_copy); returns the digest put here. kwargs as
        for copy()."""
        return copy(self, tag, source, reference, **kwargs)

    def replication_status(self, digest: str) -> List[Tuple[str, str, "ReplicationStatus", Optional[str]]]:
        """[(region, registry_id, status, failure_reason)] of an image, one per destination."""
        out = []
        guard = _Callback()

        def on_status(region, rid, status, reason, _payload):
            rc = guard.guard(lambda: out.append((_s(region), _s(rid), ReplicationStatus(status), _s(reason))) or 0)
            return _ffi.ECR_EUSER if rc is None else rc

        cb = _ffi.ecr_replication_status_cb(on_status)
        rc = lib.ecr_image_replication_status(self._p(), digest.encode(), cb, None)
        guard.reraise()
        _check(rc)
        return out


ReplicationStatus = _ffi.ReplicationStatus
CopyEvent = _ffi.CopyEvent


@dataclasses.dataclass
class CopyProgress:
    """A progress report of copy()."""
    event: "CopyEvent"
    digest: str
    media_type: Optional[str]
    bytes_done: int
    bytes_total: int
    all_bytes_done: int
    all_bytes_total: int
    blobs_done: int
    blobs_total: int


def copy(dst: Repository, dst_tag: Optional[str], src: Repository, src_ref: str,
         platforms: Optional[List[str]] = None, referrers: bool = False, parallel: int = 0, flags: int = 0,
         progress: Optional[Callable[[CopyProgress], Optional[bool]]] = None) -> str:
    """Copy an image from src (tag or digest src_ref) to dst, tagged dst_tag
    there (None: by digest); local or remote handles. platforms picks
    "os/arch[/variant]" from an index; referrers copies signatures and SBOMs
    too; progress(CopyProgress) is called on this thread (return False to
    stop: CallbackError; an exception it raises comes back). Returns the
    digest put on dst."""
    opts = _ffi.ecr_copy_options()
    _check(lib.ecr_copy_options_init(ctypes.byref(opts), _ffi.ECR_COPY_OPTIONS_VERSION))
    arr, n, _keep = _strings(platforms)
    opts.platforms, opts.platforms_count = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p)), n
    opts.flags = flags | (_ffi.ECR_COPY_REFERRERS if referrers else 0)
    opts.parallel = parallel
    guard = _Callback()
    if progress is not None:
        def on_progress(p, _payload):
            def run():
                c = p.contents
                r = progress(CopyProgress(CopyEvent(c.event), _s(c.digest), _s(c.media_type), c.bytes_done,
                                          c.bytes_total, c.all_bytes_done, c.all_bytes_total, c.blobs_done,
                                          c.blobs_total))
                return _ffi.ECR_EUSER if r is False else 0
            rc = guard.guard(run)
            return _ffi.ECR_EUSER if rc is None else rc
        cb = _ffi.ecr_copy_progress_cb(on_progress)  # referenced until the call returns
        opts.progress_cb = cb
    buf = _ffi.ecr_buf()
    rc = lib.ecr_image_copy(ctypes.byref(buf), dst._p(), _b(dst_tag), src._p(), src_ref.encode(), ctypes.byref(opts))
    digest = _take_buf(buf).decode()
    guard.reraise()
    _check(rc)
    return digest


class Replicator(_Handle):
    """Works the replication queues of attached registries::

        with libecr.Replicator(destination=lambda region, registry_id: regs[registry_id]) as r:
            r.attach(source)
            ... push ...
            r.drain(10000)

    destination(region, registry_id) returns the Registry of a destination
    (None: unknown); those registries must stay open while the replicator
    runs (it keeps the ones it was given referenced). It is called from the
    replicator's threads."""

    _free = "ecr_replicator_free"

    def __init__(self, destination: Callable[[str, str], Optional[Registry]], threads: int = 0,
                 max_attempts: int = 0, retry_base_ms: int = 0, poll_ms: int = 0):
        opts = _ffi.ecr_replicator_options()
        _check(lib.ecr_replicator_options_init(ctypes.byref(opts), _ffi.ECR_REPLICATOR_OPTIONS_VERSION))
        opts.threads, opts.max_attempts = threads, max_attempts
        opts.retry_base_ms, opts.poll_ms = retry_base_ms, poll_ms
        self._given = []       # registries handed to C: kept open as long as the replicator
        self._attached = []

        def on_destination(out, region, rid, _payload):
            try:
                reg = destination(_s(region), _s(rid))
                if reg is None:
                    return _ffi.ECR_ENOTFOUND
                self._given.append(reg)
                out[0] = reg._p()
                return 0
            except Exception:  # the job fails and is retried
                return _ffi.ECR_EUSER

        self._dest_cb = _ffi.ecr_replication_destination_cb(on_destination)  # alive as long as the replicator
        opts.destination_cb = self._dest_cb
        ptr = ctypes.POINTER(_ffi.ecr_replicator)()
        _check(lib.ecr_replicator_new(ctypes.byref(ptr), ctypes.byref(opts)))
        self._ptr = ptr

    def attach(self, registry: Registry) -> None:
        _check(lib.ecr_replicator_attach(self._p(), registry._p()))
        self._attached.append(registry)

    def detach(self, registry: Registry) -> None:
        _check(lib.ecr_replicator_detach(self._p(), registry._p()))
        self._attached.remove(registry)

    def drain(self, timeout_ms: int = -1) -> None:
        """Wait until no job is queued or running; BusyError on the timeout."""
        _check(lib.ecr_replicator_drain(self._p(), timeout_ms))

    def close(self) -> None:
        super().close()
        self._given, self._attached = [], []


class Image(_Handle):
    """An image: immutable, readable from any thread."""

    _free = "ecr_image_free"

    def __init__(self, ptr):
        self._ptr = ptr

    @property
    def digest(self) -> str:
        return _s(lib.ecr_image_digest(self._p()))

    @property
    def media_type(self) -> str:
        return _s(lib.ecr_image_media_type(self._p()))

    @property
    def size(self) -> int:
        return lib.ecr_image_size(self._p())

    @property
    def pushed_at(self) -> int:
        return lib.ecr_image_pushed_at(self._p())

    @property
    def tags(self) -> List[str]:
        return _describe(self._p()).tags

    def describe(self) -> ImageInfo:
        return _describe(self._p())

    @property
    def manifest(self) -> bytes:
        p, n = ctypes.c_void_p(), ctypes.c_size_t()
        _check(lib.ecr_image_manifest(ctypes.byref(p), ctypes.byref(n), self._p()))
        return ctypes.string_at(p, n.value)


class Upload(_Handle):
    """A blob upload session: write() the bytes in order, then commit(digest).
    Leaving a with block without commit() cancels nothing: the session can be
    reopened by id until it expires (call cancel() to discard it)."""

    _free = "ecr_upload_free"

    def __init__(self, ptr, repo: Repository):
        self._ptr = ptr
        self._repo = repo
        self._hash = hashlib.sha256()

    @property
    def id(self) -> str:
        return _s(lib.ecr_upload_id(self._p()))

    @property
    def size(self) -> int:
        return lib.ecr_upload_size(self._p())

    def write(self, data: bytes) -> int:
        data = bytes(data)
        _check(lib.ecr_upload_write(self._p(), self.size, data, len(data)))
        self._hash.update(data)
        return len(data)

    def commit(self, digest: Optional[str] = None) -> str:
        """Publish the blob; digest defaults to the sha256 of what this handle wrote."""
        digest = digest or "sha256:" + self._hash.hexdigest()
        _check(lib.ecr_upload_commit(self._p(), digest.encode()))
        return digest

    def cancel(self) -> None:
        _check(lib.ecr_upload_cancel(self._p()))


class Blob(io.RawIOBase):
    """A blob opened for reading: a read-only binary file object."""

    def __init__(self, ptr, repo: Repository):
        super().__init__()
        self._ptr = ptr
        self._repo = repo

    @property
    def size(self) -> int:
        """The size of the whole blob."""
        return lib.ecr_blob_size(self._ptr)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.closed:
            raise ValueError("blob is closed")
        view = memoryview(b).cast("B")
        if len(view) == 0:
            return 0
        buf = (ctypes.c_char * len(view)).from_buffer(view)
        n = ctypes.c_size_t()
        _check(lib.ecr_blob_read(self._ptr, buf, len(view), ctypes.byref(n)))
        return n.value

    def close(self) -> None:
        if self._ptr:
            lib.ecr_blob_free(self._ptr)
            self._ptr = None
        super().close()


# --- Policies ---------------------------------------------------------------

class Policy(_Handle):
    """A parsed IAM-style policy document (immutable; any thread)."""

    _free = "ecr_policy_free"

    def __init__(self, text: str, kind: int = PolicyKind.RESOURCE):
        data = text.encode()
        ptr = ctypes.POINTER(_ffi.ecr_policy)()
        _check(lib.ecr_policy_parse(ctypes.byref(ptr), data, len(data), int(kind)))
        self._ptr = ptr

    def evaluate(self, action: str, resource: str, principal_arn: Optional[str] = None,
                 principal_account: Optional[str] = None,
                 keys: Optional[List[Tuple[str, str]]] = None) -> PolicyDecision:
        req = _ffi.ecr_policy_request()
        _check(lib.ecr_policy_request_init(ctypes.byref(req), _ffi.ECR_POLICY_REQUEST_VERSION))
        req.action, req.resource = action.encode(), resource.encode()
        req.principal_arn, req.principal_account = _b(principal_arn), _b(principal_account)
        if keys:
            arr = (_ffi.ecr_policy_context_key * len(keys))(*[(k.encode(), v.encode()) for k, v in keys])
            req.keys, req.keys_count = arr, len(keys)
        out = ctypes.c_int()
        _check(lib.ecr_policy_evaluate(ctypes.byref(out), self._p(), ctypes.byref(req)))
        return PolicyDecision(out.value)


class LifecyclePolicy(_Handle):
    """A parsed lifecycle policy, evaluated purely over image descriptions."""

    _free = "ecr_lifecycle_policy_free"

    def __init__(self, text: str):
        data = text.encode()
        ptr = ctypes.POINTER(_ffi.ecr_lifecycle_policy)()
        _check(lib.ecr_lifecycle_policy_parse(ctypes.byref(ptr), data, len(data)))
        self._ptr = ptr

    @property
    def rule_count(self) -> int:
        return lib.ecr_lifecycle_policy_rule_count(self._p())


# --- Server ---------------------------------------------------------------

class Server(_Handle):
    """The embedded HTTP server (OCI Distribution API) for a registry::

        with libecr.Server(registry, port=0) as srv:
            print(srv.port)
    """

    _free = "ecr_server_free"

    def __init__(self, registry: Registry, port: int = 0, bind_address: Optional[str] = None,
                 no_auth: bool = False, create_on_push: bool = False, threads: int = 0):
        opts = _ffi.ecr_server_options()
        _check(lib.ecr_server_options_init(ctypes.byref(opts), _ffi.ECR_SERVER_OPTIONS_VERSION))
        opts.port = port
        opts.bind_address = _b(bind_address)
        opts.threads = threads
        opts.flags = (_ffi.ECR_SERVER_NO_AUTH if no_auth else 0) | \
            (_ffi.ECR_SERVER_CREATE_ON_PUSH if create_on_push else 0)
        ptr = ctypes.POINTER(_ffi.ecr_server)()
        _check(lib.ecr_server_new(ctypes.byref(ptr), ctypes.byref(opts)))
        self._ptr = ptr
        self.registry = registry  # must outlive the server
        _check(lib.ecr_server_add_registry(ptr, registry._p(), None))
        self._lock = threading.Lock()

    def set_cache(self, cache: "Cache") -> None:
        """Serve pulls that pull-through cache rules cover through cache (before start())."""
        _check(lib.ecr_server_set_cache(self._p(), cache._p()))
        self._cache = cache  # must outlive the server

    def set_metrics(self, access: int) -> None:
        """Who may read GET /metrics (ServerMetricsAccess: LOCAL, OFF, ANY); before start()."""
        _check(lib.ecr_server_set_metrics(self._p(), int(access)))

    def add_metrics(self, fn: Callable[[], str]) -> None:
        """Append fn()'s text (complete Prometheus families) to every GET /metrics; before
        start(). fn runs on server threads, possibly at once; an exception fails the scrape (500)."""
        def on_metrics(out, _payload):
            try:
                text = fn().encode()
                return lib.ecr_metrics_append(out, text, len(text)) if text else 0
            except Exception:
                return _ffi.ECR_EUSER

        cb = _ffi.ecr_server_metrics_cb(on_metrics)
        _check(lib.ecr_server_add_metrics_cb(self._p(), cb, None))
        self._metrics_cbs = getattr(self, "_metrics_cbs", []) + [cb]  # alive as long as the server

    def metrics(self) -> str:
        """The text a GET /metrics would answer now."""
        buf = _ffi.ecr_buf()
        rc = lib.ecr_server_metrics(ctypes.byref(buf), self._p())
        text = _take_buf(buf).decode()
        _check(rc)
        return text

    def start(self) -> "Server":
        _check(lib.ecr_server_start(self._p()))
        return self

    def stop(self) -> None:
        _check(lib.ecr_server_stop(self._p()))

    @property
    def port(self) -> int:
        return lib.ecr_server_port(self._p())

    def __enter__(self):
        if not self.port:
            self.start()
        return self


# --- Pull-through cache ---------------------------------------------------------

class Cache(_Handle):
    """The pull-through cache: images and blobs of repositories under a
    registry's pull-through cache rules, fetched from upstream when missing.
    upstream: keyword options for the upstream registry handles (as for
    Registry: timeout_ms, ca_file, insecure, ...)."""

    _free = "ecr_cache_free"

    def __init__(self, freshness_seconds: int = 0, log: Optional[Callable[[int, str], None]] = None,
                 log_level: int = _ffi.ECR_LOG_INFO, **upstream):
        opts = _ffi.ecr_cache_options()
        _check(lib.ecr_cache_options_init(ctypes.byref(opts), _ffi.ECR_CACHE_OPTIONS_VERSION))
        opts.freshness_seconds = freshness_seconds
        keep = None
        if upstream:
            up, keep = _registry_options(**upstream)
            opts.upstream_options = ctypes.pointer(up)
        self._log_cb = None
        if log is not None:
            def on_log(level, msg, _payload):
                try:
                    log(int(level), msg.decode(errors="replace"))
                except Exception:
                    pass
            self._log_cb = _ffi.ecr_log_cb(on_log)
            opts.log_cb = self._log_cb
            opts.log_level = log_level
        ptr = ctypes.POINTER(_ffi.ecr_cache)()
        _check(lib.ecr_cache_new(ctypes.byref(ptr), ctypes.byref(opts)))
        del keep
        self._ptr = ptr

    def covers(self, registry: Registry, repository: str) -> bool:
        return _check(lib.ecr_cache_covers(self._p(), registry._p(), repository.encode())) == 1

    def image(self, registry: Registry, repository: str, reference: str) -> Image:
        ptr = ctypes.POINTER(_ffi.ecr_image)()
        _check(lib.ecr_cache_image_get(ctypes.byref(ptr), self._p(), registry._p(), repository.encode(),
                                       reference.encode(), 0))
        return Image(ptr)

    def blob_size(self, registry: Registry, repository: str, digest: str) -> int:
        size = ctypes.c_uint64()
        _check(lib.ecr_cache_blob_stat(self._p(), registry._p(), repository.encode(), digest.encode(),
                                       ctypes.byref(size)))
        return size.value

    def open_blob(self, registry: Registry, repository: str, digest: str, offset: int = 0, length: int = 0) -> Blob:
        ptr = ctypes.POINTER(_ffi.ecr_blob)()
        _check(lib.ecr_cache_blob_open(ctypes.byref(ptr), self._p(), registry._p(), repository.encode(),
                                       digest.encode(), offset, length))
        return Blob(ptr, self)


# --- Usage prices, events, webhooks ---------------------------------------------------

@dataclasses.dataclass
class FsckProblem:
    kind: FsckKind
    severity: FsckSeverity
    account_id: Optional[str]
    region: Optional[str]
    repository: Optional[str]
    digest: Optional[str]
    message: str


def _price_dict(p) -> dict:
    return {"storage_usd_per_gb_month": p.storage_usd_per_gb_month,
            "transfer_in_usd_per_gb": p.transfer_in_usd_per_gb,
            "transfer_out": [(p.transfer_out[i].up_to_gb, p.transfer_out[i].usd_per_gb)
                             for i in range(p.transfer_out_tiers_count)]}


def price_table_default() -> dict:
    """Amazon ECR's list prices: {"storage_usd_per_gb_month", "transfer_in_usd_per_gb",
    "transfer_out": [(up_to_gb, usd_per_gb), ...]} (up_to_gb 0: no limit)."""
    p = _ffi.ecr_price_table()
    _check(lib.ecr_price_table_default(ctypes.byref(p), _ffi.ECR_PRICE_TABLE_VERSION))
    return _price_dict(p)


def price_table_parse(text: str) -> dict:
    """A price table from its JSON form ({"storageUsdPerGbMonth": ..., "transferOut": [...]})."""
    data = text.encode()
    p = _ffi.ecr_price_table()
    _check(lib.ecr_price_table_parse(ctypes.byref(p), data, len(data)))
    return _price_dict(p)


def estimate(usage: Dict[str, int], prices: Optional[dict] = None, months: float = 1.0) -> Dict[str, float]:
    """What usage (a dict of Registry.usage()) costs at prices (default: price_table_default())
    over months: {"storage_usd", "transfer_in_usd", "transfer_out_usd", "total_usd"}."""
    prices = price_table_default() if prices is None else prices
    u = _ffi.init("ECR_USAGE_INIT")
    for name, value in usage.items():
        setattr(u, name, value)
    p = _ffi.ecr_price_table()
    p.version = _ffi.ECR_PRICE_TABLE_VERSION
    p.storage_usd_per_gb_month = prices["storage_usd_per_gb_month"]
    p.transfer_in_usd_per_gb = prices["transfer_in_usd_per_gb"]
    tiers = prices["transfer_out"]
    if len(tiers) > _ffi.ECR_PRICE_TIERS_MAX:
        raise InvalidError(_ffi.ECR_EINVALID, "%d transfer-out tiers (at most %d)" % (len(tiers),
                                                                                     _ffi.ECR_PRICE_TIERS_MAX))
    p.transfer_out_tiers_count = len(tiers)
    for i, (up_to, usd) in enumerate(tiers):
        p.transfer_out[i].up_to_gb, p.transfer_out[i].usd_per_gb = up_to, usd
    c = _ffi.ecr_cost()
    c.version = _ffi.ECR_COST_VERSION
    _check(lib.ecr_usage_estimate(ctypes.byref(c), ctypes.byref(u), ctypes.byref(p), months))
    return {"storage_usd": c.storage_usd, "transfer_in_usd": c.transfer_in_usd,
            "transfer_out_usd": c.transfer_out_usd, "total_usd": c.total_usd}


_EVENT_STRINGS = ("account_id", "region", "repository", "digest", "tag", "reason", "source_account_id",
                  "source_region", "upstream_url", "repository_prefix")
_EVENT_NUMBERS = ("rule_priority", "time_ms", "result", "findings_critical", "findings_high", "findings_medium",
                  "findings_low", "findings_informational", "findings_undefined")


def event_to_json(type: int, tags: Optional[List[str]] = None, **fields) -> str:
    """The EventBridge document ECR sends for an event (ecr_event_to_json), e.g.
    event_to_json(EventType.IMAGE_PUSH, account_id=..., region=..., repository=..., digest=..., tag="v1")."""
    e = _ffi.ecr_event()
    e.version = _ffi.ECR_EVENT_VERSION
    e.type = int(type)
    keep = []
    for name, value in fields.items():
        if name in _EVENT_STRINGS:
            keep.append(_b(value))
            setattr(e, name, keep[-1])
        elif name in _EVENT_NUMBERS:
            setattr(e, name, int(value))
        else:
            raise TypeError("unknown event field %r" % name)
    arr, n, _enc = _strings(tags)
    if n:
        e.tags = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
        e.tags_count = n
    buf = _ffi.ecr_buf()
    rc = lib.ecr_event_to_json(ctypes.byref(buf), ctypes.byref(e))
    text = _take_buf(buf).decode()
    _check(rc)
    return text


class Webhooks(_Handle):
    """Delivers registry events to HTTP endpoints (signed with X-Ecr-Signature when a secret is given)::

        with libecr.Webhooks() as wh:
            wh.add("https://hooks.example/ecr", secret="s3cret")
            with libecr.Registry(url, webhooks=wh) as reg:
                ...

    Close the registries that use it first."""

    _free = "ecr_webhooks_free"

    def __init__(self, queue_capacity: int = 0, max_attempts: int = 0, timeout_ms: int = 0,
                 backoff_initial_ms: int = 0, backoff_max_ms: int = 0):
        opts = _ffi.ecr_webhooks_options()
        _check(lib.ecr_webhooks_options_init(ctypes.byref(opts), _ffi.ECR_WEBHOOKS_OPTIONS_VERSION))
        opts.queue_capacity, opts.max_attempts, opts.timeout_ms = queue_capacity, max_attempts, timeout_ms
        opts.backoff_initial_ms, opts.backoff_max_ms = backoff_initial_ms, backoff_max_ms
        ptr = ctypes.POINTER(_ffi.ecr_webhooks)()
        _check(lib.ecr_webhooks_new(ctypes.byref(ptr), ctypes.byref(opts)))
        self._ptr = ptr

    def add(self, url: str, secret: Optional[str] = None) -> None:
        _check(lib.ecr_webhooks_add(self._p(), url.encode(), _b(secret)))

    def stats(self) -> Dict[str, int]:
        """queued, delivered, failed, dropped, retries, pending."""
        st = _ffi.ecr_webhook_stats()
        st.version = _ffi.ECR_WEBHOOK_STATS_VERSION
        _check(lib.ecr_webhooks_stats(ctypes.byref(st), self._p()))
        return _fields(st)

    def metrics(self) -> str:
        buf = _ffi.ecr_buf()
        rc = lib.ecr_webhooks_metrics(ctypes.byref(buf), self._p())
        text = _take_buf(buf).decode()
        _check(rc)
        return text
