package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestConvTapsMatchesDefinition checks ConvTaps in every kernel family
// against its definition summed in float64: channel counts around the
// four-step unrolling, one to 25 taps, pixels that repeat, store and add,
// and guard values in c between and after the tile's rows that must stay
// untouched (a row's columns past 32 are NaN and must stay so).
func TestConvTapsMatchesDefinition(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, kc := range []int{1, 2, 3, 4, 5, 7, 8, 13, 64, 130} {
			for _, ntaps := range []int{1, 2, 9, 25} {
				for _, acc := range []bool{false, true} {
					xlen := kc*3 + 500 + r.IntN(50)
					x := make([]float32, xlen)
					for i := range x {
						x[i] = r.Float32()*2 - 1
					}
					taps := make([]int, ntaps)
					for i := range taps {
						taps[i] = r.IntN(200)
					}
					var pix [12]int
					for i := range pix {
						pix[i] = r.IntN(xlen - kc - 200 + 1)
					}
					pix[5] = pix[2] // a repeated pixel
					b := make([]float32, ntaps*kc*ConvTapsCols)
					for i := range b {
						b[i] = r.Float32()*2 - 1
					}
					ldc := ConvTapsCols + r.IntN(5)
					c := make([]float32, 12*ldc+7)
					c0 := make([]float32, len(c))
					for i := range c {
						if i%ldc < ConvTapsCols && i < 12*ldc {
							c[i] = r.Float32()
						} else {
							c[i] = float32(math.NaN())
						}
						c0[i] = c[i]
					}
					ConvTaps(x, &pix, taps, kc, b, c, ldc, acc)
					for i, v := range c {
						row, j := i/ldc, i%ldc
						if row >= 12 || j >= ConvTapsCols {
							if !math.IsNaN(float64(v)) {
								t.Fatalf("kc=%d taps=%d: wrote c[%d] outside the tile", kc, ntaps, i)
							}
							continue
						}
						var want, mag float64
						for ti, off := range taps {
							for k := range kc {
								p := float64(x[pix[row]+off+k]) * float64(b[(ti*kc+k)*ConvTapsCols+j])
								want += p
								mag += math.Abs(p)
							}
						}
						if acc {
							want += float64(c0[i])
							mag += math.Abs(float64(c0[i]))
						}
						if !close(float64(v), want, kc*ntaps, mag) {
							t.Fatalf("kc=%d taps=%d acc=%t: c[%d][%d] = %g, want %g", kc, ntaps, acc, row, j, v, want)
						}
					}
				}
			}
		}
	})
}

// TestConvTapsRejectsBadShapes checks that reads outside x and short
// operands panic rather than touch memory they do not own.
func TestConvTapsRejectsBadShapes(t *testing.T) {
	x := make([]float32, 100)
	b := make([]float32, 2*4*ConvTapsCols)
	c := make([]float32, 12*ConvTapsCols)
	var pix [12]int
	for name, f := range map[string]func(){
		"past the end": func() { pix[3] = 95; ConvTaps(x, &pix, []int{0, 2}, 4, b, c, ConvTapsCols, false) },
		"negative":     func() { pix[3] = -1; ConvTaps(x, &pix, []int{0, 0}, 4, b, c, ConvTapsCols, false) },
		"short b":      func() { pix[3] = 0; ConvTaps(x, &pix, []int{0, 1, 2}, 4, b, c, ConvTapsCols, false) },
		"short c":      func() { pix[3] = 0; ConvTaps(x, &pix, []int{0, 1}, 4, b, c[1:], ConvTapsCols, false) },
		"no taps":      func() { ConvTaps(x, &pix, nil, 4, b, c, ConvTapsCols, false) },
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
