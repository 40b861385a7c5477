package tensor

// The shape ops of a device tape, as strided copies on the device.

// contiguous returns the row-major strides of shape.
func contiguous(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for d := len(shape) - 1; d >= 0; d-- {
		st[d] = acc
		acc *= shape[d]
	}
	return st
}

// copyDev runs one strided copy, skipping empty ones.
func copyDev(c Copier, dst Buffer, dstOff int, dstStrides []int, src Buffer, srcOff int, srcStrides []int, shape []int) {
	if numel(shape) == 0 {
		return
	}
	c.Copy(dst, dstOff, dstStrides, src, srcOff, srcStrides, shape)
}

// permuteDev is Permute on the device: y's axis i walks x's axis perm[i].
func (tp *Tape) permuteDev(c Copier, x *Tensor, perm, shape []int) *Tensor {
	xs := contiguous(x.shape)
	ps := make([]int, len(perm)) // x's stride along each axis of y
	for i, p := range perm {
		ps[i] = xs[p]
	}
	ys := contiguous(shape)
	y := tp.newT(shape...)
	copyDev(c, tp.b(y), 0, ys, tp.b(x), 0, ps, shape)
	return tp.done("permute", y, func(g *Tensor) {
		dx := tp.buf(x.Len())
		copyDev(c, dx, 0, ps, tp.b(g), 0, ys, shape)
		tp.accumOwned(x, dx)
	}, x)
}

// concatDev is Concat on the device: each input, seen as [outer, w], goes
// to its columns of the output seen as [outer, row].
func (tp *Tape) concatDev(c Copier, xs []*Tensor, outer int, shape []int) *Tensor {
	y := tp.newT(shape...)
	row := y.Len() / max(outer, 1)
	off := 0
	for _, x := range xs {
		w := x.Len() / max(outer, 1)
		copyDev(c, tp.b(y), off, []int{row, 1}, tp.b(x), 0, []int{w, 1}, []int{outer, w})
		off += w
	}
	return tp.done("concat", y, func(g *Tensor) {
		off := 0
		for _, x := range xs {
			w := x.Len() / max(outer, 1)
			if x.needsGrad() {
				dx := tp.buf(x.Len())
				copyDev(c, dx, 0, []int{w, 1}, tp.b(g), off, []int{row, 1}, []int{outer, w})
				tp.accumOwned(x, dx)
			}
			off += w
		}
	}, xs...)
}

// sliceDev is Slice on the device: x seen as [outer, rowX] gives y
// [outer, w] from column at.
func (tp *Tape) sliceDev(c Copier, x *Tensor, outer, rowX, at, w int, shape []int) *Tensor {
	y := tp.newT(shape...)
	copyDev(c, tp.b(y), 0, []int{w, 1}, tp.b(x), at, []int{rowX, 1}, []int{outer, w})
	return tp.done("slice", y, func(g *Tensor) {
		dx := tp.buf(x.Len())
		copyDev(c, dx, at, []int{rowX, 1}, tp.b(g), 0, []int{w, 1}, []int{outer, w})
		tp.accumOwned(x, dx)
	}, x)
}

// gatherDev is GatherLabel on the device, one copy per sequence: x seen as
// [B, K, inner] gives y [B, inner]. Every b has its own destination, so
// the gradient is a scatter without collisions.
func (tp *Tape) gatherDev(c Copier, x *Tensor, labels []int, k, inner int, shape []int) *Tensor {
	labels = append([]int(nil), labels...)
	y := tp.newT(shape...)
	for i, l := range labels {
		copyDev(c, tp.b(y), i*inner, []int{1}, tp.b(x), (i*k+l)*inner, []int{1}, []int{inner})
	}
	return tp.done("gather_label", y, func(g *Tensor) {
		dx := tp.buf(x.Len())
		for i, l := range labels {
			copyDev(c, dx, (i*k+l)*inner, []int{1}, tp.b(g), i*inner, []int{1}, []int{inner})
		}
		tp.accumOwned(x, dx)
	}, x)
}

// viaHost runs f, tape ops on host tensors standing for xs, as one Custom
// op: the fallback of a device tape for ops its backend cannot run. Its
// backward pass runs f again on a host tape and back-propagates through it.
func (tp *Tape) viaHost(name string, shape []int, f func(h *Tape, in []*Tensor) *Tensor, xs ...*Tensor) *Tensor {
	run := func(in [][]float32) (*Tape, []*Tensor, *Tensor) {
		h := NewTape()
		leaves := make([]*Tensor, len(xs))
		for i, x := range xs {
			leaves[i] = FromSlice(in[i], x.shape...).SetRequiresGrad(true)
		}
		return h, leaves, f(h, leaves)
	}
	return tp.Custom(CustomOp{
		Name: name,
		Forward: func(in [][]float32, out []float32) {
			_, _, y := run(in)
			copy(out, y.data)
		},
		Backward: func(in [][]float32, _, dout []float32, din [][]float32) {
			h, leaves, y := run(in)
			h.BackwardWith(y, FromSlice(dout, y.shape...))
			for i, l := range leaves {
				if din[i] == nil || l.grad == nil {
					continue
				}
				for j, v := range l.grad.data {
					din[i][j] += v
				}
			}
		},
	}, shape, xs...)
}
