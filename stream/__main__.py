"""``python -m stream`` is the ``scrapeguard`` command."""

from stream.cli import main

main()
