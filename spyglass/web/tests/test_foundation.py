"""The base of every page: security headers, relative times, sparklines, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from spyglass.test import World
from spyglass.web.templatetags.spyglass_web import ago, sparkline

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_pages_carry_a_strict_content_security_policy_and_the_other_headers(
    client: Client,
) -> None:
    response = client.get("/accounts/sign-in/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_base_template_has_no_inline_script_or_style(client: Client, world: World) -> None:
    client.force_login(world.alice)
    html = client.get(f"/{world.org.slug}/").content.decode()
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert '<script src="/static/web/spyglass.js" defer></script>' in html
    assert '<link rel="stylesheet" href="/static/web/spyglass.css">' in html
    assert '<link rel="icon" href="/static/web/favicon.svg" type="image/svg+xml">' in html


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3, minutes=20), "3 h ago"),
        (timedelta(days=2), "2 d ago"),
        (timedelta(days=65), "2 mo ago"),
        (timedelta(days=800), "2 y ago"),
        (timedelta(minutes=-10), "in 10 min"),
    ],
)
def test_relative_times_read_short(delta: timedelta, text: str) -> None:
    assert ago(NOW - delta, NOW) == text


@time_machine.travel(NOW, tick=False)
def test_a_time_shows_relative_with_the_absolute_time_in_the_active_zone_on_hover() -> None:
    template = Template("{% load spyglass_web %}{% reltime when %}")
    when = NOW - timedelta(hours=2)
    with timezone.override("Europe/Berlin"):
        html = template.render(Context({"when": when}))
    assert html == (
        '<time datetime="2026-11-22T10:00:00+00:00" title="2026-11-22 11:00:00 CET">2 h ago</time>'
    )


def test_the_signed_in_users_time_zone_is_used_on_pages(client: Client, world: World) -> None:
    world.alice.time_zone = "Asia/Tokyo"
    world.alice.save()
    client.force_login(world.alice)
    response = client.get(f"/{world.org.slug}/")
    assert response.status_code == 200
    assert timezone.get_current_timezone_name() == "UTC"  # reset after the request


def test_a_sparkline_is_an_svg_of_bars_scaled_to_the_highest() -> None:
    svg = str(sparkline([0, 5, 10]))
    assert svg.startswith('<svg class="sparkline"')
    assert svg.count("<rect") == 4  # a baseline and three bars
    assert 'aria-label="15 events in 24 hours"' in svg
    assert 'height="0.00"' in svg and 'height="22.00"' in svg


@pytest.mark.parametrize("path", ["/static/", "/api/", "/_health/", "/admin/nope/"])
def test_reserved_top_level_paths_are_never_taken_for_an_organization(
    client: Client, world: World, path: str
) -> None:
    assert client.get(path).status_code in (404, 302 if path.startswith("/admin/") else 404)
    client.force_login(world.alice)
    assert client.get(path).status_code == 404


def test_organizations_whose_slug_starts_like_a_reserved_word_still_work(
    client: Client, world: World
) -> None:
    world.org.slug = "static-site"
    world.org.save()
    client.force_login(world.bob)
    assert client.get("/static-site/").status_code == 200
    assert client.get("/static-site/backend/issues/").status_code == 200


def test_staff_see_the_server_status_in_their_menu_others_dont(
    client: Client, world: World
) -> None:
    world.alice.is_staff = True
    world.alice.save()
    client.force_login(world.alice)
    html = client.get(f"/{world.org.slug}/").content.decode()
    menu = html.split('class="menu user-menu"')[1].split("</details>")[0]
    assert '<a href="/manage/status/">Server status</a>' in menu
    client.force_login(world.bob)
    html = client.get(f"/{world.org.slug}/").content.decode()
    assert "/manage/status/" not in html and "Server status" not in html
    assert client.get("/manage/status/").status_code == 404


def test_the_shared_styles_give_every_text_like_control_one_look() -> None:
    from pathlib import Path

    import spyglass.web

    css = (Path(spyglass.web.__file__).parent / "static/web/spyglass.css").read_text()
    rule = css.split("/* forms */")[1].split("input:not([type])")[1].split("{")[0]
    for control in ["text", "email", "password", "search", "url", "number", "tel", "date"]:
        assert f"input[type={control}]" in rule, control
    assert "select" in rule and "textarea" in rule
