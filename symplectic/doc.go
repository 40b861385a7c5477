// Package symplectic computes with linear Hamiltonian flows in float64:
// symplectic and orthogonal-symplectic operators from free parameters, the
// matrix exponential by scaling and squaring of Taylor polynomials, its
// exact Fréchet derivative and adjoint, long trajectories without error
// growth, and the checks (symplecticity, orthogonality, energy drift,
// reversibility) as functions for property tests. It imports only the
// standard library and gonum.
//
// # Math
//
// A state s = [q; p] of phase space R^(2d) evolves as s_(t+1) = exp(H) s_t
// with H = J M, M symmetric and
//
//	J = [[0, I], [-I, 0]]    (J(d) returns it).
//
// Such H are Hamiltonian (J H is symmetric), and exp(tH) is symplectic:
// Eᵀ J E = J, so det E = 1 (volume is preserved), exp(-tH) = exp(tH)⁻¹ (the
// flow is reversible), and the energy sᵀ M s / 2 is the same at every t.
// Sp builds H = J (A + Aᵀ)/2 from a free 2d×2d A; SpO builds the
// Hamiltonians that are also skew-symmetric, H = [[-W, S], [-S, -W]] with S
// symmetric and W skew (packed in one free d×d B = S + W), whose
// exponentials are rotations as well; SpONarrow is the W = 0 form of the
// official HALO code. The Grad functions map a gradient with respect to H
// back to the parameters; Blocks holds one operator per subspace and applies
// them to batches of states without forming the block-diagonal matrix.
//
// # The exponential
//
// Exp (and Workspace.Exp, which allocates nothing on the common path) picks
// a Taylor degree m in {1, 2, 4, 8, 12, 18} and a number of squarings s,
// evaluates T_m(2^-s H) with the schemes of Bader, Blanes and Casas (2019)
// — 0, 1, 2, 3, 4 and 5 matrix products — and squares s times. The choice
// uses α_p = max(||X^p||, ||X^(p+1)||)^(1/p) bounds in the 1-norm (Al-Mohy
// and Higham 2009), formed from the powers the scheme computes anyway, and
// the double-precision thresholds θ_m (θ_18 = 1.09): if α <= θ_m then
// T_m(X) = exp(X + ΔX) with ||ΔX|| <= u ||X||, u = 2^-53. To that backward
// error of one unit roundoff the squarings add their rounding, amplified by
// up to 2^s, i.e. about u·||H|| for a rotation of that norm, the condition
// of the problem. Further:
//
//   - the Taylor stage and the early squarings work on exp(X) - I, so
//     entries near 1 keep the digits of the small terms;
//   - 2×2 matrices use the closed form, triangular ones get their diagonal
//     and first off-diagonal exactly at every squaring, and a matrix that
//     decouples into independent subspaces is exponentiated block by block;
//   - after three or more squarings, the exponential of an exactly
//     Hamiltonian H is projected back onto the symplectic group (the
//     smallest first-order correction, with the defect formed in twice the
//     working precision), and that of an SpO generator onto the orthogonal
//     symplectic matrices, so the structure defect stays at the rounding of
//     one matrix instead of growing like 2^s u;
//   - entries are carried as mantissa matrices with a power-of-two exponent
//     during the squarings, so for finite input no NaN arises; entries
//     beyond the float64 range become ±Inf, and ExpChecked reports that
//     (and non-finite input) as an error. Since ||exp(H)|| <= e^||H||, no
//     Inf appears for ||H||_1 < 709; beyond about 1e18 the rounding of H
//     itself can move eigenvalues past the exponent range, and when the
//     nonzero entries of H span more than about 2^900 the scaling that
//     brings H into range flushes the smallest ones to zero, so the result
//     is that of a nearby matrix, not necessarily near exp(H).
//
// Measured against mpmath references (testdata/symplectic): relative errors
// of 1e-16 to a few 1e-16 for ||H|| <= 1, about 1e-13 for rotations of norm
// 1000, and per test family no worse than twice scipy.linalg.expm's; the
// symplecticity defect ||Eᵀ J E - J||_F/||J||_F stays within 2 u ||E||_F².
//
// # The derivative
//
// ExpFrechet returns L(H, E), the derivative of exp(H + tE) at t = 0, by
// differentiating every product of the Taylor scheme and every squaring
// (F <- F², L <- F L + L F); the result is the derivative of exp at a
// matrix within the backward error of the exponential, so it is exact to
// rounding (about 1e-15 relative against mpmath, against the Gauss-Legendre
// quadrature of ∫ exp(sH) E exp((1-s)H) ds and against the block form
// exp([[H, E], [0, H]])). ExpFrechetAdjoint returns L(Hᵀ, G), the gradient
// of <G, exp(H)> with respect to H, which back-propagation needs.
//
// # Trajectories
//
// Trajectory returns s_t = exp(tH) s0 for t = -start, ..., T-1-start. Each
// state is one matrix-vector product with a power exp(±H)^(2^k) from an
// earlier state (binary powering), so s_t is at most ⌊log2|t|⌋+1 products
// from s0, and the powers are re-projected onto the symplectic group as they
// are formed. The error is that of one exponential of |t|·H rather than an
// accumulation over |t| steps, and the energy drift does not grow with the
// length: about 1e-14 over 10^6 steps for M positive definite and ||H|| = 1,
// where the recurrence s_(t+1) = exp(H) s_t drifts by 1e-10.
//
// # Checks
//
// Defect, OrthoDefect, HamiltonianDefect, Energy, EnergyDrift and
// Reversibility evaluate the properties above with compensated sums, so
// they measure the matrix and not their own rounding. Compare them against
// bounds such as 50·u·||E||_F² rather than zero; the example shows a
// property test of a user's operator.
package symplectic
