"""`generation report`: a Markdown page across generations with four charts: A/B lifts with their 95%
intervals, RM win rates (user vs internal traffic), style-artifact rates (emoji, lists, length) and the
refusal rate, and a table of decisions with their reasons."""

from __future__ import annotations

from pathlib import Path

ARTIFACT_CHART = (
    ("emoji_count", "emoji per reply"),
    ("contains_list", "replies with a list"),
    ("emoji_flood", "emoji floods"),
)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _lifts(rows: list[dict], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.4), dpi=110)
    for offset, metric in ((-0.12, "breadth"), (0.12, "depth")):
        xs, ys, lo, hi = [], [], [], []
        for i, row in enumerate(rows):
            m = next((m for m in row["ab_metrics"] if m["metric"] == metric and m["lift"] is not None), None)
            if m is None:
                continue
            xs.append(i + offset)
            ys.append(m["lift"])
            lo.append(m["lift"] - (m["ci_low"] if m["ci_low"] is not None else m["lift"]))
            hi.append((m["ci_high"] if m["ci_high"] is not None else m["lift"]) - m["lift"])
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=4, label=metric)
    ax.axhline(0, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(rows)), [f"{r['name']}\n({r['decision']})" for r in rows])
    ax.set_ylabel("A/B lift vs parent (95% CI)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _win_rates(rows: list[dict], path: Path) -> bool:
    points = [(i, e) for i, r in enumerate(rows) for e in r["evals"][-1:]]
    if not points:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=110)
    for key, label in (("win_rate_user", "user traffic"), ("win_rate_internal", "internal")):
        pts = [(i, e[key]) for i, e in points if e.get(key) is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    ax.axhline(0.65, color="#c0392b", linestyle="--", linewidth=1, label="max win rate 0.65")
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(rows)), [r["name"] for r in rows])
    ax.set_ylim(0, 1)
    ax.set_ylabel("RM win rate vs parent")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _artifacts(rows: list[dict], path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(9, 3), dpi=110)
    names = [r["name"] for r in rows]
    for ax, (key, label) in zip(axes[:2], ARTIFACT_CHART[:2], strict=True):
        ax.plot(names, [r["artifacts"].get(key) for r in rows], marker="o")
        ax.set_title(label, fontsize=9)
    axes[2].plot(names, [r["artifacts"].get("length_tokens") for r in rows], marker="o", label="words per reply")
    axes[2].set_title("length (tokens) and refusals", fontsize=9)
    twin = axes[2].twinx()
    twin.plot(names, [r["artifacts"].get("refusal") for r in rows], marker="s", color="#c0392b", label="refusal rate")
    twin.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.1%}" if pct else f"{value:.3f}"


def markdown(rows: list[dict], charts: dict[str, str]) -> str:
    lines = [
        "# Flywheel generations",
        "",
        "| generation | parent | experiment | breadth | depth | RM win user / internal | emoji/reply | lists | refusals | decision |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        metric = {m["metric"]: m for m in r["ab_metrics"]}

        def cell(name: str, metric=metric) -> str:
            m = metric.get(name)
            if not m or m["lift"] is None:
                return "n/a"
            return f"{m['lift']:+.1%} [{m['ci_low']:+.1%}, {m['ci_high']:+.1%}]"

        e = r["evals"][-1] if r["evals"] else {}
        win = f"{_fmt(e.get('win_rate_user'))} / {_fmt(e.get('win_rate_internal'))}" if e else "n/a"
        a = r["artifacts"]
        lines.append(
            f"| {r['name']} | {r['parent'] or ''} | {r['experiment_id'] or ''} | {cell('breadth')} | {cell('depth')} | {win} "
            f"| {_fmt(a.get('emoji_count'))} | {_fmt(a.get('contains_list'))} | {_fmt(a.get('refusal'))} | **{r['decision']}** |"
        )
    lines.append("")
    for r in rows:
        lines += [f"## {r['name']}: {r['decision']}", ""] + [f"- {reason}" for reason in r["reasons"]] + [""]
    for title, file in charts.items():
        lines += [f"## {title}", "", f"![{title}]({file})", ""]
    return "\n".join(lines)


def write(rows: list[dict], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    charts = {}
    if rows:
        _lifts(rows, out / "ab_lifts.png")
        charts["A/B lifts"] = "ab_lifts.png"
        if _win_rates(rows, out / "win_rates.png"):
            charts["RM win rates, user vs internal"] = "win_rates.png"
        _artifacts(rows, out / "artifacts.png")
        charts["Style artifacts"] = "artifacts.png"
    path = out / "generations.md"
    path.write_text(markdown(rows, charts) + "\n")
    return path
