package halo

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/halo-ml/halo/symplectic"
	"github.com/halo-ml/halo/tensor"
)

// tinyConfig is the balls architecture shrunk to run in milliseconds.
func tinyConfig(t testing.TB) Config {
	c, err := Preset("balls")
	if err != nil {
		t.Fatal(err)
	}
	c.Channels, c.FCHidden, c.HDim, c.ZDim, c.T = []int{3, 4, 5}, 16, 8, 4, 5
	c.Batch = 3
	return c
}

func randTensor(rng *rand.Rand, scale float64, shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	for i := range x.Data() {
		x.Data()[i] = float32(scale * rng.NormFloat64())
	}
	return x
}

// Every dynamics' rollout has the gradient of its parameters and of the
// start state that central differences give.
func TestDynamicsGradCheck(t *testing.T) {
	for _, name := range dynamicsNames {
		t.Run(name, func(t *testing.T) {
			c := tinyConfig(t)
			c.Operators, c.D, c.Dynamics = 2, 2, name
			rng := rand.New(rand.NewPCG(5, 6))
			dyn, err := NewDynamics(c, rng)
			if err != nil {
				t.Fatal(err)
			}
			p := dyn.Params()[0].Tensor
			for i := range p.Data() {
				p.Data()[i] *= 0.5
			}
			s0 := randTensor(rng, 1, 3, 2, 4).SetRequiresGrad(true)
			for _, start := range []int{0, 2, 4} {
				err := tensor.GradCheck(func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
					return dyn.Rollout(tp, in[1], start, 5)
				}, []*tensor.Tensor{p, s0}, tensor.GradCheckOptions{Step: 1e-2, RTol: 1e-2, ATol: 2e-3})
				if err != nil {
					t.Fatalf("start %d: %v", start, err)
				}
			}
		})
	}
}

// The float32 rollout of the Hamiltonian model follows the exact float64
// trajectory exp(tH) s0 of the symplectic package, and it conserves the
// energy sᵀ M s.
func TestHamiltonianRolloutExact(t *testing.T) {
	c := tinyConfig(t)
	c.Operators, c.D = 2, 3
	rng := rand.New(rand.NewPCG(7, 8))
	dyn, err := NewDynamics(c, rng)
	if err != nil {
		t.Fatal(err)
	}
	f := dyn.(LinearFlow)
	s0 := randTensor(rng, 1, 2, 2, 6)
	const T, start = 12, 4
	traj := f.Rollout(nil, s0, start, T) // [B, T, K, 6]
	ws := symplectic.NewWorkspace(6)
	want := make([]float64, T*6)
	for b := range 2 {
		for k := range 2 {
			h := f.Generator(k)
			if d := symplectic.HamiltonianDefect(matOf(h, 6)); d > 1e-12 {
				t.Fatalf("generator %d is not Hamiltonian: defect %g", k, d)
			}
			s := make([]float64, 6)
			for i := range s {
				s[i] = float64(s0.Data()[(b*2+k)*6+i])
			}
			if err := ws.Trajectory(want, h, s, start, T); err != nil {
				t.Fatal(err)
			}
			for tt := range T {
				for i := range 6 {
					got := float64(traj.Data()[((b*T+tt)*2+k)*6+i])
					if math.Abs(got-want[tt*6+i]) > 2e-5*(1+math.Abs(want[tt*6+i])) {
						t.Fatalf("b %d k %d t %d [%d]: rollout %g, exact %g", b, k, tt, i, got, want[tt*6+i])
					}
				}
			}
		}
	}
}

// Every trained parameter of the model receives a gradient from the loss
// (the official code leaves the content and motion heads out of its
// optimisers), and the loss terms add up to the total.
func TestLossReachesEveryParameter(t *testing.T) {
	for _, variant := range []string{"unconditional", "conditional", "vrecon-temporal-masked", "mlp-elliptic"} {
		t.Run(variant, func(t *testing.T) {
			c := tinyConfig(t)
			c.Operators, c.D = 2, 2
			switch variant {
			case "conditional":
				c.Conditional = true
			case "vrecon-temporal-masked":
				c.LossVRecon, c.TemporalLoss, c.BetaT = true, true, 1
			case "mlp-elliptic":
				c.Family, c.NoOutputBN, c.OperatorInit, c.LogVarBias = "mlp", true, "elliptic", -4
			}
			rng := rand.New(rand.NewPCG(9, 10))
			m, err := NewModel(c, rng)
			if err != nil {
				t.Fatal(err)
			}
			x := randTensor(rng, 0.5, 3, c.T, c.C, c.H, c.W)
			in := LossInput{X: x, Actions: []int{1, 0, 1}, Start: 2, Noise: RandNoise{rand.New(rand.NewPCG(1, 1))}}
			if variant == "vrecon-temporal-masked" {
				in.FrameMask = make([]float32, 3*c.T)
				for i := range in.FrameMask {
					if i%c.T != 1 {
						in.FrameMask[i] = 1
					}
				}
			}
			tp := tensor.NewTape()
			loss, terms, err := m.Loss(tp, in)
			if err != nil {
				t.Fatal(err)
			}
			sum := terms.Recon + terms.VRecon + terms.State + terms.KLZ + terms.KLQP + terms.Temporal
			if math.Abs(sum-terms.Total) > 1e-5*math.Abs(terms.Total) || terms.Total <= 0 {
				t.Fatalf("terms %+v do not add up to the total", terms)
			}
			if (terms.VRecon == 0) == c.LossVRecon || (terms.Temporal == 0) == c.TemporalLoss {
				t.Fatalf("terms %+v for vrecon %v temporal %v", terms, c.LossVRecon, c.TemporalLoss)
			}
			tp.Backward(loss)
			for _, p := range m.Params() {
				if p.Buffer {
					continue
				}
				g := p.Tensor.Grad()
				if g == nil {
					t.Fatalf("%s: no gradient", p.Name)
				}
				var n float64
				for _, v := range g.Data() {
					n += float64(v) * float64(v)
				}
				if n == 0 || math.IsNaN(n) {
					t.Fatalf("%s: gradient norm² %g", p.Name, n)
				}
			}
		})
	}
}

func matOf(v []float64, n int) *mat.Dense { return mat.NewDense(n, n, v) }

// The elliptic operator init starts every operator as a bounded rotation:
// M = sym(A) positive definite, so the rollout neither grows nor decays.
func TestEllipticInitIsBounded(t *testing.T) {
	c := tinyConfig(t)
	c.Operators, c.D, c.OperatorInit = 3, 2, "elliptic"
	dyn, err := NewDynamics(c, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	f := dyn.(LinearFlow)
	for k := range 3 {
		m := symplectic.EnergyMatrix(matOf(f.Generator(k), 4))
		var eig mat.EigenSym
		if !eig.Factorize(m, false) {
			t.Fatal("eigen decomposition failed")
		}
		for _, v := range eig.Values(nil) {
			if v <= 0 {
				t.Fatalf("operator %d: energy matrix eigenvalue %g, want positive definite", k, v)
			}
		}
	}
}

// EnergyAlong splits ½ sᵀ M s into its kinetic, potential and
// non-separable parts, and the parts add up to the total.
func TestEnergySplit(t *testing.T) {
	c := tinyConfig(t)
	c.Operators, c.D = 1, 2
	m, err := NewModel(c, rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	a := m.Dyn.Params()[0].Tensor.Data()
	copy(a, []float32{
		2, 0.5, 0.3, 0,
		0.5, 1, 0, 0.2,
		0.3, 0, 3, 0.1,
		0, 0.2, 0.1, 4,
	})
	s := []float64{1, 2, 3, 4}
	e, err := m.EnergyAlong(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	// M = sym(A): potential ½ qᵀ Mqq q, kinetic ½ pᵀ Mpp p, cross qᵀ Mqp p.
	pot := 0.5 * (2*1*1 + 2*0.5*1*2 + 1*2*2)
	kin := 0.5 * (3*3*3 + 2*0.1*3*4 + 4*4*4)
	cross := 1*0.3*3 + 2*0.2*4
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"potential", e.Potential[0], pot}, {"kinetic", e.Kinetic[0], kin}, {"non-separable", e.NonSeparable[0], cross}, {"total", e.Total[0], pot + kin + cross}} {
		if math.Abs(c.got-c.want) > 1e-5*math.Abs(c.want) {
			t.Errorf("%s energy %g, want %g", c.name, c.got, c.want)
		}
	}
	c.Dynamics = "linear"
	lin, _ := NewModel(c, rand.New(rand.NewPCG(4, 4)))
	if _, err := lin.EnergyAlong(s, 0); err == nil {
		t.Error("energy of linear dynamics: no error")
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(11, 12)) }

// A mask that observes every frame takes the loss's masked path (the
// decoder sees rows picked from the frames, differences are taken between
// picked pairs) and must give the terms and gradients of the unmasked path.
func TestLossMaskedPathMatchesUnmasked(t *testing.T) {
	c := tinyConfig(t)
	c.Operators, c.D = 2, 2
	c.LossVRecon, c.TemporalLoss, c.BetaT = true, true, 1
	run := func(mask []float32) (Terms, []float32, *Model) {
		m, err := NewModel(c, rand.New(rand.NewPCG(9, 10)))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		x := randTensor(rng, 0.5, 3, c.T, c.C, c.H, c.W)
		in := LossInput{X: x, FrameMask: mask, Start: 0, Noise: RandNoise{rand.New(rand.NewPCG(1, 1))}}
		tp := tensor.NewTape()
		loss, terms, err := m.Loss(tp, in)
		if err != nil {
			t.Fatal(err)
		}
		tp.Backward(loss)
		var grads []float32
		for _, p := range m.Params() {
			if !p.Buffer {
				grads = append(grads, p.Tensor.Grad().Data()...)
			}
		}
		return terms, grads, m
	}
	ones := make([]float32, 3*c.T)
	for i := range ones {
		ones[i] = 1
	}
	want, wantG, _ := run(nil)
	got, gotG, _ := run(ones)
	for _, p := range [][2]float64{{want.Recon, got.Recon}, {want.VRecon, got.VRecon}, {want.State, got.State},
		{want.KLQP, got.KLQP}, {want.Temporal, got.Temporal}, {want.Total, got.Total}} {
		if math.Abs(p[0]-p[1]) > 1e-5*math.Abs(p[0]) {
			t.Fatalf("terms with an all-observed mask %+v, without a mask %+v", got, want)
		}
	}
	var scale float64
	for _, v := range wantG {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range wantG {
		if d := math.Abs(float64(wantG[i] - gotG[i])); d > 1e-4*scale {
			t.Fatalf("gradient %d: %g with the mask, %g without (scale %g)", i, gotG[i], wantG[i], scale)
		}
	}

}
