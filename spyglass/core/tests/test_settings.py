"""Settings from the environment (strict), DATABASE_URL, and the system checks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from spyglass.checks import check_settings
from spyglass.lib.dburl import parse_database_url
from spyglass.lib.env import (
    REGISTRY,
    env_bool,
    env_float,
    env_int,
    env_optional,
    env_size,
    env_str,
    parse_size,
)

NAME = "SPYGLASS_TEST_SETTING"


@pytest.fixture(autouse=True)
def registry_untouched() -> Iterator[None]:
    """The registry lists the real settings (the docs test reads it): leave no test names."""
    saved = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)


def given(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(NAME, raising=False)
    else:
        monkeypatch.setenv(NAME, value)


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [("true", False, True), ("false", True, False), (None, True, True), ("", False, False)],
)
def test_env_bool_takes_true_or_false_or_the_default(
    monkeypatch: pytest.MonkeyPatch, value: str | None, default: bool, expected: bool
) -> None:
    given(monkeypatch, value)
    assert env_bool(NAME, default) is expected


@pytest.mark.parametrize("value", ["1", "0", "yes", "no", "True", "FALSE", "on", " true"])
def test_env_bool_refuses_anything_else(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    given(monkeypatch, value)
    with pytest.raises(ImproperlyConfigured, match=NAME):
        env_bool(NAME, False)


def test_every_setting_read_is_registered_with_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given(monkeypatch, None)
    assert env_str(NAME, "x") == "x"
    assert REGISTRY[NAME].default == "x"
    assert env_optional(NAME) is None
    assert REGISTRY[NAME].default is None


@pytest.mark.parametrize(("value", "expected"), [("42", 42), ("0", 0), (None, 7), ("", 7)])
def test_env_int_parses_integers(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: int
) -> None:
    given(monkeypatch, value)
    assert env_int(NAME, 7) == expected


@pytest.mark.parametrize(("value", "message"), [("4.5", "integer"), ("ten", "integer")])
def test_env_int_refuses_what_is_not_an_integer(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    given(monkeypatch, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        env_int(NAME, 7)


def test_env_int_refuses_less_than_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    given(monkeypatch, "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int(NAME, 7, minimum=1)


@pytest.mark.parametrize(("value", "expected"), [("2.5", 2.5), ("10", 10.0), (None, 1.0)])
def test_env_float_parses_numbers(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: float
) -> None:
    given(monkeypatch, value)
    assert env_float(NAME, 1.0) == expected


@pytest.mark.parametrize("value", ["fast", "nan", "inf", "-inf", "0.5"])
def test_env_float_refuses_what_is_not_a_usable_number(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    given(monkeypatch, value)
    with pytest.raises(ImproperlyConfigured, match=NAME):
        env_float(NAME, 1.0, minimum=1.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1048576", 1048576),
        ("20MiB", 20 * 1024**2),
        ("20mb", 20 * 1024**2),
        ("512k", 512 * 1024),
        ("512 KiB", 512 * 1024),
        ("1G", 1024**3),
        ("100b", 100),
    ],
)
def test_sizes_are_bytes_or_powers_of_1024(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("value", ["1.5MiB", "20XB", "MiB", "-1", "0", "1 TiB"])
def test_env_size_refuses_what_is_not_a_positive_size(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    given(monkeypatch, value)
    with pytest.raises(ImproperlyConfigured, match=NAME):
        env_size(NAME, "1MiB")


def test_env_size_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    given(monkeypatch, None)
    assert env_size(NAME, "20MiB") == 20 * 1024**2


def test_a_postgres_url_becomes_a_postgresql_database() -> None:
    db = parse_database_url(
        "postgres://spy%40glass:p%40ss%3Aw%2Frd@db.example.com:6432/spy%2Dglass"
        "?sslmode=require&connect_timeout=5"
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"]) == ("spy@glass", "p@ss:w/rd")
    assert (db["HOST"], db["PORT"], db["NAME"]) == ("db.example.com", "6432", "spy-glass")
    assert db["OPTIONS"] == {"sslmode": "require", "connect_timeout": "5"}


def test_a_postgresql_url_without_user_or_port_leaves_them_to_libpq() -> None:
    db = parse_database_url("postgresql://localhost/spyglass")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == ("", "", "localhost", "")
    assert (db["NAME"], db["OPTIONS"]) == ("spyglass", {})


@pytest.mark.parametrize("url", ["postgres://localhost:port/db", "postgres://localhost:70000/db"])
def test_a_postgres_url_with_a_bad_port_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="port"):
        parse_database_url(url)


def test_a_postgres_url_must_name_a_database() -> None:
    with pytest.raises(ImproperlyConfigured, match="database"):
        parse_database_url("postgres://localhost/")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///relative/spyglass.sqlite3", "relative/spyglass.sqlite3"),
        ("sqlite:////var/lib/spyglass/db.sqlite3", "/var/lib/spyglass/db.sqlite3"),
        ("sqlite:////tmp/with%20space.sqlite3", "/tmp/with space.sqlite3"),
    ],
)
def test_sqlite_urls_are_relative_with_three_slashes_and_absolute_with_four(
    url: str, path: str
) -> None:
    assert parse_database_url(url) == {"ENGINE": "django.db.backends.sqlite3", "NAME": path}


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///"])
def test_a_sqlite_url_needs_a_path(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="path"):
        parse_database_url(url)


@pytest.mark.parametrize("url", ["mysql://localhost/spyglass", "spyglass.sqlite3", ""])
def test_other_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="not supported"):
        parse_database_url(url)


def check_ids() -> list[str]:
    return sorted(problem.id or "" for problem in check_settings())


def test_the_test_settings_pass_every_check() -> None:
    assert check_ids() == []


def test_e001_fires_when_the_data_directory_is_not_writable(tmp_path: Path) -> None:
    with override_settings(DATA_DIR=tmp_path / "missing" / "dir"):
        assert check_ids() == ["spyglass.E001"]
    with override_settings(DATA_DIR=tmp_path):
        assert check_ids() == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com",
        "example.com",
        "https://",
        "https://example.com/?x=1",
        "http://a/#f",
        "https://example.com:99999",
        "https://example.com:https",
        "https://user:secret@example.com",  # the DSN puts its key where the user would be
    ],
)
def test_e002_fires_for_a_base_url_that_is_not_http(url: str) -> None:
    with override_settings(BASE_URL=url):
        assert "spyglass.E002" in check_ids()


@pytest.mark.parametrize(
    "url", ["https://errors.example.com", "https://example.com/spyglass", "http://localhost:9000"]
)
def test_e002_accepts_http_and_https_base_urls(url: str) -> None:
    with override_settings(BASE_URL=url):
        assert check_ids() == []


def test_e003_fires_when_an_event_may_be_larger_than_its_envelope() -> None:
    with override_settings(MAX_EVENT_SIZE=2048, MAX_ENVELOPE_SIZE=1024):
        assert check_ids() == ["spyglass.E003"]
    with override_settings(MAX_EVENT_SIZE=1024, MAX_ENVELOPE_SIZE=1024):
        assert check_ids() == []


def test_e004_fires_for_an_sqlite_too_old_for_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    with override_settings(USING_POSTGRES=False):
        assert check_ids() == ["spyglass.E004"]
    with override_settings(USING_POSTGRES=True):
        assert check_ids() == []


def test_w001_warns_when_debug_is_on() -> None:
    with override_settings(DEBUG=True):
        assert check_ids() == ["spyglass.W001"]


@pytest.mark.parametrize(
    ("url", "ids"),
    [
        ("http://errors.example.com", ["spyglass.W002"]),
        ("http://192.0.2.10:8000", ["spyglass.W002"]),
        ("https://errors.example.com", []),
        ("http://127.0.0.1:8000", []),
        ("http://localhost", []),
        ("http://[::1]:8000", []),
    ],
)
def test_w002_warns_about_plain_http_beyond_this_machine(url: str, ids: list[str]) -> None:
    with override_settings(BASE_URL=url):
        assert check_ids() == ids
