"""Bench — profile one stage of ctrules on the benchmark data, for whoever is optimising it.

    python -m bench.profile                       # evaluate, default pack, 200k events
    python -m bench.profile --rules gen-1000      # 1,000 generated rules
    python -m bench.profile --rules rules/compat --stage evaluate --files 10
    python -m bench.profile --rules gen-1000 --stage load     # check + compile
    python -m bench.profile --stage warmup --rules gen-1000   # dispatch cache filling

Prints the steady-state cost without the profiler (CPU µs/event), then cProfile's top functions;
`--out FILE` keeps the raw profile for snakeviz / pstats.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path
from typing import Any

import ctrules
from bench import rulegen
from bench.__main__ import OUT, decode, default_pack_dir, event_keys, parity_rules_path
from bench.generate import Options, ensure, log_files, parse_count


def rules_path(spec: str) -> Path:
    if spec == "default":
        found = default_pack_dir()
        if found is None:
            raise SystemExit("the default pack (rules/*.ctr) is not there")
        return found
    if spec == "parity":
        return parity_rules_path()
    if spec.startswith("gen-"):
        count = int(spec.removeprefix("gen-"))
        return rulegen.write_rules(rulegen.generate_rules(count), OUT / "rules" / f"{spec}.ctr")
    return Path(spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile",
                                 description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--events", default="200k")
    ap.add_argument("--rules", default="default",
                    help="default, parity, gen-N, or a path to .ctr files")
    ap.add_argument("--stage", choices=("evaluate", "load", "warmup"), default="evaluate")
    ap.add_argument("--files", type=int, default=12, help="log files to profile over")
    ap.add_argument("--limit", type=int, default=25)
    ap.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumtime, ...)")
    ap.add_argument("--out", type=Path, default=None, help="write the raw profile here")
    args = ap.parse_args(argv)
    path = rules_path(args.rules)
    profiler = cProfile.Profile()

    if args.stage == "load":
        t0 = time.process_time()
        ctrules.load_rules(path)
        print(f"load + check + compile {path}: {time.process_time() - t0:.3f} s CPU")
        profiler.runcall(ctrules.load_rules, path)
    else:
        rs = ctrules.load_rules(path)
        probes = event_keys(Options())
        if args.stage == "warmup":
            t0 = time.process_time()
            for p in probes:
                rs.evaluate(p)
            print(f"dispatch warm-up, {len(probes)} keys: {time.process_time() - t0:.3f} s CPU")
            fresh = ctrules.load_rules(path)
            profiler.runcall(lambda: [fresh.evaluate(p) for p in probes])
        else:
            for p in probes:
                rs.evaluate(p)
            events = parse_count(args.events)
            data = OUT / f"data-{args.events}"
            ensure(data, events, Options(), quiet=True)
            records: list[Any] = []
            for f in log_files(data)[: args.files]:
                records += decode(f)[0]
            evaluate = rs.evaluate

            def run() -> None:
                for record in records:
                    evaluate(record)

            best = float("inf")
            for _ in range(3):
                t0 = time.process_time()
                run()
                best = min(best, time.process_time() - t0)
            print(f"{len(records):,} records, {len(rs.rules)} rules: "
                  f"{best / len(records) * 1e6:.2f} µs/event CPU (best of 3, no profiler)")
            profiler.runcall(run)
    stats = pstats.Stats(profiler)
    if args.out:
        stats.dump_stats(str(args.out))
    stats.sort_stats(args.sort).print_stats(args.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
