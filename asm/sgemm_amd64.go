//go:build amd64 && !purego

package asm

// sgemmKernel6x16AVX2 is the assembly form of sgemmKernelGeneric; see SgemmKernel6x16.
//
//go:noescape
func sgemmKernel6x16AVX2(k int, a, b, c *float32, ldc int, alpha, beta float32)

func sgemmKernel6x16(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	if useAVX2FMA {
		sgemmKernel6x16AVX2(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
		return
	}
	sgemmKernelGeneric(k, a, b, c, ldc, alpha, beta)
}

//go:noescape
func fmaPeakAVX2(iters int)

func fmaPeak(iters int) int {
	if !useAVX2FMA {
		return 0
	}
	fmaPeakAVX2(iters)
	return iters * fmaPeakFlopsPerIter
}
