package layers

import (
	"math/rand/v2"

	"github.com/halo-ml/halo/tensor"
)

// Linear is y = x Wᵀ + b with W [Out, In] and b [Out], as nn.Linear.
type Linear struct {
	Weight, Bias *tensor.Tensor // Bias nil without bias
}

// NewLinear returns a Linear layer with PyTorch's default initialisation.
func NewLinear(in, out int, bias bool, rng *rand.Rand) *Linear {
	l := &Linear{Weight: param(out, in)}
	if bias {
		l.Bias = param(out)
	}
	DefaultInit(l.Weight, l.Bias, rng)
	return l
}

// Forward maps x [N, In] to [N, Out].
func (l *Linear) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	return tp.Linear(x, l.Weight, l.Bias)
}

// Params lists weight and bias.
func (l *Linear) Params() []Param { return weightBias(l.Weight, l.Bias) }

// SetTraining does nothing: a Linear layer has no mode.
func (l *Linear) SetTraining(bool) {}

func weightBias(w, b *tensor.Tensor) []Param {
	ps := []Param{{Name: "weight", Tensor: w}}
	if b != nil {
		ps = append(ps, Param{Name: "bias", Tensor: b})
	}
	return ps
}
