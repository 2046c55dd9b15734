"""The ``stalwart`` command line (Typer + Rich). Entry point: :func:`stalwart.cli.main.main`."""
