package tensor

import "fmt"

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major float32 matrices,
// with BLAS semantics: op(X) is X or its transpose, op(A) is m x k, op(B) is
// k x n and C is m x n; lda, ldb and ldc are the row strides of A, B and C as
// stored. When beta is zero C is not read (NaN in C does not propagate); when
// alpha is zero or k is zero A and B are not read.
//
// The work is split over GOMAXPROCS goroutines. Dimensions, strides or slice
// lengths that do not fit panic with a message naming the shapes involved.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkGemm panics unless the arguments describe matrices that fit their slices.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int,
	b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("tensor: Sgemm: negative dimension: m=%d n=%d k=%d", m, n, k))
	}
	// Stored shapes (rows x cols) of A and B.
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	shapes := func() string {
		return fmt.Sprintf("op(A) %dx%d (A stored %dx%d, transA=%t, lda=%d, len %d), op(B) %dx%d (B stored %dx%d, transB=%t, ldb=%d, len %d), C %dx%d (ldc=%d, len %d)",
			m, k, ar, ac, transA, lda, len(a), k, n, br, bc, transB, ldb, len(b), m, n, ldc, len(c))
	}
	if lda < max(1, ac) {
		panic("tensor: Sgemm: lda smaller than the columns of A: " + shapes())
	}
	if ldb < max(1, bc) {
		panic("tensor: Sgemm: ldb smaller than the columns of B: " + shapes())
	}
	if ldc < max(1, n) {
		panic("tensor: Sgemm: ldc smaller than the columns of C: " + shapes())
	}
	if m == 0 || n == 0 {
		return
	}
	if len(c) < (m-1)*ldc+n {
		panic("tensor: Sgemm: C too short: " + shapes())
	}
	if k == 0 {
		return
	}
	if len(a) < (ar-1)*lda+ac {
		panic("tensor: Sgemm: A too short: " + shapes())
	}
	if len(b) < (br-1)*ldb+bc {
		panic("tensor: Sgemm: B too short: " + shapes())
	}
}
