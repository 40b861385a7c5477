//go:build cgo && linux

package vk

import (
	"fmt"

	"github.com/halo-ml/halo/tensor"
)

var _ tensor.Copier = (*Backend)(nil)

// reach is one past the largest offset an index space of shape touches
// through strides, from off (off itself for an empty space).
func reach(off int, shape, strides []int) int {
	last := off
	for d, n := range shape {
		if n == 0 {
			return off
		}
		last += (n - 1) * strides[d]
	}
	return last + 1
}

// Copy sets dst[dstOff + Σ i_d·dstStrides_d] = src[srcOff + Σ i_d·srcStrides_d]
// for every index i of shape: the strided copy that shape operations
// (permutations, slices, concatenation, broadcasts with stride 0) reduce to.
// It makes the backend a tensor.Copier: device tapes run their shape ops
// through it. Strides are in values and must not be negative;
// destinations must not overlap each other or the source.
func (b *Backend) Copy(dst tensor.Buffer, dstOff int, dstStrides []int, src tensor.Buffer, srcOff int, srcStrides []int, shape []int) {
	defer b.enter()()
	c := b.call("Copy")
	sd, dd := c.in(src), c.out(dst)
	if len(dstStrides) != len(shape) || len(srcStrides) != len(shape) {
		panic(fmt.Sprintf("vk: Copy: strides %v and %v for shape %v", dstStrides, srcStrides, shape))
	}
	for d := range shape {
		if shape[d] < 0 || dstStrides[d] < 0 || srcStrides[d] < 0 {
			panic(fmt.Sprintf("vk: Copy: negative size or stride in shape %v, strides %v, %v", shape, dstStrides, srcStrides))
		}
	}
	if srcOff < 0 || dstOff < 0 || reach(srcOff, shape, srcStrides) > sd.n || reach(dstOff, shape, dstStrides) > dd.n {
		panic(fmt.Sprintf("vk: Copy: shape %v with strides %v from %d and %v from %d reaches past buffers of %d and %d values",
			shape, srcStrides, srcOff, dstStrides, dstOff, sd.n, dd.n))
	}
	n := numel(shape)
	s, st := collapse(shape, srcStrides, dstStrides)
	if len(s) > maxRank {
		panic(fmt.Sprintf("vk: Copy: shape %v needs %d axes after collapsing, the kernel has %d", shape, len(s), maxRank))
	}
	push := make([]uint32, 4+3*maxRank)
	push[0], push[1], push[2], push[3] = uint32(n), uint32(len(s)), sd.elemOff()+uint32(srcOff), dd.elemOff()+uint32(dstOff)
	for d := range s {
		push[4+d] = uint32(s[d])
		push[4+maxRank+d] = uint32(st[0][d])
		push[4+2*maxRank+d] = uint32(st[1][d])
	}
	b.dispatch1D(kernel{"copy", 2, nil}, n, push, sd, dd)
	c.done()
}
