package tensor

import (
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
	// convDirectMaxC is the most input channels for which it is chosen (and
	// the most channels of either kind for the input and weight gradients).
	// At 256 (the Sprites encoder) one tap's weights for 32 output channels
	// fill most of the L1 cache, and im2col and GEMM, which reuse each
	// weight over 2048 columns rather than a chunk of a few hundred pixels,
	// measured as fast or faster: forward passes alternated in one process,
	// direct / GEMM time 0.80-1.23 on sprites enc.conv3-4 and 0.89-1.26 on
	// enc.conv5, against 0.76-0.95 on the 128-channel rotating-MNIST
	// enc.conv2-3; input gradients 0.69-1.05 and 0.96-1.13, against
	// 0.57-0.83.
	convDirectMaxC = 128
	// convDirectChunkBytes bounds the padded channels-last input of one
	// chunk of images, so that it stays in the L2 cache next to one block of
	// 32 output channels' packed weights while every pixel tile reads it.
	convDirectChunkBytes = 512 << 10
	// convDirectMinPixels is the fewest output pixels a chunk should have,
	// if twice convDirectChunkBytes allows it.
	convDirectMinPixels = 240
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
func (g ConvGeom) directFits() bool {
	return convDirect && (asm.HasConvTaps() || convDirectAnyCPU) && !g.Transposed && !g.Causal &&
		g.C >= convDirectMinC && g.C <= convDirectMaxC && g.OutC >= convDirectMinOutC
}

// directGradFits reports whether g's input gradient runs as a direct
// convolution (newDirectInputGrad): its output channels are what that sums
// over, and its input channels what it computes.
func (g ConvGeom) directGradFits() bool {
	return convDirect && (asm.HasConvTaps() || convDirectAnyCPU) && !g.Transposed && !g.Causal &&
		g.OutC >= convDirectMinC && g.OutC <= convDirectMaxC && g.C >= convDirectMinOutC
}

// directConv is a convolution computed by asm.ConvTaps: the forward pass of
// a Conv2d (newDirectConv) or its input gradient (newDirectInputGrad). The
// image it reads (x, or dy) is copied, a chunk of images at a time, into a
// zero-padded channels-last buffer, so that for an output pixel and a
// kernel tap the channels the tap multiplies are one contiguous run, at the
// pixel's base plus the tap's offset. The weights are packed once, 32
// output channels by tap by input channel. A kernel call sums a group of
// taps for a tile of 12 pixels by 32 output channels in registers and
// stores or adds it to the tile's rows of a pixels x channels buffer, which
// is turned back to NCHW at the end of the chunk. Nothing like a column
// matrix is built: every input value is read in place, by every tap that
// covers it.
//
// The output pixels fall into classes that share a list of taps. A forward
// pass has one, every pixel in order. An input gradient of stride s has
// s*s (sH*sW): which taps reach input pixel (ih, iw) from dy, and at which
// offsets, depends on (ih+PadH) mod sH and (iw+PadW) mod sW only, and every
// tap belongs to one class. Tiles keep to one class, and their rows are
// put back in pixel order before the transpose to NCHW.
type directConv struct {
	n             int
	inC, inH, inW int // the image read: x of a forward pass, dy of an input gradient
	cs            int // floats from one pixel to the next in the padded copy
	padT, padL    int // where its first row and column sit in the padded copy
	hp, wp        int // padded height and width
	outC, per     int // channels and pixels of an output image
	cpad          int // outC rounded up to a whole number of 32-channel blocks
	kk            int // taps, over all classes
	classes       []directClass
	natural       bool      // one class, its pixels in output order
	nb            int       // images per chunk
	wpk           []float32 // [cpad/32][kk][inC][32], taps in class order
	wpkPooled     *[]float32
	workers       int
	chunkIn, rows int // floats of one chunk's padded input, and rows of its output
}

// directClass is a class of output pixels that sum the same taps.
type directClass struct {
	taps []int // offset of each tap from a pixel's base, in floats
	t0   int   // index of its first tap in the packed weights
	base []int // per pixel of the class, where it reads from in a padded image
	dst  []int // per pixel, its index in the output image (oh*W+ow)
}

// newDirectConv prepares the forward pass of g with weight w.
func newDirectConv(g ConvGeom, w []float32) *directConv {
	ho, wo := g.OutH(), g.OutW()
	d := &directConv{n: g.N, inC: g.C, cs: convPixelStride(g.C), inH: g.H, inW: g.W, padT: g.PadH, padL: g.PadW, outC: g.OutC, per: ho * wo, natural: true}
	// The padded input covers every row and column a tap reaches.
	d.hp = max(g.H+g.PadH, (ho-1)*g.StrideH+(g.KH-1)*g.DilH+1)
	d.wp = max(g.W+g.PadW, (wo-1)*g.StrideW+(g.KW-1)*g.DilW+1)
	var cl directClass
	var order []int
	for kh := range g.KH {
		for kw := range g.KW {
			cl.taps = append(cl.taps, (kh*g.DilH*d.wp+kw*g.DilW)*d.cs)
			order = append(order, kh*g.KW+kw)
		}
	}
	for oh := range ho {
		for ow := range wo {
			cl.base = append(cl.base, (oh*g.StrideH*d.wp+ow*g.StrideW)*d.cs)
			cl.dst = append(cl.dst, oh*wo+ow)
		}
	}
	d.classes = []directClass{cl}
	kk := g.KH * g.KW
	d.setup()
	d.packWeights(w, order, g.C*kk, kk) // w[co][ci][t]: co the output channel
	return d
}

// newDirectInputGrad prepares the input gradient of g with weight w: a
// direct convolution that reads dy and writes dx. For input pixel (ih, iw)
// and tap (kh, kw) with kh*DilH = (ih+PadH) mod sH + q*sH (and likewise r
// for the columns), dy's pixel is ((ih+PadH)/sH - q, (iw+PadW)/sW - r), so
// a pixel's base is dy's pixel at q = r = 0 and the tap's offset is -q rows
// and -r columns; the padding above and to the left covers the largest q
// and r, below and to the right the rows and columns past dy's.
func newDirectInputGrad(g ConvGeom, w []float32) *directConv {
	ho, wo := g.OutH(), g.OutW()
	sh, sw := g.StrideH, g.StrideW
	d := &directConv{n: g.N, inC: g.OutC, cs: convPixelStride(g.OutC), inH: ho, inW: wo, outC: g.C, per: g.H * g.W, natural: sh == 1 && sw == 1}
	d.padT, d.padL = (g.KH-1)*g.DilH/sh, (g.KW-1)*g.DilW/sw
	d.hp = d.padT + max(ho, (g.H-1+g.PadH)/sh+1)
	d.wp = d.padL + max(wo, (g.W-1+g.PadW)/sw+1)
	var order []int
	for rh := range sh {
		for rw := range sw {
			cl := directClass{t0: len(order)}
			for kh := range g.KH {
				for kw := range g.KW {
					if kh*g.DilH%sh == rh && kw*g.DilW%sw == rw {
						q, r := (kh*g.DilH-rh)/sh, (kw*g.DilW-rw)/sw
						cl.taps = append(cl.taps, -(q*d.wp+r)*d.cs)
						order = append(order, kh*g.KW+kw)
					}
				}
			}
			for ih := range g.H {
				if (ih+g.PadH)%sh != rh {
					continue
				}
				for iw := range g.W {
					if (iw+g.PadW)%sw != rw {
						continue
					}
					oh, ow := (ih+g.PadH)/sh, (iw+g.PadW)/sw
					cl.base = append(cl.base, ((oh+d.padT)*d.wp+ow+d.padL)*d.cs)
					cl.dst = append(cl.dst, ih*g.W+iw)
				}
			}
			if len(cl.base) > 0 {
				d.classes = append(d.classes, cl)
			}
		}
	}
	kk := g.KH * g.KW
	d.setup()
	d.packWeights(w, order, kk, g.C*kk) // w[co][ci][t]: ci the output channel
	return d
}

// setup sizes the chunks of images and the workers.
func (d *directConv) setup() {
	d.cpad = roundUp(d.outC, asm.ConvTapsCols)
	img := d.hp * d.wp * d.cs
	// At least convDirectMinPixels pixels per chunk where the bound allows, so
	// that a short last tile wastes little and each tap's weights serve many.
	d.nb = max(1, convDirectChunkBytes/(4*img), min(convDirectMinPixels/d.per, 2*convDirectChunkBytes/(4*img)))
	d.nb = min(d.nb, d.n)
	chunks := (d.n + d.nb - 1) / d.nb
	d.workers = max(1, min(runtime.GOMAXPROCS(0), chunks))
	d.chunkIn = d.nb * img
	for _, cl := range d.classes {
		d.rows += roundUp(d.nb*len(cl.base), asm.ConvTapsRows)
	}
}

// packWeights lays w out as [cpad/32][taps][inC][32], the taps in order
// (indices into a kernel's KH*KW), zero past outC. The weight of output
// channel j, input channel k and tap t is w[j*sj+k*sk+t].
func (d *directConv) packWeights(w []float32, order []int, sj, sk int) {
	d.kk = len(order)
	const nc = asm.ConvTapsCols
	per := d.kk * d.inC * nc
	d.wpk, d.wpkPooled = convScratch(nil, d.cpad/nc*per)
	convParallel(runtime.GOMAXPROCS(0), d.cpad/nc, per, func(lo, hi int) {
		for cb := lo; cb < hi; cb++ {
			dst := d.wpk[cb*per:][:per]
			for j := range nc {
				co := cb*nc + j
				if co >= d.outC {
					for i := j; i < len(dst); i += nc {
						dst[i] = 0
					}
					continue
				}
				for t, tap := range order {
					for k := range d.inC {
						dst[(t*d.inC+k)*nc+j] = w[co*sj+k*sk+tap]
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
	runParts(d.workers, func(wi int) {
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
		for ci := wi; ci < chunks; ci += d.workers {
			n0 := ci * d.nb
			nb := min(d.nb, d.n-n0)
			d.chunkRun(y, x, bias, acc, n0, nb, in, out, tmp, nat, pix)
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
			for g0 := 0; g0 < len(cl.taps); g0 += group {
				taps := cl.taps[g0:min(g0+group, len(cl.taps))]
				wt := wb[(cl.t0+g0)*d.inC*nc:]
				for i := spans[c].t0; i < spans[c].t1; i++ {
					asm.ConvTaps(in, &pix[i], taps, d.inC, wt, out[i*nr*d.cpad+cb*nc:], d.cpad, g0 > 0)
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
					if len(cl.taps) == 0 {
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
