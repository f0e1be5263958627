"""Where the heavy per-record work of a stage runs: in this process (`local`) or on a Ray cluster (`ray`).

A recipe says `executor: {type: local}` (the default: today's behaviour and speed) or
`executor: {type: ray, address: auto}` (`auto`: the cluster this machine belongs to; `ray://HOST:10001`: a
remote one through Ray Client; omitted: a local Ray started here). The stage code is the same on both:
a stage hands the executor a stream of Arrow tables and a *factory*, a picklable callable that builds the
batch function (loading its model once), and gets the results back in input order.

- `local`: the factory is called once here and the tables go through its function one by one;
- `ray`: the tables become a Ray Data dataset and run through `map_batches` on an actor pool, so each actor
  builds the function (loads presidio and spaCy, MiniLM, a classifier) once and keeps it; GPU actors when
  the stage asks for one and the cluster has GPUs. Ray retries a batch whose worker died (its actor is
  restarted), and because the functions are deterministic the result is the same. The driver keeps
  reading the lake and commits every Delta transaction: workers never write the lake.

`map_tasks` is the same for plain functions over Python values (dedup's MinHash signatures and bands), and
`shuffle` a hash-partitioned shuffle (dedup's band buckets: curation/dedup/shuffle.py).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from lakehouse.config import StrictModel

KILL_ENV = "FLYWHEEL_RAY_KILL_ONCE"  # tests: a worker SIGKILLs itself on its first batch once (marker file)


class ExecutorConfig(StrictModel):
    """The recipe's `executor:` section."""

    type: Literal["local", "ray"] = Field("local", description="local: this process; ray: a Ray cluster.")
    address: str | None = Field(
        None, description="Ray cluster: `auto`, `ray://HOST:10001`, or omitted for a local Ray started here."
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray started here (default: all).")
    actors: int | None = Field(None, ge=1, description="Actors per heavy stage (default: the cluster's CPUs).")
    gpus_per_actor: float = Field(
        1.0, ge=0, le=8, description="GPUs per actor of a stage that can use one, when the cluster has GPUs."
    )


class _Apply:
    """A Ray Data actor: builds the batch function once, applies it to every batch it gets."""

    def __init__(self, factory: Callable):
        self.fn = factory()

    def __call__(self, table: pa.Table) -> pa.Table:
        _maybe_die()
        return self.fn(table)


def _maybe_die() -> None:
    """The fault test's kill switch: with FLYWHEEL_RAY_KILL_ONCE=<marker path>, the first worker to get here
    creates the marker and SIGKILLs itself mid-stage; Ray must retry its batch elsewhere. Unset: one lookup."""
    marker = os.environ.get(KILL_ENV)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


class Executor:
    """The local executor; `RayExecutor` overrides where the batches run."""

    kind = "local"

    def __init__(self, config: ExecutorConfig | None = None):
        self.config = config or ExecutorConfig()

    def map_batches(self, tables: Iterable[pa.Table], factory: Callable, *, gpu: bool = False) -> Iterator[pa.Table]:
        """`factory()(table)` for every table, results in input order; the factory is called once."""
        fn = None
        for table in tables:
            fn = fn or factory()
            yield fn(table)

    def map_tasks(self, fn: Callable, items: Iterable, *args) -> Iterator:
        """`fn(item, *args)` for every item, in order."""
        for item in items:
            yield fn(item, *args)

    def partitions(self) -> int:
        """How many partitions a shuffle makes: one here, two per actor on Ray."""
        return 1

    def shuffle(self, blocks: list, split: Callable, reduce: Callable, *args) -> list:
        """A hash-partitioned shuffle: `split(block, n)` cuts each block into the n partitions' parts,
        `reduce(*args, *parts)` gets partition p's parts of every block; its results, in partition order."""
        n = self.partitions()
        parts = [split(block, n) for block in blocks]
        return [reduce(*args, *(p[i] for p in parts)) for i in range(n)]


class RayExecutor(Executor):
    kind = "ray"

    def __init__(self, config: ExecutorConfig):
        super().__init__(config)
        self._ray = connect(config)

    def _actors(self) -> int:
        return self.config.actors or max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def map_batches(self, tables: Iterable[pa.Table], factory: Callable, *, gpu: bool = False) -> Iterator[pa.Table]:
        ray = self._ray
        refs = [ray.put(t) for t in tables if t.num_rows]  # the driver reads; the object store carries
        if not refs:
            return
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # results in input order: the same files as local
        gpus = self.config.gpus_per_actor if gpu and ray.cluster_resources().get("GPU", 0) else 0
        dataset = ray.data.from_arrow_refs(refs).map_batches(
            _Apply,
            fn_constructor_args=(factory,),
            batch_format="pyarrow",
            batch_size=None,  # one input table per call: batch boundaries as on the local executor
            compute=ray.data.ActorPoolStrategy(size=self._actors()),
            num_gpus=gpus,
            max_restarts=-1,
            max_task_retries=-1,
        )
        yield from dataset.iter_batches(batch_format="pyarrow", batch_size=None)

    def map_tasks(self, fn: Callable, items: Iterable, *args) -> Iterator:
        ray = self._ray
        remote = ray.remote(max_retries=3)(fn)
        window = 2 * self._actors()
        pending = []
        for item in items:
            pending.append(remote.remote(item, *args))
            if len(pending) >= window:
                yield ray.get(pending.pop(0))
        for ref in pending:
            yield ray.get(ref)

    def partitions(self) -> int:
        return 2 * self._actors()

    def shuffle(self, blocks: list, split: Callable, reduce: Callable, *args) -> list:
        """The map tasks return one object per partition (`num_returns`), and each reduce task gets its
        partition's objects from the object store of the workers that made them: the grouping and the
        buckets' memory are spread over the workers; the driver gets back only the reduce results."""
        ray, n = self._ray, self.partitions()
        splitter = ray.remote(num_returns=n, max_retries=3)(split)
        reducer = ray.remote(max_retries=3)(reduce)
        parts = [splitter.remote(block, n) for block in blocks]
        parts = [p if n > 1 else [p] for p in parts]
        return ray.get([reducer.remote(*args, *(p[i] for p in parts)) for i in range(n)])


def connect(config: ExecutorConfig):
    """`ray`, initialized for this config (a session already open in this process is reused)."""
    import ray

    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False, "log_to_driver": False}
        if config.address:
            kwargs["address"] = config.address
        elif config.num_cpus:
            kwargs["num_cpus"] = config.num_cpus
        if not config.address or config.address == "auto":
            # a local cluster's workers import this code base as the driver does
            path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), os.getcwd()) if p)
            kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": path, **_passed_env()}}
        ray.init(**kwargs)
    return ray


def _passed_env() -> dict[str, str]:
    """Settings the workers need as the driver has them (offline model loading, the fault test)."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", KILL_ENV)
    return {name: os.environ[name] for name in names if name in os.environ}


def create(config: ExecutorConfig | None) -> Executor:
    config = config or ExecutorConfig()
    return RayExecutor(config) if config.type == "ray" else Executor(config)
