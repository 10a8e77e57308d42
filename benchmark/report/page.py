"""The report's front page, ``index.md`` and ``index.html``, from one description.

:class:`Page` says what the page holds (title, provenance, warnings, tables, figures,
failed sessions); :func:`render_markdown` and :func:`render_html` write it out. The HTML
is self-contained (inline CSS) and refers to the figures by relative path.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.report.tables import markdown_table

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #e3e3e3; text-align: right; }
th.text, td.text { text-align: left; }
thead th { border-bottom: 2px solid #999; }
figure { margin: 1em 0; } img { max-width: 100%; } figcaption { font-size: 0.9em; color: #444; }
.warning { background: #fff4e0; border-left: 4px solid #e69500; padding: 0.4em 0.8em; margin: 0.4em 0; }
.note { color: #555; font-size: 0.9em; }
""".strip()


@dataclass(frozen=True)
class TableBlock:
    """A table on the page: a display frame, a caption and the files it was written to;
    its first ``left`` columns are text, aligned left."""

    title: str
    caption: str
    display: pd.DataFrame
    files: tuple[str, ...] = ()
    left: int = 1


@dataclass(frozen=True)
class FigureBlock:
    """A figure on the page: its PNG (shown) and PDF, relative to the page, with a caption."""

    title: str
    caption: str
    png: str
    pdf: str


@dataclass(frozen=True)
class Page:
    """Everything on the front page, in order.

    Attributes:
        title: the protocol's title or the run folder's name.
        intro: short lines under the title (results folder, protocol file).
        warnings: experiments that could not be reported, and why.
        provenance: one row per distinct run setting (commit, seed, versions).
        blocks: tables and figures, in page order.
        failures: failed sessions (experiment, case, error); empty when none.
    """

    title: str
    intro: tuple[str, ...]
    warnings: tuple[str, ...]
    provenance: pd.DataFrame
    blocks: tuple[TableBlock | FigureBlock, ...]
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)


def write_page(page: Page, out: Path) -> tuple[Path, Path]:
    """Write ``out/index.md`` and ``out/index.html``; returns both paths."""
    md, page_html = out / "index.md", out / "index.html"
    md.write_text(render_markdown(page), encoding="utf-8")
    page_html.write_text(render_html(page), encoding="utf-8")
    return md, page_html


def render_markdown(page: Page) -> str:
    """The page as Markdown."""
    parts = [f"# {page.title}", "\n\n".join(page.intro)]
    parts += [f"> **Warning:** {w}" for w in page.warnings]
    parts += ["## Provenance", markdown_table(page.provenance, left=page.provenance.shape[1])]
    for block in page.blocks:
        parts.append(f"## {block.title}")
        if isinstance(block, TableBlock):
            parts += [markdown_table(block.display, block.left), f"*{block.caption}*" + _files_md(block.files)]
        else:
            parts += [f"![{block.title}]({block.png})", f"*{block.caption}* ([PDF]({block.pdf}))"]
    parts.append("## Failed sessions")
    parts.append(markdown_table(page.failures, left=page.failures.shape[1]) if len(page.failures) else "None.")
    return "\n\n".join(p for p in parts if p) + "\n"


def render_html(page: Page) -> str:
    """The page as one self-contained HTML document."""
    e = html.escape
    body = [f"<h1>{e(page.title)}</h1>"]
    body += [f'<p class="note">{e(line)}</p>' for line in page.intro]
    body += [f'<p class="warning"><strong>Warning:</strong> {e(w)}</p>' for w in page.warnings]
    body += ["<h2>Provenance</h2>", _html_table(page.provenance, left=page.provenance.shape[1])]
    for block in page.blocks:
        body.append(f"<h2>{e(block.title)}</h2>")
        if isinstance(block, TableBlock):
            links = ", ".join(f'<a href="{e(f)}">{e(Path(f).suffix[1:])}</a>' for f in block.files)
            body += [_html_table(block.display, block.left),
                     f'<p class="note">{e(block.caption)}{f" ({links})" if links else ""}</p>']
        else:
            body.append(f'<figure><img src="{e(block.png)}" alt="{e(block.title)}">'
                        f'<figcaption>{e(block.caption)} (<a href="{e(block.pdf)}">PDF</a>)</figcaption></figure>')
    body.append("<h2>Failed sessions</h2>")
    body.append(_html_table(page.failures, left=page.failures.shape[1]) if len(page.failures) else "<p>None.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{e(page.title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _files_md(files: tuple[str, ...]) -> str:
    return f" ({', '.join(f'[{Path(f).suffix[1:]}]({f})' for f in files)})" if files else ""


def _html_table(display: pd.DataFrame, left: int = 1) -> str:
    e = html.escape

    def cell(tag: str, i: int, value: object) -> str:
        return f'<{tag} class="text">{e(str(value))}</{tag}>' if i < left else f"<{tag}>{e(str(value))}</{tag}>"

    head = "".join(cell("th", i, c) for i, c in enumerate(display.columns))
    rows = "\n".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>"
                     for r in display.itertuples(index=False))
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
