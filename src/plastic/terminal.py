"""What plastic prints: a rich console that wraps only on a terminal.

Printed into a log file, CI's output or a SLURM .out file, rich would wrap at 80 columns, inside
paths; there every message stays on one line, so that a printed path can be pasted.
"""

from __future__ import annotations

import sys

UNWRAPPED_WIDTH = 10_000  # columns when the stream is not a terminal: tables take what they need


def console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if _is_terminal(stream):
        return Console(stderr=stderr)
    return Console(stderr=stderr, soft_wrap=True, width=UNWRAPPED_WIDTH)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
