package halo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/halo-ml/halo/layers"
	"github.com/halo-ml/halo/tensor"
)

// The model goldens (scripts/golden_model.py, from the PyTorch model
// torch_halo.py with the same weights, batch, start frame and noise) pass
// when every element of every loss term, gradient and BatchNorm buffer
// satisfies
//
//	|go - torch| <= modelRTol*|torch| + atol
//
// The relative part is the acceptance bar, 1e-4; the loss terms, scalars,
// get it alone. A pure relative test cannot hold for gradients in float32:
// most of their elements are sums whose terms cancel, and they carry an
// absolute rounding error on the scale of the terms summed, not of the small
// result. The script measures that error by rerunning the step in float64
// and stores it per tensor (f32err, PyTorch's max |float32 - float64|):
// within 2.4e-5 x max|exact| for every gradient but two kinds below. Go's
// float32 computation rounds differently again, so the two may be apart by
// the sum of their errors. Hence
//
//	atol = max(modelATol x 1e-4 x max|torch|, modelNoise x f32err)
//
// with modelATol = 1 and modelNoise = 4: the first term, 1e-4 of the
// tensor's scale, decides for every gradient but mu_z.bias, whose exact
// value is small (the KL term's mu_z/B) beside the reconstruction terms
// that cancel in it exactly (they reach it through the decoder's first
// BatchNorm, whose input gradient sums to zero over the batch), so that
// PyTorch's own float32 value is 1e-4 to 3e-4 of its scale away from the
// exact one.
//
// The biases that a training-mode BatchNorm follows have an exact gradient
// of zero (float64 gives about 1e-13): PyTorch's and Go's float32 values are
// both rounding noise, and Go's (summing in another order) is up to a few
// times PyTorch's. Go's must stay within modelZeroNoise x f32err of zero,
// which is still five orders of magnitude below any real gradient of those
// layers (their BatchNorm's bias gradients, on the same sums, are 10 to 200).
//
// ReLU kinks: at an input within float32 rounding of zero, two float32
// implementations may disagree on the derivative (1 or 0), and one such
// element moves the gradients upstream by up to 1e-3 of their scale. The
// script places the BatchNorm biases before the activations so that every
// activation input is at least 1e-5 of its layer's largest away from zero.
const (
	modelRTol      = 1e-4
	modelATol      = 1.0
	modelNoise     = 4.0
	modelZeroNoise = 100.0
)

func modelGoldenPath(name string) string {
	return filepath.Join("..", "testdata", "golden", "model", name+".safetensors")
}

// modelGoldenCase is one fixture of scripts/golden_model.py.
type modelGoldenCase struct {
	name        string
	operators   int
	conditional bool
	// base names the fixture whose weights this one shares where it does not
	// store its own.
	base string
	// partialGrads: the fixture holds the gradients of the heads, not of
	// the encoder and decoder (the unconditional case covers those).
	partialGrads bool
}

var modelGoldenCases = []modelGoldenCase{
	{name: "balls", operators: 1},
	{name: "balls_conditional", operators: 2, conditional: true, base: "balls", partialGrads: true},
}

// goldenModelConfig is torch_halo's arch 'balls' as the script builds it:
// d = 2, normalised q and p, h 64, z 8, position width 32, lossVrecon.
func goldenModelConfig(t *testing.T, gc modelGoldenCase, frames int) Config {
	t.Helper()
	c, err := Preset("balls")
	if err != nil {
		t.Fatal(err)
	}
	c.Channels, c.FCHidden = []int{32, 64, 128}, 256
	c.HDim, c.ZDim, c.D, c.PosHidden, c.T = 64, 8, 2, 32, frames
	c.Operators, c.Conditional = gc.operators, gc.conditional
	c.LossVRecon, c.NormalizeQP = true, true
	c.ReconTerm, c.BetaZ, c.BetaV, c.BetaV1, c.BetaT, c.TemporalLoss = 1, 1, 1, 1, 0, false
	c.Dynamics, c.TCNKernel = "hamiltonian", 4
	c.Init = "default" // the weights come from the fixture
	return c
}

// torchName maps a parameter name of the Go model to torch_halo's: its
// weight-normed convolutions name their tensors v and g.
func torchName(name string) string {
	if !strings.HasPrefix(name, "tcn.") {
		return name
	}
	if s, ok := strings.CutSuffix(name, ".weight_v"); ok {
		return s + ".v"
	}
	if s, ok := strings.CutSuffix(name, ".weight_g"); ok {
		return s + ".g"
	}
	return name
}

// sub returns the arrays of f whose keys start with prefix, the prefix removed.
func sub(f *tensor.Safetensors, prefix string) map[string]*tensor.Array {
	out := map[string]*tensor.Array{}
	for k, v := range f.Tensors {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

func scalar(t *testing.T, f *tensor.Safetensors, key string) float64 {
	t.Helper()
	a, ok := f.Tensors[key]
	if !ok || a.Len() != 1 {
		t.Fatalf("fixture has no scalar %s", key)
	}
	switch v := a.Data.(type) {
	case []float64:
		return v[0]
	case []int64:
		return float64(v[0])
	}
	return float64(a.Float32s()[0])
}

// fixedNoise hands out the fixture's noise arrays in order (z, q, p).
type fixedNoise struct {
	parts [][]float32
	err   error
}

func (n *fixedNoise) Fill(dst []float32) {
	if len(n.parts) == 0 {
		n.err = fmt.Errorf("noise asked for %d more values after the fixture's arrays", len(dst))
		return
	}
	if len(n.parts[0]) != len(dst) {
		n.err = fmt.Errorf("noise asked for %d values, the fixture's next array has %d", len(dst), len(n.parts[0]))
	}
	copy(dst, n.parts[0])
	n.parts = n.parts[1:]
}

// modelErr are the errors of one comparison: the worst ratio to the
// tolerance (<= 1 passes) and its element, the worst relative error over the
// elements not below 1e-3 of the tensor's largest value, the worst absolute
// error over that largest value, and the relative error of the whole tensor,
// ||go - torch|| / ||torch||.
type modelErr struct {
	ratio, rel, abs, norm float64
	at                    int
}

func compareModel(got []float32, want []float64, atol float64) modelErr {
	var scale float64
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	e := modelErr{at: -1}
	var dd, ww float64
	for i, w := range want {
		d := math.Abs(float64(got[i]) - w)
		if math.IsNaN(d) {
			return modelErr{math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), i}
		}
		dd += d * d
		ww += w * w
		tol := modelRTol*math.Abs(w) + atol
		if r := d / math.Max(tol, 1e-300); r > e.ratio {
			e.ratio, e.at = r, i
		}
		if scale > 0 {
			e.abs = math.Max(e.abs, d/scale)
			if math.Abs(w) >= 1e-3*scale {
				e.rel = math.Max(e.rel, d/math.Abs(w))
			}
		}
	}
	if ww > 0 {
		e.norm = math.Sqrt(dd / ww)
	}
	return e
}

func float64s(a *tensor.Array) []float64 {
	if v, ok := a.Data.([]float64); ok {
		return v
	}
	f := a.Float32s()
	out := make([]float64, len(f))
	for i, x := range f {
		out[i] = float64(x)
	}
	return out
}

type modelReport struct {
	t     *testing.T
	lines []string
	worst modelErr
}

func (r *modelReport) check(what string, got []float32, want *tensor.Array, atol float64, note string) {
	r.t.Helper()
	if len(got) != want.Len() {
		r.t.Errorf("%s: %d values, PyTorch %d (%s)", what, len(got), want.Len(), tensor.ShapeString(want.Shape))
		return
	}
	w := float64s(want)
	e := compareModel(got, w, atol)
	if e.ratio > 1 {
		r.t.Errorf("%s: element %d = %g, PyTorch %g (%.3g x tolerance)", what, e.at, got[e.at], w[e.at], e.ratio)
	}
	r.lines = append(r.lines, fmt.Sprintf("%-40s relative %.2e  |d|/max %.2e  norm %.2e  %.3f x tolerance%s", what, e.rel, e.abs, e.norm, e.ratio, note))
	r.worst.ratio = math.Max(r.worst.ratio, e.ratio)
}

// loadModelGolden builds the Go model of a fixture with its weights.
func loadModelGolden(t *testing.T, gc modelGoldenCase) (*Model, *tensor.Safetensors) {
	t.Helper()
	f, err := tensor.ReadSafetensors(modelGoldenPath(gc.name))
	if err != nil {
		t.Fatal(err)
	}
	weights := map[string]*tensor.Array{}
	if gc.base != "" {
		b, err := tensor.ReadSafetensors(modelGoldenPath(gc.base))
		if err != nil {
			t.Fatal(err)
		}
		weights = sub(b, "weight.")
	}
	for k, v := range sub(f, "weight.") {
		weights[k] = v
	}
	x := f.Tensors["input.x"]
	if x == nil || len(x.Shape) != 5 {
		t.Fatal("fixture has no input.x [B T C H W]")
	}
	m, err := NewModel(goldenModelConfig(t, gc, x.Shape[1]), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	sd := map[string]*tensor.Array{}
	for _, p := range m.Params() {
		if a, ok := weights[torchName(p.Name)]; ok {
			sd[p.Name] = a
		}
	}
	if len(sd) != len(weights) {
		t.Fatalf("the fixture has %d weights, %d of them named as the Go model's", len(weights), len(sd))
	}
	if err := layers.LoadStateDict(m, sd, modelGoldenPath(gc.name)); err != nil {
		t.Fatal(err)
	}
	return m, f
}

// TestGoldenModel: the Go model and torch_halo's HALO with the same weights
// give the same loss terms, gradients and BatchNorm statistics after one
// training-mode step on the same batch, start frame and noise.
func TestGoldenModel(t *testing.T) {
	if testing.Short() {
		// About 20 s (minutes under the race detector); the full test run
		// (go test ./...) always includes it.
		t.Skip("slow: whole-model golden test; run without -short")
	}
	for _, gc := range modelGoldenCases {
		t.Run(gc.name, func(t *testing.T) {
			m, f := loadModelGolden(t, gc)
			x := f.Tensors["input.x"]
			in := LossInput{
				X:     tensor.FromSlice(append([]float32(nil), x.Float32s()...), x.Shape...),
				Start: int(scalar(t, f, "input.start")),
			}
			if gc.conditional {
				for _, a := range f.Tensors["input.actions"].Data.([]int64) {
					in.Actions = append(in.Actions, int(a))
				}
			}
			noise := &fixedNoise{}
			for _, k := range []string{"noise.z", "noise.q", "noise.p"} {
				noise.parts = append(noise.parts, f.Tensors[k].Float32s())
			}
			in.Noise = noise

			tp := tensor.NewTape()
			total, terms, err := m.Loss(tp, in)
			if err != nil {
				t.Fatal(err)
			}
			if noise.err != nil || len(noise.parts) != 0 {
				t.Fatalf("noise: %v, %d arrays unused", noise.err, len(noise.parts))
			}
			tp.Backward(total)

			r := &modelReport{t: t}
			for _, term := range []struct {
				key string
				got float64
			}{
				{"recon", terms.Recon}, {"vrecon", terms.VRecon}, {"state", terms.State},
				{"kl_z", terms.KLZ}, {"kl_qp", terms.KLQP}, {"total", terms.Total},
			} {
				r.check("term "+term.key, []float32{float32(term.got)}, f.Tensors["term."+term.key], 0, "")
			}
			if terms.Temporal != 0 {
				t.Errorf("temporal term %g, the config has none", terms.Temporal)
			}

			grads := sub(f, "grad.")
			seen := 0
			for _, p := range m.Params() {
				if p.Buffer {
					continue
				}
				want, ok := grads[p.Name]
				if !ok {
					if !gc.partialGrads || !(strings.HasPrefix(p.Name, "encoder.") || strings.HasPrefix(p.Name, "decoder.")) {
						t.Errorf("the fixture has no gradient of %s", p.Name)
					}
					continue
				}
				seen++
				g := p.Tensor.Grad()
				if g == nil {
					t.Errorf("%s: no gradient", p.Name)
					continue
				}
				f32err := scalar(t, f, "f32err.grad."+p.Name)
				if scalar(t, f, "f64max.grad."+p.Name) < 1e-3*f32err {
					// Exact gradient zero: PyTorch's values are noise.
					r.check("grad "+p.Name, g.Data(), tensor.NewArray(make([]float64, want.Len()), want.Shape...),
						modelZeroNoise*f32err, fmt.Sprintf("  (exactly 0; PyTorch's noise %.1e)", f32err))
					continue
				}
				r.check("grad "+p.Name, g.Data(), want, math.Max(modelATol*modelRTol*maxAbs(want), modelNoise*f32err), "")
			}
			if seen != len(grads) {
				t.Errorf("the fixture has %d gradients, %d of them of the Go model's parameters", len(grads), seen)
			}

			after := sub(f, "after.")
			state := layers.StateDict(m)
			for _, k := range sortedNames(after) {
				got, ok := state[k]
				if !ok {
					t.Errorf("the Go model has no buffer %s", k)
					continue
				}
				r.check("after "+k, got.Float32s(), after[k], modelATol*modelRTol*maxAbs(after[k]), "")
			}
			if len(after) == 0 {
				t.Error("the fixture has no BatchNorm buffers")
			}
			for _, l := range r.lines {
				t.Log(l)
			}
			t.Logf("%d terms, %d gradients, %d buffers compared; worst %.3f x tolerance", 6, seen, len(after), r.worst.ratio)
		})
	}
}

func maxAbs(a *tensor.Array) float64 {
	var m float64
	for _, v := range float64s(a) {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

func sortedNames[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
