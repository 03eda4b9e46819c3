"""Any AST the parser can produce, and any text that parses, compiles to a query that runs on
the database: issue search, event search and transaction search each find rows or fail with
a positioned `SearchNotSupported`, never a database error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.events.query import event_queryset
from spyglass.issues.search import SearchNotSupported, issue_queryset, order_issues
from spyglass.issues.tests.test_search import NOW, seed_issues
from spyglass.performance.search import transaction_queryset
from spyglass.performance.tests.test_search import seed_transactions
from spyglass.search import Node, SearchSyntaxError, Sort, parse
from spyglass.search.tests.test_roundtrip import trees
from spyglass.test import World

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PIECES = [
    *"abc:!*\"\\()[], <>=-%_'\x00",
    "is:",
    "has:",
    "timesSeen:",
    "firstSeen:",
    "release:",
    "tags[x]:",
    " OR ",
    "user.email:",
    "issue:",
    "level:",
    "error.handled:",
    "http.status_code:",
    "1k",
    "-24h",
    "latest",
    "transaction.duration:",
    "measurements.lcp:",
    "op:",
    "status:",
    "browser.name:",
    "event.type:",
    "1.5s",
]
LANGUAGE = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)


@pytest.fixture
def seeded(world: World) -> World:
    seed_issues(world)
    seed_transactions(world)
    return world


def run(world: World, ast: Node) -> None:
    projects = [world.project.id, world.other_project.id]
    try:
        issues = issue_queryset(ast, project_ids=projects, user=world.alice, now=NOW)
    except SearchNotSupported as error:
        assert 0 <= error.position <= error.end
    else:
        list(order_issues(issues, Sort.PRIORITY, now=NOW).values_list("id", flat=True))
    for search in (event_queryset, transaction_queryset):
        try:
            rows = search(projects, ast)
        except SearchNotSupported as error:
            assert 0 <= error.position <= error.end
            continue
        list(rows.values_list("id", flat=True))


@FUZZ
@given(ast=trees)
def test_any_ast_compiles_to_a_query_that_runs(seeded: World, ast: Node) -> None:
    run(seeded, ast)


@FUZZ
@given(query=LANGUAGE)
def test_any_query_that_parses_runs(seeded: World, query: str) -> None:
    try:
        ast = parse(query, now=NOW)
    except SearchSyntaxError:
        return
    run(seeded, ast)
