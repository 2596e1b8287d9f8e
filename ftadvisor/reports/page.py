"""The report as one self-contained HTML page (plotly.js embedded, nothing fetched) and as Markdown.

Order: the decision and the numbers it rests on, the cost over time, data quality, training, base vs
fine-tuned with intervals and per-class F1, the judge and the regression suite when they ran, the answers
side by side. Every string from the ledger is escaped."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from ftadvisor.reports.charts import Figure, cost_chart, loss_chart, per_class_chart, quality_chart
from ftadvisor.reports.dataquality import DataQuality
from ftadvisor.reports.gather import ReportData
from ftadvisor.reports.headline import METRIC_NAMES, Headline

SHOWN_ANSWERS = 50
CSS = """
:root{--ink:#1d2433;--muted:#5b6475;--line:#d9dee7;--accent:#1f5fbf;--bad:#b3261e;--good:#1b7f3b}
*{box-sizing:border-box}body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);margin:0;
background:#f6f7f9}main{max-width:1100px;margin:0 auto;padding:12px}
header{background:#fff;border-bottom:1px solid var(--line);padding:14px 20px}header h1{font-size:21px;margin:0}
header p{margin:4px 0 0;color:var(--muted);font-size:13px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:14px 0}
section h2{font-size:17px;margin:0 0 8px}.choice{font-size:22px;font-weight:700;margin:0}
.choice span{color:var(--accent)}.source,.small{color:var(--muted);font-size:13px}
.evidence{font-weight:600;margin:8px 0;padding:8px 10px;border-left:4px solid var(--accent);background:#eef3fb}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:10px 0}
.kpi{border:1px solid var(--line);border-radius:6px;padding:6px 8px}.kpi b{display:block;font-size:18px}
.kpi span{font-size:12px;color:var(--muted)}ul{margin:4px 0 8px 18px;padding:0}
.tablewrap{overflow-x:auto}table{border-collapse:collapse;font-size:13px;margin:6px 0;width:100%}
td,th{border:1px solid var(--line);padding:4px 7px;text-align:left;vertical-align:top}th{background:#f1f3f6}
td.num{text-align:right;white-space:nowrap}td.answer{white-space:pre-wrap;min-width:14em}
.chart{width:100%;min-height:320px}.warn{color:var(--bad)}details summary{cursor:pointer;color:var(--accent)}
"""


def _money(x: float | None, places: int = 2) -> str:
    return "-" if x is None else f"${x:,.{places}f}"


def _num(x: Any, spec: str = ".3f") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return format(x, spec) if isinstance(x, float) else f"{x:,}" if isinstance(x, int) else str(x)


def _table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """An escaped table; ``numeric`` columns align right."""
    numeric = numeric or set()
    cells = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{escape(c)}</td>" if i in numeric else f"<td>{escape(c)}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return (
        "<div class='tablewrap'><table><tr>"
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + "</tr>"
        + cells
        + "</table></div>"
    )


def _kpi(value: str, label: str) -> str:
    return f"<div class='kpi'><b>{escape(value)}</b><span>{escape(label)}</span></div>"


class _Charts:
    """Chart placeholders and the script that draws them."""

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}

    def add(self, name: str, fig: Figure | None) -> str:
        if fig is None:
            return ""
        self.figures[name] = fig
        return f"<div class='chart' id='chart-{name}'></div>"

    def script(self) -> str:
        blob = json.dumps(self.figures).replace("</", "<\\/")
        return (
            f"<script>const FIGURES = {blob};\nfor (const [name, fig] of Object.entries(FIGURES)) "
            "Plotly.newPlot('chart-' + name, fig.data, fig.layout, {displaylogo: false, responsive: true});"
            "</script>"
        )


def _decision(h: Headline) -> str:
    be = h.breakeven
    days = "-" if be is None else "never" if be.break_even_days is None else f"{be.break_even_days:,.1f} days"
    left = "-" if be is None or be.lifetime_days is None else f"{be.lifetime_days:,.0f}"
    kpis = [
        _kpi(_money(h.setup_usd), "setup: training (+ data)"),
        _kpi(_money(h.base_per_request_usd, 6), f"per request, {h.sides[0]}"),
        _kpi(_money(h.tuned_per_request_usd, 6), f"per request, {h.sides[1]}"),
        _kpi(days, f"break-even at {h.requests_per_day:,.0f} requests/day"),
        _kpi(left, "days before the base model shuts down"),
        _kpi(_money(h.budget_usd) if h.budget_usd is not None else "none given", "setup budget"),
    ]
    parts = [
        f"<p class='choice'>Recommendation: <span>{escape(h.choice)}</span>"
        + (f" ({escape(h.model)})" if h.model else "")
        + "</p>",
        f"<p class='source'>From {escape(h.source)}; prices and dates as of {h.as_of.isoformat()}.</p>",
    ]
    if h.evidence:
        parts.append(f"<p class='evidence'>{escape(h.evidence[0].upper() + h.evidence[1:])}.</p>")
    parts.append("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in h.reasons) + "</ul>")
    parts.append("<div class='kpis'>" + "".join(kpis) + "</div>")
    if be is not None:
        parts.append(f"<p><b>Break-even:</b> {escape(be.verdict)}</p>")
    else:
        parts.append(
            "<p class='small'>No break-even: it needs the training job's cost and a price per answer for "
            "both models (self-hosted answers have none).</p>"
        )
    if h.risks or h.assumptions:
        parts.append(
            "<details><summary>Risks and assumptions</summary><ul>"
            + "".join(f"<li>{escape(r)}</li>" for r in [*h.risks, *h.assumptions])
            + "</ul></details>"
        )
    return "<section id='decision'><h2>The decision</h2>" + "".join(parts) + "</section>"


def _data_quality(items: list[DataQuality]) -> str:
    if not items:
        return ""
    rows = []
    for q in items:
        t = q.tokens_per_example
        balance = (
            "-"
            if q.labels is None
            else (
                ", ".join(f"{k} {v}" for k, v in sorted(q.labels.counts.items(), key=lambda kv: -kv[1]))
                + (" (imbalanced)" if q.labels.imbalanced else "")
            )
        )
        rows.append(
            [
                q.role,
                q.file.rsplit("/", 1)[-1],
                "valid" if q.valid else "INVALID",
                f"{q.n_examples:,}",
                f"{q.n_errors:,} / {q.n_warnings:,}",
                f"{q.duplicate_groups:,} ({q.removable_duplicates:,})",
                f"{q.inconsistent_groups:,}",
                balance,
                "-" if t is None else f"{t.p10:,.0f} / {t.median:,.0f} / {t.p90:,.0f} / {t.max:,.0f}",
            ]
        )
    return (
        "<section id='data'><h2>Data quality</h2>"
        + _table(
            [
                "data",
                "file",
                "format",
                "examples",
                "errors / warnings",
                "duplicate groups (removable)",
                "contradictions",
                "classes",
                "tokens p10 / median / p90 / max",
            ],
            rows,
            {3, 4, 5, 6},
        )
        + "<p class='small'>Same checks as <code>ftadvisor data validate</code>, <code>data dedup</code> and "
        "<code>data check</code>; contradictions are identical prompts with different answers.</p></section>"
    )


def _training(d: ReportData, charts: _Charts) -> str:
    job = d.job
    if job is None:
        return (
            "<section id='training'><h2>Training</h2><p class='small'>No training job in the ledger made "
            "these models (give --job).</p></section>"
        )
    rows = [
        [
            job["id"],
            job["backend"],
            job["model"],
            job["fine_tuned_model"] or "-",
            job["status"],
            _num(job["trained_tokens"]),
            _money(job["estimated_cost_usd"]),
            _money(job["actual_cost_usd"]),
        ]
    ]
    table = _table(
        ["job", "backend", "model", "fine-tuned model", "status", "trained tokens", "estimated", "actual"],
        rows,
        {5, 6, 7},
    )
    curve = charts.add("loss", loss_chart(d.losses)) if d.losses else "<p class='small'>No loss curve recorded.</p>"
    return f"<section id='training'><h2>Training</h2>{table}{curve}</section>"


def _quality(d: ReportData, h: Headline, charts: _Charts) -> str:
    run = d.run
    head = ["metric", *[m.model for m in run.models]]
    rows = []
    for name, label in METRIC_NAMES.items():
        values = [getattr(m, name) for m in run.models]
        if all(v is None for v in values):
            continue
        rows.append([label, *[_num(v) for v in values]])
    for label, key, spec in (
        ("latency, s", "latency_mean_s", ".2f"),
        ("prompt tokens", "prompt_tokens_mean", ",.0f"),
        ("completion tokens", "completion_tokens_mean", ",.0f"),
        ("USD per answer", "cost_per_request_usd", ".6f"),
    ):
        rows.append([label, *[_num(getattr(m, key), spec) for m in run.models]])
    rows.append(["examples (errors)", *[f"{m.n} ({m.n_errors})" for m in run.models]])
    parts = [_table(head, rows, set(range(1, len(head))))]
    if h.quality and h.tuned:
        ci_rows = [
            [
                METRIC_NAMES[c.metric],
                _num(c.a),
                _num(c.b),
                "-" if c.difference is None else f"{c.difference:+.3f}",
                "-" if c.ci is None else f"{c.ci.low:+.3f} to {c.ci.high:+.3f}",
                "-" if c.ci is None else ("yes" if c.ci.excludes_zero() else "no"),
            ]
            for c in h.quality
        ]
        parts.append(f"<h3>Difference with its 95% interval ({h.quality[0].n} examples, paired bootstrap)</h3>")
        parts.append(
            _table(["metric", h.base, h.tuned, "difference", "95% interval", "established"], ci_rows, {1, 2, 3, 4})
        )
        if h.quality[0].n < 50:
            parts.append(
                f"<p class='warn'>{h.quality[0].n} test examples make wide intervals: one example moves a "
                f"rate by {1 / h.quality[0].n:.0%}. Add held-out examples before trusting small "
                "differences.</p>"
            )
        parts.append(charts.add("quality", quality_chart(h.quality, METRIC_NAMES, h.tuned)))
    classes = sorted({c for m in run.models for c in m.per_class})
    if classes:
        parts.append("<h3>Per class</h3>")
        parts.append(
            _table(
                ["class", *[f"{m.model} F1" for m in run.models], "support"],
                [
                    [
                        c,
                        *[_num(m.per_class[c].f1) if c in m.per_class else "-" for m in run.models],
                        _num(next(m.per_class[c].support for m in run.models if c in m.per_class)),
                    ]
                    for c in classes
                ],
                set(range(1, len(run.models) + 2)),
            )
        )
        parts.append(charts.add("classes", per_class_chart(run)))
    return "<section id='quality'><h2>Base vs fine-tuned</h2>" + "".join(parts) + "</section>"


def _judge(d: ReportData) -> str:
    j = d.judge
    if j is None:
        return ""
    rows = [[m, _num(v, ".2f")] for m, v in j["mean_score"].items() if v is not None]
    parts = [_table(["model", f"mean rubric score (1-5), judge {j['judge']}"], rows, {1})] if rows else []
    pair = j.get("pairwise")
    if pair:
        parts.append(
            f"<p>{escape(pair['candidate'])} against {escape(pair['baseline'])}: win rate "
            f"<b>{pair['win_rate']:.0%}</b> ({pair['wins']} wins, {pair['ties']} ties, {pair['losses']} losses"
            f"; both orders agreed on {pair['consistency']:.0%})"
            + (f"; {pair['unparsed']} pairs with an unreadable verdict left out" if pair.get("unparsed") else "")
            + ".</p>"
        )
    return "<section id='judge'><h2>Judge</h2>" + "".join(parts) + "</section>"


def _regression(d: ReportData) -> str:
    if not d.regression:
        return ""
    rows = [
        [
            r["model"],
            _num(r["pass_rate"], ".0%"),
            _num(r["change_points"], "+.1f"),
            "FORGETTING" if r["flagged"] else "ok",
        ]
        for r in d.regression
    ]
    return (
        "<section id='regression'><h2>General-ability regression</h2>"
        + _table(["model", "pass rate", "change (points)", "flag"], rows, {1, 2})
        + "</section>"
    )


def _answers(d: ReportData) -> str:
    run = d.run
    models = [m.model for m in run.models]
    by_line: dict[int, dict[str, str]] = {}
    refs: dict[int, str] = {}
    for e in run.examples:
        by_line.setdefault(e.line, {})[e.model] = e.output
        refs[e.line] = e.reference
    lines = sorted(by_line)
    shown = lines[:SHOWN_ANSWERS]
    rows = "".join(
        "<tr><td class='num'>"
        + str(line)
        + "</td><td class='answer'>"
        + escape(refs[line])
        + "</td>"
        + "".join(f"<td class='answer'>{escape(by_line[line].get(m, ''))}</td>" for m in models)
        + "</tr>"
        for line in shown
    )
    note = f" (the first {len(shown)} of {len(lines)}; all are in examples.csv)" if len(lines) > len(shown) else ""
    return (
        "<section id='answers'><h2>Answers side by side" + escape(note) + "</h2><div class='tablewrap'><table>"
        "<tr><th>line</th><th>reference</th>"
        + "".join(f"<th>{escape(m)}</th>" for m in models)
        + "</tr>"
        + rows
        + "</table></div></section>"
    )


def render_html(d: ReportData, h: Headline, quality: list[DataQuality]) -> str:
    from plotly.offline import get_plotlyjs

    charts = _Charts()
    cost = ""
    if h.breakeven is not None and h.breakeven_input is not None and h.breakeven_input.requests_per_day:
        cost = (
            "<section id='cost'><h2>Cost over time</h2>"
            + charts.add("cost", cost_chart(h.breakeven_input, h.breakeven, h.sides))
            + "</section>"
        )
    body = [
        _decision(h),
        cost,
        _data_quality(quality),
        _training(d, charts),
        _quality(d, h, charts),
        _judge(d),
        _regression(d),
        _answers(d),
    ]
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width, initial-scale=1'><title>{escape(h.title)}</title><style>{CSS}</style>"
        f"</head><body><header><h1>{escape(h.title)}</h1><p>Evaluation {escape(d.run.id)} of "
        f"<code>{escape(d.run.data)}</code>; report written {h.as_of.isoformat()} by ftadvisor.</p></header><main>"
        + "".join(body)
        + f"</main><script>{get_plotlyjs()}</script>{charts.script()}</body></html>"
    )


def render_markdown(d: ReportData, h: Headline, quality: list[DataQuality]) -> str:
    be = h.breakeven
    out = [
        f"# {h.title}\n",
        f"**Recommendation: {h.choice}**"
        + (f" ({h.model})" if h.model else "")
        + f" (from {h.source}; as of {h.as_of.isoformat()})\n",
    ]
    if h.evidence:
        out.append(f"\n{h.evidence[0].upper() + h.evidence[1:]}.\n")
    out += ["\n" + "".join(f"- {r}\n" for r in h.reasons)]
    out.append(
        f"\nSetup {_money(h.setup_usd)}; per request {_money(h.base_per_request_usd, 6)} ({h.sides[0]}) vs "
        f"{_money(h.tuned_per_request_usd, 6)} ({h.sides[1]}); "
        + (f"break-even ({h.requests_per_day:,.0f} requests/day): {be.verdict}\n" if be else "no break-even\n")
    )
    if quality:
        out.append(
            "\n## Data quality\n\n| data | examples | valid | duplicate groups | contradictions |\n"
            "|---|---|---|---|---|\n"
        )
        out += [
            f"| {q.role} | {q.n_examples} | {q.valid} | {q.duplicate_groups} | {q.inconsistent_groups} |\n"
            for q in quality
        ]
    if h.quality:
        out.append(
            f"\n## Base vs fine-tuned ({h.quality[0].n} examples, 95% paired-bootstrap intervals)\n\n"
            f"| metric | {h.base} | {h.tuned} | difference | interval |\n|---|---|---|---|---|\n"
        )
        out += [
            f"| {METRIC_NAMES[c.metric]} | {_num(c.a)} | {_num(c.b)} | "
            f"{'-' if c.difference is None else format(c.difference, '+.3f')} | "
            f"{'-' if c.ci is None else f'{c.ci.low:+.3f} to {c.ci.high:+.3f}'} |\n"
            for c in h.quality
        ]
    if d.judge and d.judge.get("pairwise"):
        p = d.judge["pairwise"]
        out.append(
            f"\n## Judge\n\nWin rate {p['win_rate']:.0%} for {p['candidate']} ({p['wins']} wins, {p['ties']} "
            f"ties, {p['losses']} losses, {p.get('unparsed', 0)} unreadable)\n"
        )
    if d.regression:
        out.append(
            "\n## Regression\n\n"
            + "".join(
                f"- {r['model']}: pass rate {r['pass_rate']:.0%}{' FORGETTING' if r['flagged'] else ''}\n"
                for r in d.regression
            )
        )
    return "".join(out)
