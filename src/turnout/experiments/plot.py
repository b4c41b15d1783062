"""An experiment's results as a picture: the lift of every treatment on every metric with
its interval (a forest plot), as a PNG and an HTML page that embeds it with the table.

Green: better, red: worse (in the direction of the metric's goal), grey: not decided.
The interval is the one the experiment's method reports (the confidence sequence for
``sequential``, the t interval for ``frequentist``, the credible interval for
``bayesian``)."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

__all__ = ["render_html", "render_png", "write_report"]

COLORS = {"better": "#2f855a", "worse": "#c53030"}
GREY = "#718096"


def _rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in results["comparisons"] if r.get("result")]


def render_png(results: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _rows(results)
    height = 1.2 + 0.45 * max(1, len(rows))
    fig, ax = plt.subplots(figsize=(9, height))
    for y, row in enumerate(reversed(rows)):
        r = row["result"]
        lo, hi = _finite(r["ci_low"]), _finite(r["ci_high"])
        color = COLORS.get(row["verdict"], GREY)
        ax.plot([100 * lo, 100 * hi], [y, y], color=color, linewidth=3, solid_capstyle="butt")
        ax.plot([100 * r["lift"]], [y], "o", color=color, markersize=7)
    labels = [
        f"{r['metric']}{' (guardrail)' if r['guardrail'] else ''}: {r['variant']}"
        for r in reversed(rows)
    ]
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    ax.axvline(0, color="#2d3748", linewidth=1)
    ax.set_xlabel(f"lift vs {results['control']} (%)")
    level = round(100 * (1 - results["alpha"]))
    ax.set_title(
        f"experiment {results['key']}: {results['method']} {level}% intervals", fontsize=11
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _finite(v: float) -> float:
    return v if math.isfinite(v) else 0.0


def render_html(results: dict[str, Any], png: bytes) -> str:
    image = base64.b64encode(png).decode()
    e = html.escape
    lines = [
        "<!doctype html><meta charset='utf-8'>",
        f"<title>experiment {e(results['key'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:3px 10px;"
        "text-align:right}td:first-child,th:first-child{text-align:left}</style>",
        f"<h1>experiment {e(results['key'])}</h1>",
        f"<p><b>decision:</b> {e(str(results['decision'].get('winner') or 'none yet'))}: "
        f"{e(results['decision']['reason'])}</p>",
        f"<p>units: {e(', '.join(f'{v} {n}' for v, n in results['exposures'].items()))}; "
        f"SRM p = {results['srm']['p_value']:.3g}"
        f"{' (ALERT)' if results['srm']['alert'] else ''}</p>",
        f"<img src='data:image/png;base64,{image}' alt='lift with intervals'>",
        "<table><tr><th>metric</th><th>variant</th><th>control</th><th>treatment</th>"
        "<th>lift</th><th>interval</th><th>p (adj.)</th><th>verdict</th></tr>",
    ]
    for row in results["comparisons"]:
        r = row["result"]
        cells = [
            row["metric"] + (" (guardrail)" if row["guardrail"] else ""),
            row["variant"],
            f"{row['control']['mean']:.4g}",
            f"{row['treatment']['mean']:.4g}",
            f"{r['lift']:+.2%}" if r else "-",
            f"[{r['ci_low']:+.2%}, {r['ci_high']:+.2%}]" if r else "-",
            f"{row['p_adjusted']:.3g}" if row.get("p_adjusted") is not None else "-",
            row["verdict"],
        ]
        lines.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines) + "\n"


def write_report(results: dict[str, Any], folder: Path, stem: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    png = render_png(results)
    png_path, html_path = folder / f"{stem}.png", folder / f"{stem}.html"
    png_path.write_bytes(png)
    html_path.write_text(render_html(results, png))
    return png_path, html_path
