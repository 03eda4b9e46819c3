"""A project's digest settings are validated on every clean: rules point at the bad line."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from django.core.exceptions import ValidationError

from spyglass.digest.filters import FilterSettings
from spyglass.digest.scrubbing import ScrubbingConfig
from spyglass.projects import validators
from spyglass.projects.models import Project
from spyglass.test import World

GOOD_FINGERPRINT_RULES = """\
# payment errors group by provider
error.type:PaymentError tags.provider:* -> payment, {{ tags.provider }}
error.type:DatabaseUnavailable -> system-down
stack.function:"Foo.bar" !stack.module:tests* -> foo-bar title="Foo bar failed"

message:"*timed out*" -> timeout, {{ default }}
"""
GOOD_STACKTRACE_RULES = """\
# vendored code is not ours
stack.module:vendor.* -app
   family:javascript stack.abs_path:**/node_modules/** -app -group
[ stack.function:dispatch ] | stack.function:handle +app
error.type:RecursionError stack.function:walk max-frames=3
"""


def messages(validate: typing.Callable[[typing.Any], None], value: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        validate(value)
    return caught.value.messages


def test_good_rules_pass() -> None:
    validators.validate_fingerprint_rules(GOOD_FINGERPRINT_RULES.replace("tags.provider:* ", ""))
    validators.validate_stacktrace_rules(GOOD_STACKTRACE_RULES)
    validators.validate_fingerprint_rules("# only a comment\n\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # after a comment and a blank line: the line number counts them
        (
            "error.type:A -> a\n# note\n\nerror.type:B  b",
            "line 4, column 15: expected '->' between the matchers and the fingerprint"
            ' near "b", in: error.type:B  b',
        ),
        ("bogus:x -> a", "line 1, column 1: unknown matcher 'bogus', in: bogus:x -> a"),
        (
            "error.type:A -> a\nerror.type:B ->",
            "line 2, column 16: expected a fingerprint after '->' at the end of the line,"
            " in: error.type:B ->",
        ),
        (
            'error.type:A\nerror.type:A -> a\nmessage:"oops -> b',
            "line 1, column 13: expected '->' between the matchers and the fingerprint at the"
            " end of the line, in: error.type:A",
        ),
        (
            'message:"oops -> b',
            'line 1, column 9: unterminated quoted value near ""oops -> b", in: message:"oops -> b',
        ),
        (
            'error.type:A -> a colour="red"',
            'line 1, column 19: unknown attribute \'colour\' near "colour="red"", in:'
            ' error.type:A -> a colour="red"',
        ),
        (
            "[ stack.function:a stack.function:b -> x",
            "line 1, column 20: expected ']' closing the caller matcher",
        ),
    ],
)
def test_bad_fingerprint_rules_point_at_the_line_and_column(text: str, expected: str) -> None:
    [message] = messages(validators.validate_fingerprint_rules, text)
    assert message.startswith(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "stack.module:vendor.* -app\nstack.function:foo +ap",
            "line 2, column 20: expected an action (+app, -app, +group, -group, max-frames=N,"
            ' ...) near "+ap", in: stack.function:foo +ap',
        ),
        (
            "stack.module:a -app\n\n  family:native  bogus",
            "line 3, column 18: expected an action",
        ),
        (
            "stack.function:a max-frames=lots",
            "line 1, column 18: invalid value 'lots' for 'max-frames', in:"
            " stack.function:a max-frames=lots",
        ),
        ("stack.funktion:a +app", "line 1, column 1: unknown matcher 'stack.funktion' (known: "),
        (
            "stack.function:a +app\nerror.type:X +app",
            "line 2, column 1: a rule needs at least one frame matcher",
        ),
        ("stack.function:a", "line 1, column 17: expected an action"),
    ],
)
def test_bad_stacktrace_rules_point_at_the_line_and_column(text: str, expected: str) -> None:
    [message] = messages(validators.validate_stacktrace_rules, text)
    assert message.startswith(expected)


def test_the_quoted_line_keeps_its_indentation_and_is_shortened_when_long() -> None:
    [indented] = messages(validators.validate_stacktrace_rules, "    stack.function:a +bogus")
    assert indented.endswith("in:     stack.function:a +bogus")
    long_line = "stack.function:a +app " + "x" * 500
    [message] = messages(validators.validate_stacktrace_rules, long_line)
    assert message.endswith("…") and len(message.split(", in: ")[1]) == 200


def test_a_percent_sign_in_a_rule_does_not_break_the_message() -> None:
    [message] = messages(validators.validate_fingerprint_rules, "message:100%d %(x)s")
    assert message.endswith('near "%(x)s", in: message:100%d %(x)s')


def test_unknown_grouping_configs_are_refused() -> None:
    validators.validate_grouping_config("newstyle:2023-01-11")
    [message] = messages(validators.validate_grouping_config, "legacy:2019-03-12")
    assert message == "unknown grouping config 'legacy:2019-03-12' (known: newstyle:2023-01-11)"


def test_good_scrubbing_and_filter_settings_pass() -> None:
    validators.validate_data_scrubbing(
        {
            "scrub_data": True,
            "scrub_ip_addresses": True,
            "sensitive_fields": ["card"],
            "advanced_rules": '{"rules": {}, "applications": {"$string": ["@email"]}}',
        }
    )
    validators.validate_data_scrubbing({"advanced_rules": None})
    validators.validate_inbound_filters(
        {
            "error_messages": ["*timeout*"],
            "localhost": True,
            "blacklisted_ips": ["10.0.0.0/8", " 2001:db8::1 ", "192.168.1.7"],
        }
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([], ["must be a JSON object of settings"]),
        ({"scrub_ip_address": True}, ["unknown setting 'scrub_ip_address' (known: scrub_data, "]),
        ({"scrub_data": "false"}, ["'scrub_data' must be true or false, not \"false\""]),
        (
            {"safe_fields": "password"},
            ["'safe_fields' must be a list of strings, not \"password\""],
        ),
        ({"sensitive_fields": [1]}, ["'sensitive_fields' must be a list of strings, not [1]"]),
        ({"advanced_rules": {"rules": {}}}, ["'advanced_rules' must be a JSON text or null"]),
        ({"advanced_rules": "{rules"}, ["'advanced_rules' is not valid JSON: "]),
        ({"advanced_rules": "[]"}, ["'advanced_rules' must be a JSON object with"]),
        (
            {"advanced_rules": '{"rules": [1]}'},
            ["'advanced_rules': 'rules' must be a JSON object"],
        ),
        (
            {"scrub_data": 1, "typo": True},
            ["'scrub_data' must be true or false, not 1", "unknown setting 'typo'"],
        ),
    ],
)
def test_bad_scrubbing_settings_are_named(value: object, expected: list[str]) -> None:
    found = messages(validators.validate_data_scrubbing, value)
    assert len(found) == len(expected)
    for message, start in zip(found, expected, strict=True):
        assert message.startswith(start)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # a string where a list belongs would be read as one glob per character: "*" drops all
        ({"error_messages": "*timeout*"}, "'error_messages' must be a list of strings"),
        ({"localhost": "yes"}, "'localhost' must be true or false"),
        ({"blacklisted_ip": ["10.0.0.1"]}, "unknown setting 'blacklisted_ip'"),
        ({"blacklisted_ips": ["10.0.0.300"]}, "'blacklisted_ips': '10.0.0.300' is not an IP"),
    ],
)
def test_bad_filter_settings_are_named(value: object, expected: str) -> None:
    [message] = messages(validators.validate_inbound_filters, value)
    assert message.startswith(expected)


@pytest.mark.parametrize(
    ("config", "table"),
    [(ScrubbingConfig, validators.SCRUBBING_KEYS), (FilterSettings, validators.FILTER_KEYS)],
)
def test_the_setting_tables_match_what_the_digest_reads(
    config: type, table: dict[str, str]
) -> None:
    kinds = {
        bool: validators.BOOL,
        tuple[str, ...]: validators.STRINGS,
        str | None: validators.JSON_TEXT,
    }
    hints = typing.get_type_hints(config)
    assert {f.name: kinds[hints[f.name]] for f in dataclasses.fields(config)} == table


@pytest.mark.django_db
def test_full_clean_reports_each_bad_setting_on_its_field(world: World) -> None:
    project = world.project
    project.fingerprint_rules = "error.type:A -> a\nerror.type:B"
    project.stacktrace_rules = "stack.function:a +app"
    project.inbound_filters = {"localhost": "no"}
    with pytest.raises(ValidationError) as caught:
        project.full_clean()
    errors = caught.value.message_dict
    assert set(errors) == {"fingerprint_rules", "inbound_filters"}
    assert errors["fingerprint_rules"][0].startswith("line 2, column 13: expected '->'")


@pytest.mark.django_db
def test_full_clean_accepts_good_settings_and_empty_ones(world: World) -> None:
    project = Project.objects.get(id=world.project.id)
    project.full_clean()
    project.stacktrace_rules = GOOD_STACKTRACE_RULES
    project.data_scrubbing = {"scrub_ip_addresses": True}
    project.full_clean()
