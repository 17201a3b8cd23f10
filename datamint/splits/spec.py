"""Split specs in the grammar of Hugging Face ``datasets.ReadInstruction``.

A spec selects and concatenates parts of named splits::

    spec     := part ( "+" part )*
    part     := NAME [ "[" [bound] ":" [bound] "]" ] [ "(" rounding ")" ]
    bound    := ["-"] DIGITS ["%"]
    rounding := "closest" | "pct1_dropremainder"

* ``train`` — the whole split; ``train[10:20]`` — items 10..19; ``train[-5:]`` — the
  last five; ``train[:10%]`` — the first 10 %; ``train[:50%]+val`` — concatenation.
* Absolute bounds follow Python slicing (negative counts from the end; out of range
  clips). Percent bounds lie in [-100, 100].
* Percent rounding ``closest`` (default): ``round(pct * n / 100)`` with Python's round.
  ``pct1_dropremainder``: ``pct * (n // 100)``, so every 1 % has the same size; it needs
  at least 100 items. Rounding may only be given with percent bounds.

Items are a split's resources in their order in the split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from datamint.exceptions import SplitError

__all__ = ["SpecPart", "parse_spec", "resolve_part"]

_PART_RE = re.compile(
    r"^\s*(?P<name>\w+(?:[.-]\w+)*)\s*"
    r"(?:\[\s*(?P<start>-?\d+)?\s*(?P<start_pct>%)?\s*:\s*(?P<stop>-?\d+)?\s*(?P<stop_pct>%)?\s*\])?"
    r"\s*(?:\(\s*(?P<rounding>[^)]*?)\s*\))?\s*$"
)
ROUNDINGS = ("closest", "pct1_dropremainder")


@dataclass(frozen=True)
class SpecPart:
    """One ``name[start:stop](rounding)`` term of a spec."""

    name: str
    start: int | None = None
    stop: int | None = None
    percent: bool = False
    rounding: str = "closest"


def parse_spec(spec: str) -> list[SpecPart]:
    """Parse ``spec`` into its parts (see the module docstring).

    Raises:
        SplitError: (a ValueError) for an unparsable spec, mixed absolute and percent
            bounds, a percent outside [-100, 100], or an unknown rounding; the message
            shows the offending part and the expected form.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise SplitError(
            f"split spec {spec!r} is empty; write e.g. 'train', 'train[:10%]' or 'train+val'"
        )
    parts = []
    for raw in spec.split("+"):
        match = _PART_RE.match(raw)
        if match is None:
            raise SplitError(
                f"cannot parse {raw.strip()!r} in split spec {spec!r}; expected NAME, NAME[a:b], "
                "NAME[a%:b%] or NAME[a%:b%](pct1_dropremainder)"
            )
        g = match.groupdict()
        has_start, has_stop = g["start"] is not None, g["stop"] is not None
        if (g["start_pct"] and not has_start) or (g["stop_pct"] and not has_stop):
            raise SplitError(f"'%' without a number in {raw.strip()!r} of split spec {spec!r}")
        kinds = [
            bool(g[key])
            for present, key in ((has_start, "start_pct"), (has_stop, "stop_pct"))
            if present
        ]
        if len(set(kinds)) > 1:
            raise SplitError(f"{raw.strip()!r} mixes absolute and percent bounds; use one kind")
        percent = bool(kinds) and kinds[0]
        rounding = g["rounding"] or "closest"
        if rounding not in ROUNDINGS:
            raise SplitError(
                f"unknown rounding {rounding!r} in {raw.strip()!r}; use one of {ROUNDINGS}"
            )
        if g["rounding"] and not percent:
            raise SplitError(f"{raw.strip()!r}: a rounding applies only to percent bounds")
        start = int(g["start"]) if has_start else None
        stop = int(g["stop"]) if has_stop else None
        if percent and any(b is not None and abs(b) > 100 for b in (start, stop)):
            raise SplitError(f"{raw.strip()!r}: percent bounds must lie in [-100, 100]")
        parts.append(SpecPart(g["name"], start, stop, percent, rounding))
    return parts


def _absolute(bound: int | None, n: int, part: SpecPart) -> int | None:
    if bound is None or not part.percent:
        return bound
    if part.rounding == "closest":
        return round(bound * n / 100)
    if n < 100:
        raise SplitError(
            f"{part.name}: pct1_dropremainder needs at least 100 items, the split has {n}; "
            "use 'closest'"
        )
    return bound * (n // 100)


def resolve_part(part: SpecPart, n: int) -> range:
    """The item positions ``part`` selects from a split of ``n`` items.

    Raises:
        SplitError: For ``pct1_dropremainder`` on fewer than 100 items.
    """
    window = slice(_absolute(part.start, n, part), _absolute(part.stop, n, part))
    return range(n)[window]
