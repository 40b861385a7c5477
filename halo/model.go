package halo

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/halo-ml/halo/layers"
	"github.com/halo-ml/halo/tensor"
)

// Model is the HALO VAE: a per-frame encoder, a content network (a
// bidirectional LSTM over the frame features) giving z, a position network
// giving q_t, a momentum network (a causal temporal block) giving p_t, the
// latent dynamics, and a decoder on [z, q_t].
//
// Parameter names follow the reference PyTorch model (encoder.0.weight,
// content.weight_ih_l0, posnet.0.weight, mu_q.weight, tcn.conv1.weight_v,
// A, ...), so state dicts move between the two.
type Model struct {
	Cfg      Config
	Encoder  *layers.Sequential
	Decoder  *layers.Sequential
	Content  *layers.LSTM   // nil without content (ZDim = 0)
	MuZ, LsZ *layers.Linear // nil without content
	PosNet   *layers.Sequential
	MuQ, LsQ *layers.Linear
	TCN      *layers.TemporalBlock
	MuP, LsP *layers.Linear
	Dyn      Dynamics
}

// NewModel builds the networks of c with weights drawn from rng.
func NewModel(c Config, rng *rand.Rand) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Cfg: c}
	var err error
	if m.Encoder, err = buildEncoder(c, rng); err != nil {
		return nil, err
	}
	if m.Decoder, err = buildDecoder(c, rng); err != nil {
		return nil, err
	}
	v := c.V()
	if c.ZDim > 0 {
		m.Content = layers.NewLSTM(c.HDim, c.ZDim/2, 2, true, rng)
		m.MuZ = layers.NewLinear(c.ZDim, c.ZDim, true, rng)
		m.LsZ = layers.NewLinear(c.ZDim, c.ZDim, true, rng)
	}
	pin := c.HDim
	if c.Conditional {
		pin += c.Operators
	}
	m.PosNet = layers.NewSequential(
		layers.NewLinear(pin, c.PosWidth(), true, rng), layers.NewBatchNorm(c.PosWidth()), layers.LeakyReLU{Slope: 0.2},
		layers.NewLinear(c.PosWidth(), v, true, rng), layers.NewBatchNorm(v), layers.LeakyReLU{Slope: 0.2})
	m.MuQ = layers.NewLinear(v, v, true, rng)
	m.LsQ = layers.NewLinear(v, v, true, rng)
	m.TCN = layers.NewTemporalBlock(v, c.TCNKernel, 1, rng)
	m.MuP = layers.NewLinear(v, v, true, rng)
	m.LsP = layers.NewLinear(v, v, true, rng)
	if m.Dyn, err = NewDynamics(c, rng); err != nil {
		return nil, err
	}
	if c.Init == "orthogonal" {
		m.initOrthogonal(rng)
	}
	if c.LogVarBias != 0 {
		for _, l := range []*layers.Linear{m.LsQ, m.LsP, m.LsZ} {
			if l != nil && l.Bias != nil {
				for i := range l.Bias.Data() {
					l.Bias.Data()[i] = float32(c.LogVarBias)
				}
			}
		}
	}
	return m, nil
}

// initOrthogonal is the official weights_init('orthogonal'): every
// convolution and linear weight of the encoder, the decoder and the mean /
// log-variance heads orthogonal with gain sqrt 2, their biases zero.
func (m *Model) initOrthogonal(rng *rand.Rand) {
	var mods []layers.Module
	for _, l := range m.Encoder.Layers {
		mods = append(mods, l)
	}
	for _, l := range m.Decoder.Layers {
		mods = append(mods, l)
	}
	mods = append(mods, m.MuQ, m.LsQ, m.MuP, m.LsP)
	if m.MuZ != nil {
		mods = append(mods, m.MuZ, m.LsZ)
	}
	for _, mod := range mods {
		var w, b *tensor.Tensor
		switch l := mod.(type) {
		case *layers.Conv2d:
			w, b = l.Weight, l.Bias
		case *layers.ConvTranspose2d:
			w, b = l.Weight, l.Bias
		case *layers.Linear:
			w, b = l.Weight, l.Bias
		default:
			continue
		}
		layers.Orthogonal(w, math.Sqrt2, rng)
		if b != nil {
			clear(b.Data())
		}
	}
}

func convOut(n, k, s, p int) int { return (n+2*p-k)/s + 1 }

func buildEncoder(c Config, rng *rand.Rand) (*layers.Sequential, error) {
	var ls []layers.Layer
	if c.Family == "mlp" {
		return layers.NewSequential(layers.Flatten{},
			layers.NewLinear(c.C*c.H*c.W, c.FCHidden, true, rng), layers.NewBatchNorm(c.FCHidden), layers.ReLU{},
			layers.NewLinear(c.FCHidden, c.FCHidden, true, rng), layers.NewBatchNorm(c.FCHidden), layers.ReLU{},
			layers.NewLinear(c.FCHidden, c.HDim, true, rng), layers.NewBatchNorm(c.HDim), layers.LeakyReLU{Slope: 0.01}), nil
	}
	h, w := c.H, c.W
	in := c.C
	act := func() layers.Layer { return layers.ReLU{} }
	strides := []int{2, 2, 2}
	if c.Family == "conv" {
		act = func() layers.Layer { return layers.LeakyReLU{Slope: 0.2} }
		strides = []int{1, 2, 2, 2, 1}
	}
	for i, ch := range c.Channels {
		s := strides[i]
		ls = append(ls, layers.NewConv2d(in, ch, 5, s, 2, true, rng), layers.NewBatchNorm(ch), act())
		h, w, in = convOut(h, 5, s, 2), convOut(w, 5, s, 2), ch
	}
	flat := in * h * w
	ls = append(ls, layers.Flatten{})
	last := layers.Layer(layers.LeakyReLU{Slope: 0.01})
	if c.Family == "conv" {
		last = layers.LeakyReLU{Slope: 0.2}
	}
	ls = append(ls,
		layers.NewLinear(flat, c.FCHidden, true, rng), layers.NewBatchNorm(c.FCHidden), act(),
		layers.NewLinear(c.FCHidden, c.HDim, true, rng), layers.NewBatchNorm(c.HDim), last)
	return layers.NewSequential(ls...), nil
}

func buildDecoder(c Config, rng *rand.Rand) (*layers.Sequential, error) {
	din := c.ZDim + c.V()
	var ls []layers.Layer
	convT := func(in, out, k, s, p, op int, act layers.Layer) {
		ls = append(ls, layers.NewConvTranspose2d(in, out, k, s, p, op, true, rng))
		if act != nil || !c.NoOutputBN {
			ls = append(ls, layers.NewBatchNorm(out))
		}
		if act != nil {
			ls = append(ls, act)
		}
	}
	ch := c.Channels
	switch c.Family {
	case "mlp":
		ls = append(ls,
			layers.NewLinear(din, c.FCHidden, true, rng), layers.NewBatchNorm(c.FCHidden), layers.ReLU{},
			layers.NewLinear(c.FCHidden, c.FCHidden, true, rng), layers.NewBatchNorm(c.FCHidden), layers.ReLU{},
			layers.NewLinear(c.FCHidden, c.C*c.H*c.W, true, rng))
		if !c.NoOutputBN {
			ls = append(ls, layers.NewBatchNorm(c.C*c.H*c.W))
		}
		ls = append(ls, layers.Unflatten{Shape: []int{c.C, c.H, c.W}})
	case "conv":
		// Linear(din, 2h), Linear(2h, top*H/8*W/8), three stride-2 transposed
		// convs to H x W, a last one to C channels, BN, tanh.
		top := ch[len(ch)-1]
		lr := func() layers.Layer { return layers.LeakyReLU{Slope: 0.2} }
		h0, w0 := c.H/8, c.W/8
		ls = append(ls,
			layers.NewLinear(din, 2*c.HDim, true, rng), layers.NewBatchNorm(2*c.HDim), lr(),
			layers.NewLinear(2*c.HDim, top*h0*w0, true, rng), layers.NewBatchNorm(top*h0*w0), lr(),
			layers.Unflatten{Shape: []int{top, h0, w0}})
		for range 3 {
			convT(top, top, 5, 2, 2, 1, lr())
		}
		convT(top, c.C, 5, 1, 2, 0, nil)
	case "mnist":
		// Linear(din, h), Linear(h, 128*4*4), 4->6->13->28, then C channels.
		top := ch[len(ch)-1]
		ls = append(ls,
			layers.NewLinear(din, c.HDim, true, rng), layers.NewBatchNorm(c.HDim), layers.ReLU{},
			layers.NewLinear(c.HDim, top*16, true, rng), layers.NewBatchNorm(top*16), layers.ReLU{},
			layers.Unflatten{Shape: []int{top, 4, 4}})
		convT(top, top, 3, 1, 0, 0, layers.ReLU{})
		convT(top, top, 5, 2, 1, 0, layers.ReLU{})
		convT(top, top, 5, 2, 1, 1, layers.ReLU{})
		convT(top, c.C, 5, 1, 2, 0, nil)
	case "small":
		// Linear(din, h), Linear(h, c3*4*4), 4->8->16->32, then C channels.
		ls = append(ls,
			layers.NewLinear(din, c.HDim, true, rng), layers.NewBatchNorm(c.HDim), layers.ReLU{},
			layers.NewLinear(c.HDim, ch[2]*16, true, rng), layers.NewBatchNorm(ch[2]*16), layers.ReLU{},
			layers.Unflatten{Shape: []int{ch[2], 4, 4}})
		convT(ch[2], ch[1], 5, 1, 0, 0, layers.ReLU{})
		convT(ch[1], ch[0], 5, 2, 2, 1, layers.ReLU{})
		convT(ch[0], ch[0], 5, 2, 2, 1, layers.ReLU{})
		convT(ch[0], c.C, 5, 1, 2, 0, nil)
	default:
		return nil, fmt.Errorf("halo: unknown family %q", c.Family)
	}
	ls = append(ls, layers.Tanh{})
	return layers.NewSequential(ls...), nil
}

// Params lists every parameter and buffer with the reference model's names.
func (m *Model) Params() []layers.Param {
	var ps []layers.Param
	ps = append(ps, layers.Prefixed("encoder", m.Encoder.Params())...)
	ps = append(ps, layers.Prefixed("decoder", m.Decoder.Params())...)
	if m.Content != nil {
		ps = append(ps, layers.Prefixed("content", m.Content.Params())...)
		ps = append(ps, layers.Prefixed("mu_z", m.MuZ.Params())...)
		ps = append(ps, layers.Prefixed("ls_z", m.LsZ.Params())...)
	}
	ps = append(ps, layers.Prefixed("posnet", m.PosNet.Params())...)
	ps = append(ps, layers.Prefixed("mu_q", m.MuQ.Params())...)
	ps = append(ps, layers.Prefixed("ls_q", m.LsQ.Params())...)
	ps = append(ps, layers.Prefixed("tcn", m.TCN.Params())...)
	ps = append(ps, layers.Prefixed("mu_p", m.MuP.Params())...)
	ps = append(ps, layers.Prefixed("ls_p", m.LsP.Params())...)
	ps = append(ps, m.Dyn.Params()...)
	return ps
}

// SetTraining switches every network between training and evaluation.
func (m *Model) SetTraining(on bool) {
	m.Encoder.SetTraining(on)
	m.Decoder.SetTraining(on)
	m.PosNet.SetTraining(on)
}

// NumParams returns the number of trained values.
func (m *Model) NumParams() int {
	n := 0
	for _, t := range layers.Trainable(m) {
		n += t.Len()
	}
	return n
}
