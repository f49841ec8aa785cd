"""pytest plugin for symderiv (registered through the ``pytest11`` entry point)."""
