"""`flywheel eval artifacts MODEL...`: style artifacts across a chain of checkpoints (SFT -> DPO -> RL).

The report's third monitor asks which training stage shifted which feature: a DPO step that doubles emoji,
an RL step that lengthens every reply. Each checkpoint answers the same frozen evaluation prompts with the
same sampling (through `flywheel generate`, so the replies are in `attributes/candidates` too); the
registry in lakehouse/style_artifacts.py summarizes each one, and every consecutive pair is compared with the
same thresholds `flywheel eval` uses, so a flagged step here is the step `eval` would have flagged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from lakehouse import style_artifacts
from lakehouse.lake import Lake
from train import generate, models, release_rows


@dataclass(frozen=True)
class Step:
    """The artifact shifts from one checkpoint to the next."""

    old: str
    new: str
    shifts: list[style_artifacts.Shift]

    @property
    def flagged(self) -> list[style_artifacts.Shift]:
        return [s for s in self.shifts if s.flagged]


@dataclass(frozen=True)
class Trail:
    models: list[str]
    generations: list[str]
    summaries: list[dict[str, float]]
    steps: list[Step]
    report: Path


def _replies(lake: Lake, generation_id: str) -> list[tuple[str, str]]:
    prompts = generate.prompts_of(lake, generation_id)
    rows = generate.candidates(lake, generation_id).to_pylist()
    return [(prompts[r["sample_id"]].last_user_message, r["text"]) for r in rows if r["sample_id"] in prompts]


def run(
    lake: Lake,
    model_paths: list[str],
    prompts_ref: str,
    sampling: generate.SamplingSettings,
    out_dir: Path,
    *,
    split: str | None = None,
    limit: int | None = None,
    log=print,
) -> Trail:
    """Generate with every checkpoint (in the order given), summarize and compare consecutive ones."""
    if len(model_paths) < 2:
        raise release_rows.DataError("give at least two checkpoints, in training order (e.g. out/sft out/dpo out/grpo)")
    labels = [Path(models.model_ref(p).path).name for p in model_paths]  # a bad path fails before generating
    release = release_rows.open_release(lake, prompts_ref, "prompts")
    generations, rows = [], []
    for path, label in zip(model_paths, labels, strict=True):
        result = generate.run(lake, path, release.ref, sampling, split=split, limit=limit)
        log(f"{label}: {result.candidates} replies")
        generations.append(result.generation_id)
        rows.append(_replies(lake, result.generation_id))
    summaries = [style_artifacts.summarize(r) for r in rows]
    steps = [
        Step(labels[i], labels[i + 1], style_artifacts.compare(rows[i], rows[i + 1])) for i in range(len(labels) - 1)
    ]
    report = write_report(Path(out_dir), labels, release.ref, summaries, steps)
    return Trail(labels, generations, summaries, steps, report)


def write_report(out: Path, labels: list[str], prompts: str, summaries: list[dict], steps: list[Step]) -> Path:
    """report.md (a feature x checkpoint table, the flagged step per feature), artifacts.json, a chart."""
    out.mkdir(parents=True, exist_ok=True)
    _plot(out / "artifacts.png", labels, summaries)
    lines = [
        f"# Style artifacts across checkpoints ({prompts})",
        "",
        "| feature | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for name, feature in style_artifacts.FEATURES.items():
        lines.append(f"| {name} ({feature.description}) | " + " | ".join(f"{s[name]:.3f}" for s in summaries) + " |")
    lines += ["", "## Which step shifted which feature", ""]
    for step in steps:
        shifted = ", ".join(s.describe() for s in step.flagged) or "no feature past its threshold"
        lines.append(f"- {step.old} -> {step.new}: {shifted}")
    lines += ["", "![artifacts](artifacts.png)", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    payload = {
        "models": labels,
        "prompts": prompts,
        "summaries": summaries,
        "steps": [{"old": s.old, "new": s.new, "shifts": [asdict(x) for x in s.shifts]} for s in steps],
    }
    (out / "artifacts.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return out / "report.md"


def _plot(path: Path, labels: list[str], summaries: list[dict]) -> None:
    """One small panel per feature: its value at each checkpoint."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(style_artifacts.FEATURES)
    columns = 4
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 2.2 * rows), dpi=100, squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        ax.plot(range(len(labels)), [s[name] for s in summaries], marker="o", color="#2c7fb8")
        ax.set_title(name, fontsize=8)
        ax.set_xticks(range(len(labels)), labels, fontsize=6, rotation=20)
        ax.tick_params(axis="y", labelsize=6)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
