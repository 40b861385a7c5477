package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

func randTensor(r *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.data {
		t.data[i] = float32(r.NormFloat64())
	}
	return t
}

func positiveTensor(r *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.data {
		t.data[i] = float32(0.5 + r.Float64())
	}
	return t
}

// awayFromZero moves values out of [-0.05, 0.05], where the kinks of ReLU
// and |x| would spoil central differences.
func awayFromZero(t *Tensor) *Tensor {
	for i, v := range t.data {
		if v > -0.05 && v < 0.05 {
			t.data[i] = 0.1 + v
		}
	}
	return t
}

type gradCase struct {
	name string
	in   []*Tensor
	f    func(tp *Tape, in []*Tensor) *Tensor
	opt  GradCheckOptions
}

func gradCases() []gradCase {
	r := rand.New(rand.NewPCG(1, 2))
	R := func(s ...int) *Tensor { return randTensor(r, s...) }
	P := func(s ...int) *Tensor { return positiveTensor(r, s...) }
	Z := func(s ...int) *Tensor { return awayFromZero(randTensor(r, s...)) }
	u := func(f func(tp *Tape, x *Tensor) *Tensor) func(tp *Tape, in []*Tensor) *Tensor {
		return func(tp *Tape, in []*Tensor) *Tensor { return f(tp, in[0]) }
	}
	b := func(f func(tp *Tape, x, y *Tensor) *Tensor) func(tp *Tape, in []*Tensor) *Tensor {
		return func(tp *Tape, in []*Tensor) *Tensor { return f(tp, in[0], in[1]) }
	}
	probs := New(3, 4)
	for i := range probs.data {
		probs.data[i] = float32(0.1 + 0.8*r.Float64())
	}
	targets := New(3, 4)
	for i := range targets.data {
		targets.data[i] = float32(r.Float64())
	}
	return []gradCase{
		{name: "relu", in: []*Tensor{Z(3, 5)}, f: u((*Tape).Relu)},
		{name: "leaky_relu", in: []*Tensor{Z(3, 5)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.LeakyRelu(x, 0.2) })},
		{name: "tanh", in: []*Tensor{R(3, 5)}, f: u((*Tape).Tanh)},
		{name: "sigmoid", in: []*Tensor{R(3, 5)}, f: u((*Tape).Sigmoid)},
		{name: "exp", in: []*Tensor{R(3, 5)}, f: u((*Tape).Exp)},
		{name: "log", in: []*Tensor{P(3, 5)}, f: u((*Tape).Log)},
		{name: "sqrt", in: []*Tensor{P(3, 5)}, f: u((*Tape).Sqrt)},
		{name: "abs", in: []*Tensor{Z(3, 5)}, f: u((*Tape).Abs)},
		{name: "square", in: []*Tensor{R(3, 5)}, f: u((*Tape).Square)},
		{name: "pow3", in: []*Tensor{R(3, 5)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Pow(x, 3) }), opt: GradCheckOptions{Step: 3e-3}},
		{name: "pow-1.5", in: []*Tensor{P(3, 5)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Pow(x, -1.5) })},
		{name: "neg", in: []*Tensor{R(4)}, f: u((*Tape).Neg)},
		{name: "scale", in: []*Tensor{R(4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Scale(x, -2.5) })},
		{name: "add_scalar", in: []*Tensor{R(4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.AddScalar(x, 3) })},
		{name: "add_broadcast", in: []*Tensor{R(2, 3, 4), R(3, 1)}, f: b((*Tape).Add)},
		{name: "sub_broadcast", in: []*Tensor{R(4), R(2, 3, 4)}, f: b((*Tape).Sub)},
		{name: "mul_broadcast", in: []*Tensor{R(2, 1, 4), R(3, 1)}, f: b((*Tape).Mul)},
		{name: "div_broadcast", in: []*Tensor{R(2, 3, 4), P(1, 3, 1)}, f: b((*Tape).Div)},
		{name: "mul_same_tensor", in: []*Tensor{R(3, 4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Mul(x, x) })},
		{name: "sum_axes", in: []*Tensor{R(2, 3, 4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Sum(x, false, 0, 2) })},
		{name: "sum_keep", in: []*Tensor{R(2, 3, 4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Sum(x, true, -1) })},
		{name: "sum_all", in: []*Tensor{R(2, 3)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Sum(x, false) })},
		{name: "mean_axis", in: []*Tensor{R(2, 3, 4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Mean(x, false, 1) })},
		{name: "mean_keep", in: []*Tensor{R(2, 3, 4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Mean(x, true, 0, 2) })},
		{name: "mean_all", in: []*Tensor{R(2, 3)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Mean(x, false) })},
		{name: "sum_squares", in: []*Tensor{R(2, 3, 4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.SumSquares(x, true, 1, 2) })},
		{name: "view", in: []*Tensor{R(2, 6)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Tanh(tp.View(x, 3, -1)) })},
		{name: "permute", in: []*Tensor{R(2, 3, 4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Permute(x, 2, 0, 1) })},
		{name: "transpose", in: []*Tensor{R(2, 3, 4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Transpose(x, 1, 2) })},
		{name: "concat", in: []*Tensor{R(2, 3, 2), R(2, 1, 2), R(2, 2, 2)}, f: func(tp *Tape, in []*Tensor) *Tensor { return tp.Concat(1, in...) }},
		{name: "stack", in: []*Tensor{R(2, 3), R(2, 3)}, f: func(tp *Tape, in []*Tensor) *Tensor { return tp.Stack(1, in...) }},
		{name: "slice", in: []*Tensor{R(3, 5, 2)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Slice(x, 1, 1, 4) })},
		{name: "split", in: []*Tensor{R(3, 5)}, f: u(func(tp *Tape, x *Tensor) *Tensor {
			p := tp.Split(x, 1, 2, 3)
			return tp.Concat(1, tp.Square(p[1]), p[0])
		})},
		{name: "index_select", in: []*Tensor{R(4, 3)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.IndexSelect(x, 0, []int{3, 0, 3}) })},
		{name: "gather_label", in: []*Tensor{R(3, 4, 2)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.GatherLabel(x, []int{2, 0, 2}) })},
		{name: "matmul", in: []*Tensor{R(3, 4), R(4, 5)}, f: b((*Tape).MatMul)},
		{name: "matmul_batched", in: []*Tensor{R(2, 3, 4), R(2, 4, 2)}, f: b((*Tape).MatMul)},
		{name: "linear", in: []*Tensor{R(3, 4), R(5, 4), R(5)}, f: func(tp *Tape, in []*Tensor) *Tensor { return tp.Linear(in[0], in[1], in[2]) }},
		{name: "linear_nobias", in: []*Tensor{R(3, 4), R(5, 4)}, f: func(tp *Tape, in []*Tensor) *Tensor { return tp.Linear(in[0], in[1], nil) }},
		{name: "conv2d", in: []*Tensor{R(2, 2, 5, 6), R(3, 2, 3, 3), R(3)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.Conv2d(in[0], in[1], in[2], ConvParams{Stride: [2]int{2, 1}, Padding: [2]int{1, 1}})
		}},
		{name: "conv_transpose2d", in: []*Tensor{R(2, 3, 3, 3), R(3, 2, 5, 5), R(2)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.ConvTranspose2d(in[0], in[1], in[2], ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}, OutputPadding: [2]int{1, 1}})
		}},
		{name: "conv1d_causal_dilated", in: []*Tensor{R(2, 3, 7), R(2, 3, 3), R(2)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.Conv1d(in[0], in[1], in[2], Conv1dParams{Padding: 4, Dilation: 2, Causal: true})
		}},
		{name: "conv2d_rect_dilated", in: []*Tensor{R(2, 2, 6, 7), R(3, 2, 2, 3), R(3)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.Conv2d(in[0], in[1], in[2], ConvParams{Stride: [2]int{1, 2}, Padding: [2]int{2, 1}, Dilation: [2]int{2, 1}})
		}},
		{name: "conv_transpose2d_rect_dilated", in: []*Tensor{R(2, 3, 3, 2), R(3, 2, 2, 3), R(2)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.ConvTranspose2d(in[0], in[1], in[2], ConvParams{Stride: [2]int{2, 3}, Padding: [2]int{1, 0}, Dilation: [2]int{2, 1}, OutputPadding: [2]int{1, 2}})
		}},
		{name: "conv1d_strided_dilated", in: []*Tensor{R(2, 3, 9), R(4, 3, 3), R(4)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.Conv1d(in[0], in[1], in[2], Conv1dParams{Stride: 2, Padding: 2, Dilation: 2})
		}},
		{name: "batch_norm2d_train", in: []*Tensor{R(3, 2, 2, 3), P(2), R(2)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.BatchNorm(in[0], in[1], in[2], New(2), FromSlice([]float32{1, 1}, 2), true, 0.1, 1e-5)
		}, opt: GradCheckOptions{Step: 3e-3}},
		{name: "batch_norm1d_train", in: []*Tensor{R(5, 3), P(3), R(3)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.BatchNorm(in[0], in[1], in[2], New(3), FromSlice([]float32{1, 1, 1}, 3), true, 0.1, 1e-5)
		}, opt: GradCheckOptions{Step: 3e-3}},
		{name: "batch_norm1d_train_3d", in: []*Tensor{R(3, 2, 4), P(2), R(2)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.BatchNorm(in[0], in[1], in[2], New(2), FromSlice([]float32{1, 1}, 2), true, 0.1, 1e-5)
		}, opt: GradCheckOptions{Step: 3e-3}},
		{name: "batch_norm2d_eval", in: []*Tensor{R(2, 3, 2, 2), P(3), R(3)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.BatchNorm(in[0], in[1], in[2], FromSlice([]float32{0.1, -0.2, 0.3}, 3), FromSlice([]float32{0.5, 1.5, 2}, 3), false, 0.1, 1e-5)
		}},
		{name: "batch_norm1d_eval", in: []*Tensor{R(4, 3), P(3), R(3)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.BatchNorm(in[0], in[1], in[2], FromSlice([]float32{0.1, -0.2, 0.3}, 3), FromSlice([]float32{0.5, 1.5, 2}, 3), false, 0.1, 1e-5)
		}},
		{name: "batch_norm_leaky_relu_train", in: []*Tensor{R(3, 2, 2, 3), P(2), R(2)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.BatchNormAct(in[0], in[1], in[2], New(2), FromSlice([]float32{1, 1}, 2), true, 0.1, 1e-5, MapLeakyRelu, 0.2)
		}, opt: GradCheckOptions{Step: 3e-3}},
		{name: "batch_norm_tanh_eval", in: []*Tensor{R(4, 3), P(3), R(3)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.BatchNormAct(in[0], in[1], in[2], FromSlice([]float32{0.1, -0.2, 0.3}, 3), FromSlice([]float32{0.5, 1.5, 2}, 3), false, 0.1, 1e-5, MapTanh, 0)
		}},
		{name: "l2_normalize", in: []*Tensor{R(2, 3, 4)}, f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.L2Normalize(x, -1, 1e-8) })},
		{name: "mse_sum", in: []*Tensor{R(3, 4), R(3, 4)}, f: func(tp *Tape, in []*Tensor) *Tensor { return tp.MSELoss(in[0], in[1], ReduceSumLoss) }},
		{name: "mse_mean", in: []*Tensor{R(3, 4), R(3, 4)}, f: func(tp *Tape, in []*Tensor) *Tensor { return tp.MSELoss(in[0], in[1], ReduceMeanLoss) }},
		{name: "l1_sum", in: []*Tensor{Z(3, 4), New(3, 4)}, f: func(tp *Tape, in []*Tensor) *Tensor { return tp.L1Loss(in[0], in[1], ReduceSumLoss) }},
		{name: "l1_mean", in: []*Tensor{Z(3, 4), New(3, 4)}, f: func(tp *Tape, in []*Tensor) *Tensor { return tp.L1Loss(in[0], in[1], ReduceMeanLoss) }},
		{name: "bce_sum", in: []*Tensor{probs, targets}, f: func(tp *Tape, in []*Tensor) *Tensor { return tp.BCELoss(in[0], in[1], ReduceSumLoss) }, opt: GradCheckOptions{Step: 3e-3}},
		{name: "bce_mean", in: []*Tensor{probs.Clone(), targets.Clone()}, f: func(tp *Tape, in []*Tensor) *Tensor { return tp.BCELoss(in[0], in[1], ReduceMeanLoss) }, opt: GradCheckOptions{Step: 3e-3}},
		{name: "kl_normal", in: []*Tensor{R(3, 4), R(3, 4)}, f: b((*Tape).KLNormal)},
		{name: "reparameterize", in: []*Tensor{R(3, 4), R(3, 4)}, f: func(tp *Tape, in []*Tensor) *Tensor {
			return tp.Reparameterize(in[0], in[1], rand.New(rand.NewPCG(7, 7)))
		}},
		{name: "custom_expm", in: []*Tensor{func() *Tensor { t := R(2, 3, 3); tp := (*Tape)(nil); return tp.Scale(t, 0.5) }()},
			f: u(func(tp *Tape, x *Tensor) *Tensor { return tp.Custom(expmOp, x.shape, x) })},
	}
}

// strictGradCheck is the tolerance of the ops' gradient checks, ten times
// tighter than GradCheck's defaults: the central differences of these
// small cases are accurate to about 1e-4 (rounding of the float32 forward
// over the step, plus the step's truncation error), so a gradient off by
// 0.1% fails. Cases with options of their own set their step and keep this
// tolerance unless they say otherwise.
var strictGradCheck = GradCheckOptions{RTol: 1e-3, ATol: 1e-4}

func TestGradCheckOps(t *testing.T) {
	for _, c := range gradCases() {
		t.Run(c.name, func(t *testing.T) {
			opt := c.opt
			if opt.RTol == 0 {
				opt.RTol, opt.ATol = strictGradCheck.RTol, strictGradCheck.ATol
			}
			if err := GradCheck(c.f, c.in, opt); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The checker must fail on a wrong gradient, or its passes mean nothing.
func TestGradCheckCatchesWrongGradient(t *testing.T) {
	wrong := CustomOp{
		Name:    "wrong_square",
		Forward: func(in [][]float32, out []float32) { copy(out, in[0]); MulInPlace(out, in[0]) },
		Backward: func(in [][]float32, _, dout []float32, din [][]float32) {
			for i := range din[0] {
				din[0][i] += dout[i] * in[0][i] // missing factor 2
			}
		},
	}
	x := randTensor(rand.New(rand.NewPCG(3, 3)), 5)
	err := GradCheck(func(tp *Tape, in []*Tensor) *Tensor { return tp.Custom(wrong, in[0].shape, in[0]) }, []*Tensor{x}, GradCheckOptions{})
	if err == nil {
		t.Fatal("GradCheck accepted a gradient off by a factor of 2")
	}
}

// MulInPlace is a test helper: a[i] *= b[i].
func MulInPlace(a, b []float32) {
	for i := range a {
		a[i] *= b[i]
	}
}

// expmOp is a batched matrix exponential in float64 as a custom op: the
// forward by scaling and squaring of a Taylor series, the backward as the
// adjoint of the Fréchet derivative, L(Aᵀ, G), read from the upper right
// block of exp([[Aᵀ, G], [0, Aᵀ]]). It stands in for symplectic's, which
// tensor/ may not import.
var expmOp = CustomOp{
	Name: "expm",
	Forward: func(in [][]float32, out []float32) {
		n, b := expmSize(len(in[0]), len(out))
		for k := range b {
			a := make([]float64, n*n)
			for i := range a {
				a[i] = float64(in[0][k*n*n+i])
			}
			e := expm64(a, n)
			for i := range e {
				out[k*n*n+i] = float32(e[i])
			}
		}
	},
	Backward: func(in [][]float32, out, dout []float32, din [][]float32) {
		if din[0] == nil {
			return
		}
		n, b := expmSize(len(in[0]), len(out))
		m := 2 * n
		for k := range b {
			big := make([]float64, m*m)
			for i := range n {
				for j := range n {
					at := float64(in[0][k*n*n+j*n+i])
					big[i*m+j] = at
					big[(n+i)*m+n+j] = at
					big[i*m+n+j] = float64(dout[k*n*n+i*n+j])
				}
			}
			e := expm64(big, m)
			for i := range n {
				for j := range n {
					din[0][k*n*n+i*n+j] += float32(e[i*m+n+j])
				}
			}
		}
	},
}

func expmSize(lin, lout int) (n, b int) {
	// Inputs are [B, n, n] with n = 3 in the tests.
	n = 3
	return n, lin / (n * n)
}

// expm64 is exp(a) for an n x n matrix by scaling, a degree-18 Taylor
// series and squaring.
func expm64(a []float64, n int) []float64 {
	var norm float64
	for _, v := range a {
		norm = math.Max(norm, math.Abs(v))
	}
	s := 0
	for norm*float64(n) > 0.5 {
		norm /= 2
		s++
	}
	scale := math.Ldexp(1, -s)
	mul := func(x, y []float64) []float64 {
		z := make([]float64, n*n)
		for i := range n {
			for k := range n {
				for j := range n {
					z[i*n+j] += x[i*n+k] * y[k*n+j]
				}
			}
		}
		return z
	}
	as := make([]float64, n*n)
	for i := range as {
		as[i] = a[i] * scale
	}
	e := make([]float64, n*n)
	term := make([]float64, n*n)
	for i := range n {
		e[i*n+i] = 1
		term[i*n+i] = 1
	}
	for k := 1; k <= 18; k++ {
		term = mul(term, as)
		for i := range term {
			term[i] /= float64(k)
			e[i] += term[i]
		}
	}
	for range s {
		e = mul(e, e)
	}
	return e
}

// A tensor used twice collects both gradients.
func TestGradientAccumulatesOverUses(t *testing.T) {
	x := FromSlice([]float32{1, 2, 3}, 3).SetRequiresGrad(true)
	tp := NewTape()
	y := tp.Sum(tp.Add(tp.Scale(x, 2), tp.Mul(x, x)), false) // d/dx = 2 + 2x
	tp.Backward(y)
	want := []float32{4, 6, 8}
	for i, g := range x.Grad().Data() {
		if g != want[i] {
			t.Fatalf("grad %v, want %v", x.Grad().Data(), want)
		}
	}
	// A second pass adds to the leaf's gradient until ZeroGrad.
	tp.Backward(tp.Sum(x, false))
	if g := x.Grad().Data()[0]; g != 5 {
		t.Fatalf("accumulated grad %g, want 5", g)
	}
	if tp.Len() != 0 {
		t.Fatalf("tape holds %d ops after Backward", tp.Len())
	}
	x.ZeroGrad()
	if x.Grad() != nil {
		t.Fatal("ZeroGrad left a gradient")
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	x := FromSlice([]float32{1, 2}, 2).SetRequiresGrad(true)
	tp := NewTape()
	var y *Tensor
	tp.NoGrad(func() { y = tp.Tanh(tp.Scale(x, 3)) })
	if tp.Len() != 0 {
		t.Fatalf("NoGrad recorded %d ops", tp.Len())
	}
	if math.Abs(float64(y.Data()[1])-math.Tanh(6)) > 1e-6 {
		t.Fatalf("NoGrad value %g", y.Data()[1])
	}
	var nilTape *Tape
	if z := nilTape.Exp(x); z.Data()[0] != float32(math.Exp(1)) {
		t.Fatalf("nil tape Exp(1) = %g", z.Data()[0])
	}
	// Inputs that need no gradient are not recorded either.
	tp.Exp(FromSlice([]float32{1}, 1))
	if tp.Len() != 0 {
		t.Fatal("op on constants was recorded")
	}
}

// Memory of a step is released after Backward: the heap does not grow over
// 1000 training steps of a small network.
func TestNoGrowthOver1000Steps(t *testing.T) {
	for _, recycle := range []bool{false, true} {
		t.Run(fmt.Sprintf("recycle=%v", recycle), func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			// Sizes above the recycling threshold, so that the pool is used.
			w1, w2 := randTensor(r, 64, 32).SetRequiresGrad(true), randTensor(r, 4, 64).SetRequiresGrad(true)
			x := randTensor(r, 64, 32)
			tp := NewTape()
			tp.SetRecycle(recycle)
			step := func() {
				h := tp.Tanh(tp.Linear(x, w1, nil))
				loss := tp.MSELoss(tp.Linear(h, w2, nil), New(64, 4), ReduceMeanLoss)
				tp.Backward(loss)
				w1.ZeroGrad()
				w2.ZeroGrad()
			}
			heap := func() uint64 {
				// Two collections: sync.Pool's victim cache keeps the
				// kernels' scratch buffers alive through the first.
				runtime.GC()
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				return m.HeapAlloc
			}
			for range 10 {
				step()
			}
			steps := 1000
			if testing.Short() {
				steps = 200 // the race detector's short runs
			}
			before := heap()
			for range steps {
				step()
			}
			after := heap()
			if after > before+256<<10 {
				t.Fatalf("heap grew from %d to %d bytes over %d steps", before, after, steps)
			}
			if recycle && len(tp.pool) == 0 {
				t.Fatal("recycling tape pooled nothing")
			}
		})
	}
}

func TestCheckNaNNamesTheOp(t *testing.T) {
	tp := NewTape()
	tp.SetCheckNaN(true)
	x := FromSlice([]float32{1, -1}, 2)
	func() {
		defer tp.Scope("enc.fc1")()
		tp.Exp(x)
		tp.Sqrt(x) // sqrt(-1) = NaN
		tp.Log(x)
	}()
	err := tp.NaNError()
	if err == nil || !strings.Contains(err.Error(), "sqrt") || !strings.Contains(err.Error(), "enc.fc1") {
		t.Fatalf("NaN report %v, want one naming sqrt in enc.fc1", err)
	}
	t.Setenv("HALO_CHECK_NAN", "1")
	tp2 := NewTape()
	tp2.Log(FromSlice([]float32{0}, 1))
	if err := tp2.NaNError(); err == nil || !strings.Contains(err.Error(), "log") {
		t.Fatalf("HALO_CHECK_NAN=1: report %v, want one naming log", err)
	}
}

func TestShapeErrorsNameBothShapes(t *testing.T) {
	tp := NewTape()
	cases := map[string]func(){
		"add":    func() { tp.Add(New(2, 3), New(4, 3)) },
		"matmul": func() { tp.MatMul(New(2, 3), New(4, 5)) },
		"linear": func() { tp.Linear(New(2, 3), New(4, 5), nil) },
		"concat": func() { tp.Concat(0, New(2, 3), New(2, 4)) },
		"mse":    func() { tp.MSELoss(New(2, 3), New(3, 2), ReduceSumLoss) },
		"kl":     func() { tp.KLNormal(New(2, 3), New(3, 2)) },
		"conv2d": func() { tp.Conv2d(New(1, 3, 5, 5), New(4, 2, 3, 3), nil, ConvParams{}) },
		"batch_norm": func() {
			tp.BatchNorm(New(2, 3, 4), New(4), New(4), New(4), New(4), true, 0.1, 1e-5)
		},
		"stack": func() { tp.Stack(0, New(2, 3), New(3, 2)) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "tensor: ") || strings.Count(msg, "[") < 2 {
					t.Fatalf("panic %q: want a tensor: message naming both shapes", msg)
				}
			}()
			f()
		})
	}
}

func TestProfileCountsOps(t *testing.T) {
	x := FromSlice([]float32{1, 2}, 2).SetRequiresGrad(true)
	tp := NewTape()
	p := NewProfile()
	tp.SetProfile(p)
	restore := tp.Scope("layer")
	h := tp.Tanh(tp.Tanh(x))
	restore()
	y := tp.Sum(h, false)
	tp.Backward(y)
	var tanh, sum ProfileEntry
	for _, e := range p.Entries() {
		switch e.Op {
		case "tanh":
			tanh = e
		case "sum":
			sum = e
		}
	}
	if tanh.Calls != 2 || tanh.Label != "layer" || sum.Calls != 1 || sum.Label != "" {
		t.Fatalf("profile entries %+v", p.Entries())
	}
	if by := p.ByLabel(); len(by) != 2 || !strings.Contains(p.String(), "tanh") {
		t.Fatalf("profile by label %+v", by)
	}
}

// Recycled buffers give the same gradients, to the bit, as fresh ones, on
// the second pass of a tape (when the pool is full of the first pass's
// buffers) as on the first.
func TestRecycleGivesSameGradients(t *testing.T) {
	prev := minPooled
	minPooled = 1 // recycle the small buffers of these cases too
	t.Cleanup(func() { minPooled = prev })
	for _, c := range gradCases() {
		grads := func(tp *Tape) [][]float32 {
			for _, x := range c.in {
				x.SetRequiresGrad(true)
				x.ZeroGrad()
			}
			y := c.f(tp, c.in)
			r := make([]float32, y.Len())
			for i := range r {
				r[i] = float32(i%7) - 3
			}
			tp.BackwardWith(y, FromSlice(r, y.Shape()...))
			out := make([][]float32, len(c.in))
			for i, x := range c.in {
				if x.Grad() != nil {
					out[i] = append([]float32(nil), x.Grad().Data()...)
				}
				x.SetRequiresGrad(false)
				x.ZeroGrad()
			}
			return out
		}
		want := grads(NewTape())
		tp := NewTape()
		tp.SetRecycle(true)
		for pass := range 3 {
			if pass > 0 && len(tp.pool) == 0 {
				t.Fatalf("%s: nothing was recycled", c.name)
			}
			got := grads(tp)
			for i := range want {
				for j := range want[i] {
					if got[i][j] != want[i][j] && !(got[i][j] != got[i][j] && want[i][j] != want[i][j]) {
						t.Fatalf("%s pass %d: input %d grad[%d] = %g, without recycling %g", c.name, pass, i, j, got[i][j], want[i][j])
					}
				}
			}
		}
	}
}

// The fused batch norm and activation equals the two ops composed: the
// same output to the bit, and the same gradients up to rounding.
func TestBatchNormActMatchesComposed(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	acts := []struct {
		op    MapOp
		alpha float32
		f     func(tp *Tape, x *Tensor) *Tensor
	}{
		{MapRelu, 0, (*Tape).Relu},
		{MapLeakyRelu, 0.01, func(tp *Tape, x *Tensor) *Tensor { return tp.LeakyRelu(x, 0.01) }},
		{MapTanh, 0, (*Tape).Tanh},
		{MapSigmoid, 0, (*Tape).Sigmoid},
		{MapCopy, 0, func(_ *Tape, x *Tensor) *Tensor { return x }},
	}
	for _, a := range acts {
		for _, training := range []bool{true, false} {
			x := randTensor(r, 5, 3, 7)
			gamma, beta := positiveTensor(r, 3), randTensor(r, 3)
			dy := randTensor(r, 5, 3, 7)
			run := func(fused bool) (y *Tensor, grads [][]float32, stats []float32) {
				rm, rv := FromSlice([]float32{0.1, 0.2, -0.3}, 3), FromSlice([]float32{1, 2, 0.5}, 3)
				for _, p := range []*Tensor{x, gamma, beta} {
					p.SetRequiresGrad(true)
					p.ZeroGrad()
				}
				tp := NewTape()
				if fused {
					y = tp.BatchNormAct(x, gamma, beta, rm, rv, training, 0.1, 1e-5, a.op, a.alpha)
				} else {
					y = a.f(tp, tp.BatchNorm(x, gamma, beta, rm, rv, training, 0.1, 1e-5))
				}
				out := y.Clone()
				tp.BackwardWith(y, dy)
				for _, p := range []*Tensor{x, gamma, beta} {
					grads = append(grads, append([]float32(nil), p.Grad().Data()...))
					p.SetRequiresGrad(false)
					p.ZeroGrad()
				}
				return out, grads, append(rm.Data(), rv.Data()...)
			}
			yf, gf, sf := run(true)
			yc, gc, sc := run(false)
			for i := range yc.Data() {
				if yf.Data()[i] != yc.Data()[i] {
					t.Fatalf("%v training=%v: y[%d] fused %g, composed %g", a.op, training, i, yf.Data()[i], yc.Data()[i])
				}
			}
			for i := range sc {
				if sf[i] != sc[i] {
					t.Fatalf("%v training=%v: running statistics differ: %v vs %v", a.op, training, sf, sc)
				}
			}
			for k := range gc {
				for i := range gc[k] {
					if d := math.Abs(float64(gf[k][i] - gc[k][i])); d > 1e-6*(1+math.Abs(float64(gc[k][i]))) {
						t.Fatalf("%v training=%v: gradient %d[%d] fused %g, composed %g", a.op, training, k, i, gf[k][i], gc[k][i])
					}
				}
			}
		}
	}
}
