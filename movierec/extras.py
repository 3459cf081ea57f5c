"""Starting a program whose libraries come with an extra (the base install is the client alone): a
missing library is one sentence naming the extra to install, not a traceback."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any


def launch(module: str, extra: str) -> Any:
    """Import `module` (a program's) and run its main(); exit status 2 with `pip install 'movierec[extra]'`
    when a library it needs is not installed. A missing movierec module is a fault, and is raised."""
    try:
        program = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] == "movierec":
            raise
        print(
            f"{Path(sys.argv[0]).name}: {e.name} is not installed; this program needs the {extra!r} extra: "
            f"pip install 'movierec[{extra}]'",
            file=sys.stderr,
        )
        return 2
    return program.main()
