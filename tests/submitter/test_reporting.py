"""What the submitter tells: one log line per order action, duplicate answers for orders that
are gone (so the service marks the id spent), and never a key."""

from __future__ import annotations

from decimal import Decimal

from nacl.signing import SigningKey
from structlog.testing import capture_logs
from submitter_support import SEED, Rig, by_cloid, stop_leg

from daemon.engine.plan import Move
from daemon.pacifica.signing import b58encode


async def test_every_order_action_is_logged_once_with_who_what_and_why(rig: Rig) -> None:
    key = await rig.open_position()
    rig.sub.rule_of = lambda action: "guard"
    rig.run()
    with capture_logs() as logs:
        (place,) = await rig.protect(key, "58000", faults={"lose_response_after_commit": 1})
        (move,) = await rig.protect(key, "59000", faults={"error_count": 1})
        (cancel,) = (await rig.plan([], [])).actions  # the position counts as gone
        rig.sub.submit([cancel], bare=())
        await rig.settle()
    orders = [e for e in logs if e["event"].startswith("order.")]
    assert [(e["action"], e["client_order_id"], e["outcome"]) for e in orders] == [
        ("place", place.order.client_order_id, "placed"),
        ("move", move.order.client_order_id, "placed"),
        ("cancel", move.order.client_order_id, "cancelled")]
    for entry, action in zip(orders, (place, move, cancel), strict=True):
        assert entry["account"] == rig.account
        assert entry["symbol"] == "BTC"
        assert entry["side"] == "ask"
        assert entry["leg"] == "sl"
        assert entry["rule"] == "guard"
        assert entry["reason"] == action.reason
    assert isinstance(move, Move)
    assert orders[1]["replaces"] == move.replaces.client_order_id
    text = repr(logs)
    seed = SigningKey(SEED)
    for encoding in (SEED.hex(), b58encode(SEED), b58encode(SEED + bytes(seed.verify_key))):
        assert encoding not in text


async def test_a_duplicate_answer_for_an_order_no_longer_open_keeps_the_old_stop(
        rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (first,) = await rig.protect(key, "58000")
    (move,) = (await rig.plan([stop_leg(key, "59000", "0.1")])).actions
    assert isinstance(move, Move)
    assert move.order.stop_price is not None
    # That very revision was placed once already and is gone (cancelled by hand).
    await rig.client.create_stop_order(rig.markets["BTC"], move.order.side,
                                       stop_price=move.order.stop_price,
                                       amount=move.order.amount,
                                       client_order_id=move.order.client_order_id)
    await rig.client.cancel_stop_order("BTC", client_order_id=move.order.client_order_id)
    rig.sub.submit([move], bare=())
    await rig.settle()
    result = rig.results[-1]
    assert result.outcome == "already_placed"
    assert result.duplicate_not_open
    # Cancelling the old stop now would have left the position bare.
    assert set(by_cloid(rig.open_orders())) == {first.order.client_order_id}
    assert Decimal(rig.open_orders()[0]["stop_price"]) == Decimal(58000)
