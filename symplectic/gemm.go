package symplectic

// Small dense products for the exponential. symplectic may import only the
// standard library and gonum, so it carries its own float64 micro-kernel:
// gonum's Dgemm runs at about a fifth of the FMA peak on the 12..128 sized
// matrices the model uses, and every exponential is a handful of products.
//
// Layout: row-major with explicit strides, as in gonum's RawMatrix.

// Tile of C that the micro-kernels keep in registers: 6 rows by 8 columns
// (12 four-wide registers), plus a 6 by 4 variant for the column edge.
const (
	tileRows = 6
	tileCols = 8
)

// gemm computes C = A·B (acc false) or C = C + A·B (acc true), where A is
// m×k, B is k×n and C is m×n, all row-major with the given strides. C must
// not share memory with A or B.
//
// The sum for one entry of C runs over p = 0..k-1 in order; the assembly
// kernels fuse each multiply-add and the generic code does not, so the two
// agree to rounding, not bit for bit. With acc, the finished sum is added to
// the old C last.
func gemm(m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !acc {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	// One bounds check up front instead of one per load in the kernels.
	_ = a[(m-1)*lda+k-1]
	_ = b[(k-1)*ldb+n-1]
	_ = c[(m-1)*ldc+n-1]

	mt := m - m%tileRows
	n8 := n - n%tileCols
	n4 := n8
	if n-n8 >= 4 {
		n4 = n8 + 4
	}
	for i := 0; i < mt; i += tileRows {
		ai := a[i*lda:]
		ci := c[i*ldc:]
		for j := 0; j < n8; j += tileCols {
			kernel6x8(k, ai, lda, b[j:], ldb, ci[j:], ldc, acc)
		}
		if n4 > n8 {
			kernel6x4(k, ai, lda, b[n8:], ldb, ci[n8:], ldc, acc)
		}
	}
	// Edges: the last columns of the tiled rows, then the last rows.
	if n4 < n {
		gemmEdge(0, mt, n4, n, k, a, lda, b, ldb, c, ldc, acc)
	}
	if mt < m {
		gemmEdge(mt, m, 0, n, k, a, lda, b, ldb, c, ldc, acc)
	}
}

// gemmEdge computes rows i0..i1-1, columns j0..j1-1 of C with plain loops.
func gemmEdge(i0, i1, j0, j1, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	for i := i0; i < i1; i++ {
		ai := a[i*lda : i*lda+k]
		ci := c[i*ldc : i*ldc+j1]
		for j := j0; j < j1; j++ {
			var s float64
			for p, x := range ai {
				s += x * b[p*ldb+j]
			}
			if acc {
				s += ci[j]
			}
			ci[j] = s
		}
	}
}

// kernel6x8Generic is the pure-Go twin of the 6×8 assembly kernel:
//
//	for r := 0; r < 6; r++ {
//		for j := 0; j < 8; j++ {
//			var s float64
//			for p := 0; p < k; p++ {
//				s += a[r*lda+p] * b[p*ldb+j]
//			}
//			if acc {
//				s += c[r*ldc+j]
//			}
//			c[r*ldc+j] = s
//		}
//	}
//
// It walks the tile in 2×4 register blocks, which the compiler keeps in
// registers.
func kernel6x8Generic(k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	for r := 0; r < tileRows; r += 2 {
		for j := 0; j < tileCols; j += 4 {
			block2x4(k, a[r*lda:], lda, b[j:], ldb, c[r*ldc+j:], ldc, acc)
		}
	}
}

// kernel6x4Generic is kernel6x8Generic for a 6×4 tile.
func kernel6x4Generic(k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	for r := 0; r < tileRows; r += 2 {
		block2x4(k, a[r*lda:], lda, b, ldb, c[r*ldc:], ldc, acc)
	}
}

// block2x4 is the register block of the generic kernels.
func block2x4(k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	a0 := a[:k:k]
	a1 := a[lda : lda+k : lda+k]
	var c00, c01, c02, c03, c10, c11, c12, c13 float64
	for p := range a0 {
		bp := b[p*ldb : p*ldb+4 : p*ldb+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		x, y := a0[p], a1[p]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		c10 += y * b0
		c11 += y * b1
		c12 += y * b2
		c13 += y * b3
	}
	r0 := c[:4:4]
	r1 := c[ldc : ldc+4 : ldc+4]
	if acc {
		c00 += r0[0]
		c01 += r0[1]
		c02 += r0[2]
		c03 += r0[3]
		c10 += r1[0]
		c11 += r1[1]
		c12 += r1[2]
		c13 += r1[3]
	}
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
}
