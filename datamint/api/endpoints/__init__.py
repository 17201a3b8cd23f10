"""The endpoint groups of :class:`~datamint.api.client.Api`, one mixin per group.

Each mixin is a :class:`~datamint.api.connection.Connection` with the methods of one group
of the REST API: ``projects``, ``resources``, ``annotations``, ``worklists``, ``splits`` and
``downloads`` (file bytes). ``Api`` combines them.
"""

from __future__ import annotations

from datamint.api.endpoints.annotations import AnnotationEndpoints
from datamint.api.endpoints.downloads import DownloadEndpoints
from datamint.api.endpoints.projects import ProjectEndpoints
from datamint.api.endpoints.resources import ResourceEndpoints
from datamint.api.endpoints.splits import SplitEndpoints
from datamint.api.endpoints.worklists import WorklistEndpoints

__all__ = [
    "AnnotationEndpoints",
    "DownloadEndpoints",
    "ProjectEndpoints",
    "ResourceEndpoints",
    "SplitEndpoints",
    "WorklistEndpoints",
]
