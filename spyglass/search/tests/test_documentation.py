"""docs/search.md stays true: every key is documented, and its examples behave as it says."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spyglass.search import KEYS, SearchSyntaxError, parse

DOC = (Path(__file__).resolve().parents[3] / "docs" / "search.md").read_text()
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def test_every_key_and_alias_is_documented() -> None:
    missing = [
        name
        for spec in KEYS
        for name in (spec.name, *spec.aliases, *spec.choices)
        if f"`{name}`" not in DOC
    ]
    assert not missing


def code_blocks() -> list[str]:
    blocks: list[str] = []
    current: list[str] | None = None
    for line in DOC.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


ERROR_LINES = [
    line for block in code_blocks() if "expected a" in block for line in block.splitlines()
]


@pytest.mark.parametrize("line", ERROR_LINES)
def test_the_documented_errors_are_the_real_ones(line: str) -> None:
    query, message = re.split(r"\s{2,}", line, maxsplit=1)
    with pytest.raises(SearchSyntaxError) as caught:
        parse(query, now=NOW)
    head, _, tail = message.partition("…")
    assert caught.value.message.startswith(head)
    assert caught.value.message.endswith(tail)


def test_the_documented_examples_parse() -> None:
    examples = [span for span in re.findall(r"`([^`\n]+)`", DOC) if ":" in span]
    parsed = 0
    for example in examples:
        skipped = example.startswith(("spyglass", "tests/", "key:", "!key:"))
        if skipped or example.endswith(":") or "…" in example:
            continue
        try:
            parse(example, now=NOW)
        except SearchSyntaxError as error:
            if example not in REFUSED:
                raise AssertionError(f"{example}: {error}") from None
        else:
            assert example not in REFUSED, example
            parsed += 1
    assert parsed > 30


# Examples the documentation gives as refused.
REFUSED = {
    "firstSeen:>-24h",
    "firstSeen:2026-11-01+02:00",
    "count():>100",
    '"key":value',
    "tags[key,number]",
    "is:open",
    "timesSeen:abc",
}
