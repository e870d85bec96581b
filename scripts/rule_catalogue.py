"""Write ``src/opswap/rules/catalogue.json``, the listing ``opswap rules`` prints without loading onnx.

Run ``python scripts/rule_catalogue.py`` after adding or changing a rule (or upgrading onnx);
``tests/test_cli_misc.py`` fails while the shipped file differs from the live registry.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from opswap.catalogue import CATALOGUE, text

if __name__ == "__main__":
    CATALOGUE.write_text(text(), encoding="utf-8")
