package tensor

import (
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestConvBackwardIsDeterministic checks that on two threads a Conv2d's
// and a ConvTranspose2d's gradients come out the same, bit for bit, from
// call to call, through the direct weight gradient and through im2col and
// GEMM, while the chunks are dealt out differently from call to call (one
// goroutine or the other made slow, and another goroutine competing for
// the CPUs): the weight gradient's chunks add into partial sums in a fixed
// order (dealSums).
func TestConvBackwardIsDeterministic(t *testing.T) {
	oldProcs := runtime.GOMAXPROCS(2)
	oldAny, oldWChunk, oldDirect, oldCols := convDirectAnyCPU, convWGradChunkBytes, convDirect, convMinCols
	defer func() {
		runtime.GOMAXPROCS(oldProcs)
		dealPause = nil
		convDirectAnyCPU, convWGradChunkBytes, convDirect, convMinCols = oldAny, oldWChunk, oldDirect, oldCols
	}()
	convDirectAnyCPU = true
	convWGradChunkBytes = 32 << 10 // several chunks of a few images
	convMinCols = 32
	var stop atomic.Bool
	done := make(chan struct{})
	go func() { // competes for the CPUs
		defer close(done)
		for x := 1.0; !stop.Load(); x = math.Sqrt(x + 1) {
		}
	}()
	defer func() { stop.Store(true); <-done }()

	conv := Conv2dGeom([]int{24, 32, 7, 7}, []int{40, 32, 3, 3}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
	convT := ConvTranspose2dGeom([]int{24, 16, 5, 5}, []int{16, 8, 3, 3}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 1}})
	for _, c := range []struct {
		name   string
		g      ConvGeom
		direct bool
	}{{"direct", conv, true}, {"gemm", conv, false}, {"transposed", convT, false}} {
		convDirect = c.direct
		g := c.g
		if got := g.directWGradFits(); got != c.direct {
			t.Fatalf("%s: directWGradFits() = %v", c.name, got)
		}
		if pl := g.plan(); !c.direct && (pl.workers != 2 || pl.nb > 4) {
			t.Fatalf("%s: %d workers, %d images per chunk: not several chunks on two threads", c.name, pl.workers, pl.nb)
		}
		x := make([]float32, g.InLen())
		w := make([]float32, g.WeightLen())
		dy := make([]float32, g.OutLen())
		fillBench(x, 1)
		fillBench(w, 2)
		fillBench(dy, 3)
		var first []float32
		for rep := range 8 {
			dealPause = func(w, i int) {
				if w == rep%2 {
					time.Sleep(100 * time.Microsecond)
				}
			}
			dx := make([]float32, g.InLen())
			dw := make([]float32, g.WeightLen())
			db := make([]float32, g.OutC)
			ConvBackward(g, dx, dw, db, dy, x, w, nil)
			dealPause = nil
			all := append(append(dw, dx...), db...)
			if rep == 0 {
				first = all
				continue
			}
			for i := range all {
				if math.Float32bits(all[i]) != math.Float32bits(first[i]) {
					t.Fatalf("%s: call %d differs from the first at %d: %v against %v", c.name, rep, i, all[i], first[i])
				}
			}
		}
	}
}
