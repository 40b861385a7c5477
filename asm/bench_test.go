package asm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// BenchmarkSgemmKernel times the micro-kernel alone on panels that stay in
// L1/L2, so its GFLOP/s is the ceiling the blocked GEMM can reach.
func BenchmarkSgemmKernel(b *testing.B) {
	for _, impl := range Impls() {
		for _, k := range []int{64, 256, 384} {
			b.Run(fmt.Sprintf("impl=%s/k=%d", impl, k), func(b *testing.B) {
				was := SetImpl(impl)
				defer SetImpl(was)
				MR, NR := KernelShape()
				r := rand.New(rand.NewPCG(1, 1))
				a := make([]float32, k*MR)
				bp := make([]float32, k*NR)
				randSlice(r, a)
				randSlice(r, bp)
				c := make([]float32, MR*NR)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					SgemmKernel(k, a, bp, c, NR, 1, 1)
				}
				b.ReportMetric(float64(2*MR*NR*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkFMAPeak measures the FMA throughput of one core (fp32, 8 lanes),
// the physical limit the GEMM benchmarks are compared with.
func BenchmarkFMAPeak(b *testing.B) {
	for _, width := range []int{256, 512} {
		b.Run(fmt.Sprintf("width=%d", width), func(b *testing.B) {
			peak := FMAPeak
			if width == 512 {
				peak = FMAPeakAVX512
			}
			if peak(1) == 0 {
				b.Skipf("no %d-bit FMA kernels here", width)
			}
			const iters = 1 << 16
			flops := 0
			for i := 0; i < b.N; i++ {
				flops += peak(iters)
			}
			b.ReportMetric(float64(flops)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkVec times the vector primitives on an L1-resident and an
// L2-resident length, per kernel family.
func BenchmarkVec(b *testing.B) {
	ops := []struct {
		name string
		f    func(d, x, y []float32)
	}{
		{"Axpy", func(d, x, y []float32) { Axpy(0.5, x, d) }},
		{"Dot", func(d, x, y []float32) { Dot(x, y) }},
		{"Sum", func(d, x, y []float32) { Sum(x) }},
		{"Add", func(d, x, y []float32) { Add(d, x, y) }},
		{"Mul", func(d, x, y []float32) { Mul(d, x, y) }},
		{"Relu", func(d, x, y []float32) { Relu(d, x) }},
		{"LeakyReluBackward", func(d, x, y []float32) { LeakyReluBackward(d, x, y, 0.2) }},
	}
	for _, o := range ops {
		for _, n := range []int{2048, 65536} {
			for _, impl := range []string{ImplAVX2FMA, ImplGeneric} {
				b.Run(fmt.Sprintf("op=%s/impl=%s/n=%d", o.name, impl, n), func(b *testing.B) {
					if !slices.Contains(Impls(), impl) {
						b.Skipf("%s not available", impl)
					}
					was := SetImpl(impl)
					defer SetImpl(was)
					r := rand.New(rand.NewPCG(1, 1))
					d, x, y := make([]float32, n), make([]float32, n), make([]float32, n)
					randSlice(r, x)
					randSlice(r, y)
					b.SetBytes(int64(4 * n))
					for i := 0; i < b.N; i++ {
						o.f(d, x, y)
					}
				})
			}
		}
	}
}

// BenchmarkTranspose times Transpose of 32 rows of 256 values into a panel
// of 32 columns, the transposed GEMM packing's shape, per kernel family.
// The metric is nanoseconds per element.
func BenchmarkTranspose(b *testing.B) {
	const m, n = 32, 256
	for _, impl := range Impls() {
		b.Run("impl="+impl, func(b *testing.B) {
			was := SetImpl(impl)
			defer SetImpl(was)
			r := rand.New(rand.NewPCG(1, 1))
			src, dst := make([]float32, m*n), make([]float32, n*m)
			randSlice(r, src)
			for i := 0; i < b.N; i++ {
				Transpose(m, n, src, n, dst, m)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(m*n), "ns/element")
		})
	}
}

// BenchmarkCutPanels times CutPanels of a 256 x 4096 block of a wider
// matrix into 32-column panels, the packing of B for the AVX-512 kernel,
// per kernel family; the source is larger than the caches, as B is in a
// large product. The metric is nanoseconds per element.
func BenchmarkCutPanels(b *testing.B) {
	const rows, cols, ld, nr, blocks = 256, 4096, 12288, 32, 12
	src := make([]float32, blocks*rows*ld) // 150 MB: each call reads fresh rows
	for i := range src {
		src[i] = float32(i & 1023)
	}
	dst := make([]float32, rows*cols)
	for _, impl := range Impls() {
		b.Run("impl="+impl, func(b *testing.B) {
			was := SetImpl(impl)
			defer SetImpl(was)
			for i := 0; i < b.N; i++ {
				CutPanels(dst, nr, rows*nr, src[i%blocks*rows*ld+i/blocks%3*cols:], ld, rows, cols)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(rows*cols), "ns/element")
		})
	}
}

// BenchmarkScatterAdd times ScatterAdd and ScatterAddDistinct of 2048
// values into a sparse row of pixels (every other one, a ninth of the
// indices padding), as col2im adds a row of a stride-2 convolution's column
// matrix, per kernel family. The metric is nanoseconds per value.
func BenchmarkScatterAdd(b *testing.B) {
	const n = 2048
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(2*i + i/64*100)
		if i%9 == 0 {
			idx[i] = -1
		}
	}
	for _, f := range []struct {
		name string
		add  func(dst, src []float32, idx []int32)
	}{{"ScatterAdd", ScatterAdd}, {"ScatterAddDistinct", ScatterAddDistinct}} {
		for _, impl := range Impls() {
			b.Run(f.name+"/impl="+impl, func(b *testing.B) {
				was := SetImpl(impl)
				defer SetImpl(was)
				r := rand.New(rand.NewPCG(1, 1))
				dst, src := make([]float32, 2*n+n/64*100), make([]float32, n)
				randSlice(r, src)
				for i := 0; i < b.N; i++ {
					f.add(dst, src, idx)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/value")
			})
		}
	}
}

// BenchmarkConvTapsVsSgemmKernel times ConvTaps (one tap of 256 channels,
// 12 pixels 1 KB apart, weights and inputs in L1) and the SGEMM kernel on a
// tile of the same shape and depth, alternated 100 calls at a time, in the
// kernel family in use. The metrics are GFLOP/s of the fastest block of
// each and their ratio (xsgemm: ConvTaps over the SGEMM kernel); the
// machine is shared, so only the best blocks compare. Run with -benchtime Nx
// (N rounds).
func BenchmarkConvTapsVsSgemmKernel(b *testing.B) {
	const kc, calls = 256, 100
	r := rand.New(rand.NewPCG(3, 3))
	x := make([]float32, 12*kc)
	w := make([]float32, kc*ConvTapsCols)
	a := make([]float32, kc*MaxMR)
	c := make([]float32, MaxMR*MaxNR)
	randSlice(r, x)
	randSlice(r, w)
	randSlice(r, a)
	var pix [12]int
	for i := range pix {
		pix[i] = i * kc
	}
	taps := []int{0}
	mr, nr := KernelShape()
	var best [2]float64 // seconds per block
	for i := range b.N {
		start := time.Now()
		for range calls {
			ConvTaps(x, &pix, taps, kc, w, c, ConvTapsCols, false)
		}
		d0 := time.Since(start).Seconds()
		start = time.Now()
		for range calls {
			SgemmKernel(kc, a, w, c, nr, 1, 0)
		}
		d1 := time.Since(start).Seconds()
		if i == 0 || d0 < best[0] {
			best[0] = d0
		}
		if i == 0 || d1 < best[1] {
			best[1] = d1
		}
	}
	conv := float64(2*12*32*kc*calls) / best[0] / 1e9
	gemm := float64(2*mr*nr*kc*calls) / best[1] / 1e9
	b.ReportMetric(conv, "convtaps-GFLOP/s")
	b.ReportMetric(gemm, "sgemm-GFLOP/s")
	b.ReportMetric(conv/gemm, "xsgemm")
}

// BenchmarkWeightGradTilesVsSgemmKernel alternates WeightGradTiles and
// the SGEMM micro-kernel, 100 calls of each at a time, all in the L1 and L2
// caches. A WeightGradTiles call is a column of 11 tiles (132 output
// channels, as the direct weight gradient of a 128-channel layer makes it)
// over 256 pixels whose 32-channel rows lie 144 floats apart (a padded
// 128-channel image); the SGEMM call, 11 tiles of the same depth on packed
// panels. The metrics are the best block of each in GFLOP/s and their ratio
// (xsgemm). Run with -benchtime Nx.
func BenchmarkWeightGradTilesVsSgemmKernel(b *testing.B) {
	const k, tiles, calls, stride = 256, 11, 100, 144
	r := rand.New(rand.NewPCG(4, 4))
	x := make([]float32, k*stride)
	w := make([]float32, k*ConvTapsCols)
	a := make([]float32, tiles*k*MaxMR)
	c := make([]float32, tiles*MaxMR*MaxNR)
	randSlice(r, x)
	randSlice(r, w)
	randSlice(r, a)
	off := make([]int, k)
	for i := range off {
		off[i] = i * stride
	}
	mr, nr := KernelShape()
	var best [2]float64 // seconds per block
	for i := range b.N {
		start := time.Now()
		for range calls {
			WeightGradTiles(tiles, k, a, 12*k, x, off, c, ConvTapsCols)
		}
		d0 := time.Since(start).Seconds()
		start = time.Now()
		for range calls {
			for t := range tiles {
				SgemmKernel(k, a[t*k*mr:], w, c[t*mr*nr:], nr, 1, 0)
			}
		}
		d1 := time.Since(start).Seconds()
		if i == 0 || d0 < best[0] {
			best[0] = d0
		}
		if i == 0 || d1 < best[1] {
			best[1] = d1
		}
	}
	wg := float64(2*12*32*k*tiles*calls) / best[0] / 1e9
	gemm := float64(2*mr*nr*k*tiles*calls) / best[1] / 1e9
	b.ReportMetric(wg, "weightgrad-GFLOP/s")
	b.ReportMetric(gemm, "sgemm-GFLOP/s")
	b.ReportMetric(wg/gemm, "xsgemm")
}
