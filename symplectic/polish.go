package symplectic

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// Structure restoration. Scaling and squaring doubles the structure defect
// of its input at every squaring (rounding adds a little more each time),
// so exp(H) of a Hamiltonian H leaves the symplectic group by about
// 2^s·u·||E||², s the number of squarings. After polishAfter squarings
// Exp moves the result back; Trajectory does so for every power it forms.

// polishAfter is the number of squarings from which Exp restores the
// structure; below it the defect is a few u·||E||² already.
const polishAfter = 3

// project replaces a nearly symplectic P (row-major n×n, n = 2d) by
// P + Δ, where Δ is the smallest correction (in the Frobenius norm) that
// cancels the defect D = Pᵀ J P - J to first order: the orthogonal
// projection of P's error onto the tangent space of the symplectic group.
// The linearised condition Pᵀ J Δ + Δᵀ J P = -D has that minimal solution
// Δ = J P Λ with Λ skew and G Λ + Λ G = D, G = Pᵀ P; it is solved in the
// eigenbasis of G (Λ~_ij = D~_ij / (σ_i + σ_j)). Being a projection, the
// step never increases the error of P to first order. D is of the order
// of the defect (a few u to 2^s u), so it is formed with compensated dot
// products; a plain sum would carry rounding of that same order. Nothing is
// done when P is not nearly symplectic or G is too ill-conditioned for the
// eigen-solve (fast-growing solutions, whose defect is dominated by the
// rounding of Pᵀ J P and is within bounds anyway). It reports whether P was
// changed.
func (w *Workspace) project(p []float64) bool {
	n := w.n
	d := n / 2
	pt, jpt, dm := w.t1, w.t2, w.a2
	transposeInto(pt, p, n)
	// Rows of jpt are the columns of J P = [P_bot; -P_top].
	for j := 0; j < n; j++ {
		col := pt[j*n : (j+1)*n]
		jc := jpt[j*n : (j+1)*n]
		copy(jc[:d], col[d:])
		for k, v := range col[:d] {
			jc[d+k] = -v
		}
	}
	var dmax float64
	for i := 0; i < n; i++ {
		dm[i*n+i] = 0
		for j := i + 1; j < n; j++ {
			v := dot2(pt[i*n:(i+1)*n], jpt[j*n:(j+1)*n])
			if j == i+d {
				v--
			}
			dm[i*n+j] = v
			dm[j*n+i] = -v
			dmax = max(dmax, abs(v))
		}
	}
	if dmax == 0 || dmax > 1e-6 {
		return false
	}
	// G = Pᵀ P = Q Σ Qᵀ; Q overwrites G (eigenvectors in columns).
	q, sigma := w.a3, w.sigma()
	gemm(n, n, n, pt, n, p, n, q, n, false)
	if !lapack64.Syev(lapack.EVCompute, blas64.Symmetric{N: n, Stride: n, Data: q, Uplo: blas.Upper}, sigma, w.syevWork, len(w.syevWork)) {
		return false
	}
	if sigma[0] <= 0 || sigma[n-1] > 1e8 {
		return false
	}
	qt, tmp, lt := w.t3, w.a6, w.x
	transposeInto(qt, q, n)
	gemm(n, n, n, dm, n, q, n, tmp, n, false)  // D Q
	gemm(n, n, n, qt, n, tmp, n, lt, n, false) // Qᵀ D Q
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			lt[i*n+j] /= sigma[i] + sigma[j]
		}
	}
	gemm(n, n, n, q, n, lt, n, tmp, n, false)  // Q Λ~
	gemm(n, n, n, tmp, n, qt, n, dm, n, false) // Λ = Q Λ~ Qᵀ
	gemm(n, n, n, p, n, dm, n, tmp, n, false)  // P Λ
	// P += J (P Λ): the top rows gain the bottom rows, the bottom rows lose the top.
	for i := 0; i < d*n; i++ {
		p[i] += tmp[d*n+i]
		p[d*n+i] -= tmp[i]
	}
	return true
}

// sigma returns the eigenvalue buffer of project, sizing the eigen-solver's
// workspace on first use so that later calls allocate nothing.
func (w *Workspace) sigma() []float64 {
	n := w.n
	if w.evals == nil {
		w.evals = make([]float64, n)
		query := []float64{0}
		lapack64.Syev(lapack.EVCompute, blas64.Symmetric{N: n, Stride: n, Data: make([]float64, n*n), Uplo: blas.Upper}, w.evals, query, -1)
		w.syevWork = make([]float64, int(query[0]))
	}
	return w.evals
}

// polishOrthogonal restores the structure of the exponential P of a
// skew-symmetric Hamiltonian (SpO) generator, an orthogonal symplectic
// matrix: P is first made to commute with J exactly (P <- (P - J P J)/2, the
// form [[C, S], [-S, C]]) and then made orthogonal to first order
// (P <- P - P (Pᵀ P - I)/2, one Newton-Schulz step), which keeps the
// commutation; an orthogonal matrix that commutes with J is symplectic.
// Pᵀ P - I needs no compensation here: ||P|| = 1, so its rounding is u.
func (w *Workspace) polishOrthogonal(p []float64) {
	n := w.n
	d := n / 2
	// (J P J)_ij = σ_i τ_j P_{π(i), π(j)} with π(i) = i ± d, σ_i = +1 for
	// i < d and -1 otherwise, τ_j = -1 for j < d and +1 otherwise; each pair
	// (i,j), (π(i),π(j)) is averaged once.
	for i := 0; i < n; i++ {
		pi, si := i+d, 1.0
		if i >= d {
			pi, si = i-d, -1
		}
		for j := 0; j < n; j++ {
			pj, tj := j+d, -1.0
			if j >= d {
				pj, tj = j-d, 1
			}
			if pi*n+pj > i*n+j {
				continue
			}
			a, b := p[i*n+j], p[pi*n+pj]
			p[i*n+j] = (a - si*tj*b) / 2
			p[pi*n+pj] = (b - si*tj*a) / 2
		}
	}
	pt, e, y := w.t1, w.t2, w.t3
	transposeInto(pt, p, n)
	gemm(n, n, n, pt, n, p, n, e, n, false)
	for i := 0; i < n; i++ {
		e[i*n+i]--
	}
	if maxAbs(e) > 1e-6 {
		return
	}
	gemm(n, n, n, p, n, e, n, y, n, false)
	for i, v := range y {
		p[i] -= v / 2
	}
}

// isHamiltonian reports whether J X is exactly symmetric (X = J M with M
// symmetric), for row-major n×n x.
func isHamiltonian(x []float64, n int) bool {
	if n%2 != 0 {
		return false
	}
	d := n / 2
	// (J X)_ij = X_{d+i, j} for i < d and -X_{i-d, j} for i >= d.
	jx := func(i, j int) float64 {
		if i < d {
			return x[(d+i)*n+j]
		}
		return -x[(i-d)*n+j]
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if jx(i, j) != jx(j, i) {
				return false
			}
		}
	}
	return true
}

// isSkew reports whether xᵀ = -x exactly.
func isSkew(x []float64, n int) bool {
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			if x[i*n+j] != -x[j*n+i] {
				return false
			}
		}
	}
	return true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
