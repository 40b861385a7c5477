package symplectic

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// frechetCases are random (H, E) pairs: Hamiltonian H of each family at
// several norms with a general direction E, plus general H.
func frechetCases() []struct {
	name string
	h, e *mat.Dense
} {
	var out []struct {
		name string
		h, e *mat.Dense
	}
	seed := uint64(7000)
	for _, fam := range []string{"sp", "pd", "spo", "embed", "dir"} {
		for _, n := range []int{2, 4, 6, 12, 24} {
			for _, norm := range []float64{1e-3, 0.1, 1, 5} {
				seed++
				h := family(fam, n, seed)
				h.Scale(norm/norm2(h), h)
				seed++
				e := family("dir", n, seed)
				out = append(out, struct {
					name string
					h, e *mat.Dense
				}{fmt.Sprintf("%s/n=%d/norm=%g", fam, n, norm), h, e})
			}
		}
	}
	return out
}

func norm2(m mat.Matrix) float64 {
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDNone) {
		panic("svd failed")
	}
	return svd.Values(nil)[0]
}

func relDiff(a, b mat.Matrix) float64 {
	var d mat.Dense
	d.Sub(a, b)
	return mat.Norm(&d, 2) / mat.Norm(b, 2)
}

// TestFrechetReferences compares L(H, E) with mpmath's upper-right block of
// exp([[H, E], [0, H]]): at most 1e-12 relative error.
func TestFrechetReferences(t *testing.T) {
	refs := loadRefs(t)
	forEachKernel(t, func(t *testing.T) {
		var worst float64
		for _, c := range refs.Frechet {
			h, e := refs.input(t, c)
			hi, lo := refs.matrix(t, c.Hi, c.N), refs.matrix(t, c.Lo, c.N)
			var l mat.Dense
			ExpFrechet(&l, h, e)
			got := relErrDD(&l, hi, lo)
			worst = max(worst, got)
			if got > 1e-12 {
				t.Errorf("%s: L(H, E) relative error %.2e > 1e-12 (scipy's expm_frechet: %s)", name(c), got, fmtErr(c.ScipyErr))
			}
			if testing.Verbose() {
				t.Logf("%-28s err %.2e  scipy %s", name(c), got, fmtErr(c.ScipyErr))
			}
		}
		t.Logf("worst relative error against mpmath: %.2e", worst)
	})
}

// TestFrechetFiniteDifferences compares L(H, E) with the central difference
// (exp(H + δE) - exp(H - δE)) / 2δ, δ = u^(1/3)·||H||/||E|| (truncation and
// rounding balanced): at most 1e-8 relative error.
func TestFrechetFiniteDifferences(t *testing.T) {
	var worst float64
	for _, c := range frechetCases() {
		var l, ep, em mat.Dense
		ExpFrechet(&l, c.h, c.e)
		delta := math.Cbrt(eps) * max(mat.Norm(c.h, 2), 1) / mat.Norm(c.e, 2)
		var hp, hm mat.Dense
		hp.Scale(delta, c.e)
		hm.Sub(c.h, &hp)
		hp.Add(c.h, &hp)
		Exp(&ep, &hp)
		Exp(&em, &hm)
		ep.Sub(&ep, &em)
		ep.Scale(1/(2*delta), &ep)
		got := relDiff(&ep, &l)
		worst = max(worst, got)
		if got > 1e-8 {
			t.Errorf("%s: central difference differs by %.2e > 1e-8", c.name, got)
		}
	}
	t.Logf("worst relative difference: %.2e", worst)
}

// gaussLegendre returns the q nodes and weights on [0, 1], by Newton's
// method on the Legendre polynomial P_q.
func gaussLegendre(q int) (x, w []float64) {
	x = make([]float64, q)
	w = make([]float64, q)
	for i := 0; i < q; i++ {
		z := math.Cos(math.Pi * (float64(i) + 0.75) / (float64(q) + 0.5))
		var dp float64
		for it := 0; it < 100; it++ {
			p0, p1 := 1.0, z
			for k := 2; k <= q; k++ {
				p0, p1 = p1, ((2*float64(k)-1)*z*p1-(float64(k)-1)*p0)/float64(k)
			}
			dp = float64(q) * (z*p1 - p0) / (z*z - 1)
			dz := p1 / dp
			z -= dz
			if math.Abs(dz) < 1e-17 {
				break
			}
		}
		x[i] = (1 - z) / 2
		w[i] = 1 / ((1 - z*z) * dp * dp)
	}
	return x, w
}

// frechetQuadrature integrates exp(sH) E exp((1-s)H) over s in [0, 1] with
// composite Gauss-Legendre rules: an independent route to L(H, E) that uses
// only exponentials.
func frechetQuadrature(h, e *mat.Dense) *mat.Dense {
	n, _ := h.Dims()
	panels := int(math.Ceil(norm2(h) / 0.5))
	panels = max(panels, 1)
	x, w := gaussLegendre(16)
	sum := mat.NewDense(n, n, nil)
	var a, b, t, sh mat.Dense
	for p := 0; p < panels; p++ {
		for i := range x {
			s := (float64(p) + x[i]) / float64(panels)
			sh.Scale(s, h)
			Exp(&a, &sh)
			sh.Scale(1-s, h)
			Exp(&b, &sh)
			t.Mul(&a, e)
			t.Mul(&t, &b)
			t.Scale(w[i]/float64(panels), &t)
			sum.Add(sum, &t)
		}
	}
	return sum
}

// TestFrechetQuadrature compares L(H, E) with the quadrature of
// exp(sH) E exp((1-s)H): at most 1e-12 relative difference. It also checks
// the adjoint identity <G, L(H, E)> = <L(Hᵀ, G), E> and the block form
// L(H, E) = upper-right block of exp([[H, E], [0, H]]).
func TestFrechetQuadrature(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		var worstQ, worstAdj, worstBlock float64
		for i, c := range frechetCases() {
			var l mat.Dense
			ExpFrechet(&l, c.h, c.e)
			q := frechetQuadrature(c.h, c.e)
			got := relDiff(q, &l)
			worstQ = max(worstQ, got)
			if got > 1e-12 {
				t.Errorf("%s: quadrature differs by %.2e > 1e-12", c.name, got)
			}

			n, _ := c.h.Dims()
			g := family("dir", n, uint64(9000+i))
			var adj mat.Dense
			ExpFrechetAdjoint(&adj, c.h, g)
			lhs, rhs := mat.Dot(vec(g), vec(&l)), mat.Dot(vec(&adj), vec(c.e))
			scale := mat.Norm(g, 2) * mat.Norm(&l, 2)
			if d := math.Abs(lhs-rhs) / scale; d > 1e-14 {
				t.Errorf("%s: <G, L(H,E)> = %v but <L(Hᵀ,G), E> = %v (rel %.1e)", c.name, lhs, rhs, d)
			} else {
				worstAdj = max(worstAdj, d)
			}

			big := mat.NewDense(2*n, 2*n, nil)
			big.Slice(0, n, 0, n).(*mat.Dense).Copy(c.h)
			big.Slice(n, 2*n, n, 2*n).(*mat.Dense).Copy(c.h)
			big.Slice(0, n, n, 2*n).(*mat.Dense).Copy(c.e)
			var eb mat.Dense
			Exp(&eb, big)
			got = relDiff(eb.Slice(0, n, n, 2*n), &l)
			worstBlock = max(worstBlock, got)
			if got > 1e-12 {
				t.Errorf("%s: block-matrix exponential differs by %.2e > 1e-12", c.name, got)
			}
		}
		t.Logf("worst relative differences: quadrature %.2e, adjoint identity %.2e, block form %.2e", worstQ, worstAdj, worstBlock)
	})
}

// TestFrechetValueMatchesExp: the exp returned with the derivative is Exp's
// result bit for bit (the value pass is the same computation).
func TestFrechetValueMatchesExp(t *testing.T) {
	for _, c := range frechetCases() {
		var l, ex, e2 mat.Dense
		if err := ExpFrechetChecked(&ex, &l, c.h, c.e); err != nil {
			t.Fatal(err)
		}
		Exp(&e2, c.h)
		if !mat.Equal(&ex, &e2) {
			t.Errorf("%s: exp from ExpFrechetChecked differs from Exp by %.1e", c.name, relDiff(&ex, &e2))
		}
	}
}

func vec(m *mat.Dense) *mat.VecDense {
	r, c := m.Dims()
	return mat.NewVecDense(r*c, mat.DenseCopyOf(m).RawMatrix().Data)
}
