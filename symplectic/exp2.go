package symplectic

import "math"

// exp2 returns exp([[a, b], [c, d]]) from the closed form for 2×2 matrices
// (Higham, Functions of Matrices, 2008, §10.4.3): with μ = (a+d)/2,
// p = (a-d)/2 and δ² = p² + bc,
//
//	exp(A) = e^μ [cosh(δ) I + sinh(δ)/δ (A - μ I)],
//
// (cos and sin of |δ| when δ² < 0). It is accurate to a few units of
// rounding in each entry's own size where the general algorithm's error
// grows with the squarings (rotations by large angles, Jordan-like blocks
// with huge off-diagonal entries). δ² is formed with an exact product
// correction, since p² and bc may nearly cancel; when δ is not small the
// diagonal uses δ ± p = bc/(δ ∓ p) where that difference would cancel; and
// every entry is e^μ times a finite factor, so that a huge e^μ never meets a
// zero factor. ok is false when an input exceeds 2^500 (the general
// algorithm then applies).
func exp2(a, b, c, d float64) (f11, f12, f21, f22 float64, ok bool) {
	const big = 0x1p500
	if math.Abs(a) > big || math.Abs(b) > big || math.Abs(c) > big || math.Abs(d) > big {
		return 0, 0, 0, 0, false
	}
	mu := a/2 + d/2
	p := a/2 - d/2
	q := b * c
	dd := math.FMA(p, p, q) + math.FMA(b, c, -q)
	switch {
	case dd < 0:
		w := math.Sqrt(-dd)
		cs, sc := math.Cos(w), sinc(w)
		return expTimes(mu, cs+p*sc), expTimes(mu, b*sc), expTimes(mu, c*sc), expTimes(mu, cs-p*sc), true
	case dd < 1:
		del := math.Sqrt(dd)
		ch, sh := math.Cosh(del), sinhc(del)
		return expTimes(mu, ch+p*sh), expTimes(mu, b*sh), expTimes(mu, c*sh), expTimes(mu, ch-p*sh), true
	}
	// δ >= 1: e^(μ±δ)/2 carry the two modes.
	del := math.Sqrt(dd)
	ap := math.Abs(p)
	plus := del + ap      // δ + |p|
	minus := q / plus     // δ - |p| = bc / (δ + |p|), no cancellation
	dp, dm := plus, minus // δ + p, δ - p
	if p < 0 {
		dp, dm = minus, plus
	}
	r := -math.Expm1(-2 * del) // 1 - e^(-2δ)
	f11 = expTimes(mu+del, dp/(2*del)) + expTimes(mu-del, dm/(2*del))
	f22 = expTimes(mu+del, dm/(2*del)) + expTimes(mu-del, dp/(2*del))
	f12 = expTimes(mu+del, b*r/(2*del))
	f21 = expTimes(mu+del, c*r/(2*del))
	return f11, f12, f21, f22, true
}

// expTimes returns f·e^x without overflowing or underflowing in between:
// zero when f is zero, whatever x is.
func expTimes(x, f float64) float64 {
	if f == 0 {
		return 0
	}
	if x > -700 && x < 700 {
		return f * math.Exp(x)
	}
	// e^x = 2^k e^r with |r| <= ln2/2; ln 2 split in two parts so that
	// k·ln2 is exact to double precision (Cody and Waite).
	const ln2Hi, ln2Lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10
	k := math.Round(x / math.Ln2)
	k = max(-4000, min(4000, k))
	return math.Ldexp(f*math.Exp((x-k*ln2Hi)-k*ln2Lo), int(k))
}

// sinhc returns sinh(x)/x.
func sinhc(x float64) float64 {
	if math.Abs(x) < 1e-4 {
		x2 := x * x
		return 1 + x2/6*(1+x2/20)
	}
	return math.Sinh(x) / x
}

// sinc returns sin(x)/x.
func sinc(x float64) float64 {
	if math.Abs(x) < 1e-4 {
		x2 := x * x
		return 1 - x2/6*(1-x2/20)
	}
	return math.Sin(x) / x
}
