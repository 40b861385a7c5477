package tensor

import (
	"runtime"
	"sync"

	"github.com/halo-ml/halo/asm"
	"github.com/klauspost/cpuid/v2"
)

// gemmBlocks are the BLIS blocking of one micro-kernel: its tile (mr x nr),
// and the cache blocks: a kc x nr micro-panel of B and a mr x kc micro-panel
// of A share L1, an mc x kc block of A sits in L2, and a kc x nc panel of B
// in L3.
//
// l2 is the L2 cache's size in bytes, for gemmSerial's panels of B when
// A is small.
type gemmBlocks struct{ mr, nr, mc, kc, nc, l2 int }

// currentBlocks returns the blocking for the micro-kernel in use.
func currentBlocks() gemmBlocks {
	mr, nr := asm.KernelShape()
	if mr == asm.MR && nr == asm.NR {
		return blocks6x16
	}
	return chooseBlocks(mr, nr, cpuid.CPU.Cache.L1D, cpuid.CPU.Cache.L2)
}

var blocks6x16 = chooseBlocks(asm.MR, asm.NR, cpuid.CPU.Cache.L1D, cpuid.CPU.Cache.L2)

// chooseBlocks derives the block sizes for an mr x nr kernel from the
// per-core cache sizes in bytes (-1 when unknown), keeping each inside the
// range where it was measured to pay (see BenchmarkSgemm).
func chooseBlocks(mr, nr, l1d, l2 int) gemmBlocks {
	if l1d <= 0 {
		l1d = 32 << 10
	}
	if l2 <= 0 {
		l2 = 256 << 10
	}
	// The B micro-panel, reused by every tile of a row of tiles, takes two
	// thirds of L1; the A block takes an eighth of L2, so B's panel and the
	// C tiles stay cached beside it.
	kc := l1d * 2 / 3 / (nr * 4) / 16 * 16
	kc = min(max(kc, 128), 384)
	mc := l2 / 8 / (kc * 4) / mr * mr
	mc = min(max(mc, 8*mr), 40*mr)
	return gemmBlocks{mr: mr, nr: nr, mc: mc, kc: kc, nc: 4096 / nr * nr, l2: l2}
}

// matA is op(A) as the driver sees it: something that packs a block of
// itself into MR-row micro-panels.
type matA interface {
	// packA writes rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) to dst
	// as ceil(mc/mr) micro-panels of kc columns of mr values, zero-padding
	// the rows past mc.
	packA(dst []float32, i0, mc, p0, kc, mr int)
}

// matB is op(B) as the driver sees it. Dense matrices implement it, and so
// can implicit ones such as an im2col view of an image, which then never
// has to be materialised.
type matB interface {
	// packB writes rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) to dst
	// as ceil(nc/nr) micro-panels of kc rows of nr values, zero-padding the
	// columns past nc.
	packB(dst []float32, p0, kc, j0, nc, nr int)
}

// denseA is a row-major matrix A (or A^T when trans) used as the left operand.
type denseA struct {
	data  []float32
	ld    int
	trans bool
}

func (a denseA) packA(dst []float32, i0, mc, p0, kc, mr int) {
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		panel := dst[(ir/mr)*kc*mr : (ir/mr+1)*kc*mr]
		if !a.trans {
			// op(A)[i, p] = a[i*ld+p]: gather one value from each of mr rows.
			if rows == mr && mr%6 == 0 {
				// Six rows at a time, each read front to back.
				for h := 0; h < mr; h += 6 {
					first := (i0+ir+h)*a.ld + p0
					r0 := a.data[first:][:kc]
					r1 := a.data[first+a.ld:][:kc]
					r2 := a.data[first+2*a.ld:][:kc]
					r3 := a.data[first+3*a.ld:][:kc]
					r4 := a.data[first+4*a.ld:][:kc]
					r5 := a.data[first+5*a.ld:][:kc]
					for p := range kc {
						d := panel[p*mr+h : p*mr+h+6 : p*mr+h+6]
						d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
					}
				}
				continue
			}
			clear(panel)
			for r := range rows {
				row := a.data[(i0+ir+r)*a.ld+p0:][:kc]
				for p, v := range row {
					panel[p*mr+r] = v
				}
			}
			continue
		}
		// op(A)[i, p] = a[p*ld+i]: mr contiguous values per column p.
		if rows == mr {
			// As 16-byte moves: copy would call memmove for each 24 or 48
			// bytes, which took 9% of a Conv2d's input gradient.
			for p := range kc {
				src := a.data[(p0+p)*a.ld+i0+ir:][:mr]
				d := panel[p*mr : p*mr+mr]
				h := 0
				for ; h+4 <= mr; h += 4 {
					*(*[4]float32)(d[h:]) = *(*[4]float32)(src[h:])
				}
				for ; h < mr; h++ {
					d[h] = src[h]
				}
			}
			continue
		}
		for p := range kc {
			src := a.data[(p0+p)*a.ld+i0+ir:][:rows]
			d := panel[p*mr : p*mr+mr]
			copy(d, src)
			clear(d[rows:])
		}
	}
}

// denseB is a row-major matrix B (or B^T when trans) used as the right operand.
type denseB struct {
	data  []float32
	ld    int
	trans bool
}

func (b denseB) packB(dst []float32, p0, kc, j0, nc, nr int) {
	if !b.trans {
		b.packRows(dst, p0, kc, j0, nc, nr)
		return
	}
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		panel := dst[(jr/nr)*kc*nr : (jr/nr+1)*kc*nr]
		// op(B)[p, j] = b[j*ld+p]: the panel is nr rows of B transposed.
		if cols < nr {
			clear(panel)
		}
		asm.Transpose(cols, kc, b.data[(j0+jr)*b.ld+p0:], b.ld, panel, nr)
	}
}

// packRows packs op(B) = B, whose rows hold nr contiguous values per
// micro-panel, with asm.CutPanels: B is read front to back, a few rows at
// a time. Walking down one micro-panel's columns instead jumps a row of B
// per 128 bytes, which the hardware prefetchers do not follow, and took as
// long as the multiplication itself on a 128x2058x3200 product.
func (b denseB) packRows(dst []float32, p0, kc, j0, nc, nr int) {
	cutRows(dst, b.data[p0*b.ld+j0:], b.ld, 0, kc, kc, nc, nr)
}

// gemmBuffers holds one goroutine's packing space.
type gemmBuffers struct{ a, b []float32 }

var bufferPool sync.Pool // *gemmBuffers

// getBuffers returns packing space large enough for the blocking bs.
func getBuffers(bs gemmBlocks) *gemmBuffers {
	na, nb := roundUp(bs.mc, bs.mr)*bs.kc, roundUp(bs.nc, bs.nr)*bs.kc
	buf, _ := bufferPool.Get().(*gemmBuffers)
	if buf == nil {
		buf = &gemmBuffers{}
	}
	if len(buf.a) < na {
		buf.a = make([]float32, na)
	}
	if len(buf.b) < nb {
		buf.b = make([]float32, nb)
	}
	return buf
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// parallelFlops is the work (m*n*k, about 160^3) below which one goroutine
// does it all: a worker that has gone to sleep takes longer to wake than it
// would save. (Back-to-back benchmarks, which keep the workers awake, gain
// from splitting down to 100^3; the demo's training did not.)
var parallelFlops = 1 << 22 // a variable so tests can force splits of small shapes

// gemmSmallAPanels keeps B's panels within half of L2 where A is small
// (gemmSerial); a variable so benchmarks can compare.
var gemmSmallAPanels = true

// sgemm is Sgemm without the argument checks.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(m, n, k, alpha, denseA{a, lda, transA}, denseB{b, ldb, transB}, beta, c, ldc, runtime.GOMAXPROCS(0))
}

// gemm computes C = alpha*op(A)*op(B) + beta*C for m x n C, splitting C over
// up to threads goroutines along the dimension with more tiles. Each
// goroutine runs the whole BLIS loop nest on its band with its own packing
// buffers, so they never wait for each other; the operand not split is packed
// by each. (Packing a shared B panel together instead costs two barriers per
// panel, and measured slower: 134-164 against 185-189 GFLOP/s at 2048^3.)
func gemm(m, n, k int, alpha float32, a matA, b matB, beta float32, c []float32, ldc int, threads int) {
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	bs := currentBlocks()
	mr, nr := bs.mr, bs.nr
	tilesM, tilesN := (m+mr-1)/mr, (n+nr-1)/nr
	byColumns := tilesN >= tilesM
	if threads > 1 && m*n*k >= parallelFlops {
		if byColumns {
			threads = min(threads, tilesN)
		} else {
			threads = min(threads, tilesM)
		}
	} else {
		threads = 1
	}
	if threads == 1 {
		gemmSerial(bs, 0, m, 0, n, k, alpha, a, b, beta, c, ldc)
		return
	}
	runParts(threads, func(t int) {
		i0, i1, j0, j1 := 0, m, 0, n
		if byColumns {
			j0, j1 = min(n, t*tilesN/threads*nr), min(n, (t+1)*tilesN/threads*nr)
		} else {
			i0, i1 = min(m, t*tilesM/threads*mr), min(m, (t+1)*tilesM/threads*mr)
		}
		if i0 < i1 && j0 < j1 {
			gemmSerial(bs, i0, i1, j0, j1, k, alpha, a, b, beta, c, ldc)
		}
	})
}

// gemmSerial runs the BLIS loop nest for the block C[i0:i1, j0:j1].
func gemmSerial(bs gemmBlocks, i0, i1, j0, j1, k int, alpha float32, a matA, b matB, beta float32, c []float32, ldc int) {
	// Rows a little past one block of A go in one larger block: a second
	// block of a few rows would stream all of B's panel through the cache
	// again for one row of tiles (M = 256 against mc = 252 cost 2-3%).
	if m := i1 - i0; m > bs.mc && m <= bs.mc+bs.mc/4 {
		bs.mc = roundUp(m, bs.mr)
	}
	// A small (a few rows of tiles, a quarter of L2 in all: the output
	// channels of a small convolution as a GEMM): each of B's
	// micro-panels serves only those tiles, so it is not worth reading
	// back from L3; B's panel is kept to half of L2 instead, and A is
	// packed again for each from L2. With rotating-MNIST conv2 (m = 64,
	// k = 800, n = 18816; alternated, one thread) the pure-Go kernel took
	// 0.965-0.983 of the time, the AVX2 one 0.87-0.90 and the AVX-512 one
	// 0.90-0.95. Larger A, packed again from L3: the 256-row Sprites
	// products took 1.03, and some 128-channel layers' GEMMs (A of 1.6 MB)
	// looked slower too.
	if m := i1 - i0; (m+bs.mr-1)/bs.mr <= 12 && 4*m*k <= bs.l2/4 && gemmSmallAPanels {
		kc := min(k, bs.kc)
		if nc := bs.l2 / 2 / (4 * kc) / bs.nr * bs.nr; nc >= 8*bs.nr && nc < bs.nc {
			bs.nc = nc
		}
	}
	buf := getBuffers(bs)
	defer bufferPool.Put(buf)
	for jc := j0; jc < j1; jc += bs.nc {
		nc := min(bs.nc, j1-jc)
		for pc := 0; pc < k; pc += bs.kc {
			kc := min(bs.kc, k-pc)
			b.packB(buf.b, pc, kc, jc, nc, bs.nr)
			bt := beta
			if pc > 0 {
				bt = 1
			}
			for ic := i0; ic < i1; ic += bs.mc {
				mc := min(bs.mc, i1-ic)
				a.packA(buf.a, ic, mc, pc, kc, bs.mr)
				macroKernel(bs.mr, bs.nr, mc, nc, kc, alpha, buf.a, buf.b, bt, c[ic*ldc+jc:], ldc)
			}
		}
	}
}

// macroKernel multiplies a packed mc x kc block of A by a packed kc x nc
// panel of B into C (which starts at the block's corner) with the mr x nr
// micro-kernel in use. Full tiles go straight to the micro-kernel, and so
// do tiles of a last row short of mr rows (asm.SgemmKernelRows); tiles
// short of nr columns are computed whole into a scratch tile.
func macroKernel(mr, nr, mc, nc, kc int, alpha float32, ap, bp []float32, beta float32, c []float32, ldc int) {
	var tile [asm.MaxMR * asm.MaxNR]float32
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		bpanel := bp[(jr/nr)*kc*nr:]
		for ir := 0; ir < mc; ir += mr {
			rows := min(mr, mc-ir)
			apanel := ap[(ir/mr)*kc*mr:]
			if cols == nr {
				if rows == mr {
					asm.SgemmKernel(kc, apanel, bpanel, c[ir*ldc+jr:], ldc, alpha, beta)
				} else {
					asm.SgemmKernelRows(rows, kc, apanel, bpanel, c[ir*ldc+jr:], ldc, alpha, beta)
				}
				continue
			}
			// The whole tile into scratch: SgemmKernelRows would go through
			// a scratch tile of its own for most heights, copying twice.
			asm.SgemmKernel(kc, apanel, bpanel, tile[:], nr, alpha, 0)
			for i := range rows {
				dst := c[(ir+i)*ldc+jr:][:cols]
				src := tile[i*nr:][:cols]
				if beta == 0 {
					copy(dst, src)
				} else {
					for j := range dst {
						dst[j] = src[j] + beta*dst[j]
					}
				}
			}
		}
	}
}

// scaleMatrix sets C = beta*C, writing zeros without reading C when beta is 0.
func scaleMatrix(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc:][:n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
