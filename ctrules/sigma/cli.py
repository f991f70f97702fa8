"""Sigma import — the `ctrules import sigma PATH... [-o DIR]` command.

Tooling, not a pipeline stage: it runs the importer (`ctrules.sigma.importer`) and writes its
`.ctr` output. pySigma is an optional extra, imported only when the command runs, so the rest of
the command line works without it. Exit codes: 0 every rule translated, 1 some could not be
(each is listed on stderr with the reason), 2 usage errors (a missing path, pySigma absent).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("import", help="import rules written for other engines")
    formats = p.add_subparsers(metavar="FORMAT")
    s = formats.add_parser(
        "sigma",
        help="Sigma rules for AWS CloudTrail → .ctr (needs: pip install 'ctrules[sigma]')",
        description="Translate Sigma rules (product: aws, service: cloudtrail) into .ctr rules "
                    "with pySigma: one .ctr file per Sigma rule in DIR, or all on standard "
                    "output. Rules that cannot be expressed are listed on stderr with the "
                    "reason and produce no output; the exit status is then 1.",
    )
    s.add_argument("paths", nargs="+", metavar="PATH", help="Sigma YAML files or directories")
    s.add_argument("-o", "--output", metavar="DIR", help="write NAME.ctr files into DIR")
    s.set_defaults(func=cmd_import_sigma)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def cmd_import_sigma(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"ctrules import sigma: no such file or directory: {', '.join(missing)}",
              file=sys.stderr)
        return 2
    try:
        from .importer import import_paths
    except ModuleNotFoundError as err:
        if err.name is None or not err.name.startswith("sigma"):
            raise
        print("ctrules import sigma needs pySigma: pip install 'ctrules[sigma]'", file=sys.stderr)
        return 2
    report = import_paths(args.paths)
    if args.output:
        out_dir = Path(args.output)
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in report.translated:
            (out_dir / f"{item.name}.ctr").write_text(item.text or "", encoding="utf-8")
    else:
        sys.stdout.write("\n".join(item.text or "" for item in report.translated))
    for item in report.untranslated:
        print(f"{item.source}: not imported ({item.title}): {item.reason}", file=sys.stderr)
    total = len(report.results)
    print(f"imported {len(report.translated)} of {total} Sigma rule(s)"
          + (f" into {args.output}" if args.output else ""), file=sys.stderr)
    return 1 if report.untranslated else 0
