"""Headless Chromium for the page's tests and screenshots, run from the machine's Debian package.

Playwright drives it (`executable_path`): its own browser download is not reachable from our machines,
and the distribution's Chromium is. On a machine without /usr/bin/chromium it is installed with
`apt-get install chromium` (as root, as CI runs), never skipped. As root Chromium refuses to start
with its sandbox, so root runs it with --no-sandbox.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from movierec.diagnostics import MovierecError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_LOCK = Path(tempfile.gettempdir()) / "movierec-chromium-install.lock"


def chromium_path() -> Path:
    """The Chromium binary, installing Debian's package first when the machine has none."""
    if CHROMIUM.exists():
        return CHROMIUM
    with open(INSTALL_LOCK, "w") as lock:  # two pytest workers may get here at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():
            return CHROMIUM
        if os.geteuid() != 0:
            raise MovierecError(
                f"Chromium is not installed ({CHROMIUM}) and only root can install it: "
                "run `apt-get install -y chromium`"
            )
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise MovierecError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    if not CHROMIUM.exists():
        raise MovierecError(f"apt-get installed chromium, but there is no {CHROMIUM}")
    return CHROMIUM


def launch(playwright: Playwright) -> Browser:
    """A headless Chromium under Playwright (a fresh context per page keeps pages apart)."""
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    # /dev/shm is small in containers; Chromium then crashes on larger pages without this.
    args.append("--disable-dev-shm-usage")
    return playwright.chromium.launch(executable_path=str(chromium_path()), headless=True, args=args)
