package tensor

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// DType is the element type of an Array read from or written to a file.
type DType uint8

// The element types the .npy and safetensors readers and writers carry.
const (
	Float32 DType = iota + 1
	Float64
	Uint8
	Int64
)

// Size returns the width of one element in bytes (0 for an unknown type).
func (d DType) Size() int {
	switch d {
	case Float32:
		return 4
	case Float64, Int64:
		return 8
	case Uint8:
		return 1
	}
	return 0
}

// String returns the NumPy name of the type ("float32", ...).
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	case Uint8:
		return "uint8"
	case Int64:
		return "int64"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Array is a dense row-major (C order) array of one DType, the unit that the
// .npy and safetensors files hold. Data is a []float32, []float64, []uint8 or
// []int64 matching DType, with exactly the number of elements of Shape.
type Array struct {
	DType DType
	Shape []int
	Data  any
}

// NewArray wraps data (not copied), which must be a []float32, []float64,
// []uint8 or []int64 holding exactly the elements of shape. It panics otherwise.
func NewArray(data any, shape ...int) *Array {
	var d DType
	var n int
	switch v := data.(type) {
	case []float32:
		d, n = Float32, len(v)
	case []float64:
		d, n = Float64, len(v)
	case []uint8:
		d, n = Uint8, len(v)
	case []int64:
		d, n = Int64, len(v)
	default:
		panic(fmt.Sprintf("tensor: NewArray: unsupported element slice %T", data))
	}
	if m := numel(shape); m != n {
		panic(fmt.Sprintf("tensor: NewArray: shape %s holds %d elements, data has %d", ShapeString(shape), m, n))
	}
	return &Array{DType: d, Shape: cloneShape(shape), Data: data}
}

// ArrayOf wraps a tensor's data (not copied) as a float32 Array.
func ArrayOf(t *Tensor) *Array { return NewArray(t.Data(), t.Shape()...) }

// Len returns the number of elements.
func (a *Array) Len() int { return numel(a.Shape) }

// Tensor returns the array as a float32 tensor: float32 data is shared, the
// other types are converted into a new slice.
func (a *Array) Tensor() *Tensor {
	if f, ok := a.Data.([]float32); ok {
		return FromSlice(f, a.Shape...)
	}
	return FromSlice(a.Float32s(), a.Shape...)
}

// Float32s returns the elements converted to float32 (a new slice, except for
// float32 data, which is returned as is).
func (a *Array) Float32s() []float32 {
	switch v := a.Data.(type) {
	case []float32:
		return v
	case []float64:
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	case []uint8:
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	case []int64:
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	panic(fmt.Sprintf("tensor: Array.Float32s: unsupported data %T", a.Data))
}

// check verifies that Data matches DType and Shape; it is the writers'
// guard against a hand-built Array that lies about itself.
func (a *Array) check(op string) {
	var n int
	var d DType
	switch v := a.Data.(type) {
	case []float32:
		d, n = Float32, len(v)
	case []float64:
		d, n = Float64, len(v)
	case []uint8:
		d, n = Uint8, len(v)
	case []int64:
		d, n = Int64, len(v)
	default:
		panic(fmt.Sprintf("tensor: %s: unsupported element slice %T", op, a.Data))
	}
	if d != a.DType {
		panic(fmt.Sprintf("tensor: %s: DType %v but data is %T", op, a.DType, a.Data))
	}
	if m := numel(a.Shape); m != n {
		panic(fmt.Sprintf("tensor: %s: shape %s holds %d elements, data has %d", op, ShapeString(a.Shape), m, n))
	}
}

// bytesLE appends the little-endian bytes of the array's elements to dst.
func (a *Array) bytesLE(dst []byte) []byte {
	switch v := a.Data.(type) {
	case []float32:
		for _, x := range v {
			b := math.Float32bits(x)
			dst = append(dst, byte(b), byte(b>>8), byte(b>>16), byte(b>>24))
		}
	case []float64:
		for _, x := range v {
			dst = appendU64(dst, math.Float64bits(x))
		}
	case []uint8:
		dst = append(dst, v...)
	case []int64:
		for _, x := range v {
			dst = appendU64(dst, uint64(x))
		}
	}
	return dst
}

func appendU64(dst []byte, b uint64) []byte {
	return append(dst, byte(b), byte(b>>8), byte(b>>16), byte(b>>24), byte(b>>32), byte(b>>40), byte(b>>48), byte(b>>56))
}

// decodeLE turns n little-endian (or big-endian when big is set) elements of
// type d from raw into a typed slice.
func decodeLE(d DType, raw []byte, big bool) any {
	n := len(raw) / d.Size()
	switch d {
	case Float32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(u32(raw[4*i:], big))
		}
		return out
	case Float64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(u64(raw[8*i:], big))
		}
		return out
	case Uint8:
		return append([]uint8(nil), raw...)
	case Int64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(u64(raw[8*i:], big))
		}
		return out
	}
	panic("tensor: decodeLE: unknown dtype")
}

func u32(b []byte, big bool) uint32 {
	_ = b[3]
	if big {
		return uint32(b[3]) | uint32(b[2])<<8 | uint32(b[1])<<16 | uint32(b[0])<<24
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func u64(b []byte, big bool) uint64 {
	_ = b[7]
	if big {
		return uint64(u32(b[4:], true)) | uint64(u32(b, true))<<32
	}
	return uint64(u32(b, false)) | uint64(u32(b[4:], false))<<32
}

// shapeBytes returns the byte length of an array of the given shape and
// element size, or ok=false when a dimension is negative or the size
// overflows int64 (a hostile header must not wrap around to a small number).
func shapeBytes(shape []int, elem int) (n int64, ok bool) {
	n = int64(elem)
	zero := false
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			zero = true
			continue
		}
		if n > math.MaxInt64/int64(d) {
			return 0, false
		}
		n *= int64(d)
	}
	if zero {
		return 0, true
	}
	return n, true
}

// writeFileAtomic writes a file through a temporary file in the same folder
// and renames it into place, so a crash never leaves a half-written file
// under the final name.
func writeFileAtomic(path string, write func(f *os.File) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	// CreateTemp makes the file private; a data file is meant to be read.
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
