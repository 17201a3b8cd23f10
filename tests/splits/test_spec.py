"""The split-spec grammar (Hugging Face ReadInstruction style)."""

import pytest

from datamint.exceptions import SplitError
from datamint.splits.spec import SpecPart, parse_spec, resolve_part


@pytest.mark.parametrize(
    ("spec", "n", "expected"),
    [
        ("train", 10, [list(range(10))]),
        ("train[2:5]", 10, [[2, 3, 4]]),
        ("train[-3:]", 10, [[7, 8, 9]]),
        ("train[:50%]", 10, [[0, 1, 2, 3, 4]]),
        ("train[:25%]", 10, [[0, 1]]),  # round(2.5) = 2: half to even
        ("train[:35%]", 10, [[0, 1, 2, 3]]),  # round(3.5) = 4
        ("train[-10%:]", 10, [[9]]),
        ("train[:10%]+val[50%:]", 10, [[0], [5, 6, 7, 8, 9]]),
        ("train[0:100]", 10, [list(range(10))]),  # out of range clips, as in Python
    ],
)
def test_bounds(spec, n, expected):
    assert [list(resolve_part(p, n)) for p in parse_spec(spec)] == expected


def test_pct1_dropremainder_makes_every_percent_the_same_size():
    part = parse_spec("train[:3%](pct1_dropremainder)")[0]
    assert part == SpecPart("train", None, 3, True, "pct1_dropremainder")
    assert len(resolve_part(part, 250)) == 6  # 3 * (250 // 100)
    assert len(resolve_part(parse_spec("train[:3%]")[0], 250)) == 8  # round(7.5) = 8
    with pytest.raises(SplitError, match="needs at least 100 items"):
        resolve_part(part, 99)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "is empty"),
        ("train[", "cannot parse 'train\\['"),
        ("train[1%:5]", "mixes absolute and percent"),
        ("train[:5](closest)", "only to percent bounds"),
        ("train[:101%]", r"\[-100, 100\]"),
        ("train[:5%](floor)", "unknown rounding 'floor'"),
        ("train++val", "cannot parse ''"),
        ("train[%:]", "'%' without a number"),
    ],
)
def test_bad_specs_say_what_to_change(spec, message):
    with pytest.raises(SplitError, match=message):
        parse_spec(spec)
    with pytest.raises(ValueError):
        parse_spec(spec)
