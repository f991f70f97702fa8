#!/usr/bin/env python3
"""Build the deployable Lambda zip: ctrules (with its grammar and default rules) plus every
runtime dependency, at the zip's top level, handler `ctrules.aws.handler.handler`.

    python scripts/build_lambda_zip.py [-o dist/ctrules-lambda.zip] [--pip] [--with-boto3]

The package itself is assembled from the source tree exactly as pyproject.toml's
[tool.setuptools] section lays it out (packages, package-dir, package-data), so no build
backend or network is needed. Dependencies come from either
- the running interpreter's installed distributions (default; offline) — build on Linux with the
  same CPython minor version and architecture as the Lambda runtime, since orjson and
  google-re2 are compiled extensions; or
- `--pip`: `pip install --target` with `--platform manylinux2014_<arch>` binary wheels for the
  Lambda runtime, from any OS (needs the package index).
boto3/botocore are left to the Lambda runtime, which provides them (they would be 27 of a 36 MB
zip); `--with-boto3` bundles them (a pinned, tested SDK rather than the runtime's). The dependency
list is pyproject.toml's, so the build needs no installed ctrules (the Terraform module runs it
from its own checkout with `--pip`).
Bytecode is compiled into the zip (unchecked-hash .pyc for this interpreter's version): Lambda's
/var/task is read-only, so without it every cold start recompiles every module it imports.
`--no-compile` leaves it out (e.g. when --pip targets another Python version). The zip is
reproducible: sorted entries, fixed timestamps.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.metadata as md
import platform
import py_compile
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "ctrules"
BOTO = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_files() -> dict[str, Path]:
    """Archive name -> source file for the ctrules package, per pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setup = config["tool"]["setuptools"]
    package_dir: dict[str, str] = setup.get("package-dir", {})
    package_data: dict[str, list[str]] = setup.get("package-data", {})
    files: dict[str, Path] = {}
    for package in setup["packages"]:
        src = ROOT / package_dir.get(package, package.replace(".", "/"))
        dest = package.replace(".", "/")
        patterns = ["*.py", *package_data.get(package, [])]
        for path in sorted(src.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(src).as_posix()
            if any(fnmatch.fnmatch(rel, p) for p in patterns) and (
                "/" not in rel or any("/" in p for p in patterns if fnmatch.fnmatch(rel, p))
            ):
                files[f"{dest}/{rel}"] = path
    return files


def runtime_requirements(include_boto3: bool) -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = []
    for req in config["project"]["dependencies"]:
        name = re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]
        if include_boto3 or _norm(name) not in BOTO:
            reqs.append(req.split(";")[0].strip())
    return reqs


def env_distributions(include_boto3: bool) -> dict[str, Path]:
    """Archive name -> installed file, for the runtime dependency closure of ctrules."""
    files: dict[str, Path] = {}
    seen: set[str] = set()
    todo = [re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0] for r in runtime_requirements(include_boto3)]
    while todo:
        name = _norm(todo.pop())
        if name in seen or (not include_boto3 and name in BOTO):
            continue
        seen.add(name)
        dist = md.distribution(name)
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0])
        for entry in dist.files or []:
            rel = entry.as_posix()
            if rel.startswith("..") or "__pycache__" in rel or rel.endswith(".pyc"):
                continue
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                files[rel] = path
    return files


def pip_distributions(include_boto3: bool, arch: str, python: str, into: Path) -> dict[str, Path]:
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--target", str(into),
            "--platform", f"manylinux2014_{arch}", "--implementation", "cp",
            "--python-version", python, "--only-binary=:all:",
            *runtime_requirements(include_boto3),
        ],
        check=True,
    )  # fmt: skip
    return {
        p.relative_to(into).as_posix(): p
        for p in sorted(into.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        and not p.relative_to(into).as_posix().startswith("bin/")
    }  # fmt: skip


def compiled(files: dict[str, Path], into: Path) -> dict[str, Path]:
    """__pycache__ entries for every .py file, valid wherever the zip is unpacked."""
    tag = sys.implementation.cache_tag
    out: dict[str, Path] = {}
    for name, path in files.items():
        if not name.endswith(".py"):
            continue
        parent, _, stem = name[:-3].rpartition("/")
        arc = f"{parent + '/' if parent else ''}__pycache__/{stem}.{tag}.pyc"
        target = into / arc
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            py_compile.compile(
                str(path),
                cfile=str(target),
                dfile=name,
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
        except py_compile.PyCompileError:
            continue  # e.g. a vendored file for another Python version; imported only there
        out[arc] = target
    return out


def write_zip(out: Path, files: dict[str, Path]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = files[name].stat().st_mode & 0o777
            info.external_attr = ((mode | 0o444) & 0o755) << 16
            zf.writestr(info, files[name].read_bytes())
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default=str(ROOT / "dist" / "ctrules-lambda.zip"))
    p.add_argument("--pip", action="store_true", help="fetch Lambda-platform wheels with pip")
    p.add_argument("--arch", default="x86_64", choices=["x86_64", "aarch64"])
    p.add_argument("--python", default="3.11", help="Lambda runtime Python version (--pip)")
    p.add_argument("--with-boto3", action="store_true", help="bundle boto3/botocore")
    p.add_argument("--no-boto3", action="store_true", help="the default; kept for old scripts")
    p.add_argument("--no-compile", action="store_true", help="leave out .pyc files")
    args = p.parse_args(argv)
    include_boto3 = args.with_boto3 and not args.no_boto3

    files = package_files()
    with tempfile.TemporaryDirectory() as tmp:
        if args.pip:
            deps = pip_distributions(include_boto3, args.arch, args.python, Path(tmp))
        else:
            if platform.system() != "Linux":
                print("warning: bundling this machine's compiled extensions; use --pip "
                      "for a Lambda-compatible build", file=sys.stderr)  # fmt: skip
            deps = env_distributions(include_boto3)
        clash = sorted(n for n in deps if n.startswith(f"{PROJECT}/"))
        if clash:
            raise SystemExit(f"a dependency ships files inside {PROJECT}/: {clash[:3]}")
        files.update(deps)
        compile_ok = args.python == f"{sys.version_info[0]}.{sys.version_info[1]}" or not args.pip
        if not args.no_compile and compile_ok:
            files.update(compiled(files, Path(tmp) / "pyc"))
        out = Path(args.output)
        write_zip(out, files)
    size = out.stat().st_size
    print(f"{out} ({size / 2**20:.1f} MiB, {len(files)} files); "
          "handler: ctrules.aws.handler.handler")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
