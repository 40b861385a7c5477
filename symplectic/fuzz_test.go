package symplectic

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// fuzzMatrices decodes the fuzzer's bytes: the first byte picks n in 1..8,
// then 8-byte little-endian words give the entries of h and then e (missing
// words are 0). Non-finite words are kept: they exercise the error path.
func fuzzMatrices(data []byte) (n int, h, e []float64) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	n = 1 + int(data[0])%8
	data = data[1:]
	word := func() float64 {
		if len(data) < 8 {
			data = nil
			return 0
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(data))
		data = data[8:]
		return v
	}
	h = make([]float64, n*n)
	e = make([]float64, n*n)
	for i := range h {
		h[i] = word()
	}
	for i := range e {
		e[i] = word()
	}
	return n, h, e
}

func fuzzSeed(n int, vals ...float64) []byte {
	b := []byte{byte(n - 1)}
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

// FuzzExp checks that Exp, ExpFrechet and ExpAdjoint never panic and never
// return NaN for finite input, that they return Inf only where it may be
// true (||exp(h)|| <= e^||h||_1, and ||L(h, e)|| <= ||e|| e^||h||_1, so below
// those bounds the outputs must be finite), that the errors say so when
// they do, and that non-finite input is reported as ErrNonFinite.
func FuzzExp(f *testing.F) {
	f.Add(fuzzSeed(2, 0, 1, -1, 0, 1, 0, 0, 1))
	f.Add(fuzzSeed(2, 1000, 0, 0, -1000))
	f.Add(fuzzSeed(2, 0, 1e300, 0, 0))
	f.Add(fuzzSeed(2, 0, 1e300, -1e300, 0))
	f.Add(fuzzSeed(3, 1, 1e17, 0, 0, 1, 0, 0, 0, 1))
	f.Add(fuzzSeed(4, math.MaxFloat64, -math.MaxFloat64, 5e-324, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3))
	f.Add(fuzzSeed(3, math.NaN(), 0, 0, 0, math.Inf(1)))
	f.Add(fuzzSeed(5, -131, 19, 18, 0, 0, -390, 56, 54, 0, 0, -387, 57, 52))
	f.Add(fuzzSeed(8, 1e-320, -700, 700, 1e-3, 3, 1e9, -1e9))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, h, e := fuzzMatrices(data)
		if n == 0 {
			return
		}
		finite := firstNonFinite(h) < 0 && firstNonFinite(e) < 0
		w := NewWorkspace(n)
		dst := make([]float64, n*n)
		l := make([]float64, n*n)
		ex := make([]float64, n*n)
		errExp := w.Exp(dst, h)
		errL := w.ExpFrechet(ex, l, h, e)
		grad := make([]float64, n*n)
		errA := w.ExpAdjoint(nil, grad, h, e)
		if !finite {
			for _, err := range []error{errL, errA} {
				if !errors.Is(err, ErrNonFinite) {
					t.Fatalf("non-finite input: err = %v", err)
				}
			}
			if firstNonFinite(h) >= 0 && !errors.Is(errExp, ErrNonFinite) {
				t.Fatalf("non-finite h: Exp err = %v", errExp)
			}
			return
		}
		for name, out := range map[string][]float64{"exp": dst, "L": l, "exp from ExpFrechet": ex, "adjoint": grad} {
			for i, v := range out {
				if math.IsNaN(v) {
					t.Fatalf("%s[%d] = NaN for finite h = %v, e = %v", name, i, h, e)
				}
			}
		}
		n1, nInf, e1 := norm1(h, n), norm1(transposed(h, n), n), norm1(e, n)
		if n1 < 700 && (errExp != nil || firstNonFinite(dst) >= 0) {
			t.Fatalf("||h||_1 = %v < 700 but exp has Inf (err %v): h = %v", n1, errExp, h)
		}
		// errL covers exp(h) too.
		if n1 < 700 && math.Log(e1)+n1 < 700 && errL != nil {
			t.Fatalf("||L(h, e)|| <= ||e|| e^||h|| < e^700 but err %v: h = %v, e = %v", errL, h, e)
		}
		if math.Log(e1)+nInf < 700 && errA != nil {
			t.Fatalf("||L(hᵀ, e)|| <= ||e|| e^||hᵀ|| < e^700 but err %v: h = %v, e = %v", errA, h, e)
		}
		if (errExp == nil) != (firstNonFinite(dst) < 0) {
			t.Fatalf("Exp error %v does not match its output %v", errExp, dst)
		}
		// The value pass of the derivative is Exp's computation, unless the
		// tangent overflowed and forced the fallback scaling; either way
		// the values agree to rounding (or are both infinite). Not so when
		// the nonzero entries of h span more than 2^600: scaling h into
		// range then flushes its smallest entries to zero, and neither
		// result means much (see the package documentation).
		if spread(h) > 0x1p600 {
			return
		}
		for i := range dst {
			a, b := dst[i], ex[i]
			if math.IsInf(a, 0) || math.IsInf(b, 0) {
				if a != b && errL == nil {
					t.Fatalf("exp from ExpFrechet %v, from Exp %v at %d, no error", b, a, i)
				}
				continue
			}
			if math.Abs(a-b) > 1e-10*maxAbs(dst) {
				t.Fatalf("exp from ExpFrechet differs from Exp at %d: %v vs %v", i, b, a)
			}
		}
	})
}

// spread returns the ratio of the largest to the smallest nonzero magnitude.
func spread(m []float64) float64 {
	lo, hi := math.Inf(1), 0.0
	for _, v := range m {
		if v != 0 {
			lo, hi = min(lo, math.Abs(v)), max(hi, math.Abs(v))
		}
	}
	if hi == 0 {
		return 1
	}
	return hi / lo
}

func transposed(m []float64, n int) []float64 {
	t := make([]float64, n*n)
	transposeInto(t, m, n)
	return t
}
