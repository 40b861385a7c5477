package asm

import (
	"math/rand/v2"
	"testing"
)

// TestScatterAddMatchesDefinition checks ScatterAdd in every kernel family
// against the loop that defines it, to the bit: indices in range add in
// order, including repeats within one vector of sixteen; negative,
// too-large and extreme indices are skipped; nothing outside dst changes.
// ScatterAddDistinct is checked the same way wherever its indices are
// distinct.
func TestScatterAddMatchesDefinition(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, n := range vecSizes {
			for _, dstLen := range []int{0, 1, 17, 300, 5000} {
				for _, repeats := range []bool{false, true} {
					src := make([]float32, n)
					for i := range src {
						src[i] = r.Float32()*2 - 1
					}
					// Distinct in-range indices unless repeats is set.
					perm := r.Perm(max(dstLen, 1))
					idx := make([]int32, n+r.IntN(3)) // may be longer than src
					for i := range idx {
						var bad bool
						if idx[i], bad = outOfRange(r, dstLen); bad {
							continue
						}
						switch {
						case dstLen == 0:
							idx[i] = 0
						case repeats:
							idx[i] = int32(r.IntN(min(dstLen, 8)))
						default:
							idx[i] = int32(perm[i%len(perm)])
						}
					}
					want := make([]float32, dstLen)
					for i := range want {
						want[i] = float32(i) * 0.5
					}
					for i, o := range idx[:n] {
						if o >= 0 && int(o) < dstLen {
							want[o] += src[i]
						}
					}
					distinct := !repeats && n <= dstLen
					for _, f := range []struct {
						name string
						add  func(dst, src []float32, idx []int32)
					}{{"ScatterAdd", ScatterAdd}, {"ScatterAddDistinct", ScatterAddDistinct}} {
						if f.name == "ScatterAddDistinct" && !distinct {
							continue
						}
						// Guard bands of a finite value (NaN would absorb a
						// stray addition unseen).
						const band, guard = 37, float32(7)
						off := r.IntN(8)
						buf := make([]float32, off+dstLen+band)
						for i := range buf {
							buf[i] = guard
						}
						dst := buf[off : off+dstLen : off+dstLen]
						for i := range dst {
							dst[i] = float32(i) * 0.5
						}
						f.add(dst, src, idx)
						for i, v := range buf {
							if (i < off || i >= off+dstLen) && v != guard {
								t.Fatalf("%s n=%d dstLen=%d: wrote outside dst", f.name, n, dstLen)
							}
						}
						for i := range want {
							if !same(dst[i], want[i]) {
								t.Fatalf("%s n=%d dstLen=%d repeats=%t: dst[%d] = %g, want %g", f.name, n, dstLen, repeats, i, dst[i], want[i])
							}
						}
					}
				}
			}
		}
	})
}

func TestScatterAddNeedsEnoughIndices(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("ScatterAdd with fewer indices than values did not panic")
		}
	}()
	ScatterAdd(make([]float32, 4), make([]float32, 4), make([]int32, 3))
}
