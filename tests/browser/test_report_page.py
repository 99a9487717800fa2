"""The HTML report in a real browser: code hidden until asked for, wide tables scroll in their cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from workbench.runners.html_report import export_html

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _report(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    wide = "<table><tr>" + "<td>J&amp;F-Mean 0.123456</td>" * 60 + "</tr></table>"
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Survey report\n## SAM vs SAM 2"),
        nbformat.v4.new_code_cell(
            "table = compute()", outputs=[nbformat.v4.new_output("display_data", data={"text/html": wide})]
        ),
        nbformat.v4.new_markdown_cell("## Video J&F"),
    ]
    path = tmp_path / "report.ipynb"
    nbformat.write(nb, path)
    return export_html(path)


def test_report_page_hides_code_scrolls_tables_and_links_contents(chromium, tmp_path: Path) -> None:
    html = _report(tmp_path)
    page = chromium.new_page(viewport={"width": 1000, "height": 800})
    try:
        page.goto(html.as_uri())
        code = page.locator(".jp-CodeCell .jp-Cell-inputWrapper").first
        assert not code.is_visible()
        page.check("#wb-show-code")
        assert code.is_visible()
        assert "table = compute()" in code.inner_text()
        # the page does not grow sideways: the wide table scrolls inside its cell
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= 1000
        table_scroll = page.evaluate(
            "(() => { const t = document.querySelector('.jp-OutputArea-output table'); "
            "return [t.scrollWidth, t.clientWidth]; })()"
        )
        assert table_scroll[0] > table_scroll[1]
        links = page.locator("nav.wb-toc a")
        assert links.all_inner_texts() == ["Survey report", "SAM vs SAM 2", "Video J&F"]
        for href in links.evaluate_all("els => els.map(e => e.getAttribute('href'))"):
            assert page.locator(f"[id='{href[1:]}']").count() == 1
    finally:
        page.close()
