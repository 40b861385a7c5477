package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestWeightGradTilesMatchesDefinition checks WeightGradTiles in every
// kernel family against its definition summed in float64: pixel counts
// around the four-step unrolling (and none), one to three tiles with a gap
// between their packed rows, offsets that repeat and that fall anywhere in
// x, and guard values in c between and after the tiles' rows that must stay
// untouched.
func TestWeightGradTilesMatchesDefinition(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 13, 64, 130} {
			for _, tiles := range []int{1, 2, 3} {
				x := make([]float32, 300+r.IntN(50))
				for i := range x {
					x[i] = r.Float32()*2 - 1
				}
				off := make([]int, k+r.IntN(3)) // entries past k are not read
				for i := range off {
					off[i] = r.IntN(len(x) - ConvTapsCols + 1)
				}
				if k > 3 {
					off[3] = off[1]
				}
				astride := 12*k + r.IntN(5)
				a := make([]float32, (tiles-1)*astride+12*k)
				for i := range a {
					a[i] = r.Float32()*2 - 1
				}
				ldc := ConvTapsCols + r.IntN(5)
				c := make([]float32, 12*tiles*ldc+7)
				c0 := make([]float32, len(c))
				for i := range c {
					if i%ldc < ConvTapsCols && i < 12*tiles*ldc {
						c[i] = r.Float32()
					} else {
						c[i] = float32(math.NaN())
					}
					c0[i] = c[i]
				}
				WeightGradTiles(tiles, k, a, astride, x, off, c, ldc)
				for i, v := range c {
					row, j := i/ldc, i%ldc
					if row >= 12*tiles || j >= ConvTapsCols {
						if !math.IsNaN(float64(v)) {
							t.Fatalf("k=%d tiles=%d: wrote c[%d] outside the tiles", k, tiles, i)
						}
						continue
					}
					want, mag := float64(c0[i]), math.Abs(float64(c0[i]))
					for q := range k {
						p := float64(a[row/12*astride+12*q+row%12]) * float64(x[off[q]+j])
						want += p
						mag += math.Abs(p)
					}
					if !close(float64(v), want, k+1, mag) {
						t.Fatalf("k=%d tiles=%d: c[%d][%d] = %g, want %g", k, tiles, row, j, v, want)
					}
				}
			}
		}
	})
}

// TestWeightGradTilesRejectsBadShapes checks that reads outside x and short
// operands panic rather than touch memory they do not own.
func TestWeightGradTilesRejectsBadShapes(t *testing.T) {
	x := make([]float32, 100)
	a := make([]float32, 2*12*4)
	c := make([]float32, 24*ConvTapsCols)
	for name, f := range map[string]func(){
		"past the end": func() { WeightGradTiles(1, 2, a, 48, x, []int{0, 69}, c, ConvTapsCols) },
		"negative":     func() { WeightGradTiles(1, 2, a, 48, x, []int{-1, 0}, c, ConvTapsCols) },
		"few offsets":  func() { WeightGradTiles(1, 3, a, 48, x, []int{0, 1}, c, ConvTapsCols) },
		"short a":      func() { WeightGradTiles(2, 4, a, 60, x, []int{0, 1, 2, 3}, c, ConvTapsCols) },
		"short c":      func() { WeightGradTiles(2, 4, a, 48, x, []int{0, 1, 2, 3}, c[1:], ConvTapsCols) },
		"overlapping":  func() { WeightGradTiles(2, 4, a, 40, x, []int{0, 1, 2, 3}, c, ConvTapsCols) },
		"narrow c":     func() { WeightGradTiles(1, 1, a, 48, x, []int{0}, c, ConvTapsCols-1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
