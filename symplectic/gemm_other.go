//go:build !amd64 || purego

package symplectic

func kernel6x8(k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	kernel6x8Generic(k, a, lda, b, ldb, c, ldc, acc)
}

func kernel6x4(k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	kernel6x4Generic(k, a, lda, b, ldb, c, ldc, acc)
}

func kernelImpl() string { return "generic" }

func setGeneric(bool) (was bool) { return true }
