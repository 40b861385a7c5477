package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense float32 array in contiguous row-major order.
// The zero value is an empty tensor of rank 0 with no elements.
//
// A tensor takes part in automatic differentiation when it requires a
// gradient (a leaf such as a parameter, see SetRequiresGrad) or when a Tape
// produced it from such tensors; Backward then leaves the gradient of every
// leaf in Grad.
type Tensor struct {
	shape []int
	data  []float32 // the host copy; nil while only the device has the values

	// A tape on a backend other than the CPU keeps a device copy: dev, a
	// buffer of devBe. hostStale says the device copy is newer than data,
	// devStale the reverse; never both.
	dev       Buffer
	devBe     Backend
	hostStale bool
	devStale  bool

	grad         *Tensor
	requiresGrad bool // a leaf whose gradient Backward accumulates
	tracked      bool // produced by an op recorded on a tape
	pooled       bool // data came from (and may go back to) a tape's pool
}

// New returns a zeroed tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{shape: cloneShape(shape), data: make([]float32, numel(shape))}
}

// FromSlice wraps data (not copied) as a tensor of the given shape. It panics
// when the shape does not hold exactly len(data) elements.
func FromSlice(data []float32, shape ...int) *Tensor {
	if n := numel(shape); n != len(data) {
		panic(fmt.Sprintf("tensor: FromSlice: shape %s holds %d elements, data has %d", ShapeString(shape), n, len(data)))
	}
	return &Tensor{shape: cloneShape(shape), data: data}
}

// Shape returns the dimensions (a copy).
func (t *Tensor) Shape() []int { return cloneShape(t.shape) }

// Dim returns dimension i.
func (t *Tensor) Dim(i int) int { return t.shape[i] }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len returns the number of elements.
func (t *Tensor) Len() int {
	if t.data == nil && t.dev != nil {
		return t.dev.Len()
	}
	return len(t.data)
}

// Data returns the backing host slice (not a copy): row-major, len =
// product of the shape. For a tensor a device tape produced or used, it
// first downloads the device copy when that is newer, and then treats the
// device copy as stale, since the caller may write into the slice: the next
// op on the device uploads it again. Call Data again after device ops
// rather than keeping the slice. HostData reads without that cost.
func (t *Tensor) Data() []float32 {
	t.pull()
	if t.dev != nil {
		t.devStale = true
	}
	return t.data
}

// HostData returns the host slice like Data, downloading the device copy
// when that is newer, but for reading only: the device copy stays valid, so
// writes into the slice are not seen by device ops.
func (t *Tensor) HostData() []float32 {
	t.pull()
	return t.data
}

// Reshape returns a tensor sharing t's data with a new shape of the same size.
// One dimension may be -1, inferred from the others. The result is outside
// any tape; Tape.View is the reshape that gradients flow through.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	s := cloneShape(shape)
	infer := -1
	known := 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panic(fmt.Sprintf("tensor: Reshape: bad shape %s for %s", ShapeString(shape), ShapeString(t.shape)))
		default:
			known *= d
		}
	}
	n := t.Len()
	if infer >= 0 && known > 0 && n%known == 0 {
		s[infer] = n / known
	}
	if infer >= 0 && s[infer] < 0 || numel(s) != n {
		panic(fmt.Sprintf("tensor: Reshape: cannot view %s as %s", ShapeString(t.shape), ShapeString(shape)))
	}
	// Both copies are shared as they stand; a later download fills the
	// views' host copies separately.
	return &Tensor{shape: s, data: t.data, dev: t.dev, devBe: t.devBe, hostStale: t.hostStale, devStale: t.devStale}
}

// SetRequiresGrad marks t as a leaf whose gradient Backward accumulates in
// Grad (or unmarks it) and returns t.
func (t *Tensor) SetRequiresGrad(on bool) *Tensor {
	t.requiresGrad = on
	return t
}

// RequiresGrad reports whether t is a leaf that collects a gradient.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// Grad returns the gradient accumulated by Backward, nil before the first
// Backward that reached t or after ZeroGrad.
func (t *Tensor) Grad() *Tensor { return t.grad }

// ZeroGrad drops the accumulated gradient, so the next Backward starts from
// zero.
func (t *Tensor) ZeroGrad() { t.grad = nil }

// needsGrad reports whether gradients flow into t.
func (t *Tensor) needsGrad() bool { return t != nil && (t.requiresGrad || t.tracked) }

// Clone returns a deep copy of the values, outside any tape.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{shape: cloneShape(t.shape), data: append([]float32(nil), t.HostData()...)}
}

// String describes the tensor's shape, not its values.
func (t *Tensor) String() string { return "Tensor" + ShapeString(t.shape) }

// ShapeString formats a shape as [2 3 4].
func ShapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %s", ShapeString(shape)))
		}
		n *= d
	}
	return n
}

func cloneShape(s []int) []int { return append(make([]int, 0, len(s)), s...) }
