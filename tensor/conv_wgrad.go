package tensor

import (
	"iter"
	"runtime"

	"github.com/halo-ml/halo/asm"
)

// Tuning of the direct weight gradient.
var (
	// convWGradMinC and convWGradMinOutC are the fewest input and output
	// channels for which the weight gradient of a Conv2d is computed
	// directly (directWGradFits): with fewer, most of a 12 x 32 tile is
	// padding, and first layers (a few input channels) keep im2col and GEMM.
	// Above convDirectMaxC channels it must skip enough products that
	// would read padding (directWGradFits): computing every product it took
	// 1.06-1.16x the time of im2col and GEMM on the 256-channel Sprites
	// enc.conv3-4 and 0.93x on enc.conv5; skipping, 1.15-1.17x on enc.conv4
	// (work 0.86, in short runs of pixels) and 0.67-0.87x on enc.conv5 (work
	// 0.72), against 0.60-0.86x on the 128-channel rotating-MNIST layers
	// (alternated, the order rotated, best of 7-9).
	convWGradMinC    = 32
	convWGradMinOutC = 16
	// convWGradWideWork is the most work (of im2col's products) for which
	// a layer wider than convDirectMaxC takes the direct weight gradient:
	// sprites enc.conv4 (work 0.86) since its chunks give runs of
	// convWGradMinRun pixels; enc.conv3 (0.93) keeps im2col and GEMM.
	convWGradWideWork = 0.9
	// convWGradChunkBytes bounds the channels-last input of one chunk of
	// images. Unpadded, it holds more images than it did padded (sprites
	// enc.conv5 15 rather than 6, rotating-MNIST enc.conv2 9 rather than 6,
	// enc.conv3 37 rather than 14): on one thread, chunk by chunk, 0.91-0.93,
	// 0.95-0.98 and 0.96-0.99 of the time per image (medians, two runs);
	// forward and backward on two threads, with the old counts forced, read
	// 0.98-1.00, 1.03 and 1.02 (an A/A pair 0.98-1.03). evenChunk then
	// takes fewer where the chunks would not go evenly to the threads
	// (12, 8 and 32 images on two): alternated with the old counts, 0.94-0.98
	// and 0.95 of the time on enc.conv5 and enc.conv3 (A/A 1.00), 1.01 on
	// enc.conv2, whose 43 chunks were near even already.
	convWGradChunkBytes = 1 << 20
	// convWGradMinRun is the fewest pixels a chunk gives each kernel call
	// of a tap that sums one output row at a time (newDirectWGrad). The
	// byte bound alone left sprites enc.conv4 3 images a chunk, and so
	// runs of 21 pixels, each call loading and storing its tiles of the
	// gradient for 21 products a value; with 7 images (runs of 49) its
	// weight gradient took 0.88-0.91 of im2col and GEMM's time (A/A
	// 0.98-1.02), where with 3 it took longer. The layers that already
	// had runs of 48 keep their chunks: made larger by the byte bound,
	// they were slower (mnist enc.conv3 1.07-1.12x).
	convWGradMinRun = 48
	// convWGradPixels is the pixels one kernel call sums: one tap's block of
	// 32 input channels for that many pixels (16 KB at 128) stays in the L1
	// cache while every tile of output channels reads it.
	convWGradPixels = 128
)

// directWGradFits reports whether g's weight gradient is computed by
// directWGrad rather than im2col and GEMM.
func (g ConvGeom) directWGradFits() bool { return g.planDirectWGrad() != nil }

// planDirectWGrad plans g's weight gradient as a direct one, or returns nil
// where im2col and GEMM should compute it: up to convDirectMaxC channels
// of both kinds, and up to convDirectWideMaxC where the products it skips
// bring its work to at most convWGradWideWork of im2col's.
func (g ConvGeom) planDirectWGrad() *directWGrad {
	if !convDirect || !(asm.HasConvTaps() || convDirectAnyCPU) || g.Transposed || g.Causal ||
		g.C < convWGradMinC || g.OutC < convWGradMinOutC || max(g.C, g.OutC) > convDirectWideMaxC {
		return nil
	}
	d := newDirectWGrad(g)
	if max(g.C, g.OutC) > convDirectMaxC && d.work() > convWGradWideWork {
		return nil
	}
	return d
}

// directWGrad is the weight gradient of a Conv2d computed by
// asm.WeightGradTiles: for tap t, dw[:, :, t] = Σ_pixels dy[:, p] ·
// x_t[p, :], with x_t the input seen from the tap. The input is copied, a
// chunk of images at a time, into a channels-last buffer (as directConv
// does, but with no padding at all, since no tap reads any), so that a
// pixel's input channels under a tap are one contiguous run, read in place
// at the pixel's offset plus the tap's (which is negative for the taps
// above and left of the centre: lead floats before the images keep every
// slice start in the buffer); dy is
// packed 12 output channels at a time, pixel by pixel. The pixels of a
// chunk go output pixel by output pixel, every image's in turn, so that
// for a tap the pixels of one output row whose input under it is real
// (not padding) are one range, and so are those of all its rows where the
// tap reads real input in every column: a tap sums only those, skipping
// the products that would multiply padding. Nothing like a column matrix
// is built. The chunks add into partial gradients (dealSums), laid out
// tap by output by input channel, and these are added into dw at the end
// in a fixed order.
type directWGrad struct {
	g        ConvGeom
	cs       int // floats from one pixel to the next in the copy
	lead     int // floats before the first image of the copy
	ho, wo   int
	cpad     int      // C rounded up to a whole number of 32-channel blocks
	opad     int      // OutC rounded up to a whole number of 12-channel tiles
	taps     []int    // per kernel tap, where it reads from a pixel's offset
	rows     [][2]int // per kernel row, the output rows [lo, hi) it reaches real input from
	cols     [][2]int // per kernel column, the output columns likewise
	nb       int      // images per chunk
	workers  int
	img      int // floats of one image of the copy
	pixels   int // pixels of a whole chunk
	gradSize int // floats of one thread's gradient: [KH*KW][opad][cpad]
}

func newDirectWGrad(g ConvGeom) *directWGrad {
	d := &directWGrad{g: g, ho: g.OutH(), wo: g.OutW()}
	d.cpad = roundUp(g.C, asm.ConvTapsCols)
	d.opad = roundUp(g.OutC, asm.ConvTapsRows)
	d.cs = convPixelStride(g.C)
	d.img = g.H * g.W * d.cs
	for kh := range g.KH {
		for kw := range g.KW {
			d.taps = append(d.taps, ((kh*g.DilH-g.PadH)*g.W+kw*g.DilW-g.PadW)*d.cs)
		}
		d.rows = append(d.rows, realRange(d.ho, g.StrideH, kh*g.DilH, g.PadH, g.H))
	}
	// A tap that reads real input in only part of a row sums one output
	// row at a time, its columns times nb pixels per kernel call: enough
	// images that the shortest such run has convWGradMinRun pixels.
	narrowest := 0
	for kw := range g.KW {
		c := realRange(d.wo, g.StrideW, kw*g.DilW, g.PadW, g.W)
		d.cols = append(d.cols, c)
		if n := c[1] - c[0]; n > 0 && n < d.wo && (narrowest == 0 || n < narrowest) {
			narrowest = n
		}
	}
	most := max(1, min(g.N, convWGradChunkBytes/(4*d.img)))
	// As many images for each thread: fewer a chunk where the chunks would
	// not go evenly to the threads, but no fewer than half as many, since
	// each thread that takes a chunk holds a whole partial gradient (6.7 MB
	// on the Sprites layers) and many threads would otherwise split the
	// images down to a few each.
	least := max(1, most/2)
	if narrowest > 0 {
		least = max(least, (convWGradMinRun+narrowest-1)/narrowest)
	}
	threads := runtime.GOMAXPROCS(0)
	d.nb = evenChunk(g.N, most, least, threads)
	chunks := (g.N + d.nb - 1) / d.nb
	d.workers = max(1, min(threads, chunks))
	d.pixels = d.nb * d.ho * d.wo
	d.gradSize = len(d.taps) * d.opad * d.cpad
	d.lead = max(0, -d.taps[0])
	return d
}

// realRange is the range [lo, hi) of the out output coordinates o whose
// input o*s + off, in a copy padded by pad, is one of the in real ones.
func realRange(out, s, off, pad, in int) [2]int {
	lo, hi := out, 0
	for o := range out {
		if p := o*s + off; p >= pad && p < pad+in {
			lo, hi = min(lo, o), max(hi, o+1)
		}
	}
	return [2]int{lo, max(lo, hi)}
}

// work is the products d computes as a fraction of im2col's.
func (d *directWGrad) work() float64 {
	rows, cols := 0, 0
	for _, r := range d.rows {
		rows += r[1] - r[0]
	}
	for _, c := range d.cols {
		cols += c[1] - c[0]
	}
	return float64(rows*cols) / float64(len(d.rows)*d.ho*len(d.cols)*d.wo)
}

// run adds the weight gradient of dy and x to dw.
func (d *directWGrad) run(dw, dy, x []float32) {
	g := d.g
	chunks := (g.N + d.nb - 1) / d.nb
	// Each chunk adds into one of a fixed number of partial gradients
	// (dealSums), so that dw is the same whichever thread ran which chunk.
	// A sum is set up by the first thread to take one of its chunks; only
	// the thread holding a sum touches its slots.
	grads := make([][]float32, sumSlots(d.workers, chunks))
	gradsPooled := make([]*[]float32, len(grads))
	dealSums(d.workers, len(grads), chunks, func(_ int, mine iter.Seq2[int, int]) {
		// The last pixel's last block of channels may read past the image
		// when C is not a multiple of 32: into columns that are dropped.
		in, inPooled := convScratch(nil, d.lead+d.nb*d.img+asm.ConvTapsCols)
		defer convRelease(inPooled)
		clear(in)
		// The rows past OutC in dy's last tile are never written: they only
		// reach the gradient's rows past OutC, which are dropped.
		apk, apkPooled := convScratch(nil, d.opad*d.pixels)
		defer convRelease(apkPooled)
		tmp, tmpPooled := convScratch(nil, max(g.C*g.H*g.W, asm.ConvTapsRows*d.ho*d.wo))
		defer convRelease(tmpPooled)
		off := make([]int, d.pixels)
		for s, ci := range mine {
			if grads[s] == nil {
				grads[s], gradsPooled[s] = convScratch(nil, d.gradSize)
				clear(grads[s])
			}
			n0 := ci * d.nb
			d.chunk(grads[s], dy, x, n0, min(d.nb, g.N-n0), in, apk, tmp, off)
		}
	})
	// dw[co][ci][t] += Σ_sums grad[t][co][ci], the sums in order, over the
	// threads by output channel: for each, the sums' rows of input
	// channels are added tap by tap into a [KH*KW][C] block, which is
	// transposed and added to dw's [C][KH*KW] block. (Gathering each value
	// from the sums, strided by a whole tap's block, took 3-4x as long:
	// 5-6 ms of sprites enc.conv5's 110.)
	kk := len(d.taps)
	convParallel(runtime.GOMAXPROCS(0), g.OutC, g.C*kk*len(grads), func(lo, hi int) {
		tmp, tmpPooled := convScratch(nil, 2*g.C*kk)
		defer convRelease(tmpPooled)
		sum, tr := tmp[:g.C*kk], tmp[g.C*kk:]
		for co := lo; co < hi; co++ {
			for t := range kk {
				row := sum[t*g.C:][:g.C]
				at := func(s int) []float32 { return grads[s][(t*d.opad+co)*d.cpad:][:g.C] }
				if len(grads) == 1 {
					copy(row, at(0))
					continue
				}
				asm.Add(row, at(0), at(1))
				for s := 2; s < len(grads); s++ {
					asm.Add(row, row, at(s))
				}
			}
			asm.Transpose(kk, g.C, sum, g.C, tr, kk)
			dst := dw[co*g.C*kk:][:g.C*kk]
			asm.Add(dst, dst, tr)
		}
	})
	for _, p := range gradsPooled {
		convRelease(p)
	}
}

func (d *directWGrad) chunk(grad, dy, x []float32, n0, nb int, in, apk, tmp []float32, off []int) {
	g := d.g
	per := d.ho * d.wo
	toPaddedNHWC(in[d.lead:], x, n0, nb, g.C, d.cs, g.H, g.W, g.H, g.W, 0, 0, tmp)
	// dy packed by tiles of 12 output channels, pixel by pixel: tile i of
	// pixel p at apk[i*astride+12*p:], output pixel q of image n being p =
	// q*nb+n.
	const nr, nc = asm.ConvTapsRows, asm.ConvTapsCols
	astride := nr * d.pixels
	for n := range nb {
		dyn := dy[(n0+n)*g.OutC*per:][:g.OutC*per]
		for co0 := 0; co0 < g.OutC; co0 += nr {
			asm.Transpose(min(nr, g.OutC-co0), per, dyn[co0*per:], per, tmp, nr)
			dst := apk[co0/nr*astride:]
			for q := range per {
				copy(dst[(q*nb+n)*nr:][:nr], tmp[q*nr:][:nr])
			}
		}
	}
	for q := range per {
		oh, ow := q/d.wo, q%d.wo
		for n := range nb {
			off[q*nb+n] = n*d.img + (oh*g.StrideH*g.W+ow*g.StrideW)*d.cs
		}
	}
	tiles := d.opad / nr
	sum := func(t, tap, p0, p1 int) { // tap t over pixels [p0, p1)
		for cb := 0; cb < d.cpad; cb += nc {
			for p := p0; p < p1; p += convWGradPixels {
				k := min(convWGradPixels, p1-p)
				asm.WeightGradTiles(tiles, k, apk[nr*p:], astride, in[d.lead+tap+cb:], off[p:p+k],
					grad[t*d.opad*d.cpad+cb:], d.cpad)
			}
		}
	}
	for t, tap := range d.taps {
		r, c := d.rows[t/g.KW], d.cols[t%g.KW]
		if c[0] == 0 && c[1] == d.wo { // whole rows: one range
			sum(t, tap, r[0]*d.wo*nb, r[1]*d.wo*nb)
			continue
		}
		for oh := r[0]; oh < r[1] && c[0] < c[1]; oh++ {
			sum(t, tap, (oh*d.wo+c[0])*nb, (oh*d.wo+c[1])*nb)
		}
	}

}
