"""Tooling — which `.ctr` files a directory argument stands for (check, test, fmt, run, explain,
the runtime's CTRULES_RULES), so every subcommand reads the same set.

A directory means the `.ctr` files under it, recursively, except what is not part of the rule
set a user keeps there:
- hidden directories (`.terraform/`, where `terraform init` puts a copy of this repository with
  its test fixtures; `.git/`, `.venv/`, ...) and virtualenvs (a `pyvenv.cfg`), below the
  directory given (a hidden directory named explicitly is read);
- in a git work tree, files git ignores (`git ls-files --exclude-standard`), when git is there
  (an ignored directory named explicitly is read whole);
- inside the bundled pack directory (`rules/` of a checkout, `ctrules/rules` installed), its
  subdirectories: `rules/compat/` repeats the old tool's defaults that the pack replaces, so
  `run rules/` means the pack, as `default` does, and the parity set is named explicitly
  (`rules/compat/`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["directory_rule_files"]


def _pack_dir() -> Path | None:
    from importlib import resources

    try:
        return Path(str(resources.files("ctrules.rules"))).resolve()
    except (ModuleNotFoundError, OSError):  # pragma: no cover - a broken install
        return None


def _walk(root: Path) -> tuple[list[Path], set[Path]]:
    """The `.ctr` files under `root`, and those reached through a symlinked directory (a rule
    pack assembled from links is followed, but each real directory is entered once, so a link
    cycle ends)."""
    found: list[Path] = []
    linked: set[Path] = set()
    entered: set[str] = set()
    for here, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(here)
        if real in entered:
            dirs[:] = []
            continue
        entered.add(real)
        base = Path(here)
        # Pruned in place so os.walk does not descend into them.
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not (base / d / "pyvenv.cfg").exists()
        )
        through_link = real != os.path.abspath(here)
        for f in files:
            if f.endswith(".ctr"):
                found.append(base / f)
                if through_link:
                    linked.add(base / f)
    return found, linked


def _git_visible(root: Path) -> set[Path] | None:
    """Files under `root` that git tracks or would track (not ignored); None outside a work
    tree or without git. Bounded: a git that hangs or fails falls back to the plain walk."""
    if shutil.which("git") is None:
        return None
    try:
        # A directory that is itself ignored was named on purpose: read it whole.
        ignored = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", "."],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if ignored.returncode == 0:
            return None
        done = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard", "--full-name", "--", "."],
            capture_output=True,
            timeout=30,
            check=False,
        )  # fmt: skip
        top = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0 or top.returncode != 0:
        return None
    toplevel = Path(top.stdout.decode().strip())
    names = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    return {(toplevel / name).resolve() for name in names if name}


def directory_rule_files(root: Path) -> list[Path]:
    """The `.ctr` files a directory argument stands for, sorted by their path under it."""
    pack = _pack_dir()
    if pack is not None and root.resolve() == pack:
        files = [p for p in root.glob("*.ctr") if p.is_file()]
    else:
        walked, linked = _walk(root)
        files = [p for p in walked if p.is_file()]
        visible = _git_visible(root) if files else None
        if visible is not None:
            # git lists a symlinked directory, not the files behind it: those were linked in
            # on purpose and are kept.
            files = [p for p in files if p in linked or p.resolve() in visible]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())
