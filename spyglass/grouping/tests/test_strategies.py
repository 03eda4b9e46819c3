"""Which strategy an event groups by: messages, threads, stack traces, security reports."""

from __future__ import annotations

from hashlib import md5

from spyglass.grouping.tests.builders import (
    Event,
    component,
    contributing,
    event,
    exception,
    frame,
    group,
    leaves,
    primary,
)

GO_FRAMES = [frame("main", "main", abs_path="/srv/app/main.go"), frame("submit", "main.jobs")]


def go_message(text: str, frames: list[Event] | None = None, **thread: object) -> Event:
    threads = {"values": [{"id": 1, "stacktrace": {"frames": frames or GO_FRAMES}, **thread}]}
    return event("go", message=text, level="fatal", threads=threads)


def test_a_message_groups_by_its_parameterized_text() -> None:
    one = event(message="Disk usage above 91%")
    other = event(message="Disk usage above 97%")
    assert primary(one) == primary(other)
    result = group(one)
    assert contributing(result) == ["default"]
    assert leaves(result, "default") == ["Disk usage above <int>%"]


def test_messages_with_different_words_make_different_groups() -> None:
    assert primary(event(message="Disk full")) != primary(event(message="Disk slow"))


def test_a_log_message_groups_by_its_template_not_its_arguments() -> None:
    def logged(user: str) -> Event:
        logentry = {"message": "login failed for %s", "params": [user]}
        return event(logentry=logentry)

    assert primary(logged("alice")) == primary(logged("bob"))


def test_only_the_first_two_lines_of_a_message_count() -> None:
    one = event(message="Job failed\nbecause of X\nstep 1\nstep 2")
    other = event(message="Job failed\n\nbecause of X\nstep 7")
    assert primary(one) == primary(other)
    assert leaves(group(one), "default") == ["Job failed\nbecause of X..."]


def test_a_message_event_with_one_thread_groups_by_its_stack() -> None:
    one = go_message("job submission failed: id 17")
    other = go_message("entirely different text")
    assert primary(one) == primary(other)
    result = group(one)
    assert contributing(result) == ["app"]
    # the system variant hashes like the app one, so only the app variant counts
    assert component(result, "default").hint == "threads of app take precedence"


def test_threads_group_by_the_crashed_one_when_there_are_several() -> None:
    def crash(frames: list[Event]) -> Event:
        threads = {
            "values": [
                {"id": 1, "stacktrace": {"frames": [frame("idle", "app.pool")]}},
                {"id": 2, "crashed": True, "stacktrace": {"frames": frames}},
            ]
        }
        return event("native", threads=threads)

    assert primary(crash(GO_FRAMES)) != primary(crash([frame("other", "app.x")]))
    assert "submit" in leaves(group(crash(GO_FRAMES)), "app")


def test_threads_without_a_single_candidate_do_not_group() -> None:
    threads = {
        "values": [
            {"id": 1, "stacktrace": {"frames": [frame("a", "app.a")]}},
            {"id": 2, "stacktrace": {"frames": [frame("b", "app.b")]}},
        ]
    }
    result = group(event("native", message="boom", threads=threads))
    assert contributing(result) == ["default"]
    assert "contains 0 crashing, 0 current, and 2 total threads" in (
        component(result, "app").values[0].hint or ""  # type: ignore[union-attr]
    )


def test_an_exception_takes_precedence_over_threads_and_the_message() -> None:
    data = go_message("text")
    data["exception"] = {"values": [exception("*errors.errorString", "x", GO_FRAMES)]}
    result = group(data)
    assert component(result, "app").values[0].id == "exception"  # type: ignore[union-attr]
    assert component(result, "app").values[1].hint == "exception of app takes precedence"  # type: ignore[union-attr]


def test_a_bare_stack_trace_groups_like_a_thread_would() -> None:
    data = event("python", message="hello", stacktrace={"frames": [frame("run", "app.jobs")]})
    result = group(data)
    assert contributing(result) == ["app"]
    assert leaves(result, "app") == ["app.jobs", "run"]


def test_a_csp_report_groups_by_directive_and_blocked_host() -> None:
    def csp(uri: str, directive: str = "img-src") -> Event:
        report = {
            "document_uri": "https://shop.example.com/cart",
            "effective_directive": directive,
            "violated_directive": f"{directive} 'self'",
            "blocked_uri": uri,
        }
        return event("other", csp=report)

    assert primary(csp("https://evil.example.com/a.png")) == primary(
        csp("https://evil.example.com/b.png")
    )
    assert primary(csp("https://evil.example.com/a.png")) != primary(
        csp("https://cdn.example.com/x")
    )
    assert leaves(group(csp("https://evil.example.com/a.png")), "default") == [
        "img-src",
        "evil.example.com",
    ]


def test_an_inline_script_violation_groups_by_its_kind() -> None:
    report = {
        "document_uri": "https://shop.example.com/",
        "effective_directive": "script-src",
        "violated_directive": "script-src 'self' 'unsafe-eval'",
        "blocked_uri": "self",
    }
    result = group(event("other", csp=report))
    assert leaves(result, "default") == ["script-src", "'unsafe-eval'"]


def test_expect_ct_reports_group_by_hostname() -> None:
    # Relay only builds these from the security report endpoint, so no normalizer here.
    report = {"hostname": "shop.example.com", "port": 443}
    result = group({"platform": "other", "expectct": report})
    assert leaves(result, "default") == ["expect-ct", "shop.example.com"]


def test_a_legacy_checksum_is_the_hash() -> None:
    checksum = "0123456789abcdef0123456789abcdef"
    result = group({"platform": "python", "checksum": checksum, "message": "x"})
    assert result.hashes == [checksum]
    other = group({"platform": "python", "checksum": "release-1"})
    assert other.hashes == [md5(b"release-1").hexdigest()]


def test_an_event_with_nothing_to_group_by_gets_the_fallback_hash() -> None:
    result = group(event("python"))
    assert result.hashes == [md5(b"").hexdigest()]
    assert contributing(result) == ["fallback"]


def test_grouping_does_not_change_the_event() -> None:
    data = event(exceptions=[exception("KeyError", "x", [frame("a", "app.a", in_app=None)])])
    before = repr(data)
    group(data)
    assert repr(data) == before


def test_a_template_error_groups_by_its_file_and_line() -> None:
    def rendered(line: str) -> Event:
        return event(
            "python", message="x", template={"filename": "cart.html", "context_line": line}
        )

    result = group(rendered("{{ cart.total }}"))
    assert contributing(result) == ["default"]
    assert leaves(result, "default") == ["cart.html", "{{ cart.total }}"]
    assert primary(rendered("{{ cart.total }}")) != primary(rendered("{{ cart.items }}"))
