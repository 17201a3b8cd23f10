"""A dataset's loading helpers: lineage digest, MLflow, prefetch, collation.

Mixed into ``DatamintBaseDataset``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader

from datamint.dataset.collate import make_collate_fn
from datamint.dataset.prefetch import FileJob, PrefetchReport, decode_resources, prefetch_files
from datamint.entities import Resource

if TYPE_CHECKING:
    from datamint.dataset.preparation import Prepared

__all__ = ["LoadingMixin"]


class LoadingMixin:
    """digest / build_mlflow_dataset / prefetch / get_collate_fn / get_dataloader / get_resource."""

    prepared: Prepared

    # -- lineage ----------------------------------------------------------------------
    @property
    def digest(self) -> str:
        """10-hex-digit digest of the resources, their content hashes, slicing and split."""
        from datamint.dataset.lineage import dataset_digest

        return dataset_digest(self)

    def build_mlflow_dataset(self, name: str | None = None) -> Any:
        """An MLflow dataset carrying the project, the split and the resources.

        See :func:`datamint.dataset.lineage.build_mlflow_dataset`.

        Raises:
            ImportError: Without the ``mlflow`` extra.
        """
        from datamint.dataset.lineage import build_mlflow_dataset

        return build_mlflow_dataset(self, name)

    # -- prefetch and loading ---------------------------------------------------------
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
        (in the dataset's ``cache_format``; a sliced view lays out its own axis) by a
        process pool, so the first epoch reads slices only.

        Args:
            include_annotations: Also fetch every distinct segmentation file.
            num_workers: Concurrent downloads (threads).
            progress: Show progress bars.
            decode: Also decode every resource into the array cache.
            decode_workers: Processes decoding at once.
            download_mode: ``"reuse_cache"`` (default) or ``"force_redownload"``.
            verification_mode: ``"basic_checks"`` (default), ``"all_checks"`` or
                ``"no_checks"``; see :mod:`datamint.dataset.modes`.
            local_files_only: Download nothing; raise if a file is missing.

        Returns:
            A :class:`PrefetchReport`.

        Raises:
            DownloadError: After all downloads ran, if any failed (all failures listed).
            ValidationError, CacheCorruptedError, OfflineCacheMissError: From the modes
                (:func:`datamint.dataset.modes.apply_modes`).
        """
        from datamint.dataset.modes import apply_modes

        modes = apply_modes(
            self,
            download_mode,
            verification_mode,
            local_files_only,
            include_annotations=include_annotations,
        )
        _ = self.loader  # builds the file cache
        files, api = self._file_cache, self.api
        jobs = [
            FileJob(
                f"resource {r.id} ({r.filename})",
                lambda r=r: files.has_resource_file(r.record),
                lambda r=r: files.resource_file(api, r.record),
            )
            for r in self.prepared.resources
        ]
        if include_annotations:
            seen = set()
            for anns in self.prepared.annotations:
                for a in anns:
                    if a.is_segmentation and a.id not in seen:
                        seen.add(a.id)
                        jobs.append(
                            FileJob(
                                f"annotation {a.id} of resource {a.resource_id}",
                                lambda a=a: files.has_segmentation_file(a.record),
                                lambda a=a: files.segmentation_file(api, a.record),
                            )
                        )
        if modes.skip_download:
            report = PrefetchReport(cached=len(jobs))
        else:
            report = prefetch_files(jobs, max_workers=num_workers, progress=progress)
        if decode:
            axis = getattr(self, "slice_axis_index", None)
            decode_resources(
                self, axis_hint=axis, max_workers=decode_workers, progress=progress, report=report
            )
        return report

    def get_collate_fn(
        self, on_mismatch: str = "raise"
    ) -> Callable[[Sequence[dict[str, Any]]], dict[str, Any]]:
        """The collate function of contract §7.5 (:func:`datamint.dataset.collate.collate_items`).

        Args:
            on_mismatch: ``'raise'`` (default), ``'pad'`` or ``'list'`` for items whose
                arrays differ in shape: an explicit choice, never a silent fallback.
        """
        return make_collate_fn(on_mismatch)

    def get_dataloader(self, *args: Any, on_mismatch: str = "raise", **kwargs: Any) -> DataLoader:
        """A ``torch.utils.data.DataLoader`` over this dataset with :meth:`get_collate_fn`."""
        kwargs.setdefault("collate_fn", self.get_collate_fn(on_mismatch))
        return DataLoader(self, *args, **kwargs)

    def get_resource(self, index: int) -> Resource:
        """The resource behind item ``index`` (for sliced views, the sliced volume/video)."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} items")
        return self.prepared.resources[self._resource_position(index % n)]

    def _resource_position(self, index: int) -> int:
        """Position in :attr:`resources` of item ``index`` (one item per resource here)."""
        return index
