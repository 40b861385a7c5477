package layers

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/halo-ml/halo/tensor"
)

// LSTM is nn.LSTM with batch_first=True: any number of layers, one or two
// directions, PyTorch's gate order (input, forget, cell, output) and weight
// layout: weight_ih_l{k} [4H, in], weight_hh_l{k} [4H, H], bias_ih_l{k} and
// bias_hh_l{k} [4H], with the suffix _reverse for the backward direction.
type LSTM struct {
	InputSize, Hidden, NumLayers int
	Bidirectional                bool
	// Cells holds layer k, direction d at index k*dirs + d.
	Cells []*LSTMCell
}

// LSTMCell holds the weights of one layer and direction.
type LSTMCell struct {
	WeightIH, WeightHH, BiasIH, BiasHH *tensor.Tensor
}

// NewLSTM returns an LSTM initialised as PyTorch's: every weight and bias
// uniform in ±1/sqrt(hidden).
func NewLSTM(inputSize, hidden, numLayers int, bidirectional bool, rng *rand.Rand) *LSTM {
	l := &LSTM{InputSize: inputSize, Hidden: hidden, NumLayers: numLayers, Bidirectional: bidirectional}
	dirs := l.dirs()
	bound := 1 / math.Sqrt(float64(hidden))
	for k := range numLayers {
		in := inputSize
		if k > 0 {
			in = hidden * dirs
		}
		for range dirs {
			c := &LSTMCell{WeightIH: param(4*hidden, in), WeightHH: param(4*hidden, hidden),
				BiasIH: param(4 * hidden), BiasHH: param(4 * hidden)}
			for _, t := range []*tensor.Tensor{c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH} {
				Uniform(t, bound, rng)
			}
			l.Cells = append(l.Cells, c)
		}
	}
	return l
}

func (l *LSTM) dirs() int {
	if l.Bidirectional {
		return 2
	}
	return 1
}

// Params lists the weights in PyTorch's order and names.
func (l *LSTM) Params() []Param {
	var ps []Param
	for i, c := range l.Cells {
		suffix := fmt.Sprintf("_l%d", i/l.dirs())
		if i%l.dirs() == 1 {
			suffix += "_reverse"
		}
		ps = append(ps,
			Param{Name: "weight_ih" + suffix, Tensor: c.WeightIH},
			Param{Name: "weight_hh" + suffix, Tensor: c.WeightHH},
			Param{Name: "bias_ih" + suffix, Tensor: c.BiasIH},
			Param{Name: "bias_hh" + suffix, Tensor: c.BiasHH})
	}
	return ps
}

// SetTraining does nothing (no dropout between layers).
func (l *LSTM) SetTraining(bool) {}

// Forward runs the LSTM over x [B, T, InputSize] from zero states. It
// returns the last layer's outputs [B, T, dirs*Hidden] (forward direction
// first) and the final hidden and cell states [NumLayers*dirs, B, Hidden],
// as PyTorch's (output, (h_n, c_n)).
func (l *LSTM) Forward(tp *tensor.Tape, x *tensor.Tensor) (out, hN, cN *tensor.Tensor) {
	return l.ForwardState(tp, x, nil, nil)
}

// ForwardState is Forward from the initial states h0 and c0
// [NumLayers*dirs, B, Hidden], PyTorch's lstm(x, (h0, c0)), indexed as
// h_n; nil stands for zeros. Gradients flow into h0 and c0.
func (l *LSTM) ForwardState(tp *tensor.Tape, x, h0, c0 *tensor.Tensor) (out, hN, cN *tensor.Tensor) {
	if x.Rank() != 3 || x.Dim(2) != l.InputSize {
		panic(fmt.Sprintf("layers: LSTM: input %s: want [B T %d]", tensor.ShapeString(x.Shape()), l.InputSize))
	}
	b := x.Dim(0)
	for _, s := range []*tensor.Tensor{h0, c0} {
		if s != nil && (s.Rank() != 3 || s.Dim(0) != l.NumLayers*l.dirs() || s.Dim(1) != b || s.Dim(2) != l.Hidden) {
			panic(fmt.Sprintf("layers: LSTM: input %s and initial state %s: want [%d %d %d]",
				tensor.ShapeString(x.Shape()), tensor.ShapeString(s.Shape()), l.NumLayers*l.dirs(), b, l.Hidden))
		}
	}
	initial := func(s *tensor.Tensor, i int) *tensor.Tensor {
		if s == nil {
			return tensor.New(b, l.Hidden)
		}
		return tp.View(tp.Slice(s, 0, i, i+1), b, l.Hidden)
	}
	var hs, cs []*tensor.Tensor
	for k := range l.NumLayers {
		outs := make([]*tensor.Tensor, l.dirs())
		for d := range l.dirs() {
			i := k*l.dirs() + d
			var h, c *tensor.Tensor
			outs[d], h, c = l.Cells[i].run(tp, x, initial(h0, i), initial(c0, i), d == 1)
			hs, cs = append(hs, h), append(cs, c)
		}
		x = outs[0]
		if l.dirs() == 2 {
			x = tp.Concat(2, outs...)
		}
	}
	return x, tp.Stack(0, hs...), tp.Stack(0, cs...)
}

// run unrolls one direction over x [B, T, in] from the states h and cell
// [B, H]: outputs [B, T, H] in time order, and the last hidden and cell
// states [B, H].
func (c *LSTMCell) run(tp *tensor.Tape, x, h, cell *tensor.Tensor, reverse bool) (out, hLast, cLast *tensor.Tensor) {
	b, steps, in := x.Dim(0), x.Dim(1), x.Dim(2)
	hidden := h.Dim(1)
	// The input projections of all steps in one product.
	xp := tp.View(tp.Linear(tp.View(x, b*steps, in), c.WeightIH, c.BiasIH), b, steps, 4*hidden)
	hs := make([]*tensor.Tensor, steps)
	for s := range steps {
		t := s
		if reverse {
			t = steps - 1 - s
		}
		gates := tp.Add(tp.View(tp.Slice(xp, 1, t, t+1), b, 4*hidden), tp.Linear(h, c.WeightHH, c.BiasHH))
		g := tp.Split(gates, 1, hidden, hidden, hidden, hidden)
		i, f, gg, o := tp.Sigmoid(g[0]), tp.Sigmoid(g[1]), tp.Tanh(g[2]), tp.Sigmoid(g[3])
		cell = tp.Add(tp.Mul(f, cell), tp.Mul(i, gg))
		h = tp.Mul(o, tp.Tanh(cell))
		hs[t] = h
	}
	return tp.Stack(1, hs...), h, cell
}
