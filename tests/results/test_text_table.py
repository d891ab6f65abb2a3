"""The one table type: its markdown (escaped, aligned as asked) and its rich form in the CLI."""

from __future__ import annotations

from rich.console import Console

from asffbench.cli.console import rich_table
from asffbench.results.tables.text_table import TextTable, aligned, markdown, titled_markdown


def test_markdown_escapes_cells_and_aligns_columns_as_asked():
    table = TextTable(["Run", "Where", "n"], [["a|b", "line\nbreak", "12"], ["c", "d", "3"]],
                      align=aligned(2, 1))
    lines = markdown(table).splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["Run", "Where", "n"]
    assert lines[1].startswith("|:") and lines[1].count("|:") == 2 and lines[1].endswith(":|")
    assert "a\\|b" in lines[2] and "line break" in lines[2] and len(lines) == 4
    assert TextTable(["x", "y"], []).alignments() == ["left", "right"]


def test_titled_markdown_puts_the_title_in_bold_above_the_table():
    table = TextTable(["k", "v"], [["AP", "1.0"]], title="Where the AP goes")
    assert titled_markdown(table).startswith("**Where the AP goes**\n\n| k ")


def test_rich_table_shows_cells_as_written_not_as_markup():
    table = TextTable(["class", "Δ"], [["[person]", "+1.23 [-0.40, +2.80] *"]], title="AP per class")
    console = Console(width=120, record=True)
    console.print(rich_table(table))
    text = console.export_text()
    assert "[person]" in text and "+1.23 [-0.40, +2.80] *" in text and "AP per class" in text
