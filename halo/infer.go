package halo

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/halo-ml/halo/layers"
	"github.com/halo-ml/halo/symplectic"
	"github.com/halo-ml/halo/tensor"
)

// Latent is the latent description of N sequences: content and the
// phase-space state of every frame.
type Latent struct {
	Z *tensor.Tensor // [N, Z]; nil for models without content
	S *tensor.Tensor // [N, T, K, 2d]: per subspace [q; p]
}

// Encode maps sequences x [N, T, C, H, W] (on the model's pixel scale) to
// their latent means, in evaluation mode. Conditional models need the
// action of each sequence.
func (m *Model) Encode(x *tensor.Tensor, actions []int) (*Latent, error) {
	layers.Eval(m)
	e, err := m.encode(nil, x, actions, nil, nil)
	if err != nil {
		return nil, err
	}
	return &Latent{Z: e.z, S: e.s}, nil
}

// Decode renders states [N, T, K, 2d] with content z [N, Z] (nil without
// content) into frames [N, T, C, H, W] on the model's scale.
func (m *Model) Decode(z, states *tensor.Tensor) (*tensor.Tensor, error) {
	c := m.Cfg
	if states.Rank() != 4 || states.Dim(2) != c.Operators || states.Dim(3) != 2*c.D {
		return nil, fmt.Errorf("halo: decode: states %s, want [N T %d %d]", tensor.ShapeString(states.Shape()), c.Operators, 2*c.D)
	}
	if (z == nil) != (c.ZDim == 0) || (z != nil && (z.Rank() != 2 || z.Dim(0) != states.Dim(0) || z.Dim(1) != c.ZDim)) {
		zs := "none"
		if z != nil {
			zs = tensor.ShapeString(z.Shape())
		}
		return nil, fmt.Errorf("halo: decode: content %s for %d sequences, model content size %d", zs, states.Dim(0), c.ZDim)
	}
	layers.Eval(m)
	return m.decode(nil, z, states), nil
}

// Reconstruct encodes and decodes sequences frame by frame (D(z, q_t)).
func (m *Model) Reconstruct(x *tensor.Tensor, actions []int) (*tensor.Tensor, error) {
	l, err := m.Encode(x, actions)
	if err != nil {
		return nil, err
	}
	return m.Decode(l.Z, l.S)
}

// Unroll continues states s0 [N, K, 2d] for steps frames (s0 first). Linear
// flows (the Hamiltonian family and the linear baseline) are unrolled
// exactly in float64 by symplectic's trajectory (no error that grows with
// the length beyond the rounding of one exponential); the returned float64
// states [N][steps*K*2d] are what energies should be computed from. RNN
// dynamics step their cell. Conditional models evolve only the subspace of
// each sequence's action.
func (m *Model) Unroll(s0 *tensor.Tensor, actions []int, steps int) (*tensor.Tensor, [][]float64, error) {
	c := m.Cfg
	k, n := c.Operators, 2*c.D
	if s0.Rank() != 3 || s0.Dim(1) != k || s0.Dim(2) != n {
		return nil, nil, fmt.Errorf("halo: unroll: state %s, want [N %d %d]", tensor.ShapeString(s0.Shape()), k, n)
	}
	if steps < 1 {
		return nil, nil, fmt.Errorf("halo: unroll: %d steps", steps)
	}
	if c.Conditional && len(actions) != s0.Dim(0) {
		return nil, nil, fmt.Errorf("halo: unroll: conditional model needs %d actions, have %d", s0.Dim(0), len(actions))
	}
	nseq := s0.Dim(0)
	out := tensor.New(nseq, steps, k, n)
	exact := make([][]float64, nseq)
	flow, ok := m.Dyn.(LinearFlow)
	if !ok {
		traj := m.Dyn.Rollout(nil, s0, 0, steps)
		copy(out.Data(), traj.Data())
		for i := range exact {
			exact[i] = make([]float64, steps*k*n)
			for j, v := range traj.Data()[i*steps*k*n : (i+1)*steps*k*n] {
				exact[i][j] = float64(v)
			}
		}
	} else {
		ws := symplectic.NewWorkspace(n)
		gens := make([][]float64, k)
		for b := range k {
			gens[b] = flow.Generator(b)
		}
		traj := make([]float64, steps*n)
		s := make([]float64, n)
		for i := range nseq {
			exact[i] = make([]float64, steps*k*n)
			for b := range k {
				if c.Conditional && actions[i] != b {
					continue
				}
				for j := range n {
					s[j] = float64(s0.Data()[(i*k+b)*n+j])
				}
				if err := ws.Trajectory(traj, gens[b], s, 0, steps); err != nil {
					return nil, nil, fmt.Errorf("halo: unroll of operator %d: %w", b, err)
				}
				for t := range steps {
					for j := range n {
						v := traj[t*n+j]
						exact[i][(t*k+b)*n+j] = v
						out.Data()[((i*steps+t)*k+b)*n+j] = float32(v)
					}
				}
			}
		}
	}
	return out, exact, nil
}

// Generated is the result of image-to-sequence generation.
type Generated struct {
	Frames *tensor.Tensor // [N, steps, C, H, W] on the model's scale
	Z      *tensor.Tensor // content [N, Z] or nil
	States *tensor.Tensor // [N, steps, K, 2d]
	Exact  [][]float64    // the float64 states, per sequence [steps*K*2d]
}

// Generate continues each first frame [N, C, H, W] for steps frames (the
// first included), as the paper's image-to-sequence: the frame repeated T
// times is encoded, the state of its first position (whose temporal context
// is the frame alone, as at the start of every training sequence) is
// unrolled by the learned operator of the sequence's action (conditional)
// or of all subspaces, and decoded with the frame's content.
func (m *Model) Generate(first *tensor.Tensor, actions []int, steps int) (*Generated, error) {
	c := m.Cfg
	if first.Rank() != 4 || first.Dim(1) != c.C || first.Dim(2) != c.H || first.Dim(3) != c.W {
		return nil, fmt.Errorf("halo: generate: frames %s, want [N %d %d %d]", tensor.ShapeString(first.Shape()), c.C, c.H, c.W)
	}
	nseq, fl := first.Dim(0), c.C*c.H*c.W
	x := tensor.New(nseq, c.T, c.C, c.H, c.W)
	for i := range nseq {
		for t := range c.T {
			copy(x.Data()[(i*c.T+t)*fl:(i*c.T+t+1)*fl], first.Data()[i*fl:(i+1)*fl])
		}
	}
	l, err := m.Encode(x, actions)
	if err != nil {
		return nil, err
	}
	return m.GenerateFrom(l.Z, frameState(l.S, 0), actions, steps)
}

// GenerateFrom unrolls states s0 [N, K, 2d] and decodes them with content z.
func (m *Model) GenerateFrom(z, s0 *tensor.Tensor, actions []int, steps int) (*Generated, error) {
	states, exact, err := m.Unroll(s0, actions, steps)
	if err != nil {
		return nil, err
	}
	frames, err := m.Decode(z, states)
	if err != nil {
		return nil, err
	}
	return &Generated{Frames: frames, Z: z, States: states, Exact: exact}, nil
}

// frameState returns the states of frame t: [N, K, 2d] from [N, T, K, 2d].
func frameState(s *tensor.Tensor, t int) *tensor.Tensor {
	n, tt, k, d2 := s.Dim(0), s.Dim(1), s.Dim(2), s.Dim(3)
	out := tensor.New(n, k, d2)
	for i := range n {
		copy(out.Data()[i*k*d2:(i+1)*k*d2], s.Data()[(i*tt+t)*k*d2:(i*tt+t+1)*k*d2])
	}
	return out
}

// Swap decodes the content of sequences a with the motion of sequences b
// (both [N, T, C, H, W]): content swap from b's point of view, motion swap
// from a's. Actions are those of a and b (conditional models).
func (m *Model) Swap(a, b *tensor.Tensor, actionsA, actionsB []int) (*tensor.Tensor, error) {
	if !slices.Equal(a.Shape(), b.Shape()) {
		return nil, fmt.Errorf("halo: swap: sequences %s and %s differ in shape", tensor.ShapeString(a.Shape()), tensor.ShapeString(b.Shape()))
	}
	if m.Cfg.ZDim == 0 {
		return nil, errors.New("halo: swap: the model has no content variable (z_dim 0)")
	}
	la, err := m.Encode(a, actionsA)
	if err != nil {
		return nil, err
	}
	lb, err := m.Encode(b, actionsB)
	if err != nil {
		return nil, err
	}
	return m.Decode(la.Z, lb.S)
}

// SamplePrior draws n sequences of steps frames from the prior: z and the
// start state from N(0, I) (each subspace normalised as in training), the
// state unrolled by the learned dynamics.
func (m *Model) SamplePrior(n, steps int, actions []int, rng *rand.Rand) (*Generated, error) {
	c := m.Cfg
	var z *tensor.Tensor
	if c.ZDim > 0 {
		z = randNormal(rng, n, c.ZDim)
	}
	s0 := randNormal(rng, n, c.Operators, 2*c.D)
	if c.NormalizeQP {
		d := c.D
		v := s0.Data()
		for i := 0; i < len(v); i += d {
			var ss float64
			for _, x := range v[i : i+d] {
				ss += float64(x) * float64(x)
			}
			inv := float32(1 / (sqrt(ss) + 1e-8))
			for j := i; j < i+d; j++ {
				v[j] *= inv
			}
		}
	}
	if c.Conditional {
		if len(actions) != n {
			return nil, fmt.Errorf("halo: sample: conditional model needs %d actions, have %d", n, len(actions))
		}
		for i, a := range actions {
			for b := range c.Operators {
				if b != a {
					clear(s0.Data()[(i*c.Operators+b)*2*c.D : (i*c.Operators+b+1)*2*c.D])
				}
			}
		}
	}
	return m.GenerateFrom(z, s0, actions, steps)
}

func randNormal(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = float32(rng.NormFloat64())
	}
	return t
}
