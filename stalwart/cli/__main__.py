"""``python -m stalwart.cli`` is the ``stalwart`` command."""

from stalwart.cli.main import main

main()
