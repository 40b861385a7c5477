package symplectic

import (
	"fmt"
	"math/bits"

	"gonum.org/v1/gonum/mat"
)

// Trajectory returns the states s_t = exp(tH) s0 for t = -start, ...,
// T-1-start as the rows of a T×n matrix (row i holds t = i - start, so row
// start holds s0): the sequence unrolled forwards and backwards from the
// start frame. It panics unless 0 <= start < T and len(s0) = n.
//
// Method: P_k = exp(H)^(2^k) is formed by repeated squaring of exp(H)
// (likewise from exp(-H) for t < 0), and each state takes one
// matrix-vector product from an earlier one, s_t = P_k s_(t - 2^k) with 2^k
// the lowest set bit of t. Unrolled, s_t = P_k1 P_k2 ... P_kj s0 over the set
// bits of |t|, so no state is more than j <= ⌊log2 |t|⌋+1 products away
// from s0. Error bound: with e_k = ||P_k - exp(2^k H)|| and γ_n ≈ n·u,
//
//	||s_t - exp(tH) s0|| <= (sum_{k in bits of |t|} e_k + j·γ_n·Π_k ||P_k||) ||s0||  (to first order),
//
// and P_k = fl(P_(k-1)²) is what the squaring phase of scaling and squaring
// computes for exp(2^k H). For bounded orbits (||P_k|| ≈ 1: H = J M with M
// positive definite, or SpO) e_k ≈ 2^k (e_0 + γ_n), so the sum stays below
// 2·e_K, K = ⌊log2 |t|⌋: the error of one exponential of 2^K H computed
// directly, which carries the inherent |t|·u·||H|| condition of exp(tH),
// and nothing accumulated step by step as in s_(t+1) = exp(H) s_t.
//
// When H is Hamiltonian to rounding (HamiltonianDefect(H) <= 4u), every P_k
// with 2^k >= 16 is moved back onto the symplectic group after it is formed
// (the smallest first-order correction, from Pᵀ J P - J evaluated with
// compensated sums), so its non-symplectic part stays at the rounding of one
// matrix instead of growing like 2^k u. The energy sᵀ M s / 2 then changes by O(u) per factor P_k, at
// most ⌊log2 |t|⌋+1 of them, whatever |t| is: the drift does not grow with
// the trajectory's length (for M positive definite and ||H|| = 1 it stays
// near 1e-14 over 10^6 steps, where repeated multiplication drifts by 1e-10).
//
// The cost is ⌊log2 T⌋ matrix squarings (with their corrections) and T
// matrix-vector products.
func Trajectory(h mat.Matrix, s0 []float64, start, T int) *mat.Dense {
	out, _ := TrajectoryChecked(h, s0, start, T)
	return out
}

// TrajectoryChecked is Trajectory returning an error wrapping ErrNonFinite
// for non-finite h or s0 and one wrapping ErrOverflow when states leave the
// float64 range.
func TrajectoryChecked(h mat.Matrix, s0 []float64, start, T int) (*mat.Dense, error) {
	n := squareSize("Trajectory", "h", h)
	checkTrajectoryArgs(n, len(s0), start, T)
	w := getWorkspace(n)
	defer putWorkspace(w)
	out := mat.NewDense(T, n, nil)
	err := w.Trajectory(out.RawMatrix().Data, w.scratchIn(0, h), s0, start, T)
	return out, err
}

func checkTrajectoryArgs(n, ns0, start, T int) {
	if ns0 != n {
		panic(fmt.Sprintf("symplectic: Trajectory: h is %d×%d but len(s0) = %d", n, n, ns0))
	}
	if T < 1 || start < 0 || start >= T {
		panic(fmt.Sprintf("symplectic: Trajectory: need 0 <= start < T, have start = %d, T = %d", start, T))
	}
}

// Trajectory writes the T states of the package-level Trajectory into dst
// (T×n row-major) for a row-major n×n h; see there for the method and its
// error bound. Errors are as for TrajectoryChecked.
func (w *Workspace) Trajectory(dst, h, s0 []float64, start, T int) error {
	n := w.n
	w.checkLen("Trajectory", "h", h)
	checkTrajectoryArgs(n, len(s0), start, T)
	if len(dst) != T*n {
		panic(fmt.Sprintf("symplectic: Trajectory: len(dst) = %d, want T×n = %d×%d", len(dst), T, n))
	}
	return w.walk(h, s0, -start, T-1-start, func(t int, s []float64) {
		copy(dst[(t+start)*n:(t+start+1)*n], s)
	})
}

// TrajectoryEach calls fn(t, s_t) for t = 0, 1, ..., last and then for
// t = -1, -2, ..., first (first <= 0 <= last), with the states of Trajectory,
// holding only O(n log(|first| + last)) numbers: for long trajectories whose
// states need not all be kept. s is reused after fn returns. Errors are as
// for TrajectoryChecked; fn sees every state even when they overflow.
func (w *Workspace) TrajectoryEach(h, s0 []float64, first, last int, fn func(t int, s []float64)) error {
	w.checkLen("TrajectoryEach", "h", h)
	if len(s0) != w.n {
		panic(fmt.Sprintf("symplectic: TrajectoryEach: h is %d×%d but len(s0) = %d", w.n, w.n, len(s0)))
	}
	if first > 0 || last < 0 {
		panic(fmt.Sprintf("symplectic: TrajectoryEach: need first <= 0 <= last, have %d, %d", first, last))
	}
	return w.walk(h, s0, first, last, fn)
}

// walk runs the binary-powering recurrence of Trajectory. For each
// direction it keeps, per bit k, the latest state whose lowest set bit is k:
// the base t&(t-1) of the next t with a lower bit is always that state (or
// s0), because every number between t&(t-1) and t has a lower lowest bit.
func (w *Workspace) walk(h, s0 []float64, first, last int, fn func(t int, s []float64)) error {
	n := w.n
	if i := firstNonFinite(s0); i >= 0 {
		nan := make([]float64, n)
		fillNaN(nan)
		for t := first; t <= last; t++ {
			fn(t, nan)
		}
		return fmt.Errorf("%w: s0[%d] = %v", ErrNonFinite, i, s0[i])
	}
	fn(0, s0)
	levels := max(bits.Len(uint(last)), bits.Len(uint(-first)))
	if need := levels * n * n; len(w.pow) < need {
		w.pow = make([]float64, need)
	}
	if need := (levels + 1) * n; len(w.states) < need {
		w.states = make([]float64, need)
	}
	if len(w.neg) < n*n {
		w.neg = make([]float64, n*n)
	}
	level := func(k int) []float64 { return w.pow[k*n*n : (k+1)*n*n] }
	state := func(k int) []float64 { return w.states[k*n : (k+1)*n] }
	hamiltonian := n%2 == 0 && hamiltonianDefectRaw(h, n) <= 4*eps
	skew := hamiltonian && isSkew(h, n)
	correct := func(p []float64) {
		if skew {
			w.polishOrthogonal(p)
		} else {
			w.project(p)
		}
	}
	var err error
	overflowed, overflowAt := false, 0
	for _, dir := range []struct{ sign, steps int }{{+1, last}, {-1, -first}} {
		if dir.steps == 0 {
			continue
		}
		g := h
		if dir.sign < 0 {
			for i, v := range h {
				w.neg[i] = -v
			}
			g = w.neg
		}
		kmax := bits.Len(uint(dir.steps))
		if e := w.Exp(level(0), g); e != nil && err == nil {
			err = e
		}
		for k := 1; k < kmax; k++ {
			p := level(k - 1)
			gemm(n, n, n, p, n, p, n, level(k), n, false)
			// The defect of P_k is about 2^k u: below projectFrom levels it
			// is too small to matter and the projection is not worth its
			// cost.
			if hamiltonian && k >= projectFrom {
				correct(level(k))
			}
		}
		for t := 1; t <= dir.steps; t++ {
			k := bits.TrailingZeros(uint(t))
			base := s0
			if b := t & (t - 1); b != 0 {
				base = state(bits.TrailingZeros(uint(b)))
			}
			s := state(k)
			matVec(s, level(k), base, n)
			if !overflowed && firstNonFinite(s) >= 0 {
				overflowed, overflowAt = true, dir.sign*t
			}
			fn(dir.sign*t, s)
		}
	}
	if err == nil && overflowed {
		err = fmt.Errorf("%w: state at t = %d", ErrOverflow, overflowAt)
	}
	return err
}

// hamiltonianDefectRaw is HamiltonianDefect for a row-major n×n slice.
func hamiltonianDefectRaw(h []float64, n int) float64 {
	return HamiltonianDefect(mat.NewDense(n, n, h))
}

// projectFrom is the first power 2^k that Trajectory projects back onto the
// symplectic group; the powers below carry a defect of at most a few times
// 2^projectFrom·u.
const projectFrom = 4

// matVec sets y = A x for an n×n row-major A.
func matVec(y, a, x []float64, n int) {
	x = x[:n]
	for i := 0; i < n; i++ {
		row := a[i*n : (i+1)*n]
		var s float64
		for j, v := range row {
			s += v * x[j]
		}
		y[i] = s
	}
}
