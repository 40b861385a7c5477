package layers

import (
	"math/rand/v2"

	"github.com/halo-ml/halo/tensor"
)

// Conv2d is nn.Conv2d: weight [Out, In, KH, KW], bias [Out].
type Conv2d struct {
	Weight, Bias *tensor.Tensor
	P            tensor.ConvParams
}

// NewConv2d returns a Conv2d with a square kernel k, stride and padding,
// initialised as PyTorch's.
func NewConv2d(in, out, k, stride, padding int, bias bool, rng *rand.Rand) *Conv2d {
	return NewConv2dRect(in, out, [2]int{k, k}, square(stride, padding, 0), bias, rng)
}

// NewConv2dRect returns a Conv2d with a kernel of kernel[0] rows and
// kernel[1] columns and any (height, width) stride, padding and dilation
// in p, initialised as PyTorch's.
func NewConv2dRect(in, out int, kernel [2]int, p tensor.ConvParams, bias bool, rng *rand.Rand) *Conv2d {
	c := &Conv2d{Weight: param(out, in, kernel[0], kernel[1]), P: p}
	if bias {
		c.Bias = param(out)
	}
	DefaultInit(c.Weight, c.Bias, rng)
	return c
}

// Forward convolves x [N, In, H, W].
func (c *Conv2d) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	return tp.Conv2d(x, c.Weight, c.Bias, c.P)
}

// Params lists weight and bias.
func (c *Conv2d) Params() []Param { return weightBias(c.Weight, c.Bias) }

// SetTraining does nothing.
func (c *Conv2d) SetTraining(bool) {}

// ConvTranspose2d is nn.ConvTranspose2d: weight [In, Out, KH, KW], bias [Out].
type ConvTranspose2d struct {
	Weight, Bias *tensor.Tensor
	P            tensor.ConvParams
}

// NewConvTranspose2d returns a ConvTranspose2d with a square kernel k,
// stride, padding and output padding, initialised as PyTorch's (whose fan-in
// is taken from the weight's dimension 1, Out).
func NewConvTranspose2d(in, out, k, stride, padding, outputPadding int, bias bool, rng *rand.Rand) *ConvTranspose2d {
	return NewConvTranspose2dRect(in, out, [2]int{k, k}, square(stride, padding, outputPadding), bias, rng)
}

// NewConvTranspose2dRect returns a ConvTranspose2d with a kernel of
// kernel[0] rows and kernel[1] columns and any (height, width) stride,
// padding, dilation and output padding in p, initialised as PyTorch's.
func NewConvTranspose2dRect(in, out int, kernel [2]int, p tensor.ConvParams, bias bool, rng *rand.Rand) *ConvTranspose2d {
	c := &ConvTranspose2d{Weight: param(in, out, kernel[0], kernel[1]), P: p}
	if bias {
		c.Bias = param(out)
	}
	DefaultInit(c.Weight, c.Bias, rng)
	return c
}

// Forward applies the transposed convolution to x [N, In, H, W].
func (c *ConvTranspose2d) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	return tp.ConvTranspose2d(x, c.Weight, c.Bias, c.P)
}

// Params lists weight and bias.
func (c *ConvTranspose2d) Params() []Param { return weightBias(c.Weight, c.Bias) }

// SetTraining does nothing.
func (c *ConvTranspose2d) SetTraining(bool) {}

// Conv1d is nn.Conv1d: weight [Out, In, K], bias [Out]. With P.Causal the
// padding is on the left only, which is a padded PyTorch Conv1d followed by
// the temporal block's chomp.
type Conv1d struct {
	Weight, Bias *tensor.Tensor
	P            tensor.Conv1dParams
}

// NewConv1d returns a Conv1d initialised as PyTorch's.
func NewConv1d(in, out, k int, p tensor.Conv1dParams, bias bool, rng *rand.Rand) *Conv1d {
	c := &Conv1d{Weight: param(out, in, k), P: p}
	if bias {
		c.Bias = param(out)
	}
	DefaultInit(c.Weight, c.Bias, rng)
	return c
}

// Forward convolves x [N, In, L].
func (c *Conv1d) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	return tp.Conv1d(x, c.Weight, c.Bias, c.P)
}

// Params lists weight and bias.
func (c *Conv1d) Params() []Param { return weightBias(c.Weight, c.Bias) }

// SetTraining does nothing.
func (c *Conv1d) SetTraining(bool) {}

// square returns the parameters of a layer with the same stride, padding
// and output padding along both axes.
func square(stride, padding, outputPadding int) tensor.ConvParams {
	return tensor.ConvParams{Stride: [2]int{stride, stride}, Padding: [2]int{padding, padding},
		OutputPadding: [2]int{outputPadding, outputPadding}}
}
