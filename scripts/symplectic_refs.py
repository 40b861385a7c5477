#!/usr/bin/python3
"""High-precision references for package symplectic.

Writes testdata/symplectic/refs.json (index) and refs.bin (little-endian
float64): for each case the exact matrix exponential exp(H) (or the Frechet
derivative L(H, E)), computed with mpmath at 50-100 significant digits and
stored as a double-double pair (hi, lo) per entry, so the Go tests measure
errors far below one unit roundoff. Each case also records the relative
Frobenius error of scipy.linalg.expm (or expm_frechet) against the same
reference, so the Go tests can assert "no worse than 2x scipy" without
Python.

Matrices of the random families are built from a splitmix64 stream of dyadic
numbers k/1024 (|k| <= 1024) whose sums and products below are exact in
float64, then multiplied entrywise by one float64 scale c; the Go tests
rebuild them bit for bit from (family, n, seed, c) and check the stored entry
sum. Literature matrices are stored explicitly.

The script also recomputes the double-precision thresholds theta_m of the
Taylor degrees from the series of log(exp(-x) T_m(x)), and checks that the
Bader-Blanes-Casas evaluation schemes with the coefficients used in Go
reproduce the Taylor coefficients 1/k!.

Run from the repository root: /usr/bin/python3 scripts/symplectic_refs.py
(about ten minutes; the 72x72 references dominate).
"""

import base64
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import scipy
import scipy.linalg
from mpmath import mp, mpf

OUT = os.path.join('testdata', 'symplectic')
U = 2.0 ** -53

# ---------------------------------------------------------------- generators

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def dyadic(self):
        # k/1024 with k uniform in -1024..1023: exact, and so are the sums and
        # products the families form from it.
        return ((self.next() >> 53) - 1024) / 1024.0

    def matrix(self, r, c):
        return np.array([[self.dyadic() for _ in range(c)] for _ in range(r)])


def jmul(m):
    """J @ m for J = [[0, I], [-I, 0]] (a permutation with signs: exact)."""
    d = m.shape[0] // 2
    return np.vstack([m[d:], -m[:d]])


def family(name, n, seed):
    rng = SplitMix64(seed)
    d = n // 2
    if name == 'sp':  # H = J (A + A^T)/2
        a = rng.matrix(n, n)
        return jmul((a + a.T) / 2)
    if name == 'pd':  # H = J M, M = B B^T + I/4 positive definite
        b = rng.matrix(n, n)
        m = np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                s = 0.0
                for k in range(n):
                    s += b[i, k] * b[j, k]
                m[i, j] = s
        m += np.eye(n) / 4
        return jmul(m)
    if name in ('spo', 'spo_narrow'):  # M = [[S, W], [-W, S]]
        a = rng.matrix(d, d)
        c = rng.matrix(d, d)
        s = (a + a.T) / 2
        w = (c - c.T) / 2 if name == 'spo' else np.zeros((d, d))
        m = np.block([[s, w], [-w, s]])
        return jmul(m)
    if name == 'embed':  # [[A, 0], [0, -A^T]]
        a = rng.matrix(d, d)
        z = np.zeros((d, d))
        return np.block([[a, z], [z, -a.T]])
    if name == 'dir':  # a general direction for derivatives
        return rng.matrix(n, n)
    raise ValueError(name)


def entry_sum(h):
    s = 0.0
    for v in h.reshape(-1):
        s += float(v)
    return s


# ------------------------------------------------------- mpmath exponential

def to_mp(h):
    return np.array([[mpf(float(v)) for v in row] for row in h], dtype=object)


def mp_norm1(a):
    return max(sum(abs(a[i, j]) for i in range(a.shape[0])) for j in range(a.shape[1]))


def mp_eye(n):
    e = np.array([[mpf(0)] * n for _ in range(n)], dtype=object)
    for i in range(n):
        e[i, i] = mpf(1)
    return e


def expm_mp(h, dps):
    """exp(h) by scaling to 1-norm <= 2^-8, Taylor to full working precision,
    and squaring, all at dps+20 digits."""
    with mp.workdps(dps + 20):
        a = to_mp(h) if h.dtype != object else h
        n = a.shape[0]
        nrm = mp_norm1(a)
        s = 0
        if nrm > 0:
            s = max(0, int(mp.ceil(mp.log(nrm, 2))) + 8)
        a = a * mpf(2) ** (-s)
        e = mp_eye(n)
        t = mp_eye(n)
        tol = mpf(2) ** (-mp.prec - 8)
        k = 1
        while True:
            t = t.dot(a) * (mpf(1) / k)
            e = e + t
            if mp_norm1(t) <= tol * mp_norm1(e):
                break
            k += 1
        for _ in range(s):
            e = e.dot(e)
        return e


def split(e):
    """Double-double (hi, lo) of an mp matrix."""
    with mp.workdps(60):
        hi = np.array([[float(v) for v in row] for row in e])
        lo = np.array([[float(e[i, j] - mpf(hi[i, j])) for j in range(e.shape[1])] for i in range(e.shape[0])])
    return hi, lo


def rel_err(x, hi, lo):
    """||x - (hi + lo)||_F / ||hi + lo||_F, evaluated in mpmath; None when x
    is not finite (JSON has no NaN)."""
    if not np.all(np.isfinite(x)):
        return None
    with mp.workdps(40):
        num = mpf(0)
        den = mpf(0)
        for i in range(hi.shape[0]):
            for j in range(hi.shape[1]):
                r = mpf(float(hi[i, j])) + mpf(float(lo[i, j]))
                num += (mpf(float(x[i, j])) - r) ** 2
                den += r ** 2
        if den == 0:
            return float(mp.sqrt(num))
        return float(mp.sqrt(num / den))


# ------------------------------------------------------------- the cases

def literature():
    """Al-Mohy & Higham's expm test set (expm_testmats), the real cases that
    need no MATLAB gallery beyond what is written out here."""
    cases = []
    cases.append(('ward77_1', [[4, 2, 0], [1, 4, 1], [1, 1, 4]]))
    cases.append(('ward77_2', [[29.87942128909879, .7815750847907159, -2.289519314033932],
                               [.7815750847907159, 25.72656945571064, 8.680737820540137],
                               [-2.289519314033932, 8.680737820540137, 34.39400925519054]]))
    cases.append(('ward77_3', [[-131, 19, 18], [-390, 56, 54], [-387, 57, 52]]))
    f = np.diag(np.ones(9), 1)  # gallery('forsythe', 10, 1e-10, 0)
    f[9, 0] = 1e-10
    cases.append(('ward77_4_forsythe', f))
    t = np.array([[1, 10, 100], [1, 9, 100], [1, 11, 99]], dtype=float)
    cases.append(('naha95', t @ np.diag([-0.001, -1, -100]) @ np.linalg.inv(t)))
    cases.append(('kela98_ex2', [[0.1, 1e6], [0, 0.1]]))
    cases.append(('kela98_p655', [[0, 3.8e3, 0, 0, 0], [0, -3.8e3, 1, 0, 0], [0, 0, -1, 5.5e6, 0],
                                  [0, 0, 0, -5.5e6, 2.7e7], [0, 0, 0, 0, -2.7e7]]))
    w, x, n = 1.3, 1e6, 8
    o = np.ones((n // 2, n // 2))
    cases.append(('dipa00', np.block([[w * o, x * o], [0 * o, -w * o]]) / n))
    rosser = np.array([[611, 196, -192, 407, -8, -52, -49, 29], [196, 899, 113, -192, -71, -43, -8, -44],
                       [-192, 113, 899, 196, 61, 49, 8, 52], [407, -192, 196, 611, 8, 44, 59, -23],
                       [-8, -71, 61, 8, 411, -599, 208, 208], [-52, -43, 49, 44, -599, 411, 208, 208],
                       [-49, -8, 8, 59, 208, 208, 99, -911], [29, -44, 52, -23, 208, 208, -911, 99]], dtype=float)
    cases.append(('rosser', 2.05 * rosser / np.abs(rosser).sum(axis=0).max()))
    cases.append(('rotation_1e4', [[0, 1e4], [-1e4, 0]]))
    rng = SplitMix64(11)
    cases.append(('nilpotent_triu', 1e2 * np.triu(rng.matrix(8, 8), 1)))
    p = np.zeros((8, 8))
    for i in range(7):
        p[i + 1, i] = i + 1
    cases.append(('log_pascal_chol', p))
    cases.append(('kela89', [[48, -49, 50, 49], [0, -2, 100, 0], [0, -1, -2, 1], [-50, 50, 50, -52]]))
    cases.append(('pang85_I', [[0, 30, 1, 1, 1, 1], [-100, 0, 1, 1, 1, 1], [0, 0, 0, -6, 1, 1],
                               [0, 0, 500, 0, 1, 1], [0, 0, 0, 0, 0, 200], [0, 0, 0, 0, -15, 0]]))
    tw = np.triu(np.tril(np.ones((8, 8)), 1))  # gallery('triw', 8, 1, 1)
    np.fill_diagonal(tw, np.arange(8) - 3.5)
    cases.append(('pang85_III', tw))
    cases.append(('kela89_ex5', [[0, 1e6], [0, 0]]))
    g, b = [0.6, 0.6, 4.0], [2.0, 0.75]
    cases.append(('jemc05_52', [[-g[0], 0, g[0] * b[0]], [0, -g[1], g[1] * b[1]],
                                [-g[0] * g[2], g[2], -g[2] * (1 - g[0] * b[0])]]))
    g, b = [1.5, 0.5, 3.0, 2.0, 0.4, 0.03], [0.6, 7.0]
    a1 = np.array([[-g[4], 0, 0], [0, -g[0], 0], [g[3], g[3], -g[2]]])
    a2 = np.array([[-g[5], 0, g[5] * b[1]], [0, -g[1], g[1] * b[0]], [0, g[3], -g[3]]])
    cases.append(('jemc05_55', np.block([[np.zeros((3, 3)), np.eye(3)], [a2, a1]])))
    cases.append(('kela98_ex3', [[-1, 1e7], [0, -1e7]]))
    thalf = np.array([3.8235 * 60 * 24, 3.10, 26.8, 19.9]) / 60
    a = np.log(2) / thalf
    cases.append(('mopa03_21', np.diag(-a) + np.diag(a[:-1], -1)))
    a1, a2 = 0.01145, 0.2270
    cases.append(('mopa03_26', [[-a1, 0, 0], [0.3594 * a1, -a2, 0], [0.6406 * a1, a2, 0]]))
    a = np.array([4.916e-18, 3.329e-7, 8.983e-14, 2.852e-13, 1.373e-11, 2.098e-6, 9.850e-10, 1.601e-6, 5.796e-8, 0.0])
    cases.append(('kase99', np.diag(-a) + np.diag(a[:-1], -1)))
    cases.append(('awad_1e17', [[1, 1e17], [0, 1]]))
    bb, x = 1e3, 1e10
    a = np.array([[1 - bb / 2, bb / 2], [-bb / 2, 1 + bb / 2]])
    cases.append(('awad_26', np.block([[a, x * np.ones((2, 2))], [np.zeros((2, 2)), -a]])))
    bb = 1e5
    cases.append(('awad_27', [[1 - bb / 2, bb / 2], [-bb / 2, 1 + bb / 2]]))
    bb = 1e3
    cases.append(('awad_28', [[1 - bb / 2, bb / 2], [-bb ** 4 / 2, 1 + bb / 2]]))
    cases.append(('trem05', 10 * np.array([[0, 1, 2], [-0.01, 0, 3], [0, 0, 0]])))
    k = -np.eye(8) + 0.5 * (np.diag(np.ones(7), 1) + np.diag(np.ones(7), -1))
    k[0, 1] = 1
    k[7, 6] = 1
    cases.append(('kuda10', k))
    cases.append(('moler_vanloan', [[-49, 24], [-64, 31]]))
    cases.append(('jordan_1e6', [[1, 1e6], [0, 1]]))
    return [(name, np.array(m, dtype=float)) for name, m in cases]


def random_cases():
    small = [2, 4, 6, 12, 24]
    plan = []
    for n in small:
        plan += [('sp', n, v) for v in (1e-3, 1e-1, 1, 10, 100)]
        plan += [('pd', n, v) for v in (1e-3, 1e-1, 1, 10, 100, 1000)]
        plan += [('spo', n, v) for v in (1e-3, 1, 30, 1000)]
        plan += [('spo_narrow', n, v) for v in (1e-2, 1, 100)]
        plan += [('embed', n, v) for v in (1e-2, 1, 10)]
    plan += [('sp', 36, v) for v in (1e-3, 1, 10)] + [('sp', 72, v) for v in (1e-3, 1, 10)]
    plan += [('pd', n, v) for n in (36, 72) for v in (1, 1000)]
    plan += [('spo', n, v) for n in (36, 72) for v in (1, 1000)]
    return plan


# --------------------------------------------------------------- checks

def check_thetas():
    """theta_m: largest x with sum_{k>m} |c_k| x^(k-1) <= u, c_k the series
    coefficients of log(exp(-x) T_m(x))."""
    go = [2.220446049250313e-16, 2.580956802971767e-08, 3.397168839976962e-04,
          4.991228871115323e-02, 2.996158913811580e-01, 1.090863719290036e+00]
    out = []
    with mp.workdps(60):
        u = mpf(2) ** -53
        for m, want in zip([1, 2, 4, 8, 12, 18], go):
            nterms = m + 121
            tm = lambda x, m=m: sum(x ** k / mp.factorial(k) for k in range(m + 1))
            c = mp.taylor(lambda x: mp.log(mp.exp(-x) * tm(x)), 0, nterms)
            f = lambda th: sum(abs(c[k]) * th ** (k - 1) for k in range(m + 1, nterms + 1)) - u
            lo, hi = mpf(0), mpf(4)
            for _ in range(200):
                mid = (lo + hi) / 2
                if f(mid) > 0:
                    hi = mid
                else:
                    lo = mid
            rel = abs(lo - want) / lo
            print(f'theta_{m} = {mp.nstr(lo, 17)}  (Go: {want!r}, rel. diff {float(rel):.1e})')
            assert rel < 1e-14, m
            out.append(float(lo))
    return out


def poly_mul(p, q):
    r = [mpf(0)] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            r[i + j] += a * b
    return r


def poly_add(*ps):
    r = [mpf(0)] * max(len(p) for p in ps)
    for p in ps:
        for i, a in enumerate(p):
            r[i] += a
    return r


def check_schemes():
    """Evaluate the degree 8, 12, 18 schemes on polynomials (x^k as basis)
    with the float64 coefficients of taylor.go and compare with 1/k!."""
    with mp.workdps(50):
        x = [mpf(0), mpf(1)]
        x2 = poly_mul(x, x)
        x3 = poly_mul(x2, x)
        x6 = poly_mul(x3, x3)
        one = [mpf(1)]
        sc = lambda c, p: [mpf(c) * a for a in p]
        # degree 8
        r = mp.sqrt(177)
        x3c = mpf(2) / 3
        a1, a2 = (1 + r) / 88 * x3c, (1 + r) / 352 * x3c
        u2 = (857 - 58 * r) / 630
        c0 = (-271 + 29 * r) / (315 * x3c)
        c1 = 11 * (-1 + r) / (1260 * x3c)
        c2 = 11 * (-9 + r) / (5040 * x3c)
        c4 = -(-89 + r) / (5040 * x3c ** 2)
        x4 = poly_mul(x2, poly_add(sc(a1, x), sc(a2, x2)))
        x8 = poly_mul(poly_add(sc(x3c, x2), x4), poly_add(sc(c0, one), sc(c1, x), sc(c2, x2), sc(c4, x4)))
        t8 = poly_add(one, x, sc(u2, x2), x8)
        print('degree 8 constants:', [mp.nstr(v, 25) for v in (a1, a2, u2, c0, c1, c2, c4)])
        # degree 12 (coefficients as in taylor.go, rows = powers, columns = q1..q4)
        t12c = [[-0.0186023205146205532243437300433, 4.60000000000000000000000000000, 0.211693118299809442949323323336, 0],
                [-0.00500702322573317730979741843919, 0.992875103538486836140479571505, 0.158224384715726725371768893252, -0.131810610138301840156819349464],
                [-0.573420122960522263905952420789, -0.132445561052799638845074997454, 0.165635169436727415011171668419, -0.0202785554058925907933568229945],
                [-0.133399693943892059700768926983, 0.00172990000000000000000000000000, 0.0107862779315792425026320640108, -0.00675951846863086359778560766482]]
        q = [poly_add(sc(t12c[0][j], one), sc(t12c[1][j], x), sc(t12c[2][j], x2), sc(t12c[3][j], x3)) for j in range(4)]
        q6 = poly_add(q[2], poly_mul(q[3], q[3]))
        t12 = poly_add(q[0], poly_mul(poly_add(q[1], q6), q6))
        # degree 18
        a = [0, -0.100365581030144620014614939405, -0.00802924648241156960116919515244, -0.000892138498045729955685466128049]
        b = [[0, -10.9676396052962062593517462675368412486, -0.0904316832390810561971468877018349549947, 0],
             [0.397849749499645076145196127710284575697, 1.68015813878906197182785401724810509528, -0.0676404519071381907560079900379707485456, 0],
             [1.36783778460411719922523706878222824211, 0.0571779846478865512702871713225248131727, 0.0675961301770459646082799195078937056507, -0.0923364619367118592764570775143],
             [0.498289622525382677556858817262273356185, -0.00698210122488052084290466483801553166439, 0.0295552570429315527426069182242231243747, -0.0169364939002081717191385115723],
             [-0.000637898194594723309241550056491928551877, 0.0000334975017086070538313367340668439802023, -0.0000139180257516060701124739979343742402807, -0.0000140086798182036159794363205726]]
        b1 = poly_add(sc(a[1], x), sc(a[2], x2), sc(a[3], x3))
        bj = [poly_add(sc(b[0][j], one), sc(b[1][j], x), sc(b[2][j], x2), sc(b[3][j], x3), sc(b[4][j], x6)) for j in range(4)]
        a9 = poly_add(poly_mul(b1, bj[3]), bj[2])
        t18 = poly_add(bj[0], poly_mul(poly_add(bj[1], a9), a9))
        thetas = {8: 4.991228871115323e-02, 12: 2.996158913811580e-01, 18: 1.090863719290036}
        for m, p in ((8, t8), (12, t12), (18, t18)):
            assert len(p) == m + 1, (m, len(p))
            # weighted by theta^k: the size of each term's error at the threshold
            dev = max(abs(p[k] - 1 / mp.factorial(k)) * mpf(thetas[m]) ** k for k in range(m + 1))
            print(f'T{m} scheme: max_k |c_k - 1/k!| theta^k = {float(dev):.2e}')
            assert dev < 4 * U, m


# ------------------------------------------------------------------ main

class Blob:
    def __init__(self):
        self.parts = []
        self.offset = 0

    def add(self, arr):
        b = np.ascontiguousarray(arr, dtype='<f8').tobytes()
        off = self.offset
        self.parts.append(b)
        self.offset += len(b) // 8
        return off


def write_atomic(path, data, mode):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix='.tmp-')
    with os.fdopen(fd, mode) as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main():
    os.makedirs(OUT, exist_ok=True)
    import mpmath
    print('numpy', np.__version__, 'scipy', scipy.__version__, 'mpmath', mpmath.__version__)
    thetas = check_thetas()
    check_schemes()

    blob = Blob()
    expm_cases = []

    for name, h in literature():
        n = h.shape[0]
        dps = 100
        e = expm_mp(h, dps)
        hi, lo = split(e)
        # The same at higher precision must agree far below double rounding.
        e2 = expm_mp(h, dps + 40)
        hi2, lo2 = split(e2)
        assert np.array_equal(hi, hi2) and np.all(np.abs(lo - lo2) <= 1e-30 * np.abs(hi) + 1e-300), name
        with np.errstate(all='ignore'):
            sp_err = rel_err(scipy.linalg.expm(h), hi, lo)
        rec = dict(name=name, family='literature', n=n, h=blob.add(h), hi=blob.add(hi), lo=blob.add(lo),
                   scipy_err=sp_err, hamiltonian=False)
        expm_cases.append(rec)
        print(f'{name:22s} n={n:3d} scipy {sp_err}')
        # Hamiltonian embedding [[A, 0], [0, -A^T]] where exp stays finite.
        emb = np.block([[h, np.zeros((n, n))], [np.zeros((n, n)), -h.T]])
        with mp.workdps(dps):
            e = expm_mp(emb, dps)
            big = max(abs(v) for v in e.reshape(-1))
        if big < mpf(10) ** 300:
            hi, lo = split(e)
            with np.errstate(all='ignore'):
                sp_err = rel_err(scipy.linalg.expm(emb), hi, lo)
            expm_cases.append(dict(name=name + '_embed', family='literature', n=2 * n, h=blob.add(emb),
                                   hi=blob.add(hi), lo=blob.add(lo), scipy_err=sp_err, hamiltonian=True))
            print(f'{name + "_embed":22s} n={2 * n:3d} scipy {sp_err}')

    seed = 1000
    for fam, n, target in random_cases():
        seed += 1
        h0 = family(fam, n, seed)
        c = float(target / np.linalg.norm(h0, 2))
        h = h0 * c
        dps = 50
        e = expm_mp(h, dps)
        hi, lo = split(e)
        sp_err = rel_err(scipy.linalg.expm(h), hi, lo)
        expm_cases.append(dict(name=f'{fam}_n{n}_norm{target:g}', family=fam, n=n, seed=seed, scale=c,
                               h_sum=entry_sum(h), norm2=float(np.linalg.norm(h, 2)), hi=blob.add(hi),
                               lo=blob.add(lo), scipy_err=sp_err, hamiltonian=True))
        print(f'{fam:10s} n={n:3d} ||H||_2={target:8g} scipy {sp_err:.2e}', flush=True)

    frechet_cases = []
    for fam in ('sp', 'pd', 'spo', 'embed'):
        for n in (2, 6, 12, 24):
            for target in (1e-2, 1, 10):
                seed += 1
                h0 = family(fam, n, seed)
                c = float(target / np.linalg.norm(h0, 2))
                h = h0 * c
                seed += 1
                edir = family('dir', n, seed)
                big = np.block([[h, edir], [np.zeros((n, n)), h]])
                e = expm_mp(big, 50)
                l = e[:n, n:]
                hi, lo = split(l)
                sp_err = rel_err(scipy.linalg.expm_frechet(h, edir, compute_expm=False), hi, lo)
                frechet_cases.append(dict(name=f'{fam}_n{n}_norm{target:g}', family=fam, n=n, seed=seed - 1,
                                          scale=c, h_sum=entry_sum(h), e_seed=seed, hi=blob.add(hi),
                                          lo=blob.add(lo), scipy_err=sp_err))
                print(f'frechet {fam:6s} n={n:3d} ||H||_2={target:5g} scipy {sp_err:.2e}', flush=True)

    index = dict(
        about='References for package symplectic, written by scripts/symplectic_refs.py. '
              'Offsets count float64 values in refs.bin (little-endian), matrices row-major n x n.',
        versions=dict(numpy=np.__version__, scipy=scipy.__version__, mpmath=__import__('mpmath').__version__,
                      python=sys.version.split()[0]),
        thetas=thetas,
        expm=expm_cases,
        frechet=frechet_cases,
    )
    write_atomic(os.path.join(OUT, 'refs.bin'), b''.join(blob.parts), 'wb')
    write_atomic(os.path.join(OUT, 'refs.json'), json.dumps(index, indent=1) + '\n', 'w')
    print('wrote', len(expm_cases), 'exp cases and', len(frechet_cases), 'derivative cases,',
          blob.offset * 8, 'bytes')


if __name__ == '__main__':
    main()
