"""Round trip: for any AST the parser could produce, parse(render(ast)) == ast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.search import (
    KEYS,
    ActorKind,
    ActorValue,
    BoolValue,
    DatePrecision,
    DateValue,
    DurationValue,
    EnumValue,
    Filter,
    FreeText,
    Has,
    Key,
    KeySpec,
    Node,
    NumberValue,
    Op,
    RelativeDate,
    ShortIdValue,
    TextValue,
    Value,
    ValueType,
    dump,
    parse,
    render,
)
from spyglass.search.keys import spec_for
from spyglass.search.nodes import RELATIVE_UNITS, SHORT_ID_DIGITS, and_, or_

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
ROUND_TRIP = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
ORDERED_OPS = st.sampled_from(list(Op))
LISTABLE = {t for t in ValueType} - {ValueType.DATE, ValueType.BOOLEAN}

texts = st.text(max_size=12)
# Any tag key: plain ones, and ones with spaces, quotes, brackets, colons, backslashes.
tag_names = (
    st.from_regex(r"[a-zA-Z0-9_.:-]{1,12}", fullmatch=True)
    | st.text(alphabet=st.sampled_from(" \"[]:\\'()!,*ab-"), min_size=1, max_size=12)
    | st.text(min_size=1, max_size=12)
)
MEASUREMENTS = [
    spec_for(name) for name in ("measurements.lcp", "measurements.cls", "measurements.x")
]
specs = st.sampled_from(
    [spec for spec in KEYS if spec.name != "is"]
    + [spec for spec in KEYS if spec.name == "is"] * 3
    + MEASUREMENTS
    + [spec_for("customer", tag=True)]
)


def decimals(low: int, high: int) -> st.SearchStrategy[int | float]:
    as_float = st.decimals(min_value=low, max_value=high, places=4).map(float)
    return st.integers(min_value=low, max_value=high) | as_float


def text_values(*, nonempty: bool = False) -> st.SearchStrategy[TextValue]:
    values = st.lists(texts, min_size=1, max_size=3).map(lambda parts: TextValue(tuple(parts)))
    return values.filter(lambda value: value.text != "") if nonempty else values


def names(*reserved: str) -> st.SearchStrategy[str]:
    return texts.filter(lambda name: name and name.lower() not in reserved and name[0] != "#")


def dates() -> st.SearchStrategy[DateValue]:
    days = st.dates(min_value=datetime(1, 1, 2).date(), max_value=datetime(9999, 12, 30).date())
    day = days.map(
        lambda d: DateValue(datetime(d.year, d.month, d.day, tzinfo=UTC), DatePrecision.DAY)
    )
    instant = st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ).map(lambda at: DateValue(at, DatePrecision.INSTANT))
    return day | instant


def relative_dates() -> st.SearchStrategy[DateValue]:
    def build(amount: int, unit: str) -> DateValue:
        relative = RelativeDate(amount, unit)
        return DateValue(NOW - RELATIVE_UNITS[unit] * amount, DatePrecision.INSTANT, relative)

    return st.builds(build, st.integers(0, 5_000), st.sampled_from(sorted(RELATIVE_UNITS)))


def short_ids() -> st.SearchStrategy[ShortIdValue]:
    slug = st.from_regex(r"[A-Z0-9_-]{1,10}", fullmatch=True)
    number = st.text(SHORT_ID_DIGITS, min_size=1, max_size=13)
    return st.builds(lambda s, n: ShortIdValue(f"{s}-{n}"), slug, number)


def actors(users_only: bool) -> st.SearchStrategy[ActorValue]:
    me = st.just(ActorValue(ActorKind.ME))
    users = names("me", "my_teams", "none").map(lambda n: ActorValue(ActorKind.USER, n))
    if users_only:
        return me | names("me").map(lambda n: ActorValue(ActorKind.USER, n))
    others = st.sampled_from([ActorValue(ActorKind.MY_TEAMS), ActorValue(ActorKind.NONE)])
    teams = texts.filter(bool).map(lambda n: ActorValue(ActorKind.TEAM, n))
    return me | others | teams | users


def values_of(spec: KeySpec) -> st.SearchStrategy[Value]:
    kind = spec.type
    if kind in (ValueType.TEXT, ValueType.VERSION):
        return text_values()
    if kind == ValueType.NUMBER:
        return decimals(-(10**12), 10**12).map(NumberValue) | st.integers(
            -(2**63) + 1, 2**63 - 1
        ).map(NumberValue)
    if kind == ValueType.DURATION:
        return decimals(0, 10**12).map(lambda ms: DurationValue(float(ms)))
    if kind == ValueType.DATE:
        return dates()
    if kind == ValueType.BOOLEAN:
        return st.booleans().map(BoolValue)
    if kind == ValueType.ENUM:
        return st.sampled_from(spec.choices).map(EnumValue)
    if kind == ValueType.SHORT_ID:
        return short_ids()
    return actors(users_only=kind == ValueType.USER)


@st.composite
def filters(draw: st.DrawFn) -> Filter:
    spec = draw(specs)
    key = Key(spec.name, spec.tag)
    if spec.tag:
        key = Key(draw(tag_names), tag=True)
    negated = draw(st.booleans())
    if spec.type == ValueType.DATE and draw(st.booleans()):
        op = draw(st.sampled_from([Op.GTE, Op.LTE]))
        return Filter(key, op, (draw(relative_dates()),), negated)
    if spec.type in LISTABLE and draw(st.integers(0, 3)) == 0:
        items = draw(st.lists(values_of(spec), min_size=2, max_size=3))
        return Filter(key, Op.EQ, tuple(items), negated)
    value = draw(values_of(spec))
    op = Op.EQ
    ordered = spec.type in (ValueType.NUMBER, ValueType.DURATION, ValueType.DATE)
    if ordered or (
        spec.type == ValueType.VERSION and isinstance(value, TextValue) and len(value.parts) == 1
    ):
        op = draw(ORDERED_OPS)
    return Filter(key, op, (value,), negated)


@st.composite
def has_nodes(draw: st.DrawFn) -> Has:
    spec = draw(specs)
    if spec.tag or spec.name == "is" or draw(st.booleans()):
        return Has(Key(draw(tag_names), tag=True), draw(st.booleans()))
    return Has(Key(spec.name), draw(st.booleans()))


leaves = filters() | has_nodes() | text_values(nonempty=True).map(FreeText)
trees: st.SearchStrategy[Node] = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, min_size=2, max_size=4).map(lambda nodes: and_(*nodes))
        | st.lists(children, min_size=2, max_size=4).map(lambda nodes: or_(*nodes))
    ),
    max_leaves=12,
)


@ROUND_TRIP
@given(trees)
def test_any_ast_renders_to_a_query_that_parses_back_to_it(ast: Node) -> None:
    rendered = render(ast)
    assert parse(rendered, now=NOW) == ast, (rendered, dump(ast))


@ROUND_TRIP
@given(leaves)
def test_any_filter_renders_to_a_query_that_parses_back_to_it(ast: Node) -> None:
    rendered = render(ast)
    assert parse(rendered, now=NOW) == ast, (rendered, dump(ast))


def test_rendering_is_canonical() -> None:
    text = TextValue(("", "a b", 'c"\\*'))
    node = and_(
        Filter(Key("message"), Op.EQ, (text,), negated=True),
        or_(
            Filter(Key("timesSeen"), Op.GT, (NumberValue(Decimal("1.5").__float__()),)),
            Has(Key("level", tag=True)),
        ),
        Filter(Key("firstSeen"), Op.LTE, (relative_date(24, "h"),)),
        FreeText(TextValue(("x",))),
    )
    assert render(node) == (
        '!message:"*a b*c\\"\\\\\\*" (timesSeen:>1.5 OR has:tags[level]) firstSeen:+24h "x"'
    )


def relative_date(amount: int, unit: str) -> DateValue:
    return DateValue(
        NOW - timedelta(hours=amount), DatePrecision.INSTANT, RelativeDate(amount, unit)
    )


def test_tag_keys_of_any_text_render_quoted_and_parse_back() -> None:
    value = (TextValue(("v",)),)
    for name, written in [
        ("my key", 'tags["my key"]'),
        ('say "hi"', 'tags["say \\"hi\\""]'),
        ("a]b", 'tags["a]b"]'),
        ("x\\", 'tags["x\\\\"]'),
        ("os:name", "tags[os:name]"),
        ("level", "tags[level]"),
        ("customer", "customer"),
    ]:
        node = Filter(Key(name, tag=True), Op.EQ, value)
        assert render(node) == f"{written}:v"
        assert parse(render(node), now=NOW) == node
        assert parse(f"has:{written}", now=NOW) == Has(Key(name, tag=True))
    # A quoted key in a phrase of free text still starts a filter.
    assert parse('a b tags["my key"]:v', now=NOW) == and_(
        FreeText(TextValue(("a b",))), Filter(Key("my key", tag=True), Op.EQ, value)
    )
