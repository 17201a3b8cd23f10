"""Every error and warning that datamint raises.

The tree keeps the names of the existing Datamint client and adds a
builtin as second parent where one fits, so ``except ValueError`` around ``split()``
or ``except LookupError`` around a lookup keeps working::

    DatamintException
    ├── AuthenticationError                    # 401, or no API key in any source
    │   └── ApiKeyRejectedError(NetworkError)  # the connectivity probe got 401
    ├── PermissionDeniedError                  # 403
    ├── ItemNotFoundError(LookupError)         # 404; alias ResourceNotFoundError
    ├── EntityAlreadyExistsError               # 409
    ├── DefaultProjectNotSetError
    ├── ValidationError(ValueError)            # 400/422, or bad input to the client
    ├── NetworkError                           # transport failure after retries; failed probe
    ├── ServerError                            # 5xx after retries; .status_code
    ├── ModelNotDeployedError, JobTimeoutError # kept for name compatibility
    ├── DownloadError
    │   └── IntegrityError                     # size/sha256 mismatch; the cached file is kept
    ├── CacheError
    │   ├── CacheCorruptedError                # entry removed and rebuilt
    │   └── OfflineCacheMissError              # offline, and a file or record was never synced
    ├── ReaderError
    │   ├── UnsupportedFormatError(ValueError)
    │   └── InvalidResourceError(ValueError)   # decodes, but shape/geometry/tags invalid
    └── DatamintDatasetException
        ├── AnnotationError(ValueError)        # mask/image shape mismatch, unknown label
        ├── SplitError(ValueError)             # ratios, missing assignments, snapshots
        ├── ItemError                          # an item could not be built; names the resource
        └── CollateError(ValueError)           # items that cannot be batched; names the fix
    DatamintWarning(UserWarning)               # every warning we issue

Errors that come from an HTTP exchange carry ``method``, ``url`` and ``status_code``
(never the API key). Messages say what went wrong, on which entity, and what to do.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnnotationError",
    "ApiKeyRejectedError",
    "AuthenticationError",
    "CacheCorruptedError",
    "CacheError",
    "CollateError",
    "DatamintDatasetException",
    "DatamintException",
    "DatamintWarning",
    "DefaultProjectNotSetError",
    "DownloadError",
    "EntityAlreadyExistsError",
    "IntegrityError",
    "InvalidResourceError",
    "ItemError",
    "ItemNotFoundError",
    "JobTimeoutError",
    "ModelNotDeployedError",
    "NetworkError",
    "OfflineCacheMissError",
    "PermissionDeniedError",
    "ReaderError",
    "ResourceNotFoundError",
    "ServerError",
    "SplitError",
    "UnsupportedFormatError",
    "ValidationError",
]


class DatamintException(Exception):
    """Root of every datamint error.

    Args:
        message: What went wrong, naming the entity involved.
        method: HTTP method of the request that failed, when there was one.
        url: URL of that request (it never contains the API key).
        status_code: HTTP status of the response, when there was one.
        body: The response body, parsed as JSON when it was JSON, else text.
    """

    def __init__(
        self,
        message: str = "",
        *,
        method: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.status_code = status_code
        self.body = body


class AuthenticationError(DatamintException):
    """The server answered 401, or no API key was found in any source."""


class PermissionDeniedError(DatamintException):
    """The server answered 403: the user is not a member of that project."""


class ItemNotFoundError(DatamintException, LookupError):
    """The server answered 404, or a project/resource name matched nothing."""


ResourceNotFoundError = ItemNotFoundError


class EntityAlreadyExistsError(DatamintException):
    """The server answered 409: the entity exists already."""


class DefaultProjectNotSetError(DatamintException):
    """A project-scoped call was made before ``select_project()``."""


class ValidationError(DatamintException, ValueError):
    """The server answered 400/422, or an argument is invalid."""


class NetworkError(DatamintException):
    """The server could not be reached (after retries), or the probe failed."""


class ApiKeyRejectedError(AuthenticationError, NetworkError):
    """The connectivity probe reached the server and it answered 401.

    Both an :class:`AuthenticationError` (the key is wrong) and a
    :class:`NetworkError` (the type of every failed connectivity probe).
    """


class ServerError(DatamintException):
    """The server answered 5xx (after retries); ``status_code`` holds the status."""


class ModelNotDeployedError(DatamintException):
    """Kept for name compatibility with the existing client."""


class JobTimeoutError(DatamintException):
    """Kept for name compatibility with the existing client."""


class DownloadError(DatamintException):
    """A file download failed; nothing already cached was changed."""


class IntegrityError(DownloadError):
    """Downloaded bytes do not match the expected size or sha256.

    The partial download is discarded; a previously cached file is kept.
    """


class CacheError(DatamintException):
    """The local cache could not be read or written."""


class CacheCorruptedError(CacheError):
    """A cache entry failed its checksum; it is removed and rebuilt."""


class OfflineCacheMissError(CacheError):
    """Offline, something needed is not in the local cache or the project manifest.

    The message names the missing resource, annotation or record and says how to get it:
    run ``prefetch()`` on the dataset, or ``datamint download --project NAME``, while the
    server is reachable.
    """


class ReaderError(DatamintException):
    """A file could not be decoded."""


class UnsupportedFormatError(ReaderError, ValueError):
    """No reader accepts this file; the message lists the readers tried."""


class InvalidResourceError(ReaderError, ValueError):
    """The file decodes, but its shape, geometry or tags are invalid."""


class DatamintDatasetException(DatamintException):
    """A dataset could not be built or an item could not be produced."""


class AnnotationError(DatamintDatasetException, ValueError):
    """An annotation is inconsistent with its resource (shape, label, frame)."""


class SplitError(DatamintDatasetException, ValueError):
    """A split request is invalid (ratios, missing assignments, snapshots)."""


class ItemError(DatamintDatasetException):
    """An item could not be built; the message names the item, its resource and the cause.

    Raised from ``dataset[i]`` (also inside a DataLoader worker, from where PyTorch
    re-raises it in the training loop) with the original exception as ``__cause__``.
    """


class CollateError(DatamintDatasetException, ValueError):
    """Items cannot be put into one batch; the message names the key and the fix."""


class DatamintWarning(UserWarning):
    """Every warning datamint issues, filterable as one class."""
