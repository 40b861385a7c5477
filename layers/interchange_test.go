package layers

import (
	"flag"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/halo-ml/halo/tensor"
)

// writeGoFixture rewrites testdata/golden/layers/interchange_go*.safetensors,
// the state dict and outputs that scripts/golden_layers.py loads into
// PyTorch (go test ./layers -run TestInterchangeGoFixture -write-go-fixture,
// then run the script).
var writeGoFixture = flag.Bool("write-go-fixture", false, "rewrite the Go-written interchange fixture for PyTorch")

// interchangeNet is the script's Interchange module: an encoder-like
// Sequential, a two-layer bidirectional LSTM over its per-frame features and
// a temporal block over the LSTM's outputs.
type interchangeNet struct {
	enc  *Sequential
	lstm *LSTM
	tcn  *TemporalBlock
}

func newInterchangeNet(r *rand.Rand) *interchangeNet {
	return &interchangeNet{
		enc: NewSequential(
			NewConv2d(1, 4, 3, 2, 1, true, r), NewBatchNorm(4), LeakyReLU{Slope: 0.2},
			NewConv2dRect(4, 6, [2]int{3, 5}, tensor.ConvParams{Stride: [2]int{2, 1}, Padding: [2]int{1, 2}}, true, r),
			NewBatchNorm(6), ReLU{},
			Flatten{}, NewLinear(6*2*4, 8, true, r), NewBatchNorm(8), Tanh{}),
		lstm: NewLSTM(8, 5, 2, true, r),
		tcn:  NewTemporalBlock(10, 3, 1, r),
	}
}

func (n *interchangeNet) Params() []Param {
	ps := Prefixed("enc", n.enc.Params())
	ps = append(ps, Prefixed("lstm", n.lstm.Params())...)
	return append(ps, Prefixed("tcn", n.tcn.Params())...)
}

func (n *interchangeNet) SetTraining(on bool) { n.enc.SetTraining(on) }

// forward maps x [B, T, 1, 8, 8] to the script's outputs.
func (n *interchangeNet) forward(x *tensor.Tensor) map[string]*tensor.Tensor {
	b, t := x.Dim(0), x.Dim(1)
	h := n.enc.Forward(nil, x.Reshape(b*t, 1, 8, 8)).Reshape(b, t, -1)
	y, hn, cn := n.lstm.Forward(nil, h)
	var tp *tensor.Tape
	m := n.tcn.Forward(nil, tp.Transpose(y, 1, 2))
	return map[string]*tensor.Tensor{"h": h, "y": y, "hn": hn, "cn": cn, "m": m}
}

// outputs is the script's interchange_outputs: outputs in evaluation mode,
// then in training mode, and the state dict after that pass.
func (n *interchangeNet) outputs(x *tensor.Tensor) map[string]*tensor.Tensor {
	io := map[string]*tensor.Tensor{}
	Eval(n)
	for k, v := range n.forward(x) {
		io["eval."+k] = v
	}
	Train(n)
	for k, v := range n.forward(x) {
		io["train."+k] = v
	}
	for k, a := range StateDict(n) {
		io["after."+k] = a.Tensor()
	}
	return io
}

// PyTorch to Go: a state dict saved by PyTorch (torch's own names, int64
// num_batches_tracked) loads with LoadState, and the module reproduces
// PyTorch's outputs, in evaluation and in training mode, and its running
// statistics after the training pass.
func TestInterchangeLoadsPyTorchFile(t *testing.T) {
	n := newInterchangeNet(rand.New(rand.NewPCG(7, 7)))
	if err := LoadState(filepath.Join(goldenDir(), "interchange_torch.safetensors"), n); err != nil {
		t.Fatal(err)
	}
	io := readGolden(t, "interchange_torch_io")
	got := n.outputs(io.all["input.x"].Tensor())
	checkOutputs(t, got, io)
}

func checkOutputs(t *testing.T, got map[string]*tensor.Tensor, io golden) {
	t.Helper()
	n := 0
	for _, k := range sortedKeys(io.all) {
		if k == "input.x" {
			continue
		}
		n++
		expectClose(t, k, got[k], io.all[k])
	}
	if n != len(got) {
		t.Errorf("%d outputs, %s has %d", len(got), io.name, n)
	}
	logWorst(t)
}

// Go to PyTorch: interchange_go.safetensors is a state dict written by
// SaveState from a module initialised in Go, and interchange_go_io holds
// Go's outputs; scripts/golden_layers.py loads the file into the PyTorch
// module (strict) and checks that PyTorch reproduces them. This test keeps
// that fixture in step with the code: the committed file loads back and
// gives the committed outputs (and with -write-go-fixture it is rewritten).
func TestInterchangeGoFixture(t *testing.T) {
	stateFile := filepath.Join(goldenDir(), "interchange_go.safetensors")
	ioFile := filepath.Join(goldenDir(), "interchange_go_io.safetensors")
	if *writeGoFixture {
		r := rand.New(rand.NewPCG(11, 12))
		n := newInterchangeNet(r)
		// Batch norms with weights and biases of their own, and running
		// statistics from three training batches.
		for _, l := range n.enc.Layers {
			if bn, ok := l.(*BatchNorm); ok {
				for i := range bn.Weight.Data() {
					bn.Weight.Data()[i] = float32(0.5 + r.Float64())
					bn.Bias.Data()[i] = float32(r.NormFloat64())
				}
			}
		}
		for range 3 {
			n.forward(randBatch(r, 3, 4, 1, 8, 8))
		}
		if err := SaveState(stateFile, n); err != nil {
			t.Fatal(err)
		}
		x := randBatch(r, 2, 4, 1, 8, 8)
		io := map[string]*tensor.Array{"input.x": tensor.ArrayOf(x)}
		for k, v := range n.outputs(x) {
			io[k] = tensor.ArrayOf(v)
		}
		if err := tensor.WriteSafetensors(ioFile, io, nil); err != nil {
			t.Fatal(err)
		}
	}
	n := newInterchangeNet(rand.New(rand.NewPCG(1, 1)))
	if err := LoadState(stateFile, n); err != nil {
		t.Fatal(err)
	}
	io := readGolden(t, "interchange_go_io")
	checkOutputs(t, n.outputs(io.all["input.x"].Tensor()), io)
}
