"""The pure evaluation engine: rules, positions and prices in; desired stops and actions out.

No I/O and no clock: `now` is passed in. One module per concern:
`evaluate` (desired legs), `plan` (actions), `hotpath` (price frames), `memory` (what
survives between evaluations), `ladder` (rungs armed, grown and fired), `windows` (cron
windows), `levels` (side-aware arithmetic), `model` (output types).
"""

from daemon.engine.evaluate import evaluate
from daemon.engine.hotpath import by_key, crossed, reevaluate
from daemon.engine.memory import Memory, MemoryFormatError, OrderMemory, PositionMemory
from daemon.engine.model import (
    EXIT,
    SL,
    TP,
    Band,
    DesiredLeg,
    EngineConfig,
    Evaluation,
    LegKind,
    Notice,
    PositionResult,
    Severity,
    ladder_leg,
)
from daemon.engine.plan import (
    Action,
    Cancel,
    CloseMarket,
    Move,
    OrderIntent,
    Place,
    Plan,
    Resize,
    plan,
)

__all__ = [
    "EXIT", "SL", "TP", "Action", "Band", "Cancel", "CloseMarket", "DesiredLeg", "EngineConfig",
    "Evaluation", "LegKind", "Memory", "MemoryFormatError", "Move", "Notice", "OrderIntent",
    "OrderMemory", "Place", "Plan", "PositionMemory", "PositionResult", "Resize", "Severity",
    "by_key", "crossed", "evaluate", "ladder_leg", "plan", "reevaluate",
]
