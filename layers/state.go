package layers

import (
	"fmt"
	"math"
	"slices"

	"github.com/halo-ml/halo/tensor"
)

// StateDict returns m's parameters and buffers as arrays keyed by PyTorch's
// names (sharing the float32 data; int64 buffers converted).
func StateDict(m Module) map[string]*tensor.Array {
	out := map[string]*tensor.Array{}
	for _, p := range m.Params() {
		if p.Int64 {
			d := p.Tensor.Data()
			v := make([]int64, len(d))
			for i, x := range d {
				v[i] = int64(x)
			}
			out[p.Name] = tensor.NewArray(v, p.Tensor.Shape()...)
			continue
		}
		out[p.Name] = tensor.ArrayOf(p.Tensor)
	}
	return out
}

// LoadStateDict copies the arrays of sd into m's tensors by name. Every
// tensor of m must be present with its shape; keys m does not have are an
// error. The error names source (a file name, say) and the first problem.
func LoadStateDict(m Module, sd map[string]*tensor.Array, source string) error {
	params := m.Params()
	known := map[string]bool{}
	for _, p := range params {
		known[p.Name] = true
		a, ok := sd[p.Name]
		if !ok {
			return fmt.Errorf("layers: %s: no tensor %q", source, p.Name)
		}
		if !slices.Equal(a.Shape, p.Tensor.Shape()) {
			return fmt.Errorf("layers: %s: tensor %q has shape %s, the module wants %s",
				source, p.Name, tensor.ShapeString(a.Shape), tensor.ShapeString(p.Tensor.Shape()))
		}
		v := a.Float32s()
		for i, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("layers: %s: tensor %q holds %g at element %d", source, p.Name, x, i)
			}
		}
		copy(p.Tensor.Data(), v)
	}
	for name := range sd {
		if !known[name] {
			return fmt.Errorf("layers: %s: unexpected tensor %q", source, name)
		}
	}
	return nil
}

// SaveState writes m's state dict to a safetensors file (atomically) that
// PyTorch's load_state_dict accepts for the same module.
func SaveState(path string, m Module) error {
	return tensor.WriteSafetensors(path, StateDict(m), map[string]string{"format": "pt"})
}

// LoadState reads a safetensors state dict, such as one saved from
// PyTorch, into m.
func LoadState(path string, m Module) error {
	f, err := tensor.ReadSafetensors(path)
	if err != nil {
		return err
	}
	return LoadStateDict(m, f.Tensors, path)
}
