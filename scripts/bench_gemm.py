#!/usr/bin/python3
"""Side-by-side SGEMM throughput: halo's Sgemm against numpy (OpenBLAS).

Runs, alternating so both see the same machine state, `rounds` times:
  * go test -bench 'FMAPeak|Sgemm/impl=IMPL/' ./tensor   (halo, 1 and 2 threads)
  * the anchor script gemm.py --libs numpy                (OpenBLAS, 1 and 2 threads)
and prints a Markdown table of the best GFLOP/s of each and their ratio, plus
halo against the FMA peaks measured in the same run.

Usage (from the repository root, with Debian's python3-numpy):
    /usr/bin/python3 scripts/bench_gemm.py [--anchor ../shared/bench/gemm.py] [--impl avx512] [--rounds 2]
        [--openblas-coretype SkylakeX]
"""
import argparse
import json
import os
import re
import subprocess
import sys


def run_go(impl, count):
    pat = f"FMAPeak|Sgemm/impl={impl}/"
    out = subprocess.run(["go", "test", "-run", "^$", "-bench", pat, "-count", str(count), "./tensor"],
                         capture_output=True, text=True, check=True).stdout
    best = {}
    for line in out.splitlines():
        m = re.match(r"Benchmark(\S+?)-\d+\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) GFLOP/s", line)
        if m:
            best[m.group(1)] = max(best.get(m.group(1), 0.0), float(m.group(2)))
    return best


def run_numpy(anchor, threads, coretype):
    cmd = [sys.executable, anchor, "--libs", "numpy", "--threads", threads, "--only", "square,conv,linear"]
    env = dict(os.environ)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    best, core = {}, None
    for line in out.splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if r.get("bench") == "env":
            core = r.get("openblas_corename", core)
        if r.get("bench") == "gemm":
            key = (r["name"], r["threads_requested"])
            best[key] = max(best.get(key, 0.0), r["gflops_best"])
    return best, core


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anchor", default=os.path.join("..", "shared", "bench", "gemm.py"))
    ap.add_argument("--impl", default="avx512", help="halo kernel family (avx512, avx2fma)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--count", type=int, default=3, help="go test -count per round")
    ap.add_argument("--openblas-coretype", default="",
                    help="force OpenBLAS's kernel (e.g. SkylakeX) where its own detection picks a weaker one")
    args = ap.parse_args()

    ours, theirs, core = {}, {}, None
    for _ in range(args.rounds):
        for k, v in run_go(args.impl, args.count).items():
            ours[k] = max(ours.get(k, 0.0), v)
        b, core = run_numpy(args.anchor, "1,2", args.openblas_coretype)
        for k, v in b.items():
            theirs[k] = max(theirs.get(k, 0.0), v)

    p256 = ours.get("FMAPeak/width=256", 0.0)
    p512 = ours.get("FMAPeak/width=512", 0.0)
    print(f"FMA peak of one core: {p256:.1f} GFLOP/s (256-bit), {p512:.1f} GFLOP/s (512-bit); "
          f"OpenBLAS core: {core}; halo kernels: {args.impl}\n")
    print("| shape | threads | halo GFLOP/s | numpy/OpenBLAS GFLOP/s | halo / OpenBLAS | halo / 256-bit peak |")
    print("| --- | --- | --- | --- | --- | --- |")
    names = list(dict.fromkeys(k[0] for k in theirs))  # the anchor's order
    for name in names:
        for t in (1, 2):
            o = ours.get(f"Sgemm/impl={args.impl}/threads={t}/{name}")
            n = theirs.get((name, t))
            if o is None or n is None:
                continue
            peak = f"{o / (p256 * t):.2f}" if p256 else "-"
            print(f"| {name} | {t} | {o:.1f} | {n:.1f} | {o / n:.2f} | {peak} |")
    s1 = ours.get(f"Sgemm/impl={args.impl}/threads=1/square_2048")
    s2 = ours.get(f"Sgemm/impl={args.impl}/threads=2/square_2048")
    if s1 and s2:
        print(f"\n2 threads / 1 thread at 2048^3: {s2 / s1:.2f}")


if __name__ == "__main__":
    main()
