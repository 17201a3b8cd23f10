"""Reading a JSON array element by element as its bytes arrive.

``GET /projects/{id}/resources`` answers one bare array of every resource, not paged. For
a project of 500 000 resources that is ~400 MB of JSON; parsed at once it would be one
string of that size and then ~1.5 GB of dicts. :func:`iter_json_array` instead decodes
the elements one at a time from the response's chunks (``json``'s own C scanner,
``raw_decode``), holding one chunk and one element at a time, and yields each element with
its JSON text, so the caller can keep the text (compact) and drop the dict.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["iter_json_array"]

_WHITESPACE = " \t\n\r"


class _Buffer:
    """Decoded text received so far, from ``pos`` on."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.done = False

    def more(self) -> bool:
        """Append the next chunk (dropping what was consumed); False at the end."""
        while not self.done:
            chunk = next(self._chunks, None)
            if chunk is None:
                added = self._decoder.decode(b"", final=True)
                self.done = True
            else:
                added = self._decoder.decode(chunk)
            if added:
                self.text = self.text[self.pos :] + added
                self.pos = 0
                return True
        return False

    def skip_space(self) -> str:
        """The next non-whitespace character (consumed up to it), or ``""`` at the end."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in _WHITESPACE:
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.more():
                return ""


def iter_json_array(chunks: Iterable[bytes], *, source: str) -> Iterator[tuple[Any, str]]:
    """Yield ``(element, its JSON text)`` for each element of a JSON array.

    Args:
        chunks: The UTF-8 bytes of one JSON array, in pieces of any size.
        source: What the bytes are (e.g. the request), for error messages.

    Yields:
        Each element decoded, and the exact text it was decoded from.

    Raises:
        ValueError: If the bytes are not one JSON array (names ``source`` and the offset
            in the current buffer).
    """
    buffer = _Buffer(chunks)
    decode = json.JSONDecoder().raw_decode
    if buffer.skip_space() != "[":
        raise ValueError(f"{source}: the body is not a JSON array")
    buffer.pos += 1
    first = True
    while True:
        char = buffer.skip_space()
        if char == "":
            raise ValueError(f"{source}: the JSON array ends early")
        if char == "]":
            buffer.pos += 1
            if buffer.skip_space() != "":
                raise ValueError(f"{source}: text after the end of the JSON array")
            return
        if not first:
            if char != ",":
                raise ValueError(f"{source}: expected ',' or ']' in the JSON array, got {char!r}")
            buffer.pos += 1
            char = buffer.skip_space()
        if char == "":
            raise ValueError(f"{source}: the JSON array ends early")
        while True:
            start = buffer.pos
            try:
                value, end = decode(buffer.text, start)
            except json.JSONDecodeError as exc:
                if buffer.more():
                    continue
                raise ValueError(f"{source}: invalid JSON in the array: {exc}") from None
            if end >= len(buffer.text) and buffer.more():
                continue  # a number or literal may go on in the next chunk: decode it again
            break
        yield value, buffer.text[start:end]
        buffer.pos = end
        first = False
