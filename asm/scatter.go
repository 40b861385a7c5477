package asm

import (
	"math"

	"github.com/klauspost/cpuid/v2"
)

// hasConflict: the vector ScatterAdd finds repeated indices with AVX-512CD.
var hasConflict = cpuid.CPU.Supports(cpuid.AVX512CD)

// ScatterAdd adds src[i] to dst[idx[i]] for each i < len(src) whose index
// is in range, 0 <= idx[i] < len(dst), in order of i; other indices (a
// negative one marks padding) are skipped. idx must be at least as long as
// src. It is the inverse of Gather, as col2im is of im2col. With AVX-512
// sixteen values are gathered, added and scattered at a time; a vector in
// which an index repeats is added element by element instead, so the result
// is always that of the loop, to the bit.
func ScatterAdd(dst, src []float32, idx []int32) { scatterAdd(dst, src, idx, true) }

// ScatterAddDistinct is ScatterAdd for indices whose in-range entries are
// all distinct, as in one row of a convolution's column matrix: it skips
// the search for repeats, which costs as much as the additions themselves.
// Where two in-range indices are equal, one of their additions may be lost.
func ScatterAddDistinct(dst, src []float32, idx []int32) { scatterAdd(dst, src, idx, false) }

func scatterAdd(dst, src []float32, idx []int32, check bool) {
	if len(idx) < len(src) {
		panic("asm: ScatterAdd: fewer indices than source values")
	}
	n := min(len(dst), math.MaxInt32) // no int32 index reaches further
	h := 0
	if useAVX512 && (hasConflict || !check) && n > 0 {
		full := len(src) &^ 15
		for h < full {
			h += scatterAddAVX512(&dst[0], &src[h], &idx[h], full-h, n, check)
			if h < full {
				scatterAddGeneric(dst[:n], src[h:h+16], idx[h:h+16])
				h += 16
			}
		}
	}
	scatterAddGeneric(dst[:n], src[h:], idx[h:len(src)])
}

func scatterAddGeneric(dst, src []float32, idx []int32) {
	idx = idx[:len(src)]
	for i, o := range idx {
		if uint(o) < uint(len(dst)) {
			dst[o] += src[i]
		}
	}
}
