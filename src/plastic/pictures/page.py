"""The report's pages: index.html of a sweep or a run (its answers, conditions, figures and
runs) and the page that sets runs side by side; relative links, so that a folder can be copied
and opened offline."""

from __future__ import annotations

import html
import os
from pathlib import Path

from plastic import replicates as rep
from plastic.artifacts import SUMMARY, write_text

PICTURES = (
    "receptive_fields.gif",
    "activity.gif",
    "fields.png",
    "curves.png",
    "state.png",
    "reconstructions.png",
)
CONFIG = Path(".hydra") / "config.yaml"
LINKS = (
    ("config", str(CONFIG)),
    ("log", "run.log"),
    ("summary", SUMMARY),
    ("metrics", "metrics.csv"),
)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h2 { margin-top: 1.6em; } small, .note { color: #666; font-weight: normal; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right;
         vertical-align: top; white-space: nowrap; }
th { background: #f3f3f6; }
td.text, th.text { text-align: left; } td.text { white-space: normal; min-width: 14em; }
td.name, th.name { text-align: left; }
tr.best td { background: #eef7ee; }
.completed { color: #1a7f37; } .failed, .diverged, .unreadable { color: #cf222e; }
.interrupted, .cancelled { color: #9a6700; } .reason { color: #666; font-size: 12px;
  max-width: 40em; }
.pictures { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.side { display: flex; gap: 18px; align-items: flex-start; }
.side > div { flex: 1 1 0; min-width: 0; }
figure { margin: 0; } figcaption { font-size: 12px; color: #666; }
img { max-width: 100%; height: auto; }
.links a { margin-right: 0.6em; font-size: 13px; }
"""

SORTABLE = """
<script>
// a table whose class is "sortable" sorts by any column: numbers as numbers, the rest as text
document.querySelectorAll("table.sortable th").forEach((th) => {
  th.style.cursor = "pointer";
  th.title = "sort by this column; again to reverse";
  th.addEventListener("click", () => {
    const column = Array.from(th.parentNode.children).indexOf(th);
    const body = th.closest("table").tBodies[0];
    const rows = Array.from(body.rows);
    const value = (row) => row.cells[column].dataset.value ?? row.cells[column].innerText.trim();
    const numeric = rows.every((row) => value(row) === "" || !isNaN(parseFloat(value(row))));
    const ascending = th.dataset.order !== "ascending";
    th.dataset.order = ascending ? "ascending" : "descending";
    rows.sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      const order = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach((row) => body.appendChild(row));
  });
});
</script>
"""


def _esc(text) -> str:
    return html.escape(str(text))


class Page:
    """index.html, its links relative to the folder it will live in."""

    def __init__(self, home: Path):
        self.home, self.parts = home, []

    def link(self, path: Path) -> str:
        return _esc(Path(os.path.relpath(path, self.home)).as_posix())

    def add(self, text: str) -> None:
        self.parts.append(text)

    def table(
        self,
        head: list[str],
        body: list[list[str]],
        classes: list[str] | None = None,
        sortable: bool = False,
        table_id: str = "",
        row_classes=None,
    ) -> None:
        """`body` cells are HTML already; `classes`: a class per column."""
        classes = classes or [""] * len(head)
        attrs = (f' id="{table_id}"' if table_id else "") + (
            ' class="sortable"' if sortable else ""
        )
        pairs = zip(head, classes, strict=True)
        cells = "".join(f'<th class="{c}">{_esc(h)}</th>' for h, c in pairs)
        rows = []
        for index, row in enumerate(body):
            css = f' class="{row_classes[index]}"' if row_classes and row_classes[index] else ""
            rows.append(
                f"<tr{css}>"
                + "".join(f'<td class="{c}">{v}</td>' for v, c in zip(row, classes, strict=True))
                + "</tr>"
            )
        self.add(
            f'<div class="scroll"><table{attrs}><thead><tr>{cells}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )

    def figures(self, paths: list[Path], captions: bool = True) -> None:
        if not paths:
            return
        self.add(
            '<div class="pictures">' + "".join(self.figure(p, captions) for p in paths) + "</div>"
        )

    def figure(self, path: Path, caption: bool = True) -> str:
        text = f"<figcaption>{_esc(path.name)}</figcaption>" if caption else ""
        return (
            f'<figure><img src="{self.link(path)}" alt="{_esc(path.name)}" '
            f'loading="lazy">{text}</figure>'
        )

    def write(self, path: Path, title: str) -> Path:
        page = (
            f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>{_esc(title)}</h1>\n" + "\n".join(self.parts) + SORTABLE + "</body></html>\n"
        )
        return write_text(path, page)


def _status_cell(r: dict) -> str:
    cell = f'<span class="{_esc(r["status"])}">{_esc(r["status"])}</span>'
    if r.get("reason"):
        cell += f'<div class="reason">{_esc(r["reason"])}</div>'
    return cell


def _metric_cell(value) -> str:
    number = rep.as_number(value)
    if value is None:
        return ""
    if number is None:
        return _esc(value)
    return f'<span data-value="{number!r}">{_esc(rep.number(number))}</span>'


def _run_links(page: Page, folder: Path) -> str:
    found = [(name, folder / rel) for name, rel in LINKS if (folder / rel).exists()]
    return (
        '<span class="links">'
        + "".join(f'<a href="{page.link(p)}">{_esc(name)}</a>' for name, p in found)
        + "</span>"
    )


def _pictures(folder: Path) -> list[Path]:
    return [folder / name for name in PICTURES if (folder / name).exists()] + sorted(
        p for p in folder.glob("*.png") if p.name not in PICTURES
    )


def _runs_section(page: Page, rows: list[dict], keys: list[str], metrics: list[str]) -> None:
    """A row per run, linking its config, log, summary, metrics and pictures."""
    head = ["job", "status", *keys, *metrics, "verdict", "files"]
    classes = ["name", "text", *["" for _ in keys], *["" for _ in metrics], "text", "text"]
    body = []
    for r in rows:
        name = _esc(r["job"])
        pictures = _pictures(r["folder"]) if r["status"] != "unreadable" else []
        job = f'<a href="#run-{name}">{name}</a>' if pictures else name
        body.append(
            [
                job,
                _status_cell(r),
                *[_esc(r["overrides"].get(k, "")) for k in keys],
                *[_metric_cell(r["metrics"].get(m)) for m in metrics],
                _esc(r.get("verdict", "")),
                _run_links(page, r["folder"]),
            ]
        )
    page.table(head, body, classes, sortable=True, table_id="runs")


def _run_sections(page: Page, rows: list[dict]) -> None:
    for r in rows:
        pictures = _pictures(r["folder"]) if r["status"] != "unreadable" else []
        if not pictures:
            continue
        overrides = " ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "(defaults)"
        page.add(
            f'<section id="run-{_esc(r["job"])}"><h3>{_esc(r["job"])} '
            f"<small>{_esc(overrides)}</small></h3>{_run_links(page, r['folder'])}"
        )
        page.figures(pictures)
        page.add("</section>")


def _answers_section(
    page: Page, findings: rep.Findings, heading: str = "What the sweep answers"
) -> None:
    if not findings.answers and not findings.against:
        return
    page.add(f"<h2>{heading}</h2>")
    if findings.answers:
        body = []
        for a in findings.answers:
            way = {"max": "highest", "min": "lowest"}.get(a.goal, "largest (no direction)")
            runner = a.runner_up
            body.append(
                [
                    _esc(a.metric),
                    _esc(way),
                    _esc(a.best.label),
                    _esc(a.best.aggregate(a.metric).text()),
                    _esc(runner.label if runner else ""),
                    _esc(runner.aggregate(a.metric).text() if runner else ""),
                    _esc(rep.p_text(a.p_value) if a.p_value is not None else ""),
                    _esc(f"{a.hedges_g:.2f}" if a.hedges_g is not None else ""),
                    _esc(a.words),
                ]
            )
        head = [
            "metric",
            "best is",
            "best",
            "mean ± sd",
            "runner-up",
            "mean ± sd",
            "Welch's t-test",
            "Hedges' g",
            "answer",
        ]
        page.table(head, body, ["name", "text", "text", "", "text", "", "", "", "text"])
    for metric, results in findings.against.items():
        control = findings.controls[metric]
        page.add(
            f"<p>Learning against the untrained network ({_esc(metric)} against "
            f"{_esc(control)}, measured in the same runs, paired by replicate):</p>"
        )
        body = [
            [_esc(r.condition.label), str(r.n), _esc(rep.number(r.mean_difference)), _esc(r.words)]
            for r in results
        ]
        page.table(
            ["condition", "n", "learned - untrained", "answer"], body, ["text", "", "", "text"]
        )
    page.add(
        f'<p class="note">Tests at the {rep.ALPHA:g} level, two-sided; one test per '
        "metric (best against runner-up), not corrected for the number of metrics.</p>"
    )


def _conditions_section(page: Page, findings: rep.Findings) -> None:
    page.add(
        f"<h2>Conditions <small>mean ± sd over the replicates "
        f"({_esc(', '.join(findings.replicate_keys) or 'repeats')}); hover for the 95 % "
        f"confidence interval</small></h2>"
    )
    best = next((a.best for a in findings.answers if a.metric == findings.primary), None)
    head = [*findings.condition_keys, "n", *findings.metrics, "verdict"]
    classes = [
        *["name" for _ in findings.condition_keys],
        "",
        *["" for _ in findings.metrics],
        "text",
    ]
    body, row_classes = [], []
    for g in findings.groups:
        cells = []
        for metric in findings.metrics:
            a = g.aggregate(metric)
            low, high = a.ci95
            tip = f"95 % CI [{rep.number(low)}, {rep.number(high)}]" if a.n > 1 else "n < 2"
            cells.append(
                f'<span data-value="{a.mean!r}" title="{_esc(tip)}">'
                f"{_esc(a.text(with_n=False))}</span>"
                if a.n
                else ""
            )
        body.append(
            [*[_esc(v) for _, v in g.values], str(len(g.runs)), *cells, _esc(findings.verdict(g))]
        )
        row_classes.append("best" if g is best else "")
    page.table(head, body, classes, sortable=True, table_id="conditions", row_classes=row_classes)


def write_sweep_page(
    path: Path,
    title: str,
    rows: list[dict],
    findings: rep.Findings,
    figures: list[Path],
    home: Path,
) -> Path:
    page = Page(home)
    keys = findings.condition_keys + findings.replicate_keys
    counts = {
        s: sum(r["status"] == s for r in rows) for s in dict.fromkeys(r["status"] for r in rows)
    }
    page.add(
        "<p>"
        + _esc(", ".join(f"{n} {s}" for s, n in counts.items()))
        + (
            f"; conditions: {_esc(', '.join(findings.condition_keys))}"
            if findings.condition_keys
            else ""
        )
        + (
            f"; replicates: {_esc(', '.join(findings.replicate_keys))}"
            if findings.replicate_keys
            else ""
        )
        + "</p>"
    )
    if findings.groups and (findings.condition_keys or findings.replicated):
        _answers_section(page, findings)
        _conditions_section(page, findings)
    if figures:
        page.add("<h2>Figures</h2>")
        page.figures(figures)
    page.add("<h2>Runs</h2>")
    _runs_section(page, rows, keys, findings.metrics)
    _run_sections(page, rows)
    return page.write(path, title)


def write_compare_page(path: Path, home: Path, rows, configs, differing, figures, findings) -> Path:
    page = Page(home)
    names = [r["job"] for r in rows]
    page.add(
        f"<h2>Settings that differ <small>{len(differing)} keys of the resolved "
        "configs</small></h2>"
    )
    if differing:
        body = [[_esc(k), *[_esc(c.get(k, "—")) for c in configs]] for k in differing]
        page.table(["key", *names], body, ["name", *["text" for _ in names]])
    else:
        page.add("<p>The runs' resolved configs are the same.</p>")
    page.add("<h2>Final metrics</h2>")
    body = [[_esc(m), *[_metric_cell(r["metrics"].get(m)) for r in rows]] for m in findings.metrics]
    body.append(["verdict", *[_esc(r.get("verdict", "")) for r in rows]])
    body.append(["files", *[_run_links(page, r["folder"]) for r in rows]])
    page.table(["metric", *names], body, ["name", *["" for _ in names]])
    if findings.replicated:  # runs that differ in a replicate key: what they conclude
        _answers_section(page, findings, "What their replicates answer")
        _conditions_section(page, findings)
    if figures:
        page.add("<h2>Curves they share</h2>")
        page.figures([home / p.name for p in figures])
    page.add('<h2>Pictures side by side</h2><div class="side">')
    for r in rows:
        page.add(f"<div><h3>{_esc(r['job'])}</h3>")
        page.figures(_pictures(r["folder"]))
        page.add("</div>")
    page.add("</div>")
    return page.write(path, f"plastic report: {len(rows)} runs compared")
