#!/usr/bin/env python3
"""A/B timing of two builds of losskit's benchmark binary, for refactors that must not slow
anything down: runs the same Google Benchmark cases of binary A (before) and binary B (after)
alternately, `--rounds` times each (A B A B ...), so that both see the same machine state, and
prints per case the median over rounds of each binary's own median, and B / A.

  bench/ab_compare.py OLD/build/bench/losskit_bench build/bench/losskit_bench \
      --filter '(mse|l1|bce)_.*/losskit' --rounds 3

Only the losskit cases are usually worth timing (the libtorch side is the same binary code in
both). The machine should be otherwise idle; the ratios of a noisy shared host still move by a
few percent, so a case is flagged only beyond --tolerance (default 5%).
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile


def run(binary, flt, reps):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([binary, f"--benchmark_filter={flt}", f"--benchmark_out={f.name}",
                        "--benchmark_out_format=json", f"--benchmark_repetitions={reps}",
                        "--benchmark_report_aggregates_only=true"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        data = json.load(open(f.name))
    out = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            out[b["run_name"].split("/min_time")[0]] = b["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0,
                                                                            "s": 1e3}[b["time_unit"]]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--filter", default="/losskit")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--tolerance", type=float, default=0.05)
    args = ap.parse_args()
    times = {"a": {}, "b": {}}
    for r in range(args.rounds):
        for side in ("a", "b"):
            for name, ms in run(getattr(args, side), args.filter, args.repetitions).items():
                times[side].setdefault(name, []).append(ms)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"{'case':44s} {'A ms':>9s} {'B ms':>9s} {'B/A':>7s}")
    worst = 0.0
    for name in times["a"]:
        if name not in times["b"]:
            continue
        a, b = statistics.median(times["a"][name]), statistics.median(times["b"][name])
        ratio = b / a
        worst = max(worst, ratio)
        flag = "  <-- slower" if ratio > 1 + args.tolerance else ""
        print(f"{name:44s} {a:9.3f} {b:9.3f} {ratio:7.3f}{flag}")
    print(f"worst B/A: {worst:.3f} (tolerance {1 + args.tolerance:.2f})")


if __name__ == "__main__":
    main()
