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
					var bad bool
					if idx[i], bad = outOfRange(r, srcLen); !bad {
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

// outOfRange returns, three times in ten, an index at which a slice of
// length limit must be neither read nor written: -1 (padding), one just
// past the end, or an extreme; otherwise bad is false and the caller picks
// an index in range.
func outOfRange(r *rand.Rand, limit int) (idx int32, bad bool) {
	switch r.IntN(10) {
	case 0:
		return -1, true
	case 1:
		return int32(limit) + int32(r.IntN(3)), true
	case 2:
		return [...]int32{math.MaxInt32, math.MinInt32, -2}[r.IntN(3)], true
	}
	return 0, false
}

func TestGatherNeedsEnoughIndices(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Gather with fewer indices than values did not panic")
		}
	}()
	Gather(make([]float32, 4), make([]float32, 4), make([]int32, 3))
}

// TestGatherPanelsMatchesDefinition checks GatherPanels in every kernel
// family: each run of nr values lands at its panel's row, padding and
// out-of-range indices give 0, and the gaps between runs stay untouched.
func TestGatherPanelsMatchesDefinition(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		src := make([]float32, 500)
		for i := range src {
			src[i] = float32(i) + 0.5
		}
		for _, nr := range []int{1, 5, 16, 32, 48} {
			for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 161} {
				stride := nr + r.IntN(40)
				idx := make([]int32, n)
				for i := range idx {
					var bad bool
					if idx[i], bad = outOfRange(r, len(src)); !bad {
						idx[i] = int32(r.IntN(len(src)))
					}
				}
				dlen := 0
				if n > 0 {
					dlen = (n-1)/nr*stride + (n-1)%nr + 1
				}
				dst, intact := guarded(dlen, r.IntN(8))
				GatherPanels(dst, nr, stride, src, idx)
				if !intact() {
					t.Fatalf("nr=%d n=%d: wrote outside dst", nr, n)
				}
				written := make([]bool, dlen)
				for i, o := range idx {
					at := i/nr*stride + i%nr
					written[at] = true
					want := float32(0)
					if o >= 0 && int(o) < len(src) {
						want = src[o]
					}
					if !same(dst[at], want) {
						t.Fatalf("nr=%d n=%d stride=%d: value %d (index %d) = %g, want %g", nr, n, stride, i, o, dst[at], want)
					}
				}
				for i, w := range written {
					if !w && !math.IsNaN(float64(dst[i])) {
						t.Fatalf("nr=%d n=%d stride=%d: wrote dst[%d] between runs", nr, n, stride, i)
					}
				}
			}
		}
	})
}
