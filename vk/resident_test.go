//go:build cgo && linux

package vk

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/halo-ml/halo/layers"
	"github.com/halo-ml/halo/tensor"
)

// sameOnBoth runs f on a CPU tape and on a tape of b from the same inputs,
// back-propagates the same random output gradient, and compares outputs and
// input gradients relative to their largest magnitude.
func sameOnBoth(t *testing.T, b *Backend, name string, shapes [][]int, f func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, uint64(len(name))))
	vals := make([][]float32, len(shapes))
	for i, s := range shapes {
		vals[i] = randSlice(r, tensor.New(s...).Len())
	}
	resident := false
	run := func(be tensor.Backend) (*tensor.Tensor, []*tensor.Tensor) {
		in := make([]*tensor.Tensor, len(shapes))
		for i, s := range shapes {
			in[i] = tensor.FromSlice(append([]float32(nil), vals[i]...), s...).SetRequiresGrad(true)
		}
		tp := tensor.NewTapeOn(be)
		y := f(tp, in)
		dy := tensor.New(y.Shape()...)
		rd := rand.New(rand.NewPCG(9, 9))
		for i := range dy.Data() {
			dy.Data()[i] = float32(rd.NormFloat64())
		}
		resident = y.Resident()
		out := y.Clone()
		tp.BackwardWith(y, dy)
		return out, in
	}
	wy, win := run(tensor.CPU())
	gy, gin := run(b)
	// Ops without a device kernel run on the host and give host outputs.
	if host := strings.Contains(name, "index_select"); resident == host {
		t.Errorf("%s: output resident on the device: %v", name, resident)
	}
	if !slices.Equal(wy.Shape(), gy.Shape()) {
		t.Fatalf("%s: output %v on the device, %v on the CPU", name, gy.Shape(), wy.Shape())
	}
	compare(t, name+" output", gy.Data(), wy.Data())
	for i := range win {
		if win[i].Grad() == nil {
			continue
		}
		if gin[i].Grad() == nil {
			t.Fatalf("%s: input %d has no gradient on the device", name, i)
		}
		compare(t, fmt.Sprintf("%s gradient of input %d", name, i), gin[i].Grad().Data(), win[i].Grad().Data())
	}
}

func compare(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var scale, diff float64
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
		diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
	}
	if diff > 1e-5*(scale+1) {
		t.Errorf("%s: differs by %.3g (largest value %.3g)", what, diff, scale)
	}
}

// TestResidentConv checks the device tape's convolutions (Im2col, Col2im,
// batched GEMM) against the CPU's, with their gradients.
func TestResidentConv(t *testing.T) {
	b := testBackend(t)
	sameOnBoth(t, b, "conv2d", [][]int{{2, 3, 9, 8}, {4, 3, 3, 3}, {4}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.Conv2d(in[0], in[1], in[2], tensor.ConvParams{Stride: [2]int{2, 1}, Padding: [2]int{1, 2}})
	})
	sameOnBoth(t, b, "conv2d dilated, no bias", [][]int{{3, 2, 7, 7}, {5, 2, 3, 2}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.Conv2d(in[0], in[1], nil, tensor.ConvParams{Dilation: [2]int{2, 1}, Padding: [2]int{1, 0}})
	})
	sameOnBoth(t, b, "conv_transpose2d", [][]int{{2, 4, 5, 4}, {4, 3, 4, 4}, {3}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.ConvTranspose2d(in[0], in[1], in[2], tensor.ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 0}})
	})
	sameOnBoth(t, b, "conv1d causal", [][]int{{3, 4, 10}, {6, 4, 3}, {6}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.Conv1d(in[0], in[1], in[2], tensor.Conv1dParams{Padding: 4, Dilation: 2, Causal: true})
	})
	sameOnBoth(t, b, "conv after relu", [][]int{{1, 2, 6, 6}, {2, 2, 3, 3}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.Relu(tp.Conv2d(tp.Relu(in[0]), in[1], nil, tensor.ConvParams{Padding: [2]int{1, 1}}))
	})
}

// TestResidentShapeOps checks the device tape's shape ops (strided copies)
// and the host fallbacks (IndexSelect, Custom) against the CPU's.
func TestResidentShapeOps(t *testing.T) {
	b := testBackend(t)
	sameOnBoth(t, b, "permute", [][]int{{2, 3, 4, 5}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.Permute(in[0], 2, 0, 3, 1)
	})
	sameOnBoth(t, b, "transpose", [][]int{{3, 7, 2}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.Transpose(in[0], 1, 2)
	})
	sameOnBoth(t, b, "concat", [][]int{{2, 3, 4}, {2, 1, 4}, {2, 5, 4}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.Concat(1, in...)
	})
	sameOnBoth(t, b, "stack", [][]int{{3, 4}, {3, 4}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.Stack(1, in...)
	})
	sameOnBoth(t, b, "slices", [][]int{{4, 6, 3}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		p := tp.Split(in[0], 1, 2, 3, 1)
		return tp.Add(tp.Mul(p[0], p[0]), tp.Slice(p[1], 1, 1, 3))
	})
	sameOnBoth(t, b, "index_select", [][]int{{3, 5, 2}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.IndexSelect(in[0], 1, []int{4, 0, 4, 2})
	})
	sameOnBoth(t, b, "gather_label", [][]int{{3, 4, 2, 2}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.GatherLabel(in[0], []int{3, 0, 3})
	})
	sameOnBoth(t, b, "view and bce", [][]int{{2, 6}}, func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		p := tp.Sigmoid(tp.View(in[0], 3, 4))
		target := tensor.New(3, 4)
		for i := range target.Data() {
			target.Data()[i] = float32(i%3) / 2
		}
		return tp.BCELoss(p, target, tensor.ReduceMeanLoss)
	})
}

// TestAdamResident steps layers.Adam on the device and on the CPU from the
// same gradients, and checks the weights, the state it reports for
// checkpoints and a resumed state.
func TestAdamResident(t *testing.T) {
	b := testBackend(t)
	r := rand.New(rand.NewPCG(1, 2))
	init := [][]float32{randSlice(r, 300), randSlice(r, 7)}
	scale := randSlice(r, 300)
	newOpt := func(be tensor.Backend) *layers.Adam {
		ps := []*tensor.Tensor{
			tensor.FromSlice(append([]float32(nil), init[0]...), 300).SetRequiresGrad(true),
			tensor.FromSlice(append([]float32(nil), init[1]...), 7).SetRequiresGrad(true),
		}
		o := layers.NewAdam(ps, 0.01)
		o.WeightDecay, o.Backend = 0.1, be
		return o
	}
	step := func(o *layers.Adam) {
		tp := tensor.NewTapeOn(o.Backend)
		p := o.Params
		loss := tp.Add(tp.Sum(tp.Mul(tp.Square(p[0]), tensor.FromSlice(scale, 300)), false), tp.Sum(tp.Exp(p[1]), false))
		for _, q := range p {
			q.ZeroGrad()
		}
		tp.Backward(loss)
		o.Step()
	}
	cpu, dev := newOpt(tensor.CPU()), newOpt(b)
	for range 3 {
		step(cpu)
		step(dev)
	}
	for i := range cpu.Params {
		if !dev.Params[i].Resident() {
			t.Errorf("parameter %d is not resident", i)
		}
		compare(t, fmt.Sprintf("parameter %d", i), dev.Params[i].Data(), cpu.Params[i].Data())
	}
	cs, ds := cpu.State(), dev.State()
	for i := range cs.M {
		compare(t, fmt.Sprintf("first moment %d", i), ds.M[i], cs.M[i])
		compare(t, fmt.Sprintf("second moment %d", i), ds.V[i], cs.V[i])
	}
	// Resume the device optimiser from the CPU's state: both go on alike.
	if err := dev.SetState(cs); err != nil {
		t.Fatal(err)
	}
	step(cpu)
	step(dev)
	for i := range cpu.Params {
		compare(t, fmt.Sprintf("parameter %d after resuming", i), dev.Params[i].Data(), cpu.Params[i].Data())
	}
}

func TestZero(t *testing.T) {
	b := testBackend(t)
	x := b.Alloc(1000)
	b.Upload(x, 0, randSlice(rand.New(rand.NewPCG(1, 1)), 1000))
	b.Zero(x)
	got := make([]float32, 1000)
	b.Download(got, x, 0)
	for i, v := range got {
		if v != 0 {
			t.Fatalf("value %d is %g after Zero", i, v)
		}
	}
}
