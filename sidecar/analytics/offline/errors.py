"""The one error the offline tools raise for a user's mistake.

``failure``, ``rul``, ``ahu_fdd`` and the CLI raise ``CliError`` for a bad path, a missing column or
an unknown column map; the CLI (``cli.main``) prints it as ``error: ...`` and exits with 2. It
lives here, not in the CLI, so the models never import the CLI that imports them.
"""

from __future__ import annotations


class CliError(Exception):
    """A user error with a precise message (bad path, missing column, ...)."""
