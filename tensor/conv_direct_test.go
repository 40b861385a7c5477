package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestConvDirectAgainstDefinition checks the direct convolutions (the
// forward pass, and the input gradient, by classes of pixels where the
// stride is above 1) against the float64 definition, on geometries they are
// chosen for: 16 to 128 input channels, output channels not a multiple of
// 32, strides, paddings and dilations (some that leave a class of input
// pixels without taps), batches that end in a short chunk and tiles that
// end short, on one and on two threads, with the kernel in use (the generic
// twin too, where there is no assembly).
func TestConvDirectAgainstDefinition(t *testing.T) {
	oldAny, oldChunk, oldMin := convDirectAnyCPU, convDirectChunkBytes, convDirectMinPixels
	oldWChunk, oldWPixels, oldMaxChunk := convWGradChunkBytes, convWGradPixels, convDirectMaxChunkBytes
	oldRun := convWGradMinRun
	defer func() {
		convDirectAnyCPU, convDirectChunkBytes, convDirectMinPixels = oldAny, oldChunk, oldMin
		convWGradChunkBytes, convWGradPixels, convDirectMaxChunkBytes = oldWChunk, oldWPixels, oldMaxChunk
		convWGradMinRun = oldRun
	}()
	convDirectAnyCPU = true
	r := rand.New(rand.NewPCG(21, 22))
	geoms := []ConvGeom{
		// The rotating-MNIST encoder's deeper layers, at batch 3.
		Conv2dGeom([]int{3, 128, 14, 14}, []int{128, 128, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}}),
		Conv2dGeom([]int{3, 128, 7, 7}, []int{128, 128, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}}),
		// Stride 1.
		Conv2dGeom([]int{5, 16, 6, 5}, []int{40, 16, 3, 3}, ConvParams{Padding: [2]int{1, 1}}),
		Conv2dGeom([]int{2, 33, 4, 4}, []int{33, 33, 3, 2}, ConvParams{Padding: [2]int{2, 1}}),
		// Kernel 1 and stride 2, dilation 2 and stride 2: classes of input
		// pixels that no tap reaches, whose gradient is zero.
		Conv2dGeom([]int{2, 40, 5, 6}, []int{32, 40, 1, 1}, ConvParams{Stride: [2]int{2, 2}}),
		Conv2dGeom([]int{3, 32, 9, 7}, []int{48, 32, 3, 2}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 0}, Dilation: [2]int{2, 2}}),
		// Wider than convDirectMaxC, direct for the products its classes
		// skip: sprites enc.conv5's geometry with fewer channels.
		Conv2dGeom([]int{3, 144, 8, 8}, []int{160, 144, 5, 5}, ConvParams{Padding: [2]int{2, 2}}),
		// Exact groups of rows and columns (TestDirectConvGroups).
		Conv2dGeom([]int{12, 32, 8, 8}, []int{40, 32, 5, 5}, ConvParams{Padding: [2]int{2, 2}}),
	}
	n := 8
	if testing.Short() {
		n = 3
	}
	for len(geoms) < 8+n {
		g := ConvGeom{
			N: 1 + r.IntN(7), C: 32 + r.IntN(97), H: 1 + r.IntN(9), W: 1 + r.IntN(9), OutC: 32 + r.IntN(70),
			KH: 1 + r.IntN(5), KW: 1 + r.IntN(5), StrideH: 1 + r.IntN(3), StrideW: 1 + r.IntN(3),
			PadH: r.IntN(4), PadW: r.IntN(4), DilH: 1 + r.IntN(2), DilW: 1 + r.IntN(2),
		}
		if r.IntN(2) == 0 {
			g.StrideH, g.StrideW, g.DilH, g.DilW = 1, 1, 1, 1
			g.PadH, g.PadW = r.IntN(g.KH), r.IntN(g.KW)
		}
		if g.OutH() >= 1 && g.OutW() >= 1 {
			g.Validate()
			geoms = append(geoms, g)
		}
	}
	for i, g := range geoms {
		// All but the first stride-1 geometry (16 input channels, too few
		// for an output tile) run all three directly. (The wide one's
		// forward pass and input gradient run direct in chunks of three
		// images, and through im2col in chunks of one, where its classes
		// would waste more than they skip.)
		convDirectChunkBytes, convDirectMinPixels = oldChunk, oldMin
		convWGradChunkBytes, convWGradPixels, convDirectMaxChunkBytes = oldWChunk, oldWPixels, oldMaxChunk
		convWGradMinRun = oldRun
		if !g.directFits() || g.directGradFits() != (i != 2) || g.directWGradFits() != (i != 2) {
			t.Fatalf("%v: the direct convolutions do not fit it", g)
		}
		x := randF32(r, g.InLen())
		w := randF32(r, g.WeightLen())
		bias := randF32(r, g.OutC)
		dy := randF32(r, g.OutLen())
		if i%2 == 1 {
			bias = nil
		}
		wantY := refForward(g, x, w, bias)
		wantDx, wantDw, wantDb := refBackward(g, dy, x, w)
		sc := newRefScale(g, x, w, bias, dy)
		// Default chunks; one image each, with weight-gradient kernel calls
		// of 5 pixels; and weight-gradient chunks of two images, the last
		// short for an odd batch (no floor on the runs of pixels for these
		// two).
		two := 2 * 4 * newDirectWGrad(g).img
		for _, chunk := range []int{oldChunk, 1, -2} {
			for _, procs := range []int{1, 2} {
				t.Run(fmt.Sprintf("%v/chunk=%d/procs=%d", g, chunk, procs), func(t *testing.T) {
					convDirectChunkBytes, convDirectMinPixels = max(chunk, 1), min(oldMin, max(chunk, 1))
					convWGradChunkBytes, convWGradPixels, convDirectMaxChunkBytes = min(oldWChunk, chunk), oldWPixels, oldMaxChunk
					convWGradMinRun = oldRun
					if chunk != oldChunk {
						convWGradMinRun = 0
					}
					switch chunk {
					case 1:
						convWGradPixels, convDirectMaxChunkBytes = 5, 0
					case -2:
						convDirectChunkBytes, convDirectMinPixels = oldChunk, oldMin
						convWGradChunkBytes = two
					}
					withProcs(procs, func() {
						y := make([]float32, g.OutLen())
						ConvForward(g, y, x, w, bias, nil)
						closeTo(t, "y", y, wantY, sc.y, 1e-5)
						// The gradients add to what dw, db and dx hold.
						if g.directWGradFits() {
							dw, db := randF32(r, g.WeightLen()), randF32(r, g.OutC)
							want, wantB := plusF64(wantDw, dw), plusF64(wantDb, db)
							ConvBackward(g, nil, dw, db, dy, x, w, nil)
							closeTo(t, "dw", dw, want, sc.dw, 1e-5)
							closeTo(t, "db", db, wantB, sc.db, 1e-5)
						}
						if g.directGradFits() {
							dx := randF32(r, g.InLen())
							want := plusF64(wantDx, dx)
							ConvBackward(g, dx, nil, nil, dy, x, w, nil)
							closeTo(t, "dx", dx, want, sc.dx, 1e-5)
						}
					})
				})
			}
		}
	}
}

// plusF64 returns a + b, element by element, in float64.
func plusF64(a []float64, b []float32) []float64 {
	out := make([]float64, len(a))
	for i, v := range b {
		out[i] = a[i] + float64(v)
	}
	return out
}

// TestDirectConvGroups checks the work of the two groupings of an 8x8
// image under a 5x5 kernel with padding 2 against a count by hand, and
// that the plan of less work is taken. Along an axis the rows reach 3, 4,
// 5, 5, 5, 5, 4 and 3 taps: 34 of 40. Merged, rows 0-1 and 6-7 sum 4 taps
// each (36 of 40), in chunks of 6 images (corner classes of 24 pixels, two
// whole tiles): 36*36/1600 = 0.81. Exact, every single row is a group of
// its own, and with 12 images a corner class is one whole tile:
// 34*34/1600 = 0.7225; with 6 it is half a tile, and merged wins.
func TestDirectConvGroups(t *testing.T) {
	oldAny := convDirectAnyCPU
	defer func() { convDirectAnyCPU = oldAny }()
	convDirectAnyCPU = true
	for _, c := range []struct {
		n              int
		merged, exact  float64
		classes, grads int
	}{{6, 0.81, 0.845, 9, 9}, {12, 0.81, 0.7225, 25, 25}} {
		g := Conv2dGeom([]int{c.n, 32, 8, 8}, []int{40, 32, 5, 5}, ConvParams{Padding: [2]int{2, 2}})
		for name, plan := range map[string]func(ConvGeom, bool) *directConv{"forward": newDirectConvGroups, "input gradient": newDirectInputGradGroups} {
			m, e := plan(g, false), plan(g, true)
			if math.Abs(m.work()-c.merged) > 1e-9 || math.Abs(e.work()-c.exact) > 1e-9 {
				t.Errorf("%s, %d images: work merged %v, exact %v; want %v, %v", name, c.n, m.work(), e.work(), c.merged, c.exact)
			}
		}
		if got := len(newDirectConv(g).classes); got != c.classes {
			t.Errorf("forward, %d images: %d classes, want %d", c.n, got, c.classes)
		}
		if got := len(newDirectInputGrad(g).classes); got != c.grads {
			t.Errorf("input gradient, %d images: %d classes, want %d", c.n, got, c.grads)
		}
	}
}

// TestDirectConvPadding checks the padding of the copies the direct
// convolutions read (directAxis.fit), of x for a forward pass and of dy for
// an input gradient: every read of every group's taps lands inside the
// padded axis, the real coordinates too, and an end is padded only where
// some read needs it. Exact groups on the HALO layers read no padding at
// all: sprites enc.conv5's dy needs none, so its chunks hold the 12 images
// that fill the corner classes' tiles, and sprites enc.conv4's images fit
// 6 to a chunk, which brings its forward pass under the wide layers' bound.
func TestDirectConvPadding(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for range 600 {
		k, s, dil := 1+r.IntN(6), 1+r.IntN(3), 1+r.IntN(2)
		n, pad := 1+r.IntN(12), r.IntN(k*dil)
		out := (n+2*pad-dil*(k-1)-1)/s + 1
		if out < 1 {
			continue
		}
		exact, grad := r.IntN(2) == 0, r.IntN(2) == 0
		// The real coordinates: dy's for an input gradient, x's (pad
		// into the conventionally padded input) for a forward pass.
		ax, first, nreal := gradAxis(n, out, k, s, pad, dil, 0, exact), 0, out
		if !grad {
			ax, first, nreal = forwardAxis(out, n, k, s, pad, dil, exact), pad, n
		}
		p, length := ax.fit(first, nreal)
		lo, hi := p, p+nreal // where the reads and the real coordinates reach
		for _, g := range ax.groups {
			if g.lo >= g.hi {
				continue
			}
			for _, b := range g.bases {
				for _, o := range ax.offs[g.res][g.lo:g.hi] {
					lo, hi = min(lo, b+o), max(hi, b+o+1)
				}
			}
		}
		if lo != 0 || hi != length {
			t.Fatalf("input gradient %v, k %d s %d dil %d n %d pad %d exact %v: reads and real coordinates span [%d, %d) of a padded length %d (real from %d)",
				grad, k, s, dil, n, pad, exact, lo, hi, length, p)
		}
	}
	g5 := Conv2dGeom([]int{192, 256, 8, 8}, []int{256, 256, 5, 5}, ConvParams{Padding: [2]int{2, 2}})
	d := newDirectInputGradGroups(g5, true)
	if d.hp != 8 || d.wp != 8 || d.padT != 0 || d.padL != 0 {
		t.Errorf("sprites enc.conv5's input gradient: dy padded to %dx%d at (%d, %d), want 8x8 at (0, 0)", d.hp, d.wp, d.padT, d.padL)
	}
	if d := newDirectInputGrad(g5); d.nb != 12 || math.Abs(d.work()-0.7225) > 1e-9 {
		t.Errorf("sprites enc.conv5's input gradient: chunks of %d images, work %v; want 12 and 0.7225", d.nb, d.work())
	}
	g4 := Conv2dGeom([]int{192, 256, 16, 16}, []int{256, 256, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}})
	if d := newDirectConv(g4); d.hp != 16 || d.nb != 6 || d.work() > convDirectWideWork {
		t.Errorf("sprites enc.conv4's forward pass: %d rows padded, chunks of %d images, work %v; want 16, 6 and at most %v",
			d.hp, d.nb, d.work(), convDirectWideWork)
	}
}

// TestDirectWGradRuns checks the chunks of the direct weight gradient on
// the HALO presets' layers: a tap that sums one output row at a time gets
// runs of at least convWGradMinRun pixels (sprites enc.conv4 7 images a
// chunk rather than the byte bound's 3), the layers whose runs were long
// enough keep the byte bound's chunks, and the wide layers take it where
// its work is at most convWGradWideWork.
func TestDirectWGradRuns(t *testing.T) {
	oldAny := convDirectAnyCPU
	defer func() { convDirectAnyCPU = oldAny }()
	convDirectAnyCPU = true
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // chunks go evenly to 2 threads
	want := map[string]int{                         // images per chunk; absent: im2col and GEMM
		"mnist/enc.conv2": 8, "mnist/enc.conv3": 32,
		"sprites/enc.conv4": 7, "sprites/enc.conv5": 12,
	}
	for _, l := range haloConvLayers() {
		if l.g.Transposed || l.first {
			continue
		}
		name := l.arch + "/" + l.name
		d := l.g.planDirectWGrad()
		nb, ok := want[name]
		if (d != nil) != ok {
			t.Errorf("%s: direct weight gradient %v, want %v", name, d != nil, ok)
			continue
		}
		if d == nil {
			continue
		}
		if d.nb != nb {
			t.Errorf("%s: %d images a chunk, want %d", name, d.nb, nb)
		}
		for kw, c := range d.cols {
			if n := c[1] - c[0]; n > 0 && n < d.wo && n*d.nb < convWGradMinRun {
				t.Errorf("%s: kernel column %d sums runs of %d pixels", name, kw, n*d.nb)
			}
		}
		// Many threads split the images at most twice as finely as one
		// thread does: each chunk in flight holds a partial gradient.
		chunks := func(procs int) int {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			nb := newDirectWGrad(l.g).nb
			return (l.g.N + nb - 1) / nb
		}
		if one, many := chunks(1), chunks(64); many > 2*one {
			t.Errorf("%s: %d chunks on 64 threads, %d on one", name, many, one)
		}
	}
}
