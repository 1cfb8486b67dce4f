"""``python -m convene_cli`` is ``convene``."""

from convene_cli.app import main

main()
