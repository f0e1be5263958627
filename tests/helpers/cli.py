"""The real `flywheel` command in a fresh process, as a user runs it (the entry point, the packages'
plugins, exit codes, stdout and stderr apart): for tests that need another process (a second writer, a
kill at a fault point, a prompt reading stdin)."""

from __future__ import annotations

import subprocess
import sys

FLYWHEEL = [sys.executable, "-c", "from lakehouse.cli import main; main()"]


def flywheel(*args: object, env: dict | None = None, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run `flywheel ARGS...` to the end; `env` None inherits this process's environment."""
    return subprocess.run(
        [*FLYWHEEL, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, **kwargs
    )


def start_flywheel(*args: object, env: dict | None = None) -> subprocess.Popen:
    """Start `flywheel ARGS...` and return at once (for a command that must run beside another)."""
    return subprocess.Popen(
        [*FLYWHEEL, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
