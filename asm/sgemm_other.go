//go:build !amd64 || purego

package asm

func sgemmKernel12x32(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernelGenericShape(12, 32, k, a, b, c, ldc, alpha, beta)
}

func sgemmKernelTop(rows, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	panic("unreachable")
}

func sgemmKernel6x16(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernelGeneric(k, a, b, c, ldc, alpha, beta)
}

func fmaPeak(iters int) int { return 0 }

func head(n int) int { return 0 }

func axpyAVX2(alpha float32, x, y *float32, n int)                   { panic("unreachable") }
func scaleAVX2(alpha float32, x *float32, n int)                     { panic("unreachable") }
func dotAVX2(x, y *float32, n int) float32                           { panic("unreachable") }
func sumAVX2(x *float32, n int) float32                              { panic("unreachable") }
func addAVX2(dst, x, y *float32, n int)                              { panic("unreachable") }
func mulAVX2(dst, x, y *float32, n int)                              { panic("unreachable") }
func reluAVX2(dst, x *float32, n int)                                { panic("unreachable") }
func reluBackwardAVX2(dx, x, dy *float32, n int)                     { panic("unreachable") }
func leakyReluAVX2(dst, x *float32, slope float32, n int)            { panic("unreachable") }
func leakyReluBackwardAVX2(dx, x, dy *float32, slope float32, n int) { panic("unreachable") }

func fmaPeak512(iters int) int { return 0 }

func transpose16AVX512(dst *float32, ldd int, src *float32, lds int, blocks int) {
	panic("unreachable")
}

func scatterAddAVX512(dst, src *float32, idx *int32, n, dstLen int, check bool) int {
	panic("unreachable")
}

func gatherPanelsAVX512(dst, src *float32, idx *int32, panels, nr, stride, srcLen int) {
	panic("unreachable")
}

func cutPanels16AVX2(dst, src *float32, groups, panels, lds, stride int) { panic("unreachable") }
func cutPanels32AVX2(dst, src *float32, groups, panels, lds, stride int) { panic("unreachable") }

func convTaps12x32AVX512(base *float32, pix *[12]int, taps *int, ntaps, kc int, b, c *float32, ldc, acc int) {
	panic("unreachable")
}

func weightGrad12x32AVX512(a, x *float32, off *int, k int, c *float32, ldc int) {
	panic("unreachable")
}
