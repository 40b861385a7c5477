//go:build amd64 && !purego

package asm

// sgemmKernel6x16AVX2 is the assembly form of sgemmKernelGeneric; see SgemmKernel6x16.
//
//go:noescape
func sgemmKernel6x16AVX2(k int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernel12x32AVX512 is the assembly 12x32 kernel; see SgemmKernel.
//
//go:noescape
func sgemmKernel12x32AVX512(k int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernel8x32AVX512 and sgemmKernel4x32AVX512 compute the first 8 or 4
// rows of a 12x32 tile from the same 12-row A panels; see SgemmKernelRows.
//
//go:noescape
func sgemmKernel8x32AVX512(k int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmKernel4x32AVX512(k int, a, b, c *float32, ldc int, alpha, beta float32)

func sgemmKernel12x32(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernel12x32AVX512(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// sgemmKernelTop runs the 12x32 family's kernel for the first rows rows of
// a tile, rows 4 or 8.
func sgemmKernelTop(rows, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	if rows == 4 {
		sgemmKernel4x32AVX512(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
		return
	}
	sgemmKernel8x32AVX512(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

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
	if !hasAVX2FMA() {
		return 0
	}
	fmaPeakAVX2(iters)
	return iters * fmaPeakFlopsPerIter
}

// head returns how many leading elements of an n-element operation the AVX2
// kernels take: a multiple of 8, or 0 when they are not in use.
func head(n int) int {
	if !useAVX2FMA {
		return 0
	}
	return n &^ 7
}

// The vector kernels below process n elements, n a positive multiple of 8.

//go:noescape
func axpyAVX2(alpha float32, x, y *float32, n int)

//go:noescape
func scaleAVX2(alpha float32, x *float32, n int)

//go:noescape
func dotAVX2(x, y *float32, n int) float32

//go:noescape
func sumAVX2(x *float32, n int) float32

//go:noescape
func addAVX2(dst, x, y *float32, n int)

//go:noescape
func mulAVX2(dst, x, y *float32, n int)

//go:noescape
func reluAVX2(dst, x *float32, n int)

//go:noescape
func reluBackwardAVX2(dx, x, dy *float32, n int)

//go:noescape
func leakyReluAVX2(dst, x *float32, slope float32, n int)

//go:noescape
func leakyReluBackwardAVX2(dx, x, dy *float32, slope float32, n int)

//go:noescape
func fmaPeakAVX512(iters int)

func fmaPeak512(iters int) int {
	if !hasAVX512() {
		return 0
	}
	fmaPeakAVX512(iters)
	return iters * 12 * 16 * 2
}

// transpose16AVX512 transposes blocks 16 x 16 blocks; see Transpose.
//
//go:noescape
func transpose16AVX512(dst *float32, ldd int, src *float32, lds int, blocks int)

// scatterAddAVX512 is the assembly form of scatterAddGeneric for n a
// multiple of 16, up to the first vector with a repeated index when check
// is set; see ScatterAdd and ScatterAddDistinct.
//
//go:noescape
func scatterAddAVX512(dst, src *float32, idx *int32, n, dstLen int, check bool) (done int)

// gatherPanelsAVX512 is the assembly form of GatherPanels for whole panels
// of nr values, nr a multiple of 16, and of Gather as one panel.
//
//go:noescape
func gatherPanelsAVX512(dst, src *float32, idx *int32, panels, nr, stride, srcLen int)

// cutPanels16AVX2 and cutPanels32AVX2 are the assembly form of CutPanels
// for 4*groups rows and whole panels of 16 and 32 values.
//
//go:noescape
func cutPanels16AVX2(dst, src *float32, groups, panels, lds, stride int)

//go:noescape
func cutPanels32AVX2(dst, src *float32, groups, panels, lds, stride int)

// convTaps12x32AVX512 is the assembly form of ConvTaps (conv512_amd64.s).
//
//go:noescape
func convTaps12x32AVX512(base *float32, pix *[12]int, taps *int, ntaps, kc int, b, c *float32, ldc, acc int)

// weightGrad12x32AVX512 is the assembly form of one tile of WeightGradTiles
// (conv512_amd64.s).
//
//go:noescape
func weightGrad12x32AVX512(a, x *float32, off *int, k int, c *float32, ldc int)
