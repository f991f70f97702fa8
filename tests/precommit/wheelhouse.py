"""A local wheelhouse for `pre-commit try-repo`, so installing the hooks needs no package index.

pre-commit's python hooks run `pip install .` from a clone of this checkout into a fresh
virtualenv. Offline, pip finds ctrules' dependencies here: each one repacked as a wheel from the
distribution already installed in the test environment (the files its RECORD lists, a fresh
RECORD with their hashes), so the hook environment gets exactly the versions the tests run with.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import re
import zipfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

# Written by the installer, not part of the wheel (pip writes its own on install).
_INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(project: str) -> list[metadata.Distribution]:
    """The installed distributions `project` needs at run time (no extras), itself excluded."""
    environment = {**default_environment(), "extra": ""}
    seen: dict[str, metadata.Distribution] = {}
    todo = [project]
    while todo:
        for line in metadata.requires(todo.pop()) or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            key = _normalize(requirement.name)
            if key in seen:
                continue
            dist = metadata.distribution(requirement.name)
            if not requirement.specifier.contains(dist.version, prereleases=True):
                raise LookupError(f"installed {requirement.name} {dist.version} is not {line}")
            seen[key] = dist
            todo.append(requirement.name)
    return list(seen.values())


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel_tag(wheel_metadata: str) -> str:
    tags = [t.split("-") for t in re.findall(r"(?m)^Tag:\s*(\S+)\s*$", wheel_metadata)]
    if not tags:
        raise LookupError("WHEEL names no tag")
    # The compressed tag set (PEP 425): each part's values joined with dots.
    parts = (sorted({t[i] for t in tags}) for i in range(3))
    return "-".join(".".join(p) for p in parts)


def repack(dist: metadata.Distribution, wheelhouse: Path) -> Path:
    """Write `dist` (installed from a wheel) back as a wheel into `wheelhouse`."""
    files = [f for f in dist.files or [] if not str(f).startswith("..")]
    info = next(
        (f for f in files if f.name == "WHEEL" and f.parent.name.endswith(".dist-info")), None
    )
    if info is None:
        raise LookupError(f"{dist.metadata['Name']} was not installed from a wheel")
    dist_info = info.parent.as_posix()
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    target = wheelhouse / f"{name}-{dist.version}-{_wheel_tag(info.read_text())}.whl"
    record: list[str] = []
    # Stored, not deflated: the wheel only lives for the test session.
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as whl:
        for file in files:
            arcname = file.as_posix()
            if "__pycache__" in file.parts or (
                file.parent.as_posix() == dist_info and file.name in _INSTALLER_FILES
            ):
                continue
            data = Path(str(file.locate())).read_bytes()
            whl.writestr(arcname, data)
            record.append(f"{arcname},{_digest(data)},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        whl.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return target


def build(project: str, wheelhouse: Path) -> list[Path]:
    """Repack the runtime dependencies of `project` into `wheelhouse`."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    return [repack(dist, wheelhouse) for dist in runtime_closure(project)]
