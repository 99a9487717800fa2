"""HTML reports: table of contents from the headings, code hidden by default, scrolling tables."""

from __future__ import annotations

from pathlib import Path

import nbformat

from workbench.runners.html_report import decorate, export_html, headings


def _nb(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# VOS benchmark\n## Per sequence (J&F)\n### Decay\n#### too deep"),
        nbformat.v4.new_code_cell("print(1)"),
    ]
    path = tmp_path / "vos.ipynb"
    nbformat.write(nb, path)
    return path


def test_export_adds_contents_and_hides_code(tmp_path: Path) -> None:
    out = export_html(_nb(tmp_path))
    body = out.read_text()
    assert out == tmp_path / "vos.html"
    assert [h[2] for h in headings(body)] == ["VOS benchmark", "Per sequence (J&F)", "Decay"]
    toc = body[body.index('<nav class="wb-toc">') : body.index("</nav>")]
    for _, anchor, _ in headings(body):
        assert f'href="#{anchor}"' in toc
    assert 'wb-hide-code"' in body[body.index("<body") : body.index(">", body.index("<body"))]
    assert body.index('<nav class="wb-toc">') < body.index("VOS benchmark<a")
    assert "print" in body  # the code is in the file, only hidden


def test_show_code_starts_shown(tmp_path: Path) -> None:
    body = export_html(_nb(tmp_path), show_code=True).read_text()
    tag = body[body.index("<body") : body.index(">", body.index("<body"))]
    assert "wb-hide-code" not in tag and 'id="wb-show-code" checked' in body


def test_no_headings_no_contents() -> None:
    page = '<html><head></head><body class="jp-Notebook"><main><p>x</p></main></body></html>'
    out = decorate(page)
    assert "wb-toc" not in out.split("</style>")[-1] and 'class="jp-Notebook wb-hide-code"' in out
