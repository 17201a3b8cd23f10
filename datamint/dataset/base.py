"""``DatamintBaseDataset``: construction, lazy preparation and the methods every dataset shares.

Construction sends nothing; the first access that needs server data (``len``,
indexing, ``.resources``) prepares the dataset (see :mod:`datamint.dataset.preparation`).
Items are built by :meth:`_make_item` from the disk caches (:mod:`datamint.dataset.loading`)
and the :class:`~datamint.dataset.annotation_processor.AnnotationProcessor`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from datamint.dataset.annotation_filter import AnnotationFilter, IncludeExclude
from datamint.dataset.annotation_processor import AnnotationProcessor, TargetOptions
from datamint.dataset.augment import TransformRunner
from datamint.dataset.label_schema import LabelSchema
from datamint.dataset.loading import ItemLoader, parse_image_dtype
from datamint.dataset.loading_mixin import LoadingMixin
from datamint.dataset.preparation import Prepared, PrepareOptions, prepare
from datamint.dataset.regions import Region
from datamint.dataset.selection import SelectionMixin
from datamint.entities import Annotation, Project, Resource
from datamint.exceptions import DatamintDatasetException, ValidationError
from datamint.targets.merge import MergeStrategy

__all__ = ["DatamintBaseDataset", "DatamintDatasetException"]

_LOG = logging.getLogger(__name__)


class DatamintBaseDataset(SelectionMixin, LoadingMixin, Dataset):
    """A PyTorch dataset over a Datamint project's resources and annotations.

    Arguments are those of contract §6.1, in that order, plus ``cache_dir``.

    Args:
        project: A project name (a UUID string is treated as a name) or a ``Project``.
        resources: Resources (entities or records) instead of a project; exactly one of
            ``project`` / ``resources`` must be given.
        auto_update: Run the connectivity probe; preparation always refetches.
        api_key, server_url: Override the configuration sources (contract §2.1).
        return_metainfo: Emit ``metainfo``.
        return_segmentations: Emit ``masks`` (and ``mask_labels`` in instance mode).
        return_boxes: Emit ``boxes``/``box_labels`` from ``square`` annotations.
        return_as_semantic_segmentation: Semantic ``(L+1, ...)`` masks instead of instances.
        semantic_seg_merge_strategy: ``'union'``, ``'intersection'`` or ``'mode'`` across
            annotators (contract §8.1); requires semantic masks.
        alb_transform: An albumentations transform (contract §7.4).
        include_unannotated: Keep resources with no annotation left after filtering.
        include_annotators, exclude_annotators: Emails matched against ``created_by``.
        include_segmentation_names, exclude_segmentation_names: Segmentation identifiers.
        include_image_label_names, exclude_image_label_names: Image label identifiers.
        include_frame_label_names, exclude_frame_label_names: Frame label identifiers.
        allow_external_annotations: Keep identifiers the worklist schema does not define.
        image_labels_merge_strategy: Merge rule for ``image_labels`` (contract §8.2).
        image_categories_merge_strategy: Merge rule for ``image_categories`` (§8.3).
        worklists: ``'all'``, a list of worklist ids/names, or None (schema from data).
        trusted_annotation_sources: Annotation sources to keep; None keeps all.
        cache_dir: Cache root; default ``DATAMINT_CACHE_DIR`` or the platform cache dir.
        offline: Build from the local manifest and cache with no network call (see
            ``docs/cache.md``); default: the ``DATAMINT_OFFLINE`` environment variable.
            Every online preparation writes that manifest. A file missing from the cache
            raises ``OfflineCacheMissError`` naming it and what to run.
        cache_format: How decoded images are cached: ``"b2nd"`` (default; blosc2, one
            chunk per slice), ``"npy.gz"`` (the existing client's per-slice gzip + LRU) or
            ``"npy"`` (raw memory-mapped); see ``docs/cache.md``.
        image_dtype: Item image dtype. None (default): contract §7.1 (NIfTI float64,
            uint16 min-max scaled to uint8, others as decoded: uint8 PNG/video, int16 HU
            CT DICOM). ``"stored"``: the reader's values in their own dtype (int16 for an
            unscaled int16 NIfTI; uint16 not scaled), the smallest items to send between
            processes. A numpy dtype (e.g. ``np.float32``): the stored values cast to it
            in the worker. The cache always holds the compact decoded dtype.

    Raises:
        ValidationError: On contradictory arguments (both include and exclude lists,
            a merge strategy without semantic masks, neither or both of project/resources).
        ValueError: For an unknown ``cache_format`` or ``image_dtype``.
    """

    def __init__(
        self,
        project: str | Project | None = None,
        resources: Sequence[Resource | dict[str, Any]] | None = None,
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
        image_dtype: Any = None,
    ) -> None:
        if (project is None) == (resources is None):
            raise ValidationError("give exactly one of project= (a name or Project) or resources=")
        semantic_merge = MergeStrategy.parse(
            semantic_seg_merge_strategy, argument="semantic_seg_merge_strategy"
        )
        if semantic_merge is not None and not return_as_semantic_segmentation:
            raise ValidationError(
                "semantic_seg_merge_strategy requires return_as_semantic_segmentation=True"
            )
        self.project_arg = project
        self.resources_arg = list(resources) if resources is not None else None
        self.auto_update = auto_update
        self.api_key = api_key
        self.server_url = server_url
        self.return_metainfo = return_metainfo
        self._augment = TransformRunner(alb_transform) if alb_transform is not None else None
        self.target_options = TargetOptions(
            return_segmentations=return_segmentations,
            return_boxes=return_boxes,
            semantic=return_as_semantic_segmentation,
            semantic_merge=semantic_merge,
            image_labels_merge=MergeStrategy.parse(
                image_labels_merge_strategy, argument="image_labels_merge_strategy"
            ),
            image_categories_merge=MergeStrategy.parse(
                image_categories_merge_strategy, argument="image_categories_merge_strategy"
            ),
        )
        self.prepare_options = PrepareOptions(
            worklists=worklists,
            trusted_sources=None
            if trusted_annotation_sources is None
            else tuple(trusted_annotation_sources),
            annotation_filter=AnnotationFilter(
                annotators=IncludeExclude.of(
                    include_annotators, exclude_annotators, name="annotators"
                ),
                segmentation_names=IncludeExclude.of(
                    include_segmentation_names,
                    exclude_segmentation_names,
                    name="segmentation_names",
                ),
                image_label_names=IncludeExclude.of(
                    include_image_label_names, exclude_image_label_names, name="image_label_names"
                ),
                frame_label_names=IncludeExclude.of(
                    include_frame_label_names, exclude_frame_label_names, name="frame_label_names"
                ),
                allow_external=allow_external_annotations,
            ),
            include_unannotated=include_unannotated,
        )
        self.cache_dir = cache_dir
        self.cache_format = cache_format
        self.image_dtype = parse_image_dtype(image_dtype)
        if offline is None:
            from datamint.settings import offline_requested

            offline = offline_requested()
        self.offline = bool(offline)
        self.split_name: str | None = None
        self.split_source: str | None = None
        self.split_as_of_timestamp: str | None = None
        self._prepared: Prepared | None = None
        self._api: Any = None
        self._loader: ItemLoader | None = None
        self._recorder: Any = None

    # -- transforms -------------------------------------------------------------------
    @property
    def alb_transform(self) -> Any:
        """The albumentations transform applied to every item, or None."""
        return None if self._augment is None else self._augment.transform

    def set_transform(self, transform: Any) -> None:
        """Replace the albumentations transform (None removes it)."""
        self._augment = TransformRunner(transform) if transform is not None else None

    def add_transform(self, transform: Any) -> None:
        """Append ``transform`` after the current one (``albumentations.Compose([old, new])``)."""
        if self._augment is None:
            self.set_transform(transform)
            return
        import albumentations as alb

        self.set_transform(alb.Compose([self._augment.transform, transform]))

    # -- lazily built collaborators ----------------------------------------------------
    @property
    def cache_root(self) -> Path:
        """The cache root: ``cache_dir``, else ``DATAMINT_CACHE_DIR`` or the platform default."""
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        from datamint.settings import cache_root

        return cache_root()

    @property
    def api(self) -> Any:
        """The client: :class:`datamint.api.Api`, or an ``OfflineApi`` over the manifest
        when offline."""
        if self._api is None:
            if self.offline:
                from datamint.api.offline import OfflineApi

                self._api = OfflineApi(self.cache_root, server_url=self.server_url)
            else:
                from datamint.api.client import Api

                self._api = Api(
                    server_url=self.server_url,
                    api_key=self.api_key,
                    check_connection=self.auto_update,
                )
        return self._api

    def _recorded(self, fetch: Callable[[Any], Any], project_id: str | None = None) -> Any:
        """Run ``fetch(api)``; online, record what it read into the project's manifest.

        A manifest that cannot be written is logged, never fatal (training goes on).
        """
        if self.offline:
            return fetch(self.api)
        from datamint.api.recorder import ManifestRecorder
        from datamint.exceptions import CacheError

        if getattr(self, "_recorder", None) is None:
            self._recorder = ManifestRecorder(self.api)  # shared by derived datasets
        recorder = self._recorder
        result = fetch(recorder)
        try:
            recorder.write(self.cache_root, project_id=project_id)
        except (OSError, CacheError, ValueError) as exc:
            _LOG.warning("could not write the offline manifest under %s: %s", self.cache_root, exc)
        return result

    @property
    def loader(self) -> ItemLoader:
        """The per-process decoder and cache front (rebuilt after unpickling)."""
        if self._loader is None:
            from datamint.storage.array_cache import ArrayCache
            from datamint.storage.file_cache import FileCache

            root = self.cache_root
            files = FileCache(root)
            self._file_cache = files
            self._loader = ItemLoader(
                lambda res: files.resource_file(self.api, res.record),
                lambda ann: files.segmentation_file(self.api, ann.record),
                ArrayCache(root),
                getattr(self, "cache_format", None),
                getattr(self, "image_dtype", None),
            )
        return self._loader

    def _accepts(self, resource: Resource) -> bool:
        """Whether this class can represent ``resource``; subclasses narrow it."""
        return True

    # -- preparation ------------------------------------------------------------------
    @property
    def prepared(self) -> Prepared:
        """The prepared state; preparing on first access (contacts the server)."""
        if self._prepared is None:

            def fetch(api: Any) -> Prepared:
                return prepare(
                    api,
                    project=self.project_arg,
                    resources=self.resources_arg,
                    accepts=self._accepts,
                    options=self.prepare_options,
                )

            self._prepared = fetch(self.api) if self.project_arg is None else self._recorded(fetch)
        return self._prepared

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
        """Segmentation class names; class ``segmentation_labels[i]`` has code ``i + 1``."""
        return list(self.schema.segmentation_classes)

    @property
    def image_labels_set(self) -> list[str]:
        """Image label identifiers, in multi-hot order."""
        return list(self.schema.image_labels)

    @property
    def image_categories_set(self) -> list[tuple[str, str]]:
        """``(identifier, value)`` pairs, in category-index order."""
        return list(self.schema.categories)

    @property
    def processor(self) -> AnnotationProcessor:
        """The processor that builds this dataset's target keys."""
        return AnnotationProcessor(self.schema, self.target_options, self.loader.mask)

    def __len__(self) -> int:
        return len(self.prepared.resources)

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} items")
        return self._get_item(index % n)

    def _get_item(self, index: int) -> dict[str, Any]:
        raise NotImplementedError

    # -- items ------------------------------------------------------------------------
    def _make_item(
        self, resource_index: int, region: Region, metainfo: Callable[[Any], Any] | None = None
    ) -> dict[str, Any]:
        """Build the item for one resource and region (whole volume, or one slice).

        Args:
            resource_index: Position in :attr:`resources`.
            region: The part of the resource the item shows.
            metainfo: Wraps the reader's metainfo (sliced views add the slice position).

        Returns:
            The item dict of contract §7.2/§7.3 for this class.
        """
        resource = self.prepared.resources[resource_index]
        annotations = list(self.prepared.annotations[resource_index])
        volume = self.loader.image(resource)  # (C, D, H, W), memory-mapped
        dhw = tuple(volume.shape[1:])
        image = region.take(volume)
        cast = self.loader.item_dtype(resource)
        if not (type(image) is np.ndarray and image.flags.owndata and image.flags.writeable) or (
            cast is not None and image.dtype != cast
        ):  # copy unless the slice is already a fresh array of the item's dtype
            image = np.array(image, dtype=cast)
        processor = self.processor
        opts = self.target_options
        instances: dict[str, list[np.ndarray]] = {}
        codes: dict[str, list[int]] = {}
        if opts.return_segmentations:
            instances, codes = processor.instances(annotations, dhw, region, self.loader.mask)
        boxes = processor.boxes(annotations, region) if opts.return_boxes else None
        if self._augment is not None:
            if image.ndim == 3:
                image, instances, boxes = self._augment.run_2d(image, instances, boxes)
            else:
                image, instances = self._augment.run_3d(image, instances)
        item: dict[str, Any] = {"image": image}
        if self.return_metainfo:
            info = self.loader.metainfo(resource)
            item["metainfo"] = metainfo(info) if metainfo is not None else info
        item["annotations"] = annotations
        item["resource"] = resource
        if opts.return_segmentations:
            spatial = tuple(image.shape[1:])
            item.update(processor.encode_segmentations(instances, codes, spatial))
        if boxes is not None:
            item.update(boxes)
        item["image_labels"] = processor.image_labels(annotations)
        item["image_categories"] = processor.image_categories(annotations)
        return item

    # -- pickling (spawned DataLoader workers) -----------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_loader"] = None
        state.pop("_file_cache", None)
        return state

    def __repr__(self) -> str:
        name = type(self).__name__
        if self._prepared is None:
            return f"{name}(project={self.project_arg!r}, not prepared)"
        proj = self._prepared.project.name if self._prepared.project else None
        resources = len(self._prepared.resources)
        return f"{name}(project={proj!r}, resources={resources}, items={len(self)})"
