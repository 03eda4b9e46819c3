"""The key registry and the sorts."""

from __future__ import annotations

import pytest

from spyglass.search import (
    DEFAULT_SORT,
    KEYS,
    Key,
    Scope,
    Sort,
    UnknownSortError,
    ValueType,
    lookup,
    parse_sort,
)
from spyglass.search.keys import ALL, is_registered, spec_for


def test_every_name_and_alias_leads_to_its_key() -> None:
    for spec in KEYS:
        for name in (spec.name, *spec.aliases):
            assert lookup(name) is spec


@pytest.mark.parametrize(
    ("written", "name", "kind"),
    [
        ("times_seen", "timesSeen", ValueType.NUMBER),
        ("age", "firstSeen", ValueType.DATE),
        ("first-release", "firstRelease", ValueType.TEXT),
        ("type", "event.type", ValueType.TEXT),
        ("op", "transaction.op", ValueType.TEXT),
        ("status", "transaction.status", ValueType.ENUM),
        ("trace.id", "trace", ValueType.TEXT),
        ("assigned_to", "assigned", ValueType.ACTOR),
        ("http.url", "url", ValueType.TEXT),
        ("measurements.lcp", "measurements.lcp", ValueType.DURATION),
        ("measurements.cls", "measurements.cls", ValueType.NUMBER),
        ("measurements.anything", "measurements.anything", ValueType.NUMBER),
    ],
)
def test_aliases_and_measurements(written: str, name: str, kind: ValueType) -> None:
    spec = lookup(written)
    assert spec is not None
    assert (spec.name, spec.type) == (name, kind)


@pytest.mark.parametrize("name", ["server", "customer", "firstseen", "measurements.", "browser"])
def test_unknown_keys_are_text_tags_of_every_scope(name: str) -> None:
    assert lookup(name) is None
    spec = Key(name, tag=True).spec
    assert (spec.type, spec.scopes, spec.tag) == (ValueType.TEXT, ALL, True)


def test_an_explicit_tag_is_a_tag_even_with_a_key_name() -> None:
    assert Key("level", tag=True).spec.type == ValueType.TEXT
    assert Key("level").spec.type == ValueType.ENUM
    assert is_registered("level") and is_registered("has") and not is_registered("server")


def test_scopes() -> None:
    assert spec_for("is").scopes == Scope.ISSUE
    assert spec_for("level").scopes == Scope.ISSUE | Scope.EVENT
    assert spec_for("transaction.duration").scopes == Scope.TRANSACTION
    assert spec_for("environment").scopes == ALL


def test_enum_choices_are_case_insensitive_with_aliases() -> None:
    spec = spec_for("is")
    assert spec.choice("Archived") == "ignored"
    assert spec.choice("for_review") == "for_review"
    assert spec.choice("open") is None


def test_every_key_is_documented() -> None:
    assert all(spec.doc for spec in KEYS)


@pytest.mark.parametrize("sort", list(Sort))
def test_every_sort_has_its_sentry_name(sort: Sort) -> None:
    assert parse_sort(sort.value) is sort
    assert sort.description


def test_no_sort_is_the_default_sort() -> None:
    assert parse_sort(None) is DEFAULT_SORT is Sort.DATE
    assert parse_sort("") is Sort.DATE


def test_an_unknown_sort_names_the_known_ones() -> None:
    with pytest.raises(UnknownSortError) as caught:
        parse_sort("oldest")
    assert str(caught.value) == (
        'unknown sort "oldest": expected one of date, new, freq, user, priority, trends'
    )
