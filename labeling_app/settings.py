"""How the Streamlit app learns its lake and mode: environment variables set by `flywheel label serve`.

`streamlit run` owns the command line, and AppTest runs the script in-process, so the environment is
the one channel that works for both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labeling_app import annotators
from labeling_app.store import local_lake
from lakehouse.lake import resolve_lake_path

APP_SCRIPT = Path(__file__).resolve().parent / "app.py"
ENV_LAKE = "FLYWHEEL_LAKE"
ENV_LOCAL_MODE = "FLYWHEEL_LABEL_LOCAL_MODE"
ENV_ANNOTATORS = "FLYWHEEL_LABEL_ANNOTATORS"
ENV_CONFIG = "FLYWHEEL_LABEL_CONFIG"


@dataclass(frozen=True)
class Settings:
    lake: Path
    local_mode: bool
    annotators_file: Path
    config_path: Path | None


def from_env() -> Settings:
    lake = local_lake(resolve_lake_path(None))
    annotators_file = os.environ.get(ENV_ANNOTATORS)
    config = os.environ.get(ENV_CONFIG)
    return Settings(
        lake=lake,
        local_mode=os.environ.get(ENV_LOCAL_MODE, "") == "1",
        annotators_file=Path(annotators_file) if annotators_file else annotators.default_path(lake),
        config_path=Path(config) if config else None,
    )


def settings_env(
    lake: Path, *, local_mode: bool = False, annotators_file: Path | None = None, config: Path | None = None
) -> dict[str, str]:
    env = {ENV_LAKE: str(lake), ENV_LOCAL_MODE: "1" if local_mode else "0"}
    if annotators_file:
        env[ENV_ANNOTATORS] = str(Path(annotators_file).resolve())
    if config:
        env[ENV_CONFIG] = str(Path(config).resolve())
    return env
