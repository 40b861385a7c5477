package tensor

import (
	"iter"
	"runtime"

	"github.com/halo-ml/halo/asm"
)

// Tuning of the direct convolution.
var (
	// convDirect runs the forward pass of a Conv2d, its input gradient and
	// its weight gradient as direct convolutions (newDirectConv,
	// newDirectInputGrad, directWGrad) where asm.HasConvTaps and the layer
	// is wide enough (directFits, directGradFits, directWGradFits), rather
	// than through im2col and GEMM.
	convDirect = true
	// convDirectMinC and convDirectMinOutC are the fewest input and output
	// channels for which the direct convolution is chosen: with fewer, a
	// tap's run of channels is too short to keep the FMAs busy, or most of
	// a 32-channel tile is padding.
	convDirectMinC    = 16
	convDirectMinOutC = 32
	// convDirectMaxC is the most input channels for which it is chosen
	// whatever it skips (and, for the weight gradient, the most channels of
	// either kind; convWGradWideWork beyond). At 256 (the Sprites encoder) one tap's weights for 32
	// output channels fill most of the L1 cache, and im2col and GEMM, which
	// reuse each weight over 2048 columns rather than a chunk of a few
	// hundred pixels, measured as fast or faster where the direct path
	// computes every product: forward passes alternated in one process,
	// direct / GEMM time 0.80-1.23 on sprites enc.conv3-4 and 0.89-1.26 on
	// enc.conv5, against 0.76-0.95 on the 128-channel rotating-MNIST
	// enc.conv2-3.
	convDirectMaxC = 128
	// convDirectWideMaxC and convDirectWideWork: up to convDirectWideMaxC
	// channels, a layer wider than convDirectMaxC still runs direct where
	// its classes of pixels skip enough products that would read padding,
	// so that it computes at most convDirectWideWork of im2col's (work).
	// Alternated with the GEMM path, best of 7-9 (the order of the variants
	// rotated; even so, repeats of one variant differ by up to 15%): sprites
	// enc.conv5 (work 0.72 forward, 0.76 input gradient) took 0.71-0.74
	// and 0.62-0.82 of its time; enc.conv4's input gradient (0.86) 0.69;
	// enc.conv3's (0.94, every product computed then) about 1.02, and
	// enc.conv4's forward pass (0.92) 1.02-1.25 (0.886 since its input is
	// padded only as far as its taps read: direct, see directAxis.fit).
	convDirectWideMaxC = 256
	convDirectWideWork = 0.9
	// Twice convDirectChunkBytes bounds the padded channels-last input of
	// a chunk of at least convDirectMinPixels output pixels, so that it
	// stays in the L2 cache next to one block of 32 output channels' packed
	// weights while every pixel tile reads it.
	convDirectChunkBytes = 512 << 10
	// convDirectMinPixels is the fewest output pixels a chunk should have,
	// if twice convDirectChunkBytes allows it.
	convDirectMinPixels = 240
	// convDirectMaxChunkBytes bounds the larger chunks setup takes where
	// their tiles waste less (workAt): the rotating-MNIST enc.conv2-3
	// (chunks of 12 and 24 images rather than 4 and 15, work 0.84 and 0.64
	// rather than 1.01 and 0.75) took 0.76 and 0.51 of the GEMM path's time
	// forward rather than 0.87 and 0.60, and 0.63 and 0.47 for the input
	// gradient rather than 0.75 and 0.61.
	convDirectMaxChunkBytes = 2 << 20
	// convDirectTapBytes bounds the packed weights of the taps one kernel
	// call sums (a group of taps of one 32-channel block), so that they stay
	// in the L1 cache while every pixel tile of a chunk uses them.
	convDirectTapBytes = 32 << 10
	// convDirectAnyCPU chooses the direct convolution, where it fits, even
	// with the generic twin of asm.ConvTaps, so that tests cover it
	// everywhere.
	convDirectAnyCPU = false
	// convDirectPadPixels spaces the pixels of the padded channels-last
	// copies (convPixelStride).
	convDirectPadPixels = true
)

// directFits reports whether g's forward pass runs as a direct convolution.
func (g ConvGeom) directFits() bool { return g.planDirectConv() != nil }

// directGradFits reports whether g's input gradient runs as a direct
// convolution (newDirectInputGrad): its output channels are what that sums
// over, and its input channels what it computes.
func (g ConvGeom) directGradFits() bool { return g.planDirectInputGrad() != nil }

// directOK reports whether a direct convolution summing over c channels
// into oc may run at all.
func directOK(g ConvGeom, c, oc int) bool {
	return convDirect && (asm.HasConvTaps() || convDirectAnyCPU) && !g.Transposed && !g.Causal &&
		c >= convDirectMinC && c <= convDirectWideMaxC && oc >= convDirectMinOutC
}

// planDirectConv plans g's forward pass as a direct convolution, or returns
// nil where im2col and GEMM should compute it.
func (g ConvGeom) planDirectConv() *directConv {
	if !directOK(g, g.C, g.OutC) {
		return nil
	}
	return wideCheck(newDirectConv(g), g.C)
}

// planDirectInputGrad is planDirectConv for g's input gradient.
func (g ConvGeom) planDirectInputGrad() *directConv {
	if !directOK(g, g.OutC, g.C) {
		return nil
	}
	return wideCheck(newDirectInputGrad(g), g.OutC)
}

// wideCheck returns d, unless it sums over more than convDirectMaxC
// channels and does not skip enough products (work).
func wideCheck(d *directConv, c int) *directConv {
	if c > convDirectMaxC && d.work() > convDirectWideWork {
		return nil
	}
	return d
}

// directConv is a convolution computed by asm.ConvTaps: the forward pass of
// a Conv2d (newDirectConv) or its input gradient (newDirectInputGrad). The
// image it reads (x, or dy) is copied, a chunk of images at a time, into a
// zero-padded channels-last buffer, so that for an output pixel and a
// kernel tap the channels the tap multiplies are one contiguous run, at the
// pixel's base plus the tap's offset. The weights are packed once, 32
// output channels by tap by input channel. A kernel call sums a run of
// taps for a tile of 12 pixels by 32 output channels in registers and
// stores or adds it to the tile's rows of a pixels x channels buffer, which
// is turned back to NCHW at the end of the chunk. Nothing like a column
// matrix is built: every input value is read in place, by every tap that
// covers it.
//
// The output pixels fall into classes that sum the same taps, at the same
// offsets from their bases, and tiles keep to one class. Along each axis
// (directAxis), an input gradient of stride s has s residue classes: which
// taps reach input row ih from dy, and at which offsets, depends on
// (ih+PadH) mod s, and every tap belongs to one residue. Within a residue
// the rows near the edges reach fewer taps than the interior (the others
// would read padding), and form groups of their own (groupAxis: merged,
// one above the interior and one below, or exact, a group per range of
// taps). A class is a group of rows by a group of columns: a 5x5 kernel
// with padding 2 on an 8x8 image computes 1296 (merged) or 1156 (exact) of
// im2col's 1600 products per channel pair, skipping what reads only zeros.
// Rows of out are in class order and put back in pixel order before the
// transpose to NCHW.
type directConv struct {
	n             int
	inC, inH, inW int // the image read: x of a forward pass, dy of an input gradient
	cs            int // floats from one pixel to the next in the padded copy
	padT, padL    int // where its first row and column sit in the padded copy
	hp, wp        int // padded height and width
	outC, per     int // channels and pixels of an output image
	cpad          int // outC rounded up to a whole number of 32-channel blocks
	kk            int // taps
	classes       []directClass
	natural       bool      // one class, its pixels in output order
	nb            int       // images per chunk
	wpk           []float32 // [cpad/32][kk][inC][32], taps in residue order
	wpkPooled     *[]float32
	workers       int
	chunkIn, rows int   // floats of one chunk's padded input, and rows of its output
	gemmPixels    int   // per image, the GEMM columns im2col would compute (work)
	order         []int // the kernel tap of each packed tap
	sj, sk        int   // the weight of output channel j, input channel k, tap t: w[j*sj+k*sk+t]
}

// directClass is a class of output pixels that sum the same taps.
type directClass struct {
	runs []directRun // none: the pixels' output is zero
	base []int       // per pixel of the class, where it reads from in a padded image
	dst  []int       // per pixel, its index in the output image (oh*W+ow)
}

// directRun is a run of taps whose packed weights follow one another.
type directRun struct {
	taps []int // offset of each tap from a pixel's base, in floats
	w0   int   // index of the first tap's weights in the packed weights
}

// directAxis is how output coordinates along one axis read the padded
// input: the kernel taps along the axis fall into residues (one for a
// forward pass, the stride for an input gradient), taps[r] in order with
// their offsets offs[r] (in pixels) from a coordinate's base, and the
// coordinates into groups that sum the same range of their residue's taps.
type directAxis struct {
	taps, offs [][]int
	groups     []axisGroup
}

// axisGroup is a run of output coordinates of one residue that sum taps
// [lo, hi) of it (none when hi <= lo), each reading from its base.
type axisGroup struct {
	res, lo, hi int
	coords      []int
	bases       []int
}

// axisCoord is one output coordinate before grouping: its residue, base
// and the range of its residue's taps that reach real input.
type axisCoord struct{ res, base, lo, hi int }

// groupAxis groups coords (one per output coordinate, in order) by
// residue: within a residue, the coordinates that reach all its taps form
// the interior group, and those before and after it one group each, with
// the union of their ranges (which can only add taps that read zeros); or,
// when exact, every run of coordinates with the same range is a group.
// Exact groups skip every product that reads padding, but are smaller, and
// a tile keeps to one group: merged ones waste less of the tiles when a
// chunk holds few images.
func groupAxis(taps [][]int, coords []axisCoord, exact bool) []axisGroup {
	var groups []axisGroup
	for r := range taps {
		n := len(taps[r])
		var cur *axisGroup
		curFull := false
		for i, c := range coords {
			if c.res != r {
				continue
			}
			full := c.lo == 0 && c.hi == n
			if cur == nil || full != curFull || exact && (c.lo != cur.lo || c.hi != cur.hi) {
				groups = append(groups, axisGroup{res: r, lo: c.lo, hi: c.hi})
				cur, curFull = &groups[len(groups)-1], full
			}
			if c.lo < c.hi {
				if cur.lo >= cur.hi {
					cur.lo, cur.hi = c.lo, c.hi
				} else {
					cur.lo, cur.hi = min(cur.lo, c.lo), max(cur.hi, c.hi)
				}
			}
			cur.coords = append(cur.coords, i)
			cur.bases = append(cur.bases, c.base)
		}
	}
	return groups
}

// forwardAxis is an axis of a forward pass: output coordinate o reads from
// padded input o*s, and tap k at k*dil from there, which is real input
// when pad <= o*s + k*dil < pad + in.
func forwardAxis(out, in, k, s, pad, dil int, exact bool) directAxis {
	ax := directAxis{taps: [][]int{make([]int, k)}, offs: [][]int{make([]int, k)}}
	for t := range k {
		ax.taps[0][t], ax.offs[0][t] = t, t*dil
	}
	coords := make([]axisCoord, out)
	for o := range coords {
		c := axisCoord{base: o * s, lo: k, hi: 0}
		for t := range k {
			if p := o*s + t*dil; p >= pad && p < pad+in {
				c.lo, c.hi = min(c.lo, t), max(c.hi, t+1)
			}
		}
		coords[o] = c
	}
	ax.groups = groupAxis(ax.taps, coords, exact)
	return ax
}

// gradAxis is an axis of an input gradient: input coordinate i (of n) has
// residue r = (i+pad) mod s, and tap k of that residue (k*dil = r + q*s)
// reaches dy's coordinate (i+pad)/s - q, real when it is in [0, out). Its
// base is dy's coordinate at q = 0, padT further into the padded dy, and
// the tap's offset -q.
func gradAxis(n, out, k, s, pad, dil, padT int, exact bool) directAxis {
	ax := directAxis{taps: make([][]int, s), offs: make([][]int, s)}
	for t := range k {
		r := t * dil % s
		ax.taps[r] = append(ax.taps[r], t)
		ax.offs[r] = append(ax.offs[r], -(t*dil-r)/s)
	}
	coords := make([]axisCoord, n)
	for i := range coords {
		r, o := (i+pad)%s, (i+pad)/s
		c := axisCoord{res: r, base: o + padT, lo: len(ax.taps[r]), hi: 0}
		for j, off := range ax.offs[r] {
			if q := o + off; q >= 0 && q < out {
				c.lo, c.hi = min(c.lo, j), max(c.hi, j+1)
			}
		}
		coords[i] = c
	}
	ax.groups = groupAxis(ax.taps, coords, exact)
	return ax
}

// fit pads an axis whose n real coordinates start at first (in the
// coordinates of its bases) just enough for the reads of its groups' taps:
// it moves every base so that the first coordinate read is 0, and returns
// where the real coordinates then start and the padded length. Padded
// by the kernel's reach instead, sprites enc.conv5's dy was 14x14 where its
// exact groups read only the 8x8 real pixels; the 2 MB bound then held
// chunks of 9 images rather than the 12 that fill its corner classes'
// tiles (work 0.763 against 0.723; 0.94-0.95 of the time on one thread,
// alternated in one process). The forward passes' exact groups read no
// padding either on the HALO layers: sprites enc.conv4's images, 16x16
// rather than 19x19, fit 6 to a chunk, its work fell from 0.92 to 0.886,
// and it runs direct (im2col and GEMM for the forward pass took 1.035 and
// 1.066 of the time of forward and backward, an A/A pair 0.96 and 0.98).
func (ax *directAxis) fit(first, n int) (pad, length int) {
	lo, hi := first, first+n
	for _, g := range ax.groups {
		if g.lo >= g.hi {
			continue
		}
		offs := ax.offs[g.res][g.lo:g.hi]
		for _, b := range g.bases {
			for _, o := range offs {
				lo, hi = min(lo, b+o), max(hi, b+o+1)
			}
		}
	}
	for i := range ax.groups {
		for j := range ax.groups[i].bases {
			ax.groups[i].bases[j] -= lo
		}
	}
	return first - lo, hi - lo
}

// plan builds the classes of pixels from the two axes (rows and columns of
// the output image, of width ow) and returns the order of the taps in the
// packed weights: residue by residue, rows of taps by columns.
func (d *directConv) plan(rows, cols directAxis, kw, ow int) []int {
	var order []int
	first := make([][]int, len(rows.taps)) // packed index of each residue pair's first tap
	for rh := range rows.taps {
		first[rh] = make([]int, len(cols.taps))
		for rw := range cols.taps {
			first[rh][rw] = len(order)
			for _, th := range rows.taps[rh] {
				for _, tw := range cols.taps[rw] {
					order = append(order, th*kw+tw)
				}
			}
		}
	}
	for _, gh := range rows.groups {
		for _, gw := range cols.groups {
			var cl directClass
			if gh.lo < gh.hi && gw.lo < gw.hi {
				ncols := len(cols.taps[gw.res])
				for j := gh.lo; j < gh.hi; j++ {
					run := directRun{w0: first[gh.res][gw.res] + j*ncols + gw.lo}
					for i := gw.lo; i < gw.hi; i++ {
						run.taps = append(run.taps, (rows.offs[gh.res][j]*d.wp+cols.offs[gw.res][i])*d.cs)
					}
					cl.runs = append(cl.runs, run)
				}
			}
			for a, oh := range gh.coords {
				for b, owc := range gw.coords {
					cl.base = append(cl.base, (gh.bases[a]*d.wp+gw.bases[b])*d.cs)
					cl.dst = append(cl.dst, oh*ow+owc)
				}
			}
			d.classes = append(d.classes, cl)
		}
	}
	// One class of every pixel in order needs no reordering.
	d.natural = len(d.classes) == 1
	return order
}

// newDirectConv plans the forward pass of g, with merged or exact groups
// (groupAxis), whichever computes fewer products; pack then takes the
// weight.
func newDirectConv(g ConvGeom) *directConv {
	return fewerProducts(newDirectConvGroups(g, false), newDirectConvGroups(g, true))
}

// fewerProducts returns the plan of less work, a if they tie.
func fewerProducts(a, b *directConv) *directConv {
	if b.work() < a.work() {
		return b
	}
	return a
}

func newDirectConvGroups(g ConvGeom, exact bool) *directConv {
	ho, wo := g.OutH(), g.OutW()
	d := &directConv{n: g.N, inC: g.C, cs: convPixelStride(g.C), inH: g.H, inW: g.W, outC: g.OutC, per: ho * wo, gemmPixels: ho * wo}
	// The padded input covers every row and column a tap reads.
	rows := forwardAxis(ho, g.H, g.KH, g.StrideH, g.PadH, g.DilH, exact)
	cols := forwardAxis(wo, g.W, g.KW, g.StrideW, g.PadW, g.DilW, exact)
	d.padT, d.hp = rows.fit(g.PadH, g.H)
	d.padL, d.wp = cols.fit(g.PadW, g.W)
	order := d.plan(rows, cols, g.KW, wo)
	kk := g.KH * g.KW
	d.order, d.sj, d.sk = order, g.C*kk, kk // w[co][ci][t]: co the output channel
	d.setup()
	return d
}

// newDirectInputGrad plans the input gradient of g: a direct convolution
// that reads dy and writes dx (gradAxis), dy padded as far as its taps
// read (directAxis.fit).
func newDirectInputGrad(g ConvGeom) *directConv {
	return fewerProducts(newDirectInputGradGroups(g, false), newDirectInputGradGroups(g, true))
}

func newDirectInputGradGroups(g ConvGeom, exact bool) *directConv {
	ho, wo := g.OutH(), g.OutW()
	sh, sw := g.StrideH, g.StrideW
	d := &directConv{n: g.N, inC: g.OutC, cs: convPixelStride(g.OutC), inH: ho, inW: wo, outC: g.C, per: g.H * g.W, gemmPixels: ho * wo}
	rows := gradAxis(g.H, ho, g.KH, sh, g.PadH, g.DilH, 0, exact)
	cols := gradAxis(g.W, wo, g.KW, sw, g.PadW, g.DilW, 0, exact)
	d.padT, d.hp = rows.fit(0, ho)
	d.padL, d.wp = cols.fit(0, wo)
	order := d.plan(rows, cols, g.KW, g.W)
	kk := g.KH * g.KW
	d.order, d.sj, d.sk = order, kk, g.C*kk // w[co][ci][t]: ci the output channel
	d.setup()
	return d
}

// setup sizes the chunks of images and the workers.
func (d *directConv) setup() {
	d.cpad = roundUp(d.outC, asm.ConvTapsCols)
	img := d.hp * d.wp * d.cs
	// At least convDirectMinPixels pixels per chunk where the bound allows, so
	// that a short last tile wastes little and each tap's weights serve many.
	// No more for the bytes alone: with dy unpadded (fit), a floor of
	// convDirectChunkBytes started mnist enc.conv3's input gradient at 56
	// images (work 0.653), where 12 compute 0.640.
	d.nb = max(1, min(convDirectMinPixels/d.per, 2*convDirectChunkBytes/(4*img)))
	d.nb = min(d.nb, d.n)
	// Larger chunks, up to convDirectMaxChunkBytes, where their classes'
	// tiles waste less: a small class (a corner, one pixel an image) fills
	// a tile only with many images.
	best := d.workAt(d.nb)
	for nb := d.nb + 1; nb <= d.n && nb*img*4 <= convDirectMaxChunkBytes; nb++ {
		if w := d.workAt(nb); w < 0.97*best {
			d.nb, best = nb, w
		}
	}
	chunks := (d.n + d.nb - 1) / d.nb
	d.workers = max(1, min(runtime.GOMAXPROCS(0), chunks))
	d.chunkIn = d.nb * img
	for _, cl := range d.classes {
		d.rows += roundUp(d.nb*len(cl.base), asm.ConvTapsRows)
	}
}

// work is the products d computes, its tiles rounded up to whole ones, as
// a fraction of im2col's (every tap for every pixel).
func (d *directConv) work() float64 { return d.workAt(d.nb) }

// workAt is work with chunks of nb images. im2col's products are a tap
// for every pixel of the GEMM's columns: the output pixels of a forward
// pass, dy's of an input gradient (whose col2im then scatters them).
func (d *directConv) workAt(nb int) float64 {
	var n int
	for _, cl := range d.classes {
		taps := 0
		for _, r := range cl.runs {
			taps += len(r.taps)
		}
		n += roundUp(nb*len(cl.base), asm.ConvTapsRows) * taps
	}
	return float64(n) / float64(nb*d.gemmPixels*len(d.order))
}

// pack lays w out as [cpad/32][taps][inC][32], the taps in d.order
// (indices into a kernel's KH*KW), zero past outC.
func (d *directConv) pack(w []float32) {
	order, sj, sk := d.order, d.sj, d.sk
	d.kk = len(order)
	const nc = asm.ConvTapsCols
	per := d.kk * d.inC * nc
	d.wpk, d.wpkPooled = convScratch(nil, d.cpad/nc*per)
	convParallel(runtime.GOMAXPROCS(0), d.cpad/nc, per, func(lo, hi int) {
		// Per input channel, each output channel's taps are one run of w
		// (every tap once in order): read the 32 runs, then write each tap's
		// 32 weights as one row.
		runs := make([]float32, nc*d.kk)
		for cb := lo; cb < hi; cb++ {
			dst := d.wpk[cb*per:][:per]
			for k := range d.inC {
				for j := range nc {
					run := runs[j*d.kk:][:d.kk]
					if co := cb*nc + j; co < d.outC {
						copy(run, w[co*sj+k*sk:][:d.kk])
					} else {
						clear(run)
					}
				}
				for t, tap := range order {
					row := dst[(t*d.inC+k)*nc:][:nc]
					for j := range row {
						row[j] = runs[j*d.kk+tap]
					}
				}
			}
		}
	})
}

func (d *directConv) release() { convRelease(d.wpkPooled) }

// run sets y to the convolution of x plus bias, or adds it to y when acc
// (bias nil), dealing chunks of images out to the threads.
func (d *directConv) run(y, x, bias []float32, acc bool) {
	chunks := (d.n + d.nb - 1) / d.nb
	dealChunks(d.workers, chunks, func(_ int, mine iter.Seq[int]) {
		in, inPooled := convScratch(nil, d.chunkIn)
		defer convRelease(inPooled)
		clear(in) // the padding stays zero: every chunk writes the same interior
		out, outPooled := convScratch(nil, d.rows*d.cpad)
		defer convRelease(outPooled)
		tmp, tmpPooled := convScratch(nil, max(d.inC*d.inH*d.inW, d.outC*d.per))
		defer convRelease(tmpPooled)
		var nat []float32
		if !d.natural {
			var natPooled *[]float32
			nat, natPooled = convScratch(nil, d.per*d.cpad)
			defer convRelease(natPooled)
		}
		pix := make([][asm.ConvTapsRows]int, d.rows/asm.ConvTapsRows)
		for ci := range mine {
			n0 := ci * d.nb
			d.chunkRun(y, x, bias, acc, n0, min(d.nb, d.n-n0), in, out, tmp, nat, pix)
		}
	})
}

func (d *directConv) chunkRun(y, x, bias []float32, acc bool, n0, nb int, in, out, tmp, nat []float32, pix [][asm.ConvTapsRows]int) {
	img := d.hp * d.wp * d.cs
	toPaddedNHWC(in, x, n0, nb, d.inC, d.cs, d.inH, d.inW, d.hp, d.wp, d.padT, d.padL, tmp)
	// Each class's tiles of 12 pixels, image by image; a short last tile
	// repeats its last pixel into rows that are never read.
	const nr, nc = asm.ConvTapsRows, asm.ConvTapsCols
	type span struct{ t0, t1 int } // a class's tiles in pix
	spans := make([]span, len(d.classes))
	t := 0
	for c, cl := range d.classes {
		cnt := len(cl.base)
		pixels := nb * cnt
		spans[c] = span{t, t + (pixels+nr-1)/nr}
		for i := spans[c].t0; i < spans[c].t1; i++ {
			for r := range nr {
				p := min((i-spans[c].t0)*nr+r, pixels-1)
				pix[i][r] = p/cnt*img + cl.base[p%cnt]
			}
		}
		t = spans[c].t1
	}
	// A call sums a group of taps, as many as keep their weights in the L1
	// cache (the fits bound the channels so that one tap's do), into the
	// tile's rows of out; every tile of the class uses them before the next
	// group.
	group := max(1, convDirectTapBytes/(4*nc*d.inC))
	for cb := range d.cpad / nc {
		wb := d.wpk[cb*d.kk*d.inC*nc:][:d.kk*d.inC*nc]
		for c, cl := range d.classes {
			acc := false
			for _, run := range cl.runs {
				for g0 := 0; g0 < len(run.taps); g0 += group {
					taps := run.taps[g0:min(g0+group, len(run.taps))]
					wt := wb[(run.w0+g0)*d.inC*nc:]
					for i := spans[c].t0; i < spans[c].t1; i++ {
						asm.ConvTaps(in, &pix[i], taps, d.inC, wt, out[i*nr*d.cpad+cb*nc:], d.cpad, acc)
					}
					acc = true
				}
			}
		}
	}
	// Pixels x channels back to NCHW, through pixel order where the rows
	// are in class order. A class without taps adds nothing.
	outLen := d.outC * d.per
	for n := range nb {
		src := out[n*d.per*d.cpad:]
		if !d.natural {
			src = nat
			for c, cl := range d.classes {
				cnt := len(cl.base)
				rows := out[(spans[c].t0*nr+n*cnt)*d.cpad:]
				for p, q := range cl.dst {
					dst := nat[q*d.cpad:][:d.outC]
					if len(cl.runs) == 0 {
						clear(dst)
					} else {
						copy(dst, rows[p*d.cpad:][:d.outC])
					}
				}
			}
		}
		yn := y[(n0+n)*outLen:][:outLen]
		dst := yn
		if acc {
			dst = tmp[:outLen]
		}
		asm.Transpose(d.per, d.outC, src, d.cpad, dst, d.per)
		switch {
		case acc:
			asm.Axpy(1, dst, yn)
		case bias != nil:
			for co, b := range bias[:d.outC] {
				row := yn[co*d.per:][:d.per]
				for i := range row {
					row[i] += b
				}
			}
		}
	}
}

// toPaddedNHWC copies images [n0, n0+nb) of x [N, c, h, w] into in, image
// by image, channels-last, cs floats from pixel to pixel, and padded to
// hp x wp pixels with the image's first pixel at row padT, column padL. The
// padding (and the floats past c of each pixel) is left as it is: the
// callers clear it once. tmp holds c*h*w values.
func toPaddedNHWC(in, x []float32, n0, nb, c, cs, h, w, hp, wp, padT, padL int, tmp []float32) {
	hw, img := h*w, hp*wp*cs
	for n := range nb {
		asm.Transpose(c, hw, x[(n0+n)*c*hw:], hw, tmp, c)
		for ih := range h {
			dst := in[n*img+((ih+padT)*wp+padL)*cs:]
			if cs == c {
				copy(dst[:w*c], tmp[ih*w*c:][:w*c])
				continue
			}
			for iw := range w {
				copy(dst[iw*cs:][:c], tmp[(ih*w+iw)*c:][:c])
			}
		}
	}
}

// convPixelStride is the floats from one pixel to the next in a padded
// channels-last copy of an image of c channels: c rounded up to a whole
// number of 64-byte lines, and an odd number of them. A power-of-two
// stride (512 bytes at 128 channels) puts the pixels a kernel reads side by
// side, or at stride 2, in a few sets of the L1 cache, which then holds few
// of them.
func convPixelStride(c int) int {
	if !convDirectPadPixels {
		return c
	}
	cs := roundUp(c, 16)
	if cs/16%2 == 0 {
		cs += 16
	}
	return cs
}
