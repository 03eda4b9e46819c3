"""Saved searches (own and shared, pinned default), recent searches and the search box's
autocomplete: through the pages, with access checked as everywhere (another organization's
member gets 404, forms need CSRF)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import Client

from spyglass.events.models import IssueTagValue
from spyglass.issues.models import Issue
from spyglass.projects.models import Member, Organization, Role, Team
from spyglass.savedsearches.models import RECENT_KEPT, RecentSearch, SavedSearch
from spyglass.savedsearches.views import quoted
from spyglass.test import World, make_user

pytestmark = pytest.mark.django_db

STREAM = "/acme/backend/issues/"
SEARCHES = "/acme/backend/searches/"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Autocomplete caches a project's tag keys and top values per process."""
    cache.clear()


def _issue(world: World, number: int, title: str, tags: list[tuple[str, str, int]]) -> Issue:
    issue = Issue.objects.create(
        project=world.project,
        number=number,
        title=title,
        first_seen=NOW - timedelta(days=1),
        last_seen=NOW,
        times_seen=5,
    )
    for key, value, times in tags:
        IssueTagValue.objects.create(
            issue=issue, key=key, value=value, times_seen=times, first_seen=NOW, last_seen=NOW
        )
    return issue


@pytest.fixture
def tagged(world: World) -> World:
    _issue(
        world,
        1,
        "ValueError: bad",
        [
            ("environment", "production", 50),
            ("browser.name", "Firefox", 3),
            ("customer", "acme corp", 9),
            ("user", "email:dana@example.com", 4),
        ],
    )
    _issue(
        world,
        2,
        "KeyError: x",
        [
            ("environment", "staging", 5),
            ("environment", "production", 7),
            ("customer", "globex", 2),
        ],
    )
    return world


def test_saving_a_search_lists_it_and_opens_it(client: Client, tagged: World) -> None:
    client.force_login(tagged.bob)
    response = client.post(
        SEARCHES + "save/", {"query": "is:unresolved level:error", "sort": "events", "name": "Mine"}
    )
    assert response.status_code == 302
    assert response["Location"] == STREAM + "?query=is%3Aunresolved+level%3Aerror&sort=events"
    saved = SavedSearch.objects.get()
    assert (saved.owner, saved.name, saved.sort, saved.is_default) == (
        tagged.bob,
        "Mine",
        "events",
        False,
    )
    page = client.get(STREAM).content.decode()
    assert "Mine" in page
    assert (
        'href="/acme/backend/issues/?query=is%3Aunresolved%20level%3Aerror&amp;sort=events"' in page
    )
    # alice (another user) doesn't see bob's own search
    client.force_login(tagged.alice)
    assert "Mine" not in client.get(STREAM).content.decode()


def test_a_shared_search_needs_a_writer_and_everyone_sees_it(client: Client, tagged: World) -> None:
    client.force_login(tagged.bob)  # a plain member: the search stays his own
    client.post(SEARCHES + "save/", {"query": "level:error", "name": "Errors", "shared": "on"})
    assert SavedSearch.objects.get().owner == tagged.bob
    client.force_login(tagged.alice)  # the owner may share
    client.post(SEARCHES + "save/", {"query": "level:fatal", "name": "Fatal", "shared": "on"})
    shared = SavedSearch.objects.get(name="Fatal")
    assert shared.owner is None
    client.force_login(tagged.bob)
    page = client.get(STREAM).content.decode()
    assert "Fatal" in page and "shared" in page
    # bob can't delete or pin the shared search: 404, as if it didn't exist
    assert client.post(SEARCHES + f"{shared.pk}/delete/").status_code == 404
    assert client.post(SEARCHES + f"{shared.pk}/pin/").status_code == 404
    assert SavedSearch.objects.filter(pk=shared.pk).exists()


def test_pinning_makes_it_the_default_and_unpinning_undoes_it(
    client: Client, tagged: World
) -> None:
    client.force_login(tagged.bob)
    client.post(SEARCHES + "save/", {"query": "level:error", "name": "A"})
    client.post(SEARCHES + "save/", {"query": "level:fatal", "name": "B", "sort": "new"})
    a, b = SavedSearch.objects.order_by("id")
    client.post(SEARCHES + f"{a.pk}/pin/")
    client.post(SEARCHES + f"{b.pk}/pin/")
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.is_default, b.is_default) == (False, True)
    response = client.get(STREAM)
    assert response.status_code == 302
    assert response["Location"] == STREAM + "?query=level%3Afatal&sort=new"
    # any parameter (another tab, an empty query) opens what was asked
    assert client.get(STREAM + "?query=").status_code == 200
    client.post(SEARCHES + f"{b.pk}/pin/", {"unpin": "1"})
    assert client.get(STREAM).status_code == 200
    # a shared default applies to members without their own
    client.force_login(tagged.alice)
    client.post(SEARCHES + "save/", {"query": "is:unresolved", "name": "Org", "shared": "on"})
    shared = SavedSearch.objects.get(name="Org")
    client.post(SEARCHES + f"{shared.pk}/pin/")
    client.force_login(tagged.bob)
    assert client.get(STREAM)["Location"] == STREAM + "?query=is%3Aunresolved"


def test_deleting_a_search(client: Client, tagged: World) -> None:
    client.force_login(tagged.bob)
    client.post(SEARCHES + "save/", {"query": "level:error", "name": "A"})
    saved = SavedSearch.objects.get()
    client.force_login(tagged.alice)  # not hers: 404
    assert client.post(SEARCHES + f"{saved.pk}/delete/").status_code == 404
    client.force_login(tagged.bob)
    assert client.post(SEARCHES + f"{saved.pk}/delete/").status_code == 302
    assert not SavedSearch.objects.exists()


def test_recent_searches_keep_the_last_ten(client: Client, tagged: World) -> None:
    client.force_login(tagged.bob)
    for n in range(RECENT_KEPT + 3):
        client.get(STREAM, {"query": f"timesSeen:>{n}"})
    client.get(STREAM, {"query": "timesSeen:>5"})  # again: moves to the top, no duplicate
    client.get(STREAM, {"query": "level:"})  # an error: not recorded
    rows = RecentSearch.objects.filter(user=tagged.bob).order_by("-last_used", "-id")
    queries = list(rows.values_list("query", flat=True))
    assert len(queries) == RECENT_KEPT
    assert queries[0] == "timesSeen:>5"
    assert "timesSeen:>0" not in queries
    page = client.get(STREAM).content.decode()
    assert 'aria-label="Recent searches"' in page
    assert RecentSearch.objects.filter(user=tagged.alice).count() == 0


def test_forms_need_csrf(tagged: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(tagged.bob)
    assert client.post(SEARCHES + "save/", {"query": "x", "name": "y"}).status_code == 403
    page = client.get(STREAM, {"query": "level:error"}).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page.split("save-search-form")[1]


@pytest.mark.parametrize(
    "path",
    [
        "/umbrella/backend/searches/autocomplete/?term=le",
        "/acme/nope/searches/autocomplete/?term=le",
    ],
)
def test_other_organizations_get_404(client: Client, tagged: World, path: str) -> None:
    other = Organization.get_or_create_named("Umbrella")
    outsider = make_user("mallory@example.com")
    Member.objects.create(organization=other, user=outsider, role=Role.OWNER)
    client.force_login(tagged.charlie)
    assert client.get(SEARCHES + "autocomplete/?term=le").status_code == 404
    assert client.post(SEARCHES + "save/", {"query": "x"}).status_code == 404
    client.force_login(outsider)
    assert client.get(path).status_code == 404


def _items(client: Client, term: str) -> list[dict[str, str]]:
    response = client.get(SEARCHES + "autocomplete/", {"term": term})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)["items"]  # type: ignore[no-any-return]


def test_autocomplete_keys_then_values(client: Client, tagged: World) -> None:
    Team.objects.create(organization=tagged.org, name="Backend", slug="backend")
    client.force_login(tagged.bob)
    keys = [item["text"] for item in _items(client, "le")]
    assert keys == ["level:"]
    assert "customer:" in [item["text"] for item in _items(client, "cust")]  # a tag key
    negated = [i["text"] for i in _items(client, "!is")]
    assert negated[0] == "!is:"
    assert "!issue.priority:" in negated
    assert all(text.startswith("!is") for text in negated)
    assert [i["label"] for i in _items(client, "level:")] == [
        "fatal",
        "error",
        "warning",
        "info",
        "debug",
    ]
    assert [i["text"] for i in _items(client, "level:w")] == ["level:warning "]
    # top values of a tag, by events
    assert [i["label"] for i in _items(client, "environment:")] == ["production", "staging"]
    assert [i["text"] for i in _items(client, "customer:")] == [
        'customer:"acme corp" ',
        "customer:globex ",
    ]
    assert [i["label"] for i in _items(client, "browser.name:F")] == ["Firefox"]
    assert [i["label"] for i in _items(client, "user.email:")] == ["dana@example.com"]
    assert _items(client, "release:")[0]["label"] == "latest"
    assigned = [i["label"] for i in _items(client, "assigned:")]
    assert assigned[:3] == ["me", "my_teams", "none"]
    assert "#backend" in assigned and "alice@example.com" in assigned
    assert [i["label"] for i in _items(client, "has:cust")] == ["customer"]
    assert _items(client, "timesSeen:") == []


def test_autocomplete_escapes_nothing_it_shouldnt(client: Client, tagged: World) -> None:
    IssueTagValue.objects.create(
        issue=Issue.objects.get(number=1),
        key="customer",
        value='<b>"x"</b>',
        times_seen=1,
        first_seen=NOW,
        last_seen=NOW,
    )
    client.force_login(tagged.bob)
    texts = [i["text"] for i in _items(client, "customer:<")]
    assert texts == ['customer:"<b>\\"x\\"</b>" ']
    assert quoted("a*b") == '"a\\*b"'
    assert quoted("plain") == "plain"


def test_autocomplete_asks_the_database_beyond_the_cached_top_values(
    client: Client, tagged: World
) -> None:
    from spyglass.savedsearches import views

    issue = Issue.objects.get(number=1)
    IssueTagValue.objects.bulk_create(
        IssueTagValue(
            issue=issue,
            key="many",
            value=f"v{n:04d}",
            times_seen=1000 - n,
            first_seen=NOW,
            last_seen=NOW,
        )
        for n in range(views.CACHED_VALUES + 50)
    )
    client.force_login(tagged.bob)
    assert [i["label"] for i in _items(client, "many:")][:2] == ["v0000", "v0001"]
    rare = [i["label"] for i in _items(client, "many:v024")]
    assert rare == [f"v024{n}" for n in range(10)]


def test_autocomplete_writes_an_odd_tag_key_as_the_parser_reads_it(
    client: Client, tagged: World
) -> None:
    from spyglass.search import parse

    issue = Issue.objects.get(number=1)
    for key in ("my key", 'say "hi"'):
        IssueTagValue.objects.create(
            issue=issue, key=key, value="v 1", times_seen=1, first_seen=NOW, last_seen=NOW
        )
    client.force_login(tagged.bob)
    keys = [i["text"] for i in _items(client, "my")]
    assert keys == ['tags["my key"]:']
    assert [i["text"] for i in _items(client, "say")] == ['tags["say \\"hi\\""]:']
    values = [i["text"] for i in _items(client, 'tags["my key"]:')]
    assert values == ['tags["my key"]:"v 1" ']
    assert [i["text"] for i in _items(client, "has:my")] == ['has:tags["my key"] ']
    for text in (*values, 'has:tags["my key"]', 'tags["say \\"hi\\""]:x'):
        parse(text, now=NOW)  # every suggestion parses
    response = client.get(STREAM, {"query": values[0].strip()})
    assert response.status_code == 200
    assert "ValueError: bad" in response.content.decode()
    assert "KeyError: x" not in response.content.decode()


# --- the organization's stream: the same search box over every project ---------------------

ORG_STREAM = "/acme/issues/"
ORG_SEARCHES = "/acme/searches/"


def test_the_organization_stream_has_the_search_box_saved_and_recent_searches(
    client: Client, tagged: World
) -> None:
    client.force_login(tagged.bob)
    page = client.get(ORG_STREAM, {"query": "level:error"}).content.decode()
    assert 'data-autocomplete-url="/acme/searches/autocomplete/"' in page
    assert 'name="project"' in page  # the projects to search
    assert 'action="/acme/searches/save/"' in page
    response = client.post(ORG_SEARCHES + "save/", {"query": "level:error", "name": "Errs"})
    assert response.status_code == 302
    assert response["Location"] == ORG_STREAM + "?query=level%3Aerror"
    saved = SavedSearch.objects.get()
    assert saved.organization == tagged.org and saved.owner == tagged.bob
    page = client.get(ORG_STREAM, {"query": "level:fatal"}).content.decode()
    assert 'aria-label="Saved searches"' in page and "Errs" in page
    assert f'action="/acme/searches/{saved.pk}/pin/"' in page
    assert 'aria-label="Recent searches"' in page and "level:error" in page
    # a saved search is the organization's: the project stream lists it too
    assert "Errs" in client.get(STREAM, {"query": "x"}).content.decode()
    # pinned, it opens the organization's stream; deleted, it's gone
    client.post(ORG_SEARCHES + f"{saved.pk}/pin/")
    assert client.get(ORG_STREAM)["Location"] == ORG_STREAM + "?query=level%3Aerror"
    assert client.post(ORG_SEARCHES + f"{saved.pk}/delete/").status_code == 302
    assert not SavedSearch.objects.exists()
    assert client.get(ORG_STREAM).status_code == 200


def test_organization_autocomplete_reads_every_project(client: Client, tagged: World) -> None:
    other = Issue.objects.create(
        project=tagged.other_project,
        number=1,
        title="TypeError: y",
        first_seen=NOW - timedelta(days=1),
        last_seen=NOW,
        times_seen=1,
    )
    IssueTagValue.objects.create(
        issue=other,
        key="browser.name",
        value="Chrome",
        times_seen=20,
        first_seen=NOW,
        last_seen=NOW,
    )
    IssueTagValue.objects.create(
        issue=other, key="frontend_only", value="x", times_seen=1, first_seen=NOW, last_seen=NOW
    )
    client.force_login(tagged.bob)

    def items(base: str, term: str) -> list[str]:
        response = client.get(base + "autocomplete/", {"term": term})
        assert response.status_code == 200
        return [item["label"] for item in json.loads(response.content)["items"]]

    assert items(ORG_SEARCHES, "browser.name:") == ["Chrome", "Firefox"]
    assert items(SEARCHES, "browser.name:") == ["Firefox"]  # one project's
    assert "frontend_only" in items(ORG_SEARCHES, "front")
    assert items(SEARCHES, "front") == []
    assert items(ORG_SEARCHES, "customer:") == ["acme corp", "globex"]


def test_organization_searches_are_404_to_outsiders_and_need_csrf(
    client: Client, tagged: World
) -> None:
    client.force_login(tagged.charlie)
    assert client.get(ORG_SEARCHES + "autocomplete/?term=le").status_code == 404
    assert client.post(ORG_SEARCHES + "save/", {"query": "x"}).status_code == 404
    client.force_login(tagged.bob)
    client.post(ORG_SEARCHES + "save/", {"query": "level:error", "name": "A"})
    saved = SavedSearch.objects.get()
    client.force_login(tagged.alice)  # not hers
    assert client.post(ORG_SEARCHES + f"{saved.pk}/delete/").status_code == 404
    assert client.post(ORG_SEARCHES + f"{saved.pk}/pin/").status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(tagged.bob)
    assert strict.post(ORG_SEARCHES + "save/", {"query": "x", "name": "y"}).status_code == 403
