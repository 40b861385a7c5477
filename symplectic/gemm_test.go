package symplectic

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// forEachKernel runs f once per product kernel available here: the assembly
// (where the CPU has it) and the generic twin.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, generic := range []bool{false, true} {
		name := "generic"
		if !generic {
			name = "avx2fma"
		}
		t.Run(name, func(t *testing.T) {
			was := setGeneric(generic)
			t.Cleanup(func() { setGeneric(was) })
			if !generic && kernelImpl() != "avx2fma" {
				t.Skip("no AVX2+FMA kernels on this CPU or build")
			}
			f(t)
		})
	}
}

// TestGemm compares gemm with a plain triple loop over every tile edge
// combination, strided operands and both modes, and checks that no value
// outside C's m×n window is written.
func TestGemm(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 1))
		shapes := [][3]int{}
		for m := 1; m <= 13; m++ {
			for _, n := range []int{1, 3, 4, 5, 7, 8, 9, 12, 13, 17} {
				shapes = append(shapes, [3]int{m, n, 1 + rng.IntN(11)})
			}
		}
		shapes = append(shapes, [3]int{12, 12, 12}, [3]int{36, 36, 36}, [3]int{72, 72, 72}, [3]int{25, 19, 0}, [3]int{30, 44, 70})
		for _, sh := range shapes {
			m, n, k := sh[0], sh[1], sh[2]
			for _, acc := range []bool{false, true} {
				lda, ldb, ldc := k+rng.IntN(3), n+rng.IntN(3), n+rng.IntN(3)
				a := randSlice(rng, m*lda+1)
				b := randSlice(rng, k*ldb+1)
				c := randSlice(rng, m*ldc+2)
				want := append([]float64(nil), c...)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var s float64
						for p := 0; p < k; p++ {
							s += a[i*lda+p] * b[p*ldb+j]
						}
						if acc {
							s += want[i*ldc+j]
						}
						want[i*ldc+j] = s
					}
				}
				gemm(m, n, k, a, lda, b, ldb, c, ldc, acc)
				for idx := range c {
					i, j := idx/ldc, idx%ldc
					inside := i < m && j < n
					if !inside {
						if c[idx] != want[idx] {
							t.Fatalf("m=%d n=%d k=%d acc=%v: wrote outside C at %d", m, n, k, acc, idx)
						}
						continue
					}
					var abs float64
					for p := 0; p < k; p++ {
						abs += math.Abs(a[i*lda+p] * b[p*ldb+j])
					}
					if acc {
						abs += math.Abs(want[idx])
					}
					if d := math.Abs(c[idx] - want[idx]); d > 4*float64(k+1)*eps*abs {
						t.Fatalf("m=%d n=%d k=%d acc=%v: C[%d,%d] = %v, want %v", m, n, k, acc, i, j, c[idx], want[idx])
					}
				}
			}
		}
	})
}

func randSlice(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = rng.NormFloat64()
	}
	return s
}

func BenchmarkGemm(b *testing.B) {
	for _, n := range []int{12, 24, 36, 72, 128} {
		rng := rand.New(rand.NewPCG(2, 2))
		x, y, z := randSlice(rng, n*n), randSlice(rng, n*n), make([]float64, n*n)
		for _, generic := range []bool{false, true} {
			name := "avx2fma"
			if generic {
				name = "generic"
			}
			b.Run(fmt.Sprintf("impl=%s/n=%d", name, n), func(b *testing.B) {
				was := setGeneric(generic)
				defer setGeneric(was)
				if !generic && kernelImpl() != "avx2fma" {
					b.Skip("no assembly kernels")
				}
				for b.Loop() {
					gemm(n, n, n, x, n, y, n, z, n, false)
				}
				b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
