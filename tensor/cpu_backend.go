package tensor

import (
	"fmt"
	"math"
	"runtime"

	"github.com/halo-ml/halo/asm"
)

// HostBuffer is a Buffer in host memory: the CPU backend's buffers.
type HostBuffer []float32

// Len returns the number of values.
func (b HostBuffer) Len() int { return len(b) }

// cpuBackend runs every kernel on the host through asm/.
type cpuBackend struct{}

var cpuSingleton Backend = cpuBackend{}

// CPU returns the CPU backend. It is always available.
func CPU() Backend { return cpuSingleton }

func init() {
	Register("cpu", func() (Backend, error) { return CPU(), nil })
}

func (cpuBackend) Name() string { return "cpu (" + asm.Impl() + ")" }

func (cpuBackend) Alloc(n int) Buffer { return make(HostBuffer, n) }

// host returns the slice behind a CPU buffer and panics on a foreign one.
func host(op string, b Buffer) []float32 {
	switch v := b.(type) {
	case HostBuffer:
		return v
	case nil:
		return nil
	}
	panic(fmt.Sprintf("tensor: cpu %s: buffer of type %T belongs to another backend", op, b))
}

func (cpuBackend) Upload(dst Buffer, off int, src []float32) {
	d := host("Upload", dst)
	if off < 0 || off+len(src) > len(d) {
		panic(fmt.Sprintf("tensor: cpu Upload: %d values at offset %d into a buffer of %d", len(src), off, len(d)))
	}
	copy(d[off:], src)
}

func (cpuBackend) Download(dst []float32, src Buffer, off int) {
	s := host("Download", src)
	if off < 0 || off+len(dst) > len(s) {
		panic(fmt.Sprintf("tensor: cpu Download: %d values at offset %d from a buffer of %d", len(dst), off, len(s)))
	}
	copy(dst, s[off:])
}

func (cpuBackend) Gemm(g GemmArgs, a, b, c Buffer) {
	ad, bd, cd := host("Gemm", a), host("Gemm", b), host("Gemm", c)
	batch := max(g.Batch, 1)
	if g.OffA < 0 || g.OffB < 0 || g.OffC < 0 || (batch > 1 && (g.StrideA < 0 || g.StrideB < 0 || g.StrideC < 0)) {
		panic(fmt.Sprintf("tensor: cpu Gemm: negative offset or stride in %+v", g))
	}
	sub := func(s []float32, off int) []float32 {
		if off > len(s) {
			return nil // the shape check below reports it
		}
		return s[off:]
	}
	for i := range batch {
		checkGemm(g.TransA, g.TransB, g.M, g.N, g.K, sub(ad, g.OffA+i*g.StrideA), g.Lda,
			sub(bd, g.OffB+i*g.StrideB), g.Ldb, sub(cd, g.OffC+i*g.StrideC), g.Ldc)
	}
	sgemmBatched(g.TransA, g.TransB, g.M, g.N, g.K, g.Alpha, ad[g.OffA:], g.Lda, g.StrideA,
		bd[g.OffB:], g.Ldb, g.StrideB, g.Beta, cd[g.OffC:], g.Ldc, g.StrideC, batch)
}

// SgemmBatched computes C_i = alpha*op(A_i)*op(B_i) + beta*C_i for i < batch,
// where X_i = x[i*strideX:], with Sgemm's semantics for each product. Small
// products run side by side on separate goroutines; large ones one after
// another, each split over GOMAXPROCS goroutines.
func SgemmBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int,
	b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("tensor: SgemmBatched: negative batch %d or stride (%d, %d, %d)", batch, strideA, strideB, strideC))
	}
	for i := range batch {
		at, bt, ct := i*strideA, i*strideB, i*strideC
		if at > len(a) || bt > len(b) || ct > len(c) {
			panic(fmt.Sprintf("tensor: SgemmBatched: product %d of %d starts past the end of a slice (A %d/%d, B %d/%d, C %d/%d)",
				i, batch, at, len(a), bt, len(b), ct, len(c)))
		}
		checkGemm(transA, transB, m, n, k, a[at:], lda, b[bt:], ldb, c[ct:], ldc)
	}
	sgemmBatched(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

func sgemmBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int,
	b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	threads := runtime.GOMAXPROCS(0)
	one := func(i, threads int) {
		gemm(m, n, k, alpha, denseA{a[i*strideA:], lda, transA}, denseB{b[i*strideB:], ldb, transB},
			beta, c[i*strideC:], ldc, threads)
	}
	if batch == 1 || threads == 1 || m*n*k >= 4*parallelFlops {
		for i := range batch {
			one(i, threads)
		}
		return
	}
	parallelFor(batch, threads, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			one(i, 1)
		}
	})
}

// parallelFor splits [0, n) into up to parts contiguous ranges and runs f on
// each in its own goroutine (the last on the caller's).
func parallelFor(n, parts int, f func(lo, hi int)) {
	parts = min(parts, n)
	if parts <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	runParts(parts, func(p int) { f(p*n/parts, (p+1)*n/parts) })
}

// elementwiseGrain is the length below which elementwise kernels stay on one
// goroutine.
const elementwiseGrain = 1 << 15

func parallelElementwise(n int, f func(lo, hi int)) {
	parts := 1
	if n >= 2*elementwiseGrain {
		parts = min(runtime.GOMAXPROCS(0), n/elementwiseGrain)
	}
	parallelFor(n, parts, f)
}

func (cpuBackend) Im2col(g ConvGeom, img, col Buffer) {
	Im2col(g, host("Im2col", img), host("Im2col", col))
}

func (cpuBackend) Col2im(g ConvGeom, col, img Buffer) {
	Col2im(g, host("Col2im", col), host("Col2im", img))
}

func checkSameLen(op string, bufs ...[]float32) {
	for _, b := range bufs[1:] {
		if len(b) != len(bufs[0]) {
			lens := make([]int, len(bufs))
			for i, b := range bufs {
				lens[i] = len(b)
			}
			panic(fmt.Sprintf("tensor: cpu %s: buffer lengths differ: %v", op, lens))
		}
	}
}

func (cpuBackend) Map(op MapOp, alpha float32, x, y Buffer) {
	xs, ys := host("Map", x), host("Map", y)
	checkSameLen("Map "+op.String(), xs, ys)
	parallelElementwise(len(xs), func(lo, hi int) { mapRange(op, alpha, xs[lo:hi], ys[lo:hi]) })
}

func mapRange(op MapOp, alpha float32, x, y []float32) {
	switch op {
	case MapCopy:
		copy(y, x)
	case MapNeg:
		for i, v := range x {
			y[i] = -v
		}
	case MapScale:
		copy(y, x)
		asm.Scale(alpha, y)
	case MapAddScalar:
		for i, v := range x {
			y[i] = v + alpha
		}
	case MapSquare:
		asm.Mul(y, x, x)
	case MapRelu:
		asm.Relu(y, x)
	case MapLeakyRelu:
		asm.LeakyRelu(y, x, alpha)
	case MapTanh:
		for i, v := range x {
			y[i] = float32(math.Tanh(float64(v)))
		}
	case MapSigmoid:
		for i, v := range x {
			y[i] = float32(sigmoid64(float64(v)))
		}
	case MapExp:
		for i, v := range x {
			y[i] = float32(math.Exp(float64(v)))
		}
	case MapLog:
		for i, v := range x {
			y[i] = float32(math.Log(float64(v)))
		}
	case MapSqrt:
		for i, v := range x {
			y[i] = float32(math.Sqrt(float64(v)))
		}
	case MapAbs:
		for i, v := range x {
			y[i] = float32(math.Abs(float64(v)))
		}
	case MapPow:
		a := float64(alpha)
		for i, v := range x {
			y[i] = float32(math.Pow(float64(v), a))
		}
	default:
		panic("tensor: cpu Map: unknown op " + op.String())
	}
}

// sigmoid64 avoids overflow of exp for large |x|.
func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func (cpuBackend) MapBackward(op MapOp, alpha float32, x, y, dy, dx Buffer) {
	xs, ys, dys, dxs := host("MapBackward", x), host("MapBackward", y), host("MapBackward", dy), host("MapBackward", dx)
	checkSameLen("MapBackward "+op.String(), dxs, dys)
	needX := op == MapSquare || op == MapRelu || op == MapLeakyRelu || op == MapLog || op == MapAbs || op == MapPow
	needY := op == MapTanh || op == MapSigmoid || op == MapExp || op == MapSqrt
	if needX {
		checkSameLen("MapBackward "+op.String()+" (x)", dxs, xs)
	}
	if needY {
		checkSameLen("MapBackward "+op.String()+" (y)", dxs, ys)
	}
	parallelElementwise(len(dxs), func(lo, hi int) {
		var xr, yr []float32
		if needX {
			xr = xs[lo:hi]
		}
		if needY {
			yr = ys[lo:hi]
		}
		mapBackwardRange(op, alpha, xr, yr, dys[lo:hi], dxs[lo:hi])
	})
}

func mapBackwardRange(op MapOp, alpha float32, x, y, dy, dx []float32) {
	switch op {
	case MapCopy, MapAddScalar:
		copy(dx, dy)
	case MapNeg:
		for i, g := range dy {
			dx[i] = -g
		}
	case MapScale:
		copy(dx, dy)
		asm.Scale(alpha, dx)
	case MapSquare:
		for i, g := range dy {
			dx[i] = 2 * x[i] * g
		}
	case MapRelu:
		asm.ReluBackward(dx, x, dy)
	case MapLeakyRelu:
		asm.LeakyReluBackward(dx, x, dy, alpha)
	case MapTanh:
		for i, g := range dy {
			dx[i] = g * (1 - y[i]*y[i])
		}
	case MapSigmoid:
		for i, g := range dy {
			dx[i] = g * y[i] * (1 - y[i])
		}
	case MapExp:
		asm.Mul(dx, dy, y)
	case MapLog:
		for i, g := range dy {
			dx[i] = g / x[i]
		}
	case MapSqrt:
		for i, g := range dy {
			dx[i] = g * 0.5 / y[i]
		}
	case MapAbs:
		for i, g := range dy {
			switch v := x[i]; {
			case v > 0:
				dx[i] = g
			case v < 0:
				dx[i] = -g
			default:
				dx[i] = 0
			}
		}
	case MapPow:
		a := float64(alpha)
		for i, g := range dy {
			dx[i] = float32(float64(g) * a * math.Pow(float64(x[i]), a-1))
		}
	default:
		panic("tensor: cpu MapBackward: unknown op " + op.String())
	}
}

// Adam runs the update in float32 per element, as PyTorch's single-tensor
// Adam, with the bias corrections and one minus each beta taken in float64
// and then rounded.
func (cpuBackend) Adam(a AdamArgs, p, g, m, v Buffer) {
	ps, gs, ms, vs := host("Adam", p), host("Adam", g), host("Adam", m), host("Adam", v)
	checkSameLen("Adam", ps, gs, ms, vs)
	if a.Step < 1 {
		panic(fmt.Sprintf("tensor: cpu Adam: step %d < 1", a.Step))
	}
	t := float64(a.Step)
	stepSize := float32(a.LR / (1 - math.Pow(a.Beta1, t)))
	bc2Sqrt := float32(math.Sqrt(1 - math.Pow(a.Beta2, t)))
	b1, b2, c1, c2 := float32(a.Beta1), float32(a.Beta2), float32(1-a.Beta1), float32(1-a.Beta2)
	wd, eps := float32(a.WeightDecay), float32(a.Eps)
	parallelElementwise(len(ps), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := gs[i]
			if wd != 0 {
				gi += wd * ps[i]
			}
			mi := ms[i]*b1 + c1*gi
			vi := vs[i]*b2 + c2*gi*gi
			ms[i], vs[i] = mi, vi
			denom := float32(math.Sqrt(float64(vi)))/bc2Sqrt + eps
			ps[i] -= stepSize * (mi / denom)
		}
	})
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
