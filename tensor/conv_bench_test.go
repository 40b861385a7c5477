package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// haloConvLayer is one convolution of a HALO preset at its training shape
// (batch 24 sequences of T frames, so 24*T images), as listed by
// `torch_halo.py --bench arch`.
type haloConvLayer struct {
	arch, name string
	g          ConvGeom
	first      bool // the first layer: no input gradient (the data needs none)
}

func haloConvLayers() []haloConvLayer {
	conv := func(arch, name string, n, c, hw, cout, k, s, p int) haloConvLayer {
		g := Conv2dGeom([]int{n, c, hw, hw}, []int{cout, c, k, k},
			ConvParams{Stride: [2]int{s, s}, Padding: [2]int{p, p}})
		return haloConvLayer{arch: arch, name: name, g: g, first: name == "enc.conv1"}
	}
	convT := func(arch, name string, n, c, hw, cout, k, s, p, op int) haloConvLayer {
		g := ConvTranspose2dGeom([]int{n, c, hw, hw}, []int{c, cout, k, k},
			ConvParams{Stride: [2]int{s, s}, Padding: [2]int{p, p}, OutputPadding: [2]int{op, op}})
		return haloConvLayer{arch: arch, name: name, g: g}
	}
	const mn, sp = 24 * 16, 24 * 8 // mnist T = 16, sprites T = 8
	return []haloConvLayer{
		conv("mnist", "enc.conv1", mn, 1, 28, 128, 5, 2, 2),
		conv("mnist", "enc.conv2", mn, 128, 14, 128, 5, 2, 2),
		conv("mnist", "enc.conv3", mn, 128, 7, 128, 5, 2, 2),
		convT("mnist", "dec.convT1", mn, 128, 4, 128, 3, 1, 0, 0),
		convT("mnist", "dec.convT2", mn, 128, 6, 128, 5, 2, 1, 0),
		convT("mnist", "dec.convT3", mn, 128, 13, 128, 5, 2, 1, 1),
		convT("mnist", "dec.convT4", mn, 128, 28, 1, 5, 1, 2, 0),
		conv("sprites", "enc.conv1", sp, 3, 64, 256, 5, 1, 2),
		conv("sprites", "enc.conv2", sp, 256, 64, 256, 5, 2, 2),
		conv("sprites", "enc.conv3", sp, 256, 32, 256, 5, 2, 2),
		conv("sprites", "enc.conv4", sp, 256, 16, 256, 5, 2, 2),
		conv("sprites", "enc.conv5", sp, 256, 8, 256, 5, 1, 2),
		convT("sprites", "dec.convT1", sp, 256, 8, 256, 5, 2, 2, 1),
		convT("sprites", "dec.convT2", sp, 256, 16, 256, 5, 2, 2, 1),
		convT("sprites", "dec.convT3", sp, 256, 32, 256, 5, 2, 2, 1),
		convT("sprites", "dec.convT4", sp, 256, 64, 3, 5, 1, 2, 0),
	}
}

// flops counts as torch_halo.py does: 2*M*N*K of the layer's GEMM forward,
// twice that for forward+backward of the first layer (weight gradient
// only), three times for the others.
func (l haloConvLayer) flops(backward bool) float64 {
	f := 2 * float64(l.g.N) * float64(l.g.OutC) * float64(l.g.C) * float64(l.g.KH*l.g.KW)
	if l.g.Transposed {
		f *= float64(l.g.H * l.g.W)
	} else {
		f *= float64(l.g.OutH() * l.g.OutW())
	}
	switch {
	case !backward:
		return f
	case l.first:
		return 2 * f
	}
	return 3 * f
}

func fillBench(s []float32, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
}

// BenchmarkConvLayers times every Conv2d and ConvTranspose2d of the HALO
// mnist and sprites presets at batch 24, as `torch_halo.py --bench layers`
// does: "fwd" is the forward pass with bias; "fwdbwd" is forward plus the
// gradients of weight, bias and (except for the first layer) input, into
// cleared buffers, after one untimed step.
func BenchmarkConvLayers(b *testing.B) {
	for _, l := range haloConvLayers() {
		g := l.g
		for _, mode := range []string{"fwd", "fwdbwd"} {
			b.Run(fmt.Sprintf("%s/%s/%s", l.arch, l.name, mode), func(b *testing.B) {
				x := make([]float32, g.InLen())
				w := make([]float32, g.WeightLen())
				bias := make([]float32, g.OutC)
				y := make([]float32, g.OutLen())
				ws := make([]float32, g.WorkspaceLen())
				fillBench(x, 1)
				fillBench(w, 2)
				fillBench(bias, 3)
				var dx, dw, db, dy []float32
				if mode == "fwdbwd" {
					dy = make([]float32, g.OutLen())
					fillBench(dy, 4)
					dw = make([]float32, g.WeightLen())
					db = make([]float32, g.OutC)
					if !l.first {
						dx = make([]float32, g.InLen())
					}
				}
				step := func() {
					ConvForward(g, y, x, w, bias, ws)
					if mode == "fwdbwd" {
						clear(dx)
						clear(dw)
						clear(db)
						ConvBackward(g, dx, dw, db, dy, x, w, ws)
					}
				}
				// One step untimed, as a training loop's steps after its
				// first find their buffers mapped and the scratch pools
				// filled (and as torch_halo.py warms PyTorch up): first
				// touches of fresh buffers cost sprites enc.conv5 10-12 ms.
				step()
				b.ResetTimer()
				for range b.N {
					step()
				}
				b.ReportMetric(l.flops(mode == "fwdbwd")*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkIm2colPack times the packing of one chunk's column matrix into
// GEMM panels, as the GEMM asks for it (blocks of 256 rows by up to 4096
// columns, or the transpose for a weight gradient), from runs of pixels
// (im2colRows) or from a colTable, on the HALO layers. The anchor "dense"
// packs the materialised column matrix as Sgemm would. The metric is
// nanoseconds per packed element.
func BenchmarkIm2colPack(b *testing.B) {
	const kcBlk, ncBlk = 256, 4096
	for _, l := range haloConvLayers() {
		g := l.g
		pl := g.plan()
		q := g.colGeom()
		img := make([]float32, pl.nb*q.c*q.h*q.w)
		fillBench(img, 5)
		rows, cols := pl.rows, pl.nb*pl.per
		var col []float32 // materialised, for the "dense" anchor
		for _, mode := range []string{"dense", "runs", "table"} {
			for _, trans := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/%s/trans=%t", l.arch, l.name, mode, trans)
				b.Run(name, func(b *testing.B) {
					var bm matB
					switch mode {
					case "dense":
						if col == nil {
							col = make([]float32, rows*cols)
							im2colRows(&q, img, 0, rows, 0, cols, col, cols)
						}
						bm = denseB{col, cols, trans}
						if trans {
							bm = denseB{col, cols, trans}
						}
					case "runs":
						bm = im2colB{q: &q, img: img, trans: trans}
					case "table":
						t := newColTable(&q, pl.nb)
						defer t.release()
						bm = im2colB{q: &q, img: img, trans: trans, tab: t}
					}
					// op(B) is rows x cols, or cols x rows when trans.
					kdim, ndim := rows, cols
					if trans {
						kdim, ndim = cols, rows
					}
					nr := currentBlocks().nr
					dst := make([]float32, kcBlk*roundUp(min(ncBlk, ndim), nr))
					b.ResetTimer()
					for range b.N {
						for j0 := 0; j0 < ndim; j0 += ncBlk {
							for p0 := 0; p0 < kdim; p0 += kcBlk {
								bm.packB(dst, p0, min(kcBlk, kdim-p0), j0, min(ncBlk, ndim-j0), nr)
							}
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows*cols), "ns/elem")
				})
			}
		}
	}
}

// BenchmarkConvPlans times forward+backward of the cheaper HALO layers
// under other choices of the driver: the column matrix materialised block
// by block rather than packed from the images, one image per GEMM rather
// than several side by side, narrower or wider GEMMs, no source tables,
// smaller column blocks for col2im, and im2col and GEMM where the direct
// convolution would run (no-direct). The machine is shared and noisy, so each
// iteration runs every variant once, round robin, and the metrics are the
// fastest time of each variant over the iterations, as a ratio to the
// default's ("xdefault"; below 1 is faster). Run with -benchtime Nx.
func BenchmarkConvPlans(b *testing.B) {
	type variant struct {
		name string
		set  func()
	}
	variants := []variant{
		{"default", func() {}},
		{"materialised", func() { convFused = false }},
		{"per-image", func() { convMinCols = 1 }},
		{"cols=512", func() { convMinCols = 512 }},
		{"cols=4096", func() { convMinCols = 4096 }},
		{"no-table", func() { convTableMaxW = 0 }},
		{"all-table", func() { convRunsMinW = 1 << 30 }},
		{"block=256K", func() { convBlockFloats = 1 << 18 }},
		{"chunks-in-turn", func() { convChunkWorkers = false }},
		{"col2im-input-grad", func() { convGradByConv = false }},
		{"no-direct", func() { convDirect = false }},
	}
	for _, l := range haloConvLayers() {
		if l.arch == "sprites" && l.g.ColCols()/l.g.N > 64 {
			continue // the large sprites layers take seconds each
		}
		g := l.g
		x := make([]float32, g.InLen())
		w := make([]float32, g.WeightLen())
		bias := make([]float32, g.OutC)
		y := make([]float32, g.OutLen())
		dy := make([]float32, g.OutLen())
		dw := make([]float32, g.WeightLen())
		db := make([]float32, g.OutC)
		var dx []float32
		if !l.first {
			dx = make([]float32, g.InLen())
		}
		fillBench(x, 1)
		fillBench(w, 2)
		fillBench(dy, 4)
		b.Run(l.arch+"/"+l.name, func(b *testing.B) {
			oldCols, oldBlock, oldFused, oldTab, oldRuns, oldWorkers := convMinCols, convBlockFloats, convFused, convTableMaxW, convRunsMinW, convChunkWorkers
			oldByConv, oldDirect := convGradByConv, convDirect
			best := make([]time.Duration, len(variants))
			for range b.N {
				for i, v := range variants {
					v.set()
					start := time.Now()
					ConvForward(g, y, x, w, bias, nil)
					clear(dx)
					clear(dw)
					clear(db)
					ConvBackward(g, dx, dw, db, dy, x, w, nil)
					if d := time.Since(start); best[i] == 0 || d < best[i] {
						best[i] = d
					}
					convMinCols, convBlockFloats, convFused, convTableMaxW, convRunsMinW = oldCols, oldBlock, oldFused, oldTab, oldRuns
					convChunkWorkers, convGradByConv, convDirect = oldWorkers, oldByConv, oldDirect
				}
			}
			b.ReportMetric(l.flops(true)/best[0].Seconds()/1e9, "GFLOP/s")
			for i, v := range variants[1:] {
				b.ReportMetric(best[i+1].Seconds()/best[0].Seconds(), v.name+"-xdefault")
			}
		})
	}
}
