"""`flywheel eval side-by-side`: a blind human comparison of an old and a new model on frozen eval prompts.

Building the queue: each model answers every prompt of the release once, with the sampling settings of
`flywheel eval model` (configs/train/eval.yaml: same temperature, top-p, seed and token budget), through
`train generate`'s code path (a local checkpoint, or a served model of a `--pool`). Each prompt becomes a
`pairwise` item of the label store:
- blinded: the candidates carry only their text; which is old and which is new sits in the item's hidden
  metadata (`meta.side_by_side.order`, candidate index -> role) and the model ids in the queue's spec,
  neither of which the labeling page shows; the default queue name is a digest, not the model names;
- side-shuffled twice: the candidate order is a coin flip per prompt, seeded by (seed, sample_id), so the
  same inputs give the same items; the store then flips A/B per annotator as for every pairwise queue;
- with the traffic source of the prompt kept per item (`meta.source`), for the by-source report.
Identical replies are not queued (there is nothing to judge): they are ties by construction, recorded in
the spec and counted half a win, as `eval model` counts identical rewards. A prompt a served model did not
answer is left out with its reason, printed and recorded, never silently.

The report unblinds the labels. The unit is the prompt: an item's score is the mean over its annotators'
labels (new preferred 1, tie 0.5, old preferred 0), so two annotators on one prompt do not count as two
independent observations. The win rate is the mean item score, and its 95% interval is Wilson's score
interval on (sum of item scores, items) -- the interval `eval model` puts on the reward win rate, so the
two columns of the table are comparable. Wilson stays inside [0, 1] and behaves at small n, and it is
conservative for averaged scores: any score in [0, 1] with mean p has variance at most p(1 - p), the
variance Wilson assumes, and ties or split votes only lower it. (A bootstrap over prompts would be
tighter at large n but is random; this interval is exact arithmetic a reader can check.)
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lakehouse.errors import UserError
from lakehouse.lake import Lake
from lakehouse.serving import ModelPool, PoolModel
from train import evaluate, generate, release_rows
from train.config import EvalSettings

SPEC_KEY = "side_by_side"
ROLES = ("old", "new")
SCORES = {"new": 1.0, "tie": 0.5, "old": 0.0}


class SideBySideError(UserError):
    """A side-by-side queue cannot be built or reported; the message says why."""


@dataclass(frozen=True)
class Contender:
    """One side of the comparison: a local checkpoint (`served` None) or a served pool model."""

    role: str
    given: str
    served: PoolModel | None


def contender(role: str, given: str, pool: ModelPool | None) -> Contender:
    """`given` is a pool model's name when the pool has it, else a local model directory."""
    from train import models

    if pool is not None and given in {m.name for m in pool.models}:
        return Contender(role, given, pool.get(given))
    try:
        models.model_dir(given)
    except UserError as exc:
        where = f"no model {given!r} in the pool, and " if pool is not None else ""
        raise SideBySideError(f"--{role}: {where}{exc}") from None
    return Contender(role, given, None)


def candidate_order(seed: int, sample_id: str) -> list[str]:
    """Which role each candidate index holds: a coin flip per prompt, the same for the same seed."""
    flip = hashlib.sha256(f"side-by-side:{seed}:{sample_id}".encode()).digest()[0] & 1
    return ["new", "old"] if flip else ["old", "new"]


def _character(messages: list[dict]) -> dict:
    """What the page's character card shows: the prompt's system message (the card), nothing about models."""
    system = [m["content"] for m in messages if m["role"] == "system"]
    return {
        "id": None,
        "name": None,
        "description": None,
        "instructions": None,
        "system_prompt": system[0] if system else None,
    }


def payload(prompt: release_rows.Prompt, replies: dict[str, str], seed: int) -> dict:
    """The blinded pairwise item of one prompt: candidate texts only; roles in hidden metadata."""
    order = candidate_order(seed, prompt.sample_id)
    return {
        "prompt": [{"role": m["role"], "content": m["content"]} for m in prompt.messages],
        "character": _character(prompt.messages),
        "candidates": [
            {"sample_id": None, "text": replies[role], "model_version": None, "origin": None} for role in order
        ],
        "meta": {
            "conversation_id": prompt.provenance.get("conversation_id"),
            "turn": prompt.provenance.get("turn"),
            "source": prompt.source,
            SPEC_KEY: {"sample_id": prompt.sample_id, "order": order},
        },
    }


@dataclass
class Items:
    items: list[tuple[str, dict]] = field(default_factory=list)
    identical: list[dict] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def build_items(prompts: list[release_rows.Prompt], replies: dict[str, dict[str, str]], seed: int) -> Items:
    """Items of every prompt both models answered; identical replies set aside as ties, missing ones counted."""
    out = Items()
    for prompt in prompts:
        missing = [role for role in ROLES if prompt.sample_id not in replies[role]]
        if missing:
            out.skipped[f"no_reply:{'+'.join(missing)}"] += 1
            continue
        texts = {role: replies[role][prompt.sample_id] for role in ROLES}
        if texts["old"].strip() == texts["new"].strip():
            out.identical.append({"sample_id": prompt.sample_id, "source": prompt.source})
            continue
        out.items.append((f"sbs:{prompt.sample_id}", payload(prompt, texts, seed)))
    return out


def default_queue_name(recipe: dict) -> str:
    """A name that says nothing about the models (annotators see the queue name)."""
    return "side-by-side-" + hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]


@dataclass
class Created:
    queue: str
    items: int
    identical: int
    skipped: dict
    generations: dict[str, str]
    models: dict[str, str]


def _generate(lake: Lake, side: Contender, release_ref: str, settings: EvalSettings, limit: int | None, log):
    sampling = generate.SamplingSettings.one_reply(settings)
    result = generate.run(
        lake, side.given, release_ref, sampling, split=settings.split, limit=limit, served=side.served
    )
    log(f"{side.role} model: {result.candidates} replies of {result.prompts} prompts ({result.generation_id})")
    rows = generate.candidates(lake, result.generation_id).to_pylist()
    return result.generation_id, {r["sample_id"]: r["text"] for r in rows}


def create(
    lake: Lake,
    lake_root: Path,
    old: str,
    new: str,
    prompts_ref: str,
    settings: EvalSettings,
    *,
    pool: ModelPool | None = None,
    queue: str | None = None,
    per_item: int = 2,
    limit: int | None = None,
    log=print,
) -> Created:
    """Generate both models' replies and put the blinded items into a new pairwise queue."""
    from labeling_app.config import load_config, queue_spec
    from labeling_app.store import Store

    release = release_rows.open_release(lake, prompts_ref, "prompts")
    sides = {"old": contender("old", old, pool), "new": contender("new", new, pool)}
    recipe = {
        "old": old,
        "new": new,
        "prompts": release.ref,
        "settings": settings.model_dump(mode="json"),
        "limit": limit,
    }
    name = queue or default_queue_name(recipe)
    with Store.for_lake(lake_root) as store:  # refuse a taken name before generating anything
        if name in {q.name for q in store.queues()}:
            raise SideBySideError(f"a queue named {name!r} already exists; pick another --queue")
    prompts, _ = release_rows.prompts(release, settings.split, limit)
    generations, replies = {}, {}
    for role in ROLES:
        generations[role], replies[role] = _generate(lake, sides[role], release.ref, settings, limit, log)
    built = build_items(prompts, replies, settings.seed)
    if not built.items and not built.identical:
        raise SideBySideError(f"no prompt of {release.ref} was answered by both models ({dict(built.skipped)})")
    models = {role: generate.generation(lake, generations[role])["model"] for role in ROLES}
    spec = queue_spec(load_config(), "pairwise")
    spec[SPEC_KEY] = {
        "models": models,
        "given": {"old": old, "new": new},
        "prompts_release": release.ref,
        "prompts_content_hash": release.manifest["content_hash"],
        "generations": generations,
        "seed": settings.seed,
        "settings": settings.model_dump(mode="json"),
        "limit": limit,
        "identical": built.identical,
        "skipped": dict(built.skipped),
    }
    with Store.for_lake(lake_root) as store:
        created = store.create_queue(name, "pairwise", per_item, f"side-by-side of {release.ref}", spec, "eval")
        if built.items:
            store.add_tasks(created.queue_id, built.items)
    return Created(name, len(built.items), len(built.identical), dict(built.skipped), generations, models)


# -- the report -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HumanRate:
    """The human win rate of new over old on one traffic source; `score` is the sum of item scores."""

    source: str
    items: int
    labels: int
    new: int
    ties: int
    old: int
    identical: int
    score: float

    @property
    def win_rate(self) -> float | None:
        return self.score / self.items if self.items else None

    @property
    def ci(self) -> tuple[float, float] | None:
        return evaluate.wilson(self.score, self.items) if self.items else None

    def row(self) -> dict:
        low, high = self.ci or (None, None)
        return {**asdict(self), "win_rate": self.win_rate, "ci_low": low, "ci_high": high}


def label_role(value: dict, order: list[str]) -> str:
    """Unblind one pairwise label: `preferred` is a candidate index (the store undid the A/B sides)."""
    return "tie" if value.get("tie") else order[value["preferred"]]


def item_outcomes(store, queue) -> tuple[list[tuple[str, list[str]]], int, set[str]]:
    """(source, unblinded votes) of every labeled item, how many items have no label yet, and the sources
    of all items. Annotators' own labels only: an adjudication is a reviewer's decision, not another
    annotator's judgement."""
    by_task: dict[int, list[dict]] = {}
    for label in store.labels(queue.queue_id):
        if not label["is_adjudication"]:
            by_task.setdefault(label["task_id"], []).append(label)
    outcomes, unlabeled, sources = [], 0, set()
    for task in store.tasks(queue.queue_id):
        labels = by_task.get(task.task_id, [])
        sources.add(task.payload["meta"].get("source") or "unknown")
        if not labels:
            unlabeled += 1
            continue
        meta = task.payload["meta"]
        outcomes.append(
            (meta.get("source") or "unknown", [label_role(lb["value"], meta[SPEC_KEY]["order"]) for lb in labels])
        )
    return outcomes, unlabeled, sources


def _ordered_sources(sources: set[str]) -> list[str]:
    known = evaluate.SOURCES
    return sorted(sources, key=lambda s: (known.index(s) if s in known else len(known), s))


def human_rates(
    outcomes: list[tuple[str, list[str]]], identical: list[dict], sources: Iterable[str] = ()
) -> list[HumanRate]:
    """Overall ("all") and per-source human win rates (a row for each of `sources` too, labeled or not);
    identical replies are tie items without labels."""
    rows = [(source, votes) for source, votes in outcomes]
    rows += [(i.get("source") or "unknown", []) for i in identical]

    def rate(source: str, chosen: list[tuple[str, list[str]]]) -> HumanRate:
        votes = Counter(v for _, vs in chosen for v in vs)
        score = sum(sum(SCORES[v] for v in vs) / len(vs) if vs else 0.5 for _, vs in chosen)
        identical_n = sum(1 for _, vs in chosen if not vs)
        return HumanRate(
            source, len(chosen), sum(votes.values()), votes["new"], votes["tie"], votes["old"], identical_n, score
        )

    ordered = _ordered_sources({s for s, _ in rows} | set(sources))
    return [rate("all", rows)] + [rate(s, [r for r in rows if r[0] == s]) for s in ordered]


@dataclass
class RMColumn:
    """Reward win rates of the same comparison, and where they came from."""

    origin: str
    rates: dict[str, evaluate.WinRate]


def rm_from_model(lake: Lake, info: dict, reward_model: str, log=print) -> RMColumn:
    """Score both generations of the queue with `reward_model` (cached in the lake) and compare, as
    `eval model` does."""
    from train import score

    scores = {role: score.score_generation(lake, info["generations"][role], reward_model).table for role in ROLES}
    prompts = generate.prompts_of(lake, info["generations"]["new"])
    overall, by_source = evaluate.win_rates(evaluate._outcomes(scores["new"], scores["old"], prompts))
    log(f"reward model {reward_model}: scored {overall.n} prompts")
    return RMColumn(f"reward model {reward_model}", {w.source: w for w in [overall, *by_source]})


SAMPLING = ("max_new_tokens", "temperature", "top_p", "seed", "batch_size", "split")


def _same_sampling(evaluated: dict, ours: dict) -> bool:
    """An eval's replies are this queue's only when they were sampled alike (batching seeds generation)."""
    return all(evaluated.get(k) == ours.get(k) for k in SAMPLING)


def rm_from_evals(lake: Lake, info: dict, prompts: int) -> RMColumn | None:
    """The latest `flywheel eval model` of the same two models on the same prompts with the same sampling
    settings (so the same replies), if there is one."""
    import pyarrow.compute as pc

    from lakehouse import tables

    if not lake.files(tables.EVALS):
        return None
    rows = lake.read(
        tables.EVALS,
        filter=(pc.field("new_model") == info["models"]["new"])
        & (pc.field("old_model") == info["models"]["old"])
        & (pc.field("prompts_content_hash") == info["prompts_content_hash"])
        & (pc.field("n_prompts") == prompts),
    ).to_pylist()
    rows = [r for r in rows if _same_sampling(json.loads(r["settings"]), info["settings"])]
    if not rows:
        return None
    row = max(rows, key=lambda r: (r["created_at"], r["eval_id"]))
    by_source = [evaluate.WinRate(b["source"], b["n"], b["wins"], b["ties"], b["losses"]) for b in row["by_source"]]
    overall = evaluate.WinRate(
        "all",
        sum(w.n for w in by_source),
        sum(w.wins for w in by_source),
        sum(w.ties for w in by_source),
        sum(w.losses for w in by_source),
    )
    return RMColumn(
        f"eval {row['eval_id']} (reward model {row['reward_model']})", {w.source: w for w in [overall, *by_source]}
    )


@dataclass
class Report:
    queue: str
    info: dict
    unlabeled: int
    human: list[HumanRate]
    rm: RMColumn | None

    def rows(self) -> list[dict]:
        out = []
        for h in self.human:
            r = self.rm.rates.get(h.source) if self.rm else None
            rm = r.row() if r else {}
            out.append(
                {
                    **h.row(),
                    "rm_n": rm.get("n"),
                    "rm_win_rate": rm.get("win_rate"),
                    "rm_ci_low": rm.get("ci_low"),
                    "rm_ci_high": rm.get("ci_high"),
                }
            )
        return out

    def flags(self) -> list[tuple[str, str]]:
        """(code, explanation) where the reward model's win rate falls outside the human 95% interval: the
        reward model and the people disagree about this comparison (above: the policy may be exploiting it)."""
        out = []
        for r in self.rows():
            if r["items"] and r["rm_win_rate"] is not None and not r["ci_low"] <= r["rm_win_rate"] <= r["ci_high"]:
                side = "above" if r["rm_win_rate"] > r["ci_high"] else "below"
                out.append(
                    (
                        f"rm_{side}_human:{r['source']}",
                        f"{r['source']}: RM win rate {r['rm_win_rate']:.3f} is {side} the human 95% CI "
                        f"{r['ci_low']:.3f} - {r['ci_high']:.3f}",
                    )
                )
        return out

    def as_json(self) -> dict:
        return {
            "flags": [code for code, _ in self.flags()],
            "queue": self.queue,
            "models": self.info["models"],
            "prompts_release": self.info["prompts_release"],
            "interval": "wilson-95",
            "unlabeled_items": self.unlabeled,
            "rm_origin": self.rm.origin if self.rm else None,
            "rows": self.rows(),
        }


def report(lake: Lake, lake_root: Path, queue_name: str, *, reward_model: str | None = None, log=print) -> Report:
    """Unblind the queue's labels and put the human win rate next to the reward model's."""
    from labeling_app.store import Store

    with Store.for_lake(lake_root, read_only=True) as store:
        queue = store.queue(queue_name)
        info = queue.spec.get(SPEC_KEY)
        if info is None:
            raise SideBySideError(f"queue {queue_name!r} is not a side-by-side queue (make one with --old/--new)")
        outcomes, unlabeled, sources = item_outcomes(store, queue)
        prompts = queue.n_tasks + len(info["identical"])
    human = human_rates(outcomes, info["identical"], sources)
    rm = rm_from_model(lake, info, reward_model, log) if reward_model else rm_from_evals(lake, info, prompts)
    return Report(queue_name, info, unlabeled, human, rm)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _interval(low: float | None, high: float | None) -> str:
    return "n/a" if low is None or high is None else f"{low:.3f} - {high:.3f}"


TABLE_HEADER = (
    "traffic",
    "items",
    "labels",
    "new/tie/old",
    "human win rate",
    "95% CI",
    "RM prompts",
    "RM win rate",
    "RM 95% CI",
)


def table_rows(result: Report) -> list[tuple[str, ...]]:
    return [
        (
            r["source"],
            str(r["items"]),
            str(r["labels"]),
            f"{r['new']}/{r['ties']}/{r['old']}",
            _pct(r["win_rate"]),
            _interval(r["ci_low"], r["ci_high"]),
            "n/a" if r["rm_n"] is None else str(r["rm_n"]),
            _pct(r["rm_win_rate"]),
            _interval(r["rm_ci_low"], r["rm_ci_high"]),
        )
        for r in result.rows()
    ]


def text_table(result: Report) -> str:
    rows = [TABLE_HEADER, *table_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(TABLE_HEADER))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def markdown(result: Report) -> str:
    info = result.info
    lines = [
        f"# Side-by-side {result.queue}",
        "",
        f"- old model: `{info['models']['old']}`",
        f"- new model: `{info['models']['new']}`",
        f"- prompts: `{info['prompts_release']}` (content hash `{info['prompts_content_hash'][:16]}`)",
        f"- reward model column: {result.rm.origin if result.rm else 'none (give --rm PATH, or run `flywheel eval model` on the same prompts)'}",
        f"- items without a label yet: {result.unlabeled}; identical replies (ties, not queued): {len(info['identical'])}"
        + (f"; left out: {info['skipped']}" if info["skipped"] else ""),
        "",
        "| " + " | ".join(TABLE_HEADER) + " |",
        "|---|" + "---:|" * 3 + "---:|---|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(result)]
    lines += ["", *([f"- **FLAG** `{code}`: {text}" for code, text in result.flags()] or ["- no flags"])]
    lines += [
        "",
        "Human win rate: the mean over labeled prompts of the share of annotators preferring the new model's "
        "reply (a tie counts half); 95% CI: Wilson's score interval with the prompt as the unit, as the reward "
        "column's. Sides were blinded and shuffled per prompt and per annotator.",
        "",
    ]
    return "\n".join(lines)


def write(result: Report, out: Path) -> Path:
    """`report.md` and `report.json` in `out`; returns the Markdown file."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(result.as_json(), indent=2, sort_keys=True) + "\n")
    path = out / "report.md"
    path.write_text(markdown(result))
    return path
