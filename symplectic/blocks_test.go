package symplectic

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// dense forms the whole block-diagonal matrix (for checking only).
func (b *Blocks) dense() *mat.Dense {
	m := mat.NewDense(b.dim, b.dim, nil)
	for k, n := range b.sizes {
		o := b.offs[k]
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				m.Set(o+i, o+j, b.data[k][i*n+j])
			}
		}
	}
	return m
}

func randBlocks(rng *rand.Rand, sizes ...int) *Blocks {
	b := NewBlocks(sizes...)
	for k := range sizes {
		for i := range b.Block(k) {
			b.Block(k)[i] = rng.NormFloat64() / 3
		}
	}
	return b
}

// TestBlocks checks every block operation against the same operation on the
// whole block-diagonal matrix.
func TestBlocks(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		sizes := []int{4, 2, 24, 7}
		h := randBlocks(rng, sizes...)
		e := NewBlocks(sizes...)
		if err := e.Exp(h); err != nil {
			t.Fatal(err)
		}
		var want mat.Dense
		Exp(&want, h.dense())
		if d := relDiff(e.dense(), &want); d > 1e-14 {
			t.Errorf("block exponentials differ from the whole exponential by %.1e", d)
		}

		const batch = 9
		dim := e.Dim()
		src := randVec(rng, batch*dim)
		dst := make([]float64, batch*dim)
		sm := mat.NewDense(batch, dim, src)
		e.Apply(dst, src, batch)
		var wantA mat.Dense
		wantA.Mul(sm, e.dense().T())
		if d := relDiff(mat.NewDense(batch, dim, dst), &wantA); d > 1e-14 {
			t.Errorf("Apply differs by %.1e", d)
		}
		e.ApplyTranspose(dst, src, batch)
		wantA.Mul(sm, e.dense())
		if d := relDiff(mat.NewDense(batch, dim, dst), &wantA); d > 1e-14 {
			t.Errorf("ApplyTranspose differs by %.1e", d)
		}

		// AddOuter is the gradient of <dOut, Apply(src)> with respect to B,
		// restricted to the blocks.
		dOut := randVec(rng, batch*dim)
		grad := NewBlocks(sizes...)
		grad.AddOuter(dOut, src, batch)
		var full mat.Dense
		full.Mul(mat.NewDense(batch, dim, dOut).T(), sm)
		for k, n := range sizes {
			o := e.Offset(k)
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					if d := math.Abs(grad.Block(k)[i*n+j] - full.At(o+i, o+j)); d > 1e-13 {
						t.Fatalf("AddOuter block %d (%d,%d): %v, want %v", k, i, j, grad.Block(k)[i*n+j], full.At(o+i, o+j))
					}
				}
			}
		}

		// ExpAdjoint per block equals the package-level adjoint per block.
		g := randBlocks(rng, sizes...)
		adj := NewBlocks(sizes...)
		if err := adj.ExpAdjoint(h, g); err != nil {
			t.Fatal(err)
		}
		for k, n := range sizes {
			var want mat.Dense
			ExpFrechetAdjoint(&want, mat.NewDense(n, n, h.Block(k)), mat.NewDense(n, n, g.Block(k)))
			if !mat.Equal(mat.NewDense(n, n, adj.Block(k)), &want) {
				t.Errorf("ExpAdjoint block %d differs", k)
			}
		}
	})
}

func TestBlocksErrors(t *testing.T) {
	b := NewBlocks(2, 4)
	mustPanic(t, "symplectic: Blocks.Exp: receiver has block orders [2 4], h has [2 3]", func() { _ = b.Exp(NewBlocks(2, 3)) })
	mustPanic(t, "symplectic: Blocks.Apply: slice of length 5, want batch×Dim = 2×6", func() { b.Apply(make([]float64, 5), make([]float64, 12), 2) })
	mustPanic(t, "symplectic: NewBlocks: block 1 has order 0 < 1", func() { NewBlocks(2, 0) })
	h := NewBlocks(2, 4)
	h.Block(1)[3] = math.NaN()
	if err := b.Exp(h); err == nil || err.Error() != "block 1: symplectic: non-finite input: h[0,3] = NaN" {
		t.Errorf("NaN in block 1: err = %v", err)
	}
}
