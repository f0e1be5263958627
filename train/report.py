"""The short Markdown report of an offline evaluation, with two plots, written next to the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from lakehouse.style_artifacts import FEATURES, Shift


def _plot_win_rates(path: Path, overall, by_source, max_win_rate: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [overall, *by_source]
    labels = [f"{w.source}\n(n={w.n})" for w in groups]
    rates = [w.win_rate for w in groups]
    errors = [[w.win_rate - w.ci[0] for w in groups], [w.ci[1] - w.win_rate for w in groups]]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=110)
    colors = ["#c0392b" if r > max_win_rate else "#2c7fb8" for r in rates]
    ax.bar(labels, rates, yerr=errors, capsize=6, color=colors)
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="parity (0.50)")
    ax.axhline(max_win_rate, color="#c0392b", linestyle="--", linewidth=1, label=f"guardrail ({max_win_rate:.2f})")
    ax.set_ylim(0, 1)
    ax.set_ylabel("reward win rate (new vs old)")
    ax.set_title("Win rate by traffic source, 95% CI")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_shifts(path: Path, shifts: list[Shift]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    names = [s.feature for s in shifts]
    ratios = [s.change / s.threshold if s.threshold else 0.0 for s in shifts]
    ax.barh(names, ratios, color=["#c0392b" if s.flagged else "#7f8c8d" for s in shifts])
    for x in (-1, 1):
        ax.axvline(x, color="#c0392b", linestyle="--", linewidth=1)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("change / threshold (beyond +-1 is flagged)")
    ax.set_title("Style artifact shifts, new vs old")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def write(out: Path, row: dict, overall, by_source, shifts: list[Shift], flags: list[tuple[str, str]]) -> Path:
    """Write `report.md`, `win_rate_by_source.png` and `artifact_shifts.png` into `out`; returns the report."""
    out.mkdir(parents=True, exist_ok=True)
    settings = json.loads(row["settings"])
    _plot_win_rates(out / "win_rate_by_source.png", overall, by_source, settings["max_win_rate"])
    _plot_shifts(out / "artifact_shifts.png", shifts)
    lines = [
        f"# Offline evaluation {row['eval_id']}",
        "",
        f"- new model: `{row['new_model']}` (run {row['new_model_run_id'] or 'n/a'})",
        f"- old model: `{row['old_model']}` (run {row['old_model_run_id'] or 'n/a'})",
        f"- reward model: `{row['reward_model']}` (run {row['reward_model_run_id'] or 'n/a'})",
        f"- prompts: `{row['prompts_release']}` (content hash `{row['prompts_content_hash'][:16]}`), "
        f"{row['n_prompts']} prompts",
        f"- sampling: max {settings['max_new_tokens']} new tokens, temperature {settings['temperature']}, "
        f"top-p {settings['top_p']}, seed {settings['seed']}",
        "",
        "## Reward win rate",
        "",
        "| traffic | prompts | wins | ties | losses | win rate | 95% CI |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for w in [overall, *by_source]:
        low, high = w.ci
        lines.append(
            f"| {w.source} | {w.n} | {w.wins} | {w.ties} | {w.losses} | {w.win_rate:.3f} | {low:.3f} - {high:.3f} |"
        )
    lines += [
        "",
        f"User - internal gap: {_fmt(row['source_gap'])}. A tie counts half a win.",
        "",
        "![win rate by source](win_rate_by_source.png)",
        "",
        "## Guardrails",
        "",
        f"Healthy: win rate 0.50 to {settings['max_win_rate']:.2f} (aim near 0.60), user-internal gap at most "
        f"{settings['max_source_gap']:.2f}, no style artifact past its threshold.",
        "",
    ]
    lines += [f"- **FLAG** `{code}`: {text}" for code, text in flags] or ["- no flags"]
    lines += [
        "",
        "## Style artifacts of the replies",
        "",
        "| feature | what | old | new | change | threshold | flag |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for s in shifts:
        what = FEATURES[s.feature].description + (" (change is relative)" if s.kind == "number" else "")
        lines.append(
            f"| {s.feature} | {what} | {s.old:.3f} | {s.new:.3f} | {s.change:+.3f} | {s.threshold:.2f} | "
            f"{'FLAG' if s.flagged else ''} |"
        )
    lines += ["", "![artifact shifts](artifact_shifts.png)", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
