package tensor

// Convolutions on a device tape: the backend's Im2col, Col2im and batched
// Gemm over the layout described at ConvGeom. The column-side activation of
// image n, [colC, HW], is the product of the weight matrix [colC, rows]
// and the columns n*HW to (n+1)*HW of the column matrix [rows, N*HW].

// convMats holds the matrix sizes of a convolution's products.
type convMats struct {
	n, colC, rows, cols, hw int
}

func newConvMats(g ConvGeom, w *Tensor) convMats {
	m := convMats{n: g.N, rows: g.ColRows(), cols: g.ColCols()}
	m.hw = m.cols / max(m.n, 1)
	m.colC = w.Len() / max(m.rows, 1)
	return m
}

// sideFromCol sets (beta 0) or adds to (beta 1) side = W · col per image.
func (m convMats) sideFromCol(beta float32) GemmArgs {
	return GemmArgs{M: m.colC, N: m.hw, K: m.rows, Alpha: 1, Beta: beta, Lda: m.rows, Ldb: m.cols, StrideB: m.hw,
		Ldc: m.hw, StrideC: m.colC * m.hw, Batch: m.n}
}

// colFromSide sets col = Wᵀ · side per image.
func (m convMats) colFromSide() GemmArgs {
	return GemmArgs{TransA: true, M: m.rows, N: m.hw, K: m.colC, Alpha: 1, Lda: m.rows, Ldb: m.hw, StrideB: m.colC * m.hw,
		Ldc: m.cols, StrideC: m.hw, Batch: m.n}
}

// weightGrad adds sideP · colᵀ to dw, sideP being the column side
// permuted to [colC, N*HW].
func (m convMats) weightGrad() GemmArgs {
	return GemmArgs{TransB: true, M: m.colC, N: m.rows, K: m.cols, Alpha: 1, Beta: 1, Lda: m.cols, Ldb: m.cols, Ldc: m.rows}
}

// sideByChannel returns the column-side activation side [N, colC, HW] as
// [colC, N*HW], a fresh buffer.
func (tp *Tape) sideByChannel(c Copier, m convMats, side Buffer) Buffer {
	p := tp.buf(side.Len())
	copyDev(c, p, 0, []int{m.hw, m.cols, 1}, side, 0, []int{m.colC * m.hw, m.hw, 1}, []int{m.n, m.colC, m.hw})
	return p
}

// convDev records a convolution on a device tape; ins are x, w and the
// bias if any. Without a Copier (needed for the weight gradient) the
// convolution runs on the host.
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
	outC := shape[1]
	outHW := y.Len() / max(g.N*outC, 1)
	var beta float32
	if bias != nil { // y starts from the bias; the products add to it
		be.Binary(BinaryAdd, tp.b(bias), []int{1, outC, 1}, tp.zero(), []int{1, 1, 1}, tp.b(y), []int{g.N, outC, outHW})
		beta = 1
	}
	col := tp.buf(m.rows * m.cols)
	if !g.Transposed {
		be.Im2col(g, tp.b(x), col)
		be.Gemm(m.sideFromCol(beta), tp.b(w), col, tp.b(y))
	} else {
		be.Gemm(m.colFromSide(), tp.b(w), tp.b(x), col)
		be.Col2im(g, col, tp.b(y))
	}
	tp.put(col)
	return tp.done(name, y, func(gy *Tensor) {
		col := tp.buf(m.rows * m.cols)
		var side, img Buffer // the column side and the image of the gradient pass
		if !g.Transposed {
			side = tp.b(gy)
			if w.needsGrad() {
				be.Im2col(g, tp.b(x), col)
			}
		} else {
			side = tp.b(x)
			be.Im2col(g, tp.b(gy), col)
		}
		if w.needsGrad() {
			p := tp.sideByChannel(c, m, side)
			be.Gemm(m.weightGrad(), p, col, tp.gradBuf(w))
			tp.put(p)
		}
		if x.needsGrad() {
			if !g.Transposed { // dx = col2im(Wᵀ · dy)
				be.Gemm(m.colFromSide(), tp.b(w), side, col)
				img = tp.gradBuf(x)
				be.Col2im(g, col, img)
			} else { // dx = W · im2col(dy)
				dx := tp.buf(x.Len())
				be.Gemm(m.sideFromCol(0), tp.b(w), col, dx)
				tp.accumOwned(x, dx)
			}
		}
		tp.put(col)
		if bias != nil && bias.needsGrad() {
			db := tp.buf(outC)
			be.Reduce(ReduceSum, tp.b(gy), []int{g.N, outC, outHW}, db, []int{1, outC, 1})
			tp.accumOwned(bias, db)
		}
	}, ins...)
}
