package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// fakeDev is a "device" backend for tests: its buffers are host slices in
// a wrapper, so a host slice reaching one of its kernels panics, and its
// kernels are the CPU's. It counts transfers.
type fakeDev struct{ up, down int }

type fakeBuf struct{ v []float32 }

func (b *fakeBuf) Len() int { return len(b.v) }

// fakeCopyDev is fakeDev with the optional strided copy.
type fakeCopyDev struct{ *fakeDev }

func dv(x Buffer) Buffer {
	if x == nil {
		return nil
	}
	return HostBuffer(x.(*fakeBuf).v)
}

func (f *fakeDev) Name() string                         { return "fake device" }
func (f *fakeDev) Alloc(n int) Buffer                   { return &fakeBuf{make([]float32, n)} }
func (f *fakeDev) Sync() error                          { return nil }
func (f *fakeDev) Gemm(a GemmArgs, x, y, z Buffer)      { CPU().Gemm(a, dv(x), dv(y), dv(z)) }
func (f *fakeDev) Im2col(g ConvGeom, img, col Buffer)   { CPU().Im2col(g, dv(img), dv(col)) }
func (f *fakeDev) Col2im(g ConvGeom, col, img Buffer)   { CPU().Col2im(g, dv(col), dv(img)) }
func (f *fakeDev) Map(op MapOp, a float32, x, y Buffer) { CPU().Map(op, a, dv(x), dv(y)) }
func (f *fakeDev) Upload(dst Buffer, off int, src []float32) {
	f.up += 4 * len(src)
	copy(dst.(*fakeBuf).v[off:], src)
}
func (f *fakeDev) Download(dst []float32, src Buffer, off int) {
	f.down += 4 * len(dst)
	copy(dst, src.(*fakeBuf).v[off:])
}
func (f *fakeDev) MapBackward(op MapOp, a float32, x, y, dy, dx Buffer) {
	CPU().MapBackward(op, a, dv(x), dv(y), dv(dy), dv(dx))
}
func (f *fakeDev) Binary(op BinaryOp, x Buffer, xs []int, y Buffer, ys []int, z Buffer, zs []int) {
	CPU().Binary(op, dv(x), xs, dv(y), ys, dv(z), zs)
}
func (f *fakeDev) Reduce(op ReduceOp, x Buffer, xs []int, y Buffer, ys []int) {
	CPU().Reduce(op, dv(x), xs, dv(y), ys)
}
func (f *fakeDev) BatchNorm(a BatchNormArgs, x, g, b, rm, rv, sm, si, y Buffer) {
	CPU().BatchNorm(a, dv(x), dv(g), dv(b), dv(rm), dv(rv), dv(sm), dv(si), dv(y))
}
func (f *fakeDev) BatchNormBackward(a BatchNormArgs, x, dy, g, sm, si, dx, dg, db Buffer) {
	CPU().BatchNormBackward(a, dv(x), dv(dy), dv(g), dv(sm), dv(si), dv(dx), dv(dg), dv(db))
}
func (f *fakeDev) Adam(a AdamArgs, p, g, m, v Buffer) { CPU().Adam(a, dv(p), dv(g), dv(m), dv(v)) }

func (f fakeCopyDev) Copy(dst Buffer, dstOff int, dstStrides []int, src Buffer, srcOff int, srcStrides []int, shape []int) {
	d, s := dst.(*fakeBuf).v, src.(*fakeBuf).v
	idx := make([]int, len(shape))
	for range numel(shape) {
		do, so := dstOff, srcOff
		for k, i := range idx {
			do += i * dstStrides[k]
			so += i * srcStrides[k]
		}
		d[do] = s[so]
		for k := len(idx) - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
}

// residentCase is a function of some inputs, run on both tapes.
type residentCase struct {
	name   string
	shapes [][]int
	f      func(tp *Tape, in []*Tensor) *Tensor
}

var residentCases = []residentCase{
	{"conv2d", [][]int{{5, 3, 9, 8}, {4, 3, 3, 3}, {4}}, func(tp *Tape, in []*Tensor) *Tensor {
		return tp.Conv2d(in[0], in[1], in[2], ConvParams{Stride: [2]int{2, 1}, Padding: [2]int{1, 2}})
	}},
	{"conv_transpose2d", [][]int{{5, 4, 5, 4}, {4, 3, 4, 4}, {3}}, func(tp *Tape, in []*Tensor) *Tensor {
		return tp.ConvTranspose2d(in[0], in[1], in[2], ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 0}})
	}},
	{"conv1d causal", [][]int{{3, 4, 10}, {6, 4, 3}, {6}}, func(tp *Tape, in []*Tensor) *Tensor {
		return tp.Conv1d(in[0], in[1], in[2], Conv1dParams{Padding: 4, Dilation: 2, Causal: true})
	}},
	{"linear batchnorm", [][]int{{6, 5}, {4, 5}, {4}, {4}, {4}}, func(tp *Tape, in []*Tensor) *Tensor {
		rm, rv := New(4), FromSlice([]float32{1, 1, 1, 1}, 4)
		y := tp.BatchNormAct(tp.Linear(in[0], in[1], in[2]), in[3], in[4], rm, rv, true, 0.1, 1e-5, MapRelu, 0)
		return tp.Add(y, tp.View(tp.Sum(tp.MatMul(in[0], tp.Transpose(in[0], 0, 1)), true, 0), 6, 1))
	}},
	{"shapes", [][]int{{2, 3, 4}, {2, 2, 4}}, func(tp *Tape, in []*Tensor) *Tensor {
		c := tp.Concat(1, in[0], in[1], in[0])
		p := tp.Permute(c, 2, 0, 1)
		s := tp.Split(p, 2, 3, 5)
		g := tp.GatherLabel(tp.Stack(1, s[0], s[0]), []int{1, 0, 1, 0})
		return tp.Mul(tp.Sum(tp.IndexSelect(s[1], 2, []int{4, 0, 4}), false), tp.Sum(g, false))
	}},
	{"custom and losses", [][]int{{3, 4}, {3, 4}}, func(tp *Tape, in []*Tensor) *Tensor {
		target := New(3, 4)
		for i := range target.Data() {
			target.Data()[i] = float32(i%3) / 2
		}
		bce := tp.BCELoss(tp.Sigmoid(in[0]), target, ReduceSumLoss)
		return tp.Add(bce, tp.Add(tp.KLNormal(in[0], in[1]), tp.MSELoss(in[0], in[1], ReduceMeanLoss)))
	}},
}

// runOn runs a case twice on one recycling tape of be, so that the second
// pass reuses (and must clear) the first's buffers, back-propagating a fixed
// output gradient; it returns the second pass's output and inputs with
// their gradients.
func (c residentCase) runOn(be Backend) (*Tensor, []*Tensor) {
	tp := NewTapeOn(be)
	tp.SetRecycle(true)
	var out *Tensor
	var in []*Tensor
	for range 2 {
		r := rand.New(rand.NewPCG(1, uint64(len(c.name))))
		in = make([]*Tensor, len(c.shapes))
		for i, s := range c.shapes {
			in[i] = New(s...).SetRequiresGrad(true)
			for j := range in[i].data {
				in[i].data[j] = float32(r.NormFloat64())
			}
		}
		y := c.f(tp, in)
		dy := New(y.shape...)
		for j := range dy.data {
			dy.data[j] = float32(r.NormFloat64())
		}
		out = y.Clone()
		tp.BackwardWith(y, dy)
	}
	return out, in
}

func sameValues(t *testing.T, what string, got, want []float32) {
	t.Helper()
	var diff, scale float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	if len(got) != len(want) || diff > 1e-5*(1+scale) {
		t.Errorf("%s: differs by %.3g (largest %.3g), %d values for %d", what, diff, scale, len(got), len(want))
	}
}

// TestDeviceTape runs ops on a tape of a device backend, with and without
// a strided copy, with the convolutions cut into chunks of images, and
// compares values and gradients with the CPU tape's.
func TestDeviceTape(t *testing.T) {
	was := maxColValues
	defer func() { maxColValues = was }()
	for _, withCopy := range []bool{true, false} {
		for _, chunk := range []int{1 << 23, 200} {
			maxColValues = chunk
			for _, c := range residentCases {
				name := fmt.Sprintf("%s copy=%v chunk=%d", c.name, withCopy, chunk)
				var be Backend = &fakeDev{}
				if withCopy {
					be = fakeCopyDev{&fakeDev{}}
				}
				wy, win := c.runOn(CPU())
				gy, gin := c.runOn(be)
				sameValues(t, name+": output", gy.data, wy.data)
				for i := range win {
					sameValues(t, fmt.Sprintf("%s: gradient %d", name, i), gin[i].Grad().HostData(), win[i].Grad().data)
				}
			}
		}
	}
}

// TestResidency follows a tensor's copies through device ops, Data and
// HostData.
func TestResidency(t *testing.T) {
	f := &fakeDev{}
	be := fakeCopyDev{f}
	x := FromSlice([]float32{1, -2, 3, -4}, 2, 2)
	tp := NewTapeOn(be)
	y := tp.Relu(x)
	if f.up != 16 || !x.Resident() || !y.Resident() || y.data != nil {
		t.Fatalf("after one op: %d bytes up, x resident %v, y resident %v with host copy %v", f.up, x.Resident(), y.Resident(), y.data)
	}
	tp.Relu(x)
	if f.up != 16 {
		t.Fatalf("x uploaded again: %d bytes up", f.up)
	}
	if got := y.HostData(); got[0] != 1 || got[1] != 0 || f.down != 16 || !y.Resident() {
		t.Fatalf("HostData %v, %d bytes down, resident %v", got, f.down, y.Resident())
	}
	y.HostData()
	if f.down != 16 {
		t.Fatalf("downloaded again: %d bytes", f.down)
	}
	x.Data()[0] = 5 // Data lets the caller write: the device copy is stale
	if x.Resident() {
		t.Fatal("x still resident after Data")
	}
	if got := tp.Relu(x).HostData(); got[0] != 5 || f.up != 32 {
		t.Fatalf("after a host write: %v, %d bytes up", got, f.up)
	}
	v := y.Reshape(4)
	if !v.Resident() || v.Len() != 4 {
		t.Fatalf("reshape: resident %v, len %d", v.Resident(), v.Len())
	}
	// A CPU tape reads the device's newer values.
	z := tp.Scale(x, 2)
	if got := NewTape().Neg(z).Data(); got[0] != -10 {
		t.Fatalf("CPU tape after a device op: %v", got)
	}
}
