//go:build amd64 && !purego

package asm

func sgemmKernel6x16AVX2Call(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernel6x16AVX2(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
}
