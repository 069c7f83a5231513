"""An action as the state journal stores it, and back: what `recover` needs after a crash.

The journal row is written before the request leaves (design.md §5.7, anchors.md R3), so a
process killed between the two can look the order up by its client_order_id on the next start
and either adopt it or send the very same request again. Parameters are plain strings: the
journal is a table of text, and Decimals round-trip exactly through `str`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from daemon.domain import OpenOrder, PositionKey, Side, TriggerPriceType
from daemon.engine.model import LegKind
from daemon.engine.plan import Action, Cancel, CloseMarket, Move, OrderIntent, Place, Resize

# The journal's action names (daemon/state.py JournalEntry.action).
PLACE = "place"
MOVE = "move"
RESIZE = "resize"
CANCEL = "cancel"
CLOSE = "close"
TAKE_PROFIT = "tp"


class JournalFormatError(ValueError):
    """A journal row this version cannot turn back into an action."""


def journal_name(action: Action) -> str:
    if isinstance(action, Resize):
        return RESIZE
    if isinstance(action, Move):
        return MOVE
    if isinstance(action, Cancel):
        return CANCEL
    if isinstance(action, CloseMarket):
        return CLOSE
    return TAKE_PROFIT if action.order.kind is LegKind.TAKE_PROFIT else PLACE


def journal_id(action: Action) -> str:
    """The client_order_id the journal row is keyed by: the order sent, or the one cancelled."""
    if isinstance(action, Cancel):
        if action.order.client_order_id is None:
            raise JournalFormatError(f"order {action.order.order_id} has no client_order_id")
        return action.order.client_order_id
    return action.order.client_order_id


def _opt(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _order_params(order: OpenOrder, prefix: str) -> dict[str, str]:
    return {f"{prefix}order_id": str(order.order_id),
            f"{prefix}client_order_id": order.client_order_id or "",
            f"{prefix}order_type": order.order_type,
            f"{prefix}side": order.side.value,
            f"{prefix}stop_price": _opt(order.stop_price),
            f"{prefix}amount": str(order.remaining)}


def encode(action: Action) -> dict[str, str]:
    """Everything needed to carry out `action` again (its reason included, for the log)."""
    params = {"reason": action.reason}
    if isinstance(action, Cancel):
        params.update(_order_params(action.order, ""))
        return params
    intent = action.order
    params.update({
        "position_side": intent.key.side.value, "created_at": str(intent.key.created_at),
        "leg": intent.leg, "kind": intent.kind.value, "side": intent.side.value,
        "amount": str(intent.amount), "stop_price": _opt(intent.stop_price),
        "limit_price": _opt(intent.limit_price), "trigger": intent.trigger.value,
        "revision": str(intent.revision),
    })
    if isinstance(action, Move):
        params.update(_order_params(action.replaces, "replaces_"))
        params["loosens"] = "1" if action.loosens else ""
    return params


def _dec(params: Mapping[str, str], name: str) -> Decimal:
    try:
        return Decimal(params[name])
    except (KeyError, InvalidOperation):
        raise JournalFormatError(f"{name}: not a decimal: {params.get(name)!r}") from None


def _opt_dec(params: Mapping[str, str], name: str) -> Decimal | None:
    return _dec(params, name) if params.get(name) else None


def _int(params: Mapping[str, str], name: str) -> int:
    try:
        return int(params[name])
    except (KeyError, ValueError):
        raise JournalFormatError(f"{name}: not an integer: {params.get(name)!r}") from None


def _decode_order(symbol: str, params: Mapping[str, str], prefix: str) -> OpenOrder:
    """The cancelled order as it was when the action was planned (enough to cancel it)."""
    try:
        side = Side(params[f"{prefix}side"])
    except (KeyError, ValueError):
        raise JournalFormatError(f"{prefix}side: unknown") from None
    return OpenOrder(
        order_id=_int(params, f"{prefix}order_id"),
        client_order_id=params.get(f"{prefix}client_order_id") or None, symbol=symbol,
        side=side, order_type=params.get(f"{prefix}order_type", ""), price=Decimal(0),
        stop_price=_opt_dec(params, f"{prefix}stop_price"),
        initial_amount=_dec(params, f"{prefix}amount"), filled_amount=Decimal(0),
        cancelled_amount=Decimal(0), reduce_only=True, created_at=0)


def decode(name: str, client_order_id: str, symbol: str, params: Mapping[str, str]) -> Action:
    """The action a journal row describes; raises JournalFormatError if it cannot."""
    reason = params.get("reason", "")
    if name == CANCEL:
        return Cancel(_decode_order(symbol, params, ""), reason)
    try:
        key = PositionKey(symbol, Side(params["position_side"]), _int(params, "created_at"))
        intent = OrderIntent(
            client_order_id=client_order_id, key=key, leg=params["leg"],
            kind=LegKind(params["kind"]), side=Side(params["side"]),
            amount=_dec(params, "amount"), stop_price=_opt_dec(params, "stop_price"),
            limit_price=_opt_dec(params, "limit_price"),
            trigger=TriggerPriceType(params["trigger"]), revision=_int(params, "revision"))
    except (KeyError, ValueError) as error:
        if isinstance(error, JournalFormatError):
            raise
        raise JournalFormatError(f"{name} {client_order_id}: {error}") from None
    if name in (MOVE, RESIZE):
        replaces = _decode_order(symbol, params, "replaces_")
        kind = Resize if name == RESIZE else Move
        return kind(intent, replaces, reason, bool(params.get("loosens")))
    if name == CLOSE:
        return CloseMarket(intent, reason)
    if name in (PLACE, TAKE_PROFIT):
        return Place(intent, reason)
    raise JournalFormatError(f"unknown journal action {name!r}")
