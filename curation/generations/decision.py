"""The ship decision of a generation, computed from its A/B result, offline evals and style artifacts.

Blocking reasons (any one makes the decision `reject`):
- the A/B experiment failed its sample-ratio check (no lift of it can be read);
- a metric is significantly worse, or a guardrail metric (thumb-down, report, regenerate rate) rose;
- an offline eval raised a guardrail flag (reward win rate above 0.65: the RM is being gamed; a user vs
  internal win-rate gap above 0.15: the model learned what user traffic rewards, not what is good);
- a style artifact spiked in the generation's served replies against its parent's in the same experiment
  (emoji, floods, lists, length, stock openers, refusals, exclamations: the report's V11-V12 emoji spike).
Without a blocking reason: `ship` when an engagement metric (breadth, depth) went up (significantly, or
as a point estimate; the reason says which), `hold` when neither did or there is no A/B result.
"""

from __future__ import annotations

from lakehouse.style_artifacts import FEATURES

PRIMARY = ("breadth", "depth")
# Artifacts whose rise is a defect; a change in the other direction (fewer floods) never blocks.
BAD_WHEN_UP = (
    "emoji_count",
    "emoji_flood",
    "contains_list",
    "length_tokens",
    "wall_of_text",
    "stock_opening",
    "refusal",
    "exclamation_density",
)


def artifact_change(name: str, old: float, new: float) -> float:
    """The change `lakehouse.style_artifacts` thresholds: absolute for a rate, relative for a mean."""
    feature = FEATURES[name]
    if feature.kind == "bool":
        return new - old
    return (new - old) / max(abs(old), feature.floor)


def decide(
    ab: dict | None, evals: list[dict], artifacts: dict[str, float], parent: dict[str, float]
) -> tuple[str, list[str]]:
    """(decision, reasons): `ship`, `hold` or `reject`, with every reason that led there."""
    blocking, positive, notes = [], [], []
    if ab is None:
        notes.append("no A/B result linked")
    else:
        if ab.get("srm_failed"):
            blocking.append(f"A/B {ab['experiment_id']} failed the sample-ratio check (p = {ab['srm_p_value']:.2g})")
        for m in ab["metrics"]:
            text = (
                f"{m['metric']} {m['lift']:+.1%} [{m['ci_low']:+.1%}, {m['ci_high']:+.1%}]"
                if m["lift"] is not None
                else m["metric"]
            )
            if m["verdict"] in ("worse", "guardrail violated"):
                blocking.append(f"A/B: {text} is {m['verdict']}")
            elif m["metric"] in PRIMARY and m["verdict"] == "better":
                positive.append(f"A/B: {text}, significant")
            elif m["metric"] in PRIMARY and (m["lift"] or 0) > 0 and m["verdict"] == "inconclusive":
                positive.append(f"A/B: {text}, positive but not significant")
    for e in evals:
        for flag in e["flags"]:
            blocking.append(f"offline eval {e['eval_id']}: {flag}")
        if e.get("win_rate_user") is not None and e.get("win_rate_internal") is not None:
            notes.append(
                f"offline eval {e['eval_id']}: RM win rate user {e['win_rate_user']:.2f}, internal {e['win_rate_internal']:.2f}"
            )
    for name in BAD_WHEN_UP:
        if name in artifacts and name in parent:
            change = artifact_change(name, parent[name], artifacts[name])
            if change > FEATURES[name].threshold:
                blocking.append(
                    f"style artifact: {name} {parent[name]:.3f} -> {artifacts[name]:.3f} "
                    f"({change:+.3f} > {FEATURES[name].threshold:.2f})"
                )
    if blocking:
        return "reject", blocking + positive + notes
    if positive:
        return "ship", positive + notes
    return "hold", (notes or []) + ["no engagement metric went up"]
