"""PERSON and LOCATION recall and precision of the scrubber on public French and German NER text
(tests/data; each file's header names its source and licence), per engine: the language's own (with the
locale, and by the text check alone) and the English engine that scrubbed everything before languages
were routed. LOCATION is kept by default and then not detected, so its numbers come from a config that
acts on it. Printed as the table in docs/scrub.md (Languages).

    python -m benchmarks.eval_scrub_languages
"""

from __future__ import annotations

from collections import Counter


def main() -> None:
    from curation.scrub.config import ScrubConfig, TierPolicy
    from curation.scrub.scrubber import Conversation, Scrubber
    from tests.helpers.ner_samples import FRENCH_SAMPLE, GERMAN_SAMPLE, load, score

    def with_locations(config: ScrubConfig) -> ScrubConfig:
        tiers = dict(config.tiers)
        tiers["low"] = TierPolicy(entities=["LOCATION", "DATE_TIME"], action="replace", min_score=0.5)
        return config.model_copy(update={"tiers": tiers})

    engines = {"routed": ScrubConfig(), "english engine": ScrubConfig(languages=["en"])}
    for sample_name, path, locale in (
        ("German (GermEval 2014)", GERMAN_SAMPLE, "de-DE"),
        ("French (Europeana BnF)", FRENCH_SAMPLE, "fr-FR"),
    ):
        samples = load(path)
        for engine, config in engines.items():
            for given in (locale, None) if engine == "routed" else (None,):
                rows = []
                for acting in (config, with_locations(config)):
                    scrubber = Scrubber(acting)
                    results = scrubber.scrub(
                        [Conversation(f"s{i}", [s.text], locale=given) for i, s in enumerate(samples)]
                    )
                    rows.append(
                        (score(samples, [r.entities[0] for r in results]), Counter(r.language for r in results))
                    )
                (default, routed), (locations, _) = rows
                print(f"== {sample_name}, {engine}, locale={given}, routed to {dict(routed)}")
                print(default.table())
                print(
                    f"LOCATION acted on: recall {locations.recall('LOCATION'):.3f}, "
                    f"precision {locations.precision('LOCATION'):.3f}"
                )
                print("replaced non-names:", Counter(default.false_replaced).most_common(10))


if __name__ == "__main__":
    main()
