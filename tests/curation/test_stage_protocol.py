"""The stage contract (curation/pipeline/stages.py): every stage module satisfies the `Stage` protocol, and a
missing heavy library is reported as MissingDependency naming the pip package, before or during the run."""

from __future__ import annotations

import importlib.util
import inspect
from types import SimpleNamespace

import pytest
from pydantic import BaseModel

from curation.pipeline import stages
from lakehouse.errors import MissingDependency, UserError
from lakehouse.runs import StageStats


@pytest.mark.parametrize("name", stages.available())
def test_every_registered_stage_satisfies_the_stage_protocol(name):
    stage = stages.load(name, check_dependencies=False)
    assert isinstance(stage, stages.Stage)
    assert issubclass(stage.Config, BaseModel)
    assert stage.Config.model_config.get("extra") == "forbid", "a recipe typo must fail, not be ignored"
    assert list(inspect.signature(stage.run).parameters) == ["ctx", "config", "stats"]
    assert all(isinstance(module, str) and isinstance(pip, str) for module, pip in stage.REQUIRES)


def test_the_installed_stages_find_all_their_libraries():
    for name in stages.available():
        stages.load(name)  # raises MissingDependency if the pinned install lacks one


def test_a_stage_whose_library_is_missing_fails_at_load_naming_the_pip_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "presidio_analyzer" else real(name, *a)
    )
    with pytest.raises(
        MissingDependency, match=r"stage 'scrub' needs presidio-analyzer.*pip install presidio-analyzer"
    ):
        stages.load("scrub")
    assert issubclass(MissingDependency, UserError) and MissingDependency.exit_code == 2


def _stage(run, requires=(("flywheel_absent_library", "flywheel-absent-library"),)):
    return SimpleNamespace(Config=BaseModel, REQUIRES=requires, run=run)


def test_an_import_of_a_required_library_failing_inside_run_becomes_missing_dependency():
    def run(ctx, config, stats):
        import flywheel_absent_library.sub  # noqa: F401

    with pytest.raises(MissingDependency, match="needs flywheel-absent-library") as raised:
        stages.run_stage("fake", _stage(run), None, None, StageStats("fake"))
    assert isinstance(raised.value.__cause__, ModuleNotFoundError)


def test_an_import_error_of_an_undeclared_module_stays_a_bug_with_its_traceback():
    def run(ctx, config, stats):
        import flywheel_other_absent_module  # noqa: F401

    with pytest.raises(ModuleNotFoundError, match="flywheel_other_absent_module"):
        stages.run_stage("fake", _stage(run), None, None, StageStats("fake"))


def test_a_run_that_succeeds_records_its_stats_through_run_stage():
    def run(ctx, config, stats):
        stats.rows_in, stats.rows_out = 3, 2
        stats.drop("duplicate")

    stats = StageStats("fake")
    stages.run_stage("fake", _stage(run), None, None, stats)
    assert (stats.rows_in, stats.rows_out, dict(stats.dropped)) == (3, 2, {"duplicate": 1})


def test_a_stage_reads_an_engines_details_typed_and_a_missing_key_fails_naming_it():
    from curation.pipeline.details import DedupClusterDetails, StratifiedDetails, TopicDetails, engine_details

    sampled = StageStats("sample", details={"target": 2, "strata": ["source"]})
    assert engine_details(sampled, StratifiedDetails) == {"target": 2, "strata": ["source"]}
    exact = {"method": "exact", "distinct_texts": 3, "null_texts": 0, "clusters": 2}
    exact |= {"multi_row_clusters": 1, "largest_cluster": 2}  # no MinHash keys: they are NotRequired
    assert engine_details(StageStats("conversations", details=exact), DedupClusterDetails) == exact
    with pytest.raises(TypeError, match=r"sample details lack k, k_source, largest_topic, prune_threshold"):
        engine_details(sampled, TopicDetails)
