#!/usr/bin/python3
"""Writes the data-set fixtures: splitmix64 outputs and the Fisher-Yates
split of PROTOCOLS.md section 3.5 computed with Python integers, and
bilinear rotations from scikit-image for the rotating-MNIST rule.

Run once from the repository root with Debian's python3:

    /usr/bin/python3 scripts/golden_data.py

Rotation reference: skimage.transform.rotate(img, degrees, order=1,
mode="constant", cval=0) turns counter-clockwise about ((cols-1)/2,
(rows-1)/2) in index coordinates, i.e. (14, 14) with pixel centres at
(x+0.5, y+0.5) for a 28x28 image, as PROTOCOLS.md section 2 asks.
"""
import json
import os

import numpy as np
from skimage.transform import rotate
from scipy.ndimage import gaussian_filter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "data")
M64 = (1 << 64) - 1


def splitmix64(seed):
    st = seed
    while True:
        st = (st + 0x9E3779B97F4A7C15) & M64
        z = st
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def perm(n, seed):
    g = splitmix64(seed)
    p = list(range(n))
    for i in range(n - 1, 0, -1):
        j = next(g) % (i + 1)
        p[i], p[j] = p[j], p[i]
    return p


g0 = splitmix64(0)
g423 = splitmix64(423)
p423 = perm(1296, 423)
out = {
    "seed0_first": [str(next(g0)) for _ in range(5)],
    "seed423_float": [repr((next(g423) >> 11) * 2.0 ** -53) for _ in range(5)],
    "psprites_train": p423[:1000],
    "psprites_test": p423[1000:],
    "perm_6131_seed42_first756": perm(6131, 42)[:756],
}
with open(os.path.join(OUT, "splitmix.json"), "w") as f:
    json.dump(out, f)

rng = np.random.default_rng(1607)
img = gaussian_filter(rng.random((28, 28)), 1.2)
img = (img - img.min()) / (img.max() - img.min())
img[:, :3] = 0
img[0, :] = 1  # a bright edge row exercises the zero padding
img = img.astype(np.float32)
rot = np.stack([rotate(img.astype(np.float64), 360.0 * k / 16, order=1, mode="constant", cval=0)
                for k in range(16)]).astype(np.float64)
os.makedirs(os.path.join(OUT, "rotate"), exist_ok=True)
np.save(os.path.join(OUT, "rotate", "src.npy"), img)
np.save(os.path.join(OUT, "rotate", "rotated.npy"), rot)
print("wrote splitmix.json and rotate/")

# A miniature of the real Sprites layout (PROTOCOLS.md section 3.1): 2
# characters, 8 frames of 4x4 RGB, float32 NTHWC frames holding uint8/256
# values and one-hot [N, 8, 4, 6] attributes; plus NumPy's NTCHW transpose of
# the nine files concatenated (motion-major), which the loader must return.
sp = os.path.join(OUT, "sprites")
os.makedirs(sp, exist_ok=True)
actions, directions = ["walk", "spellcard", "slash"], ["front", "left", "right"]
attrs = np.array([[1, 4, 0, 5], [3, 2, 5, 0]])
expected = []
for a, an in enumerate(actions):
    for d, dn in enumerate(directions):
        k = 3 * a + d
        n, t, h, w, c = np.meshgrid(np.arange(2), np.arange(8), np.arange(4), np.arange(4), np.arange(3), indexing="ij")
        frames = (((n * 7 + t * 13 + h * 17 + w * 19 + c * 23 + k * 29) % 256) / 256.0).astype(np.float32)
        np.save(os.path.join(sp, f"{an}_{dn}_frames_train.npy"), frames)
        onehot = np.zeros((2, 8, 4, 6), np.float32)
        for i in range(2):
            for j in range(4):
                onehot[i, :, j, attrs[i, j]] = 1
        np.save(os.path.join(sp, f"{an}_{dn}_attributes_train.npy"), onehot)
        expected.append(np.transpose(frames, (0, 1, 4, 2, 3)))
np.save(os.path.join(sp, "expected_ntchw_train.npy"), np.concatenate(expected))
print("wrote sprites/")
