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


def print_result(title: str, metrics: dict, extra: list[tuple[str, str]], verdict_line: str | None):
    """A finished run's (or evaluation's) short table of final metrics and its verdict line;
    returns the console, for the lines that follow."""
    from rich.markup import escape
    from rich.table import Table

    from plastic import verdict

    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(
            escape(name), f"{value:,.0f}" if float(value).is_integer() else f"{value:.4g}"
        )
    for name, value in extra:
        table.add_row(name, value)
    out = console()
    out.print(table)
    if verdict_line:
        colour = verdict.colour(verdict_line)
        out.print(f"verdict: [{colour}]{escape(verdict_line)}[/{colour}]")
    return out
