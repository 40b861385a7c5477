package symplectic

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func frobDot(a, b mat.Matrix) float64 {
	r, c := a.Dims()
	var s float64
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			s += a.At(i, j) * b.At(i, j)
		}
	}
	return s
}

// TestSp: H = J (A + Aᵀ)/2 is Hamiltonian, its energy matrix is the
// symmetric part of A, and SpGrad is the adjoint of the (linear) map:
// <G, Sp(Δ)> = <SpGrad(G), Δ> for random G, Δ.
func TestSp(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{2, 4, 10} {
		a := randDense(rng, n, n)
		var h mat.Dense
		Sp(&h, a)
		if d := HamiltonianDefect(&h); d != 0 {
			t.Errorf("n=%d: Sp(A) has Hamiltonian defect %v", n, d)
		}
		m := EnergyMatrix(&h)
		sym := symmetricPart(a)
		if !mat.EqualApprox(m, sym, 1e-15) {
			t.Errorf("n=%d: energy matrix of Sp(A) is not (A+Aᵀ)/2", n)
		}
		// J M = H with M from Hamiltonian.
		var h2 mat.Dense
		Hamiltonian(&h2, sym)
		if !mat.Equal(&h, &h2) {
			t.Errorf("n=%d: Hamiltonian(sym(A)) != Sp(A)", n)
		}
		g, delta := randDense(rng, n, n), randDense(rng, n, n)
		var sd, gr mat.Dense
		Sp(&sd, delta)
		SpGrad(&gr, g)
		lhs, rhs := frobDot(g, &sd), frobDot(&gr, delta)
		if math.Abs(lhs-rhs) > 1e-13*(math.Abs(lhs)+1) {
			t.Errorf("n=%d: <G, Sp(Δ)> = %v, <SpGrad(G), Δ> = %v", n, lhs, rhs)
		}
	}
	// Not Hamiltonian: a general matrix has a positive defect.
	if d := HamiltonianDefect(mat.NewDense(2, 2, []float64{1, 0, 0, 1})); d != 1 {
		t.Errorf("HamiltonianDefect(I) = %v, want 1", d)
	}
}

// TestSpO: H is Hamiltonian and skew-symmetric (exp(H) symplectic and
// orthogonal), B is recovered from H (d² degrees of freedom), the narrow
// form has W = 0, and both gradients are adjoints of their maps.
func TestSpO(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, d := range []int{1, 2, 5} {
		n := 2 * d
		b := randDense(rng, d, d)
		for _, narrow := range []bool{false, true} {
			var h mat.Dense
			if narrow {
				SpONarrow(&h, b)
			} else {
				SpO(&h, b)
			}
			if hd := HamiltonianDefect(&h); hd != 0 {
				t.Errorf("d=%d narrow=%v: Hamiltonian defect %v", d, narrow, hd)
			}
			var skew mat.Dense
			skew.Add(&h, h.T())
			if mat.Norm(&skew, 2) != 0 {
				t.Errorf("d=%d narrow=%v: H + Hᵀ != 0", d, narrow)
			}
			// H = [[-W, S], [-S, -W]]: B = S + W is read back from H.
			for i := 0; i < d; i++ {
				for j := 0; j < d; j++ {
					s, w := h.At(i, d+j), -h.At(i, j)
					want := b.At(i, j)
					if narrow {
						want = (b.At(i, j) + b.At(j, i)) / 2
						if w != 0 {
							t.Fatalf("narrow form has W[%d,%d] = %v", i, j, w)
						}
					}
					if math.Abs(s+w-want) > 1e-15 {
						t.Errorf("d=%d narrow=%v: S+W = %v at (%d,%d), want %v", d, narrow, s+w, i, j, want)
					}
				}
			}
			g, delta := randDense(rng, n, n), randDense(rng, d, d)
			var sd, gr mat.Dense
			if narrow {
				SpONarrow(&sd, delta)
				SpONarrowGrad(&gr, g)
			} else {
				SpO(&sd, delta)
				SpOGrad(&gr, g)
			}
			lhs, rhs := frobDot(g, &sd), frobDot(&gr, delta)
			if math.Abs(lhs-rhs) > 1e-13*(math.Abs(lhs)+1) {
				t.Errorf("d=%d narrow=%v: <G, H(Δ)> = %v, <grad, Δ> = %v", d, narrow, lhs, rhs)
			}
		}
	}
}

// TestGradientChain: the gradient of a loss of exp(Sp(A)) with respect to A,
// SpGrad(L(Hᵀ, G)), matches central differences in A.
func TestGradientChain(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	n := 6
	a := randDense(rng, n, n)
	a.Scale(0.3, a)
	g := randDense(rng, n, n)
	loss := func(a *mat.Dense) float64 {
		var h, e mat.Dense
		Sp(&h, a)
		Exp(&e, &h)
		return frobDot(g, &e)
	}
	var h, gh, ga mat.Dense
	Sp(&h, a)
	ExpFrechetAdjoint(&gh, &h, g)
	SpGrad(&ga, &gh)
	const step = 1e-5
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			ap, am := mat.DenseCopyOf(a), mat.DenseCopyOf(a)
			ap.Set(i, j, a.At(i, j)+step)
			am.Set(i, j, a.At(i, j)-step)
			fd := (loss(ap) - loss(am)) / (2 * step)
			if d := math.Abs(fd - ga.At(i, j)); d > 1e-8*(1+math.Abs(fd)) {
				t.Errorf("∂/∂A[%d,%d]: analytic %v, central difference %v", i, j, ga.At(i, j), fd)
			}
		}
	}
}

func TestParamShapes(t *testing.T) {
	mustPanic(t, "symplectic: Sp: a is 3×3, want even order 2d", func() { Sp(&mat.Dense{}, mat.NewDense(3, 3, nil)) })
	mustPanic(t, "symplectic: SpOGrad: dst is 3×3, want 2×2 for g 4×4", func() { SpOGrad(mat.NewDense(3, 3, nil), mat.NewDense(4, 4, nil)) })
	mustPanic(t, "symplectic: Energy: m is 2×2 but len(s) = 3", func() { Energy(mat.NewSymDense(2, nil), make([]float64, 3)) })
}

// TestChecks: the check functions on known matrices.
func TestChecks(t *testing.T) {
	// J itself is symplectic and orthogonal; 2J is neither.
	j := J(3)
	if d := Defect(j); d != 0 {
		t.Errorf("Defect(J) = %v", d)
	}
	if d := OrthoDefect(j); d != 0 {
		t.Errorf("OrthoDefect(J) = %v", d)
	}
	var j2 mat.Dense
	j2.Scale(2, j)
	// (2J)ᵀ J (2J) - J = 4J - J = 3J: defect 3.
	if d := Defect(&j2); d != 3 {
		t.Errorf("Defect(2J) = %v, want 3", d)
	}
	if d := OrthoDefect(&j2); d != 3 {
		t.Errorf("OrthoDefect(2J) = %v, want 3", d)
	}
	// A shear [[I, S], [0, I]] with S symmetric is symplectic but not orthogonal.
	sh := mat.NewDense(4, 4, []float64{1, 0, 2, 0.5, 0, 1, 0.5, -1, 0, 0, 1, 0, 0, 0, 0, 1})
	if d := Defect(sh); d != 0 {
		t.Errorf("Defect(shear) = %v", d)
	}
	// Compensation: a rotation by a tiny angle whose defect is dominated by
	// rounding must not be reported as larger than the rounding.
	c, s := math.Cos(1e-3), math.Sin(1e-3)
	r := mat.NewDense(2, 2, []float64{c, s, -s, c})
	if d := Defect(r); d > 2*eps {
		t.Errorf("Defect(rotation) = %v", d)
	}
	// Energy of a known state.
	m := mat.NewSymDense(2, []float64{2, 1, 1, 3})
	if e := Energy(m, []float64{1, -2}); e != (2-4+12)/2.0 {
		t.Errorf("Energy = %v, want 5", e)
	}
	states := mat.NewDense(3, 2, []float64{1, 0, 0, 1, 1, 1})
	// Energies 1, 1.5, 3.5 relative to row 0: worst |3.5-1|/1.
	if d := EnergyDrift(m, states, 0); d != 2.5 {
		t.Errorf("EnergyDrift = %v, want 2.5", d)
	}
}
