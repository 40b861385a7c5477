package tensor

import (
	"runtime"

	"github.com/halo-ml/halo/asm"
)

// Tuning of the direct weight gradient.
var (
	// convWGradMinC and convWGradMinOutC are the fewest input and output
	// channels for which the weight gradient of a Conv2d is computed
	// directly (directWGradFits): with fewer, most of a 12 x 32 tile is
	// padding, and first layers (a few input channels) keep im2col and GEMM.
	// Above convDirectMaxC channels it must skip enough rows
	// (directWGradFits): on the 256-channel Sprites enc.conv3-4, which skip
	// few, it measured 1.06-1.16x the time of im2col and GEMM, on enc.conv5
	// 0.93x computing every product and 0.83x skipping (alternated, the
	// order rotated, best of 7-9), against 0.70-0.77x on the 128-channel
	// rotating-MNIST layers.
	convWGradMinC    = 32
	convWGradMinOutC = 16
	// convWGradChunkBytes bounds the padded channels-last input of one chunk
	// of images.
	convWGradChunkBytes = 1 << 20
	// convWGradPixels is the pixels one kernel call sums: one tap's block of
	// 32 input channels for that many pixels (16 KB at 128) stays in the L1
	// cache while every tile of output channels reads it.
	convWGradPixels = 128
)

// directWGradFits reports whether g's weight gradient is computed by
// directWGrad rather than im2col and GEMM: up to convDirectMaxC channels
// of both kinds, and up to convDirectWideMaxC where the rows it skips bring
// its work to at most convDirectWideWork of im2col's.
func (g ConvGeom) directWGradFits() bool {
	if !convDirect || !(asm.HasConvTaps() || convDirectAnyCPU) || g.Transposed || g.Causal ||
		g.C < convWGradMinC || g.OutC < convWGradMinOutC || max(g.C, g.OutC) > convDirectWideMaxC {
		return false
	}
	return max(g.C, g.OutC) <= convDirectMaxC || newDirectWGrad(g).work() <= convDirectWideWork+1e-9
}

// directWGrad is the weight gradient of a Conv2d computed by
// asm.WeightGradTiles: for tap t, dw[:, :, t] = Σ_pixels dy[:, p] ·
// x_t[p, :], with x_t the input seen from the tap. The input is copied, a
// chunk of images at a time, into a zero-padded channels-last buffer (as
// directConv does), so that a pixel's input channels under a tap are one
// contiguous run, read in place at the pixel's offset plus the tap's; dy is
// packed 12 output channels at a time, pixel by pixel. The pixels of a
// chunk go output row by output row (each row of every image), so that the
// rows whose taps of kernel row kh read real input are one range of them,
// and a tap sums only that range: the others multiply padding. Nothing like
// a column matrix is built. Each thread sums its chunks into a gradient of
// its own, laid out tap by output by input channel, and these are added
// into dw at the end in a fixed order.
type directWGrad struct {
	g        ConvGeom
	hp, wp   int
	cs       int // floats from one pixel to the next in the padded copy
	ho, wo   int
	cpad     int // C rounded up to a whole number of 32-channel blocks
	opad     int // OutC rounded up to a whole number of 12-channel tiles
	taps     []int
	rows     [][2]int // per kernel row, the output rows [lo, hi) it reaches real input from
	nb       int      // images per chunk
	workers  int
	img      int // floats of one padded image
	pixels   int // pixels of a whole chunk
	gradSize int // floats of one thread's gradient: [KH*KW][opad][cpad]
}

func newDirectWGrad(g ConvGeom) *directWGrad {
	d := &directWGrad{g: g, ho: g.OutH(), wo: g.OutW()}
	d.hp = max(g.H+g.PadH, (d.ho-1)*g.StrideH+(g.KH-1)*g.DilH+1)
	d.wp = max(g.W+g.PadW, (d.wo-1)*g.StrideW+(g.KW-1)*g.DilW+1)
	d.cpad = roundUp(g.C, asm.ConvTapsCols)
	d.opad = roundUp(g.OutC, asm.ConvTapsRows)
	d.cs = convPixelStride(g.C)
	d.img = d.hp * d.wp * d.cs
	d.nb = min(g.N, max(1, convWGradChunkBytes/(4*d.img)))
	chunks := (g.N + d.nb - 1) / d.nb
	d.workers = max(1, min(runtime.GOMAXPROCS(0), chunks))
	d.pixels = d.nb * d.ho * d.wo
	for kh := range g.KH {
		for kw := range g.KW {
			d.taps = append(d.taps, (kh*g.DilH*d.wp+kw*g.DilW)*d.cs)
		}
		lo, hi := d.ho, 0
		for oh := range d.ho {
			if p := oh*g.StrideH + kh*g.DilH; p >= g.PadH && p < g.PadH+g.H {
				lo, hi = min(lo, oh), max(hi, oh+1)
			}
		}
		d.rows = append(d.rows, [2]int{lo, max(lo, hi)})
	}
	d.gradSize = len(d.taps) * d.opad * d.cpad
	return d
}

// work is the products d computes as a fraction of im2col's.
func (d *directWGrad) work() float64 {
	n := 0
	for _, r := range d.rows {
		n += r[1] - r[0]
	}
	return float64(n) / float64(len(d.rows)*d.ho)
}

// run adds the weight gradient of dy and x to dw.
func (d *directWGrad) run(dw, dy, x []float32) {
	g := d.g
	chunks := (g.N + d.nb - 1) / d.nb
	grads := make([][]float32, d.workers)
	pooled := make([]*[]float32, d.workers)
	runParts(d.workers, func(wi int) {
		grads[wi], pooled[wi] = convScratch(nil, d.gradSize)
		clear(grads[wi])
		// The last pixel's last block of channels may read past the image
		// when C is not a multiple of 32: into columns that are dropped.
		in, inPooled := convScratch(nil, d.nb*d.img+asm.ConvTapsCols)
		defer convRelease(inPooled)
		clear(in)
		// The rows past OutC in dy's last tile are never written: they only
		// reach the gradient's rows past OutC, which are dropped.
		apk, apkPooled := convScratch(nil, d.opad*d.pixels)
		defer convRelease(apkPooled)
		tmp, tmpPooled := convScratch(nil, max(g.C*g.H*g.W, asm.ConvTapsRows*d.ho*d.wo))
		defer convRelease(tmpPooled)
		off := make([]int, d.pixels)
		for ci := wi; ci < chunks; ci += d.workers {
			n0 := ci * d.nb
			d.chunk(grads[wi], dy, x, n0, min(d.nb, g.N-n0), in, apk, tmp, off)
		}
	})
	// dw[co][ci][t] += Σ_threads grad[t][co][ci], over the threads by
	// output channel.
	kk := len(d.taps)
	convParallel(runtime.GOMAXPROCS(0), g.OutC, g.C*kk*d.workers, func(lo, hi int) {
		for co := lo; co < hi; co++ {
			for ci := range g.C {
				dst := dw[(co*g.C+ci)*kk:][:kk]
				for _, gr := range grads {
					for t := range dst {
						dst[t] += gr[(t*d.opad+co)*d.cpad+ci]
					}
				}
			}
		}
	})
	for _, p := range pooled {
		convRelease(p)
	}
}

func (d *directWGrad) chunk(grad, dy, x []float32, n0, nb int, in, apk, tmp []float32, off []int) {
	g := d.g
	per := d.ho * d.wo
	toPaddedNHWC(in, x, n0, nb, g.C, d.cs, g.H, g.W, d.hp, d.wp, g.PadH, g.PadW, tmp)
	// dy packed by tiles of 12 output channels, pixel by pixel: tile i of
	// pixel q at apk[i*astride+12*q:], pixel (n, oh, ow) being q =
	// (oh*nb+n)*wo+ow.
	const nr, nc = asm.ConvTapsRows, asm.ConvTapsCols
	astride := nr * d.pixels
	row := nr * d.wo // floats of one image's output row of a tile
	for n := range nb {
		dyn := dy[(n0+n)*g.OutC*per:][:g.OutC*per]
		for co0 := 0; co0 < g.OutC; co0 += nr {
			asm.Transpose(min(nr, g.OutC-co0), per, dyn[co0*per:], per, tmp, nr)
			dst := apk[co0/nr*astride:]
			for oh := range d.ho {
				copy(dst[(oh*nb+n)*row:][:row], tmp[oh*row:][:row])
			}
		}
	}
	for oh := range d.ho {
		for n := range nb {
			for ow := range d.wo {
				off[(oh*nb+n)*d.wo+ow] = n*d.img + (oh*g.StrideH*d.wp+ow*g.StrideW)*d.cs
			}
		}
	}
	tiles := d.opad / nr
	for t, tap := range d.taps {
		r := d.rows[t/g.KW]
		end := r[1] * nb * d.wo
		for cb := 0; cb < d.cpad; cb += nc {
			for p0 := r[0] * nb * d.wo; p0 < end; p0 += convWGradPixels {
				k := min(convWGradPixels, end-p0)
				asm.WeightGradTiles(tiles, k, apk[nr*p0:], astride, in[tap+cb:], off[p0:p0+k],
					grad[t*d.opad*d.cpad+cb:], d.cpad)
			}
		}
	}

}
