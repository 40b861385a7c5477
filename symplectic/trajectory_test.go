package symplectic

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// pdHamiltonian returns H = J M with M = B Bᵀ + I/4 (positive definite, so
// the orbits are bounded), scaled to ||H||_2 = norm, and M.
func pdHamiltonian(rng *rand.Rand, n int, norm float64) (*mat.Dense, *mat.SymDense) {
	b := randDense(rng, n, n)
	m := mat.NewSymDense(n, nil)
	m.SymOuterK(1, b)
	for i := 0; i < n; i++ {
		m.SetSym(i, i, m.At(i, i)+0.25)
	}
	var h mat.Dense
	Hamiltonian(&h, m)
	c := norm / norm2(&h)
	h.Scale(c, &h)
	m.ScaleSym(c, m)
	return &h, m
}

func randDense(rng *rand.Rand, r, c int) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m.Set(i, j, rng.NormFloat64())
		}
	}
	return m
}

func randVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// TestTrajectoryRotations checks trajectories of uncoupled oscillators,
// H = J diag(ω, ω): each (q_i, p_i) plane turns by ω_i t, so the exact state
// is cos/sin of the angle. The error must stay within a few u·(2 + ||H|| |t|)
// (the inherent condition of the phase) for every t in a long trajectory
// run forwards and backwards from a middle start frame.
func TestTrajectoryRotations(t *testing.T) {
	omega := []float64{0.9, 0.37, 1.0 / 3, 0.0123}
	d := len(omega)
	n := 2 * d
	m := mat.NewSymDense(n, nil)
	for i, w := range omega {
		m.SetSym(i, i, w)
		m.SetSym(d+i, d+i, w)
	}
	var h mat.Dense
	Hamiltonian(&h, m)
	s0 := []float64{1, -0.5, 0.25, 2, 0.3, 0.7, -1, 0.1}
	const T, start = 5000, 2000
	states := Trajectory(&h, s0, start, T)
	var worst float64
	for i := 0; i < T; i++ {
		tt := float64(i - start)
		for k, w := range omega {
			// q' = ω p, p' = -ω q: q(t) = q cos ωt + p sin ωt.
			c, s := math.Cos(w*tt), math.Sin(w*tt)
			q := s0[k]*c + s0[d+k]*s
			p := -s0[k]*s + s0[d+k]*c
			r := math.Hypot(s0[k], s0[d+k])
			// Normwise: the phase of every plane carries u·||H||·|t|.
			tol := 8 * eps * r * (2 + omega[0]*math.Abs(tt))
			eq, ep := math.Abs(states.At(i, k)-q), math.Abs(states.At(i, d+k)-p)
			worst = max(worst, max(eq, ep)/(eps*r*(2+omega[0]*math.Abs(tt))))
			if eq > tol || ep > tol {
				t.Fatalf("t = %v, plane %d: (q, p) = (%v, %v), want (%v, %v)", tt, k, states.At(i, k), states.At(i, d+k), q, p)
			}
		}
	}
	t.Logf("worst error in units of u·|s|·(2 + ||H|| |t|): %.2f", worst)
	if !mat.Equal(mat.NewVecDense(n, s0), states.RowView(start)) {
		t.Errorf("row start = %v, want s0", states.RowView(start))
	}
}

// TestTrajectoryMatchesExp compares states with exp(tH) s0 from a directly
// computed exponential of tH, for random H of each family, and checks that
// every start frame gives the same states.
func TestTrajectoryMatchesExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{2, 6, 12} {
		h, _ := pdHamiltonian(rng, n, 0.7)
		s0 := randVec(rng, n)
		const T = 40
		for _, start := range []int{0, 1, 17, T - 1} {
			states := Trajectory(h, s0, start, T)
			for i := 0; i < T; i++ {
				tt := float64(i - start)
				var th, e mat.Dense
				th.Scale(tt, h)
				Exp(&e, &th)
				var want mat.VecDense
				want.MulVec(&e, mat.NewVecDense(n, s0))
				var diff mat.VecDense
				diff.SubVec(states.RowView(i), &want)
				if r := mat.Norm(&diff, 2) / mat.Norm(&want, 2); r > 1e-13*(1+math.Abs(tt)) {
					t.Errorf("n=%d start=%d t=%v: relative difference %.1e from exp(tH) s0", n, start, tt, r)
				}
			}
		}
	}
}

// TestEnergyDrift runs 10^6 steps forwards and 10^6 backwards for M positive
// definite, ||H||_2 = 1, and requires the energy's relative drift to stay
// below 1e-10 at every step. The plain recurrence s_(t+1) = exp(H) s_t is
// measured alongside for comparison.
func TestEnergyDrift(t *testing.T) {
	sizes := []int{2, 4, 6}
	if !testing.Short() {
		sizes = append(sizes, 12)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range sizes {
		h, m := pdHamiltonian(rng, n, 1)
		s0 := randVec(rng, n)
		e0 := Energy(m, s0)
		w := NewWorkspace(n)
		var worst float64
		const steps = 1000000
		err := w.TrajectoryEach(h.RawMatrix().Data, s0, -steps, steps, func(_ int, s []float64) {
			worst = max(worst, math.Abs(Energy(m, s)-e0)/e0)
		})
		if err != nil {
			t.Fatal(err)
		}
		// The plain recurrence, for the record.
		var e mat.Dense
		Exp(&e, h)
		s := append([]float64(nil), s0...)
		next := make([]float64, n)
		var naive float64
		for i := 0; i < steps; i++ {
			matVec(next, e.RawMatrix().Data, s, n)
			s, next = next, s
			if i%97 == 0 || i == steps-1 {
				naive = max(naive, math.Abs(Energy(m, s)-e0)/e0)
			}
		}
		t.Logf("n=%d: worst relative energy drift over ±10^6 steps %.2e (repeated multiplication: %.2e)", n, worst, naive)
		if worst > 1e-10 {
			t.Errorf("n=%d: energy drift %.2e > 1e-10", n, worst)
		}
	}
}

// TestTrajectoryEachMatchesTrajectory: the streaming form yields the same
// states as the dense one, bit for bit, in the documented order.
func TestTrajectoryEachMatchesTrajectory(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	h, _ := pdHamiltonian(rng, 4, 2)
	s0 := randVec(rng, 4)
	const T, start = 77, 30
	dense := Trajectory(h, s0, start, T)
	w := NewWorkspace(4)
	next := 0
	err := w.TrajectoryEach(h.RawMatrix().Data, s0, -start, T-1-start, func(tt int, s []float64) {
		want := next
		if next > T-1-start {
			want = T - 1 - start - next
		}
		if tt != want {
			t.Fatalf("visited t = %d, want %d", tt, want)
		}
		next++
		if !mat.Equal(mat.NewVecDense(4, append([]float64(nil), s...)), dense.RowView(tt+start)) {
			t.Errorf("t = %d: %v, dense %v", tt, s, dense.RowView(tt+start))
		}
	})
	if err != nil || next != T {
		t.Errorf("err %v, %d states visited, want %d", err, next, T)
	}
}

// TestReversibility: forwards then backwards returns to s0.
func TestReversibility(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{2, 6, 24} {
		h, _ := pdHamiltonian(rng, n, 1)
		s0 := randVec(rng, n)
		for _, steps := range []int{1, 7, 1000} {
			if r := Reversibility(h, s0, steps); r > 1e-13*float64(steps) {
				t.Errorf("n=%d steps=%d: reversibility error %.1e", n, steps, r)
			}
		}
	}
}

func TestTrajectoryErrors(t *testing.T) {
	h := mat.NewDense(2, 2, []float64{0, 1, -1, 0})
	mustPanic(t, "symplectic: Trajectory: need 0 <= start < T, have start = 3, T = 3", func() { Trajectory(h, []float64{1, 0}, 3, 3) })
	mustPanic(t, "symplectic: Trajectory: h is 2×2 but len(s0) = 3", func() { Trajectory(h, []float64{1, 0, 0}, 0, 3) })
	if _, err := TrajectoryChecked(h, []float64{1, math.NaN()}, 0, 3); err == nil {
		t.Error("NaN state: no error")
	}
	big := mat.NewDense(2, 2, []float64{300, 0, 0, -300})
	if _, err := TrajectoryChecked(big, []float64{1, 1}, 1, 5); err == nil {
		t.Error("exp(3·300) overflows: no error")
	}
}
