"""The reference server's store: SQLite records plus content-addressed blobs.

Layout on disk (nothing is written outside ``store_dir``)::

    <store_dir>/store.sqlite3            records (WAL mode; one transaction per write)
    <store_dir>/blobs/<sha[:2]>/<sha>    file contents, named by their sha256, written atomically
    <store_dir>/tmp/<session>/           staging for uploads and built blobs (series archives),
                                         one folder per open store, removed when the server
                                         starts once its process is gone (see maintenance.py)

One repository per concern, each a small module sharing one :class:`~.db.Database`:

=================  ============================================================
``store.users``     users, hashed API keys, project members (:mod:`.users`)
``store.projects``  projects and the resources they hold (:mod:`.projects`)
``store.resources`` resource records, visibility, filtered listings (:mod:`.resources`)
``store.annotations`` annotation records, search, replaced files (:mod:`.annotations`)
``store.worklists`` worklists and segmentation groups (:mod:`.worklists`)
``store.splits``    versioned split assignments (:mod:`.splits`)
``store.frame_ranges`` versioned frame ranges per resource and label (:mod:`.frame_ranges`)
``store.settings``  limits: body size, upload size, user quota (:mod:`.settings`)
``store.usage``     bytes each user has uploaded (:mod:`.settings`)
``store.blobs``     file contents (:class:`~datamint.server.blobs.BlobStore`)
=================  ============================================================

:func:`~.bundle.save_bundle` writes a whole imported project in one transaction.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from datamint.server.blobs import BlobStore
from datamint.server.store.annotations import AnnotationsRepo
from datamint.server.store.bundle import ProjectBundle, save_bundle
from datamint.server.store.db import Database
from datamint.server.store.frame_ranges import FrameRangesRepo
from datamint.server.store.projects import ProjectsRepo
from datamint.server.store.resources import ResourcesRepo, Visibility
from datamint.server.store.settings import SettingsRepo, UsageRepo
from datamint.server.store.splits import SplitsRepo
from datamint.server.store.users import UsersRepo
from datamint.server.store.worklists import WorklistsRepo

__all__ = ["ProjectBundle", "ProjectStore", "Visibility"]


class ProjectStore:
    """Records and blobs of the reference server, in one folder.

    Args:
        store_dir: Folder of the store; created (with its database) when missing.

    Raises:
        ValidationError: If the folder holds a database of another schema version.
        OSError: If the folder cannot be created.
    """

    def __init__(self, store_dir: str | os.PathLike[str]) -> None:
        self.store_dir = Path(store_dir)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.store_dir / "store.sqlite3"
        self.blobs = BlobStore(self.store_dir)
        self.db = Database(self.db_path)
        self.users = UsersRepo(self.db)
        self.projects = ProjectsRepo(self.db)
        self.resources = ResourcesRepo(self.db)
        self.annotations = AnnotationsRepo(self.db)
        self.worklists = WorklistsRepo(self.db)
        self.splits = SplitsRepo(self.db)
        self.frame_ranges = FrameRangesRepo(self.db)
        self.settings = SettingsRepo(self.db)
        self.usage = UsageRepo(self.db)

    def visibility(self, email: str) -> Visibility:
        """Return what ``email`` may see (its projects, and its own uploads).

        Args:
            email: The authenticated user.

        Returns:
            The user's :class:`Visibility`.
        """
        return Visibility(email.lower(), frozenset(self.users.member_project_ids(email)))

    # -- shortcuts used by the CLI, the importer and tests ----------------------------------

    def create_user(self, email: str) -> str:
        """Create the user when new and return a new API key (see :meth:`UsersRepo.create_user`).

        Args:
            email: The user's email.

        Returns:
            The plaintext key, shown once.
        """
        return self.users.create_user(email)

    def user_for_key(self, key: str) -> str | None:
        """Return the email owning ``key`` or ``None`` (see :meth:`UsersRepo.user_for_key`).

        Args:
            key: A plaintext key.

        Returns:
            The email, or ``None``.
        """
        return self.users.user_for_key(key)

    def add_member(self, project_id: str, email: str) -> None:
        """Make ``email`` a member of a project (see :meth:`UsersRepo.add_member`).

        Args:
            project_id: An existing project's id.
            email: The user's email.
        """
        self.users.add_member(project_id, email)

    def member_project_ids(self, email: str) -> set[str]:
        """Return the ids of the projects ``email`` is a member of.

        Args:
            email: The user's email.

        Returns:
            Project ids.
        """
        return self.users.member_project_ids(email)

    def get_project(self, project_id: str) -> dict[str, Any] | None:
        """Return one Project record, or ``None`` (see :meth:`ProjectsRepo.get`).

        Args:
            project_id: The project's id.

        Returns:
            The record with a live ``resource_count``, or ``None``.
        """
        return self.projects.get(project_id)

    def project_id_by_name(self, name: str) -> str | None:
        """Return the id of the project called ``name``, or ``None``.

        Args:
            name: Project name (exact).

        Returns:
            The id, or ``None``.
        """
        return self.projects.id_by_name(name)

    def save_project(self, bundle: ProjectBundle) -> None:
        """Write a whole project in one transaction (see :func:`~.bundle.save_bundle`).

        Args:
            bundle: The project and everything in it.
        """
        save_bundle(self.db, bundle)

    def blob_path(self, sha256: str) -> Path:
        """Return the path of the blob with this content hash (see :meth:`BlobStore.path`).

        Args:
            sha256: 64 lower-case hex digits.

        Returns:
            ``<store_dir>/blobs/<sha[:2]>/<sha>`` (it may not exist).
        """
        return self.blobs.path(sha256)
