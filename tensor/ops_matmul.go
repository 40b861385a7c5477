package tensor

import "fmt"

// MatMul returns the matrix product of a [M, K] and b [K, N], or the batched
// product of a [B, M, K] and b [B, K, N].
func (tp *Tape) MatMul(a, b *Tensor) *Tensor {
	ra, rb := len(a.shape), len(b.shape)
	if ra != rb || (ra != 2 && ra != 3) || a.shape[ra-1] != b.shape[rb-2] || (ra == 3 && a.shape[0] != b.shape[0]) {
		panic(fmt.Sprintf("tensor: MatMul: shapes %s and %s do not multiply", ShapeString(a.shape), ShapeString(b.shape)))
	}
	batch := 1
	if ra == 3 {
		batch = a.shape[0]
	}
	m, k, n := a.shape[ra-2], a.shape[ra-1], b.shape[rb-1]
	shape := []int{m, n}
	if ra == 3 {
		shape = []int{batch, m, n}
	}
	be := tp.Backend()
	c := tp.newT(shape...)
	be.Gemm(GemmArgs{M: m, N: n, K: k, Alpha: 1, Lda: k, StrideA: m * k, Ldb: n, StrideB: k * n,
		Ldc: n, StrideC: m * n, Batch: batch}, tp.b(a), tp.b(b), tp.b(c))
	return tp.done("matmul", c, func(g *Tensor) {
		if a.needsGrad() { // dA = dC Bᵀ
			da := tp.buf(a.Len())
			be.Gemm(GemmArgs{TransB: true, M: m, N: k, K: n, Alpha: 1, Lda: n, StrideA: m * n, Ldb: n, StrideB: k * n,
				Ldc: k, StrideC: m * k, Batch: batch}, tp.b(g), tp.b(b), da)
			tp.accumOwned(a, da)
		}
		if b.needsGrad() { // dB = Aᵀ dC
			db := tp.buf(b.Len())
			be.Gemm(GemmArgs{TransA: true, M: k, N: n, K: m, Alpha: 1, Lda: k, StrideA: m * k, Ldb: n, StrideB: m * n,
				Ldc: n, StrideC: k * n, Batch: batch}, tp.b(a), tp.b(g), db)
			tp.accumOwned(b, db)
		}
	}, a, b)
}

// Linear returns x wᵀ + bias for x [N, in], w [out, in] (PyTorch's layout)
// and bias [out] or nil: y [N, out].
func (tp *Tape) Linear(x, w, bias *Tensor) *Tensor {
	if len(x.shape) != 2 || len(w.shape) != 2 || x.shape[1] != w.shape[1] {
		panic(fmt.Sprintf("tensor: Linear: input %s and weight %s: want [N in] and [out in]", ShapeString(x.shape), ShapeString(w.shape)))
	}
	n, in, out := x.shape[0], x.shape[1], w.shape[0]
	if bias != nil && (len(bias.shape) != 1 || bias.shape[0] != out) {
		panic(fmt.Sprintf("tensor: Linear: weight %s and bias %s: bias must be [%d]", ShapeString(w.shape), ShapeString(bias.shape), out))
	}
	be := tp.Backend()
	y := tp.newT(n, out)
	var beta float32
	if bias != nil { // start from the bias in every row, then add the product
		be.Binary(BinaryAdd, tp.b(bias), []int{1, out}, tp.zero(), []int{1, 1}, tp.b(y), []int{n, out})
		beta = 1
	}
	be.Gemm(GemmArgs{TransB: true, M: n, N: out, K: in, Alpha: 1, Beta: beta, Lda: in, Ldb: in, Ldc: out}, tp.b(x), tp.b(w), tp.b(y))
	ins := []*Tensor{x, w}
	if bias != nil {
		ins = append(ins, bias)
	}
	return tp.done("linear", y, func(g *Tensor) {
		if x.needsGrad() { // dx = dy w
			dx := tp.buf(x.Len())
			be.Gemm(GemmArgs{M: n, N: in, K: out, Alpha: 1, Lda: out, Ldb: in, Ldc: in}, tp.b(g), tp.b(w), dx)
			tp.accumOwned(x, dx)
		}
		if w.needsGrad() { // dw += dyᵀ x
			dw := tp.gradBuf(w)
			be.Gemm(GemmArgs{TransA: true, M: out, N: in, K: n, Alpha: 1, Beta: 1, Lda: out, Ldb: in, Ldc: in}, tp.b(g), tp.b(x), dw)
		}
		if bias != nil && bias.needsGrad() {
			db := tp.buf(out)
			be.Reduce(ReduceSum, tp.b(g), []int{n, out}, db, []int{1, out})
			tp.accumOwned(bias, db)
		}
	}, ins...)
}
