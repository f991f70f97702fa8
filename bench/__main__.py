"""Bench — the benchmark suite: `python -m bench [--events N] [--json out.json]`.

One process, one run, so the ratios hold on a noisy machine: every log file is read and decoded
once, then each measured method evaluates that file's records in turn (the order rotates per
file) — the decode floor, baseline A (flatten + eval of rule strings), baseline B (hand-written
functions), ctrules on the nine parity rules, the default pack, and generated packs of 10, 100
and 1,000 rules. End to end, `ctrules run` over the files and the Lambda handler over the same
files in S3 (moto server) run as child processes that report their own peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

import ctrules
from bench import baselines, rulegen
from bench.generate import Options, ensure, log_files, parse_count
from ctrules.sources.lazy import iter_candidates
from ctrules.sources.logfile import BadRecord, iter_records

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"  # scratch space (gitignored); --work moves it
# In-process timings use this process's CPU time (the machine this runs on is usually shared:
# wall time would charge other tenants' load to whichever method ran at that moment).
# `--clock wall` switches to time.perf_counter.
clock = time.process_time


@dataclass
class Row:
    key: str
    label: str
    events: int = 0
    seconds: float = 0.0
    rules: int | None = None
    note: str = ""

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def us_per_event(self) -> float:
        return self.seconds / self.events * 1e6 if self.events else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["events_per_s"] = round(self.events_per_s, 1)
        d["us_per_event"] = round(self.us_per_event, 3)
        d["seconds"] = round(self.seconds, 4)
        return d


@dataclass
class Method:
    """One way of evaluating a file's records, timed per file."""

    row: Row
    run: Callable[[list[Any]], None]
    sample: bool = False  # evaluates every `stride`-th record only (the slow baselines)
    counts: Counter[str] = field(default_factory=Counter)
    ruleset: Any = None


def event_keys(opts: Options) -> list[dict[str, str]]:
    """One probe record per (eventSource, eventName) the generator can write."""
    from bench.catalog import S3_DATA_EVENTS
    from bench.generate import Model, find_corpus

    model = Model(opts, find_corpus())
    keys = {(t.record.get("eventSource"), t.record.get("eventName")) for t in model.templates}
    keys |= {("s3.amazonaws.com", n) for n in S3_DATA_EVENTS}
    return [{"eventSource": s, "eventName": n} for s, n in sorted(keys, key=str)
            if isinstance(s, str) and isinstance(n, str)]


def warm_up(rs: Any, probes: list[dict[str, str]]) -> float:
    """Seconds to fill the rule set's dispatch cache for every event key (paid once per
    process: the first time each key is seen). Reported apart from the per-event rates."""
    t0 = clock()
    for probe in probes:
        rs.evaluate(probe)
    return clock() - t0


def _ruleset_counter(rs: Any, counts: Counter[str]) -> Callable[[list[Any]], None]:
    """ctrules as `ctrules run` and the consumer call it: `RuleSet.evaluate_many` over the
    records (one call per batch, (record, alerts) back for the records that alert)."""
    evaluate_many = rs.evaluate_many
    # rules/compat/fivexl.ctr names the parity rules fivexl_<name>; count them under <name>.
    rename = {r.name: r.name.removeprefix("fivexl_") for r in rs.rules}

    def run(records: list[Any]) -> None:
        for _, alerts in evaluate_many(records):
            for alert in alerts:
                counts[rename[alert.rule]] += 1

    return run


def _baseline_b_counter(rules: list[tuple[str, baselines.Predicate]],
                        counts: Counter[str]) -> Callable[[list[Any]], None]:
    hits = [0] * len(rules)

    def run(records: list[Any]) -> None:
        hits[:] = [0] * len(rules)
        baselines.baseline_b(records, rules, hits)
        for (name, _), h in zip(rules, hits, strict=True):
            if h:
                counts[name] += h

    return run


def _indexed_counter(rules: list[rulegen.GenRule],
                     counts: Counter[str]) -> Callable[[list[Any]], None]:
    matches = rulegen.indexed(rules)

    def run(records: list[Any]) -> None:
        for record in records:
            hits = matches(record if type(record) is dict else {})
            if hits:
                for name in hits:
                    counts[name] += 1

    return run


def _baseline_a_counter(rules: list[str], names: list[str],
                        counts: Counter[str]) -> Callable[[list[Any]], None]:
    hits = [0] * len(rules)

    def run(records: list[Any]) -> None:
        hits[:] = [0] * len(rules)
        baselines.baseline_a(records, rules, hits)
        for name, h in zip(names, hits, strict=True):
            if h:
                counts[name] += h

    return run


def _touch(records: list[Any]) -> None:
    """What any per-event evaluator pays at least: reaching two fields of every record."""
    for record in records:
        if type(record) is dict:
            record.get("eventSource")
            record.get("eventName")


def decode(path: Path) -> tuple[list[Any], int]:
    """gunzip + orjson, nothing else (the floor); the tolerant decoder only for broken files."""
    data = path.read_bytes()
    raw = gzip.decompress(data)
    try:
        records = orjson.loads(raw)["Records"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        records = [r for r in iter_records(data, str(path)) if not isinstance(r, BadRecord)]
    return records, len(raw)


# ---- rule sets ------------------------------------------------------------------------------


def parity_rules_path() -> Path:
    compat = REPO / "rules" / "compat"
    if compat.is_dir() and any(compat.glob("*.ctr")):
        return compat
    return HERE / "rules" / "parity.ctr"


def default_pack_dir() -> Path | None:
    """A directory holding only the default pack's top-level files (not rules/compat/)."""
    from ctrules.ruleset import default_rule_files

    files = default_rule_files()
    if not files:
        return None
    target = OUT / "rules" / "default"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for f in files:
        shutil.copy(f, target / f.name)
    return target


def _timed_load(path: Path) -> tuple[Any, float]:
    t0 = clock()
    rs = ctrules.load_rules(path)
    return rs, clock() - t0


# ---- child processes ------------------------------------------------------------------------


@dataclass
class Child:
    code: int
    wall: float
    cpu: float  # user + system seconds of the child (from wait4)
    rss: int  # peak RSS bytes, as the child saw it
    stderr: str


def _run_child(cmd: list[str], env: dict[str, str] | None = None) -> Child:
    """Run cmd (stdout discarded). The child writes its own peak RSS to $BENCH_HWM_FILE (see
    bench/child.py); its CPU time comes from wait4."""
    env = dict(env if env is not None else os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as hwm:
        env["BENCH_HWM_FILE"] = hwm.name
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-2000:].decode(errors="replace")
        try:
            rss = int(Path(hwm.name).read_text() or 0)
        except (OSError, ValueError):
            rss = 0
    return Child(proc.returncode, wall, usage.ru_utime + usage.ru_stime, rss, tail)


def ctrules_cmd() -> list[str]:
    """`ctrules` as a child that reports its peak RSS (same code path as the console script)."""
    return [sys.executable, "-m", "bench.child"]


def child_row(key: str, label: str, events: int, c: Child) -> Row:
    note = f"peak RSS {c.rss / 2**20:.0f} MiB, wall {c.wall:.1f}s"
    if c.code != 0:
        note += f"; exit {c.code}: {c.stderr.strip().splitlines()[-1] if c.stderr.strip() else ''}"
    return Row(key, label, events, c.cpu if clock is time.process_time else c.wall, note=note)


def run_e2e(ruleset: Path, files: list[Path], events: int, label: str) -> Row:
    c = _run_child([*ctrules_cmd(), "run", str(ruleset), *map(str, files)])
    return child_row("e2e_run", label, events, c)


def memory_per_file(ruleset: Path, big: Path, big_decoded: int, data_dir: Path) -> dict[str, Any]:
    """Peak RSS of `ctrules run` on the largest file minus that on a one-record file."""
    tiny = OUT / "tiny.json"
    tiny.write_text(json.dumps({"Records": [{"eventVersion": "1.09", "eventName": "ListBuckets",
                                             "eventSource": "s3.amazonaws.com"}]}))
    idle = _run_child([*ctrules_cmd(), "run", str(ruleset), str(tiny)]).rss
    peak = _run_child([*ctrules_cmd(), "run", str(ruleset), str(big)]).rss
    return {
        "file": str(big.relative_to(data_dir)),
        "compressed_bytes": big.stat().st_size,
        "decoded_bytes": big_decoded,
        "idle_rss_bytes": idle,
        "peak_rss_bytes": peak,
        "extra_rss_bytes": peak - idle,
        "extra_rss_per_decoded_byte": round((peak - idle) / big_decoded, 2) if big_decoded else None,
    }


def run_lambda(data_dir: Path, files: list[Path], events: int,
               rules_dir: Path) -> tuple[Row | None, dict[str, Any]]:
    """The Lambda handler fetching every file from S3 (moto server over HTTP), one invocation
    per file, in a child process; moto runs in this process."""
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        return None, {"skipped": f"moto/boto3 not installed: {exc}"}
    if not (REPO / "ctrules" / "aws" / "handler.py").exists():
        return None, {"skipped": "ctrules/aws/handler.py not there yet"}
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
             "AWS_REGION": "us-east-1"}
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.session.Session().client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106
        bucket = "bench-cloudtrail"
        s3.create_bucket(Bucket=bucket)
        keys = []
        for f in files:
            key = str(f.relative_to(data_dir))
            s3.put_object(Bucket=bucket, Key=key, Body=f.read_bytes())
            keys.append((key, f.stat().st_size))
        keys_path = OUT / "lambda-keys.json"
        result_path = OUT / "lambda-result.json"
        keys_path.write_text(json.dumps(keys))
        result_path.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CTRULES_"))}
        env.update(creds)
        env.update({"AWS_ENDPOINT_URL": endpoint, "CTRULES_RULES": str(rules_dir),
                    "CTRULES_METRICS_NAMESPACE": "", "CTRULES_LOG_LEVEL": "WARNING"})
        c = _run_child([sys.executable, "-m", "bench.lambda_driver", bucket, str(keys_path),
                        str(result_path)], env=env)
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError):
            return None, {"failed": f"exit {c.code}", "stderr": c.stderr}
        # Work only (the cold start is reported apart); the handler's own CPU time, since
        # the S3 server's share runs in this process.
        spent = result["cpu_work_s"] if clock is time.process_time else result["work_s"]
        row = Row("e2e_lambda", "end to end: Lambda handler (warm), S3 via moto", events, spent,
                  note=f"peak RSS {c.rss / 2**20:.0f} MiB, wall {result['work_s']:.1f}s; "
                       f"cold start {result['cold_start_s']:.2f}s")
        info = dict(result, exit=c.code, peak_rss_bytes=c.rss, wall_s=c.wall, cpu_s=c.cpu)
        if c.code != 0:
            info["stderr"] = c.stderr
        return row, info
    finally:
        server.stop()


# ---- reporting -----------------------------------------------------------------------------


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=False, timeout=10)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "ctrules", "rules"],
                               capture_output=True, text=True, check=False, timeout=10)
        return out.stdout.strip() + ("+uncommitted ctrules/rules changes" if dirty.stdout.strip()
                                     else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu or platform.processor(),
            "python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), "orjson": orjson.__version__}


def table(rows: list[Row]) -> str:
    head = f"{'measurement':<58} {'events':>10} {'seconds':>9} {'events/s':>11} {'µs/event':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.label:<58} {r.events:>10,} {r.seconds:>9.3f} {r.events_per_s:>11,.0f} "
                     f"{r.us_per_event:>9.2f}" + (f"  {r.note}" if r.note else ""))
    return "\n".join(lines)


def ratio_lines(ratios: list[dict[str, Any]]) -> str:
    lines = []
    for r in ratios:
        value = "n/a" if r["value"] is None else f"{r['value']:.2f}"
        verdict = "" if r.get("met") is None else ("  MET" if r["met"] else "  NOT MET")
        lines.append(f"{r['name']:<58} {value:>10}   target {r['target']}{verdict}")
    return "\n".join(lines)


# ---- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0]
                                 if __doc__ else None)
    ap.add_argument("--events", default="200k", help="records to generate (10k … 10M)")
    ap.add_argument("--data", type=Path, default=None,
                    help="data directory (default bench/out/data-<events>; reused if it matches)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--s3-data-events", type=float, default=0.0, metavar="SHARE")
    ap.add_argument("--malformed", type=float, default=0.0, metavar="SHARE")
    ap.add_argument("--max-records", type=int, default=20000, help="largest file, in records")
    ap.add_argument("--rules", default="parity,default,gen",
                    help="comma list of parity, default, gen (default: all)")
    ap.add_argument("--gen-counts", default="10,100,1000")
    ap.add_argument("--sample", type=int, default=20000,
                    help="events given to the slow baselines (A, and B at 1,000 rules)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each method per file; the fastest counts (load spikes on a "
                         "shared machine inflate single runs)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="cpu: CPU seconds of the measured process (default; robust on a shared "
                         "machine); wall: elapsed time")
    ap.add_argument("--no-e2e", action="store_true", help="skip `ctrules run` and the handler")
    ap.add_argument("--no-lambda", action="store_true", help="skip the Lambda handler run")
    ap.add_argument("--no-load", action="store_true",
                    help="skip the loading measurements (cold start, 1,000 unknown names, "
                         "5,000-clause or)")
    ap.add_argument("--no-memory", action="store_true",
                    help="skip the per-file peak-memory runs of `ctrules run`")
    ap.add_argument("--work", type=Path, default=None,
                    help="scratch directory for data, rule files and results (default bench/out)")
    ap.add_argument("--json", type=Path, default=None, help="write results here "
                    "(default bench/out/results-<events>.json)")
    args = ap.parse_args(argv)
    global OUT, clock
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.work is not None:
        OUT = args.work.resolve()
    wanted = {w.strip() for w in args.rules.split(",") if w.strip()}
    events = parse_count(args.events)
    data_dir = args.data or OUT / f"data-{args.events}"
    OUT.mkdir(parents=True, exist_ok=True)
    opts = Options(seed=args.seed, s3_data=args.s3_data_events, malformed=args.malformed,
                   max_records=args.max_records, min_records=min(300, args.max_records))
    t0 = time.perf_counter()
    manifest = ensure(data_dir, events, opts, quiet=True)
    gen_s = time.perf_counter() - t0
    files = log_files(data_dir)
    print(f"data: {manifest.events:,} events in {len(files)} files under {data_dir} "
          f"({manifest.compressed_bytes / 1e6:.1f} MB gz, {manifest.decompressed_bytes / 1e6:.1f} "
          f"MB JSON; generated in {manifest.seconds:.1f}s)", file=sys.stderr)
    stride = max(1, events // max(1, args.sample))

    methods: list[Method] = [Method(Row("touch", "touch floor: read eventSource, eventName"),
                                    _touch)]
    # The lazy path reads and decodes the file itself, so it is timed next to the floor.
    lazy_rows: list[Row] = []
    lazy_rulesets: list[Any] = []
    loads: dict[str, float] = {}
    notes: list[str] = []
    parity_names = baselines.PARITY_NAMES
    parity_path = parity_rules_path()
    if "parity" in wanted:
        a = Method(Row("baseline_a_9", "A: flatten + eval(rule string), 9 parity rules",
                       rules=9), lambda r: None, sample=True)
        a.run = _baseline_a_counter(baselines.fivexl_rules(), parity_names, a.counts)
        b = Method(Row("baseline_b_9", "B: hand-written Python, 9 parity rules", rules=9),
                   lambda r: None)
        b.run = _baseline_b_counter(baselines.PARITY_B, b.counts)
        rs9, loads["parity"] = _timed_load(parity_path)
        c = Method(Row("ctrules_9", "ctrules, 9 parity rules", rules=len(rs9.rules)),
                   lambda r: None)
        c.run = _ruleset_counter(rs9, c.counts)
        c.ruleset = rs9
        # A's sample again through ctrules, to check A and ctrules agree on the same events.
        c_on_a = Method(Row("ctrules_9_sample", "(check) ctrules on A's sample", rules=9),
                        lambda r: None, sample=True)
        c_on_a.run = _ruleset_counter(rs9, c_on_a.counts)
        methods += [a, b, c, c_on_a]
    default_dir = default_pack_dir() if ("default" in wanted or not args.no_e2e) else None
    if "default" in wanted:
        if default_dir is None:
            notes.append("default pack: rules/*.ctr not there yet — skipped")
        else:
            rsd, loads["default"] = _timed_load(default_dir)
            d = Method(Row("ctrules_default", f"ctrules, default pack ({len(rsd.rules)} rules)",
                           rules=len(rsd.rules)), lambda r: None)
            d.run = _ruleset_counter(rsd, d.counts)
            d.ruleset = rsd
            methods.append(d)
            lazy_rows.append(Row("lazy_default", "lazy path: read + gunzip + partial decode + "
                                 "default pack", rules=len(rsd.rules)))
            lazy_rulesets.append(rsd)
            # The reader alone, choosing for the per-event and the stateful rules as `ctrules
            # run` does (no evaluation): what decoding costs next to the floor's.
            lazy_rows.append(Row("lazy_reader", "lazy reader only (default pack + its "
                                 "stateful rules' selection)", rules=len(rsd.rules)))
            lazy_rulesets.append(_ReaderOnly(rsd))
    gen_counts = [int(x) for x in args.gen_counts.split(",") if x.strip()] if "gen" in wanted \
        else []
    gen_all = rulegen.generate_rules(max(gen_counts)) if gen_counts else []
    for count in gen_counts:
        subset = gen_all[:count]
        path = rulegen.write_rules(subset, OUT / "rules" / f"gen-{count}.ctr")
        rsg, loads[f"gen_{count}"] = _timed_load(path)
        g = Method(Row(f"ctrules_gen_{count}", f"ctrules, {count:,} generated rules",
                       rules=count), lambda r: None)
        g.run = _ruleset_counter(rsg, g.counts)
        g.ruleset = rsg
        big = count >= 1000
        bg = Method(Row(f"baseline_b_gen_{count}", f"B: hand-written Python, {count:,} generated"
                        + (" (sampled)" if big else ""), rules=count), lambda r: None,
                    sample=big)
        bg.run = _baseline_b_counter([(x.name, x.python) for x in subset], bg.counts)
        bi = Method(Row(f"baseline_b_idx_{count}", f"B indexed by eventName, {count:,} generated",
                        rules=count), lambda r: None)
        bi.run = _indexed_counter(subset, bi.counts)
        methods += [g, bg, bi]
        if big:
            g_s = Method(Row(f"ctrules_gen_{count}_sample", f"(check) ctrules {count} on sample",
                             rules=count), lambda r: None, sample=True)
            g_s.run = _ruleset_counter(rsg, g_s.counts)
            methods.append(g_s)

    # The dispatch cache is filled the first time each event key is seen; that cost grows with
    # rules x keys and is paid once per process, so it is measured here, on its own.
    probes = event_keys(opts)
    warmups = {m.row.key: warm_up(m.ruleset, probes) for m in methods
               if m.ruleset is not None and not m.row.key.endswith("_sample")}

    floor = Row("decode_floor", "floor: read + gunzip + orjson full decode")
    total = 0
    decoded_sizes: dict[Path, int] = {}
    t_suite = time.perf_counter()
    repeat = max(1, args.repeat)
    records: list[Any] = []
    for i, path in enumerate(files):
        best = float("inf")
        for _ in range(repeat):
            del records  # freeing the previous file's records is not decoding
            # Neither decoder is charged for the cyclic collector walking this process's heap
            # (`ctrules run` and the lazy reader turn it off while decoding, too).
            gc.disable()
            t = clock()
            records, raw_len = decode(path)
            best = min(best, clock() - t)
            gc.enable()
        floor.seconds += best
        floor.events += len(records)
        for lazy_row, lazy_rs in zip(lazy_rows, lazy_rulesets, strict=True):
            best = float("inf")
            for _ in range(repeat):
                t = clock()
                _lazy_run(path, lazy_rs)
                best = min(best, clock() - t)
            lazy_row.seconds += best
            lazy_row.events += len(records)
        decoded_sizes[path] = raw_len
        total += len(records)
        sample = records[::stride] if stride > 1 else records
        order = methods[i % len(methods):] + methods[: i % len(methods)] if methods else []
        for m in order:
            batch = sample if m.sample else records
            best = float("inf")
            for r in range(repeat):
                if r == 1:
                    counted = Counter(m.counts)  # count matches once, time every run
                t = clock()
                m.run(batch)
                best = min(best, clock() - t)
            if repeat > 1:
                m.counts.clear()
                m.counts.update(counted)
            m.row.seconds += best
            m.row.events += len(batch)
        print(f"\r{i + 1}/{len(files)} files", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    suite_s = time.perf_counter() - t_suite

    for m in methods:
        if m.ruleset is not None and m.row.events:
            m.row.note = f"alerts on {sum(m.counts.values()) / m.row.events:.2%} of events"
    rows = [floor, *lazy_rows] + [m.row for m in methods if not m.row.key.endswith("_sample")]
    by_key = {m.row.key: m for m in methods}
    agreement: dict[str, Any] = {}
    if "ctrules_9" in by_key:
        agreement["parity_b_vs_ctrules"] = _agree(by_key["baseline_b_9"].counts,
                                                  by_key["ctrules_9"].counts, parity_names)
        agreement["parity_a_vs_ctrules_on_sample"] = _agree(
            by_key["baseline_a_9"].counts, by_key["ctrules_9_sample"].counts, parity_names)
        agreement["parity_matches"] = {n: by_key["ctrules_9"].counts[n] for n in parity_names}
    for count in gen_counts:
        names = [x.name for x in gen_all[:count]]
        if count >= 1000:
            agreement[f"gen_{count}_b_vs_ctrules_on_sample"] = _agree(
                by_key[f"baseline_b_gen_{count}"].counts,
                by_key[f"ctrules_gen_{count}_sample"].counts, names)
        else:
            agreement[f"gen_{count}_b_vs_ctrules"] = _agree(
                by_key[f"baseline_b_gen_{count}"].counts, by_key[f"ctrules_gen_{count}"].counts,
                names)
        agreement[f"gen_{count}_b_indexed_vs_ctrules"] = _agree(
            by_key[f"baseline_b_idx_{count}"].counts, by_key[f"ctrules_gen_{count}"].counts, names)

    # In-process pipeline: decode + the default pack (what `ctrules run` does, minus output).
    if "ctrules_default" in by_key:
        d = by_key["ctrules_default"].row
        rows.append(Row("inprocess_default", "in-process: decode + default pack", total,
                        floor.seconds + d.seconds))

    e2e_info: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    e2e_rules = default_dir or parity_path
    if not args.no_e2e:
        print("end to end: decode floor in a child process ...", file=sys.stderr)
        c = _run_child([sys.executable, "-m", "bench.floor", *map(str, files)])
        rows.append(child_row("decode_floor_process",
                              "decode floor, own process (start + all files)", total, c))
        print("end to end: ctrules run ...", file=sys.stderr)
        label = "end to end: `ctrules run`, " + ("default pack" if default_dir else "parity rules")
        rows.append(run_e2e(e2e_rules, files, total, label))
        if not args.no_memory:
            big = max(files, key=lambda p: decoded_sizes[p])
            memory = memory_per_file(e2e_rules, big, decoded_sizes[big], data_dir)
        if not args.no_lambda:
            print("end to end: Lambda handler via moto ...", file=sys.stderr)
            lrow, e2e_info = run_lambda(data_dir, files, total, e2e_rules)
            if lrow is not None:
                rows.append(lrow)
            else:
                notes.append(f"Lambda handler: {e2e_info}")

    R = {r.key: r for r in rows}

    def us(key: str) -> float | None:
        r = R.get(key)
        return r.us_per_event if r and r.events else None

    def ratio(num: float | None, den: float | None) -> float | None:
        return num / den if num is not None and den else None

    ratios = [
        _ratio("ctrules vs A (speed-up), 9 parity rules", ratio(us("baseline_a_9"),
                                                                 us("ctrules_9")), ">= 200", 200),
        _ratio("ctrules vs B (speed-up), 9 parity rules", ratio(us("baseline_b_9"),
                                                                 us("ctrules_9")), "(info)"),
        _ratio("ctrules vs B (speed-up), 100 generated rules",
               ratio(us("baseline_b_gen_100"), us("ctrules_gen_100")), "> 1", 1.0, strict=True),
        _ratio("ctrules vs B (speed-up), 1,000 generated rules",
               ratio(us("baseline_b_gen_1000"), us("ctrules_gen_1000")), "(info)"),
        _ratio("ctrules vs B indexed by eventName, 100 generated rules",
               ratio(us("baseline_b_idx_100"), us("ctrules_gen_100")), "(info)"),
        _ratio("ctrules vs B indexed by eventName, 1,000 generated rules",
               ratio(us("baseline_b_idx_1000"), us("ctrules_gen_1000")), "(info)"),
        _ratio("lazy path (in process) vs gunzip+orjson floor (speed-up)",
               ratio(us("decode_floor"), us("lazy_default")), "(info)"),
        _ratio("lazy reader alone (in process) vs gunzip+orjson floor (speed-up)",
               ratio(us("decode_floor"), us("lazy_reader")), "(info)"),
        _ratio("end-to-end `ctrules run` vs floor process (speed-up)",
               ratio(us("decode_floor_process"), us("e2e_run")), ">= 2.5", 2.5),
        _ratio("end-to-end `ctrules run` / in-process decode floor",
               ratio(us("decode_floor"), us("e2e_run")), "(info)"),
        _ratio("in-process decode+default pack / decode floor",
               ratio(us("decode_floor"), us("inprocess_default")), "(info)"),
        _ratio("Lambda handler (warm, S3 over HTTP) vs floor process (speed-up)",
               ratio(us("decode_floor_process"), us("e2e_lambda")), ">= 2", 2.0),
        _ratio("rule cost at 1,000 rules / at 10 rules", ratio(us("ctrules_gen_1000"),
                                                                us("ctrules_gen_10")),
               "<= 3", 3.0, lower=True),
        _ratio("rule cost at 100 rules / at 10 rules", ratio(us("ctrules_gen_100"),
                                                              us("ctrules_gen_10")), "(info)"),
    ]
    loading: dict[str, Any] = {}
    if not args.no_load:
        print("loading: cold start, 1,000 unknown names, 5,000-clause or ...", file=sys.stderr)
        from bench import loading as load_bench

        loading = {"cold_start": load_bench.cold_start(),
                   "cold_start_fresh_home": load_bench.cold_start(fresh_home=True),
                   **load_bench.load_times()}
        or_parts = [loading.get(k) for k in ("or_5000_load_s", "or_5000_evaluate_s",
                                              "or_5000_check_s")]
        ratios += [
            _ratio("cold start: import + default pack (CPU s)",
                   loading["cold_start"]["total_s"], "< 0.3", 0.3, lower=True),
            _ratio("load 1,000 rules with unknown event names (s)",
                   loading["unknown_1000_load_s"], "< 1", 1.0, lower=True),
            _ratio("check 1,000 rules with unknown event names (s)",
                   loading["unknown_1000_check_s"], "(info)"),
            _ratio("5,000-clause or: load + evaluate + check (s)",
                   sum(or_parts) if all(p is not None for p in or_parts) else None, "< 1", 1.0,
                   lower=True),
        ]
    if memory:
        ratios.append(_ratio("peak RSS growth per decoded byte (largest file)",
                             memory.get("extra_rss_per_decoded_byte"), "small multiple"))

    print()
    print(table(rows))
    print()
    print(ratio_lines(ratios))
    if memory:
        print(f"\nlargest file: {memory['decoded_bytes'] / 1e6:.1f} MB decoded, "
              f"`ctrules run` peak RSS {memory['peak_rss_bytes'] / 2**20:.0f} MiB vs "
              f"{memory['idle_rss_bytes'] / 2**20:.0f} MiB on a one-record file")
    bad = {k: v for k, v in agreement.items() if isinstance(v, dict) and v.get("agree") is False}
    print("\nresult agreement (same matches per rule): "
          + ("all agree" if not bad else f"DISAGREE: {json.dumps(bad)[:800]}"))
    print(f"\ndispatch warm-up, first sight of {len(probes)} event keys (not in the rates above): "
          + ", ".join(f"{k.removeprefix('ctrules_')} {v:.2f}s" for k, v in warmups.items()))
    print("rule load + compile: " + ", ".join(f"{k} {v:.2f}s" for k, v in loads.items()))
    if loading:
        errors = {k: v for k, v in loading.items() if k.endswith("_error") and v}
        print("loading: " + json.dumps({k: v for k, v in loading.items()
                                        if not k.endswith("_error")}, default=str)
              + (f" errors: {errors}" if errors else ""))
    for note in notes:
        print(f"note: {note}")
    result = {
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "commit": git_commit(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": asdict(manifest) | {"dir": str(data_dir), "prepare_seconds": round(gen_s, 2)},
        "clock": args.clock,
        "repeat": args.repeat,
        "stride_for_sampled": stride,
        "rule_load_seconds": {k: round(v, 3) for k, v in loads.items()},
        "dispatch_warmup": {"event_keys": len(probes),
                            "seconds": {k: round(v, 3) for k, v in warmups.items()}},
        "rows": [r.to_dict() for r in rows],
        "ratios": ratios,
        "memory_per_file": memory,
        "loading": loading,
        "lambda": e2e_info,
        "agreement": agreement,
        "notes": notes,
        "suite_seconds": round(suite_s, 2),
    }
    out_json = args.json or OUT / f"results-{args.events}.json"
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {out_json}")
    return 1 if bad else 0


class _ReaderOnly:
    """The lazy reader's choice as `ctrules run` makes it, without evaluating the records."""

    def __init__(self, ruleset: Any):
        from ctrules.sources.lazy import AnyOf
        from ctrules.stateful.run import StatefulRun

        stateful = StatefulRun(ruleset) if ruleset.stateful_decls else None
        self.matcher = ruleset if stateful is None else AnyOf(ruleset, stateful.engine.selector)


def _lazy_run(path: Path, ruleset: Any) -> None:
    """What `ctrules run` does per file: read it, decode lazily, evaluate the records some
    rule may match (the others come back only counted, as `Unmatched`)."""
    if isinstance(ruleset, _ReaderOnly):
        for _ in iter_candidates([path.read_bytes()], str(path), ruleset.matcher):
            pass
        return
    items = iter_candidates([path.read_bytes()], str(path), ruleset)
    for _ in ruleset.evaluate_many(item for item in items if type(item) is dict):
        pass


def _agree(a: Counter[str], b: Counter[str], names: list[str]) -> dict[str, Any]:
    diff = {n: [a[n], b[n]] for n in names if a[n] != b[n]}
    return {"agree": not diff, "differences": diff}


def _ratio(name: str, value: float | None, target: str, bound: float | None = None,
           lower: bool = False, strict: bool = False) -> dict[str, Any]:
    met = None
    if bound is not None and value is not None:
        met = value <= bound if lower else (value > bound if strict else value >= bound)
    return {"name": name, "value": None if value is None else round(value, 3),
            "target": target, "met": met}


if __name__ == "__main__":
    raise SystemExit(main())
