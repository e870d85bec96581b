"""The line protocol of opswap's worker processes (mnn_worker.py, qnn_worker.py).

Native converters and runtimes can die on a model; they run in a worker that answers one JSON
request per line of stdin with one JSON line on stdout (``runtimes.Worker`` is the parent's side).
File descriptor 1 itself is left to the native code to print on: answers go to a copy of it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any


def serve(handle: Callable[[dict[str, Any]], dict[str, object]]) -> None:
    """Answer each JSON request on stdin with ``handle(request)``, one line each, until stdin closes."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for line in sys.stdin:
        protocol.write(json.dumps(handle(json.loads(line))) + "\n")
        protocol.flush()
