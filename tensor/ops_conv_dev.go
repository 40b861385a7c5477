package tensor

// Convolutions on a device tape: the backend's Im2col, Col2im and batched
// Gemm over the layout described at ConvGeom. The column-side activation of
// image n, [colC, HW], is the product of the weight matrix [colC, rows]
// and the columns n*HW to (n+1)*HW of the column matrix [rows, N*HW].

// maxColValues bounds the column matrix of one chunk of images (32 MiB):
// a whole batch's can exceed what a device binds as one buffer.
var maxColValues = 1 << 23

// convMats holds the matrix sizes of a convolution's products over a chunk
// of n images starting at image n0.
type convMats struct {
	n0, n, colC, rows, cols, hw int
}

func newConvMats(g ConvGeom, w *Tensor) convMats {
	m := convMats{n: g.N, rows: g.ColRows(), cols: g.ColCols()}
	m.hw = m.cols / max(m.n, 1)
	m.colC = w.Len() / max(m.rows, 1)
	return m
}

// chunk returns the sizes for images [n0, n0+n).
func (m convMats) chunk(n0, n int) convMats {
	m.n0, m.n, m.cols = n0, n, n*m.hw
	return m
}

// sideOff is where the chunk starts in a column-side activation.
func (m convMats) sideOff() int { return m.n0 * m.colC * m.hw }

// sideFromCol sets side = W · col per image of the chunk.
func (m convMats) sideFromCol() GemmArgs {
	return GemmArgs{M: m.colC, N: m.hw, K: m.rows, Alpha: 1, Lda: m.rows, Ldb: m.cols, StrideB: m.hw,
		OffC: m.sideOff(), Ldc: m.hw, StrideC: m.colC * m.hw, Batch: m.n}
}

// colFromSide sets col = Wᵀ · side per image of the chunk.
func (m convMats) colFromSide() GemmArgs {
	return GemmArgs{TransA: true, M: m.rows, N: m.hw, K: m.colC, Alpha: 1, Lda: m.rows,
		OffB: m.sideOff(), Ldb: m.hw, StrideB: m.colC * m.hw, Ldc: m.cols, StrideC: m.hw, Batch: m.n}
}

// weightGrad adds sideP · colᵀ to dw, sideP being the chunk's column
// side permuted to [colC, n*HW] (sideByChannel).
func (m convMats) weightGrad() GemmArgs {
	return GemmArgs{TransB: true, M: m.colC, N: m.rows, K: m.cols, Alpha: 1, Beta: 1, Lda: m.cols, Ldb: m.cols, Ldc: m.rows}
}

// sideByChannel returns the chunk of the column-side activation side
// [N, colC, HW] as [colC, n*HW], a fresh buffer.
func (tp *Tape) sideByChannel(c Copier, m convMats, side Buffer) Buffer {
	p := tp.buf(m.colC * m.cols)
	copyDev(c, p, 0, []int{m.hw, m.cols, 1}, side, m.sideOff(), []int{m.colC * m.hw, m.hw, 1}, []int{m.n, m.colC, m.hw})
	return p
}

// images returns images [n0, n0+n) of img, per values each, as a buffer
// of their own: img itself when that is all of them, else a copy (fresh
// when copy is false, zeroed).
func (tp *Tape) images(c Copier, img Buffer, n0, n, per int, copyIn bool) Buffer {
	if n0 == 0 && n*per == img.Len() {
		return img
	}
	t := tp.buf(n * per)
	if copyIn {
		copyDev(c, t, 0, []int{1}, img, n0*per, []int{1}, []int{n * per})
	}
	return t
}

// imagesDone writes a chunk made by images back into img when it was a
// separate buffer, and frees it.
func (tp *Tape) imagesDone(c Copier, img, t Buffer, n0, per int, copyOut bool) {
	if t == img {
		return
	}
	if copyOut {
		copyDev(c, img, n0*per, []int{1}, t, 0, []int{1}, []int{t.Len()})
	}
	tp.put(t)
}

// convDev records a convolution on a device tape; ins are x, w and the
// bias if any. It works through chunks of images whose column matrix fits
// in maxColValues. Without a Copier (needed for the weight gradient and
// the chunks) the convolution runs on the host.
func (tp *Tape) convDev(name string, g ConvGeom, ins []*Tensor, shape []int) *Tensor {
	c := tp.copier()
	if c == nil {
		return tp.viaHost(name, shape, func(h *Tape, in []*Tensor) *Tensor {
			var b *Tensor
			if len(in) > 2 {
				b = in[2]
			}
			return h.convOp(name, g, in[0], in[1], b, shape)
		}, ins...)
	}
	x, w := ins[0], ins[1]
	var bias *Tensor
	if len(ins) > 2 {
		bias = ins[2]
	}
	be := tp.be
	m := newConvMats(g, w)
	y := tp.newT(shape...)
	img, side := x, y // the image and the column side of the product
	if g.Transposed {
		img, side = y, x
	}
	per := img.Len() / max(g.N, 1) // values of one image
	step := max(1, min(g.N, maxColValues/max(m.rows*m.hw, 1)))
	chunks := func(f func(gc ConvGeom, mc convMats)) {
		for n0 := 0; n0 < g.N; n0 += step {
			gc := g
			gc.N = min(step, g.N-n0)
			f(gc, m.chunk(n0, gc.N))
		}
	}
	chunks(func(gc ConvGeom, mc convMats) {
		col := tp.buf(mc.rows * mc.cols)
		if !g.Transposed {
			im := tp.images(c, tp.b(img), mc.n0, mc.n, per, true)
			be.Im2col(gc, im, col)
			tp.imagesDone(c, tp.b(img), im, mc.n0, per, false)
			be.Gemm(mc.sideFromCol(), tp.b(w), col, tp.b(side))
		} else {
			be.Gemm(mc.colFromSide(), tp.b(w), tp.b(side), col)
			im := tp.images(c, tp.b(img), mc.n0, mc.n, per, false)
			be.Col2im(gc, col, im)
			tp.imagesDone(c, tp.b(img), im, mc.n0, per, true)
		}
		tp.put(col)
	})
	outC := shape[1]
	outHW := y.Len() / max(g.N*outC, 1)
	full := []int{g.N, outC, outHW}
	if bias != nil {
		be.Binary(BinaryAdd, tp.b(y), full, tp.b(bias), []int{1, outC, 1}, tp.b(y), full)
	}
	return tp.done(name, y, func(gy *Tensor) {
		gImg, gSide := tp.b(x), tp.b(gy) // the gradient pass's image and column side
		if g.Transposed {
			gImg, gSide = tp.b(gy), tp.b(x)
		}
		var dx, dw Buffer
		if x.needsGrad() {
			dx = tp.buf(x.Len())
		}
		if w.needsGrad() {
			dw = tp.gradBuf(w)
		}
		chunks(func(gc ConvGeom, mc convMats) {
			col := tp.buf(mc.rows * mc.cols)
			if g.Transposed || dw != nil { // the columns of the image
				im := tp.images(c, gImg, mc.n0, mc.n, per, true)
				be.Im2col(gc, im, col)
				tp.imagesDone(c, gImg, im, mc.n0, per, false)
			}
			if dw != nil {
				p := tp.sideByChannel(c, mc, gSide)
				be.Gemm(mc.weightGrad(), p, col, dw)
				tp.put(p)
			}
			switch {
			case dx == nil:
			case !g.Transposed: // dx = col2im(Wᵀ · dy)
				be.Gemm(mc.colFromSide(), tp.b(w), gSide, col)
				im := tp.images(c, dx, mc.n0, mc.n, per, false)
				be.Col2im(gc, col, im)
				tp.imagesDone(c, dx, im, mc.n0, per, true)
			default: // dx = W · im2col(dy)
				be.Gemm(mc.sideFromCol(), tp.b(w), col, dx)
			}
			tp.put(col)
		})
		if dx != nil {
			tp.accumOwned(x, dx)
		}
		if bias != nil && bias.needsGrad() {
			db := tp.buf(outC)
			be.Reduce(ReduceSum, tp.b(gy), full, db, []int{1, outC, 1})
			tp.accumOwned(bias, db)
		}
	}, ins...)
}
