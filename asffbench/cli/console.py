"""How every command shows a table: one console and one rich table builder.

A command builds its table as the results layer's `TextTable` (the same object the report
renders as markdown) and prints it here. Imported inside the command functions, after the
config is composed, like the other output modules.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from asffbench.results.tables.text_table import TextTable


def wide_console() -> Console:
    """The terminal; piped output gets a wide console, so tables are not cropped to 80 columns."""
    return Console(width=None if sys.stdout.isatty() else 250, soft_wrap=False)


def rich_table(table: TextTable, wrap: bool = False) -> Table:
    """The table for the terminal: its title on the left, columns aligned as in markdown, cells
    unwrapped (`wrap`: long values wrap instead) and shown as written (no rich markup: `[lo, hi]`
    is an interval, not a style)."""
    out = Table(title=table.title or None, title_justify="left")
    for header, align in zip(table.headers, table.alignments()):
        out.add_column(header, justify=align, no_wrap=not wrap)
    for row in table.rows:
        out.add_row(*(Text(str(cell)) for cell in row))
    return out


def print_table(table: TextTable, wrap: bool = False) -> None:
    wide_console().print(rich_table(table, wrap))
