package halo

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/halo-ml/halo/layers"
	"github.com/halo-ml/halo/symplectic"
	"github.com/halo-ml/halo/tensor"
)

// Dynamics moves the latent state from frame to frame. States are [B, K, 2d]:
// K subspaces, each [q; p] with q and p of size d. The Hamiltonian model and
// the paper's ablation baselines implement it, so one model runs them all.
type Dynamics interface {
	layers.Module
	// Name is the config's name of the dynamics.
	Name() string
	// Rollout unrolls s0 [B, K, 2d], the state at frame start, forwards to
	// frame T-1 and backwards to frame 0: [B, T, K, 2d], frame start holding
	// s0.
	Rollout(tp *tensor.Tape, s0 *tensor.Tensor, start, T int) *tensor.Tensor
}

// LinearFlow is implemented by dynamics whose step is exp(G_k) for a
// generator G_k: inference then unrolls them exactly in float64 (see
// symplectic.Trajectory) and measures energy along the way.
type LinearFlow interface {
	Dynamics
	// Generator returns G_k, 2d x 2d row-major, in float64.
	Generator(k int) []float64
}

// NewDynamics returns the dynamics named by c.Dynamics with parameters
// initialised from rng.
func NewDynamics(c Config, rng *rand.Rand) (Dynamics, error) {
	k, d := c.Operators, c.D
	switch c.Dynamics {
	case "hamiltonian":
		// The official init: orthogonal_ with gain sqrt 2 on the (K, 2d, 2d)
		// tensor (flattened to K x 4d^2).
		f := &flow{name: c.Dynamics, kind: flowSp, k: k, d: d, p: tensor.New(k, 2*d, 2*d).SetRequiresGrad(true)}
		if c.OperatorInit == "elliptic" {
			// A = I + 0.1 G: M = sym(A) is positive definite, so exp(J M)
			// moves every state on a bounded ellipse.
			n := 2 * d
			v := f.p.Data()
			for b := range k {
				for i := range n {
					for j := range n {
						v[(b*n+i)*n+j] = float32(0.1 * rng.NormFloat64())
					}
					v[(b*n+i)*n+i] += 1
				}
			}
			return f, nil
		}
		layers.Orthogonal(f.p, math.Sqrt2, rng)
		return f, nil
	case "skew", "skew-narrow":
		kind := flowSpO
		if c.Dynamics == "skew-narrow" {
			kind = flowSpONarrow
		}
		f := &flow{name: c.Dynamics, kind: kind, k: k, d: d, p: tensor.New(k, d, d).SetRequiresGrad(true)}
		layers.Orthogonal(f.p, math.Sqrt2, rng)
		return f, nil
	case "linear":
		// A free generator: a linear flow with no conserved quantity.
		f := &flow{name: c.Dynamics, kind: flowFree, k: k, d: d, p: tensor.New(k, 2*d, 2*d).SetRequiresGrad(true)}
		layers.Orthogonal(f.p, 0.1*math.Sqrt2, rng)
		return f, nil
	case "rnn":
		return newRNN(k, d, rng), nil
	}
	return nil, fmt.Errorf("halo: unknown dynamics %q", c.Dynamics)
}

type flowKind int

const (
	flowSp        flowKind = iota // H = J (A + Aᵀ)/2
	flowSpO                       // symplectic and orthogonal
	flowSpONarrow                 // the official code's SpO form
	flowFree                      // G = A
)

// flow is a linear flow s_{t+1} = exp(G_k) s_t, per subspace k, where G_k is
// a function of a free parameter: the Hamiltonian family and the linear
// baseline. Its exponential and the exponential's gradient are exact
// (symplectic's scaling and squaring and Fréchet adjoint, in float64).
type flow struct {
	name string
	kind flowKind
	k, d int
	p    *tensor.Tensor // [K, 2d, 2d] or [K, d, d] (SpO forms)
}

func (f *flow) Name() string { return f.name }

// Params names the operator parameter "A", as the reference model.
func (f *flow) Params() []layers.Param { return []layers.Param{{Name: "A", Tensor: f.p}} }

func (f *flow) SetTraining(bool) {}

// generator writes G_k (n x n, n = 2d) from the parameter values par.
func (f *flow) generator(dst []float64, par []float32, k int) {
	n := 2 * f.d
	g := mat.NewDense(n, n, dst)
	switch f.kind {
	case flowSp, flowFree:
		a := mat.NewDense(n, n, nil)
		for i := range n * n {
			a.RawMatrix().Data[i] = float64(par[k*n*n+i])
		}
		if f.kind == flowFree {
			g.Copy(a)
			return
		}
		symplectic.Sp(g, a)
	case flowSpO, flowSpONarrow:
		d := f.d
		b := mat.NewDense(d, d, nil)
		for i := range d * d {
			b.RawMatrix().Data[i] = float64(par[k*d*d+i])
		}
		if f.kind == flowSpO {
			symplectic.SpO(g, b)
		} else {
			symplectic.SpONarrow(g, b)
		}
	}
}

// generatorGrad adds to dpar the gradient of the parameter of block k given
// gh = ∂ℓ/∂G_k.
func (f *flow) generatorGrad(dpar []float32, gh []float64, k int) {
	n := 2 * f.d
	g := mat.NewDense(n, n, gh)
	switch f.kind {
	case flowFree:
		for i := range n * n {
			dpar[k*n*n+i] += float32(gh[i])
		}
	case flowSp:
		da := mat.NewDense(n, n, nil)
		symplectic.SpGrad(da, g)
		for i, v := range da.RawMatrix().Data {
			dpar[k*n*n+i] += float32(v)
		}
	case flowSpO, flowSpONarrow:
		d := f.d
		db := mat.NewDense(d, d, nil)
		if f.kind == flowSpO {
			symplectic.SpOGrad(db, g)
		} else {
			symplectic.SpONarrowGrad(db, g)
		}
		for i, v := range db.RawMatrix().Data {
			dpar[k*d*d+i] += float32(v)
		}
	}
}

// Generator returns G_k in float64.
func (f *flow) Generator(k int) []float64 {
	n := 2 * f.d
	g := make([]float64, n*n)
	f.generator(g, f.p.Data(), k)
	return g
}

// exp puts exp(sign*G_k) for every k on the tape: [K, 2d, 2d].
func (f *flow) exp(tp *tensor.Tape, sign float64) *tensor.Tensor {
	n := 2 * f.d
	ws := symplectic.NewWorkspace(n)
	h := make([]float64, n*n)
	e := make([]float64, n*n)
	gh := make([]float64, n*n)
	ge := make([]float64, n*n)
	load := func(par []float32, k int) {
		f.generator(h, par, k)
		if sign < 0 {
			for i := range h {
				h[i] = -h[i]
			}
		}
	}
	op := tensor.CustomOp{
		Name: "expm(" + f.name + ")",
		Forward: func(in [][]float32, out []float32) {
			for k := range f.k {
				load(in[0], k)
				if err := ws.Exp(e, h); err != nil {
					// Non-finite or overflowing generators: propagate NaN so
					// the training loop's guard stops with the step named.
					for i := range e {
						e[i] = math.NaN()
					}
				}
				for i, v := range e {
					out[k*n*n+i] = float32(v)
				}
			}
		},
		Backward: func(in [][]float32, out, dout []float32, din [][]float32) {
			if din[0] == nil {
				return
			}
			for k := range f.k {
				load(in[0], k)
				for i := range ge {
					ge[i] = float64(dout[k*n*n+i])
				}
				if err := ws.ExpAdjoint(nil, gh, h, ge); err != nil {
					for i := range gh {
						gh[i] = math.NaN()
					}
				}
				if sign < 0 {
					for i := range gh {
						gh[i] = -gh[i]
					}
				}
				f.generatorGrad(din[0], gh, k)
			}
		},
	}
	return tp.Custom(op, []int{f.k, n, n}, f.p)
}

// Rollout applies exp(G_k) forwards and exp(-G_k) backwards, one step at a
// time in float32, as the reference model trains.
func (f *flow) Rollout(tp *tensor.Tape, s0 *tensor.Tensor, start, T int) *tensor.Tensor {
	checkRollout(s0, f.k, f.d, start, T)
	seq := make([]*tensor.Tensor, T)
	seq[start] = s0
	if start < T-1 {
		e := f.exp(tp, 1)
		for t := start + 1; t < T; t++ {
			seq[t] = blockApply(tp, e, seq[t-1])
		}
	}
	if start > 0 {
		e := f.exp(tp, -1)
		for t := start - 1; t >= 0; t-- {
			seq[t] = blockApply(tp, e, seq[t+1])
		}
	}
	return tp.Stack(1, seq...)
}

func checkRollout(s0 *tensor.Tensor, k, d, start, T int) {
	if s0.Rank() != 3 || s0.Dim(1) != k || s0.Dim(2) != 2*d {
		panic(fmt.Sprintf("halo: rollout: state %s, want [B %d %d]", tensor.ShapeString(s0.Shape()), k, 2*d))
	}
	if start < 0 || start >= T {
		panic(fmt.Sprintf("halo: rollout: start frame %d outside [0, %d)", start, T))
	}
}

// blockApply returns y[b,k] = M_k s[b,k] for M [K, n, n] and s [B, K, n].
func blockApply(tp *tensor.Tape, m, s *tensor.Tensor) *tensor.Tensor {
	kk, n := m.Dim(0), m.Dim(1)
	b := s.Dim(0)
	op := tensor.CustomOp{
		Name: "block-apply",
		Forward: func(in [][]float32, out []float32) {
			mv, sv := in[0], in[1]
			for i := range b {
				for k := range kk {
					x := sv[(i*kk+k)*n : (i*kk+k+1)*n]
					y := out[(i*kk+k)*n : (i*kk+k+1)*n]
					mk := mv[k*n*n : (k+1)*n*n]
					for r := range n {
						var acc float32
						row := mk[r*n : (r+1)*n]
						for c, v := range x {
							acc += row[c] * v
						}
						y[r] = acc
					}
				}
			}
		},
		Backward: func(in [][]float32, out, dout []float32, din [][]float32) {
			mv, sv := in[0], in[1]
			for i := range b {
				for k := range kk {
					x := sv[(i*kk+k)*n : (i*kk+k+1)*n]
					dy := dout[(i*kk+k)*n : (i*kk+k+1)*n]
					mk := mv[k*n*n : (k+1)*n*n]
					if din[0] != nil {
						dm := din[0][k*n*n : (k+1)*n*n]
						for r, g := range dy {
							for c, v := range x {
								dm[r*n+c] += g * v
							}
						}
					}
					if din[1] != nil {
						dx := din[1][(i*kk+k)*n : (i*kk+k+1)*n]
						for r, g := range dy {
							row := mk[r*n : (r+1)*n]
							for c := range dx {
								dx[c] += row[c] * g
							}
						}
					}
				}
			}
		},
	}
	return tp.Custom(op, []int{b, kk, n}, m, s)
}

// rnn is the paper's RNN ablation: s_{t+1} = tanh(W_k s_t + b_k) forwards
// and a second cell backwards, per subspace.
type rnn struct {
	k, d             int
	wf, bf, wb, bbia *tensor.Tensor
}

func newRNN(k, d int, rng *rand.Rand) *rnn {
	n := 2 * d
	r := &rnn{k: k, d: d,
		wf: tensor.New(k, n, n).SetRequiresGrad(true), bf: tensor.New(1, k, n).SetRequiresGrad(true),
		wb: tensor.New(k, n, n).SetRequiresGrad(true), bbia: tensor.New(1, k, n).SetRequiresGrad(true)}
	bound := 1 / math.Sqrt(float64(n))
	for _, t := range []*tensor.Tensor{r.wf, r.bf, r.wb, r.bbia} {
		layers.Uniform(t, bound, rng)
	}
	return r
}

func (r *rnn) Name() string { return "rnn" }

func (r *rnn) Params() []layers.Param {
	return []layers.Param{{Name: "rnn.weight_fwd", Tensor: r.wf}, {Name: "rnn.bias_fwd", Tensor: r.bf},
		{Name: "rnn.weight_bwd", Tensor: r.wb}, {Name: "rnn.bias_bwd", Tensor: r.bbia}}
}

func (r *rnn) SetTraining(bool) {}

func (r *rnn) Rollout(tp *tensor.Tape, s0 *tensor.Tensor, start, T int) *tensor.Tensor {
	checkRollout(s0, r.k, r.d, start, T)
	seq := make([]*tensor.Tensor, T)
	seq[start] = s0
	for t := start + 1; t < T; t++ {
		seq[t] = tp.Tanh(tp.Add(blockApply(tp, r.wf, seq[t-1]), r.bf))
	}
	for t := start - 1; t >= 0; t-- {
		seq[t] = tp.Tanh(tp.Add(blockApply(tp, r.wb, seq[t+1]), r.bbia))
	}
	return tp.Stack(1, seq...)
}
