"""Stack trace rules ("grouping enhancements"), in Sentry's syntax:

    stack.abs_path:**/node_modules/** -app
    family:native stack.function:std::* -app
    stack.function:panic_handler ^-group
    error.type:MyError stack.function:foo max-frames=3

Rules run top to bottom over every frame. `+app`/`-app` and `category=` change the frames
before grouping (the "classifier" pass); `+group`/`-group`, `max-frames` and `min-frames`
decide which frames of a stack trace count (the "contributes" pass). A range prefix applies
an action to the frames above (`^`, towards the crash) or below (`v`, towards main) the
matching frame instead of to the frame itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from spyglass.grouping.components import Component
from spyglass.grouping.matchers import (
    ExceptionData,
    ExceptionMatcher,
    FamilyMatcher,
    FrameMatcher,
    MatchFrame,
    build_matcher,
)
from spyglass.grouping.rules_syntax import LineScanner, RuleSyntaxError, rule_lines

_FLAG_ACTION = re.compile(r"([\^v]?)([+-])(app|group)(?=[\s#]|$)")
_VAR_ACTION = re.compile(
    r"(max-frames|min-frames|invert-stacktrace|category)[ \t]*=[ \t]*([a-zA-Z0-9_.-]+)"
)
# Bounded: a few MB at most, whatever the traffic.
_CACHE_LIMIT = 1024


class FlagAction:
    __slots__ = ("flag", "key", "range")

    def __init__(self, key: str, flag: bool, range: str) -> None:
        self.key = key  # "app" or "group"
        self.flag = flag
        self.range = range  # "" (the frame), "^" (frames above it) or "v" (frames below)

    def targets(self, count: int, index: int) -> range:
        if self.range == "^":
            return range(index + 1, count)
        if self.range == "v":
            return range(index)
        return range(index, index + 1)

    def __str__(self) -> str:
        return f"{self.range}{'+' if self.flag else '-'}{self.key}"


class VarAction:
    __slots__ = ("value", "var")

    def __init__(self, var: str, value: str | int | bool) -> None:
        self.var = var
        self.value = value

    def __str__(self) -> str:
        value = str(self.value).lower() if isinstance(self.value, bool) else self.value
        return f"{self.var}={value}"


Action = FlagAction | VarAction


class EnhancementRule:
    def __init__(
        self,
        frame_matchers: list[FrameMatcher],
        exception_matchers: list[ExceptionMatcher],
        actions: list[Action],
        text: str,
    ) -> None:
        # Cheap, selective matchers first.
        self.frame_matchers = sorted(frame_matchers, key=lambda m: not isinstance(m, FamilyMatcher))
        self.exception_matchers = exception_matchers
        self.text = text
        self.classifier_actions = [
            a
            for a in actions
            if (isinstance(a, FlagAction) and a.key == "app")
            or (isinstance(a, VarAction) and a.var == "category")
        ]
        self.contributes_actions = [a for a in actions if a not in self.classifier_actions]
        families = [m for m in frame_matchers if isinstance(m, FamilyMatcher) and not m.offset]
        positive = [m.families for m in families if not m.negated and "all" not in m.families]
        self.families: frozenset[str] | None = positive[0] if positive else None

    def matching_frames(self, frames: Sequence[MatchFrame], exception: ExceptionData) -> list[int]:
        if not all(m.matches(exception) for m in self.exception_matchers):
            return []
        matchers = self.frame_matchers
        return [i for i in range(len(frames)) if all(m.matches(frames, i) for m in matchers)]


def _parse_action(scanner: LineScanner) -> Action:
    scanner.skip_spaces()
    if (flag := scanner.match(_FLAG_ACTION)) is not None:
        return FlagAction(flag.group(3), flag.group(2) == "+", flag.group(1))
    start = scanner.pos
    if (var := scanner.match(_VAR_ACTION)) is None:
        raise scanner.error("expected an action (+app, -app, +group, -group, max-frames=N, ...)")
    name, raw = var.group(1), var.group(2)
    if name == "category":
        return VarAction(name, raw)
    if name == "invert-stacktrace":
        return VarAction(name, raw.lower() in ("1", "yes", "true"))
    if not raw.isdigit():
        raise RuleSyntaxError(scanner.line, start + 1, f"invalid value {raw!r} for {name!r}")
    return VarAction(name, int(raw))


def _parse_rule(text: str, line: int) -> EnhancementRule:
    scanner = LineScanner(text, line)
    parsed = scanner.read_matchers()
    actions: list[Action] = []
    while not scanner.at_end():
        actions.append(_parse_action(scanner))
    if not actions:
        raise scanner.error("expected an action (+app, -app, +group, -group, max-frames=N, ...)")
    frame_matchers: list[FrameMatcher] = []
    exception_matchers: list[ExceptionMatcher] = []
    for matcher in map(lambda p: build_matcher(p, line), parsed):
        if isinstance(matcher, ExceptionMatcher):
            exception_matchers.append(matcher)
        else:
            frame_matchers.append(matcher)
    if not frame_matchers and exception_matchers:
        raise scanner.error("a rule needs at least one frame matcher", parsed[0].column - 1)
    description = " ".join([*(p.text for p in parsed), *(str(a) for a in actions)])
    return EnhancementRule(frame_matchers, exception_matchers, actions, description)


@lru_cache(maxsize=256)
def parse_enhancements(text: str) -> Enhancements:
    """Parse stack trace rules; raises `RuleSyntaxError` pointing at the bad line.

    The same text gives the same (shared, read-only) object, so a project's rules are parsed
    once and the caches that ride on the object keep working."""
    return Enhancements([_parse_rule(line, number) for number, line in rule_lines(text)])


class Enhancements:
    """An ordered set of stack trace rules (built-in ones first, then the project's)."""

    def __init__(self, rules: list[EnhancementRule]) -> None:
        self.rules = rules
        self._classifiers = [r for r in rules if r.classifier_actions]
        self._contributors = [r for r in rules if r.contributes_actions]
        self._classify_cache: dict[tuple[object, ...], list[tuple[bool | None, str | None]]] = {}
        # Exception data only belongs in the cache key when a rule looks at it.
        self._classify_by_exception = any(r.exception_matchers for r in self._classifiers)
        self._plan_cache: dict[tuple[object, ...], ContributionPlan] = {}
        self.contributes_by_exception = any(r.exception_matchers for r in self._contributors)

    def __add__(self, other: Enhancements) -> Enhancements:
        return Enhancements(self.rules + other.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def classify(self, frames: Sequence[MatchFrame], exception: ExceptionData) -> None:
        """Apply `+app`/`-app` and `category=` to the frames, in place."""
        exception_key = exception.key() if self._classify_by_exception else None
        key = (exception_key, tuple(f.key() for f in frames))
        cached = self._classify_cache.get(key)
        if cached is None:
            for rule in _applicable(self._classifiers, frames):
                for index in rule.matching_frames(frames, exception):
                    _classify_frame(rule, frames, index)
            cached = [(f.in_app, f.category) for f in frames]
            if len(self._classify_cache) >= _CACHE_LIMIT:
                self._classify_cache.clear()
            self._classify_cache[key] = cached
        for frame, (in_app, category) in zip(frames, cached, strict=True):
            frame.in_app, frame.category = in_app, category

    def contribution_plan(
        self, frames: Sequence[MatchFrame], exception: ExceptionData
    ) -> ContributionPlan:
        """What `+group`/`-group`, `max-frames` and `min-frames` do to this stack trace. The
        plan depends only on the frames (and the exception), so it is computed once and
        cached: the same stack traces arrive again and again."""
        exception_key = exception.key() if self.contributes_by_exception else None
        key = (exception_key, tuple((*f.key(), f.category) for f in frames))
        plan = self._plan_cache.get(key)
        if plan is None:
            plan = self._make_plan(frames, exception)
            if len(self._plan_cache) >= _CACHE_LIMIT:
                self._plan_cache.clear()
            self._plan_cache[key] = plan
        return plan

    def _make_plan(
        self, frames: Sequence[MatchFrame], exception: ExceptionData
    ) -> ContributionPlan:
        plan = ContributionPlan()
        for rule in _applicable(self._contributors, frames):
            for index in rule.matching_frames(frames, exception):
                for action in rule.contributes_actions:
                    if isinstance(action, VarAction):
                        plan.variables[action.var] = action.value
                        continue
                    for target in action.targets(len(frames), index):
                        plan.updates.append((target, action.flag, rule.text))
        return plan


class ContributionPlan:
    __slots__ = ("updates", "variables")

    def __init__(self) -> None:
        self.updates: list[tuple[int, bool, str]] = []  # (frame index, contributes, rule)
        self.variables: dict[str, str | int | bool] = {}

    def apply(self, components: Sequence[Component]) -> str | None:
        """Apply the plan to the frame components; return why the whole stack trace does not
        count (`min-frames`), if so."""
        for index, flag, rule in self.updates:
            _set_contributes(components[index], flag, rule)
        max_frames = self.variables.get("max-frames")
        if isinstance(max_frames, int) and max_frames > 0:
            _keep_innermost(components, max_frames)
        min_frames = self.variables.get("min-frames")
        if isinstance(min_frames, int) and min_frames > 0:
            count = sum(1 for c in components if c.contributes)
            if 0 < count < min_frames:
                plural = "" if count == 1 else "s"
                return (
                    f"discarded because stack trace only contains {count} frame{plural} "
                    "which is under the configured threshold"
                )
        return None


def _applicable(
    rules: list[EnhancementRule], frames: Sequence[MatchFrame]
) -> list[EnhancementRule]:
    families = {f.family for f in frames}
    return [r for r in rules if r.families is None or not families.isdisjoint(r.families)]


def _classify_frame(rule: EnhancementRule, frames: Sequence[MatchFrame], index: int) -> None:
    for action in rule.classifier_actions:
        if isinstance(action, VarAction):
            frames[index].category = str(action.value)
            continue
        for target in action.targets(len(frames), index):
            frames[target].in_app = action.flag


def _set_contributes(component: Component, flag: bool, rule: str) -> None:
    if component.contributes != flag:
        verb = "un-ignored" if flag else "ignored"
        component.update(contributes=flag, hint=f"{verb} by stack trace rule ({rule})")


def _keep_innermost(components: Sequence[Component], max_frames: int) -> None:
    seen = 0
    plural = "frames are" if max_frames != 1 else "frame is"
    for component in reversed(components):
        if not component.contributes:
            continue
        seen += 1
        if seen > max_frames:
            component.update(
                contributes=False, hint=f"ignored because only {max_frames} {plural} considered"
            )
