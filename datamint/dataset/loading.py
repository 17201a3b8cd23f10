"""Resource and segmentation files to decoded arrays, through the disk caches.

``FileCache`` holds the downloaded bytes; ``ArrayCache`` holds what the readers
decode from them, keyed by content sha256 + reader + reader version + operation,
so a changed file or a new reader never gives a stale array. Images are kept in the
loader's ``cache_format``: ``"b2nd"`` (default) and ``"npy.gz"`` store one slice per
chunk/file through :class:`~datamint.storage.slice_cache.SliceCache` and come back as
:class:`~datamint.storage.slice_cache.StoredVolume` (``np.take`` of one slice reads only
that slice); ``"npy"`` keeps the raw memory-mapped ``.npy``. Masks are always ``.npy``.

Item dtypes (``image_dtype``): by default, as the existing client: uint16 is min-max scaled to
uint8 per volume when the cache entry is built, and NIfTI items are cast to float64 per
item (the cache keeps the file's compact stored dtype, e.g. int16 CT at a quarter of the
float64 bytes). ``"stored"`` returns the reader's values in their own dtype, unscaled;
a numpy dtype casts every item to it in the worker (e.g. ``np.float32``).
"""

from __future__ import annotations

import logging
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import DTypeLike

from datamint.entities import Annotation, Resource
from datamint.exceptions import AnnotationError, DatamintWarning, ReaderError
from datamint.geometry import Geometry
from datamint.geometry_grids import GridMap, same_grid
from datamint.readers import FileHint, HeaderInfo, get_reader, read_file, read_header
from datamint.storage.array_cache import ArrayCache
from datamint.storage.hashing import file_sha256
from datamint.storage.slice_cache import SliceCache, StoredVolume
from datamint.targets.masks import binarize_mask

__all__ = ["CACHE_FORMATS", "DEFAULT_CACHE_FORMAT", "ItemLoader"]

_LOG = logging.getLogger(__name__)
_V = TypeVar("_V")

IMAGE_RULES_VERSION = "1"  # bump when the dtype rules of to_item_dtype change
MASK_RULES_VERSION = "1"
CACHE_FORMATS = ("b2nd", "npy.gz", "npy")
DEFAULT_CACHE_FORMAT = "b2nd"  # chosen by benchmarks/bench_slice_cache.py, see docs/cache.md
# as the existing client: the dtype items of a reader's files have by default (cast per item)
CONTRACT_ITEM_DTYPES = {"nifti": np.dtype(np.float64)}


def parse_image_dtype(image_dtype: DTypeLike | None) -> str | np.dtype | None:
    """Check an ``image_dtype`` argument: None, ``"stored"`` or anything ``np.dtype`` takes.

    Raises:
        ValueError: For anything else (names the value).
    """
    if image_dtype is None:
        return None
    if isinstance(image_dtype, str) and image_dtype == "stored":
        return "stored"
    try:
        dtype: np.dtype = np.dtype(image_dtype)
    except TypeError:
        raise ValueError(
            "image_dtype must be None (default dtypes), 'stored' or a numpy dtype; "
            f"got {image_dtype!r}"
        ) from None
    return dtype


def to_item_dtype(array: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply the existing client's item dtype rule.

    uint16 input is min-max scaled to uint8 over the whole decoded array (a volume is
    scaled as one, so its slices stay comparable); every other dtype is kept.

    Returns:
        The array and ``extra`` facts (``{"scaled_from": "uint16", "min", "max"}`` when
        scaled) for the cache sidecar.
    """
    if array.dtype != np.uint16:
        return array, {}
    lo, hi = int(array.min()), int(array.max())
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    scaled = ((array.astype(np.float32) - lo) * scale).round().clip(0, 255).astype(np.uint8)
    return scaled, {"scaled_from": "uint16", "min": lo, "max": hi}


class _Memo(Generic[_V]):
    """A tiny per-process LRU (entries, not bytes) for small objects like headers."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, _V] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], _V]) -> _V:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = make()
        self._items[key] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value


class ItemLoader:
    """Decodes resources and segmentation files for a dataset, with caching.

    Args:
        fetch_resource: Returns the local path of a resource's file (downloads on a miss).
        fetch_segmentation: Returns the local path of an annotation's file.
        array_cache: Where decoded arrays are kept (masks, and images in ``"npy"`` format).
        cache_format: How decoded images are stored: ``"b2nd"`` (default), ``"npy.gz"`` or
            ``"npy"``; None means the default.
        image_dtype: None, ``"stored"`` or a numpy dtype (module
            docstring).

    Raises:
        ValueError: For an unknown ``cache_format`` or ``image_dtype``.
    """

    def __init__(
        self,
        fetch_resource: Callable[[Resource], Path],
        fetch_segmentation: Callable[[Annotation], Path],
        array_cache: ArrayCache,
        cache_format: str | None = None,
        image_dtype: DTypeLike | None = None,
    ) -> None:
        image_dtype = parse_image_dtype(image_dtype)
        cache_format = cache_format or DEFAULT_CACHE_FORMAT
        if cache_format not in CACHE_FORMATS:
            raise ValueError(
                f"unknown cache_format {cache_format!r}; expected one of {', '.join(CACHE_FORMATS)}"
            )
        self._fetch_resource = fetch_resource
        self._fetch_segmentation = fetch_segmentation
        self.array_cache = array_cache
        self.cache_format = cache_format
        self.image_dtype = image_dtype
        self.slice_cache = (
            None if cache_format == "npy" else SliceCache(array_cache.root, cache_format)
        )
        self._headers: _Memo[HeaderInfo] = _Memo(64)
        # open volumes (StoredVolume handles, or memory maps for "npy"), per version and axis
        self._volumes: _Memo[tuple[np.ndarray | StoredVolume, dict[str, Any]]] = _Memo(64)
        self._masks: _Memo[np.ndarray] = _Memo(256)  # memory-mapped masks per annotation version
        # (annotation version, resource version) -> GridMap | None
        self._grids: _Memo[GridMap | None] = _Memo(256)
        self._image_keys: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._warned_uint16 = False

    @staticmethod
    def version(resource: Resource) -> tuple[Any, ...]:
        """What identifies one version of a resource's file:
        :attr:`Resource.file_version <datamint.entities.Resource.file_version>`."""
        return resource.file_version

    @staticmethod
    def _hint(resource: Resource) -> FileHint:
        return FileHint(
            filename=resource.filename, mimetype=resource.mimetype, storage=resource.storage
        )

    def image(self, resource: Resource, axis_hint: int | None = None) -> np.ndarray | StoredVolume:
        """The resource's pixels as ``(C, N, H, W)``, read-only, decoded at most once per node.

        The dtype is the cached one (module docstring: by default uint16 scaled to uint8,
        with a warning once per loader; otherwise the reader's, e.g. int16 CT); items are
        then cast to :meth:`item_dtype`.

        Args:
            resource: The resource.
            axis_hint: The spatial axis (0 axial, 1 coronal, 2 sagittal) the caller will
                slice; the per-slice formats build that layout first.

        Returns:
            A memory-mapped ndarray (``"npy"``) or a :class:`StoredVolume` (other formats).

        Raises:
            ReaderError: If the file cannot be decoded; names the resource.
        """
        array, extra = self._volumes.get(
            (resource.file_version, axis_hint), lambda: self._open_image(resource, axis_hint)
        )
        if extra.get("scaled_from") == "uint16" and not self._warned_uint16:
            self._warned_uint16 = True
            warnings.warn(
                f"resource {resource.id} ({resource.filename}) is uint16; it was min-max scaled "
                "to uint8 as the Datamint item format requires (further uint16 resources are "
                "scaled without this warning)",
                DatamintWarning,
                stacklevel=3,
            )
        return array

    def _open_image(
        self, resource: Resource, axis_hint: int | None
    ) -> tuple[np.ndarray | StoredVolume, dict[str, Any]]:
        """The cached decoded volume and its extra facts, decoding on a miss."""
        hint = self._hint(resource)
        contract = self.image_dtype is None

        def build() -> tuple[np.ndarray, dict[str, Any]]:
            path = self._fetch_resource(resource)
            try:
                result = read_file(path, hint)
            except ReaderError as exc:
                raise type(exc)(f"resource {resource.id} ({resource.filename}): {exc}") from exc
            return to_item_dtype(result.array) if contract else (result.array, {})

        key = self._image_key(resource)
        if self.slice_cache is not None:
            return self.slice_cache.volume(key, build, axis_hint)
        return self.array_cache.get_or_build(key, build)

    def _image_key(self, resource: Resource) -> dict[str, Any]:
        """The decoded image's cache key fields, resolved once per resource version
        (file lookup, format sniff, content hash)."""
        key = self._image_keys.get(resource.file_version)
        if key is None:
            path = self._fetch_resource(resource)
            reader = get_reader(path, self._hint(resource))
            key = {
                "op": "image",
                "content": resource.sha256 or file_sha256(path),
                "reader": reader.name,
                "reader_version": reader.version,
                "rules": IMAGE_RULES_VERSION if self.image_dtype is None else "stored",
            }
            self._image_keys[resource.file_version] = key
        return key

    def item_dtype(self, resource: Resource) -> np.dtype | None:
        """The dtype the resource's items are cast to, or None to keep the cached dtype.

        None for ``image_dtype='stored'``; the given dtype when one was given; by default
        :data:`CONTRACT_ITEM_DTYPES` of the resource's reader (NIfTI: float64).
        """
        if self.image_dtype is None:
            key = self._image_keys.get(resource.file_version) or self._image_key(resource)
            return CONTRACT_ITEM_DTYPES.get(key["reader"])
        return None if isinstance(self.image_dtype, str) else self.image_dtype

    def header(self, resource: Resource) -> HeaderInfo:
        """The resource's header read (shape, dtype, geometry, metainfo), memoised per process."""
        return self._headers.get(
            resource.file_version,
            lambda: read_header(self._fetch_resource(resource), self._hint(resource)),
        )

    def metainfo(self, resource: Resource) -> Any:
        """The reader's metainfo for the resource (pydicom Dataset, NIfTI dict, or None)."""
        return self.header(resource).metainfo

    def geometry(self, resource: Resource) -> Geometry | None:
        """The resource's geometry (affine in RAS mm over our ``(n, h, w)`` index), or None."""
        return self.header(resource).geometry

    def mask(self, annotation: Annotation) -> np.ndarray:
        """The annotation's file as a binary uint8 ``(N, H, W)`` array, memory-mapped.

        Memoised per annotation version (id + the fields that version its file, as the
        file cache uses), so the items of one volume do not look the file up again.

        Raises:
            AnnotationError: If the file cannot be decoded or its channels differ; names
                the annotation and its resource.
        """
        return self._masks.get(annotation.file_version, lambda: self._open_mask(annotation))

    def mask_on_image(self, annotation: Annotation, resource: Resource | None) -> np.ndarray:
        """:meth:`mask` on its resource's voxel grid (``resource`` None: as stored).

        A mask file whose geometry maps the same voxels in another axis order or
        direction (a mask NIfTI saved LPS beside an RAS image, or with its axes
        reversed) is permuted and flipped onto the image's ``(N, H, W)`` grid, as a view.
        Masks without patient geometry (PNG, video frames), or whose grid does not match
        the image's beyond axis order, are used index for index, as stored.

        Raises:
            AnnotationError: As :meth:`mask`.
        """
        mask = self.mask(annotation)
        if resource is None:
            return mask
        key = (annotation.file_version, resource.file_version)
        grid = self._grids.get(key, lambda: self._grid_of(annotation, resource, mask.shape))
        return mask if grid is None else grid.apply(mask)

    def _grid_of(
        self, annotation: Annotation, resource: Resource, mask_shape: tuple[int, ...]
    ) -> GridMap | None:
        from datamint.geometry import Calibration, NAxis

        image = self.geometry(resource)
        if image is None or image.calibration is not Calibration.PATIENT:
            return None
        if image.n_axis is not NAxis.SPACE:
            return None
        try:
            path = self._fetch_segmentation(annotation)
            own = read_header(path, FileHint(filename=annotation.get("file"))).geometry
        except ReaderError:
            return None
        if own is None or own.calibration is not Calibration.PATIENT:
            return None
        dhw = tuple(self.header(resource).shape[1:])
        try:
            grid = same_grid(
                image.to_space("RAS").affine, dhw, own.to_space("RAS").affine, mask_shape
            )
        except ValueError:
            _LOG.debug("mask of annotation %s: grid differs from its image's", annotation.id)
            return None
        return None if grid.identity else grid

    def _open_mask(self, annotation: Annotation) -> np.ndarray:
        path = self._fetch_segmentation(annotation)
        what = (
            f"annotation {annotation.id} ({annotation.identifier!r} by {annotation.author}) "
            f"on resource {annotation.resource_id}"
        )

        def build() -> tuple[np.ndarray, dict[str, Any]]:
            try:
                result = read_file(path, FileHint(filename=annotation.get("file")))
            except ReaderError as exc:
                raise AnnotationError(f"{what}: cannot decode its file: {exc}") from exc
            return binarize_mask(result.array, what=what), {}

        reader = get_reader(path, FileHint(filename=annotation.get("file")))
        key = {
            "op": "mask",
            "content": annotation.get("sha256") or file_sha256(path),
            "reader": reader.name,
            "reader_version": reader.version,
            "rules": MASK_RULES_VERSION,
        }
        array, _ = self.array_cache.get_or_build(key, build)
        return array

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_headers"] = _Memo(self._headers.size)
        state["_volumes"] = _Memo(self._volumes.size)
        state["_masks"] = _Memo(self._masks.size)
        state["_grids"] = _Memo(self._grids.size)
        return state
