"""Chromium from Debian's packages, for the browser test of the public scheduling page.

Playwright drives it through ``executable_path`` (never a browser of its own download: the
machines reach only package registries). Installed by ``infra setup`` (so by ``make
install``, ``make test`` and ``make run``) when missing and the caller may (root + apt), like
PostgreSQL; elsewhere the browser test is skipped with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from infra.process import InfraError

PACKAGE = "chromium"
INSTALL_HINT = "Install Debian's Chromium (apt-get install chromium), or set CONVENE_CHROMIUM."

FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machines have no internet: without these Chromium keeps trying Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
"""Launch flags of the browser test (headless, no calls home)."""


def chromium_path() -> Path | None:
    """Chromium's executable: ``CONVENE_CHROMIUM``, else Debian's ``/usr/bin/chromium``."""
    configured = os.environ.get("CONVENE_CHROMIUM")
    for candidate in ([Path(configured)] if configured else []) + [Path("/usr/bin/chromium")]:
        if candidate.exists() and os.access(candidate, os.X_OK):
            return candidate
    return None


def install_chromium() -> Path | None:
    """Install Debian's Chromium when missing and allowed (root + apt-get); its path, or None
    when it cannot be installed here (the browser test then says how)."""
    found = chromium_path()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"browser: Chromium missing and not installable here (not root or no apt-get). "
              f"{INSTALL_HINT}", flush=True)
        return None
    print(f"browser: installing {PACKAGE} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "--no-install-recommends", PACKAGE]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise InfraError(f"browser: {' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    found = chromium_path()
    if found is None:
        raise InfraError(f"browser: apt-get installed no usable Chromium. {INSTALL_HINT}")
    return found
