package tensor

import (
	"encoding/binary"
	"encoding/json"

	"math"
	"os"
	"path/filepath"
	"testing"
)

// The golden files are written by scripts/golden_conv.py: PyTorch's
// conv2d, conv_transpose2d and conv1d (computed in float64) with their
// gradients, on float32 inputs.

type goldenTensor struct {
	Offset int   `json:"offset"`
	Shape  []int `json:"shape"`
}

type goldenConvCase struct {
	Name      string                  `json:"name"`
	Op        string                  `json:"op"`
	Bias      bool                    `json:"bias"`
	Causal    bool                    `json:"causal"`
	Stride    json.RawMessage         `json:"stride"`
	Padding   json.RawMessage         `json:"padding"`
	Dilation  json.RawMessage         `json:"dilation"`
	OutPad    [2]int                  `json:"output_padding"`
	Tensors   map[string]goldenTensor `json:"tensors"`
	tensorsBy map[string]*Tensor
}

type goldenConvFile struct {
	Floats int              `json:"floats"`
	Cases  []goldenConvCase `json:"cases"`
}

func loadGoldenConv(t *testing.T) []goldenConvCase {
	t.Helper()
	dir := filepath.Join("..", "testdata", "golden", "conv")
	idx, err := os.ReadFile(filepath.Join(dir, "conv.json"))
	if err != nil {
		t.Fatalf("golden index: %v", err)
	}
	var f goldenConvFile
	if err := json.Unmarshal(idx, &f); err != nil {
		t.Fatalf("golden index %s: %v", filepath.Join(dir, "conv.json"), err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "conv.bin"))
	if err != nil {
		t.Fatalf("golden data: %v", err)
	}
	if len(raw) != 4*f.Floats {
		t.Fatalf("golden data %s: %d bytes, index says %d float32s", filepath.Join(dir, "conv.bin"), len(raw), f.Floats)
	}
	if len(f.Cases) == 0 {
		t.Fatal("golden index lists no cases")
	}
	for i := range f.Cases {
		c := &f.Cases[i]
		c.tensorsBy = map[string]*Tensor{}
		for name, gt := range c.Tensors {
			n := numel(gt.Shape)
			if gt.Offset < 0 || gt.Offset+n > f.Floats {
				t.Fatalf("golden case %s tensor %s: [%d, %d) outside the %d floats", c.Name, name, gt.Offset, gt.Offset+n, f.Floats)
			}
			d := make([]float32, n)
			for k := range d {
				d[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(gt.Offset+k):]))
			}
			c.tensorsBy[name] = FromSlice(d, gt.Shape...)
		}
	}
	return f.Cases
}

// pair reads a hyper-parameter written as [h, w] (2-D) or as one int (1-D).
func pair(t *testing.T, raw json.RawMessage) [2]int {
	t.Helper()
	var p [2]int
	if err := json.Unmarshal(raw, &p); err == nil {
		return p
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("bad hyper-parameter %s", raw)
	}
	return [2]int{0, v}
}

func TestConvGolden(t *testing.T) {
	cases := loadGoldenConv(t)
	ops := map[string]int{}
	for _, c := range cases {
		ops[c.Op]++
		t.Run(c.Name, func(t *testing.T) {
			get := func(name string) *Tensor {
				v := c.tensorsBy[name]
				if v == nil {
					t.Fatalf("tensor %s missing", name)
				}
				return v
			}
			x, w, dy := get("x"), get("w"), get("gy")
			var b *Tensor
			if c.Bias {
				b = get("b")
			}
			var g ConvGeom
			var y, dx, dw, db *Tensor
			switch c.Op {
			case "conv2d", "conv_transpose2d":
				p := ConvParams{Stride: pair(t, c.Stride), Padding: pair(t, c.Padding), Dilation: pair(t, c.Dilation)}
				if c.Op == "conv2d" {
					g = Conv2dGeom(x.Shape(), w.Shape(), p)
					y = Conv2d(x, w, b, p)
					dx, dw, db = Conv2dBackward(x, w, dy, p, true)
				} else {
					p.OutputPadding = c.OutPad
					g = ConvTranspose2dGeom(x.Shape(), w.Shape(), p)
					y = ConvTranspose2d(x, w, b, p)
					dx, dw, db = ConvTranspose2dBackward(x, w, dy, p, true)
				}
			case "conv1d":
				p := Conv1dParams{Stride: pair(t, c.Stride)[1], Padding: pair(t, c.Padding)[1], Dilation: pair(t, c.Dilation)[1], Causal: c.Causal}
				g = Conv1dGeom(x.Shape(), w.Shape(), p)
				y = Conv1d(x, w, b, p)
				dx, dw, db = Conv1dBackward(x, w, dy, p, true)
			default:
				t.Fatalf("unknown op %q", c.Op)
			}
			if !equalShape(y.Shape(), get("y").Shape()) {
				t.Fatalf("output shape %v, PyTorch %v", y.Shape(), get("y").Shape())
			}
			// Error scales from absolute values (see closeTo); the
			// reference itself is PyTorch's.
			sc := newRefScale(g, x.Data(), w.Data(), biasData(b), dy.Data())
			const tol = 1e-4
			report := func(name string, got *Tensor, want *Tensor, scale []float64) {
				closeTo(t, name, got.Data(), to64(want.Data()), scale, tol)
				t.Logf("%s: max error %.2g of scale, %.2g of max |PyTorch|", name,
					worstScaled(got.Data(), want.Data(), scale), worstRel(got.Data(), want.Data()))
			}
			report("y", y, get("y"), sc.y)
			report("grad_input", dx, get("gx"), sc.dx)
			report("grad_weight", dw, get("gw"), sc.dw)
			if c.Bias {
				report("grad_bias", db, get("gb"), sc.db)
			}
		})
	}
	for _, op := range []string{"conv2d", "conv_transpose2d", "conv1d"} {
		if ops[op] == 0 {
			t.Errorf("no golden case for %s", op)
		}
	}
}

func worstScaled(got, want []float32, scale []float64) float64 {
	w := 0.0
	for i := range got {
		w = max(w, math.Abs(float64(got[i])-float64(want[i]))/(scale[i]+1e-30))
	}
	return w
}

// worstRel is max |got - want| / max |want|.
func worstRel(got, want []float32) float64 {
	var e, m float64
	for i := range got {
		e = max(e, math.Abs(float64(got[i])-float64(want[i])))
		m = max(m, math.Abs(float64(want[i])))
	}
	return e / m
}
