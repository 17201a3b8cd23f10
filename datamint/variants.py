"""Named variants: typed axes, selectors such as ``kind=volume,plane=axial``, canonical forms.

One dataset can be read in several ways (whole volumes or axial slices, instance or
semantic masks, ...). A :class:`Variants` object names those ways with a few typed
*axes*, as datamaestro names dataset variants; a *selector* picks one::

    >>> v = AxesVariants([Axis("kind", str, "volume", choices=("image", "volume")),
    ...                   Axis("semantic", bool, False)])
    >>> v.resolve("semantic=true")
    {'kind': 'volume', 'semantic': True}
    >>> v.format_selector({"semantic": True})
    'kind=volume,semantic=true'

Selector text is ``key=value`` terms joined by ``,`` (spaces around keys and values are
ignored; an empty selector means every default). Values are coerced by the axis type:

=================  ==============================  =================================
Axis type          Accepted text                   Python value
=================  ==============================  =================================
``bool``           ``true`` / ``false`` (any case)  ``True`` / ``False``
``int``            ``-3``, ``0``, ``12``            ``int``; ``1.5`` or ``true`` fail
``float``          ``0.5``, ``1``, ``1e-3``         ``float``; ``nan``/``inf`` fail
``str``            any text without ``,=[]``        the text
``Optional[T]``    ``null``, or as ``T``            ``None``, or as ``T``
=================  ==============================  =================================

Dict values may also be Python objects of the right type (``True``, ``3``, ``None``).
The **canonical form** (:meth:`Variants.format_selector`) lists every axis, defaults
included, sorted by name, so two spellings of one variant give one string; it is the
identity of every cache entry derived from a variant (:meth:`Variants.cache_key` turns it
into a folder name), so two variants never share or overwrite an entry.

Errors are :class:`ValueError` naming the offending key: an unknown key, a value of the
wrong type or outside the axis choices, a key given twice, or a combination the variants
forbid.
"""

from __future__ import annotations

import abc
import hashlib
import itertools
import math
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AxesVariants", "Axis", "Variants", "format_value", "parse_terms"]

NULL_TEXT = "null"
_BOOL_TEXT = {"true": True, "false": False}
_FORBIDDEN_IN_TEXT = re.compile(r"[,=\[\]]")
_CACHE_KEY_SAFE = re.compile(r"[^A-Za-z0-9_.~-]+")
CACHE_KEY_SLUG_CHARS = 80
CACHE_KEY_HASH_CHARS = 12
_SCALARS = (bool, int, float, str)


def _split_optional(tp: Any) -> tuple[type, bool]:
    """``(base type, optional)`` of ``bool``, ``int | None``, ``Optional[str]``, ..."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2 and args[0] in _SCALARS:
            return args[0], True
    elif tp in _SCALARS:
        return tp, False
    raise TypeError(f"axis type {tp!r} is not bool, int, float, str or Optional of one of them")


def format_value(value: Any) -> str:
    """The selector text of an already coerced value.

    Args:
        value: ``None``, a bool, int, float or str.

    Returns:
        ``"null"``, ``"true"``/``"false"``, ``str(int)``, ``repr(float)`` (the shortest
        text that reads back to the same float), or the string itself.

    Raises:
        TypeError: For any other type.
    """
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"cannot format {value!r} ({type(value).__name__}) as a selector value")


@dataclass(frozen=True)
class Axis:
    """One typed axis of a family of variants.

    Args:
        name: The key in selectors: letters, digits and ``_``, starting with a letter.
        type: ``bool``, ``int``, ``float``, ``str``, or ``Optional[...]`` of one of them
            (``int | None`` works too); ``None`` (written ``null``) is allowed only for
            an optional type.
        default: The value when a selector does not name this axis; coerced and checked
            like any value.
        choices: The allowed non-null values, or ``None`` for any value of the type.
            Axes of type ``bool`` and axes with choices are *finite* (enumerable).
        help: One line describing the axis, shown in error messages and docs.

    Raises:
        TypeError: If ``type`` is not supported.
        ValueError: If the name is not an identifier, or the default or a choice does
            not fit the type.
    """

    name: str
    type: Any
    default: Any = None
    choices: Sequence[Any] | None = None
    help: str = ""
    base: type = field(init=False, repr=False, compare=False)
    optional: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", self.name):
            raise ValueError(f"axis name {self.name!r} must be letters, digits and _")
        base, optional = _split_optional(self.type)
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "optional", optional)
        if self.choices is not None:
            choices = tuple(self._coerce_type(c) for c in self.choices)
            if any(c is None for c in choices):
                raise ValueError(f"axis {self.name!r}: null is not a choice; use an Optional type")
            if len(set(choices)) != len(choices):
                raise ValueError(f"axis {self.name!r}: choices repeat a value")
            object.__setattr__(self, "choices", choices)
        object.__setattr__(self, "default", self.coerce(self.default))

    @property
    def finite(self) -> bool:
        """True when the axis has a finite set of values (bool, or choices given)."""
        return self.base is bool or self.choices is not None

    def values(self) -> list[Any]:
        """Every value of a finite axis: ``None`` first when optional, then the choices.

        Raises:
            ValueError: If the axis is not finite.
        """
        if not self.finite:
            raise ValueError(
                f"axis {self.name!r} ({self.type_text}) has no finite set of values to "
                "enumerate; give it choices"
            )
        listed = list(self.choices) if self.choices is not None else [False, True]
        return ([None] if self.optional else []) + listed

    @property
    def type_text(self) -> str:
        """The type as users write it, e.g. ``Optional[str]``."""
        name = self.base.__name__
        return f"Optional[{name}]" if self.optional else name

    def _coerce_type(self, value: Any) -> Any:
        """Coerce text or a Python value to the axis type (choices not checked)."""
        if value is None or (isinstance(value, str) and value.strip() == NULL_TEXT):
            if self.optional:
                return None
            raise ValueError(
                f"axis {self.name!r} ({self.type_text}) cannot be null; expected {self._expected()}"
            )
        base = self.base
        if isinstance(value, str):
            text = value.strip()
            if base is str:
                if not text or _FORBIDDEN_IN_TEXT.search(text):
                    raise ValueError(
                        f"axis {self.name!r}: value {value!r} must be non-empty and contain "
                        "none of , = [ ]"
                    )
                return text
            if base is bool:
                if text.lower() in _BOOL_TEXT:
                    return _BOOL_TEXT[text.lower()]
            elif base is int:
                if re.fullmatch(r"[+-]?\d+", text):
                    return int(text)
            elif base is float:
                try:
                    number = float(text)
                except ValueError:
                    number = math.nan
                if math.isfinite(number):
                    return number
            raise ValueError(
                f"axis {self.name!r} ({self.type_text}): cannot read {value!r}; "
                f"expected {self._expected()}"
            )
        if base is bool and isinstance(value, bool):
            return value
        if base is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if (
            base is float
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
        ):
            return float(value)
        raise ValueError(
            f"axis {self.name!r} ({self.type_text}): {value!r} ({type(value).__name__}) is "
            f"not {self._expected()}"
        )

    def coerce(self, value: Any) -> Any:
        """Return ``value`` (selector text or a Python value) as this axis's type.

        Args:
            value: Text such as ``"true"``, ``"3"``, ``"null"``, or a Python value.

        Returns:
            The typed value (see the module table).

        Raises:
            ValueError: Naming the axis, when the value does not fit the type or is not
                one of the choices.
        """
        typed = self._coerce_type(value)
        if typed is not None and self.choices is not None and typed not in self.choices:
            raise ValueError(
                f"axis {self.name!r}: {format_value(typed)!r} is not one of {self._expected()}"
            )
        return typed

    def _expected(self) -> str:
        if self.choices is not None:
            options = [format_value(c) for c in self.choices]
            if self.optional:
                options.insert(0, NULL_TEXT)
        elif self.base is bool:
            options = ["true", "false"]
        else:
            options = [
                {"int": "an integer", "float": "a finite number", "str": "text"}[self.base.__name__]
            ]
            if self.optional:
                options.append(NULL_TEXT)
        return " | ".join(options)


def parse_terms(selector: str) -> dict[str, str]:
    """Split selector text into ``{key: value text}`` without coercing anything.

    Args:
        selector: ``"k=v,k2=v2"``; spaces around keys and values are ignored, empty
            terms (``"a=1,,b=2"``, a trailing ``,``) are skipped, ``""`` gives ``{}``.

    Returns:
        The terms in the order given.

    Raises:
        ValueError: If a term has no ``=``, an empty key, or a key repeats; the message
            names the term or key.
    """
    if not isinstance(selector, str):
        raise ValueError(f"a selector must be text such as 'kind=volume', got {selector!r}")
    terms: dict[str, str] = {}
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        key, sep, value = term.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"selector term {term!r} is not key=value")
        if key in terms:
            raise ValueError(f"selector key {key!r} is given twice")
        terms[key] = value.strip()
    return terms


class Variants(abc.ABC):
    """A family of named variants: resolve selectors to full, typed variant dicts.

    Subclasses implement :meth:`resolve` and :meth:`format_selector`, and
    :meth:`enumerate` when the family is finite; :meth:`parse_selector`,
    :meth:`matches` and :meth:`cache_key` follow from them.
    """

    @abc.abstractmethod
    def resolve(
        self, selector_or_dict: str | Mapping[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        """The full variant (every key, typed) that a selector and keywords describe.

        Raises:
            ValueError: Naming the key, for unknown keys, bad values, or a key given both
                in ``selector_or_dict`` and as a keyword.
        """

    @abc.abstractmethod
    def parse_selector(self, selector: str) -> dict[str, Any]:
        """Only the keys a selector names, typed and checked (defaults not filled in).

        Raises:
            ValueError: Naming the key or term.
        """

    @abc.abstractmethod
    def enumerate(self) -> Iterator[dict[str, Any]]:
        """Every variant of a finite family, each a full dict.

        Raises:
            ValueError: If some axis is not finite.
        """

    def format_selector(self, variant: str | Mapping[str, Any] | None = None) -> str:
        """The canonical selector of a variant: every key, sorted, defaults included.

        Args:
            variant: Selector text, a (partial) dict, or ``None`` for all defaults.

        Returns:
            E.g. ``"kind=volume,merge=null,plane=axial,semantic=false"``.

        Raises:
            ValueError: As :meth:`resolve`.
        """
        full = self.resolve(variant)
        return ",".join(f"{k}={format_value(full[k])}" for k in sorted(full))

    def matches(self, selector: str | Mapping[str, Any] | None, variant: Mapping[str, Any]) -> bool:
        """Whether ``variant`` has every value that ``selector`` names.

        Args:
            selector: Selector text or a partial dict; ``None`` or empty matches all.
            variant: A variant (completed with defaults before comparing).

        Returns:
            True when each key of ``selector`` has the same typed value in ``variant``.

        Raises:
            ValueError: If either names an unknown key or carries a bad value.
        """
        wanted = self._partial(selector)
        full = self.resolve(dict(variant))
        return all(full[k] == v for k, v in wanted.items())

    def cache_key(self, variant: str | Mapping[str, Any] | None = None) -> str:
        """A folder name for a variant's derived cache entries, unique per canonical form.

        Returns:
            ``<readable slug>-<first 12 hex of sha256(canonical)>``, characters
            ``[A-Za-z0-9_.~-]`` only, e.g. ``kind-volume_semantic-true-1a2b3c4d5e6f``;
            the hash keeps two variants apart even when their slugs collide.

        Raises:
            ValueError: As :meth:`resolve`.
        """
        canonical = self.format_selector(variant)
        slug = _CACHE_KEY_SAFE.sub("-", canonical.replace(",", "_")).strip("-_")
        slug = slug[:CACHE_KEY_SLUG_CHARS] or "default"
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:CACHE_KEY_HASH_CHARS]
        return f"{slug}-{digest}"

    def parse_dict(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Only the keys of a partial dict, typed and checked (defaults not filled in).

        The default formats the values as selector text and parses it.

        Raises:
            ValueError: Naming the key, for an unknown key or a bad value.
        """
        return self.parse_selector(
            ",".join(
                f"{k}={v if isinstance(v, str) else format_value(v)}" for k, v in values.items()
            )
        )

    def _partial(self, selector: str | Mapping[str, Any] | None) -> dict[str, Any]:
        if selector is None:
            return {}
        if isinstance(selector, str):
            return self.parse_selector(selector)
        if isinstance(selector, Mapping):
            return self.parse_dict(selector)
        raise ValueError(f"a selector must be text or a dict, got {selector!r}")


class AxesVariants(Variants):
    """Variants spanned by typed axes (the datamaestro variants contract).

    Args:
        axes: The axes; names must be unique.
        check: Called with each full variant; raises :class:`ValueError` (naming the
            key) for combinations that are not allowed, e.g. a slicing plane on videos.
            :meth:`enumerate` skips those combinations.

    Raises:
        ValueError: If two axes share a name, or the all-defaults variant fails ``check``.

    Example:
        >>> v = AxesVariants([Axis("plane", str | None, None, choices=("axial",))])
        >>> list(v.enumerate())
        [{'plane': None}, {'plane': 'axial'}]
    """

    def __init__(
        self,
        axes: Sequence[Axis],
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        names = [a.name for a in axes]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"axis {name!r} is defined twice")
        self.axes: dict[str, Axis] = {a.name: a for a in axes}
        self._check = check
        self.resolve()  # the defaults must form a valid variant

    def __repr__(self) -> str:
        """Show the axes and their defaults."""
        inner = ", ".join(f"{a.name}: {a.type_text} = {format_value(a.default)}" for a in self)
        return f"AxesVariants({inner})"

    def __iter__(self) -> Iterator[Axis]:
        """The axes, sorted by name."""
        return iter(self.axes[k] for k in sorted(self.axes))

    def _axis(self, key: str) -> Axis:
        try:
            return self.axes[key]
        except KeyError:
            known = ", ".join(sorted(self.axes))
            raise ValueError(f"unknown variant key {key!r}; the keys are: {known}") from None

    def parse_selector(self, selector: str) -> dict[str, Any]:
        """Only the keys a selector names, typed and checked (defaults not filled in).

        Args:
            selector: ``"kind=volume,semantic=true"``; ``""`` gives ``{}``. Surrounding
                brackets (``"[kind=volume]"``) are accepted.

        Returns:
            ``{key: typed value}`` in the order given.

        Raises:
            ValueError: Naming the key, for an unknown key, a bad value, a key given
                twice, or a term without ``=``.
        """
        text = selector.strip() if isinstance(selector, str) else selector
        if isinstance(text, str) and text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        return {k: self._axis(k).coerce(v) for k, v in parse_terms(text).items()}

    def parse_dict(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Only the keys of a partial dict, typed and checked (defaults not filled in).

        Args:
            values: ``{key: text or Python value}``.

        Returns:
            ``{key: typed value}``.

        Raises:
            ValueError: Naming the key, for an unknown key or a bad value.
        """
        return {str(k): self._axis(str(k)).coerce(v) for k, v in values.items()}

    def resolve(
        self, selector_or_dict: str | Mapping[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        """The full variant (every axis, typed) that a selector and keywords describe.

        Args:
            selector_or_dict: Selector text, a dict of text or Python values, or ``None``.
            **kw: More keys, as Python values or text.

        Returns:
            ``{axis name: value}`` for every axis, sorted by name, defaults filled in.

        Raises:
            ValueError: Naming the key: unknown keys, bad values, a key both in
                ``selector_or_dict`` and in ``kw``, or a combination ``check`` rejects.
        """
        given = self._partial(selector_or_dict)
        for key, value in kw.items():
            if key in given:
                raise ValueError(f"variant key {key!r} is given both in the selector and as {key}=")
            given[key] = self._axis(key).coerce(value)
        full = {a.name: given.get(a.name, a.default) for a in self}
        if self._check is not None:
            self._check(full)
        return full

    def enumerate(self) -> Iterator[dict[str, Any]]:
        """Every allowed variant, in the order of the axes' values (sorted by axis name).

        Yields:
            Full variant dicts; combinations rejected by ``check`` are skipped.

        Raises:
            ValueError: If some axis is not finite (an int, float or str axis without
                choices); the message names it.
        """
        axes = list(self)
        pools = [a.values() for a in axes]
        for combo in itertools.product(*pools):
            variant = dict(zip((a.name for a in axes), combo, strict=True))
            if self._check is not None:
                try:
                    self._check(variant)
                except ValueError:
                    continue
            yield variant
