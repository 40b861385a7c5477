package asm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSgemmKernel times the micro-kernel alone on panels that stay in
// L1/L2, so its GFLOP/s is the ceiling the blocked GEMM can reach.
func BenchmarkSgemmKernel(b *testing.B) {
	for _, impl := range []string{"avx2fma", "generic"} {
		for _, k := range []int{64, 256, 384} {
			b.Run(fmt.Sprintf("impl=%s/k=%d", impl, k), func(b *testing.B) {
				was := SetGeneric(impl == "generic")
				defer SetGeneric(was)
				if Impl() != impl {
					b.Skipf("%s not available", impl)
				}
				r := rand.New(rand.NewPCG(1, 1))
				a := make([]float32, k*MR)
				bp := make([]float32, k*NR)
				randSlice(r, a)
				randSlice(r, bp)
				c := make([]float32, MR*NR)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					SgemmKernel6x16(k, a, bp, c, NR, 1, 1)
				}
				b.ReportMetric(float64(2*MR*NR*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkFMAPeak measures the FMA throughput of one core (fp32, 8 lanes),
// the physical limit the GEMM benchmarks are compared with.
func BenchmarkFMAPeak(b *testing.B) {
	was := SetGeneric(false)
	defer SetGeneric(was)
	if Impl() != "avx2fma" {
		b.Skip("no AVX2/FMA here")
	}
	const iters = 1 << 16
	flops := 0
	for i := 0; i < b.N; i++ {
		flops += FMAPeak(iters)
	}
	b.ReportMetric(float64(flops)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
