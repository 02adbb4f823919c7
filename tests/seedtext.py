"""Read the seed documents the way a person reads them: sections, bullets, table rows.

The seeds mix Markdown and HTML tables (Huawei's documents are exported HTML inside
Markdown, JD Cloud's and Apsara's are Markdown tables). The catalog tests count what
the documents say from these files, so nothing about their size is hard-coded.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

# Headings of the sections whose bullets are rules of the API, in every seed language.
CONSTRAINT_HEADINGS = ("约束与限制", "Constraints", "接口约束", "接口说明")
# First header cell of a return-code table, and of a parameter table.
RETURN_CODE_HEADERS = ("返回值", "Returned Value", "HTTP状态码")
PARAMETER_HEADERS = ("参数", "Parameter", "名称", "Name")

_TAG = re.compile(r"<[^<>\s][^<>]*>")  # a tag, not a "<" of running text ("name < 243 bytes")
_ESCAPE = re.compile(r"\\([_~{}()\[\]*#<>.\-])")


def fold(text: str) -> str:
    """The text as a reader sees it: no markup, no escapes, one space between words."""
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = text.replace("**", "").replace("`", "")
    text = _ESCAPE.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Table:
    heading: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @property
    def kind(self) -> str:
        first = self.header[0] if self.header else ""
        if first.startswith(RETURN_CODE_HEADERS):
            return "return-codes"
        if first.startswith(PARAMETER_HEADERS):
            return "parameters"
        return "other"


class SeedDocument:
    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        self.raw = path.read_text(encoding="utf-8")

    @cached_property
    def folded(self) -> str:
        return fold(self.raw)

    def contains(self, quote: str) -> bool:
        return fold(quote) in self.folded

    @cached_property
    def sections(self) -> list[tuple[str, str]]:
        """(heading, body) pairs; text before the first heading has heading ''."""
        parts = re.split(r"^(#{1,6} .*)$", self.raw, flags=re.M)
        out = [("", parts[0])]
        for i in range(1, len(parts), 2):
            out.append((fold(parts[i].lstrip("#")), parts[i + 1]))
        return out

    def bullets(self) -> list[tuple[str, str]]:
        """Top-level bullets and numbered items of the constraint sections: (heading, text)."""
        found = []
        for heading, body in self.sections:
            if not heading.startswith(CONSTRAINT_HEADINGS):
                continue
            for match in re.finditer(r"^(?:-|\d+\.)\s+(.+)$", body, flags=re.M):
                found.append((heading, fold(match.group(1))))
        return found

    @cached_property
    def tables(self) -> list[Table]:
        tables = []
        for heading, body in self.sections:
            for block in re.findall(r"<table.*?</table>", body, flags=re.S):
                tables.append(_html_table(heading, block))
            for block in re.findall(r"(?:^\|.*\|\s*$\n?)+", body, flags=re.M):
                tables.append(_markdown_table(heading, block))
        return tables

    def tables_of(self, kind: str) -> list[Table]:
        return [t for t in self.tables if t.kind == kind]


def _html_table(heading: str, block: str) -> Table:
    header = tuple(fold(c) for c in re.findall(r"<th.*?</th>", block, flags=re.S))
    body = block.split("<tbody>", 1)[-1]
    rows = []
    for row in re.findall(r"<tr.*?</tr>", body, flags=re.S):
        cells = tuple(fold(c) for c in re.findall(r"<td.*?</td>", row, flags=re.S))
        if cells:
            rows.append(cells)
    return Table(heading, header, tuple(rows))


def _markdown_table(heading: str, block: str) -> Table:
    lines = [line.strip() for line in block.strip().splitlines()]
    cells = [tuple(fold(c) for c in line.strip("|").split("|")) for line in lines]
    header, rows = cells[0], [c for c in cells[1:] if not all(set(x) <= {"-", ":", ""} for x in c)]
    return Table(heading, header, tuple(rows))
