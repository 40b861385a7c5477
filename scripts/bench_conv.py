#!/usr/bin/python3
"""Side-by-side convolution layers: halo against PyTorch on the CPU, alternated.

For each round, and each chosen layer of the mnist and sprites presets, this
times PyTorch's forward + backward (weight, bias and, except for a first
layer, input gradients: torch_halo.py --bench layers' method, fastest of
--steps after 2 warm-up steps) and then halo's
(go test -bench 'ConvLayers/ARCH/LAYER/fwdbwd' -benchtime 1x -count N, the
fastest), so that both see the same state of a shared machine. It prints
each round's ratio and a Markdown table of the best times over all rounds,
with the median and the worst of the rounds' ratios (each round's two
timings are taken seconds apart, so its ratio is the fairer
single reading on a shared machine; the best times may come from
different rounds).

Usage (from the repository root, with Debian's python3-torch):
    /usr/bin/python3 scripts/bench_conv.py [--layers mnist/enc.conv3,sprites/enc.conv5] [--rounds 3]
        [--threads 2] [--steps 6] [--count 3]
"""
import argparse
import re
import statistics
import subprocess
import sys
import time

# arch/layer: (kind, frames, Cin, H=W, Cout, k, stride, pad, output_padding); as
# haloConvLayers in tensor/conv_bench_test.go and the presets of torch_halo.py.
MN, SP = 24 * 16, 24 * 8
LAYERS = {
    "mnist/enc.conv1": ("conv", MN, 1, 28, 128, 5, 2, 2, 0),
    "mnist/enc.conv2": ("conv", MN, 128, 14, 128, 5, 2, 2, 0),
    "mnist/enc.conv3": ("conv", MN, 128, 7, 128, 5, 2, 2, 0),
    "mnist/dec.convT1": ("convT", MN, 128, 4, 128, 3, 1, 0, 0),
    "mnist/dec.convT2": ("convT", MN, 128, 6, 128, 5, 2, 1, 0),
    "mnist/dec.convT3": ("convT", MN, 128, 13, 128, 5, 2, 1, 1),
    "mnist/dec.convT4": ("convT", MN, 128, 28, 1, 5, 1, 2, 0),
    "sprites/enc.conv1": ("conv", SP, 3, 64, 256, 5, 1, 2, 0),
    "sprites/enc.conv2": ("conv", SP, 256, 64, 256, 5, 2, 2, 0),
    "sprites/enc.conv3": ("conv", SP, 256, 32, 256, 5, 2, 2, 0),
    "sprites/enc.conv4": ("conv", SP, 256, 16, 256, 5, 2, 2, 0),
    "sprites/enc.conv5": ("conv", SP, 256, 8, 256, 5, 1, 2, 0),
    "sprites/dec.convT1": ("convT", SP, 256, 8, 256, 5, 2, 2, 1),
    "sprites/dec.convT2": ("convT", SP, 256, 16, 256, 5, 2, 2, 1),
    "sprites/dec.convT3": ("convT", SP, 256, 32, 256, 5, 2, 2, 1),
    "sprites/dec.convT4": ("convT", SP, 256, 64, 3, 5, 1, 2, 0),
}


def torch_time(torch, name, steps):
    kind, n, cin, hw, cout, k, s, p, op = LAYERS[name]
    if kind == "conv":
        m = torch.nn.Conv2d(cin, cout, k, s, p)
    else:
        m = torch.nn.ConvTranspose2d(cin, cout, k, s, p, op)
    first = name.endswith("enc.conv1")
    x = torch.randn(n, cin, hw, hw, requires_grad=not first)
    with torch.no_grad():
        gy = torch.randn_like(m(x))

    def step():
        for q in m.parameters():
            q.grad = None
        x.grad = None
        m(x).backward(gy)

    for _ in range(2):
        step()
    best = float("inf")
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return best


def halo_time(name, count):
    arch, layer = name.split("/")
    pat = f"ConvLayers/{arch}/{re.escape(layer)}$/fwdbwd"
    out = subprocess.run(["go", "test", "./tensor", "-run", "^$", "-bench", pat, "-benchtime", "1x",
                          "-count", str(count)], capture_output=True, text=True, check=True).stdout
    times = [float(m.group(1)) / 1e9 for m in re.finditer(r"ConvLayers/\S+\s+1\s+(\d+) ns/op", out)]
    if not times:
        sys.exit(f"bench_conv.py: no ConvLayers result for {name} in:\n{out}")
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="mnist/enc.conv2,mnist/enc.conv3,sprites/enc.conv4,sprites/enc.conv5",
                    help="comma-separated arch/layer names: " + ", ".join(LAYERS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads; halo runs with GOMAXPROCS as set")
    ap.add_argument("--steps", type=int, default=6, help="timed PyTorch steps per round")
    ap.add_argument("--count", type=int, default=3, help="halo runs per round")
    args = ap.parse_args()
    names = [s.strip() for s in args.layers.split(",") if s.strip()]
    for name in names:
        if name not in LAYERS:
            sys.exit(f"bench_conv.py: unknown layer {name!r}; known: {', '.join(LAYERS)}")
    import torch
    torch.set_num_threads(args.threads)
    best, ratios = {}, {}
    for r in range(args.rounds):
        for name in names:
            t = torch_time(torch, name, args.steps)
            h = halo_time(name, args.count)
            print(f"round {r + 1} {name}: PyTorch {t * 1e3:.1f} ms, halo {h * 1e3:.1f} ms, halo/PyTorch {h / t:.2f}",
                  flush=True)
            ratios.setdefault(name, []).append(h / t)
            bt, bh = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(bt, t), min(bh, h))
    print(f"\nPyTorch {torch.__version__}, {args.threads} threads; best of {args.rounds} rounds\n")
    print("| layer | PyTorch (ms) | halo (ms) | halo / PyTorch | rounds' ratios: median, worst |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        t, h = best[name]
        rs = sorted(ratios[name])
        print(f"| {name} | {t * 1e3:.1f} | {h * 1e3:.1f} | {h / t:.2f} | {statistics.median(rs):.2f}, {rs[-1]:.2f} |")


if __name__ == "__main__":
    main()
