package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The reference convolution: the definition, one multiply-add per connection
// between an input and an output element, in float64. It shares nothing
// with im2col.

// connections calls f for every (input index, weight index, output index)
// triple that a Conv2d or ConvTranspose2d of geometry g multiplies together.
func connections(g ConvGeom, f func(xi, wi, yi int)) {
	oh, ow := g.OutH(), g.OutW()
	for n := range g.N {
		if !g.Transposed {
			// y[n,o,i,j] += x[n,c,i*s-p+kh*d, j*s-p+kw*d] * w[o,c,kh,kw]
			for o := range g.OutC {
				for i := range oh {
					for j := range ow {
						yi := ((n*g.OutC+o)*oh+i)*ow + j
						for c := range g.C {
							for kh := range g.KH {
								r := i*g.StrideH - g.PadH + kh*g.DilH
								if r < 0 || r >= g.H {
									continue
								}
								for kw := range g.KW {
									s := j*g.StrideW - g.PadW + kw*g.DilW
									if s < 0 || s >= g.W {
										continue
									}
									f(((n*g.C+c)*g.H+r)*g.W+s, ((o*g.C+c)*g.KH+kh)*g.KW+kw, yi)
								}
							}
						}
					}
				}
			}
			continue
		}
		// y[n,o,r*s-p+kh*d, t*s-p+kw*d] += x[n,c,r,t] * w[c,o,kh,kw]
		for c := range g.C {
			for r := range g.H {
				for t := range g.W {
					xi := ((n*g.C+c)*g.H+r)*g.W + t
					for o := range g.OutC {
						for kh := range g.KH {
							i := r*g.StrideH - g.PadH + kh*g.DilH
							if i < 0 || i >= oh {
								continue
							}
							for kw := range g.KW {
								j := t*g.StrideW - g.PadW + kw*g.DilW
								if j < 0 || j >= ow {
									continue
								}
								f(xi, ((c*g.OutC+o)*g.KH+kh)*g.KW+kw, ((n*g.OutC+o)*oh+i)*ow+j)
							}
						}
					}
				}
			}
		}
	}
}

// refForward is y = conv(x, w) + bias in float64.
func refForward(g ConvGeom, x, w, bias []float32) []float64 {
	y := make([]float64, g.OutLen())
	per := g.OutH() * g.OutW()
	if bias != nil {
		for i := range y {
			y[i] = float64(bias[i/per%g.OutC])
		}
	}
	connections(g, func(xi, wi, yi int) { y[yi] += float64(x[xi]) * float64(w[wi]) })
	return y
}

// refBackward is the adjoint: the gradients of <y, dy> in float64.
func refBackward(g ConvGeom, dy, x, w []float32) (dx, dw, db []float64) {
	dx = make([]float64, g.InLen())
	dw = make([]float64, g.WeightLen())
	db = make([]float64, g.OutC)
	connections(g, func(xi, wi, yi int) {
		dx[xi] += float64(dy[yi]) * float64(w[wi])
		dw[wi] += float64(dy[yi]) * float64(x[xi])
	})
	per := g.OutH() * g.OutW()
	for i, v := range dy {
		db[i/per%g.OutC] += float64(v)
	}
	return dx, dw, db
}

func randF32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// closeTo fails when some element of got differs from want by more than
// tol times scale, its error scale: the sum of the absolute values of the
// terms that make the element (see refScale), which is what float32 rounding
// errors are proportional to. Elements that cancel to near zero are judged
// by the size of their terms, not by their own.
func closeTo(t *testing.T, what string, got []float32, want, scale []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) || len(scale) != len(want) {
		t.Fatalf("%s: length %d, want %d (scale %d)", what, len(got), len(want), len(scale))
	}
	worst, at := 0.0, -1
	for i := range got {
		e := math.Abs(float64(got[i])-want[i]) / (scale[i] + 1e-30)
		if !(e <= worst) { // NaN counts as worst
			worst, at = e, i
		}
	}
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s: element %d is %g, want %g (error %.3g of its scale %g > %g)", what, at, got[at], want[at], worst, scale[at], tol)
	}
}

func absF32(s []float32) []float32 {
	if s == nil {
		return nil
	}
	a := make([]float32, len(s))
	for i, v := range s {
		a[i] = float32(math.Abs(float64(v)))
	}
	return a
}

// refScale is the error scale of each output and gradient element: the
// reference computed from absolute values.
type refScale struct{ y, dx, dw, db []float64 }

func newRefScale(g ConvGeom, x, w, bias, dy []float32) refScale {
	var s refScale
	s.y = refForward(g, absF32(x), absF32(w), absF32(bias))
	s.dx, s.dw, s.db = refBackward(g, absF32(dy), absF32(x), absF32(w))
	return s
}

func to64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

// randGeom draws a valid random geometry: odd sizes, stride 1-3, padding
// 0-3, dilation 1-2, output padding below the stride or the dilation, batch
// 1-3.
func randGeom(r *rand.Rand, transposed bool) ConvGeom {
	for {
		g := ConvGeom{
			N: 1 + r.IntN(3), C: 1 + r.IntN(4), H: 1 + r.IntN(11), W: 1 + r.IntN(11), OutC: 1 + r.IntN(4),
			KH: 1 + r.IntN(4), KW: 1 + r.IntN(4),
			StrideH: 1 + r.IntN(3), StrideW: 1 + r.IntN(3),
			PadH: r.IntN(4), PadW: r.IntN(4),
			DilH: 1 + r.IntN(2), DilW: 1 + r.IntN(2),
			Transposed: transposed,
		}
		if r.IntN(4) == 0 {
			g.H = 1
			g.KH = 1
			g.PadH = 0
			g.Causal = true // the Conv1d case
		}
		if transposed {
			g.OutPadH = r.IntN(max(g.StrideH, g.DilH))
			g.OutPadW = r.IntN(max(g.StrideW, g.DilW))
		}
		if g.OutH() >= 1 && g.OutW() >= 1 {
			g.Validate()
			return g
		}
	}
}

// withPlan runs f under several cuts of the batch and the column matrix:
// the default, one image per GEMM, two, all images in one GEMM, blocks of a
// single kernel's rows, packing from runs of pixels or from a table, the
// column matrix materialised rather than packed from the images, and
// chunks dealt out to two threads (whatever the machine's core count) or
// run in turn with each GEMM split between the threads, and input gradients
// of stride-1 layers through col2im rather than as a forward pass.
func withPlan(t *testing.T, g ConvGeom, f func(t *testing.T)) {
	pair := 2 * g.colH() * g.colW() // two images per GEMM; odd batches end with one
	oldCols, oldBlock, oldPar, oldFused, oldTab, oldRuns := convMinCols, convBlockFloats, convParMin, convFused, convTableMaxW, convRunsMinW
	oldWorkers, oldMaxWorkers, oldByConv := convChunkWorkers, convMaxWorkers, convGradByConv
	defer func() {
		convMinCols, convBlockFloats, convParMin, convFused, convTableMaxW, convRunsMinW = oldCols, oldBlock, oldPar, oldFused, oldTab, oldRuns
		convChunkWorkers, convMaxWorkers, convGradByConv = oldWorkers, oldMaxWorkers, oldByConv
	}()
	for _, p := range []struct {
		name                string
		cols, blk, par, tab int
		fused               bool
		procs               int // GOMAXPROCS, 0 to leave it
		inTurn              bool
		maxWorkers          int  // convMaxWorkers, 0 to leave it
		col2imGrad          bool // input gradients of stride-1 layers through col2im
	}{
		{name: "default", cols: oldCols, blk: oldBlock, par: oldPar, tab: oldTab, fused: oldFused},
		{name: "per-image/runs", cols: 1, blk: oldBlock, par: oldPar, tab: 0, fused: true},
		{name: "per-image/table", cols: 1, blk: oldBlock, par: oldPar, tab: 1 << 30, fused: true},
		{name: "all-images/runs", cols: 1 << 30, blk: oldBlock, par: 1, tab: 0, fused: true},
		{name: "all-images/table", cols: 1 << 30, blk: oldBlock, par: 1, tab: 1 << 30, fused: true},
		{name: "two-images/runs", cols: pair, blk: oldBlock, par: 1, tab: 0, fused: true},
		{name: "two-images/table", cols: pair, blk: oldBlock, par: 1, tab: 1 << 30, fused: true},
		{name: "two-images/materialised", cols: pair, blk: 1, par: 1, tab: 1 << 30, fused: false},
		{name: "row-blocks", cols: 1 << 30, blk: 1, par: 1, tab: oldTab, fused: true},
		{name: "materialised/per-image", cols: 1, blk: oldBlock, par: 1, tab: oldTab, fused: false},
		{name: "materialised/row-blocks", cols: 1 << 30, blk: 1, par: 1, tab: oldTab, fused: false},
		{name: "per-image/chunk-workers", cols: 1, blk: oldBlock, par: 1, tab: oldTab, fused: true, procs: 2},
		{name: "per-image/materialised/chunk-workers", cols: 1, blk: 1, par: 1, tab: oldTab, fused: false, procs: 2},
		{name: "per-image/in-turn", cols: 1, blk: oldBlock, par: 1, tab: oldTab, fused: true, procs: 2, inTurn: true},
		{name: "per-image/two-workers-of-two-threads", cols: 1, blk: oldBlock, par: 1, tab: oldTab, fused: true, procs: 4, maxWorkers: 2},
		{name: "col2im-input-grad", cols: oldCols, blk: oldBlock, par: oldPar, tab: oldTab, fused: oldFused, col2imGrad: true},
		{name: "per-image/col2im-input-grad", cols: 1, blk: oldBlock, par: 1, tab: oldTab, fused: true, col2imGrad: true},
	} {
		convMinCols, convBlockFloats, convParMin, convTableMaxW, convFused = p.cols, p.blk, p.par, p.tab, p.fused
		convChunkWorkers = !p.inTurn
		convMaxWorkers = oldMaxWorkers
		if p.maxWorkers > 0 {
			convMaxWorkers = p.maxWorkers
		}
		convGradByConv = !p.col2imGrad
		convRunsMinW = oldRuns
		if p.tab > oldTab {
			convRunsMinW = p.tab // the table for everything it can do
		}
		if p.procs > 0 {
			t.Run(p.name, func(t *testing.T) { withProcs(p.procs, func() { f(t) }) })
			continue
		}
		t.Run(p.name, f)
	}
}

func checkAgainstRef(t *testing.T, g ConvGeom, r *rand.Rand, tol float64) {
	t.Helper()
	x := randF32(r, g.InLen())
	w := randF32(r, g.WeightLen())
	bias := randF32(r, g.OutC)
	dy := randF32(r, g.OutLen())
	if r.IntN(3) == 0 {
		bias = nil
	}
	wantY := refForward(g, x, w, bias)
	wantDx, wantDw, wantDb := refBackward(g, dy, x, w)
	sc := newRefScale(g, x, w, bias, dy)
	withPlan(t, g, func(t *testing.T) {
		y := make([]float32, g.OutLen())
		for i := range y {
			y[i] = float32(math.NaN()) // overwritten, never read
		}
		var ws []float32
		if r.IntN(2) == 0 {
			ws = make([]float32, g.WorkspaceLen())
		}
		ConvForward(g, y, x, w, bias, ws)
		closeTo(t, "y", y, wantY, sc.y, tol)
		dx := make([]float32, g.InLen())
		dw := make([]float32, g.WeightLen())
		db := make([]float32, g.OutC)
		ConvBackward(g, dx, dw, db, dy, x, w, ws)
		closeTo(t, "dx", dx, wantDx, sc.dx, tol)
		closeTo(t, "dw", dw, wantDw, sc.dw, tol)
		closeTo(t, "db", db, wantDb, sc.db, tol)
	})
}

func TestConvRandomAgainstDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	n := 60
	if testing.Short() {
		n = 15
	}
	for _, transposed := range []bool{false, true} {
		for i := range n {
			g := randGeom(r, transposed)
			t.Run(fmt.Sprintf("%d/%v", i, g), func(t *testing.T) { checkAgainstRef(t, g, r, 1e-5) })
		}
	}
}

// TestConvHALOShapes checks the layer geometries of the HALO presets at
// batch 2 with few channels, under every plan.
func TestConvHALOShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	geoms := []ConvGeom{
		// mnist: encoder convs, decoder transposed convs.
		Conv2dGeom([]int{2, 1, 28, 28}, []int{4, 1, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}}),
		Conv2dGeom([]int{2, 3, 14, 14}, []int{4, 3, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}}),
		Conv2dGeom([]int{2, 3, 7, 7}, []int{4, 3, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}}),
		ConvTranspose2dGeom([]int{2, 3, 4, 4}, []int{3, 4, 3, 3}, ConvParams{}),
		ConvTranspose2dGeom([]int{2, 3, 6, 6}, []int{3, 4, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}),
		ConvTranspose2dGeom([]int{2, 3, 13, 13}, []int{3, 4, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 1}}),
		ConvTranspose2dGeom([]int{2, 3, 28, 28}, []int{3, 1, 5, 5}, ConvParams{Padding: [2]int{2, 2}}),
		// sprites: stride-1 and stride-2 5x5 convs, transposed convs with output padding.
		Conv2dGeom([]int{2, 3, 32, 32}, []int{4, 3, 5, 5}, ConvParams{Padding: [2]int{2, 2}}),
		Conv2dGeom([]int{2, 3, 16, 16}, []int{4, 3, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}}),
		ConvTranspose2dGeom([]int{2, 3, 8, 8}, []int{3, 4, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}, OutputPadding: [2]int{1, 1}}),
		ConvTranspose2dGeom([]int{2, 4, 16, 16}, []int{4, 3, 5, 5}, ConvParams{Padding: [2]int{2, 2}}),
		// The temporal block: kernel 4, causal padding 3.
		Conv1dGeom([]int{2, 6, 16}, []int{6, 6, 4}, Conv1dParams{Padding: 3, Causal: true}),
	}
	for _, g := range geoms {
		t.Run(g.String(), func(t *testing.T) { checkAgainstRef(t, g, r, 1e-5) })
	}
}

// TestConvGemmBlocks uses shapes large enough that the GEMM cuts the packed
// column matrix into several KC and NC blocks and splits its work across
// goroutines by rows as well as by columns.
func TestConvGemmBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	for _, g := range []ConvGeom{
		// 500 rows, 4608 columns.
		Conv2dGeom([]int{2, 20, 48, 48}, []int{8, 20, 5, 5}, ConvParams{Padding: [2]int{2, 2}}),
		// Many output channels, few columns.
		Conv2dGeom([]int{1, 17, 6, 6}, []int{200, 17, 3, 3}, ConvParams{Padding: [2]int{1, 1}, Dilation: [2]int{2, 1}}),
		ConvTranspose2dGeom([]int{2, 9, 20, 20}, []int{9, 30, 4, 4}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}),
		// First layers: fewer column-matrix rows than output channels, so
		// the weight gradient splits its columns between goroutines.
		Conv2dGeom([]int{3, 2, 20, 20}, []int{40, 2, 3, 3}, ConvParams{Padding: [2]int{1, 1}}),
		ConvTranspose2dGeom([]int{2, 40, 20, 20}, []int{40, 2, 3, 3}, ConvParams{Padding: [2]int{1, 1}}),
	} {
		t.Run(g.String(), func(t *testing.T) { checkAgainstRef(t, g, r, 1e-5) })
	}
}

// TestConvFiniteDifferences checks the gradients of L = <conv(x, w) + b, dy>
// by central differences of the float32 forward pass on tiny cases. L is
// linear in each argument, so a large step leaves only rounding error.
func TestConvFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, g := range []ConvGeom{
		Conv2dGeom([]int{2, 2, 5, 4}, []int{3, 2, 3, 2}, ConvParams{Stride: [2]int{2, 1}, Padding: [2]int{1, 2}, Dilation: [2]int{1, 2}}),
		ConvTranspose2dGeom([]int{2, 2, 3, 4}, []int{2, 3, 3, 2}, ConvParams{Stride: [2]int{2, 3}, Padding: [2]int{1, 0}, Dilation: [2]int{2, 1}, OutputPadding: [2]int{1, 2}}),
		Conv1dGeom([]int{2, 3, 7}, []int{2, 3, 3}, Conv1dParams{Padding: 4, Dilation: 2, Causal: true}),
	} {
		t.Run(g.String(), func(t *testing.T) {
			x := randF32(r, g.InLen())
			w := randF32(r, g.WeightLen())
			b := randF32(r, g.OutC)
			dy := randF32(r, g.OutLen())
			loss := func() float64 {
				y := make([]float32, g.OutLen())
				ConvForward(g, y, x, w, b, nil)
				var s float64
				for i, v := range y {
					s += float64(v) * float64(dy[i])
				}
				return s
			}
			dx := make([]float32, len(x))
			dw := make([]float32, len(w))
			db := make([]float32, len(b))
			ConvBackward(g, dx, dw, db, dy, x, w, nil)
			sc := newRefScale(g, x, w, b, dy)
			const h = 0.5
			for _, p := range []struct {
				name  string
				v     []float32
				grad  []float32
				scale []float64
			}{{"x", x, dx, sc.dx}, {"w", w, dw, sc.dw}, {"b", b, db, sc.db}} {
				fd := make([]float64, len(p.v))
				for i := range p.v {
					v := p.v[i]
					p.v[i] = v + h
					lp := loss()
					p.v[i] = v - h
					lm := loss()
					p.v[i] = v
					fd[i] = (lp - lm) / (2 * h)
				}
				// The differences carry rounding of L, a sum over all
				// outputs: allow for it on top of the gradient's own scale.
				closeTo(t, "d"+p.name, p.grad, fd, p.scale, 1e-4)
			}
		})
	}
}

// TestConvBackwardAccumulates checks that gradients add to what the slices
// hold and that each of dx, dw, db may be skipped.
func TestConvBackwardAccumulates(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, transposed := range []bool{false, true} {
		g := randGeom(r, transposed)
		x := randF32(r, g.InLen())
		w := randF32(r, g.WeightLen())
		dy := randF32(r, g.OutLen())
		wantDx, wantDw, wantDb := refBackward(g, dy, x, w)
		sc := newRefScale(g, x, w, nil, dy)
		withPlan(t, g, func(t *testing.T) {
			dx := randF32(r, g.InLen())
			dw := randF32(r, g.WeightLen())
			db := randF32(r, g.OutC)
			// Expected: what they held plus the gradients; error scale:
			// the terms of both.
			want := func(init []float32, grad, scale []float64) ([]float64, []float64) {
				w, sc := to64(init), append([]float64(nil), scale...)
				for i := range w {
					w[i] += grad[i]
					sc[i] += math.Abs(float64(init[i]))
				}
				return w, sc
			}
			dx0, sdx := want(dx, wantDx, sc.dx)
			dw0, sdw := want(dw, wantDw, sc.dw)
			db0, sdb := want(db, wantDb, sc.db)
			// One gradient at a time, into slices that already hold values.
			ConvBackward(g, dx, nil, nil, dy, nil, w, nil)
			ConvBackward(g, nil, dw, nil, dy, x, w, nil)
			ConvBackward(g, nil, nil, db, dy, nil, w, nil)
			closeTo(t, "dx", dx, dx0, sdx, 1e-5)
			closeTo(t, "dw", dw, dw0, sdw, 1e-5)
			closeTo(t, "db", db, db0, sdb, 1e-5)
		})
	}
}

func TestConvTensorAPI(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	x := FromSlice(randF32(r, 2*3*9*8), 2, 3, 9, 8)
	w := FromSlice(randF32(r, 4*3*3*3), 4, 3, 3, 3)
	b := FromSlice(randF32(r, 4), 4)
	p := ConvParams{Stride: [2]int{2, 1}, Padding: [2]int{1, 1}}
	y := Conv2d(x, w, b, p)
	g := Conv2dGeom(x.Shape(), w.Shape(), p)
	if want := []int{2, 4, 5, 8}; !equalShape(y.Shape(), want) {
		t.Fatalf("Conv2d shape %v, want %v", y.Shape(), want)
	}
	dy := FromSlice(randF32(r, y.Len()), y.Shape()...)
	sc := newRefScale(g, x.Data(), w.Data(), b.Data(), dy.Data())
	closeTo(t, "Conv2d", y.Data(), refForward(g, x.Data(), w.Data(), b.Data()), sc.y, 1e-5)
	dx, dw, db := Conv2dBackward(x, w, dy, p, true)
	wx, ww, wb := refBackward(g, dy.Data(), x.Data(), w.Data())
	closeTo(t, "Conv2dBackward dx", dx.Data(), wx, sc.dx, 1e-5)
	closeTo(t, "Conv2dBackward dw", dw.Data(), ww, sc.dw, 1e-5)
	closeTo(t, "Conv2dBackward db", db.Data(), wb, sc.db, 1e-5)
	if dx, _, _ := Conv2dBackward(x, w, dy, p, false); dx != nil {
		t.Errorf("Conv2dBackward without input gradient returned dx %v", dx)
	}

	wt := FromSlice(randF32(r, 3*2*4*4), 3, 2, 4, 4)
	pt := ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 0}}
	yt := ConvTranspose2d(x, wt, nil, pt)
	gt := ConvTranspose2dGeom(x.Shape(), wt.Shape(), pt)
	if want := []int{2, 2, 19, 16}; !equalShape(yt.Shape(), want) {
		t.Fatalf("ConvTranspose2d shape %v, want %v", yt.Shape(), want)
	}
	dyt := FromSlice(randF32(r, yt.Len()), yt.Shape()...)
	sc = newRefScale(gt, x.Data(), wt.Data(), nil, dyt.Data())
	closeTo(t, "ConvTranspose2d", yt.Data(), refForward(gt, x.Data(), wt.Data(), nil), sc.y, 1e-5)
	dx, dw, db = ConvTranspose2dBackward(x, wt, dyt, pt, true)
	wx, ww, wb = refBackward(gt, dyt.Data(), x.Data(), wt.Data())
	closeTo(t, "ConvTranspose2dBackward dx", dx.Data(), wx, sc.dx, 1e-5)
	closeTo(t, "ConvTranspose2dBackward dw", dw.Data(), ww, sc.dw, 1e-5)
	closeTo(t, "ConvTranspose2dBackward db", db.Data(), wb, sc.db, 1e-5)

	x1 := FromSlice(randF32(r, 2*5*16), 2, 5, 16)
	w1 := FromSlice(randF32(r, 5*5*4), 5, 5, 4)
	p1 := Conv1dParams{Padding: 3, Causal: true}
	y1 := Conv1d(x1, w1, nil, p1)
	if want := []int{2, 5, 16}; !equalShape(y1.Shape(), want) {
		t.Fatalf("causal Conv1d shape %v, want %v", y1.Shape(), want)
	}
	// Causal: output t sees inputs t-3..t only.
	want := make([]float64, y1.Len())
	for n := range 2 {
		for o := range 5 {
			for tt := range 16 {
				var s float64
				for c := range 5 {
					for k := range 4 {
						if i := tt - 3 + k; i >= 0 {
							s += float64(x1.Data()[(n*5+c)*16+i]) * float64(w1.Data()[(o*5+c)*4+k])
						}
					}
				}
				want[(n*5+o)*16+tt] = s
			}
		}
	}
	dy1 := FromSlice(randF32(r, y1.Len()), y1.Shape()...)
	g1 := Conv1dGeom(x1.Shape(), w1.Shape(), p1)
	sc = newRefScale(g1, x1.Data(), w1.Data(), nil, dy1.Data())
	closeTo(t, "causal Conv1d", y1.Data(), want, sc.y, 1e-5)
	dx1, dw1, db1 := Conv1dBackward(x1, w1, dy1, p1, true)
	wx, ww, wb = refBackward(g1, dy1.Data(), x1.Data(), w1.Data())
	closeTo(t, "Conv1dBackward dx", dx1.Data(), wx, sc.dx, 1e-5)
	closeTo(t, "Conv1dBackward dw", dw1.Data(), ww, sc.dw, 1e-5)
	closeTo(t, "Conv1dBackward db", db1.Data(), wb, sc.db, 1e-5)
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic, want %q", want)
			return
		}
		if msg := fmt.Sprint(r); msg != want {
			t.Errorf("panic %q\n want %q", msg, want)
		}
	}()
	f()
}

func mustPanicPrefix(t *testing.T, prefix string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic, want one starting %q", prefix)
			return
		}
		if msg := fmt.Sprint(r); len(msg) < len(prefix) || msg[:len(prefix)] != prefix {
			t.Errorf("panic %q\n want prefix %q", msg, prefix)
		}
	}()
	f()
}

func TestConvPanics(t *testing.T) {
	x := New(2, 3, 8, 8)
	mustPanic(t, "tensor: Conv2d: input [2 3 8 8] and weight [4 5 3 3]: input channels 3 != weight 5", func() {
		Conv2d(x, New(4, 5, 3, 3), nil, ConvParams{})
	})
	mustPanic(t, "tensor: ConvTranspose2d: input [2 3 8 8] and weight [4 5 3 3]: input channels 3 != weight 4", func() {
		ConvTranspose2d(x, New(4, 5, 3, 3), nil, ConvParams{})
	})
	mustPanic(t, "tensor: Conv2d: input [2 3 8] and weight [4 3 3 3]: input must have rank 4 (NCHW), has 3", func() {
		Conv2d(New(2, 3, 8), New(4, 3, 3, 3), nil, ConvParams{})
	})
	mustPanic(t, "tensor: Conv2d: weight [4 3 3 3] and bias [5]: bias must be [4]", func() {
		Conv2d(x, New(4, 3, 3, 3), New(5), ConvParams{})
	})
	mustPanic(t, "tensor: Conv2dBackward: output gradient [2 4 8 8] != output [2 4 6 6] of input [2 3 8 8] and weight [4 3 3 3]", func() {
		Conv2dBackward(x, New(4, 3, 3, 3), New(2, 4, 8, 8), ConvParams{}, true)
	})
	mustPanic(t, "tensor: Conv1d: input [2 3 8] and weight [4 2 3]: input channels 3 != weight 2", func() {
		Conv1d(New(2, 3, 8), New(4, 2, 3), nil, Conv1dParams{})
	})
	mustPanicPrefix(t, "tensor: ConvGeom: output would be 0x0: input [2 3 8 8], weight [4 3 9 9]", func() {
		Conv2d(x, New(4, 3, 9, 9), nil, ConvParams{})
	})
	mustPanicPrefix(t, "tensor: ConvGeom: output padding must be smaller than the stride or the dilation: input [2 3 8 8], weight [3 4 3 3]", func() {
		ConvTranspose2d(x, New(3, 4, 3, 3), nil, ConvParams{Stride: [2]int{2, 2}, OutputPadding: [2]int{2, 0}})
	})
	mustPanic(t, "tensor: Conv2d: input [2 3 8 8] and weight [4 3 3 3]: output padding is for transposed convolutions only", func() {
		Conv2d(x, New(4, 3, 3, 3), nil, ConvParams{OutputPadding: [2]int{1, 0}})
	})
	mustPanicPrefix(t, "tensor: ConvGeom: negative padding", func() {
		Conv2d(x, New(4, 3, 3, 3), nil, ConvParams{Padding: [2]int{-1, 0}})
	})
	g := Conv2dGeom([]int{2, 3, 8, 8}, []int{4, 3, 3, 3}, ConvParams{})
	mustPanicPrefix(t, "tensor: ConvForward: y has 10 elements, Conv2d input [2 3 8 8] weight [4 3 3 3] output [2 4 6 6]", func() {
		ConvForward(g, make([]float32, 10), make([]float32, g.InLen()), make([]float32, g.WeightLen()), nil, nil)
	})
	mustPanicPrefix(t, "tensor: ConvBackward: x has 0 elements", func() {
		ConvBackward(g, nil, make([]float32, g.WeightLen()), nil, make([]float32, g.OutLen()), nil, make([]float32, g.WeightLen()), nil)
	})
}

func TestConvGeomSizes(t *testing.T) {
	// Output sizes of the HALO layers, from torch_halo.py's layer table.
	for _, c := range []struct {
		g    ConvGeom
		h, w int
	}{
		{Conv2dGeom([]int{1, 1, 28, 28}, []int{128, 1, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}}), 14, 14},
		{Conv2dGeom([]int{1, 128, 7, 7}, []int{128, 128, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}}), 4, 4},
		{ConvTranspose2dGeom([]int{1, 128, 4, 4}, []int{128, 128, 3, 3}, ConvParams{}), 6, 6},
		{ConvTranspose2dGeom([]int{1, 128, 6, 6}, []int{128, 128, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}), 13, 13},
		{ConvTranspose2dGeom([]int{1, 128, 13, 13}, []int{128, 128, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 1}}), 28, 28},
		{ConvTranspose2dGeom([]int{1, 256, 8, 8}, []int{256, 256, 5, 5}, ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}, OutputPadding: [2]int{1, 1}}), 16, 16},
		{Conv1dGeom([]int{1, 64, 16}, []int{64, 64, 4}, Conv1dParams{Padding: 3}), 1, 19},
		{Conv1dGeom([]int{1, 64, 16}, []int{64, 64, 4}, Conv1dParams{Padding: 3, Causal: true}), 1, 16},
		{Conv1dGeom([]int{1, 64, 16}, []int{64, 64, 4}, Conv1dParams{Padding: 6, Dilation: 2, Causal: true}), 1, 16},
	} {
		if c.g.OutH() != c.h || c.g.OutW() != c.w {
			t.Errorf("%v: output %dx%d, want %dx%d", c.g, c.g.OutH(), c.g.OutW(), c.h, c.w)
		}
	}
}
