//go:build cgo && linux

package vk

import (
	"fmt"
	"math"

	"github.com/halo-ml/halo/tensor"
)

// maxRank is the number of axes the broadcast and reduction kernels index
// (MAXR in binary.comp and reduce.comp), after collapsing.
const maxRank = 6

func f32(v float32) uint32 { return math.Float32bits(v) }

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func checkSameLen(op string, bufs ...*Buffer) {
	for _, x := range bufs[1:] {
		if x.n != bufs[0].n {
			lens := make([]int, len(bufs))
			for i, x := range bufs {
				lens[i] = x.n
			}
			panic(fmt.Sprintf("vk: %s: buffer lengths differ: %v", op, lens))
		}
	}
}

// Map sets y = op(x; alpha) elementwise; y may be x.
func (b *Backend) Map(op tensor.MapOp, alpha float32, x, y tensor.Buffer) {
	defer b.enter()()
	c := b.call("Map")
	xd, yd := c.in(x), c.out(y)
	checkSameLen("Map "+op.String(), xd, yd)
	if op < 0 || op > tensor.MapPow {
		panic("vk: Map: unknown op " + op.String())
	}
	b.dispatch1D(kernel{"map", 2, []uint32{uint32(op)}}, xd.n,
		[]uint32{uint32(xd.n), f32(alpha), xd.elemOff(), yd.elemOff()}, xd, yd)
	c.done()
}

// MapBackward sets dx = dy * op'(x) from the input x and output y of Map.
func (b *Backend) MapBackward(op tensor.MapOp, alpha float32, x, y, dy, dx tensor.Buffer) {
	defer b.enter()()
	c := b.call("MapBackward")
	needX := op == tensor.MapSquare || op == tensor.MapRelu || op == tensor.MapLeakyRelu || op == tensor.MapLog || op == tensor.MapAbs || op == tensor.MapPow
	needY := op == tensor.MapTanh || op == tensor.MapSigmoid || op == tensor.MapExp || op == tensor.MapSqrt
	dyd, dxd := c.in(dy), c.out(dx)
	checkSameLen("MapBackward "+op.String(), dxd, dyd)
	// Operands the derivative does not read are bound to dy, so that nil
	// or stale buffers are never touched.
	xd, yd := dyd, dyd
	if needX {
		xd = c.in(x)
		checkSameLen("MapBackward "+op.String()+" (x)", dxd, xd)
	}
	if needY {
		yd = c.in(y)
		checkSameLen("MapBackward "+op.String()+" (y)", dxd, yd)
	}
	if op < 0 || op > tensor.MapPow {
		panic("vk: MapBackward: unknown op " + op.String())
	}
	b.dispatch1D(kernel{"map_backward", 4, []uint32{uint32(op)}}, dxd.n,
		[]uint32{uint32(dxd.n), f32(alpha), xd.elemOff(), yd.elemOff(), dyd.elemOff(), dxd.elemOff()}, xd, yd, dyd, dxd)
	c.done()
}

// broadcastStrides returns the element strides of shape s read as shape to
// (0 along broadcast axes), panicking unless s broadcasts to to.
func broadcastStrides(op string, s, to []int) []int {
	if len(s) != len(to) {
		panic(fmt.Sprintf("vk: %s: shape %v does not have the rank of %v", op, s, to))
	}
	st := make([]int, len(s))
	acc := 1
	for d := len(s) - 1; d >= 0; d-- {
		switch {
		case s[d] == to[d]:
			st[d] = acc
		case s[d] == 1:
			st[d] = 0
		default:
			panic(fmt.Sprintf("vk: %s: shape %v does not broadcast to %v", op, s, to))
		}
		acc *= s[d]
	}
	return st
}

// collapse drops axes of size 1 and merges neighbouring axes that every
// stride set walks as one, so that indexing costs fewer divisions.
func collapse(shape []int, strides ...[]int) ([]int, [][]int) {
	var s []int
	st := make([][]int, len(strides))
	for d := range shape {
		if shape[d] == 1 {
			continue
		}
		if k := len(s) - 1; k >= 0 {
			merge := true
			for i := range strides {
				if st[i][k] != strides[i][d]*shape[d] {
					merge = false
				}
			}
			if merge {
				s[k] *= shape[d]
				for i := range strides {
					st[i][k] = strides[i][d]
				}
				continue
			}
		}
		s = append(s, shape[d])
		for i := range strides {
			st[i] = append(st[i], strides[i][d])
		}
	}
	return s, st
}

// Binary sets z = op(x, y) with NumPy broadcasting to the shape of z.
func (b *Backend) Binary(op tensor.BinaryOp, x tensor.Buffer, xShape []int, y tensor.Buffer, yShape []int, z tensor.Buffer, zShape []int) {
	defer b.enter()()
	c := b.call("Binary")
	xd, yd, zd := c.in(x), c.in(y), c.out(z)
	name := "Binary " + op.String()
	if op < 0 || op > tensor.BinaryMax {
		panic("vk: Binary: unknown op " + op.String())
	}
	n := numel(zShape)
	if n != zd.n || numel(xShape) != xd.n || numel(yShape) != yd.n {
		panic(fmt.Sprintf("vk: %s: buffers of %d, %d, %d values for shapes %v, %v, %v", name, xd.n, yd.n, zd.n, xShape, yShape, zShape))
	}
	sx, sy := broadcastStrides(name, xShape, zShape), broadcastStrides(name, yShape, zShape)
	shape, st := collapse(zShape, sx, sy)
	if len(shape) > maxRank {
		panic(fmt.Sprintf("vk: %s: shapes %v, %v, %v need %d axes after collapsing, the kernel has %d", name, xShape, yShape, zShape, len(shape), maxRank))
	}
	push := make([]uint32, 5+3*maxRank)
	push[0], push[1], push[2], push[3], push[4] = uint32(n), uint32(len(shape)), xd.elemOff(), yd.elemOff(), zd.elemOff()
	for d := range shape {
		push[5+d] = uint32(shape[d])
		push[5+maxRank+d] = uint32(st[0][d])
		push[5+2*maxRank+d] = uint32(st[1][d])
	}
	b.dispatch1D(kernel{"binary", 3, []uint32{uint32(op)}}, n, push, xd, yd, zd)
	c.done()
}

// Reduce reduces x over the axes where yShape has size 1.
func (b *Backend) Reduce(op tensor.ReduceOp, x tensor.Buffer, xShape []int, y tensor.Buffer, yShape []int) {
	defer b.enter()()
	c := b.call("Reduce")
	xd, yd := c.in(x), c.out(y)
	name := "Reduce " + op.String()
	if op != tensor.ReduceSum && op != tensor.ReduceMax {
		panic("vk: Reduce: unknown op " + op.String())
	}
	if numel(xShape) != xd.n || numel(yShape) != yd.n {
		panic(fmt.Sprintf("vk: %s: buffers of %d and %d values for shapes %v and %v", name, xd.n, yd.n, xShape, yShape))
	}
	broadcastStrides(name, yShape, xShape) // checks y is x with axes set to 1
	// One stride set marks reduced axes with 0, so collapsing merges only
	// axes of the same kind.
	dense := make([]int, len(xShape))
	kept := make([]int, len(xShape))
	acc, kacc := 1, 1
	for d := len(xShape) - 1; d >= 0; d-- {
		dense[d] = acc
		acc *= xShape[d]
		if yShape[d] != 1 {
			kept[d] = kacc
			kacc *= xShape[d]
		}
	}
	shape, st := collapse(xShape, dense, kept)
	if len(shape) > maxRank {
		panic(fmt.Sprintf("vk: %s: %v -> %v needs %d axes after collapsing, the kernel has %d", name, xShape, yShape, len(shape), maxRank))
	}
	var mask uint32
	for d := range shape {
		if st[1][d] == 0 {
			mask |= 1 << d
		}
	}
	nOut := yd.n
	nRed := 0
	if nOut > 0 {
		nRed = xd.n / nOut
	}
	push := make([]uint32, 6+maxRank)
	push[0], push[1], push[2], push[3], push[4], push[5] = uint32(nOut), uint32(nRed), uint32(len(shape)), mask, xd.elemOff(), yd.elemOff()
	for d := range shape {
		push[6+d] = uint32(shape[d])
	}
	wg := uint32(256)
	if nRed >= 64 {
		gx, gy := b.grid(nOut)
		b.dispatch(kernel{"reduce_group", 2, []uint32{uint32(op), wg}}, push, gx, gy, 1, xd, yd)
	} else {
		b.dispatch1D(kernel{"reduce_thread", 2, []uint32{uint32(op), wg}}, nOut, push, xd, yd)
	}
	c.done()
}

// Adam updates p, m and v in place from the gradient g, as the CPU backend.
func (b *Backend) Adam(a tensor.AdamArgs, p, g, m, v tensor.Buffer) {
	defer b.enter()()
	c := b.call("Adam")
	pd, gd, md, vd := c.out(p), c.in(g), c.out(m), c.out(v)
	checkSameLen("Adam", pd, gd, md, vd)
	if a.Step < 1 {
		panic(fmt.Sprintf("vk: Adam: step %d < 1", a.Step))
	}
	t := float64(a.Step)
	stepSize := float32(a.LR / (1 - math.Pow(a.Beta1, t)))
	bc2Sqrt := float32(math.Sqrt(1 - math.Pow(a.Beta2, t)))
	push := []uint32{uint32(pd.n), pd.elemOff(), gd.elemOff(), md.elemOff(), vd.elemOff(),
		f32(stepSize), f32(bc2Sqrt), f32(float32(a.Beta1)), f32(float32(a.Beta2)),
		f32(float32(1 - a.Beta1)), f32(float32(1 - a.Beta2)), f32(float32(a.WeightDecay)), f32(float32(a.Eps))}
	b.dispatch1D(kernel{"adam", 4, nil}, pd.n, push, pd, gd, md, vd)
	c.done()
}
