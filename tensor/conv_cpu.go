package tensor

import (
	"fmt"
	"iter"
	"runtime"
	"sync"

	"github.com/halo-ml/halo/asm"
)

// Tuning of the convolution driver.
var (
	// convMinCols is the least number of column-matrix columns one GEMM
	// should see: images whose column side is smaller than this are put side
	// by side so that the GEMM's n is not a handful of pixels, and is wide
	// enough for the GEMM to split it (not the weights) between goroutines,
	// so that each packs only its own part of the column matrix
	// (BenchmarkConvPlans).
	convMinCols = 2048
	// convBlockFloats bounds one block of the column matrix (rows x columns
	// of the images in flight), so it stays in cache between im2col and GEMM.
	convBlockFloats = 1 << 20
	// convParMin is the least work (elements) worth a goroutine in the
	// memory-bound loops around the GEMMs.
	convParMin = 1 << 15
	// convFused packs the GEMM's B panels straight from the images
	// (im2colB) where the column matrix is a right operand; when false the
	// column matrix is built a block at a time and multiplied by Sgemm.
	convFused = true
	// convChunkWorkers deals a convolution's chunks out to the threads (plan).
	convChunkWorkers = true
	// convMaxWorkers bounds the threads chunks are dealt out to, since each
	// holds a workspace, and a weight gradient is summed in one partial sum
	// more than there are threads (up to 15 MB each for the sprites
	// preset); beyond it the threads are shared among them.
	convMaxWorkers = 8
	// convGradByConv computes the input gradient of a stride-1 Conv2d as a
	// forward pass (inputGradConv) rather than through col2im.
	convGradByConv = true
	// convTableMaxW is the widest column-side row for which a colTable is
	// built. The transposed packing of a weight gradient, whose rows are
	// interleaved element by element, uses it whenever there is one.
	convTableMaxW = 64
	// convRunsMinW is the narrowest column-side row for which the column
	// matrix's rows are packed, and col2im'd, from runs of pixels rather
	// than through the table (BenchmarkIm2colPack).
	convRunsMinW = 17
)

// convPlan is how a batch is cut: nb images per chunk, kc column-matrix
// rows per block, and the chunks dealt out to workers threads.
type convPlan struct {
	nb, kc  int
	per     int // column-side positions per image
	rows    int // rows of the column matrix
	cc      int // column-side channels
	workers int
}

// plan cuts the batch for the current GOMAXPROCS. A convolution whose batch
// makes at least one chunk per thread (up to convMaxWorkers threads) deals
// the chunks out to them, each running its chunks' GEMMs and copies on its
// own images, so that only the weights and, summed at the end, the weight
// gradient are shared; split between two threads instead, one chunk's GEMMs
// ran 1.4-1.8x as fast as on one. The chunk size is evened out so every
// thread gets as many chunks.
func (g ConvGeom) plan() convPlan {
	per := g.colH() * g.colW()
	rows := g.ColRows()
	kk := g.KH * g.KW
	nb := 1
	if per < convMinCols {
		nb = (convMinCols + per - 1) / per
	}
	nb = max(1, min(nb, g.N))
	workers := 1
	if t := min(runtime.GOMAXPROCS(0), convMaxWorkers); t > 1 && convChunkWorkers {
		if chunks := (g.N + nb - 1) / nb; chunks >= t {
			chunks = (chunks + t - 1) / t * t
			nb = (g.N + chunks - 1) / chunks
			workers = t
		}
	}
	cols := nb * per
	// Whole kernels (kk rows) per block, so that a block's rows cover whole
	// image channels and col2im can split it by channel across goroutines.
	kc := max(1, convBlockFloats/(cols*kk)) * kk
	if kc >= rows {
		kc = rows
	} else {
		blocks := (rows + kc - 1) / kc
		kc = ((rows+blocks-1)/blocks + kk - 1) / kk * kk
	}
	return convPlan{nb: nb, kc: kc, per: per, rows: rows, cc: g.colC(), workers: workers}
}

// WorkspaceLen is the number of float32s of scratch space ConvForward and
// ConvBackward use for g on one thread: one block of the column matrix plus,
// when several images share a GEMM, their column-side activations
// rearranged. Threads that work on chunks of their own take pooled space.
func (g ConvGeom) WorkspaceLen() int {
	pl := g.plan()
	cols := pl.nb * pl.per
	n := pl.kc * cols
	if pl.nb > 1 {
		n += 2 * pl.cc * cols
	}
	return n
}

var convPool sync.Pool // *[]float32 scratch buffers

// convScratch returns ws when it is long enough, else a pooled buffer to be
// handed back with convRelease.
func convScratch(ws []float32, n int) ([]float32, *[]float32) {
	if len(ws) >= n {
		return ws[:n], nil
	}
	p, _ := convPool.Get().(*[]float32)
	if p == nil || cap(*p) < n {
		b := make([]float32, n)
		p = &b
	}
	return (*p)[:n], p
}

func convRelease(p *[]float32) {
	if p != nil {
		convPool.Put(p)
	}
}

// convParallel runs f over [0, n) cut into at most threads pieces, in
// parallel, where each unit costs per elements of work and a piece gets at
// least convParMin elements.
func convParallel(threads, n, per int, f func(lo, hi int)) {
	parts := min(threads, n, max(1, n*per/convParMin))
	if parts <= 1 {
		f(0, n)
		return
	}
	runParts(parts, func(i int) { f(n*i/parts, n*(i+1)/parts) })
}

// im2colPar is im2colRows split over threads by rows.
func im2colPar(threads int, q *colGeom, img []float32, r0, nr, j0, nc int, dst []float32, ldd int) {
	convParallel(threads, nr, nc, func(lo, hi int) {
		im2colRows(q, img, r0+lo, hi-lo, j0, nc, dst[lo*ldd:], ldd)
	})
}

// col2imPar is col2imRows (or, with a table, its table-driven twin) split
// over threads by image channel, so no two write the same pixel; the block
// must start at a channel's first row.
func col2imPar(threads int, q *colGeom, tab *colTable, src []float32, lds, r0, nr, j0, nc int, img []float32) {
	run := func(src []float32, r0, nr int) {
		if tab != nil && q.cw < convRunsMinW {
			tab.scatterRows(q, src, lds, r0, nr, j0, nc, img)
		} else {
			col2imRows(q, src, lds, r0, nr, j0, nc, img)
		}
	}
	kk := q.kh * q.kw
	if r0%kk != 0 || nr%kk != 0 {
		run(src, r0, nr)
		return
	}
	convParallel(threads, nr/kk, kk*nc, func(lo, hi int) {
		run(src[lo*kk*lds:], r0+lo*kk, (hi-lo)*kk)
	})
}

// narrowTable returns a colTable for nb images of q when their rows are
// narrow enough for it to pay, else nil: below convRunsMinW for anything,
// up to convTableMaxW when the call packs a weight gradient (wgrad).
func narrowTable(q *colGeom, nb int, wgrad bool) *colTable {
	if (q.cw < convRunsMinW || wgrad) && q.cw <= convTableMaxW && tableFits(q, nb) {
		return newColTable(q, nb)
	}
	return nil
}

// convGather copies nb images of ch channels of per positions (NCHW) into
// the matrix dst [ch, nb*per], over threads by channel.
func convGather(threads int, dst, src []float32, nb, ch, per int) {
	ld := nb * per
	convParallel(threads, ch, nb*per, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			for n := range nb {
				copy(dst[c*ld+n*per:][:per], src[(n*ch+c)*per:][:per])
			}
		}
	})
}

// convScatter writes the matrix src [ch, nb*per] back to NCHW images in
// dst: adding bias[c] when bias is not nil, or adding to dst when acc.
func convScatter(threads int, dst, src, bias []float32, nb, ch, per int, acc bool) {
	ld := nb * per
	convParallel(threads, ch, nb*per, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			for n := range nb {
				d := dst[(n*ch+c)*per:][:per]
				s := src[c*ld+n*per:][:per]
				switch {
				case acc:
					for i, v := range s {
						d[i] += v
					}
				case bias != nil:
					b := bias[c]
					for i, v := range s {
						d[i] = v + b
					}
				default:
					copy(d, s)
				}
			}
		}
	})
}

// convFillBias sets each of the nb*ch rows of per values of dst to its
// channel's bias, or to zero when bias is nil.
func convFillBias(threads int, dst, bias []float32, nb, ch, per int) {
	convParallel(threads, ch, nb*per, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			for n := range nb {
				d := dst[(n*ch+c)*per:][:per]
				if bias == nil {
					clear(d)
					continue
				}
				b := bias[c]
				for i := range d {
					d[i] = b
				}
			}
		}
	})
}

// convBiasGrad adds to db[c] the sum of channel c of nb NCHW images of ch
// channels and per positions.
func convBiasGrad(threads int, db, dy []float32, nb, ch, per int) {
	convParallel(threads, ch, nb*per, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var s0, s1, s2, s3 float32
			for n := range nb {
				d := dy[(n*ch+c)*per:][:per]
				i := 0
				for ; i+4 <= len(d); i += 4 {
					s0 += d[i]
					s1 += d[i+1]
					s2 += d[i+2]
					s3 += d[i+3]
				}
				for ; i < len(d); i++ {
					s0 += d[i]
				}
			}
			db[c] += (s0 + s1) + (s2 + s3)
		}
	})
}

func checkConvSlice(op, name string, g ConvGeom, s []float32, need int) {
	if len(s) != need {
		panic(fmt.Sprintf("tensor: %s: %s has %d elements, %v needs %d", op, name, len(s), g, need))
	}
}

// ConvForward computes the output y of the layer g (a Conv2d, a
// ConvTranspose2d or a Conv1d as a 1-row Conv2d) from its input x and its
// weight w in PyTorch's layout (see ConvGeom), adding bias [OutC] when it is
// not nil. y is overwritten. ws is scratch space: when it is shorter than
// g.WorkspaceLen() a pooled buffer is used instead.
//
// A Conv2d is im2col of x followed by the GEMM y = Wm·col, where Wm is w
// seen as [OutC, C*KH*KW]; a ConvTranspose2d is the GEMM col = Wmᵀ·x, where
// Wm is w seen as [C, OutC*KH*KW], followed by col2im into y. Images with
// small outputs share one GEMM, and the column matrix is built a block of
// rows at a time (convPlan).
func ConvForward(g ConvGeom, y, x, w, bias, ws []float32) {
	g.Validate()
	checkConvSlice("ConvForward", "x", g, x, g.InLen())
	checkConvSlice("ConvForward", "w", g, w, g.WeightLen())
	checkConvSlice("ConvForward", "y", g, y, g.OutLen())
	if bias != nil {
		checkConvSlice("ConvForward", "bias", g, bias, g.OutC)
	}
	if g.N == 0 {
		return
	}
	if d := g.planDirectConv(); d != nil {
		d.pack(w)
		defer d.release()
		d.run(y, x, bias, false)
		return
	}
	c := newConvCall(g, ws, false)
	defer c.release()
	if g.Transposed {
		c.transposedForward(y, x, w, bias)
	} else {
		c.forward(y, x, w, bias, false)
	}
}

// ConvBackward adds the gradients of the layer g with respect to its input
// (dx), weight (dw) and bias (db) to those slices, given the gradient dy of
// its output, the input x and the weight w. Any of dx, dw and db may be nil
// to skip it; x is needed only for dw. The gradients accumulate: clear them
// first for plain gradients. ws is as for ConvForward.
//
// For a Conv2d, dw += dy·im2col(x)ᵀ and dx += col2im(Wmᵀ·dy), or for
// stride 1 the forward pass of a full correlation of dy (inputGradConv);
// where directGradFits and directWGradFits, direct convolutions compute
// them instead (newDirectInputGrad, directWGrad), with no column matrix; for
// a ConvTranspose2d, dx += Wm·im2col(dy) and dw += x·im2col(dy)ᵀ, sharing one
// im2col; db sums dy over the batch and positions. The batch is cut into
// chunks by the thread count (plan), and dw sums each thread's chunks
// apart, so its rounding, though the same from run to run, varies with
// GOMAXPROCS (up to 8).
func ConvBackward(g ConvGeom, dx, dw, db, dy, x, w, ws []float32) {
	g.Validate()
	checkConvSlice("ConvBackward", "dy", g, dy, g.OutLen())
	checkConvSlice("ConvBackward", "w", g, w, g.WeightLen())
	if dx != nil {
		checkConvSlice("ConvBackward", "dx", g, dx, g.InLen())
	}
	if dw != nil {
		checkConvSlice("ConvBackward", "dw", g, dw, g.WeightLen())
		checkConvSlice("ConvBackward", "x", g, x, g.InLen())
	}
	if db != nil {
		checkConvSlice("ConvBackward", "db", g, db, g.OutC)
	}
	if g.N == 0 {
		return
	}
	if dx != nil {
		if d := g.planDirectInputGrad(); d != nil {
			d.pack(w)
			d.run(dx, dy, nil, true)
			d.release()
			dx = nil
		}
	}
	if dw != nil {
		if d := g.planDirectWGrad(); d != nil {
			d.run(dw, dy, x)
			dw = nil
		}
	}
	if g2, ok := g.inputGradConv(); ok && dx != nil && convGradByConv {
		inputGradByConv(g, g2, dx, dy, w, ws)
		dx = nil
	}
	if dx == nil && dw == nil {
		// Direct convolutions took both (or neither was asked): the bias
		// gradient needs no convCall and its scratch.
		if db != nil {
			convBiasGrad(runtime.GOMAXPROCS(0), db, dy, g.N, g.OutC, g.OutH()*g.OutW())
		}
		return
	}
	c := newConvCall(g, ws, dw != nil)
	defer c.release()
	if g.Transposed {
		c.transposedBackward(dx, dw, db, dy, x, w)
	} else {
		c.backward(dx, dw, db, dy, x, w)
	}
}

// inputGradConv returns, for a Conv2d of stride 1 and dilation 1 padded by
// less than its kernel on every side, the Conv2d g2 whose forward pass is
// the input gradient: dx = conv(dy, w2) with dy as g2's input, w2 the
// weight flipped in both spatial axes with its two channel axes swapped, and
// padding KH-1-PadH, KW-1-PadW (a full correlation). Computed that way the
// gradient needs no col2im: the column matrix of dy is gathered into the
// GEMM's panels as any forward pass's is, and the GEMM writes dx directly.
func (g ConvGeom) inputGradConv() (ConvGeom, bool) {
	if g.Transposed || g.Causal || g.StrideH != 1 || g.StrideW != 1 || g.DilH != 1 || g.DilW != 1 ||
		g.PadH >= g.KH || g.PadW >= g.KW {
		return ConvGeom{}, false
	}
	return ConvGeom{
		N: g.N, C: g.OutC, H: g.OutH(), W: g.OutW(), OutC: g.C,
		KH: g.KH, KW: g.KW, StrideH: 1, StrideW: 1,
		PadH: g.KH - 1 - g.PadH, PadW: g.KW - 1 - g.PadW, DilH: 1, DilW: 1,
	}, true
}

// inputGradByConv adds the input gradient of g to dx as the forward pass of
// g2 = g.inputGradConv().
func inputGradByConv(g, g2 ConvGeom, dx, dy, w, ws []float32) {
	w2, pooled := convScratch(nil, len(w))
	defer convRelease(pooled)
	kk := g.KH * g.KW
	for o := range g.OutC {
		for ci := range g.C {
			src := w[(o*g.C+ci)*kk:][:kk]
			dst := w2[(ci*g.OutC+o)*kk:][:kk]
			for t, v := range src {
				dst[kk-1-t] = v // (kh, kw) to (KH-1-kh, KW-1-kw)
			}
		}
	}
	c := newConvCall(g2, ws, false)
	defer c.release()
	c.forward(dx, dy, w2, nil, true)
}

// convCall is the state of one ConvForward or ConvBackward: the plan, the
// workers with their scratch space, the partial sums of a weight gradient
// and, for narrow images, the source table of a chunk (the same for every
// chunk: a shorter last chunk uses its first columns).
type convCall struct {
	g          ConvGeom
	pl         convPlan
	q          colGeom
	tab        *colTable
	workers    []*convWorker
	inner      int         // threads for the work of one chunk
	sums       [][]float32 // while a weight gradient is summed: dw, then partial sums of their own
	sumsPooled []*[]float32
}

// convWorker is one thread's scratch space.
type convWorker struct {
	buf    []float32
	pooled *[]float32
}

func newConvCall(g ConvGeom, ws []float32, wgrad bool) *convCall {
	c := &convCall{g: g, pl: g.plan(), q: g.colGeom()}
	c.inner = max(1, runtime.GOMAXPROCS(0)/c.pl.workers)
	n := g.WorkspaceLen()
	for i := range c.pl.workers {
		w := &convWorker{}
		if i == 0 {
			w.buf, w.pooled = convScratch(ws, n)
		} else {
			w.buf, w.pooled = convScratch(nil, n)
		}
		c.workers = append(c.workers, w)
	}
	c.tab = narrowTable(&c.q, c.pl.nb, wgrad)
	return c
}

func (c *convCall) release() {
	for _, w := range c.workers {
		convRelease(w.pooled)
	}
	for _, p := range c.sumsPooled {
		convRelease(p)
	}
	c.tab.release()
}

// chunkCount is the number of chunks of images of the call.
func (c *convCall) chunkCount() int { return (c.g.N + c.pl.nb - 1) / c.pl.nb }

// splitWeightGrad sets up the partial sums of a weight gradient
// (sumSlots of them): dw itself, and cleared buffers of their own for the
// others; sumWeightGrad adds them into dw, in a fixed order, so that for a
// given number of threads dw comes out the same whichever thread ran
// which chunk.
func (c *convCall) splitWeightGrad(dw []float32) {
	c.sums = [][]float32{dw}
	for range sumSlots(len(c.workers), c.chunkCount()) - 1 {
		s, pooled := convScratch(nil, len(dw))
		clear(s)
		c.sums = append(c.sums, s)
		c.sumsPooled = append(c.sumsPooled, pooled)
	}
}

func (c *convCall) sumWeightGrad(dw []float32) {
	for _, s := range c.sums[1:] {
		asm.Axpy(1, s, dw)
	}
}

// chunk is one chunk of images: images [n0, n0+nb) and their column
// matrix of cols = nb*per columns.
type chunk struct{ n0, nb, cols int }

// chunks runs f on every chunk, dealt out to the workers (dealChunks), or
// while a weight gradient is summed (splitWeightGrad) with the partial sum
// the chunk adds into (dealSums); dw is nil otherwise.
func (c *convCall) chunks(f func(ch chunk, w *convWorker, dw []float32)) {
	count := c.chunkCount()
	at := func(i int) chunk {
		n0 := i * c.pl.nb
		nb := min(c.pl.nb, c.g.N-n0)
		return chunk{n0, nb, nb * c.pl.per}
	}
	if c.sums != nil {
		dealSums(len(c.workers), len(c.sums), count, func(w int, chunks iter.Seq2[int, int]) {
			for s, i := range chunks {
				f(at(i), c.workers[w], c.sums[s])
			}
		})
		return
	}
	dealChunks(len(c.workers), count, func(w int, chunks iter.Seq[int]) {
		for i := range chunks {
			f(at(i), c.workers[w], nil)
		}
	})
}

// split cuts a worker's scratch buffer into the column block and, when
// images share a GEMM, two [cc, cols] matrices for the column side.
func (c *convCall) split(w *convWorker) (col, side0, side1 []float32) {
	pl := c.pl
	cols := pl.nb * pl.per
	col = w.buf[:pl.kc*cols]
	if pl.nb > 1 {
		side0 = w.buf[pl.kc*cols:][:pl.cc*cols]
		side1 = w.buf[pl.kc*cols+pl.cc*cols:][:pl.cc*cols]
	}
	return col, side0, side1
}

// colB is the column matrix of the images in img as a GEMM operand.
func (c *convCall) colB(img []float32, trans bool) im2colB {
	return im2colB{q: &c.q, img: img, trans: trans, tab: c.tab}
}

// im2col materialises rows [k0, k0+kc) of the column matrix of a chunk.
func (c *convCall) im2col(img []float32, k0, kc, cols int, col []float32) {
	im2colPar(c.inner, &c.q, img, k0, kc, 0, cols, col, cols)
}

// col2im adds rows [k0, k0+kc) of a chunk's column matrix into its images.
func (c *convCall) col2im(col []float32, k0, kc, cols int, img []float32) {
	col2imPar(c.inner, &c.q, c.tab, col, cols, k0, kc, 0, cols, img)
}

// weightGrad adds side · im2col(img)ᵀ to dw [cc, rows], where side is a
// chunk's column-side matrix [cc, cols]. The GEMM splits its work between
// c.inner threads along whichever of cc and rows has more tiles; when rows
// has fewer (a first layer, with a few input channels) both would pack the
// whole column matrix, so the columns (the GEMM's k) are split instead,
// each thread summing into its own copy of dw.
func (c *convCall) weightGrad(dw, side, img []float32, cols int) {
	pl := c.pl
	bs := currentBlocks()
	parts := min(c.inner, cols/bs.kc)
	if parts < 2 || pl.rows >= pl.cc || (pl.rows+bs.nr-1)/bs.nr >= (pl.cc+bs.mr-1)/bs.mr {
		gemm(pl.cc, pl.rows, cols, 1, denseA{side, cols, false}, c.colB(img, true), 1, dw, pl.rows, c.inner)
		return
	}
	n := pl.cc * pl.rows
	part, pooled := convScratch(nil, (parts-1)*n)
	defer convRelease(pooled)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := cols*i/parts, cols*(i+1)/parts
		dst, beta := dw, float32(1)
		if i > 0 {
			dst, beta = part[(i-1)*n:][:n], 0
		}
		wg.Go(func() {
			b := shiftedB{c.colB(img, true), lo}
			gemm(pl.cc, pl.rows, hi-lo, 1, denseA{side[lo:], cols, false}, b, beta, dst, pl.rows, 1)
		})
	}
	wg.Wait()
	for i := 1; i < parts; i++ {
		for j, v := range part[(i-1)*n:][:n] {
			dw[j] += v
		}
	}
}

// shiftedB is op(B) with its first off rows dropped.
type shiftedB struct {
	b   matB
	off int
}

func (s shiftedB) packB(dst []float32, p0, kc, j0, nc, nr int) {
	s.b.packB(dst, s.off+p0, kc, j0, nc, nr)
}

// forward: y = Wm · im2col(x) (+ bias), Wm = w as [OutC, C*KH*KW]; with
// acc, y += Wm · im2col(x) (bias must be nil).
func (c *convCall) forward(y, x, w, bias []float32, acc bool) {
	g, pl := c.g, c.pl
	inLen := g.C * g.H * g.W
	outLen := pl.cc * pl.per
	c.chunks(func(ch chunk, wk *convWorker, dwSum []float32) {
		colBuf, side, _ := c.split(wk)
		img := x[ch.n0*inLen:][:ch.nb*inLen]
		yc := y[ch.n0*outLen:][:ch.nb*outLen]
		// Where the GEMM writes: y itself for one image, else a [OutC, cols] matrix.
		dst, ld := yc, ch.cols
		beta := float32(0)
		if ch.nb == 1 {
			if acc {
				beta = 1
			} else if bias != nil {
				convFillBias(c.inner, dst, bias, 1, pl.cc, pl.per)
				beta = 1
			}
		} else {
			dst = side[:pl.cc*ch.cols]
		}
		if convFused {
			gemm(pl.cc, ch.cols, pl.rows, 1, denseA{w, pl.rows, false}, c.colB(img, false),
				beta, dst, ld, c.inner)
		} else {
			for k0 := 0; k0 < pl.rows; k0 += pl.kc {
				kc := min(pl.kc, pl.rows-k0)
				col := colBuf[:kc*ch.cols]
				c.im2col(img, k0, kc, ch.cols, col)
				gemm(pl.cc, ch.cols, kc, 1, denseA{w[k0:], pl.rows, false}, denseB{col, ch.cols, false},
					beta, dst, ld, c.inner)
				beta = 1
			}
		}
		if ch.nb > 1 {
			convScatter(c.inner, yc, dst, bias, ch.nb, pl.cc, pl.per, acc)
		}
	})
}

// backward: dw += dy · im2col(x)ᵀ, dx += col2im(Wmᵀ · dy), db += Σ dy.
func (c *convCall) backward(dx, dw, db, dy, x, w []float32) {
	g, pl := c.g, c.pl
	if db != nil {
		convBiasGrad(runtime.GOMAXPROCS(0), db, dy, g.N, pl.cc, pl.per)
	}
	if dx == nil && dw == nil {
		return
	}
	if dw != nil {
		c.splitWeightGrad(dw)
	}
	inLen := g.C * g.H * g.W
	outLen := pl.cc * pl.per
	c.chunks(func(ch chunk, wk *convWorker, dwSum []float32) {
		colBuf, side, _ := c.split(wk)
		dyc := dy[ch.n0*outLen:][:ch.nb*outLen]
		// dy as a [OutC, cols] matrix.
		dym := dyc
		if ch.nb > 1 {
			dym = side[:pl.cc*ch.cols]
			convGather(c.inner, dym, dyc, ch.nb, pl.cc, pl.per)
		}
		var xc []float32
		if dw != nil {
			xc = x[ch.n0*inLen:][:ch.nb*inLen]
			if convFused {
				c.weightGrad(dwSum, dym, xc, ch.cols)
			}
		}
		for k0 := 0; k0 < pl.rows; k0 += pl.kc {
			kc := min(pl.kc, pl.rows-k0)
			col := colBuf[:kc*ch.cols]
			if dw != nil && !convFused {
				c.im2col(xc, k0, kc, ch.cols, col)
				gemm(pl.cc, kc, ch.cols, 1, denseA{dym, ch.cols, false}, denseB{col, ch.cols, true},
					1, dwSum[k0:], pl.rows, c.inner)
			}
			if dx != nil {
				gemm(kc, ch.cols, pl.cc, 1, denseA{w[k0:], pl.rows, true}, denseB{dym, ch.cols, false},
					0, col, ch.cols, c.inner)
				c.col2im(col, k0, kc, ch.cols, dx[ch.n0*inLen:][:ch.nb*inLen])
			}
		}
	})
	if dw != nil {
		c.sumWeightGrad(dw)
	}
}

// transposedForward: y = col2im(Wmᵀ · x) + bias, Wm = w as [C, OutC*KH*KW].
func (c *convCall) transposedForward(y, x, w, bias []float32) {
	g, pl := c.g, c.pl
	inLen := pl.cc * pl.per
	imgPer := g.OutH() * g.OutW()
	outLen := g.OutC * imgPer
	c.chunks(func(ch chunk, wk *convWorker, dwSum []float32) {
		colBuf, side, _ := c.split(wk)
		xc := x[ch.n0*inLen:][:ch.nb*inLen]
		yc := y[ch.n0*outLen:][:ch.nb*outLen]
		convFillBias(c.inner, yc, bias, ch.nb, g.OutC, imgPer)
		xm := xc
		if ch.nb > 1 {
			xm = side[:pl.cc*ch.cols]
			convGather(c.inner, xm, xc, ch.nb, pl.cc, pl.per)
		}
		for k0 := 0; k0 < pl.rows; k0 += pl.kc {
			kc := min(pl.kc, pl.rows-k0)
			col := colBuf[:kc*ch.cols]
			gemm(kc, ch.cols, pl.cc, 1, denseA{w[k0:], pl.rows, true}, denseB{xm, ch.cols, false},
				0, col, ch.cols, c.inner)
			c.col2im(col, k0, kc, ch.cols, yc)
		}
	})
}

// transposedBackward: dx += Wm · im2col(dy), dw += x · im2col(dy)ᵀ,
// db += Σ dy.
func (c *convCall) transposedBackward(dx, dw, db, dy, x, w []float32) {
	g, pl := c.g, c.pl
	inLen := pl.cc * pl.per
	imgPer := g.OutH() * g.OutW()
	outLen := g.OutC * imgPer
	if db != nil {
		convBiasGrad(runtime.GOMAXPROCS(0), db, dy, g.N, g.OutC, imgPer)
	}
	if dx == nil && dw == nil {
		return
	}
	if dw != nil {
		c.splitWeightGrad(dw)
	}
	c.chunks(func(ch chunk, wk *convWorker, dwSum []float32) {
		colBuf, side0, side1 := c.split(wk)
		dyc := dy[ch.n0*outLen:][:ch.nb*outLen]
		// x and dx of the chunk as [C, cols] matrices.
		var xm, dxm []float32
		if dw != nil {
			xm = x[ch.n0*inLen:][:ch.nb*inLen]
			if ch.nb > 1 {
				convGather(c.inner, side0[:pl.cc*ch.cols], xm, ch.nb, pl.cc, pl.per)
				xm = side0[:pl.cc*ch.cols]
			}
		}
		beta := float32(1)
		if dx != nil {
			dxm = dx[ch.n0*inLen:][:ch.nb*inLen]
			if ch.nb > 1 {
				dxm = side1[:pl.cc*ch.cols]
				beta = 0
			}
		}
		if convFused {
			if dx != nil {
				gemm(pl.cc, ch.cols, pl.rows, 1, denseA{w, pl.rows, false}, c.colB(dyc, false),
					beta, dxm, ch.cols, c.inner)
			}
			if dw != nil {
				c.weightGrad(dwSum, xm, dyc, ch.cols)
			}
		}
		for k0 := 0; k0 < pl.rows && !convFused; k0 += pl.kc {
			kc := min(pl.kc, pl.rows-k0)
			col := colBuf[:kc*ch.cols]
			c.im2col(dyc, k0, kc, ch.cols, col)
			if dx != nil {
				gemm(pl.cc, ch.cols, kc, 1, denseA{w[k0:], pl.rows, false}, denseB{col, ch.cols, false},
					beta, dxm, ch.cols, c.inner)
				beta = 1
			}
			if dw != nil {
				gemm(pl.cc, kc, ch.cols, 1, denseA{xm, ch.cols, false}, denseB{col, ch.cols, true},
					1, dwSum[k0:], pl.rows, c.inner)
			}
		}
		if dx != nil && ch.nb > 1 {
			convScatter(c.inner, dx[ch.n0*inLen:][:ch.nb*inLen], dxm, nil, ch.nb, pl.cc, pl.per, true)
		}
	})
	if dw != nil {
		c.sumWeightGrad(dw)
	}
}
