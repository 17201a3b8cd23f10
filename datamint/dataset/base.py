"""``DatamintBaseDataset``: a PyTorch map-style dataset over a Datamint project.

State, all explicit (see :meth:`DatamintBaseDataset._derive`):

- ``_config`` (:class:`~datamint.dataset.config.DatasetConfig`): the constructor
  arguments, immutable, shared by every dataset derived from this one;
- ``_source`` (:class:`~datamint.dataset.source.DataSource`): the client, the manifest
  recorder and the per-process loader, shared likewise;
- ``_prepared`` (:class:`~datamint.dataset.preparation.Prepared`): resources,
  annotations and schema, fetched on first access; subsets hold a selection of it;
- ``_slices`` (:class:`~datamint.dataset.item_index.SliceSpec` or None): what a sliced
  view cuts; with ``_prepared`` it decides the item index
  (:class:`~datamint.dataset.item_index.WholeResources` or ``Slices``);
- the split attributes and the transform.

An item's path: ``ds[i]`` -> the item index gives ``(resource position, region)`` ->
this process's :class:`~datamint.dataset.item_builder.ItemBuilder` builds it.
"""

from __future__ import annotations

import gc
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np
from numpy.typing import DTypeLike
from torch.utils.data import ConcatDataset, DataLoader, Dataset, get_worker_info

from datamint.dataset.augment import TransformRunner
from datamint.dataset.collate import Item, make_collate_fn
from datamint.dataset.config import DatasetConfig, build_config
from datamint.dataset.item_builder import ItemBuilder
from datamint.dataset.item_geometry import metadata_geometry
from datamint.dataset.item_index import ItemIndex, Slices, SliceSpec, WholeResources
from datamint.dataset.preparation import prepare
from datamint.dataset.prepared import EntityCache, Prepared
from datamint.dataset.regions import Region
from datamint.dataset.selection import filter_positions, patient_groups
from datamint.dataset.source import DataSource
from datamint.entities import Annotation, Project, Resource
from datamint.exceptions import DatamintDatasetException, DatamintException, ItemError
from datamint.geometry_planes import plane_view

if TYPE_CHECKING:
    from datamint.agreement import AgreementTable
    from datamint.api.reader import ProjectReader
    from datamint.dataset.annotation_processor import AnnotationProcessor
    from datamint.dataset.label_schema import LabelSchema
    from datamint.dataset.loading import ItemLoader
    from datamint.dataset.prefetch import PrefetchReport
    from datamint.dataset.streaming import StreamDataset
    from datamint.geometry import Geometry
    from datamint.splits.result import SplitResult

__all__ = ["DatamintBaseDataset", "DatamintDatasetException"]

_LOG = logging.getLogger(__name__)
D = TypeVar("D", bound="DatamintBaseDataset")
E = TypeVar("E", bound="DatamintBaseDataset")


class DatamintBaseDataset(Dataset[dict[str, Any]]):
    """A PyTorch dataset over a Datamint project's resources and their annotations.

    Construction sends nothing; the first access that needs server data (``len``,
    indexing, ``.resources``) fetches the project's resources, annotations and label
    schema once. Items are dicts (see ``item_format``); ``DataLoader(ds, ...)`` batches
    them into tensors when their shapes agree, and ``ds.get_dataloader(...)`` batches
    any of them (per-annotator values as one dict per item).

    Args:
        project: A project name (a UUID string is treated as a name) or a ``Project``.
        resources: Instead of a project: resources as ``Resource`` entities, records
            (dicts) or resource ids (strings). Exactly one of ``project`` /
            ``resources`` must be given.
        auto_update: Probe the server's connectivity when the client is built;
            preparation always fetches the current resources and annotations.
        api_key: The API key; default: ``DATAMINT_API_KEY``, then the config file
            ``~/.config/datamintapi/datamintapi.yaml`` that ``datamint config`` writes.
        server_url: The server URL; default: ``DATAMINT_API_URL``, then that file.
        return_metainfo: Items carry ``metainfo`` (see ``item_format``).
        return_segmentations: Items carry ``masks`` (and ``mask_labels`` for instances).
        return_boxes: Items carry ``boxes`` (float32 ``(N, 4)`` pixel ``x1, y1, x2, y2``)
            and ``box_labels`` (int64 ``(N,)``) from ``square`` annotations.
        return_as_semantic_segmentation: ``masks`` per annotator become one-hot float32
            ``(L + 1, ...)`` (channel 0 background, channel k class
            ``segmentation_labels[k - 1]``) instead of uint8 instance stacks ``(N, ...)``.
        semantic_seg_merge_strategy: Merge annotators into one float32 tensor
            ``(L + 1, ...)``: ``'union'`` (any annotator), ``'intersection'`` (every
            annotator who drew on the item) or ``'mode'`` (at least half of them; a tie
            counts). Each channel is merged on its own, so the result need not be
            one-hot. Requires ``return_as_semantic_segmentation=True``.
        alb_transform: An albumentations transform, run on image and masks (and boxes)
            together; volumes and videos replay one draw on every frame and mask
            (``ReplayCompose`` with ``volume`` / ``mask3d``). Seeded per DataLoader worker.
        include_unannotated: Keep resources with no annotation left after filtering.
        include_annotators: Annotator emails (``created_by``) to keep; None keeps all.
        exclude_annotators: Annotator emails to drop (not with ``include_annotators``).
        include_segmentation_names: Segmentation classes to keep; they also decide the
            mask channels (the kept classes in schema order, numbered 1..L) and
            ``segmentation_labels``.
        exclude_segmentation_names: Segmentation classes to drop (not with
            ``include_segmentation_names``).
        include_image_label_names: Image labels to keep; they decide the entries of
            ``image_labels`` vectors.
        exclude_image_label_names: Image labels to drop (not with
            ``include_image_label_names``).
        include_frame_label_names: Frame labels to keep (frame labels filter resources;
            they are not emitted).
        exclude_frame_label_names: Frame labels to drop (not with
            ``include_frame_label_names``).
        allow_external_annotations: Keep identifiers the worklists do not define (they
            get the next codes, in sorted order).
        image_labels_merge_strategy: Merge annotators' multi-hot ``image_labels``:
            ``'union'``, ``'intersection'`` or ``'mode'``; None keeps one int32 vector per
            annotator.
        image_categories_merge_strategy: ``'mode'`` (int64 scalar, ties to the lowest
            index, -1 when none), ``'union'`` / ``'intersection'`` (int32 multi-hot); None
            keeps one int64 index per annotator (their first category).
        worklists: Where the label schema comes from: ``'all'`` the project's worklists,
            a list of worklist ids or names, or None to infer it from the annotations.
        trusted_annotation_sources: Annotation ``source`` values to keep (annotations
            without a source are always kept); None keeps all.
        cache_dir: Cache root; default ``DATAMINT_CACHE_DIR``, else the platform's user
            cache folder.
        offline: Build from the local manifest and caches with no network call; default:
            the ``DATAMINT_OFFLINE`` environment variable. Every online preparation
            writes that manifest. A file missing from the cache raises
            ``OfflineCacheMissError`` naming it and what to run.
        cache_format: How decoded images are cached: ``"b2nd"`` (default; blosc2, one LZ4
            chunk per slice), ``"npy.gz"`` (per-slice gzip, as the existing client) or
            ``"npy"`` (raw, memory-mapped).
        image_dtype: The dtype of ``image``. Default: float32 with the file's values
            (Hounsfield units for CT, 0-255 for PNG and video) in the standard item format;
            in the client format the existing client's dtypes (NIfTI float64, uint16
            min-max scaled to uint8, others as decoded). ``"stored"``: the values in the
            file's own compact dtype (int16 CT, uint8 video), the cheapest to send between
            processes (convert on the GPU). A numpy dtype: cast to it in the worker.
        item_format: ``"standard"`` (default): items hold only arrays, numbers and
            strings (``image``, target keys, ``spacing``, ``affine``, ``metainfo`` with
            the resource id, filename, modality, plane and slice index); the entities
            and the reader's header stay reachable through :meth:`get_resource`,
            :meth:`get_annotations` and :meth:`get_header`. ``"client"``: the existing
            Datamint client's keys (``metainfo`` the reader's header, ``annotations``,
            ``resource``) plus ``spacing`` and ``affine``.
        on_error: What an unreadable resource does to ``ds[i]``: ``"raise"`` (default:
            datamint's own error, e.g. a ``ReaderError``, naming the resource, or an
            :class:`~datamint.exceptions.ItemError` naming it around any other), ``"warn"``
            (a warning naming it, then the next readable item is returned instead) or
            ``"skip"`` (the same, logged instead of warned).

    Raises:
        ValidationError: On contradictory arguments (both include and exclude lists,
            a merge strategy without semantic masks, neither or both of project and
            resources), or an unknown ``item_format`` / ``on_error`` / ``cache_format``.
        ValueError: For an unknown ``image_dtype``.
    """

    _single_frame = False  # 2-D image datasets: each item is frame 0, which must be the only
    fold: int | None = None  # the fold index of a kfold() part

    def __init__(
        self,
        project: str | Project | None = None,
        resources: Sequence[Resource | dict[str, Any] | str] | None = None,
        auto_update: bool = True,
        api_key: str | None = None,
        server_url: str | None = None,
        return_metainfo: bool = True,
        return_segmentations: bool = True,
        return_boxes: bool = False,
        return_as_semantic_segmentation: bool = False,
        semantic_seg_merge_strategy: str | None = None,
        alb_transform: Any = None,
        include_unannotated: bool = True,
        include_annotators: Sequence[str] | None = None,
        exclude_annotators: Sequence[str] | None = None,
        include_segmentation_names: Sequence[str] | None = None,
        exclude_segmentation_names: Sequence[str] | None = None,
        include_image_label_names: Sequence[str] | None = None,
        exclude_image_label_names: Sequence[str] | None = None,
        include_frame_label_names: Sequence[str] | None = None,
        exclude_frame_label_names: Sequence[str] | None = None,
        allow_external_annotations: bool = False,
        image_labels_merge_strategy: str | None = None,
        image_categories_merge_strategy: str | None = None,
        worklists: str | Sequence[Any] | None = "all",
        trusted_annotation_sources: Sequence[str] | None = ("imported", "manual"),
        *,
        cache_dir: str | Path | None = None,
        offline: bool | None = None,
        cache_format: str | None = None,
        image_dtype: DTypeLike | None = None,
        item_format: str = "standard",
        on_error: str = "raise",
    ) -> None:
        config = build_config(
            project,
            resources,
            auto_update,
            api_key,
            server_url,
            return_metainfo,
            return_segmentations,
            return_boxes,
            return_as_semantic_segmentation,
            semantic_seg_merge_strategy,
            include_unannotated,
            {
                "include_annotators": include_annotators,
                "exclude_annotators": exclude_annotators,
                "include_segmentation_names": include_segmentation_names,
                "exclude_segmentation_names": exclude_segmentation_names,
                "include_image_label_names": include_image_label_names,
                "exclude_image_label_names": exclude_image_label_names,
                "include_frame_label_names": include_frame_label_names,
                "exclude_frame_label_names": exclude_frame_label_names,
            },
            allow_external_annotations,
            image_labels_merge_strategy,
            image_categories_merge_strategy,
            worklists,
            trusted_annotation_sources,
            cache_dir,
            offline,
            cache_format,
            image_dtype,
            item_format,
            on_error,
        )
        augment = TransformRunner(alb_transform) if alb_transform is not None else None
        self._adopt(config, DataSource(config), None, None, (None, None, None), augment)

    def _adopt(
        self,
        config: DatasetConfig,
        source: DataSource,
        prepared: Prepared | None,
        slices: SliceSpec | None,
        split: tuple[str | None, str | None, str | None],
        augment: TransformRunner | None,
    ) -> None:
        """Set the whole state (the module docstring lists it)."""
        self._config = config
        self._source = source
        self._prepared = prepared
        self._slices = slices
        self.split_name, self.split_source, self.split_as_of_timestamp = split
        self._augment = augment
        self._index: ItemIndex | None = None
        self._builder: ItemBuilder | None = None
        self._entities: EntityCache | None = None
        self._pid: int | None = None

    @overload
    def _derive(
        self: D, *, prepared: Prepared | None = None, slices: SliceSpec | None = None
    ) -> D: ...

    @overload
    def _derive(
        self, *, prepared: Prepared | None = None, slices: SliceSpec | None = None, cls: type[E]
    ) -> E: ...

    def _derive(
        self,
        *,
        prepared: Prepared | None = None,
        slices: SliceSpec | None = None,
        cls: type[DatamintBaseDataset] | None = None,
    ) -> DatamintBaseDataset:
        """A dataset sharing this one's config, source, split attributes and transform.

        Args:
            prepared: Its prepared state (default: this one's).
            slices: Its slicing (default: this one's).
            cls: Its class (default: this one's), e.g. a sliced class for ``slice()``.
        """
        new = object.__new__(cls or type(self))
        new._adopt(
            self._config,
            self._source,
            self._prepared if prepared is None else prepared,  # views prepare lazily too
            self._slices if slices is None else slices,
            (self.split_name, self.split_source, self.split_as_of_timestamp),
            self._augment,
        )
        return new

    # -- settings and collaborators ------------------------------------------------------
    @property
    def config(self) -> DatasetConfig:
        """The dataset's settings (immutable, shared with derived datasets)."""
        return self._config

    @property
    def alb_transform(self) -> Any:
        """The albumentations transform applied to every item, or None."""
        return None if self._augment is None else self._augment.transform

    def set_transform(self, transform: Any) -> None:
        """Replace the albumentations transform.

        Args:
            transform: An albumentations transform, run on every item from now on; None
                removes the transform.
        """
        self._augment = TransformRunner(transform) if transform is not None else None

    def add_transform(self, transform: Any) -> None:
        """Append ``transform`` after the current one (``albumentations.Compose([old, new])``).

        Args:
            transform: An albumentations transform.
        """
        if self._augment is None:
            self.set_transform(transform)
            return
        import albumentations as alb

        self.set_transform(alb.Compose([self._augment.transform, transform]))

    @property
    def cache_root(self) -> Path:
        """The cache root: ``cache_dir``, else ``DATAMINT_CACHE_DIR`` or the platform default."""
        return self._config.cache_root

    @property
    def offline(self) -> bool:
        """Whether this dataset reads only the local manifest and caches."""
        return self._config.offline

    @property
    def source(self) -> DataSource:
        """The client, manifest recorder and loader this dataset family shares."""
        return self._source

    @property
    def api(self) -> ProjectReader:
        """The client: ``datamint.api.Api``, or an ``OfflineApi`` over the manifest."""
        return self._source.api

    @property
    def loader(self) -> ItemLoader:
        """This process's decoder and cache front (rebuilt in each DataLoader worker)."""
        loader: ItemLoader = self._source.loader
        return loader

    # -- preparation ------------------------------------------------------------------
    @property
    def prepared(self) -> Prepared:
        """The prepared state; fetched from the server on first access."""
        if self._prepared is None:
            config = self._config

            def fetch(api: ProjectReader) -> Prepared:
                return prepare(
                    api,
                    project=config.project,
                    resources=config.resources,
                    accepts=self._accepts,
                    options=config.prepare,
                )

            source = self._source
            self._prepared = fetch(source.api) if config.project is None else source.recorded(fetch)
        return self._prepared

    def _accepts(self, resource: Resource) -> bool:
        """Whether this class can represent ``resource``; subclasses narrow it."""
        return True

    @property
    def project(self) -> Project | None:
        """The project, or None for a dataset built from resources."""
        return self.prepared.project

    @property
    def resources(self) -> list[Resource]:
        """The dataset's resources, in order."""
        return list(self.prepared.resources)

    @property
    def resource_annotations(self) -> list[list[Annotation]]:
        """Per resource, its annotations after every filter."""
        return [list(a) for a in self.prepared.annotations]

    @property
    def schema(self) -> LabelSchema:
        """The label schema (segmentation classes, labels, categories, box classes)."""
        return self.prepared.schema

    @property
    def segmentation_labels(self) -> list[str]:
        """Segmentation class names; class ``segmentation_labels[i]`` has code ``i + 1``
        and is channel ``i + 1`` of semantic masks."""
        return list(self.schema.segmentation_classes)

    @property
    def segmentation_labels_set(self) -> list[str]:
        """The existing client's name for :attr:`segmentation_labels`."""
        return self.segmentation_labels

    @property
    def annotators(self) -> list[str]:
        """Every annotator (author) of the prepared project's kept annotations, sorted (the
        parts of a split share the list); entry ``i`` of the ``annotators`` item key and
        row ``i`` of ``staple_sensitivity`` / ``staple_specificity``."""
        return list(self.prepared.annotators)

    @property
    def image_labels_set(self) -> list[str]:
        """Image label identifiers, in multi-hot order."""
        return list(self.schema.image_labels)

    @property
    def frame_labels_set(self) -> list[str]:
        """Frame label identifiers (they filter resources; items do not carry them)."""
        return list(self.schema.frame_labels)

    @property
    def box_labels_set(self) -> list[str]:
        """Box class identifiers; ``box_labels`` index this list."""
        return list(self.schema.box_classes)

    @property
    def image_categories_set(self) -> list[tuple[str, str]]:
        """``(identifier, value)`` pairs, in category-index order."""
        return list(self.schema.categories)

    @property
    def processor(self) -> AnnotationProcessor:
        """The existing client's processor methods over this dataset's schema, target
        options and cached masks (they build masks as items do)."""
        from datamint.dataset.annotation_processor import AnnotationProcessor

        return AnnotationProcessor(self.schema, self._config.targets, self.loader.mask)

    # -- the item index ---------------------------------------------------------------
    @property
    def plane(self) -> str | None:
        """What each item cuts from its resource: ``'axial'``, ``'coronal'``,
        ``'sagittal'``, ``'frame'``, or None for whole resources (and 2-D images)."""
        return None if self._slices is None else self._slices.name

    @property
    def item_index(self) -> ItemIndex:
        """Maps item indices to ``(resource position, region)`` (built on first use)."""
        if self._index is None:
            resources = self.prepared.resources
            if self._slices is None:
                region = Region(0, 0) if self._single_frame else Region()
                self._index = WholeResources(len(resources), region)
            else:
                loader, spec = self.loader, self._slices

                def stored_axis(resource: Resource) -> int:
                    geometry = metadata_geometry(resource) or loader.geometry(resource)
                    return plane_view(geometry, spec.name).axis

                self._index = Slices.build(
                    spec, resources, lambda r: loader.header(r).shape, stored_axis
                )
        return self._index

    def _item_builder(self) -> ItemBuilder:
        """This process's builder (a forked DataLoader worker makes its own)."""
        builder = self._builder
        if builder is None or self._pid != os.getpid():
            builder = self._start_process()
        return builder

    def _start_process(self) -> ItemBuilder:
        """Make this process's builder and entity cache.

        In a DataLoader worker, the objects it inherited from the main process are first
        frozen (:func:`gc.freeze`): the worker's garbage collections then never walk
        them, since walking an object writes to it, and writing copies its memory page
        out of what the worker shares with the main process.
        """
        if get_worker_info() is not None:
            gc.freeze()
        self._pid = os.getpid()
        self._entities = EntityCache(self.prepared.records)
        self._builder = ItemBuilder(self._config, self.schema, self.loader, tuple(self.annotators))
        return self._builder

    def __len__(self) -> int:
        return len(self.item_index)

    def _position(self, index: int) -> int:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} items")
        return index % n

    def __getitem__(self, index: int) -> Item:
        """Item ``index`` (its keys: the class docstring and ``item_format``).

        Raises:
            IndexError: Out of range.
            ItemError: The resource cannot be read (``on_error="raise"``); names the
                item, the resource and the cause (chained).
            DatamintException: Other datamint errors (annotations, downloads), with the
                resource named.
        """
        items = self._index if self._index is not None else self.item_index
        n = len(items)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} items")
        index %= n
        try:
            return self._build(index)
        except Exception as exc:
            error = self._item_error(index, exc)
            if self._config.on_error == "raise":
                raise error from exc
        return self._substitute(index, error)

    def _build(self, index: int) -> Item:
        """Item ``index`` (in range; the item index is built)."""
        items = self._index
        assert items is not None
        position, region = items.locate(index)
        builder = self._builder
        if builder is None or self._pid != os.getpid():
            builder = self._start_process()
        entities, prepared = self._entities, self._prepared
        assert entities is not None and prepared is not None
        resource, annotations = entities.get(int(prepared.rows[position]))
        return builder.build(
            resource,
            annotations,
            region,
            spec=self._slices,
            augment=self._augment,
            single_frame=self._single_frame,
        )

    def _item_error(self, index: int, exc: Exception) -> Exception:
        """The error to raise for item ``index``: one that names its resource."""
        resource = self.prepared.resource(self.item_index.resource_position(index))
        where = f"resource {resource.id} ({resource.filename})"
        if isinstance(exc, DatamintException) and resource.id in str(exc):
            return exc
        message = f"item {index} of {type(self).__name__}, {where}: {type(exc).__name__}: {exc}"
        if isinstance(exc, DatamintException):
            try:
                return type(exc)(message)
            except TypeError:
                pass
        return ItemError(message)

    def _substitute(self, index: int, error: Exception) -> Item:
        """``on_error`` 'skip'/'warn': report ``error``, return the next readable item."""
        if self._config.on_error == "warn":
            warnings.warn(f"skipped: {error}", stacklevel=3)
        else:
            _LOG.warning("skipped: %s", error)
        n = len(self)
        for step in range(1, n):
            candidate = (index + step) % n
            try:
                return self._build(candidate)
            except Exception as exc:
                _LOG.warning("skipped: %s", self._item_error(candidate, exc))
        raise ItemError(f"no item of {type(self).__name__} could be read; the first: {error}")

    def __iter__(self) -> Iterator[Item]:
        """Yield every item in order."""
        for i in range(len(self)):
            yield self[i]

    def apply_alb_transform(self, img: Any, targets: dict[str, Any]) -> dict[str, Any]:
        """Run this dataset's ``alb_transform`` on an image and its targets, as the existing
        client's method of the same name does (items come transformed already; this is for
        arrays a user holds).

        Args:
            img: ``(C, H, W)`` (or ``(C, 1, H, W)`` in a 2-D image dataset) for a 2-D
                transform, ``(C, D, H, W)`` for a volume (one draw replayed on every frame
                and mask).
            targets: Optional ``"masks"`` (annotator -> uint8 ``(N, [D,] H, W)``),
                ``"boxes"`` (float32 ``(N, 4)`` pascal_voc pixels) and ``"box_labels"``
                (int64 ``(N,)``); other keys are passed through.

        Returns:
            ``{"image": ..., **targets}`` with image, masks and boxes transformed.

        Raises:
            ValueError: Without an ``alb_transform``, or for an image of another rank.
        """
        if self._augment is None:
            raise ValueError("alb_transform is not set; give one to the dataset or set_transform")
        image = np.asarray(img)
        if image.ndim == 4 and image.shape[1] == 1 and self._single_frame:
            image = image[:, 0]
        if image.ndim not in (3, 4):
            raise ValueError(f"expected (C, H, W) or (C, D, H, W), got shape {image.shape}")
        masks = targets.get("masks") or {}
        instances = {a: [np.asarray(m, dtype=np.uint8) for m in ms] for a, ms in masks.items()}
        boxes = None
        if "boxes" in targets:
            boxes = {"boxes": targets["boxes"], "box_labels": targets["box_labels"]}
        if image.ndim == 3:
            image, instances, boxes = self._augment.run_2d(image, instances, boxes)
        else:
            image, instances = self._augment.run_3d(image, instances)
        out = {**targets, "image": image}
        if "masks" in targets:
            out["masks"] = {a: np.stack(ms) for a, ms in instances.items() if ms}
        if boxes is not None:
            out.update(boxes)
        return out

    # -- what stays in the main process ----------------------------------------------
    def locate(self, index: int) -> tuple[int, int]:
        """``(resource position, slice index)`` of item ``index`` (slice 0 for whole ones).

        Args:
            index: Item index, ``0 <= index < len(self)``.
        """
        position, region = self.item_index.locate(self._position(index))
        return position, region.index

    def get_resource(self, index: int) -> Resource:
        """The resource behind item ``index`` (for sliced views, the sliced volume/video).

        Args:
            index: Item index.
        """
        position = self.item_index.resource_position(self._position(index))
        return self.prepared.resource(position)

    def get_annotations(self, index: int) -> list[Annotation]:
        """The annotations (``Annotation`` entities) behind item ``index``.

        Args:
            index: Item index.
        """
        position = self.item_index.resource_position(self._position(index))
        return list(self.prepared.annotations_of(position))

    def get_header(self, index: int) -> Any:
        """The reader's header of item ``index``'s resource: a pydicom ``Dataset``
        without pixel data (DICOM), ``{'affine', 'header', 'shape'}`` (NIfTI), or None.

        Args:
            index: Item index.
        """
        return self.loader.metainfo(self.get_resource(index))

    def get_geometry(self, index: int) -> Geometry | None:
        """The geometry of item ``index``'s whole resource (affine over its ``(n, h, w)``
        array index to RAS mm), before any transform; None when the file has none.

        Args:
            index: Item index.
        """
        return self.loader.geometry(self.get_resource(index))

    # -- derived datasets -------------------------------------------------------------
    def subset(self: D, indices: Sequence[int]) -> D:
        """A dataset of the resources at ``indices`` (positions in :attr:`resources`).

        Args:
            indices: Resource positions, in the order wanted.

        Raises:
            IndexError: If an index is out of range.
        """
        n = len(self.prepared)
        for i in indices:
            if not 0 <= int(i) < n:
                raise IndexError(f"subset index {i} is out of range for {n} resources")
        return self._derive(prepared=self.prepared.select([int(i) for i in indices]))

    def filter(
        self: D,
        *,
        tags: Sequence[str] | None = None,
        filename_pattern: str | None = None,
        has_annotations: bool | None = None,
        annotation_names: Sequence[str] | None = None,
        custom_fn: Callable[[Resource, list[Annotation]], bool] | None = None,
    ) -> D:
        """A dataset of the resources that meet every given criterion (chainable).

        Args:
            tags: Keep resources with any of these tags.
            filename_pattern: ``fnmatch`` pattern on the filename.
            has_annotations: Keep resources with (True) or without (False) annotations.
            annotation_names: Keep resources with an annotation of any of these identifiers.
            custom_fn: ``(resource, annotations) -> bool``.

        Raises:
            ValidationError: If no criterion is given.
        """
        prepared = self.prepared
        keep = filter_positions(
            prepared.resources,
            prepared.annotations,
            tags=tags,
            filename_pattern=filename_pattern,
            has_annotations=has_annotations,
            annotation_names=annotation_names,
            custom_fn=custom_fn,
        )
        return self._derive(prepared=prepared.select(keep))

    def items(self) -> Iterator[tuple[Resource, list[Annotation]]]:
        """Yield ``(resource, annotations)`` pairs."""
        for res, anns in zip(self.prepared.resources, self.prepared.annotations, strict=True):
            yield res, list(anns)

    def __add__(self, other: Dataset[Any]) -> ConcatDataset[Any]:
        return ConcatDataset([self, other])

    def group_by_patient(self: D, strategy: str = "individual") -> dict[str | None, D]:
        """``{patient_id: subset}``; resources without one follow ``strategy`` (as in split).

        Args:
            strategy: For resources without a patient id: ``'individual'`` (each its own
                group, keyed ``__resource__<id>``), ``'group'`` (one ``None`` group),
                ``'skip'`` (left out) or ``'error'``.

        Raises:
            ValidationError: For an unknown strategy, or a missing id under ``'error'``.
        """
        groups = patient_groups(self.prepared.resources, strategy)
        return {pid: self.subset(idx) for pid, idx in groups.items()}

    def split(self, **kwargs: Any) -> SplitResult:
        """Split the resources into named datasets (a ``SplitResult``, a dict).

        ``split(*, seed=None, use_project_splits=None, as_of_timestamp=None,
        by_patient=False, none_patient_id_strategy='individual', stratify_by=None,
        **ratios)``; see :func:`datamint.dataset.splitting.split_dataset` for the modes,
        counting and errors (``SplitError``, a ValueError). Splits partition resources,
        so the slices of one volume never straddle two parts.

        Args:
            **kwargs: ``seed`` (int or None: shuffle seed), ``use_project_splits``,
                ``as_of_timestamp`` (ISO-8601 UTC instant to replay the project split),
                ``by_patient``, ``none_patient_id_strategy``, ``stratify_by`` (an image
                label or category identifier), and the ratios as ``name=fraction``
                (e.g. ``train=0.8, val=0.2``).
        """
        from datamint.dataset.splitting import split_dataset

        return split_dataset(self, **kwargs)

    def kfold(self: D, k: int, **kwargs: Any) -> Iterator[tuple[D, D]]:
        """Yield ``(train, val)`` for each of ``k`` folds whose val parts partition the resources.

        ``kfold(k, *, seed=None, by_patient=False, none_patient_id_strategy='individual',
        stratify_by=None)``; see :func:`datamint.dataset.splitting.kfold_dataset`.

        Args:
            k: Number of folds, from 2 to the number of resources (patients).
            **kwargs: ``seed``, ``by_patient``, ``none_patient_id_strategy``,
                ``stratify_by``, as for :meth:`split`.
        """
        from datamint.dataset.splitting import kfold_dataset

        return kfold_dataset(self, k, **kwargs)

    def split_spec(self: D, spec: str, **split_kwargs: Any) -> D:
        """``self.split(**split_kwargs).select(spec)``, e.g. ``split_spec("train[:50%]")``.

        Args:
            spec: A split spec (``"train[:10%]+val"``; see :meth:`SplitResult.select`).
            **split_kwargs: Arguments of :meth:`split`.

        Raises:
            SplitError: As :meth:`split` and :meth:`SplitResult.select`.
        """
        chosen: D = self.split(**split_kwargs).select(spec)
        return chosen

    # -- lineage, prefetch, batching ----------------------------------------------------
    @property
    def digest(self) -> str:
        """10-hex-digit digest of the resources, their content hashes, slicing and split."""
        from datamint.dataset.lineage import dataset_digest

        return dataset_digest(self)

    def build_mlflow_dataset(self, name: str | None = None) -> Any:
        """An MLflow dataset carrying the project, the split and the resources.

        Args:
            name: The dataset name in MLflow; default ``<project>[/<split>]``.

        Raises:
            ImportError: Without the ``mlflow`` extra.
        """
        from datamint.dataset.lineage import build_mlflow_dataset

        return build_mlflow_dataset(self, name)

    def prefetch(
        self,
        *,
        include_annotations: bool = False,
        num_workers: int = 8,
        progress: bool = True,
        decode: bool = False,
        decode_workers: int = 2,
        download_mode: str | None = None,
        verification_mode: str | None = None,
        local_files_only: bool = False,
    ) -> PrefetchReport:
        """Download every resource file (and segmentation file) into the disk cache.

        Cache hits are skipped; a tqdm bar shows when something is missing. With
        ``decode=True`` every resource is then decoded once into the decoded-array cache
        (a sliced view lays out its own axis) by a process pool, so the first epoch
        reads slices only.

        Args:
            include_annotations: Also fetch every distinct segmentation file.
            num_workers: Concurrent downloads (threads).
            progress: Show progress bars.
            decode: Also decode every resource into the array cache.
            decode_workers: Processes decoding at once.
            download_mode: ``"reuse_cache"`` (default: cached files are used) or
                ``"force_redownload"`` (this dataset's cached files are removed first).
            verification_mode: ``"basic_checks"`` (default: sizes, and the sha256 of a file
                whose inode changed), ``"all_checks"`` (every cached file re-hashed against
                its recorded sha256; bad ones removed, named and downloaded again) or
                ``"no_checks"``; the semantics of Hugging Face ``datasets``' modes.
            local_files_only: Download nothing; raise naming the files that are missing.

        Returns:
            A :class:`~datamint.dataset.prefetch.PrefetchReport` (counts and failures).

        Raises:
            DownloadError: After all downloads ran, if any failed (all failures listed).
            OfflineCacheMissError: ``local_files_only=True`` and a file is not cached.
            CacheCorruptedError: ``all_checks`` found a damaged file that cannot be
                downloaded again (``local_files_only`` or offline).
            ValidationError: For an unknown mode.
        """
        from datamint.dataset.modes import apply_modes
        from datamint.dataset.prefetch import (
            PrefetchReport,
            decode_resources,
            download_jobs,
            prefetch_files,
        )

        modes = apply_modes(
            self,
            download_mode,
            verification_mode,
            local_files_only,
            include_annotations=include_annotations,
        )
        prepared = self.prepared
        jobs = download_jobs(
            self._source.files,
            self.api,
            prepared.resources,
            prepared.annotations if include_annotations else (),
        )
        if modes.skip_download:
            report = PrefetchReport(cached=len(jobs))
        else:
            report = prefetch_files(jobs, max_workers=num_workers, progress=progress)
        if decode:
            index = self.item_index
            axis = index.axes.tolist() if isinstance(index, Slices) else None
            decode_resources(
                self, axis_hint=axis, max_workers=decode_workers, progress=progress, report=report
            )
        return report

    def stream(self, split: str | None = None, **kwargs: Any) -> StreamDataset:
        """This dataset as a sharded ``torch.utils.data.IterableDataset``.

        ``stream(split=None, *, chunk=None, nchunks=None, shuffle_buffer=256, seed=0,
        uneven="pad", reshard=False)``: without ``chunk``/``nchunks`` the shards follow
        the torch.distributed rank and world size and the DataLoader worker, so across
        all ranks and workers every item is yielded once per epoch (``uneven`` decides
        what happens to the remainder); ``set_epoch(e)`` reshuffles. The items of one
        resource stay in one shard, so each node downloads only its share of the files.
        See :func:`datamint.dataset.streaming.stream`.

        Args:
            split: A split name of the project's splits to stream (None: every item).
            **kwargs: ``chunk``, ``nchunks``, ``shuffle_buffer``, ``seed``, ``uneven``,
                ``reshard`` of :func:`~datamint.dataset.streaming.stream`.

        Returns:
            A ``StreamDataset`` (an ``IterableDataset``) with ``set_epoch(epoch)``.
        """
        from datamint.dataset.streaming import stream

        return stream(self, split, **kwargs)

    def resource_offsets(self) -> np.ndarray:
        """int64 ``(R + 1,)``: the first item of each resource, then ``len(self)``.

        Items ``resource_offsets()[r]`` to ``resource_offsets()[r + 1] - 1`` show resource
        ``r`` (one item each for whole resources; its slices or frames for sliced views).
        """
        index = self.item_index
        if isinstance(index, Slices):
            return index.offsets
        return np.arange(len(index) + 1, dtype=np.int64)

    def agreement(
        self, labels: Sequence[str] | None = None, annotators: Sequence[str] | None = None
    ) -> AgreementTable:
        """How this dataset's annotators agree, per resource, label and annotator pair.

        Segmentations: Dice, IoU, average symmetric surface distance and 95th-percentile
        Hausdorff distance (mm, from each resource's spacing); image labels and
        categories: Cohen's kappa per pair and Fleiss' kappa over all annotators.
        Annotators who did not annotate a resource are not counted as disagreeing. See
        :mod:`datamint.agreement` for the definitions and the table's methods
        (``summary()``, ``to_dicts()``, ``to_pandas()``).

        Args:
            labels: Only these segmentation classes / labels (default: all).
            annotators: Only these annotator emails (default: all).
        """
        from datamint.agreement import dataset_agreement

        return dataset_agreement(self, labels=labels, annotators=annotators)

    def get_collate_fn(
        self, on_mismatch: str = "raise"
    ) -> Callable[[Sequence[dict[str, Any]]], dict[str, Any]]:
        """The collate function (:func:`datamint.dataset.collate.collate_items`): tensors
        for every array, per-annotator dicts as lists.

        Args:
            on_mismatch: ``'raise'`` (default), ``'pad'`` or ``'list'`` for items whose
                arrays differ in shape: an explicit choice, never a silent fallback.

        Raises:
            ValidationError: For an unknown policy.
        """
        return make_collate_fn(on_mismatch)

    @property
    def collate_fn(self) -> Callable[[Sequence[dict[str, Any]]], dict[str, Any]]:
        """``get_collate_fn()``: pass it as ``DataLoader(ds, collate_fn=ds.collate_fn)``."""
        return make_collate_fn("raise")

    def get_dataloader(
        self, *args: Any, on_mismatch: str = "raise", **kwargs: Any
    ) -> DataLoader[dict[str, Any]]:
        """A ``torch.utils.data.DataLoader`` over this dataset with :meth:`get_collate_fn`.

        Args:
            *args: Positional arguments of ``DataLoader`` after the dataset.
            on_mismatch: What to do with arrays of different shapes in one batch:
                ``'raise'`` (default), ``'pad'`` (zero-pad to the largest) or ``'list'``.
            **kwargs: Keyword arguments of ``DataLoader`` (``batch_size``, ``shuffle``,
                ``num_workers`` ...); ``collate_fn`` defaults to this dataset's.
        """
        kwargs.setdefault("collate_fn", self.get_collate_fn(on_mismatch))
        return DataLoader(self, *args, **kwargs)

    # -- pickling (DataLoader workers) ----------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_builder"] = None  # per process; the source drops its loader itself
        state["_entities"] = None
        return state

    def __repr__(self) -> str:
        name = type(self).__name__
        if self._prepared is None:
            return f"{name}(project={self._config.project!r}, not prepared)"
        proj = self._prepared.project.name if self._prepared.project else None
        resources = len(self._prepared.resources)
        return f"{name}(project={proj!r}, resources={resources}, items={len(self)})"
