package layers

import (
	"math"
	"math/rand/v2"

	"github.com/halo-ml/halo/tensor"
)

// WNConv1d is a Conv1d under weight normalisation along the output channel,
// as torch.nn.utils.weight_norm(conv, dim=0): the weight is
// g * v / ||v||, the norm over all axes but the first, with parameters
// weight_g [Out, 1, 1], weight_v [Out, In, K] and bias [Out].
type WNConv1d struct {
	G, V, Bias *tensor.Tensor
	P          tensor.Conv1dParams
}

// NewWNConv1d returns a weight-normalised Conv1d whose v and bias have
// PyTorch's default initialisation and whose g is ||v||, as weight_norm
// leaves them.
func NewWNConv1d(in, out, k int, p tensor.Conv1dParams, rng *rand.Rand) *WNConv1d {
	c := &WNConv1d{G: param(out, 1, 1), V: param(out, in, k), Bias: param(out), P: p}
	DefaultInit(c.V, c.Bias, rng)
	v := c.V.Data()
	per := in * k
	for o := range out {
		var s float64
		for _, x := range v[o*per : (o+1)*per] {
			s += float64(x) * float64(x)
		}
		c.G.Data()[o] = float32(math.Sqrt(s))
	}
	return c
}

// Weight returns g * v / ||v|| on the tape.
func (c *WNConv1d) Weight(tp *tensor.Tape) *tensor.Tensor {
	norm := tp.Sqrt(tp.Sum(tp.Square(c.V), true, 1, 2))
	return tp.Mul(c.G, tp.Div(c.V, norm))
}

// Forward convolves x [N, In, L] with the normalised weight.
func (c *WNConv1d) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	return tp.Conv1d(x, c.Weight(tp), c.Bias, c.P)
}

// Params lists bias, weight_g and weight_v, PyTorch's state-dict order
// after weight_norm.
func (c *WNConv1d) Params() []Param {
	return []Param{{Name: "bias", Tensor: c.Bias}, {Name: "weight_g", Tensor: c.G}, {Name: "weight_v", Tensor: c.V}}
}

// SetTraining does nothing.
func (c *WNConv1d) SetTraining(bool) {}

// TemporalBlock is the causal temporal convolution block of HALO's momentum
// network (a TCN block without dropout, channels in = out): two
// weight-normalised causal Conv1d of kernel K and padding (K-1)*dilation,
// each followed by a leaky ReLU of slope 0.2, an identity residual and a
// final leaky ReLU: lrelu(lrelu(conv2(lrelu(conv1(x)))) + x).
type TemporalBlock struct {
	Conv1, Conv2 *WNConv1d
}

// NewTemporalBlock returns a block over ch channels with kernel k and
// dilation d.
func NewTemporalBlock(ch, k, d int, rng *rand.Rand) *TemporalBlock {
	p := tensor.Conv1dParams{Padding: (k - 1) * d, Dilation: d, Causal: true}
	return &TemporalBlock{Conv1: NewWNConv1d(ch, ch, k, p, rng), Conv2: NewWNConv1d(ch, ch, k, p, rng)}
}

// Forward maps x [N, ch, L] to [N, ch, L]; output t sees inputs up to t.
func (b *TemporalBlock) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	out := tp.LeakyRelu(b.Conv1.Forward(tp, x), 0.2)
	out = tp.LeakyRelu(b.Conv2.Forward(tp, out), 0.2)
	return tp.LeakyRelu(tp.Add(out, x), 0.2)
}

// Params lists conv1.* then conv2.*.
func (b *TemporalBlock) Params() []Param {
	return append(Prefixed("conv1", b.Conv1.Params()), Prefixed("conv2", b.Conv2.Params())...)
}

// SetTraining does nothing.
func (b *TemporalBlock) SetTraining(bool) {}
