"""Student notebooks through nbconvert, with the grader's feedback spliced in after the
cell that defines each gate; a module is cut into cells at its gate classes first."""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from backprop_grader.load import cell_source, class_pattern
from backprop_grader.report.sanitize import clean_html, esc

if TYPE_CHECKING:
    from nbformat import NotebookNode


class Renderer:
    """Renders notebooks with nbconvert (one exporter for the whole report)."""

    def __init__(self) -> None:
        from nbconvert import HTMLExporter
        from pygments.formatters import HtmlFormatter
        self.exporter = HTMLExporter(template_name="basic", sanitize_html=True, exclude_anchor_links=True,
                                     filters={"clean_html": clean_html})
        self.css = HtmlFormatter(style="default").get_style_defs(".highlight")

    def render(self, nb: NotebookNode) -> str:
        body, _ = self.exporter.from_notebook_node(nb)
        return body


def gate_cells(cells: Sequence[Any], gates: Iterable[str]) -> dict[str, int]:
    """{gate: index of the last code cell defining it} (the last definition is the one that ran)."""
    found = {}
    for k, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        src = cell_source(cell)
        for g in gates:
            if class_pattern([g], at="line").search(src):
                found[g] = k
    return found


def cells_notebook(cells: Iterable[tuple[int, str]]) -> NotebookNode:
    """A notebook of code cells from [(cell number, source)]: a notebook exported as a
    script, as the grader ran it (load.exported_notebook)."""
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for _, src in cells] or [nbformat.v4.new_code_cell("")]
    return nb


def module_notebook(source: str, gates: Sequence[str]) -> NotebookNode:
    """A module as a notebook: one code cell per top-level gate class, and the code between."""
    import nbformat
    lines = source.splitlines(keepends=True)
    top = class_pattern(gates, at="top")
    starts = [0] + [i for i, line in enumerate(lines) if i and top.match(line)]
    cells = []
    for a, b in zip(starts, starts[1:] + [len(lines)]):
        chunk = "".join(lines[a:b]).strip("\n")
        if chunk:
            cells.append(nbformat.v4.new_code_cell(chunk))
    nb = nbformat.v4.new_notebook()
    nb.cells = cells or [nbformat.v4.new_code_cell(source)]
    return nb



def render_with_feedback(nb: NotebookNode, key: str, groups: dict, renderer: Renderer, gates: list,
                         feedback: Callable[[str], str]) -> tuple:
    """(html, unplaced groups, note): the notebook with `feedback(tag)` (HTML) after each
    gate's cell; `key` makes the splice markers unique (the student id)."""
    import nbformat
    where = gate_cells(nb.cells, gates)
    placed = {}
    for tag in groups:
        if tag in where:
            placed[tag] = where[tag]
        elif tag not in gates and where and all(g in where for g in gates):
            placed[tag] = max(where.values())  # a graph check: after the last gate it uses
    token = "BPGFEEDBACK%s" % hashlib.sha256(repr((key, id(nb))).encode()).hexdigest()[:16]
    after = {}
    for tag, k in placed.items():
        after.setdefault(k, []).append(tag)
    cells = []
    for k, cell in enumerate(nb.cells):
        cells.append(cell)
        if k in after:
            cells.append(nbformat.v4.new_raw_cell("%s-%d" % (token, k), metadata={"raw_mimetype": "text/html"}))
    nb.cells = cells
    try:
        body = renderer.render(nb)
    except Exception as exc:  # nbconvert on a malformed notebook: show the code plainly
        body = "\n".join("<pre>%s</pre>" % esc(cell_source(c))
                         for c in nb.cells
                         if c.get("cell_type") == "code" and not str(c.get("source", "")).startswith(token))
        note = "nbconvert could not render this notebook (%s: %s); its code cells are shown as text." % (
            type(exc).__name__, exc)
        return body, list(groups), note
    for k, tags in after.items():
        block = "\n".join(feedback(t) for t in tags)
        body = body.replace("%s-%d" % (token, k), block, 1)
    return body, [t for t in groups if t not in placed], ""

