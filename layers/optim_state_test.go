package layers

import (
	"math/rand/v2"
	"testing"

	"github.com/halo-ml/halo/tensor"
)

// An optimiser restored from State continues exactly as the original.
func TestAdamStateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	mk := func() []*tensor.Tensor {
		r := rand.New(rand.NewPCG(3, 4))
		ps := []*tensor.Tensor{tensor.New(5).SetRequiresGrad(true), tensor.New(2, 3).SetRequiresGrad(true)}
		for _, p := range ps {
			for i := range p.Data() {
				p.Data()[i] = float32(r.NormFloat64())
			}
		}
		return ps
	}
	grads := make([][][]float32, 6)
	for s := range grads {
		grads[s] = [][]float32{make([]float32, 5), make([]float32, 6)}
		for _, g := range grads[s] {
			for i := range g {
				g[i] = float32(rng.NormFloat64())
			}
		}
	}
	step := func(a *Adam, s int) {
		for k, p := range a.Params {
			p.ZeroGrad()
			tp := tensor.NewTape()
			y := tp.Sum(tp.Mul(p, tensor.FromSlice(grads[s][k], p.Shape()...)), false)
			tp.Backward(y)
		}
		a.Step()
	}
	a := NewAdam(mk(), 0.01)
	for s := range 3 {
		step(a, s)
	}
	b := NewAdam(mk(), 0.01)
	for k := range b.Params {
		copy(b.Params[k].Data(), a.Params[k].Data())
	}
	if err := b.SetState(a.State()); err != nil {
		t.Fatal(err)
	}
	for s := 3; s < 6; s++ {
		step(a, s)
		step(b, s)
	}
	for k := range a.Params {
		for i, v := range a.Params[k].Data() {
			if b.Params[k].Data()[i] != v {
				t.Fatalf("param %d[%d]: restored %v, original %v", k, i, b.Params[k].Data()[i], v)
			}
		}
	}
	bad := a.State()
	bad.M[1] = bad.M[1][:2]
	if err := b.SetState(bad); err == nil {
		t.Fatal("SetState accepted a moment of the wrong length")
	}
}
