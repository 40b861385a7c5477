package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCutPanelsMatchesDefinition checks CutPanels in every kernel family
// against its definition, on blocks around the four-row groups and the
// panel widths, with source strides wider than the block and gaps between
// the panels: every value lands in its place and every other destination
// value (NaN) is left alone.
func TestCutPanelsMatchesDefinition(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, nr := range []int{16, 32, 12, 5} {
			for _, rows := range []int{0, 1, 3, 4, 5, 8, 11, 33} {
				for _, cols := range []int{0, 1, nr - 1, nr, nr + 1, 2*nr - 1, 2 * nr, 3*nr + 7} {
					lds := cols + r.IntN(5)
					stride := rows*nr + r.IntN(6)
					src := make([]float32, max(0, (rows-1)*lds+cols))
					for i := range src {
						src[i] = float32(i) + 0.5
					}
					n := 0
					if rows > 0 && cols > 0 {
						n = (cols-1)/nr*stride + (rows-1)*nr + (cols-1)%nr + 1
					}
					dst, intact := guarded(n, r.IntN(8))
					CutPanels(dst, nr, stride, src, lds, rows, cols)
					want := make([]float32, n)
					for i := range want {
						want[i] = float32(math.NaN())
					}
					for p := range rows {
						for j := range cols {
							want[j/nr*stride+p*nr+j%nr] = src[p*lds+j]
						}
					}
					for i := range want {
						if math.IsNaN(float64(want[i])) != math.IsNaN(float64(dst[i])) || !math.IsNaN(float64(want[i])) && dst[i] != want[i] {
							t.Fatalf("nr %d, %dx%d (lds %d, stride %d): dst[%d] = %g, want %g", nr, rows, cols, lds, stride, i, dst[i], want[i])
						}
					}
					if !intact() {
						t.Fatalf("nr %d, %dx%d: wrote outside dst", nr, rows, cols)
					}
				}
			}
		}
	})
}

func TestCutPanelsRejectsBadArguments(t *testing.T) {
	for _, c := range []struct {
		name                                  string
		dst, nr, stride, src, lds, rows, cols int
	}{
		{"short source", 4 * 32, 16, 64, 3*20 + 16 - 1, 20, 4, 16},
		{"short destination", 4*16 - 1, 16, 64, 3*20 + 16, 20, 4, 16},
		{"source stride below cols", 1000, 16, 64, 1000, 8, 4, 16},
		{"panels overlap", 1000, 16, 32, 1000, 20, 4, 16},
		{"no panel width", 1000, 0, 64, 1000, 20, 4, 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			CutPanels(make([]float32, c.dst), c.nr, c.stride, make([]float32, c.src), c.lds, c.rows, c.cols)
		})
	}
}
