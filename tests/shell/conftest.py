"""Shell tests share a test key from `keys_support`.

The suite runs in importlib mode, where sibling modules are not importable by name; this
directory goes on sys.path so test modules can `import keys_support`.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
