"""HTML export of executed notebooks that reads as a report.

:func:`export_html` uses nbconvert's JupyterLab template and then adds three things:

* a table of contents (the notebook's level 1-3 headings, linked to their anchors) at the top;
* code cells hidden by default, with a "Show code" switch in the page (``show_code=True``
  starts with them shown; the code is always in the file, so nothing is lost);
* wide tables and outputs scroll inside their cell instead of running off the page.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

_HEADING = re.compile(r'<h([1-3]) id="([^"]+)"[^>]*>(.*?)(?:<a class="anchor-link"[^>]*>.*?</a>)?</h\1>', re.S)
_TAG = re.compile(r"<[^>]+>")

STYLE = """<style id="wb-report-style">
body.wb-hide-code .jp-CodeCell .jp-Cell-inputWrapper { display: none; }
.jp-OutputArea-output { overflow-x: auto; max-width: 100%; }
.jp-RenderedHTMLCommon table { display: block; overflow-x: auto; max-width: 100%; }
nav.wb-toc { border: 1px solid #ddd; border-radius: 4px; padding: 0.5em 1em; margin: 1em 0; background: #fafafa; }
nav.wb-toc ul { margin: 0.2em 0; padding-left: 1.2em; }
nav.wb-toc li.wb-toc-2 { margin-left: 1em; } nav.wb-toc li.wb-toc-3 { margin-left: 2em; }
.wb-report-bar { font: 13px sans-serif; margin: 0.5em 0; }
</style>"""

SCRIPT = """<script id="wb-report-script">
function wbToggleCode(show) { document.body.classList.toggle('wb-hide-code', !show); }
</script>"""


def headings(body: str) -> list[tuple[int, str, str]]:
    """``(level, anchor id, text)`` of every level 1-3 heading in nbconvert's HTML, in order."""
    return [
        (int(lvl), anchor, html.unescape(_TAG.sub("", text)).strip()) for lvl, anchor, text in _HEADING.findall(body)
    ]


def table_of_contents(body: str) -> str:
    """The ``<nav class="wb-toc">`` block linking the headings of ``body`` ("" when it has none)."""
    items = headings(body)
    if not items:
        return ""
    lis = "".join(
        f'<li class="wb-toc-{lvl}"><a href="#{anchor}">{html.escape(text)}</a></li>' for lvl, anchor, text in items
    )
    return f'<nav class="wb-toc"><strong>Contents</strong><ul>{lis}</ul></nav>'


def decorate(body: str, show_code: bool = False) -> str:
    """Add the style, the code switch and the table of contents to nbconvert's page ``body``."""
    body = body.replace("</head>", STYLE + SCRIPT + "</head>", 1)
    checked = " checked" if show_code else ""
    bar = (
        f'<div class="wb-report-bar"><label><input type="checkbox" id="wb-show-code"{checked} '
        f'onchange="wbToggleCode(this.checked)"> Show code</label></div>'
    )
    toc = table_of_contents(body)
    m = re.search(r"<body([^>]*)>", body)
    if m is None:
        return body
    attrs = m.group(1)
    if not show_code:
        attrs = (
            re.sub(r'class="([^"]*)"', r'class="\1 wb-hide-code"', attrs, count=1)
            if "class=" in attrs
            else attrs + ' class="wb-hide-code"'
        )
    start = body.find("<main>", m.end())
    insert_at = start + len("<main>") if start != -1 else m.end()
    head = body[: m.start()] + f"<body{attrs}>" + body[m.end() : insert_at]
    return head + bar + toc + body[insert_at:]


def export_html(notebook: str | Path, show_code: bool = False) -> Path:
    """Export an executed notebook to ``<notebook>.html`` beside it.

    Parameters
    ----------
    notebook : path
        The executed ``.ipynb``.
    show_code : bool
        Start with code cells shown (default hidden; the page has a switch either way).

    Returns
    -------
    Path
        The HTML file.
    """
    import nbformat
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    body, _ = HTMLExporter(
        template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True
    ).from_notebook_node(nb)
    out = notebook.with_suffix(".html")
    out.write_text(decorate(body, show_code=show_code), encoding="utf-8")
    return out


__all__ = ["decorate", "export_html", "headings", "table_of_contents"]
