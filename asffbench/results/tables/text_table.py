"""The one table type every shown table becomes (`TextTable`: headers, rows of text, alignments)
and its one markdown renderer (`markdown`, tabulate's pipe tables). The report's sections and
the paper-style tables (`render.display_table`) build a `TextTable`; the CLI shows the same
object as a rich table (`cli/console.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tabulate import tabulate

Align = Literal["left", "right"]


@dataclass
class TextTable:
    headers: list[str]
    rows: list[list[str]]
    title: str = ""
    # One per column; by default the first column (the row's name) left, the others (numbers) right.
    align: list[Align] = field(default_factory=list)

    def add_row(self, *cells: str) -> None:
        self.rows.append(list(cells))

    def alignments(self) -> list[Align]:
        return list(self.align) or ["left"] + ["right"] * (len(self.headers) - 1)


def aligned(left: int, right: int) -> list[Align]:
    """`left` label columns, then `right` number columns."""
    return ["left"] * left + ["right"] * right


def escape_cell(text: object) -> str:
    """A cell's text as one markdown table cell: pipes escaped, line breaks as spaces."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(table: TextTable) -> str:
    """The table as a markdown pipe table (no title; the section says what it is)."""
    return tabulate([[escape_cell(cell) for cell in row] for row in table.rows],
                    headers=[escape_cell(h) for h in table.headers], tablefmt="pipe",
                    colalign=table.alignments(), disable_numparse=True)


def titled_markdown(table: TextTable) -> str:
    """The table under its title in bold (the tables of a section that shows several)."""
    return f"**{table.title}**\n\n{markdown(table)}\n"

