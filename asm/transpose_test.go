package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTransposeMatchesDefinition checks Transpose in every kernel family on
// shapes around the 16 x 16 blocks, with strides wider than the matrices:
// every element lands at its transposed place, and nothing between the
// destination's rows or past its end is written (those hold NaN).
func TestTransposeMatchesDefinition(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		sizes := []int{0, 1, 2, 15, 16, 17, 31, 32, 33, 48, 70}
		for _, m := range sizes {
			for _, n := range sizes {
				lds, ldd := n+r.IntN(5), m+r.IntN(5)
				src := make([]float32, max(0, (m-1)*lds+n))
				for i := range src {
					src[i] = float32(i) + 0.25
				}
				dlen := max(0, (n-1)*ldd+m)
				dst, intact := guarded(dlen, r.IntN(8))
				Transpose(m, n, src, lds, dst, ldd)
				for j := range n {
					for i := range ldd {
						v := dst[j*ldd:][:min(ldd, dlen-j*ldd)]
						if i >= len(v) {
							break
						}
						if i >= m {
							if !math.IsNaN(float64(v[i])) {
								t.Fatalf("%dx%d: wrote dst[%d] between rows", m, n, j*ldd+i)
							}
							continue
						}
						if want := src[i*lds+j]; v[i] != want {
							t.Fatalf("%dx%d (lds %d, ldd %d): dst[%d][%d] = %g, want %g", m, n, lds, ldd, j, i, v[i], want)
						}
					}
				}
				if !intact() {
					t.Fatalf("%dx%d: wrote outside dst", m, n)
				}
			}
		}
	})
}

func TestTransposeRejectsShortSlices(t *testing.T) {
	for _, c := range []struct {
		name     string
		src, dst int
		lds, ldd int
	}{
		{"short source", 3*8 + 4, 4*4 + 4, 8, 4},
		{"short destination", 4*8 + 4, 3*4 + 4, 8, 4},
		{"source stride below n", 100, 100, 4, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			Transpose(5, 5, make([]float32, c.src), c.lds, make([]float32, c.dst), c.ldd)
		})
	}
}
