package tensor

import "fmt"

// A tape on the CPU hands kernels the tensors' host slices, as always. A
// tape on another backend keeps every tensor it touches resident on that
// backend's device: an operand is uploaded once and its buffer cached on
// the tensor, outputs and gradients are device buffers, and the host copy
// is downloaded only when someone asks for it (Data, HostData) or an op has
// no device kernel (Custom ops, shape ops on a backend without Copier).

// Copier is an optional Backend interface: a strided copy,
// dst[dstOff + Σ i_d·dstStrides_d] = src[srcOff + Σ i_d·srcStrides_d] for
// every index i of shape. A device tape runs the shape ops (slices,
// concatenation, permutations, gathers) through it; without it they copy
// on the host.
type Copier interface {
	Copy(dst Buffer, dstOff int, dstStrides []int, src Buffer, srcOff int, srcStrides []int, shape []int)
}

// Zeroer is an optional Backend interface: Zero sets a buffer to 0 more
// cheaply than a kernel (a device fill). Device tapes clear the buffers
// they reuse with it, and with a broadcast Binary otherwise.
type Zeroer interface {
	Zero(x Buffer)
}

// pull makes the host copy current.
func (t *Tensor) pull() {
	if !t.hostStale {
		return
	}
	n := t.dev.Len()
	if len(t.data) != n {
		t.data = make([]float32, n)
	}
	t.devBe.Download(t.data, t.dev, 0)
	t.hostStale = false
}

// devBuf returns t's buffer on be, uploading the host copy when be has no
// current copy.
func (t *Tensor) devBuf(be Backend) Buffer {
	if t.dev != nil && t.devBe == be && !t.devStale {
		return t.dev
	}
	if t.dev == nil || t.devBe != be || t.dev.Len() != len(t.data) {
		t.pull() // from the old backend, if any
		t.dev, t.devBe = be.Alloc(len(t.data)), be
	}
	be.Upload(t.dev, 0, t.data)
	t.devStale = false
	return t.dev
}

// onHost reports whether the tape's kernels take host slices.
func (tp *Tape) onHost() bool { return tp == nil || tp.host }

// b is the buffer of t that the tape's kernels read.
func (tp *Tape) b(t *Tensor) Buffer {
	if tp.onHost() {
		t.pull()
		return HostBuffer(t.data)
	}
	return t.devBuf(tp.be)
}

// w is the buffer of t that a kernel writes into (and may read): the other
// copy becomes stale.
func (tp *Tape) w(t *Tensor) Buffer {
	if tp.onHost() {
		t.pull()
		if t.dev != nil {
			t.devStale = true
		}
		return HostBuffer(t.data)
	}
	b := t.devBuf(tp.be)
	t.hostStale = true
	return b
}

// wrap makes a tensor of buffer x, one of the tape's.
func (tp *Tape) wrap(shape []int, x Buffer, pooled bool) *Tensor {
	if h, ok := x.(HostBuffer); ok {
		return &Tensor{shape: cloneShape(shape), data: h, pooled: pooled}
	}
	return &Tensor{shape: cloneShape(shape), dev: x, devBe: tp.be, hostStale: true, pooled: pooled}
}

// hostOf is the slice behind a host buffer of the tape.
func hostOf(x Buffer) []float32 {
	h, ok := x.(HostBuffer)
	if !ok {
		panic(fmt.Sprintf("tensor: internal: buffer %T is not in host memory", x))
	}
	return h
}

// dbuf returns a zeroed device buffer of n values, reusing a free one when
// recycling.
func (tp *Tape) dbuf(n int) Buffer {
	if tp.recycle {
		if free := tp.dpool[n]; len(free) > 0 {
			b := free[len(free)-1]
			tp.dpool[n] = free[:len(free)-1]
			tp.zeroFill(b)
			return b
		}
	}
	return tp.be.Alloc(n)
}

// dput hands a device buffer back for reuse.
func (tp *Tape) dput(b Buffer) {
	if !tp.recycle {
		return
	}
	if tp.dpool == nil {
		tp.dpool = map[int][]Buffer{}
	}
	tp.dpool[b.Len()] = append(tp.dpool[b.Len()], b)
}

// zero is a device buffer holding one 0, the operand that turns Binary into
// a broadcast or a fill.
func (tp *Tape) zero() Buffer {
	if tp.onHost() {
		return HostBuffer{0}
	}
	if tp.zero1 == nil {
		tp.zero1 = tp.be.Alloc(1)
	}
	return tp.zero1
}

// zeroFill sets every value of b to 0 on the device.
func (tp *Tape) zeroFill(b Buffer) {
	n := b.Len()
	if n == 0 {
		return
	}
	if f, ok := tp.be.(Zeroer); ok {
		f.Zero(b)
		return
	}
	z := tp.zero()
	tp.be.Binary(BinaryAdd, z, []int{1}, z, []int{1}, b, []int{n})
}

// fromHost returns host values as a buffer of the tape (a copy on the
// device, the slice itself on the host).
func (tp *Tape) fromHost(h []float32) Buffer {
	if tp.onHost() {
		return HostBuffer(h)
	}
	d := tp.dbuf(len(h))
	tp.be.Upload(d, 0, h)
	return d
}

// copier returns the backend's strided copy for a device tape, or nil
// where shape ops must run on the host.
func (tp *Tape) copier() Copier {
	if tp.onHost() {
		return nil
	}
	c, _ := tp.be.(Copier)
	return c
}

// Resident reports whether t has a current copy on a device (not the
// host), for tests and diagnostics.
func (t *Tensor) Resident() bool { return t.dev != nil && !t.devStale }

// BufferOn returns t's values as a buffer of be for a kernel that only
// reads them: the host slice on the CPU, else the device copy, uploaded
// first when it is missing or stale.
func (t *Tensor) BufferOn(be Backend) Buffer {
	if _, host := be.(cpuBackend); host {
		t.pull()
		return HostBuffer(t.data)
	}
	return t.devBuf(be)
}

// MutableBufferOn is BufferOn for a kernel that writes t (an optimiser
// step): the other copy becomes stale.
func (t *Tensor) MutableBufferOn(be Backend) Buffer {
	b := t.BufferOn(be)
	if _, host := be.(cpuBackend); host {
		if t.dev != nil {
			t.devStale = true
		}
	} else {
		t.hostStale = true
	}
	return b
}
