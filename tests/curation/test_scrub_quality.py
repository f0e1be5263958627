"""The issue's quality targets, measured on the combined labeled set (the template set plus a small
simulation labeled by the simulator's truth sidecar) and on real messages."""

from __future__ import annotations

import gzip
import json

import pytest

from curation.scrub.config import ScrubConfig
from curation.scrub.evalset import SimulationMismatch, generate, load_simulation, real_messages, simulate
from curation.scrub.evaluation import RECALL_TARGETS, evaluate
from curation.simulator import SimulationConfig, run_simulation

SIMULATED_CONVERSATIONS = 300


@pytest.fixture(scope="module")
def combined():
    return generate(1200, seed=13) + simulate(SIMULATED_CONVERSATIONS, seed=7)


@pytest.fixture(scope="module")
def report(combined):
    return evaluate(combined)


@pytest.fixture(scope="module")
def simulation(tmp_path_factory):
    out = tmp_path_factory.mktemp("scrub-sim")
    run_simulation(SimulationConfig(conversations=40, seed=3), out, workers=1, progress=False)
    return out


def test_evaluation_set_is_large_labeled_and_deterministic():
    first, again = generate(1200, seed=13), generate(1200, seed=13)
    messages = [m for c in first for m in c.messages]
    assert len(messages) >= 1000
    assert [m.text for c in again for m in c.messages] == [m.text for m in messages]
    assert {m.style for m in messages} >= {"casual", "lower", "misspelled", "upper", "emoji"}
    for m in messages:
        for span in m.spans:
            assert 0 <= span.start < span.end <= len(m.text)
    labeled = {s.entity_type for m in messages for s in m.spans}
    assert labeled >= set(RECALL_TARGETS)


def test_simulator_output_loads_with_every_planted_span(simulation):
    conversations = load_simulation(simulation)
    with gzip.open(simulation / "truth.jsonl.gz", "rt") as fh:
        truth = [json.loads(line) for line in fh]
    assert [c.id for c in conversations] == [t["conversation_id"] for t in truth]
    for conversation, planted in zip(conversations, truth, strict=True):
        spans = [
            (m.text[s.start : s.end], s.entity_type, turn)
            for turn, m in enumerate(conversation.messages)
            for s in m.spans
        ]
        assert spans == [(p["value"], p["type"], p["turn"]) for p in planted["pii"]]
        mentions = [
            (turn, start, end) for turn, m in enumerate(conversation.messages) for start, end in m.character_mentions
        ]
        assert mentions == [(c["turn"], c["start"], c["end"]) for c in planted["character_mentions"]]
        assert conversation.character_name and conversation.persona
        assert {m.source for m in conversation.messages} == {"simulator"}
    assert sum(len(m.spans) for c in conversations for m in c.messages) > 0
    assert len(load_simulation(simulation, limit=5)) == 5


def test_simulator_truth_out_of_step_with_the_traffic_is_refused(simulation, tmp_path):
    import shutil

    copy = tmp_path / "sim"
    shutil.copytree(simulation, copy)
    with gzip.open(copy / "truth.jsonl.gz", "rt") as fh:
        lines = fh.readlines()
    planted = next(i for i, line in enumerate(lines) if json.loads(line)["pii"])
    row = json.loads(lines[planted])
    row["pii"][0]["start"] += 1
    for broken, error in (
        (lines[:planted] + [json.dumps(row) + "\n"] + lines[planted + 1 :], "is not its value"),
        (lines[1:], "does not describe"),
        (lines[:-1], "different numbers"),
    ):
        with gzip.open(copy / "truth.jsonl.gz", "wt") as fh:
            fh.writelines(broken)
        with pytest.raises(SimulationMismatch, match=error):
            load_simulation(copy)
    with pytest.raises(FileNotFoundError, match="not a simulator output folder"):
        load_simulation(tmp_path)


@pytest.mark.slow
def test_quality_targets_are_met_on_templates_and_simulated_traffic(combined, report):
    config = ScrubConfig()
    removed = [e for policy in config.tiers.values() if policy.action != "keep" for e in policy.entities]
    assert report.messages == sum(len(c.messages) for c in combined) >= 1000
    assert set(report.by_source) == {"templates", "simulator"}
    assert report.by_source["simulator"].keys() >= set(RECALL_TARGETS)  # every targeted type was planted
    assert report.failures(removed) == [], report.table()
    assert report.character_mentions >= 300


@pytest.mark.slow
def test_real_messages_rarely_trigger_structured_detections(hh_path, persona_chat_path):
    real = real_messages(hh_path, persona_chat_path, limit=1000)
    assert len(real) == 1000
    result = evaluate([], real=real)
    assert sum(result.real_false_positives.values()) <= 5, result.real_false_positives


# The shared dev set (kurkowski93/contextual-anonymizer, MIT): a fixed subset spread evenly over the file,
# large enough to measure every type it labels and small enough for CI on two cores.
DEV_SET = "pii-dev-contextual-anonymizer.jsonl.gz"
DEV_SUBSET = 1500


@pytest.fixture(scope="module")
def dev_report():
    from curation.scrub.evaluation import evaluate_labeled
    from curation.scrub.labeled import load_labeled
    from tests.conftest import _shared

    texts = load_labeled(_shared(DEV_SET))
    assert len(texts) >= 4000
    subset = [texts[i * len(texts) // DEV_SUBSET] for i in range(DEV_SUBSET)]
    return evaluate_labeled(subset)


@pytest.mark.slow
def test_dev_set_targets_hold_on_data_nobody_here_wrote(dev_report):
    """Issue 12's dev-set bar: every labeled type >= 0.95 recall (street addresses >= 0.90), precision
    >= 0.85 overall and per type, and no e-mail, phone, card, SSN, IBAN, IP or ID number left verbatim."""
    config = ScrubConfig()
    removed = [e for policy in config.tiers.values() if policy.action != "keep" for e in policy.entities]
    assert dev_report.messages == DEV_SUBSET
    assert {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "ID_NUMBER"} <= set(dev_report.recall_targets)
    assert dev_report.failures(removed) == [], dev_report.table()
    assert dev_report.precision >= 0.85
    assert sum(dev_report.verbatim.values()) == 0, dev_report.verbatim_examples[:5]


def test_a_second_outside_set_keeps_identifiers_and_names():
    """44 sentences of Nannigalaxy/PII-synthetic_dataset (MIT, tests/data, see its LICENSE file): incident
    reports with passports, driver's licences, tax and patient ids, SSNs, cards, IBANs, e-mails and names,
    written by someone else in a style neither the dev set nor our templates use."""
    from pathlib import Path

    from curation.scrub.evaluation import evaluate_labeled
    from curation.scrub.labeled import load_labeled

    report = evaluate_labeled(load_labeled(Path(__file__).parent.parent / "data" / "pii-nannigalaxy-nano-en.jsonl"))
    for entity in ("ID_NUMBER", "US_SSN", "EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE"):
        assert report.per_type[entity].recall == 1.0, report.table()
    assert report.per_type["PERSON"].recall >= 0.95, report.table()
    assert report.precision >= 0.95 and sum(report.verbatim.values()) == 0, report.table()
