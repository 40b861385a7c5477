package asm

import "fmt"

// WeightGradTiles adds to a column of tiles of a convolution's weight
// gradient, each 12 output channels (rows) by 32 input channels (columns)
// of one kernel tap, the same shape as ConvTaps' tile: for tile i, row r
// and column j,
//
//	c[(12*i+r)*ldc+j] += Σ_{q<k} a[i*astride+12*q+r] * x[off[q]+j]
//
// a holds the output gradient packed 12 rows at a time, pixel by pixel
// (astride floats apart from tile to tile), x a channels-last image seen
// from the tap and the block of input channels, and off[q] where pixel q's
// receptive field starts in it. No input is copied: the assembly reads each
// pixel's 32 channels in place. The sums use fused multiply-adds in the
// assembly and separate multiplies and adds in the generic twin, so the two
// agree to rounding.
func WeightGradTiles(tiles, k int, a []float32, astride int, x []float32, off []int, c []float32, ldc int) {
	if tiles < 0 || k < 0 || ldc < ConvTapsCols || len(off) < k || (tiles > 1 && astride < 12*k) {
		panic(fmt.Sprintf("asm: WeightGradTiles: bad shape: %d tiles, k %d, %d offsets, a stride %d, ldc %d",
			tiles, k, len(off), astride, ldc))
	}
	if tiles == 0 || k == 0 {
		return
	}
	omin, omax := off[0], off[0]
	for _, o := range off[1:k] {
		omin, omax = min(omin, o), max(omax, o)
	}
	if omin < 0 || omax+ConvTapsCols > len(x) {
		panic(fmt.Sprintf("asm: WeightGradTiles: input reads [%d, %d) outside the %d values of x",
			omin, omax+ConvTapsCols, len(x)))
	}
	if len(a) < (tiles-1)*astride+12*k || len(c) < (12*tiles-1)*ldc+ConvTapsCols {
		panic(fmt.Sprintf("asm: WeightGradTiles: %d tiles of %d pixels need %d values of a and %d of c, have %d and %d",
			tiles, k, (tiles-1)*astride+12*k, (12*tiles-1)*ldc+ConvTapsCols, len(a), len(c)))
	}
	for i := range tiles {
		ai, ci := a[i*astride:], c[12*i*ldc:]
		if useAVX512 {
			weightGrad12x32AVX512(&ai[0], &x[0], &off[0], k, &ci[0], ldc)
		} else {
			weightGradGeneric(k, ai, x, off, ci, ldc)
		}
	}
}

// weightGradGeneric is one tile of WeightGradTiles in Go: per pixel, its
// row of x loaded once and multiplied into the 12 rows of the tile.
func weightGradGeneric(k int, a, x []float32, off []int, c []float32, ldc int) {
	var s [12][ConvTapsCols]float32
	for q, o := range off[:k] {
		row := x[o:][:ConvTapsCols]
		for r, v := range a[12*q:][:12] {
			for j, b := range row {
				s[r][j] += v * b
			}
		}
	}
	for r := range s {
		dst := c[r*ldc:][:ConvTapsCols]
		for j, v := range s[r] {
			dst[j] += v
		}
	}
}
