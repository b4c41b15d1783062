"""Drawing a timeline: a PNG (matplotlib, no display needed) and an HTML page that
embeds it with the summary and the list of steps."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from turnout.report.timeline import Timeline

COLORS = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d69e2e", "#319795", "#e53e3e"]
MAX_LABELS = 14
MARKER_COLORS = {
    "switch": "#2f855a",
    "fail": "#c53030",
    "rollback": "#b7791f",
    "done": "#2d3748",
    "step": "#718096",
    "info": "#718096",
}


def render_png(timeline: Timeline) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rate, ax_fail, ax_p99) = plt.subplots(
        3, 1, figsize=(12, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1.3]}
    )
    xs = [b.start + b.seconds / 2 for b in timeline.buckets]
    widths = [b.seconds for b in timeline.buckets]
    releases = timeline.releases
    ys = [[b.ok.get(r, 0) / b.seconds for b in timeline.buckets] for r in releases]
    if xs and ys:
        ax_rate.stackplot(
            xs, ys, labels=releases, colors=COLORS[: len(releases)] or None, alpha=0.85
        )
        ax_rate.legend(loc="upper left", fontsize=9, title="served by", title_fontsize=9)
    ax_rate.set_ylabel("requests/s")
    where = "the router's counters" if timeline.source == "router" else "the load's clients"
    ax_rate.set_title(f"{timeline.title}  (from {where})", fontsize=11)
    fails = [b.failed / b.seconds for b in timeline.buckets]
    ax_fail.bar(xs, fails, width=widths, color="#c53030")
    ax_fail.set_ylabel("failed/s")
    ax_fail.set_ylim(bottom=0, top=max(1.0, max(fails, default=0) * 1.2))
    p99 = [b.p99_ms for b in timeline.buckets]
    ax_p99.plot(
        [x for x, v in zip(xs, p99, strict=True) if v is not None],
        [v for v in p99 if v is not None],
        color="#2d3748",
        marker=".",
    )
    ax_p99.set_ylabel("p99 ms")
    ax_p99.set_xlabel("seconds")
    ax_p99.set_ylim(bottom=0)
    top = ax_rate.get_ylim()[1]
    # Too many labels make none readable: beyond MAX_LABELS, only the outcomes and
    # failures are labelled; every marker still gets its line.
    crowded = len(timeline.markers) > MAX_LABELS
    labelled = 0
    for m in timeline.markers:
        color = MARKER_COLORS.get(m.kind, "#718096")
        for ax in (ax_rate, ax_fail, ax_p99):
            ax.axvline(m.at, color=color, linestyle="--", linewidth=0.8, alpha=0.6)
        if crowded and m.kind in ("step", "switch"):
            continue
        label = m.label if len(m.label) <= 40 else m.label[:37] + "..."
        ax_rate.text(
            m.at, top * (0.97 - 0.07 * (labelled % 6)), f" {label}", fontsize=7, color=color,
            va="top", ha="left",
        )  # fmt: skip
        labelled += 1
    for ax in (ax_rate, ax_fail, ax_p99):
        ax.grid(alpha=0.25)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return out.getvalue()


def render_html(timeline: Timeline, png: bytes) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in timeline.summary
    )
    steps = "".join(
        f'<tr class="{html.escape(m.kind)}"><td>{m.at:7.2f}s</td><td>{html.escape(m.kind)}</td>'
        f"<td>{html.escape(m.label)}</td></tr>"
        for m in timeline.markers
    )
    image = base64.b64encode(png).decode()
    title = html.escape(timeline.title)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1a202c; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ text-align: left; padding: .25rem .75rem; border-bottom: 1px solid #e2e8f0; }}
tr.fail td {{ color: #c53030; }} tr.rollback td {{ color: #b7791f; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>{title}</h1>
<table>{rows}</table>
<img alt="timeline: requests per second by release, failures and p99 latency"
     src="data:image/png;base64,{image}">
<h2>Steps</h2>
<table><tr><th>at</th><th>kind</th><th>what</th></tr>{steps}</table>
</body></html>
"""


def write_report(timeline: Timeline, directory: Path, stem: str) -> tuple[Path, Path]:
    """Write ``<stem>.png`` and ``<stem>.html`` into ``directory``; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    png = render_png(timeline)
    png_path = directory / f"{stem}.png"
    html_path = directory / f"{stem}.html"
    png_path.write_bytes(png)
    html_path.write_text(render_html(timeline, png), encoding="utf-8")
    return png_path, html_path
