package asm

import "fmt"

// ConvTapsRows and ConvTapsCols are the shape of the tile ConvTaps computes:
// 12 pixels (rows) by 32 output channels (columns).
const (
	ConvTapsRows = 12
	ConvTapsCols = 32
)

// HasConvTaps reports whether ConvTaps runs in assembly (AVX-512). Only then
// is a direct convolution faster than im2col and GEMM, so callers choose it
// by this; the generic twin is there for tests and other platforms.
func HasConvTaps() bool { return useAVX512 }

// ConvTaps computes one 12 x 32 tile of a direct convolution: for pixel r
// (a row of c, rows ldc apart) and output channel j,
//
//	s = Σ_t Σ_{k<kc} x[pix[r]+taps[t]+k] * b[(t*kc+k)*32+j]
//
// is stored in c[r*ldc+j], or added to it when acc. x is a channels-last
// image (pix[r] is where pixel r's receptive field starts, taps[t] where tap
// t of the kernel sits from there, both in floats), and b the weights packed
// tap by tap, kc rows of 32 output channels each. No pixel's input is
// copied: the assembly reads every pixel's kc channels in place through a
// pointer of its own and holds the tile in registers for all the taps.
// Rows of a short last tile can repeat a pixel into rows of c nobody reads.
// The sums use fused multiply-adds in the assembly and separate multiplies
// and adds in the generic twin, so the two agree to rounding.
func ConvTaps(x []float32, pix *[12]int, taps []int, kc int, b, c []float32, ldc int, acc bool) {
	if kc < 1 || len(taps) == 0 || ldc < ConvTapsCols {
		panic(fmt.Sprintf("asm: ConvTaps: bad shape: kc %d, %d taps, ldc %d", kc, len(taps), ldc))
	}
	pmin, pmax := pix[0], pix[0]
	for _, p := range pix[1:] {
		pmin, pmax = min(pmin, p), max(pmax, p)
	}
	tmin, tmax := taps[0], taps[0]
	for _, t := range taps[1:] {
		tmin, tmax = min(tmin, t), max(tmax, t)
	}
	if pmin+tmin < 0 || pmax+tmax+kc > len(x) {
		panic(fmt.Sprintf("asm: ConvTaps: input reads [%d, %d) outside the %d values of x",
			pmin+tmin, pmax+tmax+kc, len(x)))
	}
	if len(b) < len(taps)*kc*ConvTapsCols || len(c) < (ConvTapsRows-1)*ldc+ConvTapsCols {
		panic(fmt.Sprintf("asm: ConvTaps: %d taps of %d channels need %d weights and %d outputs, have %d and %d",
			len(taps), kc, len(taps)*kc*ConvTapsCols, (ConvTapsRows-1)*ldc+ConvTapsCols, len(b), len(c)))
	}
	if useAVX512 {
		a := 0
		if acc {
			a = 1
		}
		convTaps12x32AVX512(&x[0], pix, &taps[0], len(taps), kc, &b[0], &c[0], ldc, a)
		return
	}
	convTapsGeneric(x, pix, taps, kc, b, c, ldc, acc)
}

// convTapsGeneric is ConvTaps in Go: per pixel, the 32 sums in a local row,
// each input value loaded once and multiplied into all of them.
func convTapsGeneric(x []float32, pix *[12]int, taps []int, kc int, b, c []float32, ldc int, acc bool) {
	for r, p := range pix {
		var s [ConvTapsCols]float32
		for t, off := range taps {
			in := x[p+off:][:kc]
			w := b[t*kc*ConvTapsCols:][:kc*ConvTapsCols]
			for k, v := range in {
				row := w[k*ConvTapsCols:][:ConvTapsCols]
				for j := range s {
					s[j] += v * row[j]
				}
			}
		}
		dst := c[r*ldc:][:ConvTapsCols]
		if acc {
			for j, v := range s {
				dst[j] += v
			}
		} else {
			copy(dst, s[:])
		}
	}
}
