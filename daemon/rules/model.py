"""The rule file as pydantic models: the validation grammar and the source of the JSON Schema.

These models only check shape and single values; `compile` turns them into `spec` values and
checks what needs the whole rule or the whole book. Every model forbids unknown keys, because a
typo such as `stop_los:` must never silently leave a position bare.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    Tag,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from daemon.rules.fields import Cron, Name, Symbols, TimeZone, Version
from daemon.rules.spec import Abs, Distance, Pct, SideFilter
from daemon.rules.values import (
    DURATION_PATTERN,
    PCT_PATTERN,
    STOP_PCT_PATTERN,
    Duration,
    Fraction,
    Interval,
    Notional,
    OffsetDistance,
    Price,
    ProfitDistance,
    StopDistance,
    canonical,
    rule_error,
)

# Union tags that pydantic puts into error locations; `locate` drops them again.
ON, OFF = "<on>", "<off>"
UNION_TAGS = frozenset({ON, OFF})

MAX_LADDER_LEGS = 10
_NUMBER_RE = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    # A component may be written short: `stop_loss: 3%` is `stop_loss: {distance: 3%}`.
    shorthand_key: ClassVar[str | None] = None
    shorthand_hint: ClassVar[str] = ""
    shorthand_schema: ClassVar[dict[str, Any] | None] = None

    @model_validator(mode="before")
    @classmethod
    def _expand_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        # Is `stop_loss: 500` (or "500") a price, a distance or a percentage? Refuse to guess.
        numeric = (isinstance(value, int | Decimal) and not isinstance(value, bool)) or (
            isinstance(value, str) and _NUMBER_RE.match(value.strip()) is not None)
        if cls.shorthand_key is not None and isinstance(value, str) and not numeric:
            return {cls.shorthand_key: value}
        if isinstance(value, Decimal) and not value.is_finite():
            raise rule_error(f"`{value}` is not a finite number")
        hint = cls.shorthand_hint or "expected a mapping of keys to values"
        if cls.shorthand_key is not None and numeric:
            hint = f"a bare number is ambiguous here: {hint}"
        raise rule_error(hint)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        if cls.shorthand_schema is None:
            return schema
        return {"title": schema.pop("title", cls.__name__), "anyOf": [cls.shorthand_schema, schema],
                "description": schema.pop("description", "")}



def _same_kind_at_least(small: Distance, large: Distance) -> bool:
    if isinstance(small, Pct) and isinstance(large, Pct):
        return small.ratio >= large.ratio
    if isinstance(small, Abs) and isinstance(large, Abs):
        return small.amount >= large.amount
    return False


# --- components -----------------------------------------------------------------------------

class StopLossModel(_Strict):
    """A stop below a long's (above a short's) entry, current price or at a fixed price."""

    model_config = ConfigDict(title="stop_loss")

    shorthand_key = "distance"
    shorthand_hint = ("stop_loss is a percentage like `3%`, or {distance: 3%, from: entry}, "
                      "{distance: 500} or {price: 58000}")
    shorthand_schema = {"type": "string", "pattern": STOP_PCT_PATTERN}

    distance: StopDistance | None = Field(
        None, description="How far from the reference price: a percentage or price units.",
        examples=["3%", 500])
    anchor: Literal["entry", "current", "first_seen"] = Field(
        "entry", alias="from",
        description="Reference price: `entry` (default) or `current` (also spelled "
                    "`first_seen`), the trigger price when the daemon first sees the position.")
    price: Price | None = Field(None, description="An absolute stop price.", examples=[58000])

    @model_validator(mode="after")
    def _one_form(self) -> StopLossModel:
        if (self.distance is None) == (self.price is None):
            raise rule_error("stop_loss needs exactly one of `distance` and `price`")
        if self.price is not None and "anchor" in self.model_fields_set:
            raise rule_error("`from` applies to a distance, not to a fixed `price`")
        return self


class TrailingModel(_Strict):
    """A stop that follows the best price since activation at a fixed distance."""

    model_config = ConfigDict(title="trailing")

    shorthand_key = "distance"
    shorthand_hint = "trailing is a percentage like `2%`, or {distance: 2%, activate_at: 1.5%}"
    shorthand_schema = {"type": "string", "pattern": STOP_PCT_PATTERN}

    distance: StopDistance = Field(
        description="Distance behind the best trigger price seen since activation.",
        examples=["2%", 300])
    activate_at: ProfitDistance | None = Field(
        None, description="Profit from entry before trailing starts; omit to trail at once.",
        examples=["1.5%"])


class BreakevenModel(_Strict):
    """Once price has moved `at` in favour, the stop never sits worse than entry + offset."""

    model_config = ConfigDict(title="breakeven")

    shorthand_key = "at"
    shorthand_hint = "breakeven is a percentage like `2%`, or {at: 2%, offset: 0.1%}"
    shorthand_schema = {"type": "string", "pattern": PCT_PATTERN}

    at: ProfitDistance = Field(description="Favourable move from entry that latches breakeven.",
                               examples=["2%"])
    offset: OffsetDistance = Field(
        Abs(Decimal(0)),
        description="Beyond entry on the profit side, to cover fees (default 0).",
        examples=["0.1%"], json_schema_extra={"default": 0})

    @model_validator(mode="after")
    def _offset_below_at(self) -> BreakevenModel:
        if _same_kind_at_least(self.offset, self.at):
            raise rule_error("breakeven `offset` must be smaller than `at`, or the stop would sit "
                             "at or beyond the price that latched it")
        return self


class LadderLegModel(_Strict):
    """One stop leg: a fraction of the position at its own distance from entry."""

    model_config = ConfigDict(title="ladder leg")

    shorthand_hint = "a ladder leg is a mapping {fraction: 50%, distance: 3%}"

    fraction: Fraction = Field(description="Share of the position: `50%` or `0.5`.",
                               examples=["50%", "25%"])
    distance: StopDistance = Field(description="Distance from entry.", examples=["3%"])


def _check_ladder(legs: list[LadderLegModel]) -> list[LadderLegModel]:
    total = sum((leg.fraction for leg in legs), start=Decimal(0))
    if total > 1:
        shown = format(canonical(total * 100), "f")
        raise rule_error(f"ladder fractions add up to {shown}%, more than 100%")
    return legs


Ladder = Annotated[list[LadderLegModel], Field(min_length=1, max_length=MAX_LADDER_LEGS),
                   AfterValidator(_check_ladder)]


class TakeProfitModel(_Strict):
    """A reduce-only order that closes the position once price reaches the profit target."""

    model_config = ConfigDict(title="take_profit")

    shorthand_key = "distance"
    shorthand_hint = "take_profit is a percentage like `8%`, or {distance: 8%} or {price: 70000}"
    shorthand_schema = {"type": "string", "pattern": PCT_PATTERN}

    distance: ProfitDistance | None = Field(
        None, description="Profit from entry: a percentage or price units.", examples=["8%"])
    price: Price | None = Field(None, description="An absolute take-profit price.",
                                examples=[70000])

    @model_validator(mode="after")
    def _one_form(self) -> TakeProfitModel:
        if (self.distance is None) == (self.price is None):
            raise rule_error("take_profit needs exactly one of `distance` and `price`")
        return self


class TimeExitModel(_Strict):
    """Close the position with a reduce-only market order once it has been open this long."""

    model_config = ConfigDict(title="time_exit")

    shorthand_key = "after"
    shorthand_hint = "time_exit is a duration like `48h`, or {after: 48h}"
    shorthand_schema = {"type": "string", "pattern": DURATION_PATTERN, "minLength": 2}

    after: Duration = Field(description="How long the position may stay open.",
                            examples=["48h", "3d"])


class OrderModel(_Strict):
    """How a stop executes once triggered."""

    model_config = ConfigDict(title="order")

    shorthand_key = "type"
    shorthand_hint = "order is `market`, or {limit_offset: 0.5%} for a stop-limit"
    shorthand_schema = {"enum": ["market"]}

    type: Literal["market", "limit"] | None = Field(
        None, description="`market` (stop-market, default) or `limit` (stop-limit).")
    limit_offset: StopDistance | None = Field(
        None, description="Stop-limit only: how far beyond the stop price the limit sits "
                          "(the slippage cap).", examples=["0.5%"])

    @model_validator(mode="after")
    def _consistent(self) -> OrderModel:
        if self.type == "market" and self.limit_offset is not None:
            raise rule_error("a slippage cap (`limit_offset`) needs `type: limit`; a stop-market "
                             "order has none")
        if self.type == "limit" and self.limit_offset is None:
            raise rule_error("a stop-limit order needs a slippage cap: `limit_offset: 0.5%`")
        return self


class UpdateModel(_Strict):
    """Hysteresis: when a better stop is worth a cancel and replace."""

    model_config = ConfigDict(title="update")

    min_move: OffsetDistance | None = Field(
        None, description="Smallest improvement worth moving a stop (default 0.1%).",
        examples=["0.1%"])
    min_interval: Interval | None = Field(
        None, description="Least time between two moves of one stop (default 5s).",
        examples=["5s"])


Trigger = Literal["mark", "mid", "last"]

_SL = "A stop loss: `3%` from entry, {distance: 3%, from: current}, or {price: 58000}."
_TR = "A trailing stop: {distance: 2%, activate_at: 1.5%}."
_BE = "Move the stop to entry (+ offset) once in profit: {at: 2%, offset: 0.1%}."
_LA = "Several stop legs, each a fraction of the position at its own distance from entry."
_TP = "A take-profit: `8%` from entry or {price: 70000}; a reduce-only take-profit order."
_TE = "Close the position with a market order after this long: `48h`."


def _switch(value: Any) -> str:
    return OFF if value is False else ON


_OFF = Annotated[Literal[False], Tag(OFF)]
SwitchStopLoss = Annotated[Annotated[StopLossModel, Tag(ON)] | _OFF, Discriminator(_switch)]
SwitchTrailing = Annotated[Annotated[TrailingModel, Tag(ON)] | _OFF, Discriminator(_switch)]
SwitchBreakeven = Annotated[Annotated[BreakevenModel, Tag(ON)] | _OFF, Discriminator(_switch)]
SwitchLadder = Annotated[Annotated[Ladder, Tag(ON)] | _OFF, Discriminator(_switch)]
SwitchTakeProfit = Annotated[Annotated[TakeProfitModel, Tag(ON)] | _OFF, Discriminator(_switch)]
SwitchTimeExit = Annotated[Annotated[TimeExitModel, Tag(ON)] | _OFF, Discriminator(_switch)]

COMPONENT_KEYS = ("stop_loss", "trailing", "breakeven", "ladder", "take_profit", "time_exit")


class _ComponentFields(_Strict):
    """The components as `defaults` and windows write them (no `false`: nothing to drop)."""

    stop_loss: StopLossModel | None = Field(None, description=_SL)
    trailing: TrailingModel | None = Field(None, description=_TR)
    breakeven: BreakevenModel | None = Field(None, description=_BE)
    ladder: Ladder | None = Field(None, description=_LA)
    take_profit: TakeProfitModel | None = Field(None, description=_TP)
    time_exit: TimeExitModel | None = Field(None, description=_TE)


class WindowModel(_ComponentFields):
    """A time-scheduled override: from each cron firing, for `duration`, these components
    replace the rule's own."""

    model_config = ConfigDict(title="window")

    shorthand_hint = ("a window is a mapping {name: weekend, cron: \"0 20 * * FRI\", "
                      "duration: 52h, stop_loss: 1.5%}")

    name: Name = Field(description="Unique within the rule.", examples=["weekend"])
    cron: Cron = Field(description="When the window opens: five-field crontab in APScheduler "
                                   "3.x syntax; days of week by name.",
                       examples=["0 20 * * FRI"])
    timezone: TimeZone = Field("UTC", description="IANA time zone of the cron expression.",
                               examples=["Europe/Berlin"])
    duration: Duration = Field(description="How long the window stays open.",
                               examples=["52h"])

    @model_validator(mode="after")
    def _overrides_something(self) -> WindowModel:
        if not self.model_fields_set & set(COMPONENT_KEYS):
            raise rule_error("a window must override at least one of: " + ", ".join(COMPONENT_KEYS))
        return self


class _ExecutionFields(_Strict):
    """How stops are placed and moved, shared by `defaults` and rules."""

    windows: Annotated[list[WindowModel], Field(max_length=20)] | None = Field(
        None, description="Time-scheduled overrides; a rule's list replaces the defaults'.")
    order: OrderModel | None = Field(None, description="`market` (default) or "
                                                       "{limit_offset: 0.5%}.")
    trigger: Trigger | None = Field(None, description="Price that drives the stop: mark "
                                                      "(default), mid or last.")
    update: UpdateModel | None = Field(None, description="Hysteresis for moving a stop.")


class DefaultsModel(_ComponentFields, _ExecutionFields):
    """Settings every rule in this file inherits unless it sets the same key."""

    model_config = ConfigDict(title="defaults")


class MatchModel(_Strict):
    """Which positions a rule covers."""

    model_config = ConfigDict(title="match")

    symbol: Symbols = Field(description="One symbol, a list of symbols, or \"*\" for all.",
                            examples=["BTC", ["BTC", "ETH"], "*"])
    side: SideFilter = Field(SideFilter.ANY, description="long, short or any (default).")
    min_notional: Notional | None = Field(
        None, examples=[1000],
        description="Only positions worth at least this many USD (amount x entry price).")


_DROP = " `false` drops an inherited default."


class RuleModel(_ExecutionFields):
    """One rule: which positions it covers and how to protect them."""

    model_config = ConfigDict(title="rule")

    shorthand_hint = "a rule is a mapping with at least `name`, `match` and one component"

    name: Name = Field(description="Unique across all rule files.", examples=["btc-longs"])
    match: MatchModel = Field(description="Which positions this rule covers.")
    stop_loss: SwitchStopLoss | None = Field(None, description=_SL + _DROP)
    trailing: SwitchTrailing | None = Field(None, description=_TR + _DROP)
    breakeven: SwitchBreakeven | None = Field(None, description=_BE + _DROP)
    ladder: SwitchLadder | None = Field(None, description=_LA + _DROP)
    take_profit: SwitchTakeProfit | None = Field(None, description=_TP + _DROP)
    time_exit: SwitchTimeExit | None = Field(None, description=_TE + _DROP)


class RuleFileModel(_Strict):
    """A pacifica-stopd rule file."""

    shorthand_hint = "a rule file is a mapping that starts with `version: 1`"

    version: Version = Field(description="Rule language version; always 1.", examples=[1])
    defaults: DefaultsModel | None = Field(None, description="Inherited by every rule in "
                                                             "this file.")
    rules: list[RuleModel] = Field(description="The rules; the most specific match wins.")
