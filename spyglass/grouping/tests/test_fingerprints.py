from __future__ import annotations

from hashlib import md5

import pytest

from spyglass.grouping import GroupingConfig, RuleSyntaxError, parse_fingerprint_rules
from spyglass.grouping.tests.builders import (
    Event,
    contributing,
    event,
    exception,
    frame,
    group,
    leaves,
    primary,
)


def md5_of(*values: str) -> str:
    return md5("".join(values).encode()).hexdigest()


def error(fingerprint: list[str] | None = None, **fields: object) -> Event:
    frames = [frame("main", "app.main", in_app=True), frame("charge", "app.payments")]
    data: dict[str, object] = {
        "exceptions": [exception("PaymentError", "card 4242 declined", frames)],
        "transaction": "/checkout",
        "level": "error",
        "logger": "shop",
        "tags": {"region": "eu-west-1"},
        **fields,
    }
    if fingerprint is not None:
        data["fingerprint"] = fingerprint
    return event(**data)  # type: ignore[arg-type]


def rules(text: str) -> GroupingConfig:
    return GroupingConfig(fingerprint_rules=parse_fingerprint_rules(text))


def test_a_default_fingerprint_groups_as_if_there_were_none() -> None:
    assert group(error(["{{ default }}"])).hashes == group(error()).hashes


def test_a_custom_fingerprint_replaces_the_default_grouping() -> None:
    result = group(error(["payments", "declined"]))
    assert result.hashes == [md5_of("payments", "declined")]
    assert contributing(result) == ["custom-fingerprint"]
    assert result.variants["app"].hint == "custom fingerprint takes precedence"


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("{{ transaction }}", "/checkout"),
        ("{{ type }}", "PaymentError"),
        ("{{ error.type }}", "PaymentError"),
        ("{{ value }}", "card 4242 declined"),
        ("{{ error.value }}", "card 4242 declined"),
        ("{{ message }}", "card <int> declined"),
        ("{{ function }}", "charge"),
        ("{{ stack.function }}", "charge"),
        ("{{ module }}", "app.payments"),
        ("{{ level }}", "error"),
        ("{{ logger }}", "shop"),
        ("{{ tags.region }}", "eu-west-1"),
        ("{{ tags.missing }}", "<no-value-for-tag-missing>"),
        ("{{ package }}", "<no-package>"),
        ("{{Transaction}}", "/checkout"),
        ("{{  TYPE  }}", "PaymentError"),
        ("{{ no_such_thing }}", "{{ no_such_thing }}"),
    ],
)
def test_fingerprint_variables_resolve_from_the_event(variable: str, expected: str) -> None:
    result = group(error(["prefix", variable]))
    assert result.fingerprint == ["prefix", expected]
    assert result.hashes == [md5_of("prefix", expected)]


def test_variables_fall_back_to_markers_when_the_event_lacks_the_value() -> None:
    data = event(message="hello", fingerprint=["{{ transaction }}", "{{ type }}", "{{ function }}"])
    assert group(data).fingerprint == ["<no-transaction>", "<no-type>", "<no-function>"]


def test_a_default_fingerprint_with_extra_values_refines_the_default_grouping() -> None:
    plain = group(error())
    hybrid = group(error(["{{ default }}", "eu"]))
    other = group(error(["{{ default }}", "us"]))
    assert hybrid.hashes != plain.hashes and hybrid.hashes != other.hashes
    assert hybrid.hashes[0] == md5_of(*leaves(plain, "app"), "eu")
    assert hybrid.variants["app"].type == "salted-component"
    assert hybrid.variants["app"].description == "modified in-app exception stack-trace"


def test_a_fingerprint_may_spell_default_any_way() -> None:
    assert group(error(["{{default}}"])).hashes == group(error()).hashes
    assert (
        group(error(["{{ DEFAULT }}", "x"])).hashes == group(error(["{{ default }}", "x"])).hashes
    )


def test_a_literal_entry_that_is_the_event_message_is_parameterized() -> None:
    one = event(message="user 17 not found", fingerprint=["lookup", "user 17 not found"])
    other = event(message="user 42 not found", fingerprint=["lookup", "user 42 not found"])
    assert primary(one) == primary(other)


def test_a_server_rule_replaces_the_fingerprint() -> None:
    config = rules("error.type:PaymentError -> payments-down")
    result = group(error(), config)
    assert result.hashes == [md5_of("payments-down")]
    assert result.matched_rule == "error.type:PaymentError -> payments-down"
    assert contributing(result) == ["custom-fingerprint"]


def test_a_server_rule_wins_over_the_sdk_fingerprint() -> None:
    result = group(error(["from-sdk"]), rules("error.type:PaymentError -> from-rule"))
    assert result.hashes == [md5_of("from-rule")]
    assert result.variants["custom-fingerprint"].client_values == ["from-sdk"]


def test_rules_that_do_not_match_leave_grouping_alone() -> None:
    assert group(error(), rules("error.type:KeyError -> keys")).hashes == group(error()).hashes


def test_the_first_matching_rule_wins() -> None:
    config = rules("level:error -> first\nerror.type:PaymentError -> second\n")
    assert group(error(), config).hashes == [md5_of("first")]


@pytest.mark.parametrize(
    ("rule", "matches"),
    [
        ("error.type:Payment*", True),
        ("error.type:paymenterror", False),  # types are case-sensitive
        ("error.value:*DECLINED*", True),  # values are not
        ('message:"card * declined"', True),  # message also matches the exception value
        ("stack.function:charge", True),
        ("stack.module:app.pay*", True),
        ("stack.function:charge stack.module:app.main", False),  # not the same frame
        ("stack.function:charge !stack.module:app.main", True),
        ("!error.type:PaymentError", False),
        ("app:yes stack.function:charge", True),
        ("app:no", False),
        ("level:ERROR", True),
        ("logger:shop", True),
        ("tags.region:eu-*", True),
        ("tags.region:us-*", False),
        ("family:other", True),
        ("family:javascript,native", False),
        ("sdk:other", True),
        ("release:1.*", False),
        ("[ stack.function:main ] | stack.function:charge", True),
        ("stack.function:main | [ stack.function:charge ]", True),
        ("[ stack.function:charge ] | stack.function:main", False),
        ("stack.abs_path:**/payments.py", True),
    ],
)
def test_fingerprint_rule_matchers(rule: str, matches: bool) -> None:
    data = error()
    data["exception"]["values"][0]["stacktrace"]["frames"][1]["abs_path"] = "/srv/app/payments.py"
    result = group(data, rules(f"{rule} -> matched"))
    assert (result.hashes == [md5_of("matched")]) is matches


def test_rule_fingerprints_can_use_variables_and_set_a_title() -> None:
    config = rules(
        "error.type:PaymentError -> payments, {{ transaction }}"
        ' title="Payments down on {{ transaction }}"'
    )
    result = group(error(), config)
    assert result.fingerprint == ["payments", "/checkout"]
    assert result.title == "Payments down on /checkout"


def test_a_rule_fingerprint_with_default_refines_the_grouping() -> None:
    result = group(error(), rules("error.type:PaymentError -> {{ default }}, payments"))
    assert result.hashes[0] == md5_of(*leaves(group(error()), "app"), "payments")


def test_quoted_values_may_contain_spaces_and_escaped_quotes() -> None:
    data = event(message='say "hi" now')
    config = rules('message:"say \\"hi\\" now" -> greeting')
    assert group(data, config).hashes == [md5_of("greeting")]


def test_built_in_rules_group_chunk_load_errors_together() -> None:
    def chunk(name: str) -> Event:
        url = f"https://example.com/static/{name}.js"
        frames = [frame("load", None, abs_path=url, filename=url)]
        return event(
            "javascript",
            exceptions=[exception("ChunkLoadError", f"Loading chunk {name} failed.", frames)],
        )

    result = group(chunk("a1"))
    assert result.hashes == [md5_of("chunkloaderror")] == group(chunk("b2")).hashes
    assert contributing(result) == ["built-in-fingerprint"]


def test_project_rules_come_before_the_built_in_ones() -> None:
    url = "https://example.com/static/a.js"
    frames = [frame("load", None, abs_path=url, filename=url)]
    data = event("javascript", exceptions=[exception("ChunkLoadError", "x", frames)])
    assert group(data, rules("error.type:ChunkLoadError -> mine")).hashes == [md5_of("mine")]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("error.type:Foo", 1, 15, "expected '->'"),
        ("error.type:Foo ->", 1, 18, "expected a fingerprint"),
        ("# comment\n\nnope:Foo -> x", 3, 1, "unknown matcher 'nope'"),
        ("error.type Foo -> x", 1, 1, "expected a matcher"),
        ('error.type:"Foo -> x', 1, 12, "unterminated quoted value"),
        ('error.type:Foo -> x colour="red"', 1, 21, "unknown attribute 'colour'"),
        ("[ function:foo | function:bar -> x", 1, 16, "expected ']'"),
    ],
)
def test_rule_syntax_errors_point_at_the_bad_line(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(RuleSyntaxError) as raised:
        parse_fingerprint_rules(text)
    assert (raised.value.line, raised.value.column) == (line, column)
    assert message in str(raised.value)
    assert f"line {line}, column {column}" in str(raised.value)


def test_comments_and_blank_lines_are_ignored() -> None:
    parsed = parse_fingerprint_rules("# header\n\n  error.type:Foo -> x\n   # indented comment\n")
    assert len(parsed) == 1
    assert parsed.rules[0].fingerprint == ("x",)


def test_a_hash_sign_after_the_arrow_is_part_of_the_fingerprint() -> None:
    parsed = parse_fingerprint_rules("error.type:Foo -> issue #123")
    assert parsed.rules[0].fingerprint == ("issue", "#123")


def test_level_logger_environment_and_transaction_are_tags_too() -> None:
    data = error(environment="production")
    config = rules("tags.transaction:/checkout tags.environment:prod* tags.level:error -> tagged")
    assert group(data, config).hashes == [md5_of("tagged")]
    assert group(error(["{{ tags.logger }}"])).fingerprint == ["shop"]


def test_built_in_rules_group_hydration_errors_by_transaction() -> None:
    def hydration(transaction: str, function: str) -> Event:
        message = "Text content does not match server-rendered HTML."
        frames = [frame(function, None, abs_path="/app/page.js")]
        return event(
            "javascript",
            transaction=transaction,
            exceptions=[exception("Error", message, frames)],
        )

    one = group(hydration("/cart", "render"))
    assert (
        one.hashes == [md5_of("hydrationerror", "/cart")] == group(hydration("/cart", "x")).hashes
    )
    assert group(hydration("/home", "render")).hashes != one.hashes
