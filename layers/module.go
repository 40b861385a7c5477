package layers

import (
	"fmt"
	"strconv"

	"github.com/halo-ml/halo/tensor"
)

// Param is a named tensor of a module: a trained parameter, or a buffer
// (running statistics) that state dicts carry but optimisers skip.
type Param struct {
	Name   string // PyTorch's state-dict key, e.g. "0.weight", "bias_hh_l1_reverse"
	Tensor *tensor.Tensor
	Buffer bool // not trained
	// Int64 marks a buffer that PyTorch stores as int64 (BatchNorm's
	// num_batches_tracked); it is float32 here and converted in files.
	Int64 bool
}

// Module is anything with parameters and a training mode.
type Module interface {
	// Params lists the module's parameters and buffers in PyTorch's
	// state-dict order, with its names.
	Params() []Param
	// SetTraining switches between training (batch statistics) and
	// evaluation behaviour.
	SetTraining(on bool)
}

// Layer is a module that maps one tensor to one.
type Layer interface {
	Module
	Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor
}

// Train puts m in training mode.
func Train(m Module) { m.SetTraining(true) }

// Eval puts m in evaluation mode.
func Eval(m Module) { m.SetTraining(false) }

// Trainable returns the tensors of m's parameters that are not buffers, the
// list an optimiser takes.
func Trainable(m Module) []*tensor.Tensor {
	var ts []*tensor.Tensor
	for _, p := range m.Params() {
		if !p.Buffer {
			ts = append(ts, p.Tensor)
		}
	}
	return ts
}

// ZeroGrad clears the gradients of all of m's tensors.
func ZeroGrad(m Module) {
	for _, p := range m.Params() {
		p.Tensor.ZeroGrad()
	}
}

// Prefixed returns ps with prefix + "." before each name (PyTorch's naming
// of submodules).
func Prefixed(prefix string, ps []Param) []Param {
	out := make([]Param, len(ps))
	for i, p := range ps {
		p.Name = prefix + "." + p.Name
		out[i] = p
	}
	return out
}

// param makes a trainable leaf tensor.
func param(shape ...int) *tensor.Tensor { return tensor.New(shape...).SetRequiresGrad(true) }

// Sequential runs layers one after another; its parameters are named by
// position ("0.weight", "1.running_mean", ...) as nn.Sequential's.
type Sequential struct {
	Layers []Layer
}

// NewSequential returns a Sequential of the given layers.
func NewSequential(layers ...Layer) *Sequential { return &Sequential{Layers: layers} }

// Forward runs the layers in order. A BatchNorm followed by a ReLU, a leaky
// ReLU of positive slope, a Tanh or a Sigmoid runs as one fused op
// (tensor's BatchNormAct), which computes the same values and stores one
// tensor fewer. On a tape, each layer's ops carry the tape's label followed
// by the layer's position ("encoder.3"), which NaN reports and profiles name.
func (s *Sequential) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	var parent string
	if tp != nil {
		parent = tp.Label()
		defer tp.Scope(parent)()
	}
	for i := 0; i < len(s.Layers); i++ {
		if tp != nil {
			tp.Scope(layerLabel(parent, i))
		}
		if bn, ok := s.Layers[i].(*BatchNorm); ok && i+1 < len(s.Layers) {
			if act, alpha, ok := fusable(s.Layers[i+1]); ok {
				x = bn.forwardAct(tp, x, act, alpha)
				i++
				continue
			}
		}
		x = s.Layers[i].Forward(tp, x)
	}
	return x
}

// layerLabel is the label of layer i of a Sequential under parent.
func layerLabel(parent string, i int) string {
	if parent == "" {
		return strconv.Itoa(i)
	}
	return parent + "." + strconv.Itoa(i)
}

// fusable returns the map op of an activation layer that BatchNormAct can
// fuse.
func fusable(l Layer) (tensor.MapOp, float32, bool) {
	switch a := l.(type) {
	case ReLU, *ReLU:
		return tensor.MapRelu, 0, true
	case Tanh, *Tanh:
		return tensor.MapTanh, 0, true
	case Sigmoid, *Sigmoid:
		return tensor.MapSigmoid, 0, true
	case LeakyReLU:
		return tensor.MapLeakyRelu, a.Slope, a.Slope > 0
	case *LeakyReLU:
		return tensor.MapLeakyRelu, a.Slope, a.Slope > 0
	}
	return 0, 0, false
}

// Params lists the layers' parameters, prefixed with their positions.
func (s *Sequential) Params() []Param {
	var ps []Param
	for i, l := range s.Layers {
		ps = append(ps, Prefixed(fmt.Sprint(i), l.Params())...)
	}
	return ps
}

// SetTraining sets the mode of every layer.
func (s *Sequential) SetTraining(on bool) {
	for _, l := range s.Layers {
		l.SetTraining(on)
	}
}

// stateless is embedded by layers without parameters.
type stateless struct{}

func (stateless) Params() []Param  { return nil }
func (stateless) SetTraining(bool) {}

// ReLU is the layer max(x, 0).
type ReLU struct{ stateless }

// Forward applies ReLU.
func (ReLU) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor { return tp.Relu(x) }

// LeakyReLU is the layer x > 0 ? x : Slope*x.
type LeakyReLU struct {
	stateless
	Slope float32
}

// Forward applies the leaky ReLU.
func (l LeakyReLU) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	return tp.LeakyRelu(x, l.Slope)
}

// Tanh is the layer tanh(x).
type Tanh struct{ stateless }

// Forward applies tanh.
func (Tanh) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor { return tp.Tanh(x) }

// Sigmoid is the layer 1/(1+exp(-x)).
type Sigmoid struct{ stateless }

// Forward applies the sigmoid.
func (Sigmoid) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor { return tp.Sigmoid(x) }

// Flatten views [N, ...] as [N, rest], as nn.Flatten.
type Flatten struct{ stateless }

// Forward flattens all axes but the first.
func (Flatten) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	return tp.View(x, x.Dim(0), -1)
}

// Unflatten views [N, rest] as [N, Shape...].
type Unflatten struct {
	stateless
	Shape []int
}

// Forward reshapes all axes but the first to Shape.
func (u Unflatten) Forward(tp *tensor.Tape, x *tensor.Tensor) *tensor.Tensor {
	return tp.View(x, append([]int{x.Dim(0)}, u.Shape...)...)
}
