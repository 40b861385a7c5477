package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestConvDirectAgainstDefinition checks the direct convolution (the
// forward pass, and the input gradient of stride-1 layers that runs as one)
// against the float64 definition, on geometries it is chosen for: 16 to 128
// input channels, output channels not a multiple of 32, strides, paddings
// and dilations, batches that end in a short chunk and tiles that end
// short, on one and on two threads, with the kernel in use (the generic twin
// too, where there is no assembly).
func TestConvDirectAgainstDefinition(t *testing.T) {
	oldAny, oldChunk, oldMin := convDirectAnyCPU, convDirectChunkBytes, convDirectMinPixels
	defer func() { convDirectAnyCPU, convDirectChunkBytes, convDirectMinPixels = oldAny, oldChunk, oldMin }()
	convDirectAnyCPU = true
	r := rand.New(rand.NewPCG(21, 22))
	geoms := []ConvGeom{
		// The rotating-MNIST encoder's deeper layers, at batch 3.
		Conv2dGeom([]int{3, 128, 14, 14}, []int{128, 128, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}}),
		Conv2dGeom([]int{3, 128, 7, 7}, []int{128, 128, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}}),
		// Stride 1: the input gradient runs as a direct convolution too.
		Conv2dGeom([]int{5, 16, 6, 5}, []int{40, 16, 3, 3}, ConvParams{Padding: [2]int{1, 1}}),
		Conv2dGeom([]int{2, 33, 4, 4}, []int{33, 33, 3, 2}, ConvParams{Padding: [2]int{2, 1}}),
	}
	n := 8
	if testing.Short() {
		n = 3
	}
	for len(geoms) < 4+n {
		g := ConvGeom{
			N: 1 + r.IntN(7), C: 16 + r.IntN(113), H: 1 + r.IntN(9), W: 1 + r.IntN(9), OutC: 32 + r.IntN(70),
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
		if !g.directFits() {
			t.Fatalf("%v: the direct convolution does not fit it", g)
		}
		x := randF32(r, g.InLen())
		w := randF32(r, g.WeightLen())
		bias := randF32(r, g.OutC)
		dy := randF32(r, g.OutLen())
		if i%2 == 1 {
			bias = nil
		}
		wantY := refForward(g, x, w, bias)
		wantDx, _, _ := refBackward(g, dy, x, w)
		sc := newRefScale(g, x, w, bias, dy)
		g2, byConv := g.inputGradConv()
		for _, chunk := range []int{oldChunk, 1} { // default chunks, and one image each
			for _, procs := range []int{1, 2} {
				t.Run(fmt.Sprintf("%v/chunk=%d/procs=%d", g, chunk, procs), func(t *testing.T) {
					convDirectChunkBytes, convDirectMinPixels = chunk, min(oldMin, chunk)
					withProcs(procs, func() {
						y := make([]float32, g.OutLen())
						ConvForward(g, y, x, w, bias, nil)
						closeTo(t, "y", y, wantY, sc.y, 1e-5)
						if !byConv || !g2.directFits() {
							return
						}
						// The input gradient adds to what dx holds.
						dx := randF32(r, g.InLen())
						want := make([]float64, len(wantDx))
						for j, v := range dx {
							want[j] = wantDx[j] + float64(v)
						}
						ConvBackward(g, dx, nil, nil, dy, x, w, nil)
						closeTo(t, "dx", dx, want, sc.dx, 1e-5)
					})
				})
			}
		}
	}
}
