"""Items and batches: the :class:`Item` type and how items become a batch of tensors.

Two ways to batch, one implementation (:func:`collate_items`):

- ``ds.get_dataloader(...)`` / ``DataLoader(ds, collate_fn=ds.collate_fn)``: every array
  becomes a torch tensor; equal-shape arrays are stacked; per-annotator dicts (``masks``
  and ``mask_labels`` in instance or unmerged mode, unmerged ``image_labels`` and
  ``image_categories``) become a list with one dict of tensors per item, since items
  differ in who annotated them; other dicts (``metainfo``) are collated key by key;
  strings and objects become lists. Arrays of different shapes follow ``on_mismatch``.
- a plain ``torch.utils.data.DataLoader(ds, ...)``: torch's ``default_collate`` hands a
  batch of :class:`Item` to the same function in *strict* mode, which gives exactly what
  ``default_collate`` would give where that works (stacked tensors, dicts collated key by
  key, strings in lists) and otherwise raises :class:`~datamint.exceptions.CollateError`
  at the first batch, naming the key and the fix — never a ``TypeError`` or
  ``RuntimeError`` from inside torch. The hand-over uses the extension point that torch
  documents for ``default_collate`` (``default_collate_fn_map``), for our type only.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate

from datamint.exceptions import CollateError, ValidationError

__all__ = [
    "MISMATCH_POLICIES",
    "PER_ANNOTATOR_KEYS",
    "Item",
    "collate_items",
    "detection_collate_fn",
    "make_collate_fn",
]

MISMATCH_POLICIES = ("raise", "pad", "list")
# keys whose value may be a dict keyed by annotator (author / created_by)
PER_ANNOTATOR_KEYS = frozenset({"masks", "mask_labels", "image_labels", "image_categories"})

_FIX = (
    "batch with ds.get_dataloader(...) or DataLoader(ds, collate_fn=ds.collate_fn), which keep "
    "per-annotator values as one dict per item"
)
_SEMANTIC_FIX = (
    "or build the dataset with return_as_semantic_segmentation=True and "
    "semantic_seg_merge_strategy='union' | 'intersection' | 'mode' (one mask tensor per item; "
    "image_labels_merge_strategy / image_categories_merge_strategy do the same for labels)"
)
_SHAPE_FIX = (
    "resize in alb_transform (e.g. albumentations.Resize), or batch with "
    "ds.get_dataloader(on_mismatch='pad' or 'list') / "
    "DataLoader(ds, collate_fn=ds.get_collate_fn(on_mismatch='pad' or 'list'))"
)


class Item(dict):  # type: ignore[type-arg]
    """One dataset item: a ``dict`` of the keys its dataset class documents.

    A plain ``dict`` in every way, except that torch's ``default_collate`` batches a list
    of items with :func:`collate_items` (strict mode), so a plain ``DataLoader(ds)``
    either yields tensors or raises :class:`~datamint.exceptions.CollateError` naming
    the fix.
    """

    __slots__ = ()


# arrays of at most this many bytes are stacked by numpy in one call (spacing, affine, labels);
# larger ones are stacked by default_collate, into shared memory inside a DataLoader worker
_SMALL_ARRAY_BYTES = 4096


def _as_tensor(value: np.ndarray | torch.Tensor) -> torch.Tensor | np.ndarray:
    """An ndarray as a tensor sharing its memory where it can (a copy when read-only or
    not C-contiguous); arrays of strings or objects stay arrays."""
    if isinstance(value, torch.Tensor):
        return value
    if value.dtype.kind in "OUSV":
        return value
    flags = value.flags
    if not (flags.writeable and flags.c_contiguous):
        value = np.array(value, order="C")
    return torch.from_numpy(value)


def _stack_small(values: Sequence[Any]) -> torch.Tensor | None:
    """``values`` stacked by numpy when all are small numeric ndarrays of one shape and
    dtype (the same tensor ``default_collate`` would give, at a fraction of the calls);
    None otherwise."""
    first = values[0]
    if type(first) is not np.ndarray or first.nbytes > _SMALL_ARRAY_BYTES:
        return None
    dtype, shape = first.dtype, first.shape
    if dtype.kind in "OUSV" or not dtype.isnative:
        return None
    for v in values:
        if type(v) is not np.ndarray or v.shape != shape or v.dtype != dtype:
            return None
    return torch.from_numpy(np.stack(values))


def _pad(values: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Zero-pad tensors at the end of every axis to the largest shape."""
    target = tuple(max(s) for s in zip(*(v.shape for v in values), strict=True))
    out = []
    for v in values:
        flat = [w for n, t in reversed(list(zip(v.shape, target, strict=True))) for w in (0, t - n)]
        out.append(torch.nn.functional.pad(v, flat))
    return out


def _stack_arrays(key: str, values: Sequence[Any], on_mismatch: str, strict: bool) -> Any:
    small = _stack_small(values)
    if small is not None:
        return small
    converted = [_as_tensor(v) for v in values]
    tensors = [t for t in converted if isinstance(t, torch.Tensor)]
    if len(tensors) < len(converted):
        if strict:
            raise CollateError(f"cannot batch key {key!r}: it holds arrays of strings or objects")
        return list(values)
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        if on_mismatch == "list" and not strict:
            return tensors
        if on_mismatch == "pad" and not strict and len({len(s) for s in shapes}) == 1:
            tensors = _pad(tensors)
        else:
            raise CollateError(
                f"cannot batch key {key!r}: items have different shapes {sorted(shapes)}; "
                + _SHAPE_FIX
                + (", " + _SEMANTIC_FIX if key in PER_ANNOTATOR_KEYS else "")
            )
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        if strict:
            raise CollateError(
                f"cannot batch key {key!r}: items have different dtypes {sorted(map(str, dtypes))}"
                "; give the dataset an image_dtype (e.g. image_dtype=numpy.float32)"
            )
        return list(tensors)
    # default_collate stacks straight into shared memory inside a DataLoader worker
    return default_collate(tensors)


def _tensors_in(value: Any) -> Any:
    """``value`` with every ndarray (also inside dicts and lists) turned into a tensor."""
    if type(value) is dict:  # the common case, without the Mapping ABC check
        return {k: _tensors_in(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _as_tensor(value)
    if isinstance(value, Mapping):
        return {k: _tensors_in(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tensors_in(v) for v in value]
    return value


def _collate_value(key: str, values: Sequence[Any], on_mismatch: str, strict: bool) -> Any:
    first = values[0]
    if isinstance(first, np.ndarray | torch.Tensor):
        if not all(isinstance(v, np.ndarray | torch.Tensor) for v in values):
            if strict:
                raise CollateError(f"cannot batch key {key!r}: some items hold no array")
            return [_tensors_in(v) for v in values]
        return _stack_arrays(key, values, on_mismatch, strict)
    if isinstance(first, Mapping):
        if not all(isinstance(v, Mapping) for v in values):
            if strict:
                raise CollateError(f"cannot batch key {key!r}: some items hold no dict")
            return [_tensors_in(v) for v in values]
        per_annotator = key.split(".")[0] in PER_ANNOTATOR_KEYS
        if not strict and per_annotator:
            return [_tensors_in(v) for v in values]
        keys = list(first)
        if any(list(v) != keys for v in values):
            if strict:
                who = "annotators" if per_annotator else "keys"
                raise CollateError(
                    f"cannot batch key {key!r} with torch's default collate: its {who} differ "
                    f"between items ({sorted(map(str, first))} vs "
                    f"{sorted(map(str, next(v for v in values if list(v) != keys)))}); "
                    + _FIX
                    + (", " + _SEMANTIC_FIX if per_annotator else "")
                )
            return [_tensors_in(v) for v in values]
        return {
            k: _collate_value(f"{key}.{k}", [v[k] for v in values], on_mismatch, strict)
            for k in keys
        }
    if type(first) is str and all(type(v) is str for v in values):  # fast path: plain str
        return list(values)
    scalar = bool | numbers.Number | np.generic
    if not isinstance(first, str) and all(isinstance(v, scalar) for v in values):
        return torch.as_tensor(np.asarray(values))
    if all(isinstance(v, str) for v in values):
        return list(values)
    if strict:
        raise CollateError(
            f"cannot batch key {key!r} with torch's default collate: it holds "
            f"{type(first).__name__} values; build the dataset with item_format='standard' "
            f"(arrays, numbers and strings only), or {_FIX}"
        )
    return list(values)


def collate_items(
    batch: Sequence[Mapping[str, Any]], on_mismatch: str = "raise", *, strict: bool = False
) -> dict[str, Any]:
    """Collate item dicts into one batch dict of tensors (module docstring).

    Args:
        batch: Items from one of the dataset classes (all with the same keys).
        on_mismatch: When arrays of one key differ in shape: ``'raise'`` (default),
            ``'pad'`` (zero-pad at the end of each axis to the largest shape, then stack;
            ranks must agree) or ``'list'`` (a list of tensors).
        strict: torch ``default_collate`` semantics: everything must stack or collate key
            by key; used when a plain ``DataLoader`` batches items.

    Returns:
        A dict with the items' keys: tensors ``(B, ...)`` for arrays and numbers, lists
        for strings, per-annotator dicts and objects, dicts for other dicts.

    Raises:
        CollateError: When items cannot be batched (different keys, shapes under
            ``'raise'``, or in strict mode anything ``default_collate`` cannot batch);
            names the key and the fix.
        ValidationError: For an unknown ``on_mismatch``.
    """
    if on_mismatch not in MISMATCH_POLICIES:
        raise ValidationError(f"on_mismatch={on_mismatch!r} is not one of {MISMATCH_POLICIES}")
    if not batch:
        return {}
    keys = list(batch[0])
    for item in batch[1:]:
        if list(item) != keys:
            raise CollateError(
                f"cannot batch items with different keys: {keys} vs {list(item)}; items of "
                "one dataset share their keys, so these come from different datasets"
            )
    return {
        key: _collate_value(key, [item[key] for item in batch], on_mismatch, strict) for key in keys
    }


def make_collate_fn(
    on_mismatch: str = "raise",
) -> Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]:
    """A picklable :func:`collate_items` with a fixed ``on_mismatch`` policy.

    Raises:
        ValidationError: For an unknown ``on_mismatch``.
    """
    if on_mismatch not in MISMATCH_POLICIES:
        raise ValidationError(f"on_mismatch={on_mismatch!r} is not one of {MISMATCH_POLICIES}")
    return functools.partial(collate_items, on_mismatch=on_mismatch)


def detection_collate_fn(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Collate for detection: ``image`` stacked, ``boxes``/``box_labels`` kept as lists.

    Args:
        batch: Items with ``return_boxes=True``.

    Returns:
        A dict with ``image`` a tensor ``(B, C, H, W)``, ``boxes`` a list of ``(N_i, 4)``
        float32 tensors and ``box_labels`` a list of ``(N_i,)`` int64 tensors; other keys
        as lists (arrays as tensors).

    Raises:
        CollateError: If images differ in shape.
    """
    out: dict[str, Any] = {key: [_tensors_in(item[key]) for item in batch] for key in batch[0]}
    out["image"] = _stack_arrays("image", [item["image"] for item in batch], "raise", False)
    return out


def _strict_default_collate(
    batch: Sequence[Mapping[str, Any]], *, collate_fn_map: Any = None
) -> dict[str, Any]:
    return collate_items(batch, strict=True)


def _register_with_default_collate() -> None:
    """Make torch's ``default_collate`` batch :class:`Item` lists with our strict collate."""
    try:
        from torch.utils.data._utils.collate import default_collate_fn_map
    except ImportError:  # pragma: no cover - torch moved it; plain DataLoaders use torch's rules
        return
    default_collate_fn_map[Item] = _strict_default_collate


_register_with_default_collate()
