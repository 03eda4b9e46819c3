from __future__ import annotations

import pytest

from spyglass.grouping import GroupingConfig, RuleSyntaxError, parse_enhancements
from spyglass.grouping.tests.builders import (
    Event,
    component,
    contributing,
    event,
    exception,
    frame,
    group,
    leaves,
)


def stack_rules(text: str) -> GroupingConfig:
    return GroupingConfig(enhancements=parse_enhancements(text))


def error(*frames: Event, type: str = "PaymentError", platform: str = "python") -> Event:
    return event(platform, exceptions=[exception(type, "x", list(frames))])


MAIN = frame("main", "app.main")
CHARGE = frame("charge", "app.payments")
HELPER = frame("retry", "app.util")


def test_minus_app_takes_frames_out_of_the_app_variant() -> None:
    result = group(error(MAIN, HELPER, CHARGE), stack_rules("module:app.util -app"))
    assert "retry" not in leaves(result, "app")
    assert "retry" in leaves(result, "system")


def test_plus_app_puts_frames_into_the_app_variant() -> None:
    lib = frame("send", "requests.api", in_app=False)
    assert contributing(group(error(lib))) == ["system"]
    result = group(error(lib), stack_rules("module:requests.* +app"))
    assert "send" in leaves(result, "app")


def test_minus_group_ignores_a_frame_everywhere() -> None:
    result = group(error(MAIN, HELPER, CHARGE), stack_rules("function:retry -group"))
    assert "retry" not in leaves(result, "system")
    hint = next(c for c in component(result, "system").find("frame") if c.hint)
    assert hint.hint == "ignored by stack trace rule (function:retry -group)"


def test_plus_group_brings_back_an_ignored_frame() -> None:
    text = "function:* -group\nfunction:charge +group"
    result = group(error(MAIN, HELPER, CHARGE), stack_rules(text))
    assert leaves(result, "app") == ["app.payments", "charge", "PaymentError"]


def test_range_up_ignores_the_frames_towards_the_crash() -> None:
    result = group(error(MAIN, HELPER, CHARGE), stack_rules("function:retry ^-group"))
    assert leaves(result, "app") == ["app.main", "main", "app.util", "retry", "PaymentError"]


def test_range_down_ignores_the_callers() -> None:
    result = group(error(MAIN, HELPER, CHARGE), stack_rules("function:retry v-group"))
    assert leaves(result, "app") == ["app.util", "retry", "app.payments", "charge", "PaymentError"]


def test_max_frames_keeps_the_innermost_frames() -> None:
    result = group(error(MAIN, HELPER, CHARGE), stack_rules("family:other max-frames=1"))
    assert leaves(result, "app") == ["app.payments", "charge", "PaymentError"]


def test_min_frames_discards_short_stacks() -> None:
    result = group(error(CHARGE), stack_rules("family:other min-frames=2"))
    stacktrace = next(component(result, "system").find("stacktrace"))
    assert not stacktrace.contributes
    assert "under the configured threshold" in (stacktrace.hint or "")


def test_category_can_be_set_and_matched() -> None:
    text = "module:app.util category=plumbing\ncategory:plumbing -group"
    assert "retry" not in leaves(group(error(MAIN, HELPER, CHARGE), stack_rules(text)), "app")


def test_caller_and_callee_matchers_look_at_the_neighbouring_frames() -> None:
    caller = stack_rules("[ function:main ] | function:retry -group")
    assert "retry" not in leaves(group(error(MAIN, HELPER, CHARGE), caller), "app")
    assert "retry" in leaves(group(error(CHARGE, HELPER, MAIN), caller), "app")
    callee = stack_rules("function:retry | [ function:charge ] -group")
    assert "retry" not in leaves(group(error(MAIN, HELPER, CHARGE), callee), "app")


def test_error_matchers_limit_a_rule_to_some_exceptions() -> None:
    config = stack_rules("error.type:PaymentError function:retry -group")
    assert "retry" not in leaves(group(error(MAIN, HELPER, CHARGE), config), "app")
    other = group(error(MAIN, HELPER, CHARGE, type="KeyError"), config)
    assert "retry" in leaves(other, "app")


def test_negated_matchers() -> None:
    config = stack_rules("!module:app.payments -group")
    assert leaves(group(error(MAIN, HELPER, CHARGE), config), "app") == [
        "app.payments",
        "charge",
        "PaymentError",
    ]


def test_family_limits_a_rule_to_a_platform_family() -> None:
    config = stack_rules("family:javascript function:retry -group")
    assert "retry" in leaves(group(error(MAIN, HELPER, CHARGE), config), "app")


def test_path_matchers_are_case_insensitive_path_globs() -> None:
    lib = frame("run", None, abs_path="C:\\Work\\Vendor\\Lib\\run.py", filename="run.py")
    config = stack_rules("stack.abs_path:**/vendor/** -app")
    assert contributing(group(error(lib), config)) == ["system"]


def test_built_in_rules_mark_installed_packages_as_system_code() -> None:
    installed = frame(
        "get", "requests.api", abs_path="/venv/lib/python3.11/site-packages/requests/api.py"
    )
    result = group(error(installed, CHARGE))
    assert "get" not in leaves(result, "app")


def test_built_in_rules_ignore_node_event_loop_frames() -> None:
    tick = frame(
        "processTicksAndRejections",
        "task_queues",
        in_app=False,
        abs_path="node:internal/process/task_queues",
    )
    charge = frame("charge", "payments", abs_path="/srv/app/payments.js")
    result = group(error(tick, charge, platform="node"))
    assert "processTicksAndRejections" not in leaves(result, "system")


def test_project_rules_run_after_the_built_in_ones() -> None:
    installed = frame(
        "get", "requests.api", abs_path="/venv/lib/python3.11/site-packages/requests/api.py"
    )
    result = group(error(installed, CHARGE), stack_rules("module:requests.* +app"))
    assert "get" in leaves(result, "app")


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("function:foo", 1, 13, "expected an action"),
        ("function:foo +apps", 1, 14, "expected an action"),
        ("\n\nwhatever:foo -app", 3, 1, "unknown matcher 'whatever'"),
        ("function:foo max-frames=many", 1, 14, "invalid value 'many'"),
        ("-app", 1, 1, "expected a matcher"),
        ("function:foo -app function:bar", 1, 19, "expected an action"),
        ("error.type:Foo -app", 1, 1, "at least one frame matcher"),
    ],
)
def test_stack_rule_syntax_errors_point_at_the_bad_line(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(RuleSyntaxError) as raised:
        parse_enhancements(text)
    assert (raised.value.line, raised.value.column) == (line, column), str(raised.value)
    assert message in raised.value.message


def test_stack_rules_accept_comments_quotes_and_inline_comments() -> None:
    parsed = parse_enhancements(
        '# rules\nfunction:"a b" -group  # why\n\nfamily:native max-frames = 3\n'
    )
    assert [r.text for r in parsed.rules] == ['function:"a b" -group', "family:native max-frames=3"]
