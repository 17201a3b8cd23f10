"""The ``datamint`` command line; ``main.app`` is the console script's entry point."""
