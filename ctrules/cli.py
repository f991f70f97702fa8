"""The `ctrules` command line: check, fmt, test, explain, run (and the consumer/convert commands
their modules register). Each sub-command is a thin shell over the library; exit codes follow the
spec: 0 fine, 1 findings/failures, 2 usage errors."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from . import diagnostics as diag
from . import nodes as n
from .diagnostics import Diagnostic, RuleSetError
from .ruleset import (
    EmptyRuleSet,
    RuleSet,
    blocking,
    default_rule_files,
    default_rules_path,
    load_rules,
)
from .sources.envelopes import is_digest_key
from .sources.lazy import Unmatched, iter_candidates
from .sources.logfile import BadRecord, Deferred
from .sources.stream import iter_stream

# Feature modules that add sub-commands (each has `register(subparsers)`).
_PLUGINS = (
    "ctrules.fmt_cli",
    "ctrules.convert",
    "ctrules.aws.cli",
    "ctrules.delivery.cli",
    "ctrules.sigma.cli",
)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    # `ctrules run` (a batch job, often started per file) does not pay for importing the
    # feature modules' sub-commands: only `ctrules --help` and their own commands need them.
    parser = build_parser(plugins=not args_list or args_list[0] != "run")
    args = parser.parse_args(args_list)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `ctrules run ... | head` is normal use: stop quietly, as Unix
        _silence_stdout()    # tools do (and keep Python from complaining at exit)
        return 0
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# Every subcommand names its rule set the same way: positional, files / directories / `default`.
RULESET_HELP = (
    "rule set: .ctr files and directories (a directory means the .ctr files under it, skipping "
    "hidden directories, virtualenvs and git-ignored files), or `default` for the bundled pack"
)


def build_parser(plugins: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ctrules",
        description="Safe, fast, testable CloudTrail rules with Slack alerts.",
    )
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("check", help="lint rule files (for CI)")
    p.add_argument("paths", nargs="+", metavar="RULESET", help=RULESET_HELP)
    p.add_argument("--format", choices=("text", "json", "github"), default="text",
                   help="text: findings with carets and a summary line (default); json: a list "
                        "of findings; github: workflow-command annotations for a PR diff")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("test", help="run the examples embedded in rules")
    p.add_argument("paths", nargs="+", metavar="RULESET", help=RULESET_HELP)
    p.add_argument("-v", "--verbose", action="store_true", help="also list passing examples")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("explain", help="show clause by clause why rules (did not) match an event")
    p.add_argument("ruleset", metavar="RULESET", help=RULESET_HELP)
    p.add_argument("event", metavar="EVENT.json", help="a record, a log file, or - for stdin")
    p.add_argument("--rule", help="only this rule")
    p.add_argument("--all", action="store_true", help="also rules the dispatch index skips")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser(
        "run",
        help="evaluate local CloudTrail files; alerts as JSON lines",
        description="With no arguments, runs the default rule pack over the bundled sample log.",
    )
    p.add_argument("ruleset", nargs="?", metavar="RULESET",
                   help=RULESET_HELP + " (none: the default pack over the bundled sample log)")
    p.add_argument("logs", nargs="*", metavar="LOGS", help=".json/.json.gz files, dirs, or -")
    p.add_argument("--include-ignored", action="store_true",
                   help="also print suppressed alerts (with ignored_by)")
    p.add_argument("--deliver", action="store_true",
                   help="also send alerts to the configured destinations (Slack)")
    p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    p.set_defaults(func=cmd_run)

    for module_name in _PLUGINS if plugins else ():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    return parser


# ---- check -----------------------------------------------------------------------------------


def check_paths(paths: Sequence[str | Path]) -> tuple[list[Diagnostic], dict[str, str]]:
    """Every finding for a rule set, plus each file's text (for carets)."""
    from .checks import check_sources, load_sources

    sources = load_sources(paths)
    _, findings = check_sources(sources)
    return findings, dict(sources)


def print_diagnostics(findings: Sequence[Diagnostic], texts: dict[str, str], fmt: str,
                      out: IO[str]) -> None:
    if fmt == "json":
        out.write(diag.render_json(findings) + "\n")
        return
    for d in findings:
        if fmt == "github":
            out.write(diag.render_github(d) + "\n")
        else:
            out.write(diag.render_text(d, texts.get(d.span.file)) + "\n")
    if fmt == "text" and findings:
        errors = sum(1 for d in findings if d.is_error)
        out.write(f"{errors} error(s), {len(findings) - errors} warning(s)\n")


def rule_paths(paths: Sequence[str]) -> list[str | Path]:
    """`default` names the bundled default pack (unless a file of that name exists)."""
    out: list[str | Path] = []
    for p in paths:
        if p == "default" and not Path(p).exists():
            out.extend(default_rule_files())
        else:
            out.append(p)
    return out


def _existing_rule_paths(command: str, names: Sequence[str]) -> list[str | Path] | None:
    """The rule paths a command was given, or None (after saying which) if some don't exist."""
    paths = rule_paths(names)
    missing = [str(p) for p in paths if p != "-" and not Path(p).exists()]
    if missing:
        print(f"ctrules {command}: no such file or directory: {', '.join(missing)}",
              file=sys.stderr)
        return None
    return paths


def cmd_check(args: argparse.Namespace) -> int:
    paths = _existing_rule_paths("check", args.paths)
    if paths is None:
        return 2
    from .checks import check_sources, load_sources

    sources = load_sources(paths)
    files, findings = check_sources(sources)
    print_diagnostics(findings, dict(sources), args.format, sys.stdout)
    if args.format == "text" and not findings:
        # A one-line "all clear" like ruff's, so a clean run is visibly a run.
        rules = sum(1 for f in files for d in f.decls if isinstance(d, n.RuleDecl))
        print(f"All checks passed: {_plural(len(sources), 'file')}, {_plural(rules, 'rule')}")
    return 1 if any(d.is_error for d in findings) else 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# ---- loading for the other commands ------------------------------------------------------------


def _load(paths: Sequence[str | Path]) -> RuleSet | None:
    """Load a rule set, or print why not (with carets) and return None."""
    try:
        return load_rules(list(paths))
    except EmptyRuleSet as err:
        print(f"ctrules: {err}", file=sys.stderr)
        return None
    except RuleSetError as err:
        texts = {}
        for d in err.diagnostics:
            try:
                texts[d.span.file] = Path(d.span.file).read_text("utf-8")
            except OSError:
                pass
        print_diagnostics(blocking(err.diagnostics), texts, "text", sys.stderr)
        return None


# ---- test ------------------------------------------------------------------------------------


def cmd_test(args: argparse.Namespace) -> int:
    from .explain import explain_rule

    paths = _existing_rule_paths("test", args.paths)
    if paths is None:
        return 2
    ruleset = _load(paths)
    if ruleset is None:
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    for result in ruleset.run_examples():
        where = f"{result.span}: " if result.span else ""
        label = f'rule {result.rule}, example "{result.example}"'
        if result.passed:
            passed += 1
            if args.verbose:
                print(f"{where}ok: {label}")
            continue
        failed += 1
        if result.matched != result.expected_match:
            want = "match" if result.expected_match else "no match"
            got = "match" if result.matched else "no match"
            print(f"{where}FAIL: {label}: expected {want}, got {got}")
            decl = ruleset.rule_decl(result.rule)
            example = next(e for e in decl.examples if e.name == result.example)
            trace = explain_rule(decl, ruleset.scope, example.event)
            for line in trace.deciding_lines():
                print(f"    decided by: {line}")
        else:
            print(f"{where}FAIL: {label}: expected routes {list(result.expected_routes or ())},"
                  f" got {list(result.routes or ())}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


# ---- explain ---------------------------------------------------------------------------------


class _Chunks:
    """A file (or stdin) read in 1 MiB chunks, so a large log is never held whole."""

    def __init__(self, name: str):
        if name == "-":
            if sys.stdin is None:  # started with stdin closed (`<&-`)
                raise OSError(9, "standard input is closed")
            self.stream: IO[bytes] = sys.stdin.buffer
        else:
            self.stream = open(name, "rb")  # noqa: SIM115
        self.owned = name != "-"

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.stream.read(1 << 20), b"")

    def __enter__(self) -> _Chunks:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            self.stream.close()


def _read_chunks(name: str) -> _Chunks:
    return _Chunks(name)


def cmd_explain(args: argparse.Namespace) -> int:
    ruleset = _load(rule_paths([args.ruleset]))
    if ruleset is None:
        return 1
    if args.rule and args.rule not in {r.name for r in ruleset.rules}:
        print(f"ctrules explain: no rule named {args.rule!r}", file=sys.stderr)
        return 2
    try:
        chunks = _read_chunks(args.event)
    except OSError as exc:
        print(f"ctrules explain: {exc.strerror or exc}", file=sys.stderr)
        return 2
    with chunks:
        try:
            status = _explain_records(args, ruleset, iter_stream(chunks, args.event))
        except BrokenPipeError:
            raise
        except OSError as exc:
            print(f"ctrules explain: {args.event}: read failed: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
    return status


def _explain_records(args: argparse.Namespace, ruleset: RuleSet,
                     items: Iterator[dict[str, Any] | BadRecord]) -> int:
    from .explain import explain_rule

    status = 0
    # Stateful rules are decided over all the records, after the per-record traces.
    records: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, BadRecord):
            print(f"{item.source}: bad record {item.index}: {item.reason}", file=sys.stderr)
            status = 1
            continue
        if ruleset.stateful_decls:
            records.append(item)
        alerts = {a.rule: a for a in ruleset.evaluate(item)}
        candidates = set(ruleset.candidates_for(item))
        print(f"event {item.get('eventID', '-')}: {item.get('eventSource', '-')} "
              f"{item.get('eventName', '-')}")
        for info in ruleset.rules:
            if args.rule and info.name != args.rule:
                continue
            if info.name not in candidates and not args.rule and not args.all:
                continue
            trace = explain_rule(ruleset.rule_decl(info.name), ruleset.scope, item)
            print(trace.render())
            alert = alerts.get(info.name)
            if alert is not None:
                if alert.ignored:
                    print(f"  suppressed by ignore: {', '.join(alert.ignored_by)}")
                else:
                    print(f"  summary: {alert.summary}")
                    print(f"  routes: {', '.join(ruleset.destinations(alert))}")
        skipped = len(ruleset.rules) - len(candidates)
        if not args.rule and not args.all and skipped:
            print(f"({skipped} rule(s) cannot match this eventSource/eventName; --all shows them)")
        print()
    if ruleset.stateful_decls:
        from .stateful.explain import explain_stateful

        print(explain_stateful(ruleset, records, args.rule))
    return status


# ---- run -------------------------------------------------------------------------------------


def sample_logs() -> list[Path]:
    samples = default_rules_path() / "samples"
    return sorted(p for p in samples.glob("*.json*")) if samples.is_dir() else []


def _expand_logs(names: Sequence[str]) -> Iterator[str]:
    for name in names:
        path = Path(name)
        if name != "-" and path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and (child.name.endswith(".json") or
                                        child.name.endswith(".json.gz") or
                                        child.name.endswith(".jsonl")):
                    yield str(child)
        else:
            yield name


class _Progress:
    """A one-line progress display on an interactive stderr."""

    def __init__(self, total: int, enabled: bool):
        self.total = total
        self.enabled = enabled and total > 1 and sys.stderr.isatty()
        self.last = 0.0

    def update(self, done: int, records: int, alerts: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        sys.stderr.write(f"\r[{done}/{self.total} files] {records} records, {alerts} alerts")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 70 + "\r")


def cmd_run(args: argparse.Namespace) -> int:
    if args.ruleset is None:
        rules_paths: list[str | Path] = list(default_rule_files())
        logs = [str(p) for p in sample_logs()]
        if not args.quiet:
            print(f"ctrules: default rule pack ({len(rules_paths)} files) over the bundled sample "
                  f"log; `ctrules run RULESET LOGS...` for your own", file=sys.stderr)
    else:
        rules_paths = rule_paths([args.ruleset])
        logs = list(_expand_logs(args.logs))
        if not args.logs:
            print("ctrules run: give LOGS (files, directories, or - for stdin)", file=sys.stderr)
            return 2
    ruleset = _load(rules_paths)
    if ruleset is None:
        return 1
    if not ruleset.rules:
        print("ctrules run: warning: the rule set declares no rule; no alert can fire",
              file=sys.stderr)
    sink: Any = None
    if args.deliver:
        sink = _delivery_sink(ruleset)
        if sink is None:
            return 2
    stats = _RunStats()
    progress = _Progress(len(logs), not args.quiet)
    out = sys.stdout.buffer
    # Decoded CloudTrail records hold no reference cycles, so the cyclic collector only costs
    # time here (~20% of a run); the rule set built above is frozen out of its sight.
    gc.freeze()
    stateful = _stateful_run(ruleset)
    # The stateful rules' selection takes part in the lazy reader's choice: a record only it
    # may match comes decoded in part (`Deferred`), whole only if an alert shows it.
    matcher = ruleset if stateful is None else stateful.engine.reader_matcher(ruleset)
    for done, name in enumerate(logs, 1):
        if name != "-" and is_digest_key(name.replace(os.sep, "/")):
            stats.skipped += 1
            print(f"ctrules run: {name}: skipped: a CloudTrail digest file, not a log file",
                  file=sys.stderr)
            continue
        try:
            chunks = _read_chunks(name)
        except OSError as exc:
            stats.bad_files += 1
            print(f"\nctrules run: {name}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            continue
        stats.files += 1
        batch = []
        gc.disable()
        try:
            with chunks:
                # Only the records some rule may match come back whole; the others are
                # counted (`Unmatched`): evaluating them would only confirm that none matches.
                for item in iter_candidates(chunks, name, matcher):
                    if type(item) is not dict:
                        if type(item) is Deferred:  # no per-event rule can match it
                            stats.records += 1
                            stateful.collect(item)
                            continue
                        if isinstance(item, Unmatched):
                            stats.records += len(item)
                            continue
                        assert isinstance(item, BadRecord)
                        stats.bad_records += 1
                        where = f" record {item.index}" if item.index is not None else ""
                        print(f"ctrules run: {item.source}{where}: skipped: {item.reason}",
                              file=sys.stderr)
                        continue
                    stats.records += 1
                    if stateful is not None:
                        stateful.collect(item)
                    for alert in ruleset.evaluate(item):
                        if alert.ignored:
                            for name_ in alert.ignored_by:
                                stats.ignored[name_] += 1
                            if not args.include_ignored:
                                continue
                        else:
                            stats.alerts[alert.rule] += 1
                            batch.append(alert)
                        line, rewritten = alert.to_json()
                        if rewritten:
                            stats.rewritten += 1
                        out.write(line + b"\n")
        except BrokenPipeError:
            raise
        except OSError as exc:
            stats.bad_files += 1
            print(f"\nctrules run: {name}: read failed: {exc.strerror or exc}", file=sys.stderr)
        finally:
            # What the file left alive (its alerts, the stateful state) holds no cycles
            # either: kept out of the collector's sight, or re-enabling it would walk them all.
            gc.freeze()
            gc.enable()
        if sink is not None and batch:
            report = sink.deliver(batch)
            stats.delivery_failures += len(report.failures)
            for failure in report.failures:
                print(f"ctrules run: delivery to {failure.destination} failed: {failure.reason}",
                      file=sys.stderr)
        out.flush()
        progress.update(done, stats.records, sum(stats.alerts.values()))
    progress.close()
    if stateful is not None:
        stateful.finish(out, stats.alerts, sink, args.include_ignored)
        stats.delivery_failures += stateful.delivery_failures
    if not args.quiet:
        stats.print_summary(sys.stderr)
    return 1 if (stats.bad_files or stats.bad_records or stats.delivery_failures) else 0


def _delivery_sink(ruleset: RuleSet) -> Any:
    """The configured sink for `run --deliver`, resolving `ssm:`/`secretsmanager:` references
    as the Lambda handler does; None (after saying why, never a secret) if it cannot be built."""
    from .aws.secrets import SecretError, local_resolver
    from .delivery.factory import SlackConfigError, build_sink

    try:
        return build_sink(ruleset, os.environ, secret_resolver=local_resolver(os.environ))
    except (SlackConfigError, SecretError) as exc:
        print(f"ctrules run: --deliver: {exc}", file=sys.stderr)
        return None


def _stateful_run(ruleset: RuleSet) -> Any:
    if not ruleset.stateful_decls:
        return None
    from .stateful.run import StatefulRun

    return StatefulRun(ruleset)


class _RunStats:
    def __init__(self) -> None:
        self.files = 0
        self.bad_files = 0
        self.records = 0
        self.bad_records = 0
        self.delivery_failures = 0
        self.skipped = 0
        self.rewritten = 0
        self.alerts: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()

    def print_summary(self, out: IO[str]) -> None:
        total = sum(self.alerts.values())
        out.write(f"files: {self.files} read, {self.bad_files} unreadable; records: "
                  f"{self.records}, bad: {self.bad_records}; alerts: {total}\n")
        for rule, count in self.alerts.most_common():
            out.write(f"  alerts  {count:>7}  {rule}\n")
        for ignore, count in self.ignored.most_common():
            out.write(f"  ignored {count:>7}  {ignore}\n")
        if self.skipped:
            out.write(f"skipped: {self.skipped} CloudTrail digest file(s)\n")
        if self.rewritten:
            out.write(f"alerts with values JSON cannot hold (rewritten in the output): "
                      f"{self.rewritten}\n")
        if self.delivery_failures:
            out.write(f"delivery failures: {self.delivery_failures}\n")


if __name__ == "__main__":
    sys.exit(main())
