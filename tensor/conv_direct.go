package tensor

import (
	"runtime"

	"github.com/halo-ml/halo/asm"
)

// Tuning of the direct convolution.
var (
	// convDirect runs the forward pass of a Conv2d (and so the input
	// gradient of a stride-1 one, inputGradConv) as a direct convolution
	// (directConv) where asm.HasConvTaps and the layer is wide enough
	// (directFits), rather than through im2col and GEMM.
	convDirect = true
	// convDirectMinC and convDirectMinOutC are the fewest input and output
	// channels for which the direct convolution is chosen: with fewer, a
	// tap's run of channels is too short to keep the FMAs busy, or most of
	// a 32-channel tile is padding.
	convDirectMinC    = 16
	convDirectMinOutC = 32
	// convDirectMaxC is the most input channels for which it is chosen. At
	// 256 (the Sprites encoder) one tap's weights for 32 output channels
	// fill most of the L1 cache, and im2col and GEMM, which reuse each
	// weight over 2048 columns rather than a chunk of a few hundred pixels,
	// measured faster: forward passes alternated in one process, direct /
	// GEMM time 1.10-1.23 on sprites enc.conv3-4 and 0.99-1.15 on enc.conv5,
	// against 0.79-0.95 on the 128-channel rotating-MNIST enc.conv2-3.
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
)

// directFits reports whether g's forward pass runs as a direct convolution.
func (g ConvGeom) directFits() bool {
	return convDirect && (asm.HasConvTaps() || convDirectAnyCPU) && !g.Transposed && !g.Causal &&
		g.C >= convDirectMinC && g.C <= convDirectMaxC && g.OutC >= convDirectMinOutC
}

// directConv is one Conv2d forward pass computed by asm.ConvTaps. The input
// is copied, a chunk of images at a time, into a zero-padded channels-last
// buffer, so that for output pixel (n, oh, ow) and kernel tap (kh, kw) the
// C input channels the tap multiplies are one contiguous run, at
// pix + taps[kh*KW+kw] with pix where the pixel's receptive field starts.
// The weights are packed once, 32 output channels by tap by input channel.
// A kernel call sums a group of taps for a tile of 12 pixels by 32 output
// channels in registers and adds it to the tile's rows of a pixels x
// channels buffer, which is turned back to NCHW at the end of the chunk.
// Nothing like a column matrix is built: every input value is read in
// place, by every tap that covers it.
type directConv struct {
	g              ConvGeom
	hp, wp         int // padded input height and width
	ho, wo         int
	cpad           int // OutC rounded up to a whole number of 32-channel blocks
	nb             int // images per chunk
	taps           []int
	wpk            []float32 // [cpad/32][KH*KW][C][32]
	wpkPooled      *[]float32
	workers        int
	chunkIn, chunk int // floats of one chunk's padded input, and of its output rows
}

func newDirectConv(g ConvGeom, w []float32) *directConv {
	d := &directConv{g: g, ho: g.OutH(), wo: g.OutW()}
	// The padded input covers every row and column a tap reaches.
	d.hp = max(g.H+g.PadH, (d.ho-1)*g.StrideH+(g.KH-1)*g.DilH+1)
	d.wp = max(g.W+g.PadW, (d.wo-1)*g.StrideW+(g.KW-1)*g.DilW+1)
	d.cpad = roundUp(g.OutC, asm.ConvTapsCols)
	img := d.hp * d.wp * g.C
	// At least convDirectMinPixels pixels per chunk where the bound allows, so
	// that a short last tile wastes little and each tap's weights serve many.
	per := d.ho * d.wo
	d.nb = max(1, convDirectChunkBytes/(4*img), min(convDirectMinPixels/per, 2*convDirectChunkBytes/(4*img)))
	d.nb = min(d.nb, g.N)
	chunks := (g.N + d.nb - 1) / d.nb
	d.workers = max(1, min(runtime.GOMAXPROCS(0), chunks))
	d.chunkIn = d.nb * img
	d.chunk = roundUp(d.nb*d.ho*d.wo, asm.ConvTapsRows) * d.cpad
	for kh := range g.KH {
		for kw := range g.KW {
			d.taps = append(d.taps, (kh*g.DilH*d.wp+kw*g.DilW)*g.C)
		}
	}
	d.packWeights(w)
	return d
}

// packWeights lays w [OutC, C, KH, KW] out as [cpad/32][KH*KW][C][32],
// zero past OutC, over the threads by block of 32 output channels.
func (d *directConv) packWeights(w []float32) {
	g := d.g
	kk := g.KH * g.KW
	const nc = asm.ConvTapsCols
	d.wpk, d.wpkPooled = convScratch(nil, d.cpad*kk*g.C)
	blocks := d.cpad / nc
	convParallel(runtime.GOMAXPROCS(0), blocks, nc*kk*g.C, func(lo, hi int) {
		for cb := lo; cb < hi; cb++ {
			dst := d.wpk[cb*kk*g.C*nc:][:kk*g.C*nc]
			for j := range nc {
				co := cb*nc + j
				if co >= g.OutC {
					for i := j; i < len(dst); i += nc {
						dst[i] = 0
					}
					continue
				}
				src := w[co*g.C*kk:][:g.C*kk]
				for ci := range g.C {
					for t, v := range src[ci*kk:][:kk] {
						dst[(t*g.C+ci)*nc+j] = v
					}
				}
			}
		}
	})
}

func (d *directConv) release() { convRelease(d.wpkPooled) }

// forward sets y to conv(x) + bias, or adds conv(x) to y when acc (bias
// nil), dealing chunks of images out to the threads.
func (d *directConv) forward(y, x, bias []float32, acc bool) {
	g := d.g
	chunks := (g.N + d.nb - 1) / d.nb
	runParts(d.workers, func(wi int) {
		in, inPooled := convScratch(nil, d.chunkIn)
		defer convRelease(inPooled)
		clear(in) // the padding stays zero: every chunk writes the same interior
		out, outPooled := convScratch(nil, d.chunk)
		defer convRelease(outPooled)
		tmp, tmpPooled := convScratch(nil, max(g.C*g.H*g.W, g.OutC*d.ho*d.wo))
		defer convRelease(tmpPooled)
		pix := make([][asm.ConvTapsRows]int, d.chunk/d.cpad/asm.ConvTapsRows)
		for ci := wi; ci < chunks; ci += d.workers {
			n0 := ci * d.nb
			nb := min(d.nb, g.N-n0)
			d.chunkForward(y, x, bias, acc, n0, nb, in, out, tmp, pix)
		}
	})
}

func (d *directConv) chunkForward(y, x, bias []float32, acc bool, n0, nb int, in, out, tmp []float32, pix [][asm.ConvTapsRows]int) {
	g := d.g
	hw, per := g.H*g.W, d.ho*d.wo
	img := d.hp * d.wp * g.C
	// NCHW to padded channels-last.
	for n := range nb {
		asm.Transpose(g.C, hw, x[(n0+n)*g.C*hw:], hw, tmp, g.C)
		for ih := range g.H {
			copy(in[n*img+((ih+g.PadH)*d.wp+g.PadW)*g.C:][:g.W*g.C], tmp[ih*g.W*g.C:][:g.W*g.C])
		}
	}
	// Tiles of 12 pixels; a short last tile repeats its last pixel into
	// rows past the chunk's.
	pixels := nb * per
	kk := g.KH * g.KW
	const nr, nc = asm.ConvTapsRows, asm.ConvTapsCols
	tiles := (pixels + nr - 1) / nr
	pix = pix[:tiles]
	for i := range pix {
		for r := range nr {
			p := min(i*nr+r, pixels-1)
			n, q := p/per, p%per
			oh, ow := q/d.wo, q%d.wo
			pix[i][r] = n*img + (oh*g.StrideH*d.wp+ow*g.StrideW)*g.C
		}
	}
	// A call sums a group of taps, as many as keep their weights in the L1
	// cache (directFits bounds C so that one tap's do), into the tile's rows
	// of out; every tile of the chunk uses them before the next group.
	group := max(1, convDirectTapBytes/(4*nc*g.C))
	for cb := range d.cpad / nc {
		wb := d.wpk[cb*kk*g.C*nc:][:kk*g.C*nc]
		for t0 := 0; t0 < kk; t0 += group {
			taps := d.taps[t0:min(t0+group, kk)]
			for i := range pix {
				asm.ConvTaps(in, &pix[i], taps, g.C, wb[t0*g.C*nc:], out[i*nr*d.cpad+cb*nc:], d.cpad, t0 > 0)
			}
		}
	}
	// Pixels x channels back to NCHW.
	outLen := g.OutC * per
	for n := range nb {
		yn := y[(n0+n)*outLen:][:outLen]
		dst := yn
		if acc {
			dst = tmp[:outLen]
		}
		asm.Transpose(per, g.OutC, out[n*per*d.cpad:], d.cpad, dst, per)
		switch {
		case acc:
			asm.Axpy(1, dst, yn)
		case bias != nil:
			for co, b := range bias[:g.OutC] {
				row := yn[co*per:][:per]
				for i := range row {
					row[i] += b
				}
			}
		}
	}
}
