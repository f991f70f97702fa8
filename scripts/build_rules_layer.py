"""Deployment — builds the rules layer zip of the Terraform module (deploy/terraform/rules.tf).

Terraform names the zip by a hash of what goes in (layer paths, file hashes, generated text) at
plan time and runs this during apply with a manifest:

    {"files": {"<path in the layer>": {"source": "<file>", "sha256": "<hex>"}},
     "contents": {"<path in the layer>": "<text>"}}

A file whose content is no longer the one planned is refused (the zip's name would lie about it):
plan again. The zip is reproducible: sorted entries, fixed timestamps and modes. Standard library
only, any Python >= 3.8.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    return info


def layer_entries(manifest: dict[str, object]) -> dict[str, bytes]:
    """Path in the layer -> bytes, checked against the planned hashes."""
    files = manifest.get("files", {})
    contents = manifest.get("contents", {})
    if not isinstance(files, dict) or not isinstance(contents, dict):
        raise ValueError("manifest: 'files' and 'contents' are objects")
    entries: dict[str, bytes] = {}
    for name, spec in files.items():
        data = Path(spec["source"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != spec["sha256"]:
            raise ValueError(f"{spec['source']} changed since terraform plan: plan again")
        entries[name] = data
    for name, text in contents.items():
        if name in entries:
            raise ValueError(f"manifest: {name} is given twice")
        entries[name] = text.encode("utf-8")
    for name in entries:
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"manifest: {name} leaves the layer")
    return entries


def write_zip(entries: dict[str, bytes], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed: an interrupted build leaves no half zip under the
    # name Terraform trusts.
    fd, tmp = tempfile.mkstemp(dir=output.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
            for name in sorted(entries):
                zf.writestr(_entry(name), entries[name])
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True, help="the manifest, as JSON text")
    parser.add_argument("-o", "--output", required=True, type=Path, help="the zip to write")
    args = parser.parse_args(argv)
    try:
        write_zip(layer_entries(json.loads(args.manifest)), args.output)
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"build_rules_layer: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
