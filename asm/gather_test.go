package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGatherMatchesDefinition checks Gather in every kernel family against
// its definition: in-range indices read src, negative and too-large ones
// (including the int32 extremes) give 0, and nothing outside dst is written.
func TestGatherMatchesDefinition(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, n := range vecSizes {
			for _, srcLen := range []int{0, 1, 17, 300} {
				// NaNs past the end of src show any read beyond it.
				buf := make([]float32, srcLen+64)
				for i := range buf {
					buf[i] = float32(math.NaN())
				}
				src := buf[:srcLen]
				for i := range src {
					src[i] = float32(i) + 0.5
				}
				idx := make([]int32, n+r.IntN(3)) // may be longer than dst
				for i := range idx {
					switch r.IntN(10) {
					case 0:
						idx[i] = -1
					case 1:
						idx[i] = int32(srcLen) + int32(r.IntN(3)) // just past the end
					case 2:
						idx[i] = [...]int32{math.MaxInt32, math.MinInt32, -2}[r.IntN(3)]
					default:
						idx[i] = int32(r.IntN(srcLen + 1))
					}
				}
				dst, intact := guarded(n, r.IntN(8))
				Gather(dst, src, idx)
				if !intact() {
					t.Fatalf("n=%d srcLen=%d: wrote outside dst", n, srcLen)
				}
				for i, o := range idx[:n] {
					want := float32(0)
					if o >= 0 && int(o) < srcLen {
						want = src[o]
					}
					if !same(dst[i], want) {
						t.Fatalf("n=%d srcLen=%d: dst[%d] = %g for index %d, want %g", n, srcLen, i, dst[i], o, want)
					}
				}
			}
		}
	})
}

func TestGatherNeedsEnoughIndices(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Gather with fewer indices than values did not panic")
		}
	}()
	Gather(make([]float32, 4), make([]float32, 4), make([]int32, 3))
}
