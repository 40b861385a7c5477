package halo

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/halo-ml/halo/symplectic"
)

// Energy is the energy E(s) = ½ sᵀ M s of one operator along a trajectory,
// split as the paper's appendix (Figure 3): with M = [[Mqq, Mqp], [Mpq, Mpp]],
// kinetic ½ pᵀ Mpp p, potential ½ qᵀ Mqq q and the non-separable part
// qᵀ Mqp p. One value per frame.
type Energy struct {
	Kinetic, Potential, NonSeparable, Total []float64
}

// Drift returns the largest |E_t - E_0| / |E_0| of the total energy.
func (e Energy) Drift() float64 {
	if len(e.Total) == 0 {
		return 0
	}
	e0 := e.Total[0]
	var worst float64
	for _, v := range e.Total {
		worst = max(worst, math.Abs(v-e0))
	}
	if e0 == 0 {
		return worst
	}
	return worst / math.Abs(e0)
}

// EnergyAlong returns the energy of operator k along float64 states laid out
// as Unroll's ([steps*K*2d]). Only Hamiltonian dynamics (hamiltonian, skew,
// skew-narrow) conserve an energy; the others are refused.
func (m *Model) EnergyAlong(states []float64, k int) (Energy, error) {
	c := m.Cfg
	flow, ok := m.Dyn.(LinearFlow)
	if !ok || c.Dynamics == "linear" {
		return Energy{}, fmt.Errorf("halo: energy: %s dynamics conserve no energy", c.Dynamics)
	}
	if k < 0 || k >= c.Operators {
		return Energy{}, fmt.Errorf("halo: energy: operator %d outside [0, %d)", k, c.Operators)
	}
	n, d := 2*c.D, c.D
	if len(states)%(c.Operators*n) != 0 {
		return Energy{}, fmt.Errorf("halo: energy: %d state values are not whole frames of %d", len(states), c.Operators*n)
	}
	mm := symplectic.EnergyMatrix(mat.NewDense(n, n, flow.Generator(k)))
	steps := len(states) / (c.Operators * n)
	var e Energy
	for t := range steps {
		s := states[(t*c.Operators+k)*n : (t*c.Operators+k+1)*n]
		var kin, pot, cross float64
		for i := range d {
			for j := range d {
				pot += 0.5 * s[i] * mm.At(i, j) * s[j]
				kin += 0.5 * s[d+i] * mm.At(d+i, d+j) * s[d+j]
				cross += s[i] * mm.At(i, d+j) * s[d+j]
			}
		}
		e.Kinetic = append(e.Kinetic, kin)
		e.Potential = append(e.Potential, pot)
		e.NonSeparable = append(e.NonSeparable, cross)
		e.Total = append(e.Total, kin+pot+cross)
	}
	return e, nil
}

func sqrt(x float64) float64 { return math.Sqrt(x) }
