package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/halo-ml/halo/asm"
)

// forEachImpl runs f with each kernel family (AVX-512, AVX2, pure Go),
// reporting the ones this CPU lacks as skipped.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, impl := range []string{asm.ImplAVX512, asm.ImplAVX2FMA, asm.ImplGeneric} {
		t.Run(impl, func(t *testing.T) {
			if !slices.Contains(asm.Impls(), impl) {
				t.Skipf("%s kernels not available: %s", impl, asm.Why())
			}
			was := asm.SetImpl(impl)
			t.Cleanup(func() { asm.SetImpl(was) })
			f(t)
		})
	}
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	padA, padB     int // extra columns of stride
	padC           int
}

// runGemmCase runs Sgemm (or gemm with a forced thread count) on random data
// in guarded buffers and compares with the float64 triple loop.
func runGemmCase(t *testing.T, r *rand.Rand, tc gemmCase, threads int) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := max(1, ac+tc.padA), max(1, bc+tc.padB), max(1, tc.n+tc.padC)
	const guard = 19
	mk := func(rows, ld int) ([]float32, []float32) {
		buf := make([]float32, rows*ld+2*guard)
		for i := range buf {
			buf[i] = float32(r.NormFloat64())
		}
		return buf, buf[guard : guard+rows*ld]
	}
	abuf, a := mk(ar, lda)
	bbuf, b := mk(br, ldb)
	cbuf, c := mk(tc.m, ldc)
	if tc.beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	a0 := append([]float32(nil), abuf...)
	b0 := append([]float32(nil), bbuf...)
	c0 := append([]float32(nil), cbuf...)
	want := append([]float32(nil), c...)
	sgemmNaive(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	if threads == 0 {
		Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	} else {
		gemm(tc.m, tc.n, tc.k, tc.alpha, denseA{a, lda, tc.transA}, denseB{b, ldb, tc.transB}, tc.beta, c, ldc, threads)
	}
	for i := range abuf {
		if abuf[i] != a0[i] && !(math.IsNaN(float64(a0[i]))) {
			t.Fatalf("%+v: A modified at %d", tc, i)
		}
	}
	for i := range bbuf {
		if bbuf[i] != b0[i] {
			t.Fatalf("%+v: B modified at %d", tc, i)
		}
	}
	for i := range cbuf {
		if i < guard || i >= guard+len(c) {
			if cbuf[i] != c0[i] {
				t.Fatalf("%+v: guard band of C written at %d", tc, i)
			}
		}
	}
	tol := 1e-5 * math.Sqrt(float64(tc.k+1))
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			got, w := c[i*ldc+j], want[i*ldc+j]
			if j >= tc.n {
				if got != c0[guard+i*ldc+j] && !(math.IsNaN(float64(got)) && math.IsNaN(float64(c0[guard+i*ldc+j]))) {
					t.Fatalf("%+v: stride padding C[%d,%d] written", tc, i, j)
				}
				continue
			}
			if math.IsNaN(float64(got)) || math.Abs(float64(got-w)) > tol*(1+math.Abs(float64(w))) {
				t.Fatalf("%+v threads=%d: C[%d,%d] = %g, want %g", tc, threads, i, j, got, w)
			}
		}
	}
}

func TestSgemmSmallShapes(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 7))
		mr, nr := asm.KernelShape()
		scalars := []float32{0, 1, -1.25}
		for m := 0; m <= 2*mr; m++ {
			for n := 0; n <= 2*nr; n++ {
				for _, k := range []int{0, 1, 3, 8, 17} {
					tc := gemmCase{
						transA: r.IntN(2) == 0, transB: r.IntN(2) == 0,
						m: m, n: n, k: k,
						alpha: scalars[r.IntN(3)], beta: scalars[r.IntN(3)],
						padA: r.IntN(3), padB: r.IntN(3), padC: r.IntN(3),
					}
					runGemmCase(t, r, tc, 0)
				}
			}
		}
	})
}

func TestSgemmAllVariants(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(8, 8))
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, alpha := range []float32{0, 1, 0.5} {
					for _, beta := range []float32{0, 1, -2} {
						runGemmCase(t, r, gemmCase{transA: ta, transB: tb, m: 23, n: 37, k: 29, alpha: alpha, beta: beta, padA: 1, padC: 2}, 0)
					}
				}
			}
		}
	})
}

// TestSgemmLarge crosses every block boundary (kc, mc, nc) and the thread
// split, including odd remainders.
func TestSgemmLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large shapes are slow against the float64 reference")
	}
	r := rand.New(rand.NewPCG(9, 9))
	forEachImpl(t, func(t *testing.T) {
		bs := currentBlocks()
		// B's panels of a short A (gemmSerial): several, the last partial.
		smallNC := bs.l2 / 2 / (4 * bs.kc) / bs.nr * bs.nr
		shapes := []gemmCase{
			{m: bs.mc + 7, n: 2*bs.nr + 5, k: bs.kc + 13, alpha: 1, beta: 0},
			{m: 5*bs.mr + 3, n: 2*smallNC + bs.nr + 5, k: bs.kc + 13, alpha: 1, beta: 0.5},
			{transA: true, m: 2*bs.mc + 1, n: 41, k: 2*bs.kc + 1, alpha: -0.5, beta: 1},
			{transB: true, m: 13, n: bs.nc + 19, k: 37, alpha: 1, beta: 0.5},
			{transA: true, transB: true, m: 101, n: 203, k: bs.kc - 1, alpha: 2, beta: 0, padA: 3, padB: 5, padC: 1},
		}
		for _, tc := range shapes {
			for _, threads := range []int{1, 2, 3, 5} {
				runGemmCase(t, r, tc, threads)
			}
		}
	})
}

// TestSgemmThreadSplits forces goroutine splits on small shapes, where each
// part is a few tiles or less.
func TestSgemmThreadSplits(t *testing.T) {
	was := parallelFlops
	parallelFlops = 0
	t.Cleanup(func() { parallelFlops = was })
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(10, 10))
		for _, threads := range []int{2, 3, 4, 7} {
			for _, mn := range [][2]int{{1, 100}, {100, 1}, {7, 33}, {50, 50}, {13, 17}, {300, 40}, {40, 300}} {
				tc := gemmCase{m: mn[0], n: mn[1], k: 65 + threads*100, alpha: 1, beta: 1, transA: threads%2 == 0, transB: threads == 3}
				runGemmCase(t, r, tc, threads)
			}
		}
	})
}

func TestSgemmBetaZeroIgnoresNaN(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		// alpha == 0 and beta == 0: C becomes exactly zero, A and B unread.
		c := []float32{float32(math.NaN()), float32(math.Inf(1)), 3, 4}
		a := []float32{float32(math.NaN()), 1}
		Sgemm(false, false, 2, 2, 1, 0, a, 1, []float32{1, 2}, 2, 0, c, 2)
		for i, v := range c {
			if v != 0 {
				t.Fatalf("c[%d] = %g, want 0", i, v)
			}
		}
	})
}

func TestSgemmPanicsNameShapes(t *testing.T) {
	cases := []struct {
		name string
		f    func()
		want []string
	}{
		{"short A", func() {
			Sgemm(false, false, 3, 2, 4, 1, make([]float32, 11), 4, make([]float32, 8), 2, 0, make([]float32, 6), 2)
		}, []string{"A too short", "op(A) 3x4", "op(B) 4x2", "C 3x2"}},
		{"bad ldb", func() {
			Sgemm(false, true, 3, 2, 4, 1, make([]float32, 12), 4, make([]float32, 8), 3, 0, make([]float32, 6), 2)
		}, []string{"ldb smaller", "B stored 2x4"}},
		{"short C", func() {
			Sgemm(true, false, 3, 2, 4, 1, make([]float32, 12), 3, make([]float32, 8), 2, 0, make([]float32, 5), 2)
		}, []string{"C too short", "A stored 4x3"}},
		{"negative", func() {
			Sgemm(false, false, -1, 2, 4, 1, nil, 4, nil, 2, 0, nil, 2)
		}, []string{"negative dimension", "m=-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg := fmt.Sprint(r)
				if r == nil {
					t.Fatal("no panic")
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Fatalf("panic %q does not mention %q", msg, w)
					}
				}
			}()
			tc.f()
		})
	}
}

func TestChooseBlocks(t *testing.T) {
	for _, shape := range [][2]int{{6, 16}, {12, 32}} {
		mr, nr := shape[0], shape[1]
		for _, tc := range []struct{ l1, l2 int }{{-1, -1}, {32 << 10, 256 << 10}, {48 << 10, 2 << 20}, {1 << 20, 64 << 20}} {
			bs := chooseBlocks(mr, nr, tc.l1, tc.l2)
			if bs.kc < 128 || bs.kc%16 != 0 || bs.mc%mr != 0 || bs.mc < mr || bs.nc%nr != 0 || bs.mr != mr || bs.nr != nr {
				t.Errorf("chooseBlocks(%d, %d, %d, %d) = %+v: not aligned to the tile", mr, nr, tc.l1, tc.l2, bs)
			}
			if bs.kc*(mr+nr)*4 > max(tc.l1, 32<<10) {
				t.Errorf("chooseBlocks(%d, %d, %d, %d) = %+v: micro-panels overflow L1", mr, nr, tc.l1, tc.l2, bs)
			}
		}
	}
}
