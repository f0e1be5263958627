"""Release builders: turn samples, pairs and labels -> versioned TRL training sets (docs/releases.md).

build.py orchestrates one release: filter -> rows (sft.py, preference.py, unpaired.py, prompts.py,
from_release.py) -> style features and pair filters -> eval_overlap.py -> mixture.py -> splits.py ->
artifacts_report.py -> write -> leak gate and publish (lakehouse.releases, scanning with curation.scrub.leak_gate).
"""
