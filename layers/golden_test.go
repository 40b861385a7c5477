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

// The PyTorch goldens of scripts/golden_layers.py are compared at a
// relative tolerance of 1e-4: |got - want| <= goldenRTol*(|want| + floor),
// where floor is 1e-2 of the largest |want| of the tensor, so that values
// that cancel to near zero are judged on the tensor's scale.
const goldenRTol = 1e-4

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

// compare reports the worst error relative to the tolerance (<= 1 passes).
func compare(got []float32, want *tensor.Array) (worst float64, at int) {
	w := want.Float32s()
	var scale float64
	for _, v := range w {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	at = -1
	for i, v := range w {
		tol := goldenRTol * (math.Abs(float64(v)) + 1e-2*scale)
		if tol == 0 {
			tol = 1e-30
		}
		e := math.Abs(float64(got[i])-float64(v)) / tol
		if math.IsNaN(e) {
			return math.Inf(1), i
		}
		if e > worst {
			worst, at = e, i
		}
	}
	return worst, at
}

func expectClose(t *testing.T, what string, got *tensor.Tensor, want *tensor.Array) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: missing (want %s)", what, tensor.ShapeString(want.Shape))
		return
	}
	if got.Len() != want.Len() {
		t.Errorf("%s: %d values, want %d (%s)", what, got.Len(), want.Len(), tensor.ShapeString(want.Shape))
		return
	}
	worst, at := compare(got.Data(), want)
	if worst > 1 {
		t.Errorf("%s: element %d = %g, PyTorch %g (error %.3g x tolerance)", what, at, got.Data()[at], want.Float32s()[at], worst)
	}
	maxWorst[what] = math.Max(maxWorst[what], worst)
}

// maxWorst records the worst error per check, for -v logs.
var maxWorst = map[string]float64{}

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

// compositeNet is the golden composite network. Like the script's, it has
// no biases where a batch norm follows: their gradient is zero up to
// rounding noise, which cannot be compared.
func compositeNet() *Sequential {
	r, bias := rng0, false
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
		{name: "composite", build: func() Module { return compositeNet() },
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
			for k, v := range maxWorst {
				t.Logf("%-40s worst error %.3g x tolerance", k, v)
				delete(maxWorst, k)
			}
		})
	}
}

func TestGoldenAdam(t *testing.T) {
	g := readGolden(t, "adam")
	net := compositeNet()
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
	for k, a := range g.sub("final.") {
		expectClose(t, "parameter "+k+" after 10 steps", final[k].Tensor(), a)
	}
	for k, v := range maxWorst {
		t.Logf("%-40s worst error %.3g x tolerance", k, v)
		delete(maxWorst, k)
	}
	if math.Abs(opt.LR-1e-2*0.25) > 1e-12 {
		t.Errorf("StepLR after 10 epochs of 4: lr %g, want %g", opt.LR, 1e-2*0.25)
	}
}
