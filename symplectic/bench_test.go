package symplectic

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// benchHamiltonian is a random Sp(2d) generator with ||H||_2 = 1.
func benchHamiltonian(n int) *mat.Dense {
	rng := rand.New(rand.NewPCG(uint64(n), 99))
	var h mat.Dense
	Sp(&h, randDense(rng, n, n))
	h.Scale(1/norm2(&h), &h)
	return &h
}

// BenchmarkExp compares Exp with gonum's mat.Dense.Exp (the anchor) on
// random Hamiltonian matrices with ||H||_2 = 1; run with -count to compare
// the impl=symplectic and impl=gonum lines of the same size. impl=workspace
// is the allocation-free Workspace.Exp on row-major slices.
func BenchmarkExp(b *testing.B) {
	for _, n := range []int{12, 24, 36, 72} {
		h := benchHamiltonian(n)
		b.Run(fmt.Sprintf("impl=gonum/n=%d", n), func(b *testing.B) {
			var e mat.Dense
			for b.Loop() {
				e.Exp(h)
			}
		})
		b.Run(fmt.Sprintf("impl=symplectic/n=%d", n), func(b *testing.B) {
			var e mat.Dense
			for b.Loop() {
				Exp(&e, h)
			}
		})
		b.Run(fmt.Sprintf("impl=workspace/n=%d", n), func(b *testing.B) {
			w := NewWorkspace(n)
			dst := make([]float64, n*n)
			raw := h.RawMatrix().Data
			for b.Loop() {
				_ = w.Exp(dst, raw)
			}
		})
	}
}

// BenchmarkExpAdjoint times the backward pass, L(Hᵀ, G) with exp(H).
func BenchmarkExpAdjoint(b *testing.B) {
	for _, n := range []int{12, 24, 36, 72} {
		h := benchHamiltonian(n)
		g := family("dir", n, 5)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			w := NewWorkspace(n)
			e, grad := make([]float64, n*n), make([]float64, n*n)
			raw, graw := h.RawMatrix().Data, g.RawMatrix().Data
			for b.Loop() {
				_ = w.ExpAdjoint(e, grad, raw, graw)
			}
		})
	}
}

// BenchmarkTrajectory times a 16-frame trajectory from a middle start frame.
func BenchmarkTrajectory(b *testing.B) {
	for _, n := range []int{2, 24} {
		h := benchHamiltonian(n)
		s0 := make([]float64, n)
		s0[0] = 1
		b.Run(fmt.Sprintf("n=%d/T=16", n), func(b *testing.B) {
			w := NewWorkspace(n)
			dst := make([]float64, 16*n)
			raw := h.RawMatrix().Data
			for b.Loop() {
				_ = w.Trajectory(dst, raw, s0, 8, 16)
			}
		})
	}
}

// TestWorkspaceAllocs: the workspace methods allocate nothing once warm,
// including the structure projection after three or more squarings.
func TestWorkspaceAllocs(t *testing.T) {
	for _, norm := range []float64{1, 50} {
		n := 12
		h := benchHamiltonian(n)
		h.Scale(norm, h)
		g := family("dir", n, 5)
		w := NewWorkspace(n)
		e, grad := make([]float64, n*n), make([]float64, n*n)
		raw, graw := h.RawMatrix().Data, g.RawMatrix().Data
		_ = w.ExpAdjoint(e, grad, raw, graw) // warm up
		if a := testing.AllocsPerRun(20, func() { _ = w.Exp(e, raw) }); a != 0 {
			t.Errorf("||H|| = %v: Workspace.Exp allocates %v times per call", norm, a)
		}
		if a := testing.AllocsPerRun(20, func() { _ = w.ExpAdjoint(e, grad, raw, graw) }); a != 0 {
			t.Errorf("||H|| = %v: Workspace.ExpAdjoint allocates %v times per call", norm, a)
		}
	}
}
