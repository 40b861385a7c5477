package tensor

import "fmt"

// CustomOp is an operation defined outside this package by two functions on
// plain slices, so that packages tensor/ must not import (such as the
// float64 matrix exponential and its adjoint) can put their ops on a tape.
// Slices are row-major, as the tensors they come from.
type CustomOp struct {
	// Name identifies the op in NaN reports.
	Name string
	// Forward writes the output (zeroed) from the inputs.
	Forward func(in [][]float32, out []float32)
	// Backward adds the input gradients to din given the inputs, the output
	// and its gradient dout. din[i] is nil when input i needs no gradient.
	Backward func(in [][]float32, out, dout []float32, din [][]float32)
}

// Custom runs op on the inputs, giving an output of the given shape, and
// records its Backward.
func (tp *Tape) Custom(op CustomOp, shape []int, inputs ...*Tensor) *Tensor {
	if op.Forward == nil || op.Backward == nil {
		panic(fmt.Sprintf("tensor: Custom: op %q needs both Forward and Backward", op.Name))
	}
	in := make([][]float32, len(inputs))
	for i, t := range inputs {
		in[i] = t.data
	}
	y := tp.newT(shape...)
	op.Forward(in, y.data)
	return tp.done(op.Name, y, func(g *Tensor) {
		din := make([][]float32, len(inputs))
		for i, t := range inputs {
			if t.needsGrad() {
				din[i] = tp.gradBuf(t)
			}
		}
		op.Backward(in, y.data, g.data, din)
	}, inputs...)
}
