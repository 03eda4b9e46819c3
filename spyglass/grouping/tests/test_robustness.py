"""Lenient on input: whatever shape an event has, grouping returns hashes and never raises."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.grouping import calculate_grouping, parse_enhancements, parse_fingerprint_rules
from spyglass.grouping.tests.sdk_events import normalize

HEX32 = re.compile(r"^[0-9a-f]{32}$")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=12), st.floats(allow_nan=False)
)
anything = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(anything, strategy)


frames = st.fixed_dictionaries(
    {},
    optional={
        "function": maybe(
            st.sampled_from(["main", "?", "<anonymous>", "Object.foo", "a::b<T>(int)"])
        ),
        "module": maybe(st.sampled_from(["app.x", "node:fs", "com.a.B$$Lambda$1"])),
        "filename": maybe(st.sampled_from(["a.py", "<anonymous>", "http://x/y.js?v=1"])),
        "abs_path": maybe(st.sampled_from(["/srv/a.py", "http://x/y.js", "[native code]"])),
        "in_app": maybe(st.booleans()),
        "context_line": maybe(st.text(max_size=130)),
        "lineno": maybe(st.integers(0, 99)),
        "platform": maybe(
            st.sampled_from(["javascript", "native", "java", "ruby", "php", "csharp"])
        ),
    },
)
exceptions = st.fixed_dictionaries(
    {},
    optional={
        "type": maybe(st.text(max_size=10)),
        "value": maybe(st.text(max_size=40)),
        "stacktrace": maybe(st.fixed_dictionaries({"frames": maybe(st.lists(frames, max_size=5))})),
        "mechanism": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "synthetic": maybe(st.booleans()),
                    "exception_id": maybe(st.integers(0, 3)),
                    "parent_id": maybe(st.integers(0, 3)),
                    "is_exception_group": maybe(st.booleans()),
                },
            )
        ),
    },
)
events = st.fixed_dictionaries(
    {},
    optional={
        "platform": maybe(st.sampled_from(["python", "javascript", "node", "native", "go"])),
        "exception": maybe(
            st.fixed_dictionaries({"values": maybe(st.lists(exceptions, max_size=4))})
        ),
        "threads": maybe(
            st.fixed_dictionaries(
                {"values": st.lists(st.fixed_dictionaries({"stacktrace": anything}), max_size=3)}
            )
        ),
        "stacktrace": maybe(st.fixed_dictionaries({"frames": st.lists(frames, max_size=4)})),
        "logentry": maybe(st.fixed_dictionaries({"formatted": maybe(st.text(max_size=30))})),
        "fingerprint": maybe(
            st.lists(st.sampled_from(["{{ default }}", "{{ type }}", "x", "{{ tags.a }}"]))
        ),
        "tags": anything,
        "csp": anything,
        "template": anything,
        "checksum": anything,
    },
)

RULES = parse_fingerprint_rules(
    'message:"*" stack.function:main -> m\n[ app:yes ] | function:* -> n'
)
STACK_RULES = parse_enhancements(
    "function:main ^-group v+app\nfamily:all max-frames=2 min-frames=1"
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_any_raw_event_groups_without_raising(event: dict[str, Any]) -> None:
    from spyglass.grouping import GroupingConfig

    for config in (
        GroupingConfig(),
        GroupingConfig(fingerprint_rules=RULES, enhancements=STACK_RULES),
    ):
        result = calculate_grouping(event, config)
        assert result.hashes and all(HEX32.match(h) for h in result.hashes)
        result.render()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_any_relay_normalized_event_groups_without_raising(event: dict[str, Any]) -> None:
    try:
        payload = json.dumps(event).encode()
    except ValueError:
        return
    result = calculate_grouping(normalize(payload))
    assert result.hashes and all(HEX32.match(h) for h in result.hashes)
