package symplectic

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestThetas recomputes the thresholds from the series of
// h(x) = log(exp(-x) T_m(x)) = sum c_k x^k: theta_m is the x where
// sum_{k>m} |c_k| x^(k-1) = u. exp(-x) T_m(x) = 1 + sum_{k>m} f_k x^k with
// f_k = (-1)^(k+m) / (m! (k-1-m)! k), and the log series follows from
// k c_k = k f_k - sum_{j<k} j c_j f_(k-j).
func TestThetas(t *testing.T) {
	for i, m := range degrees {
		const terms = 200
		f := make([]float64, terms+1)
		for k := m + 1; k <= terms; k++ {
			lg1, _ := math.Lgamma(float64(m + 1))
			lg2, _ := math.Lgamma(float64(k - m))
			v := math.Exp(-lg1-lg2) / float64(k)
			if (k+m)%2 == 1 {
				v = -v
			}
			f[k] = v
		}
		c := make([]float64, terms+1)
		for k := 1; k <= terms; k++ {
			s := float64(k) * f[k]
			for j := 1; j < k; j++ {
				s -= float64(j) * c[j] * f[k-j]
			}
			c[k] = s / float64(k)
		}
		bound := func(x float64) float64 {
			var s float64
			for k := m + 1; k <= terms; k++ {
				s += math.Abs(c[k]) * math.Pow(x, float64(k-1))
			}
			return s
		}
		lo, hi := 0.0, 4.0
		for it := 0; it < 200; it++ {
			mid := (lo + hi) / 2
			if bound(mid) > eps {
				hi = mid
			} else {
				lo = mid
			}
		}
		if rel := math.Abs(lo-thetas[i]) / lo; rel > 1e-12 {
			t.Errorf("theta_%d = %v, recomputed %v (rel. diff %.1e)", m, thetas[i], lo, rel)
		}
	}
}

// TestTaylorSchemes runs each evaluation scheme on X = θ·N with N the
// (m+1)×(m+1) shift matrix (N^k has ones on the k-th superdiagonal and
// N^(m+1) = 0), so row 0 of the result holds c_k θ^k for the scheme's
// polynomial coefficients c_k; they must equal θ^k/k! to a few units of
// rounding, weighted as they act at the threshold.
func TestTaylorSchemes(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for i, m := range degrees {
			n := m + 1
			th := thetas[i]
			w := NewWorkspace(n)
			for k := 0; k+1 < n; k++ {
				w.x[k*n+k+1] = th
			}
			w.product(w.a2, w.x, w.x, nil, nil, nil, false)
			w.product(w.a3, w.a2, w.x, nil, nil, nil, false)
			w.product(w.a6, w.a3, w.a3, nil, nil, nil, false)
			switch m {
			case 1:
				w.lincomb(w.f, 0, 1, 0, 0, 0, nil)
			case 2:
				w.lincomb(w.f, 0, 1, 0.5, 0, 0, nil)
			case 4:
				w.taylor4()
			case 8:
				w.taylor8()
			case 12:
				w.taylor12()
			case 18:
				w.taylor18()
			}
			addIdentity(w.f, n) // the schemes compute T_m(X) - I
			fact := 1.0
			for k := 0; k < n; k++ {
				if k > 0 {
					fact *= float64(k)
				}
				want := math.Pow(th, float64(k)) / fact
				if d := math.Abs(w.f[k] - want); d > 4*eps {
					t.Errorf("T%d: coefficient %d times theta^%d = %v, want %v (diff %.1e)", m, k, k, w.f[k], want, d)
				}
			}
			// Nothing below the diagonal and a constant diagonal.
			for r := 1; r < n; r++ {
				for c := 0; c <= r; c++ {
					want := 0.0
					if c == r {
						want = w.f[0]
					}
					if w.f[r*n+c] != want {
						t.Errorf("T%d: entry (%d,%d) = %v, want %v", m, r, c, w.f[r*n+c], want)
					}
				}
			}
		}
	})
}

// TestChoose checks the degree and scaling choice at the thresholds.
func TestChoose(t *testing.T) {
	for i, m := range degrees {
		for _, f := range []float64{0.999, 1.001} {
			// A multiple of the identity: all the norm bounds equal its norm.
			x := thetas[i] * f
			w := NewWorkspace(3)
			for k := 0; k < 3; k++ {
				w.x[k*3+k] = x
			}
			gm, gs := w.choose(0)
			wantM, wantS := m, 0
			if f > 1 {
				if i+1 < len(degrees) {
					wantM = degrees[i+1]
				} else {
					wantS = 1
				}
			}
			if gm != wantM || gs != wantS {
				t.Errorf("||X|| = %v theta_%d: chose degree %d with %d squarings, want %d, %d", f, m, gm, gs, wantM, wantS)
			}
		}
	}
	// Non-normal: [[1, b], [0, 1]] has ||X||_1 = 1+b but ||X^k||^(1/k) ~ (k b)^(1/k),
	// so the bounds cut the squarings from log2(b) to about log2(sqrt(2 b)).
	w := NewWorkspace(2)
	copy(w.x, []float64{1, 1e6, 0, 1})
	_, s := w.choose(0)
	if s1 := int(math.Ceil(math.Log2((1 + 1e6) / thetas[5]))); s >= s1-5 {
		t.Errorf("[[1,1e6],[0,1]]: %d squarings, the 1-norm alone gives %d", s, s1)
	}
}

// TestExpReferences compares Exp with the mpmath references. The bars:
//
//   - per family (sp, pd, spo, spo_narrow, embed, the Al-Mohy & Higham
//     literature set and its Hamiltonian embeddings), both the worst error
//     and the geometric mean of the errors are at most twice
//     scipy.linalg.expm's on the same matrices (errors below the unit
//     roundoff u count as u);
//   - per case, at most 1e-14 for Hamiltonian H with ||H||_2 <= 1, at most
//     16 times scipy's error (floored at u) everywhere, and at most 1e-15
//     where scipy returns NaN;
//   - for Hamiltonian H, a symplecticity defect of at most 50·u·||E||_F².
//
// Per case, errors of a few units of u at the same conditioning scatter by
// factors of 2-4 between any two correct implementations (they differ with
// the kernel's use of FMA), and Taylor degree 18 needs about two squarings
// more than scipy's Padé degree 13 (thresholds 1.09 against 5.37), each
// doubling the propagated rounding; the cases beyond twice scipy's error
// are counted and logged.
func TestExpReferences(t *testing.T) {
	refs := loadRefs(t)
	forEachKernel(t, func(t *testing.T) {
		type stats struct {
			n                 int
			maxOurs, maxScipy float64
			logOurs, logScipy float64
			beyond2x          []string
		}
		fams := map[string]*stats{}
		var worstRatio, worstDefect, worstSmall float64
		for _, c := range refs.Expm {
			h, _ := refs.input(t, c)
			hi, lo := refs.matrix(t, c.Hi, c.N), refs.matrix(t, c.Lo, c.N)
			var e mat.Dense
			if err := ExpChecked(&e, h); err != nil {
				t.Errorf("%s: %v", name(c), err)
				continue
			}
			got := relErrDD(&e, hi, lo)
			if c.Hamiltonan {
				fe := mat.Norm(&e, 2)
				d := Defect(&e)
				worstDefect = max(worstDefect, d/(eps*fe*fe))
				if d > 50*eps*fe*fe {
					t.Errorf("%s: symplecticity defect %.2e > 50 u ||E||_F^2 = %.2e", name(c), d, 50*eps*fe*fe)
				}
			}
			if c.Hamiltonan && c.Norm2 > 0 && c.Norm2 <= 1 {
				worstSmall = max(worstSmall, got)
				if got > 1e-14 {
					t.Errorf("%s: ||H||_2 = %.3g <= 1 but relative error %.2e > 1e-14", name(c), c.Norm2, got)
				}
			}
			if testing.Verbose() {
				var g mat.Dense
				g.Exp(h)
				t.Logf("%-34s err %.2e  scipy %s  gonum %.2e", name(c), got, fmtErr(c.ScipyErr), relErrDD(&g, hi, lo))
			}
			if c.ScipyErr == nil {
				if got > 1e-15 {
					t.Errorf("%s: relative error %.2e > 1e-15 (scipy returns NaN)", name(c), got)
				}
				continue
			}
			sc := max(*c.ScipyErr, eps)
			ratio := max(got, eps) / sc
			worstRatio = max(worstRatio, ratio)
			if ratio > 16 {
				t.Errorf("%s: relative error %.2e is %.1f times scipy's %.2e", name(c), got, ratio, *c.ScipyErr)
			}
			fam := c.Family
			if fam == "literature" && c.Hamiltonan {
				fam = "literature_embed"
			}
			st := fams[fam]
			if st == nil {
				st = &stats{}
				fams[fam] = st
			}
			st.n++
			st.maxOurs = max(st.maxOurs, got)
			st.maxScipy = max(st.maxScipy, *c.ScipyErr)
			st.logOurs += math.Log(max(got, eps))
			st.logScipy += math.Log(sc)
			if ratio > 2 {
				st.beyond2x = append(st.beyond2x, fmt.Sprintf("%s %.1fx", c.Name, ratio))
			}
		}
		for _, fam := range []string{"sp", "pd", "spo", "spo_narrow", "embed", "literature", "literature_embed"} {
			st := fams[fam]
			if st == nil {
				t.Errorf("family %s: no cases", fam)
				continue
			}
			gOurs, gScipy := math.Exp(st.logOurs/float64(st.n)), math.Exp(st.logScipy/float64(st.n))
			t.Logf("%-16s %3d cases: worst %.2e (scipy %.2e, ratio %.2f), geometric mean %.2e (scipy %.2e, ratio %.2f); beyond 2x scipy: %v",
				fam, st.n, st.maxOurs, st.maxScipy, st.maxOurs/st.maxScipy, gOurs, gScipy, gOurs/gScipy, st.beyond2x)
			if st.maxOurs > 2*max(st.maxScipy, eps) {
				t.Errorf("family %s: worst error %.2e > 2 x scipy's worst %.2e", fam, st.maxOurs, st.maxScipy)
			}
			if gOurs > 2*gScipy {
				t.Errorf("family %s: geometric-mean error %.2e > 2 x scipy's %.2e", fam, gOurs, gScipy)
			}
		}
		t.Logf("worst ratio to scipy's error on one case (floored at u): %.2f", worstRatio)
		t.Logf("worst error for Hamiltonian H with ||H||_2 <= 1: %.2e; worst symplecticity defect: %.2f u ||E||_F^2", worstSmall, worstDefect)
	})
}

func fmtErr(p *float64) string {
	if p == nil {
		return "  NaN   "
	}
	return formatE(*p)
}

func formatE(v float64) string { return fmt.Sprintf("%.2e", v) }

// TestExpSpecial covers exact cases, overflow and bad input.
func TestExpSpecial(t *testing.T) {
	var e mat.Dense
	// exp(0) = I exactly.
	Exp(&e, mat.NewDense(4, 4, nil))
	if !mat.Equal(&e, eye(4)) {
		t.Errorf("exp(0) = %v", mat.Formatted(&e))
	}
	// 1×1 and diagonal: the scalar exponential to a couple of ulps.
	for _, x := range []float64{-700, -30, -1, -1e-9, 0, 1e-20, 0.5, 1, 3.7, 40, 700} {
		e.Reset()
		Exp(&e, mat.NewDense(1, 1, []float64{x}))
		if r := math.Abs(e.At(0, 0)-math.Exp(x)) / math.Exp(x); r > 4*eps*(1+math.Abs(x)) {
			t.Errorf("exp(%v) = %v, want %v (rel %.1e)", x, e.At(0, 0), math.Exp(x), r)
		}
	}
	// Nilpotent with a huge entry: exp = I + X exactly, through many squarings.
	e.Reset()
	Exp(&e, mat.NewDense(2, 2, []float64{0, 1e300, 0, 0}))
	if !mat.Equal(&e, mat.NewDense(2, 2, []float64{1, 1e300, 0, 1})) {
		t.Errorf("exp([[0,1e300],[0,0]]) = %v", mat.Formatted(&e))
	}
	// Overflow: Inf only where the true exponential overflows, never NaN.
	e.Reset()
	err := ExpChecked(&e, mat.NewDense(2, 2, []float64{1000, 0, 0, -1000}))
	if !errors.Is(err, ErrOverflow) {
		t.Errorf("exp(diag(1000, -1000)): err = %v, want ErrOverflow", err)
	}
	if !math.IsInf(e.At(0, 0), 1) || e.At(0, 1) != 0 || e.At(1, 0) != 0 || e.At(1, 1) != 0 {
		t.Errorf("exp(diag(1000, -1000)) = %v, want [[+Inf, 0], [0, 0]]", mat.Formatted(&e))
	}
	// A rotation by a large angle stays bounded: ||exp(H)|| <= e^||H||_1 only
	// bounds it by Inf here, so this checks that the squarings do not let the
	// rounding of the unit modulus grow.
	e.Reset()
	if err := ExpChecked(&e, mat.NewDense(2, 2, []float64{0, 1e12, -1e12, 0})); err != nil {
		t.Errorf("exp of a 1e12 rotation generator: %v", err)
	}
	if d := OrthoDefect(&e); !(d < 1e-2) {
		t.Errorf("exp of a 1e12 rotation generator = %v, orthogonality defect %.1e", mat.Formatted(&e), d)
	}
	// Beyond ~1e18 the unit roundoff of the input alone moves eigenvalues by
	// more than the exponent range: Inf may appear, NaN must not.
	e.Reset()
	_ = ExpChecked(&e, mat.NewDense(2, 2, []float64{0, 1e300, -1e300, 0}))
	for _, v := range e.RawMatrix().Data {
		if math.IsNaN(v) {
			t.Fatalf("exp of a 1e300 rotation generator = %v", mat.Formatted(&e))
		}
	}
	// Non-finite input.
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		e.Reset()
		err := ExpChecked(&e, mat.NewDense(2, 2, []float64{0, 1, bad, 0}))
		if !errors.Is(err, ErrNonFinite) {
			t.Errorf("input with %v: err = %v, want ErrNonFinite", bad, err)
		}
		if !math.IsNaN(e.At(0, 0)) {
			t.Errorf("input with %v: output %v, want NaN", bad, mat.Formatted(&e))
		}
	}
	// dst may be the input.
	h := mat.NewDense(2, 2, []float64{0, 1, -1, 0})
	Exp(h, h)
	want := mat.NewDense(2, 2, []float64{math.Cos(1), math.Sin(1), -math.Sin(1), math.Cos(1)})
	if !mat.EqualApprox(h, want, 4*eps) {
		t.Errorf("in-place exp of a rotation generator = %v", mat.Formatted(h))
	}
}

// TestExpShapes checks the gonum sizing rules and the panics' messages.
func TestExpShapes(t *testing.T) {
	mustPanic(t, "symplectic: Exp: h is 2×3, not square", func() { Exp(&mat.Dense{}, mat.NewDense(2, 3, nil)) })
	mustPanic(t, "symplectic: Exp: dst is 3×3, want 2×2", func() { Exp(mat.NewDense(3, 3, nil), mat.NewDense(2, 2, nil)) })
	mustPanic(t, "symplectic: ExpFrechet: h is 2×2 but e is 3×3", func() { ExpFrechet(&mat.Dense{}, mat.NewDense(2, 2, nil), mat.NewDense(3, 3, nil)) })
	w := NewWorkspace(3)
	mustPanic(t, "symplectic: Exp: len(h) = 4, want 3×3 = 9", func() { _ = w.Exp(make([]float64, 9), make([]float64, 4)) })
	mustPanic(t, "symplectic: NewWorkspace: size 0 < 1", func() { NewWorkspace(0) })
	// A strided destination and a transposed input.
	big := mat.NewDense(4, 4, nil)
	dst := big.Slice(0, 2, 0, 2).(*mat.Dense)
	h := mat.NewDense(2, 2, []float64{0, 2, 0, 0})
	Exp(dst, h.T())
	if !mat.Equal(dst, mat.NewDense(2, 2, []float64{1, 0, 2, 1})) || big.At(0, 2) != 0 {
		t.Errorf("strided exp of a transposed input: %v", mat.Formatted(big))
	}
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic, want %q", want)
			return
		}
		if s, ok := r.(string); !ok || s != want {
			t.Errorf("panic %v, want %q", r, want)
		}
	}()
	f()
}

func eye(n int) *mat.Dense {
	m := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		m.Set(i, i, 1)
	}
	return m
}
