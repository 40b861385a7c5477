package asm

import (
	"fmt"
	"math"
)

// Gather sets dst[i] = src[idx[i]] where 0 <= idx[i] < len(src), and
// dst[i] = 0 for any other index (a negative index marks padding), for i
// up to len(dst). idx must be at least as long as dst. With AVX-512 the
// indices are looked up sixteen at a time by a masked hardware gather,
// whose mask is the range test, so no index can reach outside src.
func Gather(dst, src []float32, idx []int32) {
	if len(idx) < len(dst) {
		panic("asm: Gather: fewer indices than destination values")
	}
	n := min(len(src), math.MaxInt32) // no int32 index reaches further
	h := 0
	if useAVX512 && len(src) > 0 {
		h = len(dst) &^ 15
		if h > 0 {
			gatherPanelsAVX512(&dst[0], &src[0], &idx[0], 1, h, h, n)
		}
	}
	gatherGeneric(dst[h:], src[:n], idx[h:len(dst)])
}

func gatherGeneric(dst, src []float32, idx []int32) {
	idx = idx[:len(dst)]
	for i, o := range idx {
		v := float32(0)
		if uint(o) < uint(len(src)) {
			v = src[o]
		}
		dst[i] = v
	}
}

// GatherPanels is Gather into the rows of GEMM micro-panels: the values
// for idx[i], i < len(idx), go to dst[(i/nr)*stride + i%nr], so that runs of
// nr consecutive values land stride apart (one row of each of a block's
// panels, when stride is the panel size). It saves gathering a row and then
// cutting it into the panels.
func GatherPanels(dst []float32, nr, stride int, src []float32, idx []int32) {
	n := len(idx)
	if n == 0 {
		return
	}
	if nr <= 0 || stride < nr {
		panic(fmt.Sprintf("asm: GatherPanels: runs of %d values %d apart", nr, stride))
	}
	if need := (n-1)/nr*stride + (n-1)%nr + 1; len(dst) < need {
		panic(fmt.Sprintf("asm: GatherPanels: %d values in runs of %d, %d apart, need %d destination values, have %d",
			n, nr, stride, need, len(dst)))
	}
	srcLen := min(len(src), math.MaxInt32) // no int32 index reaches further
	done := 0
	if useAVX512 && nr%16 == 0 && len(src) > 0 {
		if panels := n / nr; panels > 0 {
			gatherPanelsAVX512(&dst[0], &src[0], &idx[0], panels, nr, stride, srcLen)
			done = panels * nr
		}
	}
	for i := done; i < n; i += nr {
		m := min(nr, n-i)
		gatherGeneric(dst[i/nr*stride:][:m], src[:srcLen], idx[i:i+m])
	}
}
