//go:build cgo && linux

package vk

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/halo-ml/halo/halo"
	"github.com/halo-ml/halo/tensor"
)

// TestTrainStepBalls runs training steps of the balls preset's model (loss,
// backward, Adam) with the tape on this backend and on the CPU, from the
// same weights and draws, and compares the losses and gradients. Tensors
// hold host memory today, so the kernels see tensor.HostBuffer operands and
// the backend copies them to the device and back around each kernel.
func TestTrainStepBalls(t *testing.T) {
	b := testBackend(t)
	c, err := halo.Preset("balls")
	if err != nil {
		t.Fatal(err)
	}
	c.Batch = 2
	newModel := func() *halo.Model {
		m, err := halo.NewModel(c, rand.New(rand.NewPCG(5, 6)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	cpuM, vkM := newModel(), newModel()
	rng := rand.New(rand.NewPCG(7, 8))
	x := tensor.New(c.Batch, c.T, c.C, c.H, c.W)
	for i := range x.Data() {
		x.Data()[i] = rng.Float32()
	}
	type optState struct{ m, v [][]float32 }
	states := map[*halo.Model]*optState{}
	step := func(m *halo.Model, be tensor.Backend, n int) float64 {
		tp := tensor.NewTapeOn(be)
		in := halo.LossInput{X: x, Start: 3, Noise: halo.RandNoise{Rng: rand.New(rand.NewPCG(uint64(n), 2))}}
		loss, terms, err := m.Loss(tp, in)
		if err != nil {
			t.Fatal(err)
		}
		tp.Backward(loss)
		st := states[m]
		if st == nil {
			st = &optState{}
			states[m] = st
		}
		i := 0
		for _, p := range m.Params() {
			if p.Buffer || p.Tensor.Grad() == nil {
				continue
			}
			if len(st.m) <= i {
				st.m = append(st.m, make([]float32, len(p.Tensor.Data())))
				st.v = append(st.v, make([]float32, len(p.Tensor.Data())))
			}
			be.Adam(tensor.AdamArgs{LR: c.LR, Beta1: c.Beta1, Beta2: c.Beta2, Eps: 1e-8, Step: n},
				tensor.HostBuffer(p.Tensor.Data()), tensor.HostBuffer(p.Tensor.Grad().Data()),
				tensor.HostBuffer(st.m[i]), tensor.HostBuffer(st.v[i]))
			i++
		}
		if err := be.Sync(); err != nil {
			t.Fatal(err)
		}
		return terms.Total
	}
	for n := 1; n <= 2; n++ {
		want := step(cpuM, tensor.CPU(), n)
		got := step(vkM, b, n)
		t.Logf("step %d: loss cpu %.7g, vulkan %.7g", n, want, got)
		if math.Abs(got-want) > 1e-4*math.Abs(want) {
			t.Fatalf("step %d: loss %.7g on Vulkan, %.7g on the CPU", n, got, want)
		}
		if n > 1 {
			// Adam's first step moves every weight by about the learning
			// rate whatever its gradient's size, so weights whose gradient
			// is rounding noise (biases before a batch norm) differ from
			// here on; the loss still has to agree.
			continue
		}
		cp, vp := cpuM.Params(), vkM.Params()
		var global float64
		for _, p := range cp {
			if g := p.Tensor.Grad(); g != nil {
				for _, v := range g.Data() {
					global = math.Max(global, math.Abs(float64(v)))
				}
			}
		}
		worst, worstName := 0.0, ""
		for i := range cp {
			if cp[i].Tensor.Grad() == nil {
				continue
			}
			g, w := vp[i].Tensor.Grad().Data(), cp[i].Tensor.Grad().Data()
			var diff, scale float64
			for j := range w {
				diff = math.Max(diff, math.Abs(float64(g[j]-w[j])))
				scale = math.Max(scale, math.Abs(float64(w[j])))
			}
			// Relative to the parameter's largest gradient, and to the
			// largest of all for gradients that are rounding noise.
			if r := diff / (1e-3*scale + 1e-6*global); r > worst {
				worst, worstName = r, cp[i].Name
			}
			if diff > 1e-3*scale+1e-6*global {
				t.Errorf("step %d: %s: gradient differs by %.3g (largest %.3g)", n, cp[i].Name, diff, scale)
			}
		}
		t.Logf("step %d: worst gradient difference %.2f of the tolerance (%s)", n, worst, worstName)
	}
	if n := ValidationErrors() - validationBaseline; n != 0 {
		t.Errorf("%d validation errors", n)
	}
}
