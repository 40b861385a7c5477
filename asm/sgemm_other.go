//go:build !amd64 || purego

package asm

func sgemmKernel6x16(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernelGeneric(k, a, b, c, ldc, alpha, beta)
}

func fmaPeak(iters int) int { return 0 }
