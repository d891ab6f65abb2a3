"""Markdown tables as a test states their rows: cell padding removed (`|   1 | a    |` reads
`| 1 | a |`), so an assertion names each cell's exact text without counting column widths."""

from __future__ import annotations

import re


def unpadded(text: str) -> str:
    """`text` with the padding around every table cell cut to one space; other lines unchanged."""
    return "\n".join(re.sub(r" *(?<!\\)\| *", " | ", line).strip() if line.startswith("|") and not line.startswith("|:")
                     and not line.startswith("|-") else line for line in text.splitlines())
