package symplectic

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// The checks below are the properties that exp(tH) has in exact arithmetic,
// as functions a user can call in property tests of an operator; the package
// documentation has an example. They evaluate in float64 and are themselves
// accurate to a few units of rounding times the sizes involved, so compare
// them against bounds such as 50·u·||E||_F² (u = 2^-53), not against zero.

// Defect returns ||Eᵀ J E - J||_F / ||J||_F, zero exactly when the 2d×2d
// matrix E is symplectic. The products are summed with compensated
// (twice-the-working-precision) dot products, so the value measures E, not
// the rounding of the check. For a computed exp(H) expect a few u·||E||_F².
func Defect(e mat.Matrix) float64 {
	n := squareSize("Defect", "e", e)
	if n%2 != 0 {
		panic(fmt.Sprintf("symplectic: Defect: e is %d×%d, want even order 2d", n, n))
	}
	d := n / 2
	cols := columns(e)
	// (Eᵀ J E)_ij = c_i · (J c_j) for the columns c of E, J c = [c_bot; -c_top].
	jcols := make([][]float64, n)
	for j, c := range cols {
		jc := make([]float64, n)
		copy(jc, c[d:])
		for k, v := range c[:d] {
			jc[d+k] = -v
		}
		jcols[j] = jc
	}
	var sum float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := dot2(cols[i], jcols[j])
			switch {
			case j == i+d && i < d:
				v--
			case i == j+d && j < d:
				v++
			}
			sum += v * v
		}
	}
	return math.Sqrt(sum / float64(n))
}

// OrthoDefect returns ||Eᵀ E - I||_F / ||I||_F, zero exactly when E is
// orthogonal (for SpO generators exp(H) is). Compensated as Defect.
func OrthoDefect(e mat.Matrix) float64 {
	n := squareSize("OrthoDefect", "e", e)
	cols := columns(e)
	var sum float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := dot2(cols[i], cols[j])
			if i == j {
				v--
			}
			sum += v * v
		}
	}
	return math.Sqrt(sum / float64(n))
}

func columns(e mat.Matrix) [][]float64 {
	r, c := e.Dims()
	cols := make([][]float64, c)
	for j := range cols {
		cols[j] = make([]float64, r)
		for i := range cols[j] {
			cols[j][i] = e.At(i, j)
		}
	}
	return cols
}

// dot2 returns x·y as if computed in twice the working precision and then
// rounded (Ogita, Rump and Oishi's Dot2): each product is split exactly with
// an FMA and each sum with TwoSum, and the error terms are summed apart.
func dot2(x, y []float64) float64 {
	var s, c float64
	for i, a := range x {
		p := a * y[i]
		pe := math.FMA(a, y[i], -p)
		t := s + p
		z := t - s
		c += (s - (t - z)) + (p - z) + pe
		s = t
	}
	return s + c
}

// HamiltonianDefect returns ||J H - (J H)ᵀ||_F / (2 ||H||_F) = ||Hᵀ J + J H||_F
// / (2 ||H||_F), zero exactly when H = J M with M symmetric (and 0 for H = 0).
func HamiltonianDefect(h mat.Matrix) float64 {
	n := squareSize("HamiltonianDefect", "h", h)
	if n%2 != 0 {
		panic(fmt.Sprintf("symplectic: HamiltonianDefect: h is %d×%d, want even order 2d", n, n))
	}
	d := n / 2
	var num, den float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			// (J H)_ij = H_{d+i, j} for i < d, -H_{i-d, j} otherwise.
			jh := func(i, j int) float64 {
				if i < d {
					return h.At(d+i, j)
				}
				return -h.At(i-d, j)
			}
			v := jh(i, j) - jh(j, i)
			num += v * v
			den += h.At(i, j) * h.At(i, j)
		}
	}
	if den == 0 {
		return 0
	}
	return math.Sqrt(num/den) / 2
}

// Energy returns sᵀ M s / 2 for a symmetric M and a state s of the same size.
func Energy(m mat.Symmetric, s []float64) float64 {
	n := m.SymmetricDim()
	if len(s) != n {
		panic(fmt.Sprintf("symplectic: Energy: m is %d×%d but len(s) = %d", n, n, len(s)))
	}
	// Compensated sums: the drift checks compare energies far below the
	// rounding of a plain sum.
	row := make([]float64, n)
	ms := make([]float64, n)
	for i := 0; i < n; i++ {
		for j := range row {
			row[j] = m.At(i, j)
		}
		ms[i] = dot2(row, s)
	}
	return dot2(s, ms) / 2
}

// EnergyDrift returns max_t |Energy(M, s_t) - Energy(M, s_ref)| / |Energy(M,
// s_ref)| over the rows s_t of states (a T×n matrix such as Trajectory
// returns), relative to the row ref (the start frame). It is the absolute
// drift when the reference energy is 0.
func EnergyDrift(m mat.Symmetric, states mat.Matrix, ref int) float64 {
	rows, cols := states.Dims()
	n := m.SymmetricDim()
	if cols != n {
		panic(fmt.Sprintf("symplectic: EnergyDrift: m is %d×%d but states are %d×%d", n, n, rows, cols))
	}
	if ref < 0 || ref >= rows {
		panic(fmt.Sprintf("symplectic: EnergyDrift: ref %d outside 0..%d", ref, rows-1))
	}
	s := make([]float64, n)
	row := func(t int) []float64 {
		for j := range s {
			s[j] = states.At(t, j)
		}
		return s
	}
	e0 := Energy(m, row(ref))
	scale := math.Abs(e0)
	if scale == 0 {
		scale = 1
	}
	var worst float64
	for t := 0; t < rows; t++ {
		worst = max(worst, math.Abs(Energy(m, row(t))-e0)/scale)
	}
	return worst
}

// Reversibility runs the trajectory of h from s0 forwards for steps steps,
// then from the state reached backwards for steps steps, and returns the
// relative distance ||s_back - s0|| / ||s0|| (absolute if s0 = 0). In exact
// arithmetic it is 0; expect a few u times the conditioning of exp(steps·h).
func Reversibility(h mat.Matrix, s0 []float64, steps int) float64 {
	if steps < 0 {
		panic(fmt.Sprintf("symplectic: Reversibility: steps = %d < 0", steps))
	}
	fwd := Trajectory(h, s0, 0, steps+1)
	_, n := fwd.Dims()
	end := mat.Row(nil, steps, fwd)
	back := Trajectory(h, end, steps, steps+1)
	var num, den float64
	for j := 0; j < n; j++ {
		d := back.At(0, j) - s0[j]
		num += d * d
		den += s0[j] * s0[j]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}
