package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// GradCheckOptions tune GradCheck. Zero fields take the defaults.
type GradCheckOptions struct {
	// Step is the central-difference step h (default 1e-2: the function is
	// evaluated in float32, so a smaller step drowns in rounding).
	Step float64
	// RTol and ATol bound |analytic - numeric| <= ATol + RTol*|numeric|
	// for every element (defaults 1e-2 and 1e-3).
	RTol, ATol float64
	// Seed picks the random weights of the output (default 1).
	Seed uint64
}

// GradCheck checks the gradients that a Tape computes for f against central
// differences. f builds its output from the inputs on the tape it is given;
// it must be deterministic. The check contracts the output with fixed random
// weights r, L = sum(r*f(x)), accumulated in float64; computes dL/dx by
// Backward; and compares every element with (L(x+h) - L(x-h)) / 2h, where
// each input element is moved by h in turn. It returns an error naming the
// input, the element and both values at the first disagreement, or nil.
//
// The inputs' gradients are cleared before and after; their values are
// restored. Keep the inputs small: the check runs f twice per element.
func GradCheck(f func(tp *Tape, in []*Tensor) *Tensor, inputs []*Tensor, opt GradCheckOptions) error {
	if opt.Step == 0 {
		opt.Step = 1e-2
	}
	if opt.RTol == 0 {
		opt.RTol = 1e-2
	}
	if opt.ATol == 0 {
		opt.ATol = 1e-3
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	wasLeaf := make([]bool, len(inputs))
	for i, x := range inputs {
		wasLeaf[i] = x.requiresGrad
		x.requiresGrad = true
		x.grad = nil
		x.Data() // the check perturbs the host copy: it must be current, the device's stale
	}
	defer func() {
		for i, x := range inputs {
			x.requiresGrad = wasLeaf[i]
			x.grad = nil
		}
	}()

	tp := NewTape()
	y := f(tp, inputs)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	r := make([]float64, y.Len())
	r32 := make([]float32, y.Len())
	for i := range r {
		r32[i] = float32(rng.NormFloat64())
		r[i] = float64(r32[i])
	}
	tp.BackwardWith(y, FromSlice(r32, y.shape...))

	loss := func() float64 {
		out := f(nil, inputs)
		if out.Len() != len(r) {
			panic(fmt.Sprintf("tensor: GradCheck: output %s changed size from %s", ShapeString(out.shape), ShapeString(y.shape)))
		}
		var s float64
		for i, v := range out.data {
			s += r[i] * float64(v)
		}
		return s
	}
	for k, x := range inputs {
		var ana []float32
		if x.grad != nil {
			ana = x.grad.data
		}
		for i := range x.data {
			orig := x.data[i]
			x.data[i] = float32(float64(orig) + opt.Step)
			hp := float64(x.data[i]) - float64(orig) // the step float32 really took
			fp := loss()
			x.data[i] = float32(float64(orig) - opt.Step)
			hm := float64(orig) - float64(x.data[i])
			fm := loss()
			x.data[i] = orig
			num := (fp - fm) / (hp + hm)
			var a float64
			if ana != nil {
				a = float64(ana[i])
			}
			if math.IsNaN(a) || math.Abs(a-num) > opt.ATol+opt.RTol*math.Abs(num) {
				return fmt.Errorf("tensor: GradCheck: input %d %s element %d: gradient %g, central difference %g",
					k, ShapeString(x.shape), i, a, num)
			}
		}
	}
	return nil
}
