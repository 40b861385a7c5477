package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/halo-ml/halo/asm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// benchShape is one GEMM of the benchmark set: C[M,N] = A[M,K] B[K,N].
type benchShape struct {
	name    string
	m, n, k int
}

// benchShapes mirrors the shapes of the side-by-side anchor script
// (bench/gemm.py): square sizes, the rotating-MNIST and Sprites encoder
// convolutions as im2col GEMMs (M = Cout, K = Cin*k*k, N = frames*Hout*Wout,
// frames reduced so one call is at most maxGflop GFLOP), and two linear layers.
func benchShapes(maxGflop float64) []benchShape {
	var out []benchShape
	for _, n := range []int{128, 256, 512, 1024, 2048} {
		out = append(out, benchShape{fmt.Sprintf("square_%d", n), n, n, n})
	}
	convs := []struct {
		name                             string
		frames, h, w, cin, cout, k, s, p int
	}{
		{"rotmnist_conv1", 384, 28, 28, 1, 32, 5, 2, 2},
		{"rotmnist_conv2", 384, 14, 14, 32, 64, 5, 2, 2},
		{"rotmnist_conv3", 384, 7, 7, 64, 128, 5, 2, 2},
		{"sprites_conv1", 192, 64, 64, 3, 256, 5, 1, 2},
		{"sprites_conv2", 192, 64, 64, 256, 256, 5, 2, 2},
		{"sprites_conv3", 192, 32, 32, 256, 256, 5, 2, 2},
		{"sprites_conv4", 192, 16, 16, 256, 256, 5, 2, 2},
		{"sprites_conv5", 192, 8, 8, 256, 256, 5, 1, 2},
	}
	for _, c := range convs {
		ho, wo := (c.h+2*c.p-c.k)/c.s+1, (c.w+2*c.p-c.k)/c.s+1
		m, k := c.cout, c.cin*c.k*c.k
		perFrame := 2 * float64(m) * float64(k) * float64(ho*wo) / 1e9
		frames := c.frames
		if maxGflop > 0 && perFrame*float64(frames) > maxGflop {
			frames = max(1, int(maxGflop/perFrame))
		}
		out = append(out, benchShape{c.name, m, frames * ho * wo, k})
	}
	out = append(out,
		benchShape{"linear_384x2048x4096", 384, 4096, 2048},
		benchShape{"linear_384x4096x256", 384, 256, 4096})
	return out
}

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
	for _, s := range benchShapes(50) {
		var a, bm, c []float32 // made on first use, so -bench filters stay cheap
		for _, impl := range asm.Impls() {
			for _, threads := range []int{1, 2} {
				if impl == asm.ImplGeneric && (s.m*s.n*s.k > 1<<30 || threads > 1) {
					continue // the twin is benchmarked single-threaded on the smaller shapes
				}
				b.Run(fmt.Sprintf("impl=%s/threads=%d/%s", impl, threads, s.name), func(b *testing.B) {
					was := asm.SetImpl(impl)
					defer asm.SetImpl(was)
					if a == nil {
						r := rand.New(rand.NewPCG(1, 2))
						a, bm, c = randomSlice(r, s.m*s.k), randomSlice(r, s.k*s.n), make([]float32, s.m*s.n)
					}
					withProcs(threads, func() {
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n)
						}
						reportGflops(b, 2*float64(s.m)*float64(s.n)*float64(s.k))
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
	for _, s := range benchShapes(50) {
		if s.m*s.n*s.k > 1<<30 {
			continue
		}
		b.Run(fmt.Sprintf("impl=gonum/threads=1/%s", s.name), func(b *testing.B) {
			a, bm, c := randomSlice(r, s.m*s.k), randomSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			withProcs(1, func() {
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					impl.Sgemm(blas.NoTrans, blas.NoTrans, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n)
				}
				reportGflops(b, 2*float64(s.m)*float64(s.n)*float64(s.k))
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

// BenchmarkSgemmTwinVsGonum compares the pure-Go twin with gonum's Sgemm
// (its SSE assembly unless built with -tags noasm) on one thread, side by
// side: each iteration runs both once per shape, and the metric is the
// ratio of their fastest times ("xgonum", gonum's time over the twin's:
// above 1 the twin is faster), so machine noise hits both alike. Run with
// -benchtime Nx.
func BenchmarkSgemmTwinVsGonum(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var impl gonum.Implementation
	for _, s := range benchShapes(5) {
		if s.m*s.n*s.k > 1<<30 {
			continue
		}
		b.Run(s.name, func(b *testing.B) {
			a, bm, c := randomSlice(r, s.m*s.k), randomSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			was := asm.SetImpl(asm.ImplGeneric)
			defer asm.SetImpl(was)
			withProcs(1, func() {
				var twin, anchor time.Duration
				for range b.N {
					start := time.Now()
					Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n)
					if d := time.Since(start); twin == 0 || d < twin {
						twin = d
					}
					start = time.Now()
					impl.Sgemm(blas.NoTrans, blas.NoTrans, s.m, s.n, s.k, 1, a, s.k, bm, s.n, 0, c, s.n)
					if d := time.Since(start); anchor == 0 || d < anchor {
						anchor = d
					}
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)/twin.Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(anchor.Seconds()/twin.Seconds(), "xgonum")
			})
		})
	}
}
