package asm

import "math"

// Gather sets dst[i] = src[idx[i]] where 0 <= idx[i] < len(src), and
// dst[i] = 0 for any other index (a negative index marks padding), for i
// up to len(dst). idx must be at least as long as dst. With AVX-512 the
// indices are looked up sixteen at a time by a masked hardware gather,
// whose mask is the range test, so no index can reach outside src.
func Gather(dst, src []float32, idx []int32) {
	if len(idx) < len(dst) {
		panic("asm: Gather: fewer indices than destination values")
	}
	n := len(src)
	if n > math.MaxInt32 {
		n = math.MaxInt32 // no int32 index reaches further
	}
	h := 0
	if useAVX512 && len(src) > 0 {
		h = len(dst) &^ 15
		if h > 0 {
			gatherAVX512(&dst[0], &src[0], &idx[0], h, n)
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
