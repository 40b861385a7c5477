package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// forEachImpl runs f once per kernel family, as subtests named after the
// family, restoring the start-up choice afterwards. Families the CPU lacks
// are reported as skipped.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	avail := map[string]bool{}
	for _, impl := range Impls() {
		avail[impl] = true
	}
	for _, impl := range []string{ImplAVX512, ImplAVX2FMA, ImplGeneric} {
		t.Run(impl, func(t *testing.T) {
			if !avail[impl] {
				t.Skipf("%s kernels not available here (%s)", impl, Why())
			}
			was := SetImpl(impl)
			t.Cleanup(func() { SetImpl(was) })
			f(t)
		})
	}
}

// guarded returns a slice of n values starting at offset off inside a larger
// buffer filled with a sentinel, and a function that reports whether any
// element outside [off, off+n) changed.
func guarded(n, off int) (s []float32, intact func() bool) {
	const band = 37
	buf := make([]float32, off+n+band)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	s = buf[off : off+n : off+n]
	return s, func() bool {
		for i, v := range buf {
			if (i < off || i >= off+n) && !math.IsNaN(float64(v)) {
				return false
			}
		}
		return true
	}
}

func randSlice(r *rand.Rand, s []float32) {
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
}

func TestSgemmKernel6x16(t *testing.T) {
	forEachImpl(t, func(t *testing.T) { testKernel(t, MR, NR, MR, SgemmKernel6x16) })
}

// TestSgemmKernel checks the kernel of each family at its own tile shape.
func TestSgemmKernel(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		mr, nr := KernelShape()
		testKernel(t, mr, nr, mr, SgemmKernel)
	})
}

// TestSgemmKernelRows checks the kernel for the first rows of a tile, at
// every row count of each family's tile: rows past the count are neither
// read nor written (C ends after the last row computed).
func TestSgemmKernelRows(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		mr, nr := KernelShape()
		for rows := 1; rows <= mr; rows++ {
			t.Run(fmt.Sprintf("rows=%d", rows), func(t *testing.T) {
				testKernel(t, mr, nr, rows, func(k int, a, b, c []float32, ldc int, alpha, beta float32) {
					SgemmKernelRows(rows, k, a, b, c, ldc, alpha, beta)
				})
			})
		}
	})
}

// testKernel checks a kernel that computes the first rows rows of an MR x NR
// tile from panels of MR rows against a float64 reference.
func testKernel(t *testing.T, MR, NR, rows int, kernel func(k int, a, b, c []float32, ldc int, alpha, beta float32)) {
	{
		r := rand.New(rand.NewPCG(1, 2))
		ks := []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 31, 64, 255, 257}
		scalars := []float32{0, 1, -0.75}
		for _, k := range ks {
			for _, alpha := range scalars {
				for _, beta := range scalars {
					for _, ldc := range []int{NR, NR + 3} {
						off := r.IntN(8)
						a, aok := guarded(k*MR, off)
						b, bok := guarded(k*NR, (off+3)%8)
						randSlice(r, a)
						randSlice(r, b)
						a0 := append([]float32(nil), a...)
						b0 := append([]float32(nil), b...)
						c, cok := guarded((rows-1)*ldc+NR, off)
						for i := range c {
							c[i] = float32(math.NaN()) // padding between rows must survive
						}
						for i := 0; i < rows; i++ {
							randSlice(r, c[i*ldc:i*ldc+NR])
						}
						if beta == 0 {
							for i := 0; i < rows; i++ {
								for j := 0; j < NR; j++ {
									c[i*ldc+j] = float32(math.NaN()) // must not be read
								}
							}
						}
						c0 := append([]float32(nil), c...)
						kernel(k, a, b, c, ldc, alpha, beta)
						for i := 0; i < rows; i++ {
							for j := 0; j < NR; j++ {
								var s, mag float64
								for p := 0; p < k; p++ {
									v := float64(a0[p*MR+i]) * float64(b0[p*NR+j])
									s += v
									mag += math.Abs(v)
								}
								want := float64(alpha) * s
								if beta != 0 {
									want += float64(beta) * float64(c0[i*ldc+j])
									mag = math.Abs(float64(alpha))*mag + math.Abs(float64(beta)*float64(c0[i*ldc+j]))
								} else {
									mag *= math.Abs(float64(alpha))
								}
								got := float64(c[i*ldc+j])
								if math.Abs(got-want) > 1e-6*(mag+1)*float64(k+1) || math.IsNaN(got) {
									t.Fatalf("k=%d alpha=%g beta=%g ldc=%d: c[%d,%d]=%g, want %g", k, alpha, beta, ldc, i, j, got, want)
								}
							}
							for j := NR; j < ldc && i < rows-1; j++ {
								if !math.IsNaN(float64(c[i*ldc+j])) {
									t.Fatalf("k=%d ldc=%d: padding c[%d,%d] written", k, ldc, i, j)
								}
							}
						}
						if !aok() || !bok() || !cok() {
							t.Fatalf("k=%d: guard band written", k)
						}
						for i := range a {
							if a[i] != a0[i] {
								t.Fatalf("k=%d: A panel modified", k)
							}
						}
						for i := range b {
							if b[i] != b0[i] {
								t.Fatalf("k=%d: B panel modified", k)
							}
						}
					}
				}
			}
		}
	}
}

// TestSgemmKernelTwins checks the assembly against the generic twin on the
// same inputs, so a bug shared by the reference check above cannot hide.
func TestSgemmKernelTwins(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		if Impl() == ImplGeneric {
			t.Skip("the generic kernel is the twin")
		}
		MR, NR := KernelShape()
		r := rand.New(rand.NewPCG(3, 4))
		for _, k := range []int{1, 6, 17, 100, 384} {
			a := make([]float32, k*MR)
			b := make([]float32, k*NR)
			randSlice(r, a)
			randSlice(r, b)
			c1 := make([]float32, MR*NR)
			c2 := make([]float32, MR*NR)
			randSlice(r, c1)
			copy(c2, c1)
			SgemmKernel(k, a, b, c1, NR, 1.5, -0.5)
			sgemmKernelGenericShape(MR, NR, k, a, b, c2, NR, 1.5, -0.5)
			for i := range c1 {
				if d := math.Abs(float64(c1[i] - c2[i])); d > 2e-5*math.Sqrt(float64(k))*(1+math.Abs(float64(c2[i]))) {
					t.Fatalf("k=%d: asm %g, generic %g at %d", k, c1[i], c2[i], i)
				}
			}
		}
	})
}
