"""Print pip's package sources as ``uv pip install`` arguments.

``make install`` installs with uv (about ten times faster than pip here), which reads none of
pip's configuration. The sources a machine configured for pip (index, extra indexes, find-links
folders, constraints files, in pip's configuration files or ``PIP_*`` variables) are read with
``pip config list`` and passed on, so uv installs from where pip would. ``unsafe-best-match`` is
pip's way of choosing among indexes: the best version wherever it lies."""

from __future__ import annotations

import shlex
import subprocess
import sys

SOURCES = ("index-url", "extra-index-url", "find-links", "constraint")  # pip's names, and uv's options of the same names
PRECEDENCE = (":env:", "install", "global")  # pip's: a variable over a command's section over the global one


def uv_arguments(listing: str) -> list[str]:
    """``pip config list``'s lines (``section.name='value'``) as uv arguments."""
    found: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        section, _, name = key.rpartition(".")
        if name in SOURCES and section in PRECEDENCE:
            rank = PRECEDENCE.index(section)
            if name not in found or rank < found[name][0]:
                found[name] = (rank, value.strip().strip("'\""))
    arguments = ["--index-strategy", "unsafe-best-match"]
    for name, (_, value) in sorted(found.items()):
        for item in value.split():
            arguments += [f"--{name}", item]
    return arguments


if __name__ == "__main__":
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True).stdout
    print(shlex.join(uv_arguments(listing)))
