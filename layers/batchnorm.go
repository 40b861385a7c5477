package layers

import "github.com/halo-ml/halo/tensor"

// BatchNorm is nn.BatchNorm1d (inputs [N, C] or [N, C, L]) and nn.BatchNorm2d
// (inputs [N, C, H, W]): affine weight and bias [C], running mean and
// variance [C] and the count of batches seen.
type BatchNorm struct {
	Weight, Bias            *tensor.Tensor
	RunningMean, RunningVar *tensor.Tensor
	NumBatchesTracked       *tensor.Tensor // one value, an int64 in files
	Momentum, Eps           float32
	// CumulativeAverage is PyTorch's momentum=None: the running statistics
	// are the plain average of all batches seen (factor 1/n at the n-th
	// training batch) and Momentum is ignored.
	CumulativeAverage bool
	Training          bool
}

// NewBatchNorm returns a BatchNorm over c channels as PyTorch's defaults:
// weight 1, bias 0, running mean 0 and variance 1, momentum 0.1, eps 1e-5,
// in training mode.
func NewBatchNorm(c int) *BatchNorm {
	b := &BatchNorm{Weight: param(c), Bias: param(c), RunningMean: tensor.New(c), RunningVar: tensor.New(c),
		NumBatchesTracked: tensor.New(), Momentum: 0.1, Eps: 1e-5, Training: true}
	for i := range c {
		b.Weight.Data()[i] = 1
		b.RunningVar.Data()[i] = 1
	}
	return b
}

// Forward normalises x; in training it updates the running statistics.
func (b *BatchNorm) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	return tp.BatchNorm(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, b.Training, b.count(), b.Eps)
}

// count counts a training batch and returns the factor of its statistics
// in the running averages.
func (b *BatchNorm) count() float32 {
	if !b.Training {
		return b.Momentum
	}
	n := b.NumBatchesTracked.Data()
	n[0]++
	if b.CumulativeAverage {
		return 1 / n[0]
	}
	return b.Momentum
}

// Params lists weight, bias and the buffers, as PyTorch's state dict.
func (b *BatchNorm) Params() []Param {
	return []Param{
		{Name: "weight", Tensor: b.Weight},
		{Name: "bias", Tensor: b.Bias},
		{Name: "running_mean", Tensor: b.RunningMean, Buffer: true},
		{Name: "running_var", Tensor: b.RunningVar, Buffer: true},
		{Name: "num_batches_tracked", Tensor: b.NumBatchesTracked, Buffer: true, Int64: true},
	}
}

// SetTraining switches between batch and running statistics.
func (b *BatchNorm) SetTraining(on bool) { b.Training = on }

// forwardAct is Forward followed by the activation act, fused.
func (b *BatchNorm) forwardAct(tp *tensor.Tape, x *tensor.Tensor, act tensor.MapOp, alpha float32) *tensor.Tensor {
	return tp.BatchNormAct(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, b.Training, b.count(), b.Eps, act, alpha)
}
