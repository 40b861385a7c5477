package symplectic

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// propCase is one random operator of the property tests.
type propCase struct {
	family string
	n      int
	norm   float64 // ||H||_2
	h      *mat.Dense
	m      *mat.SymDense // energy matrix, H = J M
}

var (
	propSizes = []int{2, 4, 6, 12, 24, 36, 72}
	propNorms = []float64{1e-3, 1e-2, 0.1, 1, 10, 100, 1000}
)

// propCases draws, with a fixed seed, one operator per family, size and
// norm: Sp(2d) from a free A, H = J M with M positive definite, SpO(2d) and
// its narrow form. The general Sp family stops at ||H||_2 = 100: its
// generators have real eigenvalues of the order of the norm, and e^1000
// is beyond float64.
func propCases() []propCase {
	rng := rand.New(rand.NewPCG(2021, 1174))
	var out []propCase
	for _, fam := range []string{"sp", "pd", "spo", "spo_narrow"} {
		for _, n := range propSizes {
			for _, norm := range propNorms {
				if fam == "sp" && norm > 100 {
					continue
				}
				var h mat.Dense
				switch fam {
				case "sp":
					Sp(&h, randDense(rng, n, n))
				case "pd":
					hh, _ := pdHamiltonian(rng, n, 1)
					h.CloneFrom(hh)
				case "spo":
					SpO(&h, randDense(rng, n/2, n/2))
				case "spo_narrow":
					SpONarrow(&h, randDense(rng, n/2, n/2))
				}
				h.Scale(norm/norm2(&h), &h)
				out = append(out, propCase{fam, n, norm, &h, EnergyMatrix(&h)})
			}
		}
	}
	return out
}

func (c propCase) String() string { return fmt.Sprintf("%s/n=%d/norm=%g", c.family, c.n, c.norm) }

// condExp estimates the relative condition number of exp at h in the
// Frobenius norm, ||L_h|| ||h|| / ||exp(h)||, with ||L_h|| from a few power
// iterations on L_h* L_h (L_h* = L_hᵀ, the adjoint). It sizes the tolerances
// of the identities below: for the growing solutions of general Sp(2d)
// generators it exceeds 1 + ||h|| by many orders of magnitude.
func condExp(h *mat.Dense, seed uint64) float64 {
	n, _ := h.Dims()
	v := family("dir", n, seed)
	v.Scale(1/mat.Norm(v, 2), v)
	var l, e mat.Dense
	var norm float64
	for it := 0; it < 4; it++ {
		ExpFrechet(&l, h, v)
		ExpFrechetAdjoint(v, h, &l)
		norm = math.Sqrt(mat.Norm(v, 2))
		v.Scale(1/mat.Norm(v, 2), v)
	}
	Exp(&e, h)
	return norm * mat.Norm(h, 2) / mat.Norm(&e, 2)
}

// TestProperties checks, for every case, the identities exp(H) satisfies:
// symplecticity (defect <= 50·u·||E||_F², the bar), exp(H) exp(-H) = I,
// exp(sH) exp(tH) = exp((s+t)H), det exp(H) = 1, orthogonality for SpO,
// conservation of sᵀ M s, and a trajectory run forwards then backwards
// returning to s0. The other tolerances are 50·u times the quantity that
// bounds the rounding of each identity: the condition number κ of exp
// (estimated with the Fréchet derivative) plus n, times the norms of the
// factors; the worst ratio of each is logged. The determinant's sign and
// reversibility are only decidable where κ·u times the growth of the
// solutions is well below 1 (all bounded families, and the general Sp family
// at small norms); the cases where they are checked are counted and logged.
func TestProperties(t *testing.T) {
	cases := propCases()
	if testing.Short() {
		// Every family, size and norm still appears, with fewer combinations.
		var keep []propCase
		for i, c := range cases {
			if i%3 == 0 || c.n == 72 && c.norm == 1 {
				keep = append(keep, c)
			}
		}
		cases = keep
	}
	worst := map[string]float64{}
	check := func(c propCase, what string, got, unit, limit float64) {
		t.Helper()
		r := got / unit
		worst[what] = max(worst[what], r)
		if !(r <= limit) {
			t.Errorf("%v: %s = %.2e is %.1f units, limit %g", c, what, got, r, limit)
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	reversible, decidable := 0, 0
	for ci, c := range cases {
		n := c.n
		nf := float64(n)
		var e, einv mat.Dense
		if err := ExpChecked(&e, c.h); err != nil {
			t.Errorf("%v: %v", c, err)
			continue
		}
		var neg mat.Dense
		neg.Scale(-1, c.h)
		Exp(&einv, &neg)
		fe, fi := mat.Norm(&e, 2), mat.Norm(&einv, 2)
		// exp(-H) = J exp(H)ᵀ Jᵀ for Hamiltonian H: the same κ.
		kappa := condExp(c.h, uint64(100+ci))

		check(c, "symplecticity defect / (u ||E||_F²)", Defect(&e), eps*fe*fe, 50)

		var p mat.Dense
		p.Mul(&e, &einv)
		check(c, "||exp(H)exp(-H) - I||", relDiff(&p, eye(n))*math.Sqrt(nf), eps*(2*kappa+nf)*fe*fi, 50)

		var hs, ht, hst, es, et, est mat.Dense
		hs.Scale(0.3, c.h)
		ht.Scale(0.45, c.h)
		hst.Scale(0.75, c.h)
		Exp(&es, &hs)
		Exp(&et, &ht)
		Exp(&est, &hst)
		p.Mul(&es, &et)
		var d mat.Dense
		d.Sub(&p, &est)
		ks := condExp(&hs, 1) + condExp(&ht, 2) + condExp(&hst, 3)
		check(c, "||exp(sH)exp(tH) - exp((s+t)H)||", mat.Norm(&d, 2), eps*(ks+nf)*mat.Norm(&es, 2)*mat.Norm(&et, 2), 50)

		var lu mat.LU
		lu.Factorize(&e)
		logDet, sign := lu.LogDet()
		if detBound := eps * (kappa + nf) * fe * fi; 50*detBound < 0.5 {
			decidable++
			check(c, "|log det exp(H)|", math.Abs(logDet), detBound, 50)
			if sign < 0 {
				t.Errorf("%v: det exp(H) < 0", c)
			}
		}

		if c.family == "spo" || c.family == "spo_narrow" {
			check(c, "orthogonality defect / (u ||E||_F²)", OrthoDefect(&e), eps*fe*fe, 50)
		}

		s := randVec(rng, n)
		var es2 mat.VecDense
		es2.MulVec(&e, mat.NewVecDense(n, s))
		e0, e1 := Energy(c.m, s), Energy(c.m, es2.RawVector().Data)
		var ss float64
		for _, v := range s {
			ss += v * v
		}
		check(c, "energy change", math.Abs(e1-e0), eps*(kappa+nf)*norm2(c.m)*ss*fe*fe, 50)

		const steps = 25
		var h25, e25, f25 mat.Dense
		h25.Scale(steps, c.h)
		Exp(&e25, &h25)
		h25.Scale(-1, &h25)
		Exp(&f25, &h25)
		k25 := mat.Norm(&e25, 2) * mat.Norm(&f25, 2)
		if bound := eps * (steps*kappa + nf) * k25; 50*bound < 1e-3 {
			reversible++
			check(c, "reversibility over 25 steps", Reversibility(c.h, s, steps), bound, 50)
		}
	}
	for k, v := range worst {
		t.Logf("%-40s worst %.2f", k, v)
	}
	t.Logf("%d cases; the determinant decidable and checked in %d, reversibility in %d", len(cases), decidable, reversible)
}
