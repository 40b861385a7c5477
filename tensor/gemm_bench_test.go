package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/halo-ml/halo/asm"
	"github.com/halo-ml/halo/internal/gemmshapes"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

func randomSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32() - 0.5
	}
	return s
}

// withProcs runs f with GOMAXPROCS set to n, the thread count Sgemm uses.
func withProcs(n int, f func()) {
	old := runtime.GOMAXPROCS(n)
	defer runtime.GOMAXPROCS(old)
	f()
}

func reportGflops(b *testing.B, flops float64) {
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm times Sgemm per kernel family and thread count on the
// anchor's shapes. Compare with bench/gemm.py run in the same sitting.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range gemmshapes.List(50) {
		var a, bm, c []float32 // made on first use, so -bench filters stay cheap
		for _, impl := range asm.Impls() {
			for _, threads := range []int{1, 2} {
				if impl == asm.ImplGeneric && (s.M*s.N*s.K > 1<<30 || threads > 1) {
					continue // the twin is benchmarked single-threaded on the smaller shapes
				}
				b.Run(fmt.Sprintf("impl=%s/threads=%d/%s", impl, threads, s.Name), func(b *testing.B) {
					was := asm.SetImpl(impl)
					defer asm.SetImpl(was)
					if a == nil {
						r := rand.New(rand.NewPCG(1, 2))
						a, bm, c = randomSlice(r, s.M*s.K), randomSlice(r, s.K*s.N), make([]float32, s.M*s.N)
					}
					withProcs(threads, func() {
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							Sgemm(false, false, s.M, s.N, s.K, 1, a, s.K, bm, s.N, 0, c, s.N)
						}
						reportGflops(b, 2*float64(s.M)*float64(s.N)*float64(s.K))
					})
				})
			}
		}
	}
}

// BenchmarkSgemmGonum is the anchor for the pure-Go twin: gonum's Sgemm on
// the same shapes, on one thread (GOMAXPROCS=1, which gonum also follows).
func BenchmarkSgemmGonum(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var impl gonum.Implementation
	for _, s := range gemmshapes.List(50) {
		if s.M*s.N*s.K > 1<<30 {
			continue
		}
		b.Run(fmt.Sprintf("impl=gonum/threads=1/%s", s.Name), func(b *testing.B) {
			a, bm, c := randomSlice(r, s.M*s.K), randomSlice(r, s.K*s.N), make([]float32, s.M*s.N)
			withProcs(1, func() {
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					impl.Sgemm(blas.NoTrans, blas.NoTrans, s.M, s.N, s.K, 1, a, s.K, bm, s.N, 0, c, s.N)
				}
				reportGflops(b, 2*float64(s.M)*float64(s.N)*float64(s.K))
			})
		})
	}
}

// BenchmarkFMAPeak is the physical ceiling of one core with 256-bit (AVX2)
// and 512-bit (AVX-512) FMAs, measured in the same run as BenchmarkSgemm so
// the ratios are taken on the same machine state.
func BenchmarkFMAPeak(b *testing.B) {
	for _, width := range []int{256, 512} {
		b.Run(fmt.Sprintf("width=%d", width), func(b *testing.B) {
			peak := asm.FMAPeak
			if width == 512 {
				peak = asm.FMAPeakAVX512
			}
			if peak(1) == 0 {
				b.Skipf("no %d-bit FMA here", width)
			}
			flops := 0
			for i := 0; i < b.N; i++ {
				flops += peak(1 << 16)
			}
			b.ReportMetric(float64(flops)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmVsPeak measures the bars in one run: each iteration
// times the FMA peak loops (256- and 512-bit) and Sgemm on one and on two
// threads, one after the other, and the metrics are ratios of their best
// times: "xpeak512" and "xpeak256", one thread's GFLOP/s over the peak's,
// and "x2threads", two threads' over one's. Taking the best of each in
// alternation keeps the noise of a shared machine out of the ratios, which
// the means of separate benchmarks let in. Run with -benchtime Nx.
func BenchmarkSgemmVsPeak(b *testing.B) {
	for _, n := range []int{1024, 2048} {
		b.Run(fmt.Sprintf("square_%d", n), func(b *testing.B) {
			if asm.FMAPeakAVX512(1) == 0 {
				b.Skip("no 512-bit FMA here")
			}
			r := rand.New(rand.NewPCG(1, 2))
			a, bm, c := randomSlice(r, n*n), randomSlice(r, n*n), make([]float32, n*n)
			flops := 2 * float64(n) * float64(n) * float64(n)
			rate := func(f func() float64) float64 {
				start := time.Now()
				w := f()
				return w / time.Since(start).Seconds() / 1e9
			}
			gemm := func() float64 {
				Sgemm(false, false, n, n, n, 1, a, n, bm, n, 0, c, n)
				return flops
			}
			var p256, p512, one, two float64
			for range b.N {
				p256 = max(p256, rate(func() float64 { return float64(asm.FMAPeak(1 << 22)) }))
				p512 = max(p512, rate(func() float64 { return float64(asm.FMAPeakAVX512(1 << 22)) }))
				withProcs(1, func() { one = max(one, rate(gemm)) })
				withProcs(2, func() { two = max(two, rate(gemm)) })
			}
			b.ReportMetric(one, "GFLOP/s")
			b.ReportMetric(one/p512, "xpeak512")
			b.ReportMetric(one/p256, "xpeak256")
			b.ReportMetric(two/one, "x2threads")
		})
	}
}

// BenchmarkSgemmTwinVsGonum compares the pure-Go twin with gonum's Sgemm
// (its SSE assembly unless built with -tags noasm) on one thread, side by
// side: each iteration runs both once per shape, and the metric is the
// ratio of their fastest times ("xgonum", gonum's time over the twin's:
// above 1 the twin is faster), so machine noise hits both alike. Run with
// -benchtime Nx.
func BenchmarkSgemmTwinVsGonum(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var impl gonum.Implementation
	for _, s := range gemmshapes.List(5) {
		if s.M*s.N*s.K > 1<<30 {
			continue
		}
		b.Run(s.Name, func(b *testing.B) {
			a, bm, c := randomSlice(r, s.M*s.K), randomSlice(r, s.K*s.N), make([]float32, s.M*s.N)
			was := asm.SetImpl(asm.ImplGeneric)
			defer asm.SetImpl(was)
			withProcs(1, func() {
				var twin, anchor time.Duration
				for range b.N {
					start := time.Now()
					Sgemm(false, false, s.M, s.N, s.K, 1, a, s.K, bm, s.N, 0, c, s.N)
					if d := time.Since(start); twin == 0 || d < twin {
						twin = d
					}
					start = time.Now()
					impl.Sgemm(blas.NoTrans, blas.NoTrans, s.M, s.N, s.K, 1, a, s.K, bm, s.N, 0, c, s.N)
					if d := time.Since(start); anchor == 0 || d < anchor {
						anchor = d
					}
				}
				b.ReportMetric(2*float64(s.M)*float64(s.N)*float64(s.K)/twin.Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(anchor.Seconds()/twin.Seconds(), "xgonum")
			})
		})
	}
}

// BenchmarkSgemmAfterIdle times two-thread products made soon after the
// process sat idle, as a training loop's first products after loading
// data are. Each iteration pauses 100 ms, makes one untimed product and
// then six timed ones ("idle"); then six products per iteration run back
// to back ("hot"). The metrics are the medians' GFLOP/s. Both were below
// one thread's speed when a worker shared the caller's CPU (see
// leaveCPU); compare builds by running their test binaries in turn.
// Run with -benchtime Nx.
func BenchmarkSgemmAfterIdle(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{256, 512} {
		b.Run(fmt.Sprintf("square_%d", n), func(b *testing.B) {
			a, bm, c := randomSlice(r, n*n), randomSlice(r, n*n), make([]float32, n*n)
			product := func() time.Duration {
				start := time.Now()
				Sgemm(false, false, n, n, n, 1, a, n, bm, n, 0, c, n)
				return time.Since(start)
			}
			withProcs(2, func() {
				var idle, hot []time.Duration
				for range b.N {
					time.Sleep(100 * time.Millisecond)
					product()
					for range 6 {
						idle = append(idle, product())
					}
				}
				for range 6 * b.N {
					hot = append(hot, product())
				}
				slices.Sort(idle)
				slices.Sort(hot)
				gf := 2 * float64(n*n*n) / 1e9
				mi, mh := idle[len(idle)/2].Seconds(), hot[len(hot)/2].Seconds()
				b.ReportMetric(gf/mi, "idle-GFLOP/s")
				b.ReportMetric(gf/mh, "hot-GFLOP/s")
			})
		})
	}
}
