// Package backendtest is the conformance suite every tensor.Backend must
// pass. Each kernel is checked against a float64 reference written here
// from the definition, on odd sizes, offsets and broadcast shapes, with the
// per-kernel tolerance stated beside the check. A backend's own test calls
// Run with an opened backend:
//
//	func TestConformance(t *testing.T) { backendtest.Run(t, myBackend) }
package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/halo-ml/halo/tensor"
)

// Run checks every kernel of b.
func Run(t *testing.T, b tensor.Backend) {
	t.Run("UploadDownload", func(t *testing.T) { testUploadDownload(t, b) })
	t.Run("Gemm", func(t *testing.T) { testGemm(t, b) })
	t.Run("Im2colCol2im", func(t *testing.T) { testIm2col(t, b) })
	t.Run("Map", func(t *testing.T) { testMap(t, b) })
	t.Run("MapBackward", func(t *testing.T) { testMapBackward(t, b) })
	t.Run("Binary", func(t *testing.T) { testBinary(t, b) })
	t.Run("Reduce", func(t *testing.T) { testReduce(t, b) })
	t.Run("BatchNorm", func(t *testing.T) { testBatchNorm(t, b) })
	t.Run("Adam", func(t *testing.T) { testAdam(t, b) })
	if err := b.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func randVals(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func upload(b tensor.Backend, v []float32) tensor.Buffer {
	buf := b.Alloc(len(v))
	b.Upload(buf, 0, v)
	return buf
}

func download(b tensor.Backend, buf tensor.Buffer) []float32 {
	out := make([]float32, buf.Len())
	if err := b.Sync(); err != nil {
		panic(err)
	}
	b.Download(out, buf, 0)
	return out
}

// within reports |got-want| <= tol*(1+|want|), treating NaN as equal to NaN.
func within(got float32, want, tol float64) bool {
	if math.IsNaN(want) {
		return got != got
	}
	if math.IsInf(want, 0) {
		return float64(got) == want
	}
	return math.Abs(float64(got)-want) <= tol*(1+math.Abs(want))
}

func testUploadDownload(t *testing.T, b tensor.Backend) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 7, 64, 1001} {
		buf := b.Alloc(n + 5)
		if got := download(b, buf); len(got) != n+5 {
			t.Fatalf("Alloc(%d) holds %d values", n+5, len(got))
		} else {
			for i, v := range got {
				if v != 0 {
					t.Fatalf("Alloc(%d): value %d is %g, want 0", n+5, i, v)
				}
			}
		}
		v := randVals(r, n)
		b.Upload(buf, 3, v)
		out := make([]float32, n)
		b.Download(out, buf, 3)
		for i := range v {
			if out[i] != v[i] {
				t.Fatalf("n=%d: value %d came back as %g, want %g", n, i, out[i], v[i])
			}
		}
	}
}

func testGemm(t *testing.T, b tensor.Backend) {
	r := rand.New(rand.NewPCG(2, 2))
	type shape struct{ m, n, k, batch int }
	shapes := []shape{{1, 1, 1, 1}, {5, 17, 3, 1}, {13, 31, 29, 3}, {64, 65, 66, 1}, {7, 200, 1, 2}, {100, 3, 300, 1}}
	for _, s := range shapes {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-1, -0.25}} {
					g := tensor.GemmArgs{TransA: ta, TransB: tb, M: s.m, N: s.n, K: s.k, Alpha: ab[0], Beta: ab[1], Batch: s.batch}
					ar, ac := s.m, s.k
					if ta {
						ar, ac = s.k, s.m
					}
					br, bc := s.k, s.n
					if tb {
						br, bc = s.n, s.k
					}
					g.Lda, g.Ldb, g.Ldc = ac+1, bc+2, s.n+3
					g.OffA, g.OffB, g.OffC = 2, 1, 5
					g.StrideA, g.StrideB, g.StrideC = ar*g.Lda+3, br*g.Ldb, s.m*g.Ldc+1
					av := randVals(r, g.OffA+s.batch*g.StrideA)
					bv := randVals(r, g.OffB+s.batch*g.StrideB)
					cv := randVals(r, g.OffC+s.batch*g.StrideC)
					want := make([]float64, len(cv))
					for i, v := range cv {
						want[i] = float64(v)
					}
					for p := range s.batch {
						for i := range s.m {
							for j := range s.n {
								var sum float64
								for q := range s.k {
									var x, y float32
									if ta {
										x = av[g.OffA+p*g.StrideA+q*g.Lda+i]
									} else {
										x = av[g.OffA+p*g.StrideA+i*g.Lda+q]
									}
									if tb {
										y = bv[g.OffB+p*g.StrideB+j*g.Ldb+q]
									} else {
										y = bv[g.OffB+p*g.StrideB+q*g.Ldb+j]
									}
									sum += float64(x) * float64(y)
								}
								ci := g.OffC + p*g.StrideC + i*g.Ldc + j
								want[ci] = float64(g.Alpha)*sum + float64(g.Beta)*float64(cv[ci])
							}
						}
					}
					a, bb, c := upload(b, av), upload(b, bv), upload(b, cv)
					b.Gemm(g, a, bb, c)
					got := download(b, c)
					tol := 2e-6 * math.Sqrt(float64(s.k)+1)
					for i := range got {
						if !within(got[i], want[i], tol) {
							t.Fatalf("%+v: C value %d = %g, want %g", g, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// im2colRef is the column matrix by its definition in tensor's conv docs.
func im2colRef(g tensor.ConvGeom, img []float32) []float32 {
	shape := g.ImageShape()
	c, h, w := shape[1], shape[2], shape[3]
	rows, cols := g.ColRows(), g.ColCols()
	n := shape[0]
	ch, cw := 0, 0
	if n > 0 {
		ch = cols / n
	}
	// the column side's width: the output of a conv, the input of a transposed one
	if g.Transposed {
		ch, cw = g.H, g.W
	} else {
		ch, cw = g.OutH(), g.OutW()
	}
	col := make([]float32, rows*cols)
	for r := range rows {
		ci, kh, kw := r/(g.KH*g.KW), r%(g.KH*g.KW)/g.KW, r%g.KW
		for j := range cols {
			ni, oh, ow := j/(ch*cw), j%(ch*cw)/cw, j%cw
			ih := oh*g.StrideH - g.PadH + kh*g.DilH
			iw := ow*g.StrideW - g.PadW + kw*g.DilW
			if ih >= 0 && ih < h && iw >= 0 && iw < w {
				col[r*cols+j] = img[((ni*c+ci)*h+ih)*w+iw]
			}
		}
	}
	return col
}

func testIm2col(t *testing.T, b tensor.Backend) {
	r := rand.New(rand.NewPCG(3, 3))
	geoms := []tensor.ConvGeom{
		{N: 2, C: 3, H: 7, W: 6, OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1},
		{N: 1, C: 2, H: 9, W: 11, OutC: 5, KH: 5, KW: 3, StrideH: 2, StrideW: 3, PadH: 2, PadW: 0, DilH: 1, DilW: 2},
		{N: 3, C: 4, H: 5, W: 4, OutC: 2, KH: 3, KW: 2, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, DilH: 2, DilW: 1, OutPadH: 1, Transposed: true},
	}
	for _, g := range geoms {
		g.Validate()
		shape := g.ImageShape()
		nimg := shape[0] * shape[1] * shape[2] * shape[3]
		img := randVals(r, nimg)
		want := im2colRef(g, img)
		col := b.Alloc(len(want))
		b.Im2col(g, upload(b, img), col)
		got := download(b, col)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%v: Im2col value %d = %g, want %g", g, i, got[i], want[i])
			}
		}
		// Col2im is the adjoint of Im2col and accumulates:
		// <im2col(x), c> = <x, col2im(c) - x0> for any start x0.
		cv := randVals(r, len(want))
		x0 := randVals(r, nimg)
		imgBuf := upload(b, x0)
		b.Col2im(g, upload(b, cv), imgBuf)
		back := download(b, imgBuf)
		var lhs, rhs, mag float64
		for i := range want {
			lhs += float64(want[i]) * float64(cv[i])
			mag += math.Abs(float64(want[i]) * float64(cv[i]))
		}
		for i := range img {
			rhs += float64(img[i]) * (float64(back[i]) - float64(x0[i]))
		}
		if math.Abs(lhs-rhs) > 1e-5*mag {
			t.Fatalf("%v: Col2im is not the adjoint of Im2col: %g vs %g", g, lhs, rhs)
		}
	}
}

type mapCase struct {
	op    tensor.MapOp
	alpha float32
	f     func(x, alpha float64) float64
	df    func(x, alpha float64) float64 // derivative in x
	dom   func(r *rand.Rand) float32     // input domain
}

var normal = func(r *rand.Rand) float32 { return float32(r.NormFloat64() * 2) }
var positive = func(r *rand.Rand) float32 { return float32(0.05 + r.ExpFloat64()) }

var mapCases = []mapCase{
	{tensor.MapCopy, 0, func(x, _ float64) float64 { return x }, func(x, _ float64) float64 { return 1 }, normal},
	{tensor.MapNeg, 0, func(x, _ float64) float64 { return -x }, func(x, _ float64) float64 { return -1 }, normal},
	{tensor.MapScale, -1.5, func(x, a float64) float64 { return a * x }, func(x, a float64) float64 { return a }, normal},
	{tensor.MapAddScalar, 0.75, func(x, a float64) float64 { return x + a }, func(x, a float64) float64 { return 1 }, normal},
	{tensor.MapSquare, 0, func(x, _ float64) float64 { return x * x }, func(x, _ float64) float64 { return 2 * x }, normal},
	{tensor.MapRelu, 0, func(x, _ float64) float64 { return math.Max(x, 0) }, func(x, _ float64) float64 {
		if x > 0 {
			return 1
		}
		return 0
	}, normal},
	{tensor.MapLeakyRelu, 0.2, func(x, a float64) float64 {
		if x > 0 {
			return x
		}
		return a * x
	}, func(x, a float64) float64 {
		if x > 0 {
			return 1
		}
		return a
	}, normal},
	{tensor.MapTanh, 0, func(x, _ float64) float64 { return math.Tanh(x) }, func(x, _ float64) float64 { return 1 / (math.Cosh(x) * math.Cosh(x)) }, normal},
	{tensor.MapSigmoid, 0, func(x, _ float64) float64 { return 1 / (1 + math.Exp(-x)) }, func(x, _ float64) float64 {
		s := 1 / (1 + math.Exp(-x))
		return s * (1 - s)
	}, normal},
	{tensor.MapExp, 0, func(x, _ float64) float64 { return math.Exp(x) }, func(x, _ float64) float64 { return math.Exp(x) }, normal},
	{tensor.MapLog, 0, func(x, _ float64) float64 { return math.Log(x) }, func(x, _ float64) float64 { return 1 / x }, positive},
	{tensor.MapSqrt, 0, func(x, _ float64) float64 { return math.Sqrt(x) }, func(x, _ float64) float64 { return 0.5 / math.Sqrt(x) }, positive},
	{tensor.MapAbs, 0, func(x, _ float64) float64 { return math.Abs(x) }, func(x, _ float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	}, normal},
	{tensor.MapPow, 3, func(x, a float64) float64 { return math.Pow(x, a) }, func(x, a float64) float64 { return a * math.Pow(x, a-1) }, normal},
	{tensor.MapPow, -0.5, func(x, a float64) float64 { return math.Pow(x, a) }, func(x, a float64) float64 { return a * math.Pow(x, a-1) }, positive},
}

func testMap(t *testing.T, b tensor.Backend) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, mc := range mapCases {
		for _, n := range []int{1, 9, 100, 70001} {
			x := make([]float32, n)
			for i := range x {
				x[i] = mc.dom(r)
			}
			xb := upload(b, x)
			yb := b.Alloc(n)
			b.Map(mc.op, mc.alpha, xb, yb)
			y := download(b, yb)
			for i := range x {
				want := mc.f(float64(x[i]), float64(mc.alpha))
				if !within(y[i], want, 4e-7) {
					t.Fatalf("%v n=%d: f(%g) = %g, want %g", mc.op, n, x[i], y[i], want)
				}
			}
			// In place.
			b.Map(mc.op, mc.alpha, xb, xb)
			y2 := download(b, xb)
			for i := range y {
				if y2[i] != y[i] {
					t.Fatalf("%v n=%d in place: value %d = %g, out of place %g", mc.op, n, i, y2[i], y[i])
				}
			}
		}
	}
	// NaN propagates through ReLU.
	xb := upload(b, []float32{float32(math.NaN()), -1, 2})
	yb := b.Alloc(3)
	b.Map(tensor.MapRelu, 0, xb, yb)
	if y := download(b, yb); y[0] == y[0] || y[1] != 0 || y[2] != 2 {
		t.Fatalf("ReLU(NaN, -1, 2) = %v", y)
	}
}

func testMapBackward(t *testing.T, b tensor.Backend) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, mc := range mapCases {
		n := 1037
		x := make([]float32, n)
		for i := range x {
			x[i] = mc.dom(r)
		}
		dy := randVals(r, n)
		xb, yb := upload(b, x), b.Alloc(n)
		b.Map(mc.op, mc.alpha, xb, yb)
		dxb := b.Alloc(n)
		b.MapBackward(mc.op, mc.alpha, xb, yb, upload(b, dy), dxb)
		dx := download(b, dxb)
		for i := range x {
			want := float64(dy[i]) * mc.df(float64(x[i]), float64(mc.alpha))
			if !within(dx[i], want, 2e-6) {
				t.Fatalf("%v: d/dx at %g with dy %g = %g, want %g", mc.op, x[i], dy[i], dx[i], want)
			}
		}
	}
}

// refIndex maps a flat index of shape to the flat index of a broadcast operand.
func refIndex(flat int, shape, opShape []int) int {
	idx, stride := 0, 1
	for d := len(shape) - 1; d >= 0; d-- {
		c := flat % shape[d]
		flat /= shape[d]
		if opShape[d] != 1 {
			idx += c * stride
		}
		stride *= opShape[d]
	}
	return idx
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func testBinary(t *testing.T, b tensor.Backend) {
	r := rand.New(rand.NewPCG(6, 6))
	type tc struct{ x, y, z []int }
	cases := []tc{
		{[]int{37}, []int{37}, []int{37}},
		{[]int{4, 5, 6}, []int{4, 5, 6}, []int{4, 5, 6}},
		{[]int{4, 5, 6}, []int{1, 5, 1}, []int{4, 5, 6}},
		{[]int{3, 1, 7}, []int{1, 4, 7}, []int{3, 4, 7}},
		{[]int{2, 3, 1}, []int{2, 3, 9}, []int{2, 3, 9}},
		{[]int{1}, []int{1}, []int{1}},
		{[]int{5, 1}, []int{1, 1}, []int{5, 1}},
		{[]int{2, 0, 3}, []int{2, 1, 3}, []int{2, 0, 3}},
	}
	ops := map[tensor.BinaryOp]func(a, b float64) float64{
		tensor.BinaryAdd: func(a, b float64) float64 { return a + b },
		tensor.BinarySub: func(a, b float64) float64 { return a - b },
		tensor.BinaryMul: func(a, b float64) float64 { return a * b },
		tensor.BinaryDiv: func(a, b float64) float64 { return a / b },
		tensor.BinaryMax: math.Max,
	}
	for op, f := range ops {
		for _, c := range cases {
			x, y := randVals(r, numel(c.x)), randVals(r, numel(c.y))
			zb := b.Alloc(numel(c.z))
			b.Binary(op, upload(b, x), c.x, upload(b, y), c.y, zb, c.z)
			z := download(b, zb)
			for i := range z {
				a, bb := x[refIndex(i, c.z, c.x)], y[refIndex(i, c.z, c.y)]
				want := float64(float32(f(float64(a), float64(bb))))
				if !within(z[i], want, 1e-7) {
					t.Fatalf("%v %v %v -> %v: value %d = %g, want %g", op, c.x, c.y, c.z, i, z[i], want)
				}
			}
		}
	}
}

func testReduce(t *testing.T, b tensor.Backend) {
	r := rand.New(rand.NewPCG(7, 7))
	type tc struct{ x, y []int }
	cases := []tc{
		{[]int{100}, []int{1}},
		{[]int{6, 7, 8}, []int{1, 7, 8}},
		{[]int{6, 7, 8}, []int{6, 1, 8}},
		{[]int{6, 7, 8}, []int{6, 7, 1}},
		{[]int{6, 7, 8}, []int{1, 7, 1}},
		{[]int{6, 7, 8}, []int{1, 1, 1}},
		{[]int{24, 64, 3, 3}, []int{1, 64, 1, 1}},
		{[]int{5, 3}, []int{5, 3}},
	}
	for _, op := range []tensor.ReduceOp{tensor.ReduceSum, tensor.ReduceMax} {
		for _, c := range cases {
			x := randVals(r, numel(c.x))
			want := make([]float64, numel(c.y))
			mag := make([]float64, len(want))
			for i := range want {
				if op == tensor.ReduceMax {
					want[i] = math.Inf(-1)
				}
			}
			for i, v := range x {
				j := refIndex(i, c.x, c.y)
				if op == tensor.ReduceSum {
					want[j] += float64(v)
					mag[j] += math.Abs(float64(v))
				} else {
					want[j] = math.Max(want[j], float64(v))
				}
			}
			yb := b.Alloc(len(want))
			b.Reduce(op, upload(b, x), c.x, yb, c.y)
			y := download(b, yb)
			for i := range y {
				if math.Abs(float64(y[i])-want[i]) > 1e-6*(mag[i]+1) {
					t.Fatalf("%v %v -> %v: value %d = %g, want %g", op, c.x, c.y, i, y[i], want[i])
				}
			}
		}
	}
}

// bnRef is batch norm by its definition, in float64.
func bnRef(a tensor.BatchNormArgs, x, gamma, beta, rm, rv []float32) (y, mean, invStd, newRM, newRV []float64) {
	m := a.N * a.HW
	y = make([]float64, len(x))
	mean, invStd = make([]float64, a.C), make([]float64, a.C)
	newRM, newRV = make([]float64, a.C), make([]float64, a.C)
	for c := range a.C {
		var s, ss float64
		at := func(n, i int) int { return (n*a.C+c)*a.HW + i }
		for n := range a.N {
			for i := range a.HW {
				s += float64(x[at(n, i)])
			}
		}
		mu := s / float64(m)
		for n := range a.N {
			for i := range a.HW {
				d := float64(x[at(n, i)]) - mu
				ss += d * d
			}
		}
		v := ss / float64(m)
		mom := float64(a.Momentum)
		if a.Training {
			newRM[c] = (1-mom)*float64(rm[c]) + mom*mu
			newRV[c] = (1-mom)*float64(rv[c]) + mom*ss/float64(m-1)
		} else {
			mu, v = float64(rm[c]), float64(rv[c])
			newRM[c], newRV[c] = mu, v
		}
		mean[c], invStd[c] = mu, 1/math.Sqrt(v+float64(a.Eps))
		for n := range a.N {
			for i := range a.HW {
				y[at(n, i)] = (float64(x[at(n, i)])-mu)*invStd[c]*float64(gamma[c]) + float64(beta[c])
			}
		}
	}
	return
}

func testBatchNorm(t *testing.T, b tensor.Backend) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, dims := range [][3]int{{4, 3, 5}, {7, 5, 1}, {2, 6, 49}} {
		for _, training := range []bool{true, false} {
			a := tensor.BatchNormArgs{N: dims[0], C: dims[1], HW: dims[2], Eps: 1e-5, Training: training, Momentum: 0.1}
			n := a.N * a.C * a.HW
			x := randVals(r, n)
			for i := range x {
				x[i] = x[i]*3 + 1
			}
			gamma, beta := randVals(r, a.C), randVals(r, a.C)
			rm, rv := randVals(r, a.C), make([]float32, a.C)
			for i := range rv {
				rv[i] = 0.5 + r.Float32()
			}
			wantY, wantMean, wantInv, wantRM, wantRV := bnRef(a, x, gamma, beta, rm, rv)
			xb, gb, bb := upload(b, x), upload(b, gamma), upload(b, beta)
			rmb, rvb := upload(b, rm), upload(b, rv)
			smb, sib, yb := b.Alloc(a.C), b.Alloc(a.C), b.Alloc(n)
			b.BatchNorm(a, xb, gb, bb, rmb, rvb, smb, sib, yb)
			check := func(name string, got []float32, want []float64, tol float64) {
				t.Helper()
				for i := range want {
					if !within(got[i], want[i], tol) {
						t.Fatalf("%+v: %s[%d] = %g, want %g", a, name, i, got[i], want[i])
					}
				}
			}
			check("y", download(b, yb), wantY, 1e-5)
			check("saveMean", download(b, smb), wantMean, 1e-6)
			check("saveInvStd", download(b, sib), wantInv, 1e-6)
			check("runMean", download(b, rmb), wantRM, 1e-6)
			check("runVar", download(b, rvb), wantRV, 1e-6)

			// Backward against central differences of the float64 reference
			// of L = sum(y * w) for a random w.
			w := randVals(r, n)
			loss := func(x, gamma, beta []float32) float64 {
				y, _, _, _, _ := bnRef(a, x, gamma, beta, rm, rv)
				var s float64
				for i := range y {
					s += y[i] * float64(w[i])
				}
				return s
			}
			dxb, dgb, dbb := b.Alloc(n), b.Alloc(a.C), b.Alloc(a.C)
			b.BatchNormBackward(a, xb, upload(b, w), gb, smb, sib, dxb, dgb, dbb)
			dx, dg, db := download(b, dxb), download(b, dgb), download(b, dbb)
			fd := func(v []float32, i int) float64 {
				const h = 1e-2
				orig := v[i]
				v[i] = orig + h
				lp := loss(x, gamma, beta)
				v[i] = orig - h
				lm := loss(x, gamma, beta)
				v[i] = orig
				return (lp - lm) / (2 * h)
			}
			for _, i := range []int{0, n / 3, n - 1} {
				if want := fd(x, i); math.Abs(float64(dx[i])-want) > 2e-3*(1+math.Abs(want)) {
					t.Fatalf("%+v: dx[%d] = %g, finite difference %g", a, i, dx[i], want)
				}
			}
			for c := range a.C {
				if want := fd(gamma, c); math.Abs(float64(dg[c])-want) > 2e-3*(1+math.Abs(want)) {
					t.Fatalf("%+v: dgamma[%d] = %g, finite difference %g", a, c, dg[c], want)
				}
				if want := fd(beta, c); math.Abs(float64(db[c])-want) > 2e-3*(1+math.Abs(want)) {
					t.Fatalf("%+v: dbeta[%d] = %g, finite difference %g", a, c, db[c], want)
				}
			}
		}
	}
}

// String helps failure messages name geometries.
var _ = fmt.Sprint

// testAdam runs three Adam steps against a float64 reference of
// torch.optim.Adam's update.
func testAdam(t *testing.T, b tensor.Backend) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, wd := range []float64{0, 0.01} {
		n := 70001
		p := randVals(r, n)
		pb, mb, vb := upload(b, p), b.Alloc(n), b.Alloc(n)
		ref := make([]float64, n)
		for i, v := range p {
			ref[i] = float64(v)
		}
		m, v := make([]float64, n), make([]float64, n)
		a := tensor.AdamArgs{LR: 1e-2, Beta1: 0.5, Beta2: 0.999, Eps: 1e-8, WeightDecay: wd}
		for step := 1; step <= 3; step++ {
			g := randVals(r, n)
			g[0] = 0 // a zero gradient moves only by weight decay and momentum
			a.Step = step
			b.Adam(a, pb, upload(b, g), mb, vb)
			bc1 := 1 - math.Pow(a.Beta1, float64(step))
			bc2 := 1 - math.Pow(a.Beta2, float64(step))
			for i := range ref {
				gi := float64(g[i]) + wd*ref[i]
				m[i] = a.Beta1*m[i] + (1-a.Beta1)*gi
				v[i] = a.Beta2*v[i] + (1-a.Beta2)*gi*gi
				ref[i] -= a.LR / bc1 * m[i] / (math.Sqrt(v[i])/math.Sqrt(bc2) + a.Eps)
			}
		}
		got := download(b, pb)
		for i := range ref {
			// The update is a ratio of moments, so compare with the step size.
			if math.Abs(float64(got[i])-ref[i]) > 1e-6*(1+math.Abs(ref[i]))+1e-5*a.LR {
				t.Fatalf("weight decay %g: p[%d] = %.9g after 3 steps, want %.9g", wd, i, got[i], ref[i])
			}
		}
	}
}
