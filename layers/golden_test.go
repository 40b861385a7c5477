package layers

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/halo-ml/halo/tensor"
)

// The PyTorch goldens of scripts/golden_layers.py pass when every element
// satisfies
//
//	|got - want| <= goldenRTol*|want| + goldenATol*max|want|
//
// with the maximum over the tensor. A pure relative test cannot hold in
// float32: values that come out of cancelling sums (gradients through batch
// norm, biases, LSTM gates) carry an absolute rounding error on the scale of
// the terms summed, not of the small result. The script measures that error
// by rerunning every case in float64: PyTorch's own float32 results are up
// to 8e-7 x max|exact| away in absolute terms (batchnorm2d_eval), and up to
// 7.7e-5 relative on elements above 1e-3 x max (composite), so an atol of
// 1e-6 of the tensor's scale is as strict as float32 allows: two float32
// computations that round differently may each be that far from the exact
// value.
//
// The Adam golden is compared with an atol ten times larger
// (goldenAdamATol): after ten steps PyTorch's own float32 parameters are
// up to 2e-6 x max away from its float64 run, because Adam divides each
// gradient element by its own running magnitude, so the rounding error of
// an element whose gradient nearly cancels becomes an error of a whole
// step.
const (
	goldenRTol     = 1e-4
	goldenATol     = 1e-6
	goldenAdamATol = 1e-5
)

func goldenDir() string { return filepath.Join("..", "testdata", "golden", "layers") }

type golden struct {
	name string
	all  map[string]*tensor.Array
}

func readGolden(t *testing.T, name string) golden {
	t.Helper()
	f, err := tensor.ReadSafetensors(filepath.Join(goldenDir(), name+".safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return golden{name, f.Tensors}
}

// sub returns the arrays whose keys start with prefix, the prefix removed.
func (g golden) sub(prefix string) map[string]*tensor.Array {
	out := map[string]*tensor.Array{}
	for k, v := range g.all {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// errStats are the worst errors of a comparison: the ratio to the
// tolerance (<= 1 passes), the relative error over the elements not below
// 1e-3 of the tensor's largest value, and the absolute error over that
// largest value.
type errStats struct{ ratio, rel, abs float64 }

func (e errStats) max(o errStats) errStats {
	return errStats{math.Max(e.ratio, o.ratio), math.Max(e.rel, o.rel), math.Max(e.abs, o.abs)}
}

// compare returns the worst errors of got against want and the element of
// the worst ratio (-1 if all are exact). A NaN anywhere is an infinite error.
func compare(got []float32, want *tensor.Array, atol float64) (s errStats, at int) {
	w := want.Float32s()
	var scale float64
	for _, v := range w {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	at = -1
	for i, v := range w {
		d := math.Abs(float64(got[i]) - float64(v))
		if math.IsNaN(d) {
			return errStats{math.Inf(1), math.Inf(1), math.Inf(1)}, i
		}
		tol := goldenRTol*math.Abs(float64(v)) + atol*scale
		if r := d / math.Max(tol, 1e-30); r > s.ratio {
			s.ratio, at = r, i
		}
		if scale > 0 {
			s.abs = math.Max(s.abs, d/scale)
			if math.Abs(float64(v)) >= 1e-3*scale {
				s.rel = math.Max(s.rel, d/math.Abs(float64(v)))
			}
		}
	}
	return s, at
}

func expectClose(t *testing.T, what string, got *tensor.Tensor, want *tensor.Array) {
	t.Helper()
	expectCloseATol(t, what, got, want, goldenATol)
}

// expectCloseATol is expectClose with an atol (relative to max|want|) of
// its own.
func expectCloseATol(t *testing.T, what string, got *tensor.Tensor, want *tensor.Array, atol float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: missing (want %s)", what, tensor.ShapeString(want.Shape))
		return
	}
	if got.Len() != want.Len() {
		t.Errorf("%s: %d values, want %d (%s)", what, got.Len(), want.Len(), tensor.ShapeString(want.Shape))
		return
	}
	s, at := compare(got.Data(), want, atol)
	if s.ratio > 1 {
		t.Errorf("%s: element %d = %g, PyTorch %g (error %.3g x tolerance)", what, at, got.Data()[at], want.Float32s()[at], s.ratio)
	}
	worst[what] = worst[what].max(s)
}

// worst records the worst errors per check of a test, for -v logs.
var worst = map[string]errStats{}

// logWorst logs the worst errors of each check of the test and over all of
// them, and clears the record.
func logWorst(t *testing.T) {
	t.Helper()
	var all errStats
	for _, k := range sortedKeys(worst) {
		s := worst[k]
		t.Logf("%-44s relative %.2e  |d|/max %.2e  %.3f x tolerance", k, s.rel, s.abs, s.ratio)
		all = all.max(s)
		delete(worst, k)
	}
	t.Logf("%-44s relative %.2e  |d|/max %.2e  %.3f x tolerance", "WORST", all.rel, all.abs, all.ratio)
}

type layerCase struct {
	name    string
	build   func() Module
	eval    bool
	forward func(tp *tensor.Tape, m Module, in map[string]*tensor.Tensor) map[string]*tensor.Tensor
}

func one(f func(tp *tensor.Tape, m Module, x *tensor.Tensor) *tensor.Tensor) func(*tensor.Tape, Module, map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	return func(tp *tensor.Tape, m Module, in map[string]*tensor.Tensor) map[string]*tensor.Tensor {
		return map[string]*tensor.Tensor{"y": f(tp, m, in["x"])}
	}
}

func layerFwd(tp *tensor.Tape, m Module, x *tensor.Tensor) *tensor.Tensor {
	return m.(Layer).Forward(tp, x)
}

func lstmFwd(tp *tensor.Tape, m Module, in map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	y, h, c := m.(*LSTM).Forward(tp, in["x"])
	return map[string]*tensor.Tensor{"y": y, "h": h, "c": c}
}

var rng0 = rand.New(rand.NewPCG(1, 1))

// cumulativeBN is a BatchNorm with PyTorch's momentum=None.
func cumulativeBN(c int) *BatchNorm {
	b := NewBatchNorm(c)
	b.CumulativeAverage = true
	return b
}

// batchesFwd runs the layer on x[0], x[1], ... in turn (batches of a
// training loop) and stacks the outputs.
func batchesFwd(tp *tensor.Tape, m Module, x *tensor.Tensor) *tensor.Tensor {
	ys := make([]*tensor.Tensor, x.Dim(0))
	for i := range ys {
		ys[i] = m.(Layer).Forward(tp, tp.View(tp.Slice(x, 0, i, i+1), x.Shape()[1:]...))
	}
	return tp.Stack(0, ys...)
}

// compositeNet is the golden composite network. For the layer golden, like
// the script's, it has no biases where a batch norm follows (bias false):
// their gradient is zero up to rounding noise, which cannot be compared.
// The Adam golden has them.
func compositeNet(bias bool) *Sequential {
	r := rng0
	return NewSequential(
		NewConv2d(2, 4, 3, 2, 1, bias, r), NewBatchNorm(4), ReLU{},
		NewConvTranspose2d(4, 3, 3, 2, 1, 1, bias, r), NewBatchNorm(3), LeakyReLU{Slope: 0.2},
		Flatten{}, NewLinear(3*8*8, 10, bias, r), NewBatchNorm(10), Tanh{}, NewLinear(10, 4, true, r))
}

// compositeLoss is the composite golden's loss: MSE (sum) + L1 (mean) +
// BCE (mean) of the sigmoid + the KL of N(y[:, :2], exp(y[:, 2:])).
func compositeLoss(tp *tensor.Tape, net *Sequential, x, target, target01 *tensor.Tensor) *tensor.Tensor {
	y := net.Forward(tp, x)
	loss := tp.Add(tp.MSELoss(y, target, tensor.ReduceSumLoss), tp.L1Loss(y, target, tensor.ReduceMeanLoss))
	loss = tp.Add(loss, tp.BCELoss(tp.Sigmoid(y), target01, tensor.ReduceMeanLoss))
	halves := tp.Split(y, 1, 2, 2)
	return tp.Add(loss, tp.KLNormal(halves[0], halves[1]))
}

func layerCases() []layerCase {
	r := rng0
	return []layerCase{
		{name: "linear", build: func() Module { return NewLinear(5, 7, true, r) }, forward: one(layerFwd)},
		{name: "conv2d", build: func() Module { return NewConv2d(3, 4, 5, 2, 2, true, r) }, forward: one(layerFwd)},
		{name: "conv_transpose2d", build: func() Module { return NewConvTranspose2d(4, 3, 5, 2, 2, 1, true, r) }, forward: one(layerFwd)},
		{name: "conv1d", build: func() Module {
			return NewConv1d(3, 4, 3, tensor.Conv1dParams{Stride: 2, Padding: 2, Dilation: 2}, true, r)
		}, forward: one(layerFwd)},
		{name: "batchnorm1d_train", build: func() Module { return NewBatchNorm(6) }, forward: one(layerFwd)},
		{name: "batchnorm1d_train_3d", build: func() Module { return NewBatchNorm(3) }, forward: one(layerFwd)},
		{name: "batchnorm2d_train", build: func() Module { return NewBatchNorm(3) }, forward: one(layerFwd)},
		{name: "batchnorm2d_eval", build: func() Module { return NewBatchNorm(3) }, eval: true, forward: one(layerFwd)},
		{name: "lstm", build: func() Module { return NewLSTM(5, 4, 2, true, r) }, forward: lstmFwd},
		{name: "lstm_1layer", build: func() Module { return NewLSTM(3, 5, 1, false, r) }, forward: lstmFwd},
		{name: "temporal_block", build: func() Module { return NewTemporalBlock(4, 4, 1, r) }, forward: one(layerFwd)},
		{name: "temporal_block_d2", build: func() Module { return NewTemporalBlock(3, 3, 2, r) }, forward: one(layerFwd)},
		{name: "conv2d_rect", build: func() Module {
			return NewConv2dRect(3, 4, [2]int{3, 5}, tensor.ConvParams{Stride: [2]int{2, 1}, Padding: [2]int{1, 2}, Dilation: [2]int{1, 2}}, true, r)
		}, forward: one(layerFwd)},
		{name: "conv_transpose2d_rect", build: func() Module {
			return NewConvTranspose2dRect(4, 3, [2]int{3, 4}, tensor.ConvParams{Stride: [2]int{2, 3}, Padding: [2]int{1, 0},
				Dilation: [2]int{2, 1}, OutputPadding: [2]int{1, 2}}, true, r)
		}, forward: one(layerFwd)},
		{name: "batchnorm2d_cumulative", build: func() Module { return cumulativeBN(3) }, forward: one(batchesFwd)},
		{name: "batchnorm1d_cumulative", build: func() Module { return cumulativeBN(5) }, forward: one(batchesFwd)},
		{name: "lstm_state", build: func() Module { return NewLSTM(4, 3, 2, true, r) },
			forward: func(tp *tensor.Tape, m Module, in map[string]*tensor.Tensor) map[string]*tensor.Tensor {
				y, h, c := m.(*LSTM).ForwardState(tp, in["x"], in["h0"], in["c0"])
				return map[string]*tensor.Tensor{"y": y, "h": h, "c": c}
			}},
		{name: "composite", build: func() Module { return compositeNet(false) },
			forward: func(tp *tensor.Tape, m Module, in map[string]*tensor.Tensor) map[string]*tensor.Tensor {
				return map[string]*tensor.Tensor{"loss": compositeLoss(tp, m.(*Sequential), in["x"], in["target"], in["target01"])}
			}},
	}
}

func TestGoldenLayers(t *testing.T) {
	for _, c := range layerCases() {
		t.Run(c.name, func(t *testing.T) {
			g := readGolden(t, c.name)
			m := c.build()
			if err := LoadStateDict(m, g.sub("state."), g.name); err != nil {
				t.Fatal(err)
			}
			if c.eval {
				Eval(m)
			}
			in := map[string]*tensor.Tensor{}
			for k, a := range g.sub("input.") {
				in[k] = tensor.FromSlice(append([]float32(nil), a.Float32s()...), a.Shape...).SetRequiresGrad(true)
			}
			tp := tensor.NewTape()
			outs := c.forward(tp, m, in)
			wantOut := g.sub("output.")
			if len(outs) != len(wantOut) {
				t.Fatalf("%d outputs, golden has %d", len(outs), len(wantOut))
			}
			proj := g.sub("proj.")
			var loss *tensor.Tensor
			for _, k := range sortedKeys(outs) {
				y := outs[k]
				expectClose(t, "output "+k, y, wantOut[k])
				p := proj[k]
				term := tp.Sum(tp.Mul(y, tensor.FromSlice(p.Float32s(), y.Shape()...)), false)
				if loss == nil {
					loss = term
				} else {
					loss = tp.Add(loss, term)
				}
			}
			tp.Backward(loss)
			for k, a := range g.sub("grad.input.") {
				expectClose(t, "grad of input "+k, in[k].Grad(), a)
			}
			wantGrad := g.sub("grad.param.")
			for _, p := range m.Params() {
				if p.Buffer {
					continue
				}
				a, ok := wantGrad[p.Name]
				if !ok {
					t.Errorf("no PyTorch gradient for %s", p.Name)
					continue
				}
				expectClose(t, "grad of "+p.Name, p.Tensor.Grad(), a)
			}
			if n := len(wantGrad); n != len(Trainable(m)) {
				t.Errorf("PyTorch has %d parameters, the module %d", n, len(Trainable(m)))
			}
			after := StateDict(m)
			for k, a := range g.sub("after.") {
				got, ok := after[k]
				if !ok {
					t.Errorf("state dict lacks %s", k)
					continue
				}
				expectClose(t, "state "+k+" after the pass", got.Tensor(), a)
			}
			logWorst(t)
		})
	}
}

func TestGoldenAdam(t *testing.T) {
	g := readGolden(t, "adam")
	net := compositeNet(true)
	if err := LoadStateDict(net, g.sub("state."), g.name); err != nil {
		t.Fatal(err)
	}
	in := g.sub("input.")
	x, target, target01 := in["x"].Tensor(), in["target"].Tensor(), in["target01"].Tensor()
	params := Trainable(net)
	opt := NewAdam(params, 1e-2)
	opt.Beta1, opt.Beta2, opt.WeightDecay = 0.5, 0.999, 1e-3
	sched := NewStepLR(opt, 4, 0.5)
	tp := tensor.NewTape()
	losses, norms := make([]float32, 10), make([]float32, 10)
	for i := range 10 {
		ZeroGrad(net)
		loss := compositeLoss(tp, net, x, target, target01)
		losses[i] = loss.Data()[0]
		tp.Backward(loss)
		norms[i] = float32(ClipGradNorm(params, 1))
		opt.Step()
		sched.Step()
	}
	expectClose(t, "losses", tensor.FromSlice(losses, 10), g.all["losses"])
	expectClose(t, "gradient norms", tensor.FromSlice(norms, 10), g.all["norms"])
	final := StateDict(net)
	want := g.sub("final.")
	if len(want) != len(final) || len(params) != 14 {
		t.Errorf("%d parameters and buffers, PyTorch %d; %d trained, want all 14", len(final), len(want), len(params))
	}
	for k, a := range want {
		got, ok := final[k]
		if !ok {
			t.Errorf("no %s", k)
			continue
		}
		expectCloseATol(t, "parameter "+k+" after 10 steps", got.Tensor(), a, goldenAdamATol)
	}
	logWorst(t)
	if math.Abs(opt.LR-1e-2*0.25) > 1e-12 {
		t.Errorf("StepLR after 10 epochs of 4: lr %g, want %g", opt.LR, 1e-2*0.25)
	}
}
