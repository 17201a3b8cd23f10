"""Read-only views of server records: :class:`Project`, :class:`Resource`, :class:`Annotation`.

They hold the JSON record as sent (unknown keys kept) and expose the fields under
the client's names. They carry no API handle, so they pickle
as plain data into DataLoader workers.
"""

from datamint.entities.annotation import Annotation
from datamint.entities.project import Project
from datamint.entities.resource import Resource

__all__ = ["Annotation", "Project", "Resource"]
