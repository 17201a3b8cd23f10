"""Cache keys: sha256 of canonical JSON of everything that determines an entry.

A key names the content (a sha256 or ETag), the operation, the reader and its
version, and every decode parameter that differs from its default, so a new option
leaves old entries valid and a changed file or reader never gives a wrong hit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["cache_key"]


def cache_key(fields: Mapping[str, Any]) -> str:
    """Return the 64-hex sha256 of ``fields`` as canonical JSON.

    Args:
        fields: JSON-serialisable values; ``None`` values are dropped (a parameter left
            at its default does not change the key).

    Returns:
        A lowercase hex digest, safe as a file name.

    Raises:
        TypeError: If a value is not JSON-serialisable (no key means no caching, never
            a guessed key).
    """
    kept = {k: v for k, v in fields.items() if v is not None}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()
