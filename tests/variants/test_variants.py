"""The variants contract: typed coercion, canonical selectors, enumeration and errors."""

from __future__ import annotations

from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datamint.variants import AxesVariants, Axis, format_value, parse_terms

AXES = AxesVariants(
    [
        Axis("kind", str, "volume", choices=("image", "volume", "video")),
        Axis("semantic", bool, False),
        Axis("plane", Optional[str], None, choices=("axial", "coronal")),  # noqa: UP045 - typing form tested on purpose
        Axis("size", int, 3),
        Axis("scale", float | None, 0.5),
        Axis("note", str, "x"),
    ]
)


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("semantic", "true", True),
        ("semantic", "FALSE", False),
        ("semantic", " True ", True),
        ("size", "12", 12),
        ("size", "-3", -3),
        ("size", "+4", 4),
        ("scale", "0.25", 0.25),
        ("scale", "1", 1.0),
        ("scale", "1e-3", 0.001),
        ("scale", "null", None),
        ("plane", "null", None),
        ("plane", "axial", "axial"),
        ("note", "a.b-c_d:e", "a.b-c_d:e"),
    ],
)
def test_text_is_coerced_by_axis_type(key, text, expected):
    got = AXES.parse_selector(f"{key}={text}")[key]
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("semantic", True, True),
        ("size", 7, 7),
        ("scale", 2, 2.0),
        ("scale", None, None),
        ("plane", None, None),
    ],
)
def test_python_values_are_accepted(key, value, expected):
    got = AXES.resolve({key: value})[key]
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("selector", "key"),
    [
        ("semantic=yes", "semantic"),
        ("semantic=1", "semantic"),
        ("size=1.5", "size"),
        ("size=true", "size"),
        ("size=null", "size"),
        ("scale=nan", "scale"),
        ("scale=inf", "scale"),
        ("scale=abc", "scale"),
        ("kind=tensor", "kind"),
        ("plane=sagittal", "plane"),
        ("note=null", "note"),
        ("colour=red", "colour"),
        ("size=1,size=2", "size"),
    ],
)
def test_bad_selectors_name_the_key(selector, key):
    with pytest.raises(ValueError, match=f"'{key}'"):
        AXES.resolve(selector)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"semantic": 1}, "semantic"),
        ({"size": True}, "size"),
        ({"size": 2.0}, "size"),
        ({"scale": float("nan")}, "scale"),
        ({"note": ""}, "note"),
        ({"note": "a,b"}, "note"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_python_values_name_the_key(values, key):
    with pytest.raises(ValueError, match=f"'{key}'"):
        AXES.resolve(values)


def test_terms_without_equals_or_key_are_errors():
    with pytest.raises(ValueError, match="'kind'"):
        parse_terms("kind")
    with pytest.raises(ValueError, match="'=volume'"):
        parse_terms("=volume")


def test_empty_selector_means_all_defaults():
    defaults = {
        "kind": "volume",
        "note": "x",
        "plane": None,
        "scale": 0.5,
        "semantic": False,
        "size": 3,
    }
    assert AXES.resolve() == defaults
    assert AXES.resolve("") == defaults
    assert AXES.resolve({}) == defaults
    assert AXES.resolve(" , ") == defaults


def test_canonical_form_lists_every_axis_sorted_and_round_trips():
    canonical = AXES.format_selector("size=4, semantic=TRUE ,plane=axial")
    assert canonical == "kind=volume,note=x,plane=axial,scale=0.5,semantic=true,size=4"
    assert AXES.format_selector(canonical) == canonical
    assert AXES.resolve(canonical) == AXES.resolve({"size": 4, "semantic": True, "plane": "axial"})
    # two spellings of one variant share one form and one cache key
    other = "[plane=axial,semantic=true,size=+4,kind=volume]"
    assert AXES.format_selector(AXES.parse_selector(other)) == canonical
    assert AXES.cache_key(other) == AXES.cache_key(canonical)


def test_selector_and_keyword_for_one_key_is_an_error():
    assert AXES.resolve("size=2", semantic=True)["semantic"] is True
    with pytest.raises(ValueError, match="'size'"):
        AXES.resolve("size=2", size=3)


def test_matches_compares_typed_values_with_defaults_filled_in():
    variant = {"kind": "volume", "semantic": "true"}
    assert AXES.matches("semantic=TRUE", variant)
    assert AXES.matches({"size": 3}, variant)  # the default
    assert AXES.matches(None, variant)
    assert not AXES.matches("kind=image", variant)
    with pytest.raises(ValueError, match="'bogus'"):
        AXES.matches("bogus=1", variant)


def test_enumerate_gives_every_combination_of_finite_axes():
    finite = AxesVariants(
        [
            Axis("b", bool, False),
            Axis("p", str | None, None, choices=("x", "y")),
        ]
    )
    assert list(finite.enumerate()) == [
        {"b": False, "p": None},
        {"b": False, "p": "x"},
        {"b": False, "p": "y"},
        {"b": True, "p": None},
        {"b": True, "p": "x"},
        {"b": True, "p": "y"},
    ]
    with pytest.raises(ValueError, match=r"'note' .* no finite set"):
        list(AXES.enumerate())


def test_check_rejects_combinations_and_enumerate_skips_them():
    def check(v):
        if v["p"] is not None and not v["b"]:
            raise ValueError("variant key 'p' needs b=true")

    rules = AxesVariants(
        [Axis("b", bool, False), Axis("p", str | None, None, choices=("x",))], check=check
    )
    assert list(rules.enumerate()) == [
        {"b": False, "p": None},
        {"b": True, "p": None},
        {"b": True, "p": "x"},
    ]
    with pytest.raises(ValueError, match="'p'"):
        rules.resolve("p=x")


def test_cache_keys_are_distinct_and_safe_for_every_enumerated_variant():
    finite = AxesVariants(
        [
            Axis("kind", str, "a", choices=("a", "b", "a_b", "a-b")),
            Axis("flag", bool, False),
            Axis("plane", str | None, None, choices=("x", "x-y")),
        ]
    )
    variants = list(finite.enumerate())
    keys = {finite.cache_key(v) for v in variants}
    forms = {finite.format_selector(v) for v in variants}
    assert len(keys) == len(forms) == len(variants) == 24
    for key in keys:
        assert all(c.isalnum() or c in "_.~-" for c in key)
        assert not key.startswith(".")


@pytest.mark.parametrize(
    ("axis", "error"),
    [
        (lambda: Axis("x", list, None), TypeError),
        (lambda: Axis("x", int | str, 1), TypeError),
        (lambda: Axis("1x", int, 1), ValueError),
        (lambda: Axis("x", int, None), ValueError),
        (lambda: Axis("x", str, "c", choices=("a", "b")), ValueError),
        (lambda: Axis("x", int | None, None, choices=(1, 1)), ValueError),
    ],
)
def test_bad_axis_definitions(axis, error):
    with pytest.raises(error):
        axis()


def test_duplicate_axes_are_an_error():
    with pytest.raises(ValueError, match="'a'"):
        AxesVariants([Axis("a", bool, False), Axis("a", int, 1)])


@given(
    size=st.integers(min_value=-(10**12), max_value=10**12),
    scale=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    semantic=st.booleans(),
    note=st.text(alphabet="abcXYZ019_.-:+", min_size=1, max_size=12),
)
def test_canonical_round_trip_for_any_values(size, scale, semantic, note):
    variant = AXES.resolve({"size": size, "scale": scale, "semantic": semantic, "note": note})
    text = AXES.format_selector(variant)
    assert AXES.resolve(text) == variant
    assert AXES.format_selector(text) == text


def test_format_value_table():
    assert [format_value(v) for v in (None, True, False, 3, 0.1, "t")] == [
        "null",
        "true",
        "false",
        "3",
        "0.1",
        "t",
    ]
    with pytest.raises(TypeError):
        format_value([1])
