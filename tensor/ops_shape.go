package tensor

import "fmt"

// The shape ops move values without arithmetic. On the CPU they copy blocks
// of host memory; a device tape runs them through the backend's strided
// copy (Copier) when it has one, and on the host as Custom ops otherwise.

// View returns x with a new shape of the same size (one dimension may be
// -1), sharing x's values; the gradient flows back reshaped.
func (tp *Tape) View(x *Tensor, shape ...int) *Tensor {
	y := x.Reshape(shape...)
	return tp.done("view", y, func(g *Tensor) { tp.accum(x, tp.b(g)) }, x)
}

// axisBlocks views shape around axis as [outer, shape[axis], inner].
func axisBlocks(op string, shape []int, axis int) (ax, outer, inner int) {
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) {
		panic(fmt.Sprintf("tensor: %s: axis out of range for shape %s", op, ShapeString(shape)))
	}
	outer, inner = 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return axis, outer, inner
}

// Permute returns x with its axes reordered: axis i of the result is axis
// perm[i] of x.
func (tp *Tape) Permute(x *Tensor, perm ...int) *Tensor {
	r := len(x.shape)
	if len(perm) != r {
		panic(fmt.Sprintf("tensor: Permute: permutation %v for shape %s", perm, ShapeString(x.shape)))
	}
	seen := make([]bool, r)
	shape := make([]int, r)
	for i, p := range perm {
		if p < 0 || p >= r || seen[p] {
			panic(fmt.Sprintf("tensor: Permute: permutation %v for shape %s", perm, ShapeString(x.shape)))
		}
		seen[p] = true
		shape[i] = x.shape[p]
	}
	if c := tp.copier(); c != nil {
		return tp.permuteDev(c, x, perm, shape)
	}
	if !tp.onHost() {
		perm = append([]int(nil), perm...)
		return tp.viaHost("permute", shape, func(h *Tape, in []*Tensor) *Tensor { return h.Permute(in[0], perm...) }, x)
	}
	x.pull()
	y := tp.newT(shape...)
	permuteInto(y.data, x.data, x.shape, perm)
	return tp.done("permute", y, func(g *Tensor) {
		inv := make([]int, r)
		for i, p := range perm {
			inv[p] = i
		}
		dx := tp.hbuf(len(x.data))
		permuteInto(dx, g.data, shape, inv)
		tp.accumOwned(x, HostBuffer(dx))
	}, x)
}

// permuteInto writes src (of shape) with axes permuted into dst.
func permuteInto(dst, src []float32, shape, perm []int) {
	r := len(shape)
	if len(src) == 0 {
		return
	}
	stride := make([]int, r)
	acc := 1
	for d := r - 1; d >= 0; d-- {
		stride[d] = acc
		acc *= shape[d]
	}
	oshape := make([]int, r)
	ostride := make([]int, r) // source stride along each output axis
	for i, p := range perm {
		oshape[i] = shape[p]
		ostride[i] = stride[p]
	}
	if r == 0 {
		dst[0] = src[0]
		return
	}
	idx := make([]int, r)
	last := oshape[r-1]
	ls := ostride[r-1]
	off := 0
	for o := 0; o < len(dst); o += last {
		row := dst[o : o+last]
		for j := range row {
			row[j] = src[off+j*ls]
		}
		d := r - 2
		for ; d >= 0; d-- {
			idx[d]++
			off += ostride[d]
			if idx[d] < oshape[d] {
				break
			}
			off -= ostride[d] * oshape[d]
			idx[d] = 0
		}
	}
}

// Transpose swaps two axes of x.
func (tp *Tape) Transpose(x *Tensor, a, b int) *Tensor {
	r := len(x.shape)
	a, _, _ = axisBlocks("Transpose", x.shape, a)
	b, _, _ = axisBlocks("Transpose", x.shape, b)
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = b, a
	return tp.Permute(x, perm...)
}

// Concat joins tensors along axis; all other dimensions must agree.
func (tp *Tape) Concat(axis int, xs ...*Tensor) *Tensor {
	if len(xs) == 0 {
		panic("tensor: Concat: no tensors")
	}
	ax, outer, _ := axisBlocks("Concat", xs[0].shape, axis)
	shape := cloneShape(xs[0].shape)
	shape[ax] = 0
	for _, x := range xs {
		if len(x.shape) != len(shape) {
			panic(fmt.Sprintf("tensor: Concat: shapes %s and %s differ in rank", ShapeString(xs[0].shape), ShapeString(x.shape)))
		}
		for d := range shape {
			if d != ax && x.shape[d] != xs[0].shape[d] {
				panic(fmt.Sprintf("tensor: Concat along axis %d: shapes %s and %s differ in axis %d",
					ax, ShapeString(xs[0].shape), ShapeString(x.shape), d))
			}
		}
		shape[ax] += x.shape[ax]
	}
	if c := tp.copier(); c != nil {
		return tp.concatDev(c, xs, outer, shape)
	}
	if !tp.onHost() {
		return tp.viaHost("concat", shape, func(h *Tape, in []*Tensor) *Tensor { return h.Concat(ax, in...) }, xs...)
	}
	for _, x := range xs {
		x.pull()
	}
	y := tp.newT(shape...)
	row := len(y.data) / max(outer, 1)
	off := 0
	for _, x := range xs {
		w := len(x.data) / max(outer, 1)
		for o := range outer {
			copy(y.data[o*row+off:o*row+off+w], x.data[o*w:(o+1)*w])
		}
		off += w
	}
	return tp.done("concat", y, func(g *Tensor) {
		off := 0
		for _, x := range xs {
			w := len(x.data) / max(outer, 1)
			if x.needsGrad() {
				dx := tp.hbuf(len(x.data))
				for o := range outer {
					copy(dx[o*w:(o+1)*w], g.data[o*row+off:o*row+off+w])
				}
				tp.accumOwned(x, HostBuffer(dx))
			}
			off += w
		}
	}, xs...)
}

// Stack joins tensors of one shape along a new axis.
func (tp *Tape) Stack(axis int, xs ...*Tensor) *Tensor {
	if len(xs) == 0 {
		panic("tensor: Stack: no tensors")
	}
	r := len(xs[0].shape)
	if axis < 0 {
		axis += r + 1
	}
	if axis < 0 || axis > r {
		panic(fmt.Sprintf("tensor: Stack: axis out of range for shape %s", ShapeString(xs[0].shape)))
	}
	vs := make([]*Tensor, len(xs))
	for i, x := range xs {
		if !equalShape(x.shape, xs[0].shape) {
			panic(fmt.Sprintf("tensor: Stack: shapes %s and %s differ", ShapeString(xs[0].shape), ShapeString(x.shape)))
		}
		s := append(append(cloneShape(x.shape[:axis]), 1), x.shape[axis:]...)
		vs[i] = tp.View(x, s...)
	}
	return tp.Concat(axis, vs...)
}

// Slice returns the elements [start, end) of x along axis.
func (tp *Tape) Slice(x *Tensor, axis, start, end int) *Tensor {
	ax, outer, inner := axisBlocks("Slice", x.shape, axis)
	n := x.shape[ax]
	if start < 0 || end > n || start > end {
		panic(fmt.Sprintf("tensor: Slice: [%d, %d) out of range for axis %d of shape %s", start, end, ax, ShapeString(x.shape)))
	}
	shape := cloneShape(x.shape)
	shape[ax] = end - start
	if c := tp.copier(); c != nil {
		return tp.sliceDev(c, x, outer, n*inner, start*inner, (end-start)*inner, shape)
	}
	if !tp.onHost() {
		return tp.viaHost("slice", shape, func(h *Tape, in []*Tensor) *Tensor { return h.Slice(in[0], ax, start, end) }, x)
	}
	x.pull()
	y := tp.newT(shape...)
	w := (end - start) * inner
	for o := range outer {
		copy(y.data[o*w:(o+1)*w], x.data[(o*n+start)*inner:])
	}
	return tp.done("slice", y, func(g *Tensor) {
		dx := hostOf(tp.gradBuf(x))
		be := tp.Backend()
		for o := range outer {
			d := dx[(o*n+start)*inner:][:w]
			be.Binary(BinaryAdd, HostBuffer(d), []int{w}, HostBuffer(g.data[o*w:(o+1)*w]), []int{w}, HostBuffer(d), []int{w})
		}
	}, x)
}

// Split cuts x along axis into pieces of the given sizes, which must add up
// to the axis length.
func (tp *Tape) Split(x *Tensor, axis int, sizes ...int) []*Tensor {
	ax, _, _ := axisBlocks("Split", x.shape, axis)
	total := 0
	for _, s := range sizes {
		total += s
	}
	if total != x.shape[ax] {
		panic(fmt.Sprintf("tensor: Split: sizes %v do not add up to axis %d of shape %s", sizes, ax, ShapeString(x.shape)))
	}
	out := make([]*Tensor, len(sizes))
	at := 0
	for i, s := range sizes {
		out[i] = tp.Slice(x, ax, at, at+s)
		at += s
	}
	return out
}

// IndexSelect returns the slices idx[0], idx[1], ... of x along axis, as
// torch.index_select; an index may repeat (its gradients add up).
func (tp *Tape) IndexSelect(x *Tensor, axis int, idx []int) *Tensor {
	ax, outer, inner := axisBlocks("IndexSelect", x.shape, axis)
	n := x.shape[ax]
	for _, i := range idx {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("tensor: IndexSelect: index %d out of range for axis %d of shape %s", i, ax, ShapeString(x.shape)))
		}
	}
	shape := cloneShape(x.shape)
	shape[ax] = len(idx)
	if !tp.onHost() {
		idx = append([]int(nil), idx...)
		return tp.viaHost("index_select", shape, func(h *Tape, in []*Tensor) *Tensor { return h.IndexSelect(in[0], ax, idx) }, x)
	}
	x.pull()
	y := tp.newT(shape...)
	m := len(idx)
	for o := range outer {
		for j, i := range idx {
			copy(y.data[(o*m+j)*inner:(o*m+j+1)*inner], x.data[(o*n+i)*inner:])
		}
	}
	idx = append([]int(nil), idx...)
	return tp.done("index_select", y, func(g *Tensor) {
		dx := hostOf(tp.gradBuf(x))
		for o := range outer {
			for j, i := range idx {
				d := dx[(o*n+i)*inner:][:inner]
				s := g.data[(o*m+j)*inner:][:inner]
				for k := range d {
					d[k] += s[k]
				}
			}
		}
	}, x)
}

// GatherLabel returns, for each b, the slice x[b, labels[b]] of x
// [B, K, ...]: a [B, ...] tensor. It is the conditional model's projection
// onto the subspace of each sequence's action.
func (tp *Tape) GatherLabel(x *Tensor, labels []int) *Tensor {
	if len(x.shape) < 2 || x.shape[0] != len(labels) {
		panic(fmt.Sprintf("tensor: GatherLabel: input %s for %d labels: want [B K ...] with B = %d", ShapeString(x.shape), len(labels), len(labels)))
	}
	b, k := x.shape[0], x.shape[1]
	inner := x.Len() / max(b*k, 1)
	for _, l := range labels {
		if l < 0 || l >= k {
			panic(fmt.Sprintf("tensor: GatherLabel: label %d out of range for input %s", l, ShapeString(x.shape)))
		}
	}
	shape := append([]int{b}, x.shape[2:]...)
	if c := tp.copier(); c != nil {
		return tp.gatherDev(c, x, labels, k, inner, shape)
	}
	if !tp.onHost() {
		labels = append([]int(nil), labels...)
		return tp.viaHost("gather_label", shape, func(h *Tape, in []*Tensor) *Tensor { return h.GatherLabel(in[0], labels) }, x)
	}
	x.pull()
	y := tp.newT(shape...)
	for i, l := range labels {
		copy(y.data[i*inner:(i+1)*inner], x.data[(i*k+l)*inner:])
	}
	labels = append([]int(nil), labels...)
	return tp.done("gather_label", y, func(g *Tensor) {
		dx := hostOf(tp.gradBuf(x))
		for i, l := range labels {
			d := dx[(i*k+l)*inner:][:inner]
			s := g.data[i*inner:][:inner]
			for j := range d {
				d[j] += s[j]
			}
		}
	}, x)
}
