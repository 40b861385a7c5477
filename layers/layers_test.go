package layers

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halo-ml/halo/tensor"
)

func TestDefaultInitBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	c := NewConvTranspose2d(8, 5, 3, 2, 1, 1, true, r)
	bound := float32(1 / math.Sqrt(5*3*3)) // fan-in from dim 1 (Out) for a transposed conv
	var maxAbs float32
	for _, v := range c.Weight.Data() {
		maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
	}
	if maxAbs > bound || maxAbs < 0.9*bound {
		t.Fatalf("ConvTranspose2d weight max |w| %g, want just below %g", maxAbs, bound)
	}
}

func TestKaimingNormalStd(t *testing.T) {
	w := tensor.New(256, 64, 3, 3)
	KaimingNormal(w, math.Sqrt2, rand.New(rand.NewPCG(4, 5)))
	var ss float64
	for _, v := range w.Data() {
		ss += float64(v) * float64(v)
	}
	std := math.Sqrt(ss / float64(w.Len()))
	want := math.Sqrt2 / math.Sqrt(64*9)
	if math.Abs(std/want-1) > 0.01 {
		t.Fatalf("kaiming normal std %g, want %g", std, want)
	}
}

func TestOrthogonal(t *testing.T) {
	for _, shape := range [][]int{{6, 4}, {4, 6}, {3, 4, 4}, {5, 5}} {
		w := tensor.New(shape...)
		gain := math.Sqrt2
		Orthogonal(w, gain, rand.New(rand.NewPCG(6, 7)))
		rows := shape[0]
		cols := w.Len() / rows
		d := w.Data()
		// The smaller side is orthonormal (times gain).
		if rows <= cols {
			for i := range rows {
				for j := range rows {
					var s float64
					for k := range cols {
						s += float64(d[i*cols+k]) * float64(d[j*cols+k])
					}
					want := 0.0
					if i == j {
						want = gain * gain
					}
					if math.Abs(s-want) > 1e-5 {
						t.Fatalf("%v: row %d . row %d = %g, want %g", shape, i, j, s, want)
					}
				}
			}
		} else {
			for i := range cols {
				for j := range cols {
					var s float64
					for k := range rows {
						s += float64(d[k*cols+i]) * float64(d[k*cols+j])
					}
					want := 0.0
					if i == j {
						want = gain * gain
					}
					if math.Abs(s-want) > 1e-5 {
						t.Fatalf("%v: column %d . column %d = %g, want %g", shape, i, j, s, want)
					}
				}
			}
		}
	}
}

func TestSequentialNames(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := NewSequential(NewLinear(3, 4, true, r), ReLU{}, NewBatchNorm(4))
	var names []string
	for _, p := range s.Params() {
		names = append(names, p.Name)
	}
	want := "0.weight 0.bias 2.weight 2.bias 2.running_mean 2.running_var 2.num_batches_tracked"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("names %q, want %q", got, want)
	}
	if n := len(Trainable(s)); n != 4 {
		t.Fatalf("%d trainable tensors, want 4", n)
	}
	l := NewLSTM(3, 2, 2, true, r)
	names = names[:0]
	for _, p := range l.Params() {
		names = append(names, p.Name)
	}
	if names[4] != "weight_ih_l0_reverse" || names[8] != "weight_ih_l1" || l.Cells[2].WeightIH.Dim(1) != 4 {
		t.Fatalf("LSTM names %v", names)
	}
}

func TestStateRoundTripAndErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "net.safetensors")
	a, b := compositeNetSeed(1), compositeNetSeed(2)
	a.Forward(nil, tensor.New(4, 2, 8, 8)) // bump num_batches_tracked
	if err := SaveState(path, a); err != nil {
		t.Fatal(err)
	}
	if err := LoadState(path, b); err != nil {
		t.Fatal(err)
	}
	pb := b.Params()
	for i, p := range a.Params() {
		for j, v := range p.Tensor.Data() {
			if pb[i].Tensor.Data()[j] != v {
				t.Fatalf("%s[%d] = %g after loading, saved %g", p.Name, j, pb[i].Tensor.Data()[j], v)
			}
		}
	}
	f, err := tensor.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if nb := f.Tensors["1.num_batches_tracked"]; nb.DType != tensor.Int64 || len(nb.Shape) != 0 || nb.Data.([]int64)[0] != 1 {
		t.Fatalf("num_batches_tracked saved as %v %v %v", nb.DType, nb.Shape, nb.Data)
	}

	// A module of another shape, a missing file and a NaN are errors naming the file.
	other := NewSequential(NewLinear(3, 3, true, rand.New(rand.NewPCG(1, 1))))
	if err := LoadState(path, other); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("loading into another module: %v", err)
	}
	if err := LoadState(filepath.Join(dir, "missing.safetensors"), b); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Fatalf("loading a missing file: %v", err)
	}
	sd := StateDict(a)
	w := sd["0.weight"].Float32s()
	saved := w[0]
	w[0] = float32(math.NaN())
	if err := LoadStateDict(b, sd, "nan.safetensors"); err == nil || !strings.Contains(err.Error(), "nan.safetensors") {
		t.Fatalf("loading a NaN: %v", err)
	}
	w[0] = saved
	if err := os.WriteFile(path, []byte("not a safetensors file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := LoadState(path, b); err == nil {
		t.Fatal("loading garbage succeeded")
	}
}

func compositeNetSeed(seed uint64) *Sequential {
	r := rand.New(rand.NewPCG(seed, seed))
	return NewSequential(
		NewConv2d(2, 4, 3, 2, 1, false, r), NewBatchNorm(4), ReLU{},
		NewConvTranspose2d(4, 3, 3, 2, 1, 1, false, r), NewBatchNorm(3), LeakyReLU{Slope: 0.2},
		Flatten{}, NewLinear(3*8*8, 10, false, r), NewBatchNorm(10), Tanh{}, NewLinear(10, 4, true, r))
}

// The LSTM and the temporal block pass the gradient check with respect to
// their inputs and all their parameters.
func TestGradCheckRecurrentAndTemporal(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	randT := func(s ...int) *tensor.Tensor {
		x := tensor.New(s...)
		for i := range x.Data() {
			x.Data()[i] = float32(r.NormFloat64())
		}
		return x
	}
	lstm := NewLSTM(3, 2, 2, true, r)
	x := randT(2, 3, 3)
	in := append([]*tensor.Tensor{x}, Trainable(lstm)...)
	err := tensor.GradCheck(func(tp *tensor.Tape, _ []*tensor.Tensor) *tensor.Tensor {
		y, h, c := lstm.Forward(tp, x)
		return tp.Concat(0, tp.View(y, -1), tp.View(h, -1), tp.View(c, -1))
	}, in, tensor.GradCheckOptions{})
	if err != nil {
		t.Fatal("LSTM:", err)
	}
	tb := NewTemporalBlock(3, 3, 2, r)
	x = randT(2, 3, 6)
	in = append([]*tensor.Tensor{x}, Trainable(tb)...)
	err = tensor.GradCheck(func(tp *tensor.Tape, _ []*tensor.Tensor) *tensor.Tensor { return tb.Forward(tp, x) },
		in, tensor.GradCheckOptions{Step: 1e-3})
	if err != nil {
		t.Fatal("TemporalBlock:", err)
	}
}

// The LSTM from initial states passes the gradient check with respect to
// its input, the states and all its parameters.
func TestGradCheckLSTMInitialState(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	randT := func(s ...int) *tensor.Tensor {
		x := tensor.New(s...)
		for i := range x.Data() {
			x.Data()[i] = float32(r.NormFloat64())
		}
		return x
	}
	lstm := NewLSTM(2, 3, 2, true, r)
	x, h0, c0 := randT(2, 3, 2), randT(4, 2, 3), randT(4, 2, 3)
	in := append([]*tensor.Tensor{x, h0, c0}, Trainable(lstm)...)
	err := tensor.GradCheck(func(tp *tensor.Tape, _ []*tensor.Tensor) *tensor.Tensor {
		y, h, c := lstm.ForwardState(tp, x, h0, c0)
		return tp.Concat(0, tp.View(y, -1), tp.View(h, -1), tp.View(c, -1))
	}, in, tensor.GradCheckOptions{})
	if err != nil {
		t.Fatal("LSTM with initial states:", err)
	}
}

// Output t of the temporal block depends on inputs up to t only.
func TestTemporalBlockIsCausal(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	tb := NewTemporalBlock(4, 4, 1, r)
	x := tensor.New(1, 4, 10)
	for i := range x.Data() {
		x.Data()[i] = float32(r.NormFloat64())
	}
	y0 := tb.Forward(nil, x).Clone()
	for c := range 4 {
		x.Data()[c*10+6] += 1
	}
	y1 := tb.Forward(nil, x)
	for c := range 4 {
		for s := range 10 {
			changed := y0.Data()[c*10+s] != y1.Data()[c*10+s]
			if s < 6 && changed {
				t.Fatalf("output %d changed when input 6 did", s)
			}
		}
	}
	if y0.Data()[6] == y1.Data()[6] {
		t.Fatal("output 6 did not see input 6")
	}
}

func TestClipGradNorm(t *testing.T) {
	a, b := tensor.New(1).SetRequiresGrad(true), tensor.New(1).SetRequiresGrad(true)
	tp := tensor.NewTape()
	tp.Backward(tp.Add(tp.Scale(a, 3), tp.Scale(b, 4)))
	if n := ClipGradNorm([]*tensor.Tensor{a, b}, 10); n != 5 || a.Grad().Data()[0] != 3 {
		t.Fatalf("norm %g, grad %g: want 5 and no clipping", n, a.Grad().Data()[0])
	}
	ClipGradNorm([]*tensor.Tensor{a, b}, 1)
	if ga, gb := a.Grad().Data()[0], b.Grad().Data()[0]; math.Abs(float64(ga)-0.6) > 1e-6 || math.Abs(float64(gb)-0.8) > 1e-6 {
		t.Fatalf("clipped grads %g %g, want 0.6 0.8", ga, gb)
	}
}

// Sequential runs a batch norm and the activation after it as one op.
func TestSequentialFusesBatchNormActivation(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := NewSequential(NewLinear(3, 4, true, r), NewBatchNorm(4), LeakyReLU{Slope: 0.2}, NewBatchNorm(4), LeakyReLU{Slope: -1})
	tp := tensor.NewTape()
	p := tensor.NewProfile()
	tp.SetProfile(p)
	x := tensor.New(5, 3).SetRequiresGrad(true)
	s.Forward(tp, x)
	var ops []string
	for _, e := range p.Entries() {
		ops = append(ops, e.Op)
	}
	got := strings.Join(ops, " ")
	if !strings.Contains(got, "batch_norm_leaky_relu") || !strings.Contains(got, "leaky_relu") || len(ops) != 4 {
		t.Fatalf("ops %q: want linear, batch_norm_leaky_relu, then an unfused batch_norm and leaky_relu (negative slope)", got)
	}
}

// A wrong initial state panics with the input's and the state's shapes.
func TestLSTMStateShapeError(t *testing.T) {
	l := NewLSTM(3, 2, 1, true, rand.New(rand.NewPCG(1, 1)))
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "[4 5 3]") || !strings.Contains(msg, "[2 3 2]") {
			t.Fatalf("panic %q: want one naming the input [4 5 3] and the state [2 3 2]", msg)
		}
	}()
	l.ForwardState(nil, tensor.New(4, 5, 3), tensor.New(2, 3, 2), nil)
}

// With momentum=None (CumulativeAverage) the running mean is the plain
// average of the batch means, and Momentum plays no part.
func TestBatchNormCumulativeAverage(t *testing.T) {
	b := NewBatchNorm(1)
	b.CumulativeAverage = true
	b.Momentum = 0.9
	for _, v := range []float32{1, 2, 6} {
		b.Forward(nil, tensor.FromSlice([]float32{v - 1, v + 1}, 2, 1))
	}
	if m := b.RunningMean.Data()[0]; math.Abs(float64(m)-3) > 1e-6 {
		t.Fatalf("running mean %g after batch means 1, 2, 6: want 3", m)
	}
	if n := b.NumBatchesTracked.Data()[0]; n != 3 {
		t.Fatalf("num_batches_tracked %g, want 3", n)
	}
}

// With the NaN check on, a NaN made inside a Sequential is reported with the
// op and the layer's position under the tape's label.
func TestSequentialNaNNamesTheLayer(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	lin := NewLinear(3, 2, true, r)
	s := NewSequential(NewLinear(3, 3, true, r), ReLU{}, lin, Tanh{})
	lin.Bias.Data()[1] = float32(math.Inf(1))
	tp := tensor.NewTape()
	tp.SetCheckNaN(true)
	restore := tp.Scope("decoder")
	s.Forward(tp, tensor.New(2, 3).SetRequiresGrad(true))
	if got := tp.Label(); got != "decoder" {
		t.Fatalf("label %q after Forward, want the caller's \"decoder\"", got)
	}
	restore()
	err := tp.NaNError()
	if err == nil || !strings.Contains(err.Error(), "linear") || !strings.Contains(err.Error(), "decoder.2") {
		t.Fatalf("NaN report %v, want one naming the linear op of decoder.2", err)
	}
}
