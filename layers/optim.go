package layers

import (
	"fmt"
	"math"

	"github.com/halo-ml/halo/tensor"
)

// Adam is torch.optim.Adam (without amsgrad): for each parameter p with
// gradient g, at step t,
//
//	g = g + WeightDecay*p
//	m = Beta1*m + (1-Beta1)*g
//	v = Beta2*v + (1-Beta2)*g*g
//	p = p - LR/(1-Beta1^t) * m / (sqrt(v)/sqrt(1-Beta2^t) + Eps)
//
// (the backend's Adam kernel). Parameters without a gradient are skipped.
type Adam struct {
	Params       []*tensor.Tensor
	LR           float64
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
	// Backend runs the update (nil: the CPU). On a device the parameters,
	// their gradients and the moments stay resident there.
	Backend tensor.Backend
	step    []int
	m, v    [][]float32     // the moments on the host (the CPU, State)
	dm, dv  []tensor.Buffer // the moments on devBe's device, once stepped there
	devBe   tensor.Backend
}

// NewAdam returns Adam over params with PyTorch's defaults except the
// learning rate: betas (0.9, 0.999), eps 1e-8, no weight decay.
func NewAdam(params []*tensor.Tensor, lr float64) *Adam {
	return &Adam{Params: params, LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		step: make([]int, len(params)), m: make([][]float32, len(params)), v: make([][]float32, len(params))}
}

// Step updates every parameter that has a gradient, with the backend's Adam
// kernel.
func (a *Adam) Step() {
	if a.Backend != nil && a.Backend != tensor.CPU() {
		a.stepOn(a.Backend)
		return
	}
	a.dropDevice()
	be := tensor.CPU()
	for k, p := range a.Params {
		g := gradOf(p)
		if g == nil {
			continue
		}
		if a.m[k] == nil {
			a.m[k], a.v[k] = make([]float32, p.Len()), make([]float32, p.Len())
		}
		a.step[k]++
		be.Adam(tensor.AdamArgs{LR: a.LR, Beta1: a.Beta1, Beta2: a.Beta2, Eps: a.Eps, WeightDecay: a.WeightDecay, Step: a.step[k]},
			tensor.HostBuffer(p.Data()), tensor.HostBuffer(g.Data()), tensor.HostBuffer(a.m[k]), tensor.HostBuffer(a.v[k]))
	}
}

// stepOn is Step with resident buffers on a device backend: the moments
// are uploaded once (zero, or from SetState) and stay there.
func (a *Adam) stepOn(be tensor.Backend) {
	if a.devBe != be {
		a.dropDevice()
		a.dm, a.dv = make([]tensor.Buffer, len(a.Params)), make([]tensor.Buffer, len(a.Params))
		a.devBe = be
	}
	for k, p := range a.Params {
		g := gradOf(p)
		if g == nil {
			continue
		}
		if a.dm[k] == nil {
			a.dm[k], a.dv[k] = be.Alloc(p.Len()), be.Alloc(p.Len())
			if a.m[k] != nil {
				be.Upload(a.dm[k], 0, a.m[k])
				be.Upload(a.dv[k], 0, a.v[k])
			}
		}
		a.m[k], a.v[k] = nil, nil // the device holds them now
		a.step[k]++
		be.Adam(tensor.AdamArgs{LR: a.LR, Beta1: a.Beta1, Beta2: a.Beta2, Eps: a.Eps, WeightDecay: a.WeightDecay, Step: a.step[k]},
			p.MutableBufferOn(be), g.BufferOn(be), a.dm[k], a.dv[k])
	}
}

// hostMoments brings moments held on the device back to the host.
func (a *Adam) hostMoments() {
	for k := range a.dm {
		if a.dm[k] == nil || a.m[k] != nil {
			continue
		}
		n := a.dm[k].Len()
		a.m[k], a.v[k] = make([]float32, n), make([]float32, n)
		a.devBe.Download(a.m[k], a.dm[k], 0)
		a.devBe.Download(a.v[k], a.dv[k], 0)
	}
}

// dropDevice brings the moments home and forgets their device copies.
func (a *Adam) dropDevice() {
	a.hostMoments()
	a.dm, a.dv, a.devBe = nil, nil, nil
}

// StepLR decays the learning rate of an optimiser by Gamma every StepSize
// calls of Step, as torch.optim.lr_scheduler.StepLR:
// lr = base * Gamma^floor(epoch/StepSize).
type StepLR struct {
	Opt      *Adam
	StepSize int
	Gamma    float64
	base     float64
	epoch    int
}

// NewStepLR returns a scheduler for opt starting from its current rate.
func NewStepLR(opt *Adam, stepSize int, gamma float64) *StepLR {
	if stepSize < 1 {
		panic(fmt.Sprintf("layers: StepLR: step size %d < 1", stepSize))
	}
	return &StepLR{Opt: opt, StepSize: stepSize, Gamma: gamma, base: opt.LR}
}

// Step ends an epoch and sets the optimiser's learning rate.
func (s *StepLR) Step() {
	s.epoch++
	s.Opt.LR = s.base * math.Pow(s.Gamma, float64(s.epoch/s.StepSize))
}

// ClipGradNorm scales the gradients of params so that their global L2 norm
// is at most maxNorm, as torch.nn.utils.clip_grad_norm_ (factor
// maxNorm/(norm+1e-6) when below 1), and returns the norm before clipping.
func ClipGradNorm(params []*tensor.Tensor, maxNorm float64) float64 {
	var ss float64
	for _, p := range params {
		if g := p.Grad(); g != nil {
			for _, v := range g.Data() {
				ss += float64(v) * float64(v)
			}
		}
	}
	norm := math.Sqrt(ss)
	coef := maxNorm / (norm + 1e-6)
	if coef < 1 {
		be := tensor.CPU()
		for _, p := range params {
			if g := p.Grad(); g != nil {
				be.Map(tensor.MapScale, float32(coef), tensor.HostBuffer(g.Data()), tensor.HostBuffer(g.Data()))
			}
		}
	}
	return norm
}

// AdamState is the state of an Adam optimiser, per parameter in the order
// of Params: the number of steps taken and the first and second moment
// estimates (PyTorch's "step", "exp_avg" and "exp_avg_sq"). M[k] and V[k]
// are nil for a parameter that has not been stepped yet.
type AdamState struct {
	Steps []int
	M, V  [][]float32
}

// State returns a deep copy of the optimiser's state, for checkpoints.
func (a *Adam) State() AdamState {
	a.hostMoments()
	s := AdamState{Steps: append([]int(nil), a.step...), M: make([][]float32, len(a.m)), V: make([][]float32, len(a.v))}
	for k := range a.m {
		if a.m[k] != nil {
			s.M[k] = append([]float32(nil), a.m[k]...)
			s.V[k] = append([]float32(nil), a.v[k]...)
		}
	}
	return s
}

// SetState replaces the optimiser's state with a copy of s, which must
// match the parameters in number and sizes.
func (a *Adam) SetState(s AdamState) error {
	if len(s.Steps) != len(a.Params) || len(s.M) != len(a.Params) || len(s.V) != len(a.Params) {
		return fmt.Errorf("layers: Adam state for %d/%d/%d parameters, optimiser has %d", len(s.Steps), len(s.M), len(s.V), len(a.Params))
	}
	for k, p := range a.Params {
		if (s.M[k] == nil) != (s.V[k] == nil) {
			return fmt.Errorf("layers: Adam state of parameter %d: one moment missing", k)
		}
		if s.M[k] != nil && (len(s.M[k]) != p.Len() || len(s.V[k]) != p.Len()) {
			return fmt.Errorf("layers: Adam state of parameter %d: moments of %d/%d values, parameter has %d", k, len(s.M[k]), len(s.V[k]), p.Len())
		}
		if s.Steps[k] < 0 {
			return fmt.Errorf("layers: Adam state of parameter %d: negative step %d", k, s.Steps[k])
		}
	}
	a.dm, a.dv, a.devBe = nil, nil, nil // uploaded again from the new state
	for k := range a.Params {
		a.step[k] = s.Steps[k]
		a.m[k], a.v[k] = nil, nil
		if s.M[k] != nil {
			a.m[k] = append([]float32(nil), s.M[k]...)
			a.v[k] = append([]float32(nil), s.V[k]...)
		}
	}
	return nil
}

// gradOf returns p's gradient (nil when it has none), refusing one whose
// size is not p's.
func gradOf(p *tensor.Tensor) *tensor.Tensor {
	g := p.Grad()
	if g != nil && g.Len() != p.Len() {
		panic(fmt.Sprintf("layers: Adam: gradient %s for parameter %s", g, p))
	}
	return g
}
