package tensor

import (
	"fmt"
	"math"
	"os"
	"time"
)

// Tape records the differentiable operations of one forward pass in the
// order they run, so that Backward can walk them in reverse. It is not safe
// for concurrent use: a pass runs on one goroutine and parallelism stays
// inside the kernels, which makes results reproducible for a fixed number of
// threads.
//
// Every operation is a method of *Tape. A nil *Tape is valid and records
// nothing (inference); so does a tape inside NoGrad. On the CPU backend
// (NewTape) ops run on the tensors' host slices: arithmetic through the
// backend's kernels, convolutions through the package's conv functions,
// shape ops as host copies.
//
// On any other backend (NewTapeOn) tensors stay resident on its device: an
// operand is uploaded once and its device buffer kept on the tensor,
// outputs and gradients are device buffers, convolutions run as Im2col,
// batched Gemm and Col2im, and shape ops as strided copies when the
// backend is a Copier. Nothing comes back to the host unless asked for
// (Tensor.Data, Tensor.HostData) or an op has no device kernel: Custom ops,
// IndexSelect, and shape ops on a backend without Copier run on the host
// from downloaded operands, and their results are uploaded when used.
// Backends are compared with ==, so they must be comparable (a pointer, as
// vk's is).
//
// With HALO_CHECK_NAN=1 in the environment (or SetCheckNaN), every op checks
// its output and the tape remembers the first that produced a NaN or an
// infinity, with the label set by Scope (e.g. a layer name); NaNError
// reports it.
type Tape struct {
	be       Backend
	recs     []record
	noGrad   int
	label    string
	checkNaN bool
	nanErr   error
	prof     *Profile
	lastOp   time.Time // when the previous op finished, for prof
	recycle  bool
	pool     map[int][][]float32 // free buffers by length, when recycling

	host  bool             // the backend's buffers are host slices
	dpool map[int][]Buffer // free device buffers by length, when recycling
	zero1 Buffer           // a device 0, see zero
}

// record is one recorded op: its output, its inputs and its vector-Jacobian
// product, which adds the input gradients given the output gradient.
type record struct {
	op    string
	label string
	out   *Tensor
	back  func(g *Tensor)
}

// NewTape returns an empty tape running on the CPU backend.
func NewTape() *Tape { return NewTapeOn(CPU()) }

// NewTapeOn returns an empty tape whose ops run on backend be.
func NewTapeOn(be Backend) *Tape {
	_, host := be.(cpuBackend)
	return &Tape{be: be, host: host, checkNaN: os.Getenv("HALO_CHECK_NAN") == "1"}
}

// Backend returns the backend the tape's ops run on (the CPU for a nil tape).
func (tp *Tape) Backend() Backend {
	if tp == nil || tp.be == nil {
		return CPU()
	}
	return tp.be
}

// Len returns the number of ops recorded since the last Backward.
func (tp *Tape) Len() int {
	if tp == nil {
		return 0
	}
	return len(tp.recs)
}

// NoGrad runs f with recording switched off: ops inside compute values only.
func (tp *Tape) NoGrad(f func()) {
	if tp == nil {
		f()
		return
	}
	tp.noGrad++
	defer func() { tp.noGrad-- }()
	f()
}

// Recording reports whether ops are being recorded.
func (tp *Tape) Recording() bool { return tp != nil && tp.noGrad == 0 }

// Scope sets the label that NaN reports name (for example a layer's name)
// until the returned function restores the previous one:
//
//	defer tp.Scope("enc.conv1")()
func (tp *Tape) Scope(label string) (restore func()) {
	if tp == nil {
		return func() {}
	}
	prev := tp.label
	tp.label = label
	return func() { tp.label = prev }
}

// Label returns the label set by Scope ("" for none or a nil tape).
func (tp *Tape) Label() string {
	if tp == nil {
		return ""
	}
	return tp.label
}

// SetCheckNaN switches the check of every op's output for NaN and infinity
// on or off (HALO_CHECK_NAN=1 switches it on in NewTape).
func (tp *Tape) SetCheckNaN(on bool) { tp.checkNaN = on }

// NaNError returns the first op that produced a NaN or an infinity while the
// check was on, or nil.
func (tp *Tape) NaNError() error {
	if tp == nil {
		return nil
	}
	return tp.nanErr
}

// wants reports whether an op with these inputs must be recorded.
func (tp *Tape) wants(ins ...*Tensor) bool {
	if !tp.Recording() {
		return false
	}
	for _, t := range ins {
		if t.needsGrad() {
			return true
		}
	}
	return false
}

// done finishes an op: it checks the output when asked to and records the
// VJP when any input needs a gradient. back is called only with the output's
// gradient, once, during Backward.
func (tp *Tape) done(op string, out *Tensor, back func(g *Tensor), ins ...*Tensor) *Tensor {
	if tp == nil {
		return out
	}
	if tp.prof != nil {
		now := time.Now()
		e := tp.prof.entry(tp.label, op)
		e.Calls++
		e.Forward += now.Sub(tp.lastOp)
		tp.lastOp = now
	}
	if tp.checkNaN && tp.nanErr == nil {
		for i, v := range out.HostData() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				where := ""
				if tp.label != "" {
					where = " in " + tp.label
				}
				tp.nanErr = fmt.Errorf("tensor: op %d (%s)%s produced %g at element %d of its output %s",
					len(tp.recs), op, where, v, i, ShapeString(out.shape))
				break
			}
		}
	}
	if tp.wants(ins...) {
		out.tracked = true
		tp.recs = append(tp.recs, record{op: op, label: tp.label, out: out, back: back})
	}
	return out
}

// Backward computes the gradient of the scalar y (a tensor of one element)
// with respect to every leaf that requires a gradient and was used to
// compute y on this tape, adding it to the leaf's Grad. Then it releases the
// tape: the recorded ops, their saved tensors and the intermediate gradients
// are dropped, and the tape is empty for the next pass.
func (tp *Tape) Backward(y *Tensor) {
	if y.Len() != 1 {
		panic(fmt.Sprintf("tensor: Backward: output %s is not a scalar; use BackwardWith", ShapeString(y.shape)))
	}
	tp.BackwardWith(y, FromSlice([]float32{1}, y.shape...))
}

// BackwardWith is Backward for a y of any shape, given the gradient dy of
// some scalar with respect to y (the vector of the vector-Jacobian product).
func (tp *Tape) BackwardWith(y, dy *Tensor) {
	if !equalShape(y.shape, dy.shape) {
		panic(fmt.Sprintf("tensor: BackwardWith: gradient %s for output %s", ShapeString(dy.shape), ShapeString(y.shape)))
	}
	if tp == nil {
		return
	}
	defer tp.release()
	if !y.needsGrad() {
		return
	}
	tp.accum(y, tp.b(dy))
	for i := len(tp.recs) - 1; i >= 0; i-- {
		r := &tp.recs[i]
		if r.out.grad == nil {
			continue // no path from this op to y
		}
		g := r.out.grad
		if !r.out.requiresGrad {
			r.out.grad = nil // intermediate: its gradient is consumed here
		}
		if tp.prof != nil {
			t0 := time.Now()
			r.back(g)
			tp.prof.entry(r.label, r.op).Backward += time.Since(t0)
		} else {
			r.back(g)
		}
		if !r.out.requiresGrad {
			tp.putT(g) // consumed: no VJP keeps its output gradient
			// Every reader of this output (the later ops and this op's own
			// VJP) is done, so its buffer can serve the gradients to come.
			if tp.recycle && r.out.pooled {
				tp.putT(r.out)
				r.out.pooled = false
			}
		}
	}
	if tp.prof != nil {
		tp.lastOp = time.Now()
	}
}

// release forgets the recorded ops so that their tensors can be collected,
// or reused when recycling.
func (tp *Tape) release() {
	for i := range tp.recs {
		r := &tp.recs[i]
		if !r.out.requiresGrad {
			r.out.grad = nil
		}
		r.out.tracked = false
		if tp.recycle && r.out.pooled && !r.out.requiresGrad {
			tp.putT(r.out)
			r.out.pooled = false
		}
		*r = record{}
	}
	tp.recs = tp.recs[:0]
}

// SetRecycle switches the reuse of memory on or off. When on, Backward
// hands the buffers of the pass's intermediate tensors (the outputs of
// recorded ops and their gradients) back to the tape as soon as their last
// reader is done, and later ops reuse them: the backward pass's gradients
// live in the forward pass's activations, and a training loop stops paying
// for fresh memory every step.
// The outputs of recorded ops, such as the loss, then hold other values
// after Backward: read or Clone what you keep before calling it. Leaves
// (parameters, inputs) and their gradients are never reused.
func (tp *Tape) SetRecycle(on bool) {
	tp.recycle = on
	if !on {
		tp.pool, tp.dpool = nil, nil
	}
}

// minPooled is the smallest buffer worth recycling.
var minPooled = 1 << 10

// buf returns a zeroed buffer of n values of the tape's backend, reusing a
// free one when it can.
func (tp *Tape) buf(n int) Buffer {
	if tp.onHost() {
		return HostBuffer(tp.hbuf(n))
	}
	return tp.dbuf(n)
}

// hbuf returns a zeroed slice of n values, reusing a free buffer when it can.
func (tp *Tape) hbuf(n int) []float32 {
	if tp != nil && tp.recycle && n >= minPooled {
		if free := tp.pool[n]; len(free) > 0 {
			b := free[len(free)-1]
			tp.pool[n] = free[:len(free)-1]
			clear(b)
			return b
		}
	}
	return make([]float32, n)
}

// put hands a buffer that nothing references any more back for reuse.
func (tp *Tape) put(b Buffer) {
	if h, ok := b.(HostBuffer); ok {
		tp.hput(h)
		return
	}
	tp.dput(b)
}

// putT hands back the buffer of a tensor the tape owns.
func (tp *Tape) putT(t *Tensor) {
	if t.dev != nil && !tp.onHost() {
		tp.dput(t.dev)
		return
	}
	tp.hput(t.data)
}

// hput hands a host slice that nothing references any more back for reuse.
func (tp *Tape) hput(b []float32) {
	if !tp.recycle || len(b) < minPooled {
		return
	}
	if tp.pool == nil {
		tp.pool = map[int][][]float32{}
	}
	tp.pool[len(b)] = append(tp.pool[len(b)], b[:len(b):len(b)])
}

// newT returns a zeroed tensor whose buffer the tape owns.
func (tp *Tape) newT(shape ...int) *Tensor {
	if tp.onHost() {
		return &Tensor{shape: cloneShape(shape), data: tp.hbuf(numel(shape)), pooled: true}
	}
	return &Tensor{shape: cloneShape(shape), dev: tp.dbuf(numel(shape)), devBe: tp.be, hostStale: true, pooled: true}
}

// accum adds g (the data of a gradient of t's shape) to t's gradient when
// gradients flow into t. g is copied, never kept.
func (tp *Tape) accum(t *Tensor, g Buffer) {
	if !t.needsGrad() {
		return
	}
	if g.Len() != t.Len() {
		panic(fmt.Sprintf("tensor: internal: gradient of %d values for a tensor %s", g.Len(), ShapeString(t.shape)))
	}
	be := tp.Backend()
	if t.grad == nil {
		t.grad = tp.newT(t.shape...)
		be.Map(MapCopy, 0, g, tp.w(t.grad))
		return
	}
	d := tp.w(t.grad)
	be.Binary(BinaryAdd, d, t.shape, g, t.shape, d, t.shape)
}

// accumOwned is accum for a gradient buffer that nobody else holds: it is
// adopted rather than copied when t has no gradient yet.
func (tp *Tape) accumOwned(t *Tensor, g Buffer) {
	if t.needsGrad() && t.grad == nil {
		if g.Len() != t.Len() {
			panic(fmt.Sprintf("tensor: internal: gradient of %d values for a tensor %s", g.Len(), ShapeString(t.shape)))
		}
		t.grad = tp.wrap(t.shape, g, true)
		return
	}
	tp.accum(t, g)
	tp.put(g)
}

// accumSum adds the gradient t (of the broadcast shape full, owned) to x,
// summed down to x's shape xs.
func (tp *Tape) accumSum(x *Tensor, t Buffer, full, xs []int) {
	d := tp.sumTo(t, full, xs)
	if !equalShape(full, xs) {
		tp.put(t)
	}
	tp.accumOwned(x, d)
}

// gradBuf returns the gradient of t to accumulate into in place, allocating a
// zero one first; for kernels that add into their destination.
func (tp *Tape) gradBuf(t *Tensor) Buffer {
	if t.grad == nil {
		t.grad = tp.newT(t.shape...)
	}
	return tp.w(t.grad)
}
