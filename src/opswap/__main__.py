"""``python -m opswap``."""

from opswap.cli import main

main()
