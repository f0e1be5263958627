"""Training and generation throughput on CPU with the tiny model (`--model tiny`).

SFT tokens/s (the trainer's own count of non-padding tokens over its own train runtime, so dataset
preparation and imports are left out) and generation tokens/s (new tokens over the time inside
`generate`), each against the naive way of using the same library, in the same run:
- SFT: TRL's SFTTrainer one conversation per step with torch's default threads (baseline); 16 per step;
  each of those single-threaded (16 per step, 1 thread is what `flywheel train` does for a model this
  small on CPU), so the effect of batching and of threads can be read apart.
- generation: one prompt at a time (baseline, K candidates per call); 16 prompts per call, length-sorted,
  left-padded; each single-threaded (batched, 1 thread is what `flywheel train generate` does).

Every contender runs in a fresh process. Run: `python -m benchmarks.bench_train` (BENCH_SCALE=0.25 for a
quick run).
"""

from __future__ import annotations

import os
import shutil
import time

from benchmarks.harness import CACHE_DIR, Measurement, measure, report, save_json, scale, table

N_CANDIDATES = 4
MAX_NEW_TOKENS = 48


def _threads(default_threads: bool) -> None:
    """Default threads: torch's own choice (one per core). Otherwise leave flywheel's choice in place."""
    if default_threads:
        os.environ["OMP_NUM_THREADS"] = str(os.cpu_count())


def run_sft(lake_root: str, out: str, batch_size: int, default_threads: bool) -> dict:
    _threads(default_threads)
    import datasets

    from lakehouse.lake import Lake
    from train import config, trainers

    datasets.disable_progress_bars()
    settings = config.load(
        "sft",
        None,
        {
            "per_device_train_batch_size": batch_size,
            "gradient_accumulation_steps": 1,
            "num_train_epochs": 1,
            "learning_rate": 1e-3,
            "logging_steps": 1000,
            "evaluate": False,
        },
    )
    shutil.rmtree(out, ignore_errors=True)
    lineage = trainers.train(
        "sft", Lake(lake_root), "bench-sft", "tiny", out, settings, run_id="bench", log=lambda *_: None
    )
    metrics = lineage["metrics"]
    return {
        "seconds": metrics["train_runtime"],
        "tokens": int(metrics["train_tokens"]),
        "steps": lineage["steps"],
        "threads": "torch default" if default_threads else "flywheel",
    }


def run_generation(lake_root: str, model: str, batch_size: int, default_threads: bool) -> dict:
    _threads(default_threads)
    from lakehouse.lake import Lake
    from lakehouse.releases import resolve
    from train import generate, models, release_rows

    prompts, _ = release_rows.prompts(resolve(Lake(lake_root), "bench-prompts"))
    policy, tokenizer, on = generate.load_policy(model)
    settings = generate.SamplingSettings(n=N_CANDIDATES, max_new_tokens=MAX_NEW_TOKENS, batch_size=batch_size)
    with models.cpu_threads(policy, on) as threads:
        began = time.perf_counter()
        replies = generate.generate_replies(policy, tokenizer, [p.messages for p in prompts], settings)
        seconds = time.perf_counter() - began
    tokens = sum(r.new_tokens for group in replies for r in group)
    return {"seconds": seconds, "tokens": tokens, "prompts": len(prompts), "torch_threads": threads}


def _by_tokens(m: Measurement) -> Measurement:
    """Rate over the contender's own timed section and token count (both reported from inside)."""
    extra = dict(m.extra)
    return Measurement(m.name, extra.pop("seconds"), m.peak_rss_mb, extra.pop("tokens"), "tokens", extra)


def _setup(rows: int, prompts: int) -> tuple[str, str]:
    """A lake with the benchmark releases and a briefly trained tiny policy to generate with."""
    from lakehouse.lake import Lake
    from train import config, synthetic, trainers

    root = CACHE_DIR / "train"
    shutil.rmtree(root, ignore_errors=True)
    lake = Lake(root / "lake")
    synthetic.write_release(lake, "bench-sft", "sft", rows, seed=11)
    synthetic.write_release(lake, "bench-prompts", "prompt", prompts, seed=12)
    policy = root / "policy"
    trainers.train(
        "sft",
        lake,
        "bench-sft",
        "tiny",
        policy,
        config.load("sft", None, {"max_steps": 60, "learning_rate": 3e-3, "evaluate": False, "logging_steps": 1000}),
        run_id="bench-policy",
        log=lambda *_: None,
    )
    return str(lake.root), str(policy)


def main() -> None:
    rows, prompts = scale(512), scale(128)
    started = time.perf_counter()
    lake, policy = _setup(rows, prompts)
    print(f"setup: {rows} sft rows, {prompts} prompts, tiny policy in {time.perf_counter() - started:.1f}s", flush=True)
    sft_out = str(CACHE_DIR / "train" / "sft-run")
    sft = [
        _by_tokens(measure(name, run_sft, lake, sft_out, batch, default, items=0, unit="tokens"))
        for name, batch, default in [
            ("SFTTrainer, 1 per step, torch threads (naive)", 1, True),
            ("SFTTrainer, 16 per step, torch threads", 16, True),
            ("SFTTrainer, 1 per step, 1 thread", 1, False),
            ("flywheel train sft: 16 per step, 1 thread", 16, False),
        ]
    ]
    gen = [
        _by_tokens(measure(name, run_generation, lake, policy, batch, default, items=0, unit="tokens"))
        for name, batch, default in [
            ("generate one prompt at a time, torch threads (naive)", 1, True),
            ("batched 16 prompts, torch threads", 16, True),
            ("one prompt at a time, 1 thread", 1, False),
            ("flywheel train generate: batched 16, 1 thread", 16, False),
        ]
    ]
    text = "\n\n".join(
        [
            f"Tiny Llama (`--model tiny`) on {os.cpu_count()} CPU cores; {rows} SFT conversations (1 epoch); "
            f"{prompts} prompts x {N_CANDIDATES} candidates, up to {MAX_NEW_TOKENS} new tokens.",
            table("SFT training throughput (non-padding tokens / train runtime)", sft[0], sft[1:]),
            table("Generation throughput (new tokens / time in generate)", gen[0], gen[1:]),
        ]
    )
    report("bench_train", text)
    save_json(
        "bench_train",
        {
            m.name: {
                "tokens_per_second": m.rate,
                "seconds": m.seconds,
                "tokens": m.items,
                "peak_rss_mb": m.peak_rss_mb,
                **m.extra,
            }
            for m in [*sft, *gen]
        },
    )


if __name__ == "__main__":
    main()
