#!/usr/bin/python3
"""Writes the image-metric fixtures: frame pairs and the MSE, PSNR and SSIM
that scikit-image computes for them, plus a small set of sequences with
per-sequence and set summaries from NumPy.

Run once from the repository root with Debian's python3 (python3-skimage):

    /usr/bin/python3 scripts/golden_metrics.py

Conventions (PROTOCOLS.md section 5): frames are float32 on [0, 1], stored in
our channel-planar layout [C, H, W]; scikit-image gets them as float64
[H, W, C] (so it computes in double precision, as the Go code does) with
data_range=1 and channel_axis=-1, all other arguments at their defaults
(7x7 uniform window, sample covariance, K1=0.01, K2=0.03). PSNR uses our rule
for identical frames: MSE < 1e-10 gives 100 dB (skimage returns inf).
Set summaries: mean and population standard deviation (ddof=0) over sequences.
"""
import json
import os

import numpy as np
import skimage
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity
from scipy.ndimage import gaussian_filter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "metrics")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20210701)


def metrics(x, y):
    """x, y float32 [C, H, W] -> (mse, psnr, ssim) as skimage computes them."""
    a = np.transpose(x, (1, 2, 0)).astype(np.float64)
    b = np.transpose(y, (1, 2, 0)).astype(np.float64)
    mse = mean_squared_error(a, b)
    psnr = 100.0 if mse < 1e-10 else peak_signal_noise_ratio(a, b, data_range=1)
    if a.shape[2] == 1:
        ssim = structural_similarity(a[:, :, 0], b[:, :, 0], data_range=1)
    else:
        ssim = structural_similarity(a, b, data_range=1, channel_axis=-1)
    return float(mse), float(psnr), float(ssim)


def clip01(v):
    return np.clip(v, 0, 1).astype(np.float32)


pairs = []


def add(name, x, y):
    x, y = clip01(x), clip01(y)
    np.save(os.path.join(OUT, name + "_x.npy"), x)
    np.save(os.path.join(OUT, name + "_y.npy"), y)
    mse, psnr, ssim = metrics(x, y)
    pairs.append({"name": name, "mse": mse, "psnr": psnr, "ssim": ssim})


base = rng.random((3, 64, 64))
smooth = gaussian_filter(rng.random((3, 64, 64)), sigma=(0, 3, 3))
smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
add("noise_small", base, base + rng.normal(0, 0.01, base.shape))
add("noise_large", base, base + rng.normal(0, 0.2, base.shape))
add("smooth_noise", smooth, smooth + rng.normal(0, 0.05, base.shape))
add("smooth_shift", smooth, np.roll(smooth, 2, axis=2))
add("blur", smooth, gaussian_filter(smooth, sigma=(0, 1.5, 1.5)))
add("independent", rng.random((3, 64, 64)), rng.random((3, 64, 64)))
add("identical", smooth, smooth)
add("constant", np.full((3, 64, 64), 0.3), np.full((3, 64, 64), 0.35))
add("black_vs_sprite", np.zeros((3, 64, 64)), (rng.random((3, 64, 64)) > 0.9) * 0.8)
add("gray_28", rng.random((1, 28, 28)), rng.random((1, 28, 28)) * 0.5 + 0.25)
add("minimum_7x7", rng.random((3, 7, 7)), rng.random((3, 7, 7)))
add("rect_9x13", rng.random((2, 9, 13)), rng.random((2, 9, 13)))
add("contrast", smooth, 0.5 + 0.3 * (smooth - 0.5))

# A set: 4 sequences x 5 frames x [3, 16, 16].
N, T, C, H, W = 4, 5, 3, 16, 16
truth = clip01(gaussian_filter(rng.random((N, T, C, H, W)), sigma=(0, 0, 0, 1, 1)) * 2 - 0.4)
noise = np.array([0.01, 0.03, 0.1, 0.3])[:, None, None, None, None] * np.linspace(0.5, 1.5, T)[None, :, None, None, None]
pred = clip01(truth + rng.normal(0, 1, truth.shape) * noise)
np.save(os.path.join(OUT, "set_truth.npy"), truth)
np.save(os.path.join(OUT, "set_pred.npy"), pred)
per = np.array([[metrics(pred[n, t], truth[n, t]) for t in range(T)] for n in range(N)])  # [N, T, 3]
seq_all = per.mean(axis=1)  # [N, 3]
seq_tail = per[:, 1:, :].mean(axis=1)
summary = {
    "per_frame": per.tolist(),
    "mean": seq_all.mean(axis=0).tolist(),
    "std": seq_all.std(axis=0).tolist(),
    "mean_from1": seq_tail.mean(axis=0).tolist(),
    "std_from1": seq_tail.std(axis=0).tolist(),
}
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"skimage": skimage.__version__, "numpy": np.__version__, "pairs": pairs, "set": summary}, f, indent=1)
print("wrote", len(pairs), "pairs and a set of", N, "sequences to", OUT)
