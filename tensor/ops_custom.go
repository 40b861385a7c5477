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
		in[i] = t.HostData()
	}
	if !tp.onHost() {
		return tp.customDev(op, shape, in, inputs)
	}
	y := tp.newT(shape...)
	op.Forward(in, y.data)
	return tp.done(op.Name, y, func(g *Tensor) {
		din := make([][]float32, len(inputs))
		for i, t := range inputs {
			if t.needsGrad() {
				din[i] = hostOf(tp.gradBuf(t))
			}
		}
		op.Backward(in, y.data, g.data, din)
	}, inputs...)
}

// customDev runs a Custom op for a device tape: on the host, from the
// inputs' host copies, with an output that is uploaded when an op reads it
// and input gradients uploaded to be added on the device.
func (tp *Tape) customDev(op CustomOp, shape []int, in [][]float32, inputs []*Tensor) *Tensor {
	y := New(shape...)
	y.pooled = true
	op.Forward(in, y.data)
	return tp.done(op.Name, y, func(g *Tensor) {
		din := make([][]float32, len(inputs))
		for i, t := range inputs {
			if t.needsGrad() {
				din[i] = make([]float32, t.Len())
			}
		}
		op.Backward(in, y.data, g.HostData(), din)
		for i, t := range inputs {
			if din[i] != nil {
				tp.accumOwned(t, tp.fromHost(din[i]))
			}
		}
	}, inputs...)
}
