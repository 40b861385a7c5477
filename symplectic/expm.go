package symplectic

import (
	"errors"
	"fmt"
	"math"
)

// ErrNonFinite is wrapped by the errors the checked functions return when an
// input holds NaN or ±Inf.
var ErrNonFinite = errors.New("symplectic: non-finite input")

// ErrOverflow is wrapped by the errors the checked functions return when a
// result has entries too large for float64 (they are ±Inf in the output).
var ErrOverflow = errors.New("symplectic: result overflows float64")

// Workspace holds the scratch memory for exponentials and derivatives of n×n
// matrices, so that repeated calls (a training loop) allocate nothing. Its
// methods take row-major []float64 of length n*n; outputs may share memory
// with inputs. A Workspace must not be used by two goroutines at once.
type Workspace struct {
	n int

	// Value pass: the scaled matrix X, its powers and three temporaries.
	// f, g are the ping-pong pair of the squaring phase.
	x, a2, a3, a6, t1, t2, t3, f, g []float64
	// Tangent pass (Fréchet derivative), allocated on first use.
	dx, da2, da3, da6, dt1, dt2, dt3, df, dg []float64
	tangent                                  bool // whether this call runs the tangent pass

	dense  *denseScratch // conversion buffers of the gonum-facing functions
	pow    []float64     // Trajectory: exp(±H)^(2^k), allocated on first use
	neg    []float64     // Trajectory: -H
	states []float64     // Trajectory: the latest state per bit

	evals, syevWork []float64 // project: eigenvalues and the eigen-solver's workspace

	powScale, tanScale [4]float64 // lincomb: factors for X, X², X³, X⁶ and their tangents

	tri             int       // fixTriangular: 0, or 1 (upper) / 2 (lower) triangular input
	triDiag, triOff []float64 // its diagonal and first off-diagonal

	// expBlocks: component labels, one component's indices, workspaces
	// per block order, and gather/scatter buffers.
	comp, compIdx []int
	sub           map[int]*Workspace
	subIn, subOut []float64
	valueOut      []float64 // derivative: the value of a decoupled h
}

// NewWorkspace returns a Workspace for n×n matrices. It panics if n < 1.
func NewWorkspace(n int) *Workspace {
	if n < 1 {
		panic(fmt.Sprintf("symplectic: NewWorkspace: size %d < 1", n))
	}
	w := &Workspace{n: n}
	w.setScale(0)
	buf := make([]float64, 9*n*n)
	for _, p := range []*[]float64{&w.x, &w.a2, &w.a3, &w.a6, &w.t1, &w.t2, &w.t3, &w.f, &w.g} {
		*p, buf = buf[:n*n:n*n], buf[n*n:]
	}
	return w
}

// Size returns n, the order of the matrices w serves.
func (w *Workspace) Size() int { return w.n }

func (w *Workspace) allocTangent() {
	if w.dx != nil {
		return
	}
	n := w.n
	buf := make([]float64, 9*n*n)
	for _, p := range []*[]float64{&w.dx, &w.da2, &w.da3, &w.da6, &w.dt1, &w.dt2, &w.dt3, &w.df, &w.dg} {
		*p, buf = buf[:n*n:n*n], buf[n*n:]
	}
}

func (w *Workspace) checkLen(op, name string, s []float64) {
	if len(s) != w.n*w.n {
		panic(fmt.Sprintf("symplectic: %s: len(%s) = %d, want %d×%d = %d", op, name, len(s), w.n, w.n, w.n*w.n))
	}
}

// Exp sets dst = exp(h) for row-major n×n matrices (dst and h may be the same
// slice). It returns an error wrapping ErrNonFinite when h holds NaN or Inf
// (dst is then all NaN) and one wrapping ErrOverflow when entries of exp(h)
// exceed the float64 range (those entries are ±Inf in dst, the others are
// valid). See the package documentation for the algorithm and its accuracy.
func (w *Workspace) Exp(dst, h []float64) error {
	w.checkLen("Exp", "dst", dst)
	w.checkLen("Exp", "h", h)
	w.tangent = false
	if i := firstNonFinite(h); i >= 0 {
		fillNaN(dst)
		return fmt.Errorf("%w: h[%d,%d] = %v", ErrNonFinite, i/w.n, i%w.n, h[i])
	}
	copy(w.x, h)
	if w.expBlocks(dst) {
		return w.finish(dst, dst, 0, "exp(h)")
	}
	eF, _ := w.run()
	return w.finish(dst, w.f, eF, "exp(h)")
}

// ExpFrechet sets l = L(h, e), the Fréchet derivative of the exponential at
// h in the direction e (the derivative of exp(h + t e) at t = 0), and, when
// exp is not nil, exp = exp(h), sharing the work. The exponential is Exp's,
// bit for bit, unless the derivative's intermediates overflow for the
// scaling Exp uses (L then overflows, or nearly), in which case both are
// computed with the plain 1-norm scaling.
// Outputs may share memory with inputs but not with each other. Errors are
// as for Exp, for both inputs and both outputs.
func (w *Workspace) ExpFrechet(exp, l, h, e []float64) error {
	return w.derivative("ExpFrechet", exp, l, h, e, false)
}

// ExpAdjoint sets grad = L(hᵀ, g), the adjoint of the Fréchet derivative at h
// applied to g: the gradient with respect to h of the scalar <g, exp(h)> =
// sum_ij g_ij exp(h)_ij, which back-propagation needs. When exp is not nil it
// also sets exp = exp(h). Errors are as for ExpFrechet.
func (w *Workspace) ExpAdjoint(exp, grad, h, g []float64) error {
	return w.derivative("ExpAdjoint", exp, grad, h, g, true)
}

// derivative runs ExpFrechet (adjoint false: L(h, e)) or ExpAdjoint
// (adjoint true: L(hᵀ, e)).
func (w *Workspace) derivative(op string, exp, out, h, e []float64, adjoint bool) error {
	hName, eName, outName := "h", "e", "L(h, e)"
	if adjoint {
		eName, outName = "g", "L(hᵀ, g)"
	}
	if exp != nil {
		w.checkLen(op, "exp", exp)
	}
	w.checkLen(op, outName, out)
	w.checkLen(op, hName, h)
	w.checkLen(op, eName, e)
	w.allocTangent()
	w.tangent = true
	for _, in := range []struct {
		name string
		m    []float64
	}{{hName, h}, {eName, e}} {
		if i := firstNonFinite(in.m); i >= 0 {
			fillNaN(out)
			if exp != nil {
				fillNaN(exp)
			}
			return fmt.Errorf("%w: %s[%d,%d] = %v", ErrNonFinite, in.name, i/w.n, i%w.n, in.m[i])
		}
	}
	n := w.n
	if adjoint {
		transposeInto(w.x, h, n)
	} else {
		copy(w.x, h)
	}
	copy(w.dx, e)
	// A decoupled h gets its value block by block, as in Exp, before run
	// overwrites w.x; the derivative couples the blocks and takes the
	// general path.
	blocks := false
	if exp != nil {
		if len(w.valueOut) < n*n {
			w.valueOut = make([]float64, n*n)
		}
		blocks = w.expBlocks(w.valueOut)
	}
	eF, eL := w.run()
	var err error
	if exp != nil {
		src := w.f
		if blocks {
			src, eF = w.valueOut, 0
		}
		if adjoint {
			// The value pass computed exp(hᵀ) = exp(h)ᵀ.
			transposeInto(w.g, src, n)
			src = w.g
		}
		err = w.finish(exp, src, eF, "exp(h)")
	}
	if err2 := w.finish(out, w.df, eL, outName); err == nil {
		err = err2
	}
	return err
}

// expBlocks handles an X in w.x that decouples into independent subspaces:
// when the graph with an edge i–j wherever x_ij or x_ji is nonzero has more
// than one connected component, exp(X) is block diagonal in those index
// sets, and each block is computed on its own (1×1 blocks exactly, 2×2 ones
// by the closed form, triangular ones with their exact diagonals). A
// Hamiltonian embedding [[A, 0], [0, -Aᵀ]] is such a matrix, as is the
// operator of several uncoupled subspaces. It writes exp(X) into dst and
// reports whether it did; w.x is left as it was.
func (w *Workspace) expBlocks(dst []float64) bool {
	n := w.n
	if n <= 2 {
		return false
	}
	if len(w.comp) < n {
		w.comp = make([]int, n)
		w.compIdx = make([]int, n)
	}
	parent := w.comp[:n]
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	count := n
	x := w.x
	for i := 0; i < n && count > 1; i++ {
		for j := i + 1; j < n; j++ {
			if x[i*n+j] != 0 || x[j*n+i] != 0 {
				if a, b := find(i), find(j); a != b {
					parent[max(a, b)] = min(a, b)
					count--
				}
			}
		}
	}
	if count == 1 {
		return false
	}
	if w.sub == nil {
		w.sub = map[int]*Workspace{}
		w.subIn = make([]float64, n*n)
		w.subOut = make([]float64, n*n)
	}
	clear(dst)
	for root := 0; root < n; root++ {
		if find(root) != root {
			continue
		}
		idx := w.compIdx[:0]
		for i := root; i < n; i++ {
			if find(i) == root {
				idx = append(idx, i)
			}
		}
		m := len(idx)
		if m == 1 {
			dst[root*n+root] = math.Exp(x[root*n+root])
			continue
		}
		sw := w.sub[m]
		if sw == nil {
			sw = NewWorkspace(m)
			w.sub[m] = sw
		}
		in, out := w.subIn[:m*m], w.subOut[:m*m]
		for a, i := range idx {
			for b, j := range idx {
				in[a*m+b] = x[i*n+j]
			}
		}
		_ = sw.Exp(out, in) // overflow is reported from dst by the caller
		for a, i := range idx {
			for b, j := range idx {
				dst[i*n+j] = out[a*m+b]
			}
		}
	}
	return true
}

// finish writes src·2^e into dst and reports overflow.
func (w *Workspace) finish(dst, src []float64, e int, what string) error {
	inf := -1
	if e == 0 {
		copy(dst, src)
		inf = firstNonFinite(dst)
	} else {
		for i, v := range src {
			r := math.Ldexp(v, e)
			if inf < 0 && math.IsInf(r, 0) {
				inf = i
			}
			dst[i] = r
		}
	}
	if inf >= 0 {
		return fmt.Errorf("%w: %s[%d,%d] = %v", ErrOverflow, what, inf/w.n, inf%w.n, dst[inf])
	}
	return nil
}

// run computes exp(X) (and, with w.tangent, L(X, dX)) for the finite X in
// w.x and dX in w.dx. The results are w.f·2^eF and w.df·2^eL.
func (w *Workspace) run() (eF, eL int) {
	n := w.n
	// L is linear in the direction: keep it near unit size.
	if w.tangent {
		eL = normalize(w.dx)
	}
	ham := isHamiltonian(w.x, n)
	skew := ham && isSkew(w.x, n)
	// 2×2: the closed form gives the value; the Taylor path below still
	// runs for the tangent.
	var closed [4]float64
	closedOK := false
	if n == 2 {
		x := w.x
		closed[0], closed[1], closed[2], closed[3], closedOK = exp2(x[0], x[1], x[2], x[3])
		if closedOK && !w.tangent {
			copy(w.f, closed[:])
			return 0, 0
		}
	}
	w.noteTriangular()
	// Entries beyond 2^100 are scaled down first (X = x·2^pre), so that the
	// powers of x cannot overflow; the degree and scaling tests shift by pre.
	pre := 0
	if maxAbs(w.x) > 0x1p100 {
		pre = normalize(w.x)
	}
	copy(w.g, w.x) // x, for the fallback below
	m, s := w.choose(pre)
	if !w.evaluate(m, pre-s) {
		// The norm bounds allowed a scaling under which the Taylor stage
		// left the float64 range (only for extremely non-normal X): use the
		// plain 1-norm choice, for which every intermediate stays below a
		// few units.
		copy(w.x, w.g)
		s = max(0, pre+int(math.Ceil(math.Log2(norm1(w.x, n)/thetas[5]))))
		scalePow2(w.x, pre-s)
		w.powers(18)
		w.evaluate(18, 0)
	}
	eF, eL = w.square(s, -s, eL-s)
	if closedOK {
		copy(w.f, closed[:])
		return 0, eL
	}
	// Each squaring doubles the structure defect of its input: after a few,
	// restore the structure of an exactly Hamiltonian generator's exponential.
	if ham && eF == 0 && s >= polishAfter {
		if skew {
			w.polishOrthogonal(w.f)
		} else {
			w.project(w.f)
		}
	}
	return eF, eL
}

// powers computes A2 (m >= 2), A3 (m >= 12) and A6 (m = 18) from w.x, with
// their tangents.
func (w *Workspace) powers(m int) {
	if m >= 2 {
		w.product(w.a2, w.x, w.x, w.da2, w.dx, w.dx, false)
	}
	if m >= 12 {
		w.product(w.a3, w.a2, w.x, w.da3, w.da2, w.dx, false)
	}
	if m >= 18 {
		w.product(w.a6, w.a3, w.a3, w.da6, w.da3, w.da3, false)
	}
}

// evaluate scales X and its powers by 2^k (X^p by 2^(p k); the tangent of
// X^p, linear in the unscaled direction, by 2^((p-1) k)), evaluates
// G = T_m(X) - I into w.f (and its tangent into w.df) and reports whether
// the result is finite.
func (w *Workspace) evaluate(m, k int) bool {
	if m == 18 && k > -1000/6 && k < 1000/6 {
		// In the degree-18 scheme X and its powers enter only through
		// linear combinations: scale their coefficients (exact).
		w.setScale(k)
		defer w.setScale(0)
		k = 0
	}
	if k != 0 {
		scalePow2(w.x, k)
		if m >= 2 {
			scalePow2(w.a2, 2*k)
			w.scaleTangent(w.da2, k)
		}
		if m >= 12 {
			scalePow2(w.a3, 3*k)
			w.scaleTangent(w.da3, 2*k)
		}
		if m >= 18 {
			scalePow2(w.a6, 6*k)
			w.scaleTangent(w.da6, 5*k)
		}
	}
	switch m {
	case 1:
		w.lincomb(w.f, 0, 1, 0, 0, 0, nil)
	case 2:
		w.lincomb(w.f, 0, 1, 0.5, 0, 0, nil)
	case 4:
		w.taylor4()
	case 8:
		w.taylor8()
	case 12:
		w.taylor12()
	default:
		w.taylor18()
	}
	return firstNonFinite(w.f) < 0 && (!w.tangent || firstNonFinite(w.df) < 0)
}

// setScale makes lincomb treat X^p as scaled by 2^(p k) (its tangent by
// 2^((p-1) k)).
func (w *Workspace) setScale(k int) {
	for i, p := range [...]int{1, 2, 3, 6} {
		w.powScale[i] = math.Ldexp(1, p*k)
		w.tanScale[i] = math.Ldexp(1, (p-1)*k)
	}
}

func (w *Workspace) scaleTangent(d []float64, k int) {
	if w.tangent {
		scalePow2(d, k)
	}
}

// choose picks the Taylor degree m and the number of squarings s for
// X = x·2^pre with x in w.x, computing the powers of x that the chosen
// scheme needs (with their tangents) on the way.
//
// The degree test uses alpha_p = max(d_p, d_(p+1)), d_k = ||X^k||^(1/k), for
// p(p-1) <= m+1 (Al-Mohy and Higham 2009, Theorem 4.2): the truncation error
// of T_m is bounded by its scalar series at alpha_p, which for non-normal X
// can be far below ||X||_1. d_3 <= (||X^2|| ||X||)^(1/3) before X^3 is known;
// afterwards d_4 <= min(d_2, (||X^3|| ||X||)^(1/4)) and
// d_5 <= (||X^2|| ||X^3||)^(1/5).
func (w *Workspace) choose(pre int) (m, s int) {
	n := w.n
	lim := func(i int) float64 { return math.Ldexp(thetas[i], -pre) } // theta for x
	n1 := norm1(w.x, n)
	if n1 <= lim(0) {
		return 1, 0
	}
	w.powers(2)
	if n1 <= lim(1) {
		return 2, 0
	}
	p2 := norm1(w.a2, n)
	eta := math.Min(n1, math.Max(math.Sqrt(p2), math.Cbrt(p2*n1)))
	if eta <= lim(2) {
		return 4, 0
	}
	if eta <= lim(3) {
		return 8, 0
	}
	w.product(w.a3, w.a2, w.x, w.da3, w.da2, w.dx, false)
	p3 := norm1(w.a3, n)
	d3 := math.Cbrt(p3)
	d4 := math.Min(math.Sqrt(p2), math.Pow(p3*n1, 0.25))
	d5 := math.Pow(p2*p3, 0.2)
	eta = math.Min(n1, math.Min(math.Max(d3, d4), math.Max(d4, d5)))
	if eta <= lim(4) {
		return 12, 0
	}
	w.product(w.a6, w.a3, w.a3, w.da6, w.da3, w.da3, false)
	if eta > lim(5) {
		s = int(math.Ceil(math.Log2(eta/thetas[5]))) + pre
	}
	return 18, max(s, 0)
}

// The Taylor stage computes G = T_m(X) - I, not T_m(X): the identity is
// added only when the result is written out (or when the squarings let G
// grow large), so that entries of exp(X) near 1 are not rounded to the
// spacing of 1 before the small terms are added (the expm1 form). In the
// degree 12 and 18 schemes the identity appears only through the constant
// terms of their last product, (a I + Z)(b I + Y) = ab I + b Z + a Y + Z Y,
// and the schemes are built so that the total constant term is exactly 1;
// the products are expanded that way below, with the same product count.

// taylor4: G = X + X2 (I/2 + X/6 + X2/24).
func (w *Workspace) taylor4() {
	w.lincomb(w.t1, 0.5, 1.0/6, 1.0/24, 0, 0, nil)
	w.lincomb(w.f, 0, 1, 0, 0, 0, nil)
	w.product(w.f, w.a2, w.t1, w.df, w.da2, w.dt1, true)
}

// taylor8: G = X + u2 X2 + A8 with the degree-8 scheme; A4 lives in the A3
// slot.
func (w *Workspace) taylor8() {
	w.lincomb(w.t1, 0, t8a1, t8a2, 0, 0, nil)
	w.product(w.a3, w.a2, w.t1, w.da3, w.da2, w.dt1, false)
	w.lincomb(w.t3, 0, 0, t8x3, 1, 0, nil)
	w.lincomb(w.t1, t8c0, t8c1, t8c2, t8c4, 0, nil)
	w.lincomb(w.f, 0, 1, t8u2, 0, 0, nil)
	w.product(w.f, w.t3, w.t1, w.df, w.dt3, w.dt1, true)
}

// taylor12: with q_j = a0j I + q_j' (a04 = 0),
//
//	Y = q3' + q4 q4, Z = q2' + Y,
//	G = q1' + (a02 + a03) Y + a03 Z + Z Y,
//
// since T12 = q1 + (q2 + q6) q6 with q6 = a03 I + Y.
func (w *Workspace) taylor12() {
	c := &t12
	w.lincomb(w.t3, 0, c[1][3], c[2][3], c[3][3], 0, nil)
	w.lincomb(w.t1, 0, c[1][2], c[2][2], c[3][2], 0, nil)
	w.product(w.t1, w.t3, w.t3, w.dt1, w.dt3, w.dt3, true) // Y
	w.lincomb(w.t2, 0, c[1][1], c[2][1], c[3][1], 0, w.t1) // Z
	w.lincomb(w.f, 0, c[1][0], c[2][0], c[3][0], 0, nil)
	w.addScaled(w.f, c[0][1]+c[0][2], w.t1)
	w.addScaled(w.f, c[0][2], w.t2)
	w.product(w.f, w.t2, w.t1, w.df, w.dt2, w.dt1, true)
}

// taylor18: with B_j = b0j I + B_j' (B1 and B5 have no identity part),
//
//	V = B1 B5 + B4', W = B3' + V,
//	G = B2' + (b02 + b03) V + b03 W + W V,
//
// since T18 = B2 + (B3 + A9) A9 with A9 = b03 I + V and b01 = 0.
func (w *Workspace) taylor18() {
	a, b := &t18a, &t18b
	w.lincomb(w.t3, 0, b[1][3], b[2][3], b[3][3], b[4][3], nil)  // B5
	w.lincomb(w.t2, 0, a[1], a[2], a[3], 0, nil)                 // B1
	w.lincomb(w.t1, 0, b[1][2], b[2][2], b[3][2], b[4][2], nil)  // B4'
	w.product(w.t1, w.t2, w.t3, w.dt1, w.dt2, w.dt3, true)       // V
	w.lincomb(w.t2, 0, b[1][1], b[2][1], b[3][1], b[4][1], w.t1) // W
	w.lincomb(w.f, 0, b[1][0], b[2][0], b[3][0], b[4][0], nil)   // B2'
	w.addScaled(w.f, b[0][1]+b[0][2], w.t1)
	w.addScaled(w.f, b[0][2], w.t2)
	w.product(w.f, w.t2, w.t1, w.df, w.dt2, w.dt1, true)
}

// addScaled sets dst += c·src and the same for their tangents.
func (w *Workspace) addScaled(dst []float64, c float64, src []float64) {
	axpy(c, src, dst)
	if w.tangent {
		axpy(c, w.tangentOf(src), w.tangentOf(dst))
	}
}

// lincomb sets dst = cI I + c1 X + c2 A2 + c3 A3 + c6 A6 (+ plus when not
// nil), and the same combination of the tangents without the identity.
// Terms with a zero coefficient are not read, so unused slots may hold
// anything. The coefficients are multiplied by w.powScale (w.tanScale for
// the tangents): the scaling 2^k of X is applied to the coefficients, which
// is exact, instead of to the matrices.
func (w *Workspace) lincomb(dst []float64, cI, c1, c2, c3, c6 float64, plus []float64) {
	v, d := &w.powScale, &w.tanScale
	combine(dst, w.n, cI, c1*v[0], w.x, c2*v[1], w.a2, c3*v[2], w.a3, c6*v[3], w.a6, plus)
	if w.tangent {
		var dplus []float64
		if plus != nil {
			dplus = w.tangentOf(plus)
		}
		combine(w.tangentOf(dst), w.n, 0, c1*d[0], w.dx, c2*d[1], w.da2, c3*d[2], w.da3, c6*d[3], w.da6, dplus)
	}
}

// tangentOf maps a value buffer to its tangent buffer.
func (w *Workspace) tangentOf(v []float64) []float64 {
	switch &v[0] {
	case &w.x[0]:
		return w.dx
	case &w.a2[0]:
		return w.da2
	case &w.a3[0]:
		return w.da3
	case &w.a6[0]:
		return w.da6
	case &w.t1[0]:
		return w.dt1
	case &w.t2[0]:
		return w.dt2
	case &w.t3[0]:
		return w.dt3
	case &w.f[0]:
		return w.df
	case &w.g[0]:
		return w.dg
	}
	panic("symplectic: internal error: buffer has no tangent")
}

func combine(dst []float64, n int, cI, c1 float64, x []float64, c2 float64, a2 []float64, c3 float64, a3 []float64, c6 float64, a6 []float64, plus []float64) {
	// One pass over dst with the terms whose coefficient is not zero.
	var cs [5]float64
	var ms [5][]float64
	k := 0
	for _, t := range [...]struct {
		c float64
		m []float64
	}{{c1, x}, {c2, a2}, {c3, a3}, {c6, a6}} {
		if t.c != 0 {
			cs[k], ms[k] = t.c, t.m[:len(dst)]
			k++
		}
	}
	if plus != nil {
		cs[k], ms[k] = 1, plus[:len(dst)]
		k++
	}
	// Re-slicing every operand to len(dst) lets the compiler drop the
	// bounds checks in the loops.
	l := len(dst)
	switch k {
	case 0:
		clear(dst)
	case 1:
		c0, m0 := cs[0], ms[0][:l]
		for i := range dst {
			dst[i] = c0 * m0[i]
		}
	case 2:
		c0, m0, c1, m1 := cs[0], ms[0][:l], cs[1], ms[1][:l]
		for i := range dst {
			dst[i] = c0*m0[i] + c1*m1[i]
		}
	case 3:
		c0, m0, c1, m1, c2, m2 := cs[0], ms[0][:l], cs[1], ms[1][:l], cs[2], ms[2][:l]
		for i := range dst {
			dst[i] = c0*m0[i] + c1*m1[i] + c2*m2[i]
		}
	case 4:
		c0, m0, c1, m1, c2, m2, c3, m3 := cs[0], ms[0][:l], cs[1], ms[1][:l], cs[2], ms[2][:l], cs[3], ms[3][:l]
		for i := range dst {
			dst[i] = c0*m0[i] + c1*m1[i] + c2*m2[i] + c3*m3[i]
		}
	default:
		c0, m0, c1, m1, c2, m2, c3, m3, c4, m4 := cs[0], ms[0][:l], cs[1], ms[1][:l], cs[2], ms[2][:l], cs[3], ms[3][:l], cs[4], ms[4][:l]
		for i := range dst {
			dst[i] = c0*m0[i] + c1*m1[i] + c2*m2[i] + c3*m3[i] + c4*m4[i]
		}
	}
	if cI != 0 {
		for i := 0; i < n; i++ {
			dst[i*n+i] += cI
		}
	}
}

// axpy sets y += a·x; a zero a leaves y alone without reading x.
func axpy(a float64, x, y []float64) {
	if a == 0 {
		return
	}
	x = x[:len(y)]
	for i, v := range x {
		y[i] += a * v
	}
}

// product sets c = a·b (or c += a·b with acc) and, in the tangent pass,
// dc = da·b + a·db (or dc += ...). c must not share memory with a or b.
func (w *Workspace) product(c, a, b, dc, da, db []float64, acc bool) {
	n := w.n
	gemm(n, n, n, a, n, b, n, c, n, acc)
	if w.tangent {
		// dc is written after c, so dc and da/db must be distinct; they are
		// tangent buffers of distinct value buffers.
		gemm(n, n, n, da, n, b, n, dc, n, acc)
		gemm(n, n, n, a, n, db, n, dc, n, true)
	}
}

// square performs s squarings of exp(X) = I + G, G in w.f (and of the
// tangent L in w.df, L <- F L + L F), and leaves F = exp(2^s X) = w.f·2^eF
// (and L = w.df·2^eL). While G is small the squarings run in the expm1 form
// G <- 2G + G² (L <- 2L + G L + L G), which keeps entries of F near 1 from
// being rounded to the spacing of 1; once G grows (a diagonal entry beyond
// 1/4, where F = I + G would start to cancel), I is added and they run on F,
// keeping the mantissa matrices near unit size so that no
// intermediate overflows or underflows (entries out of range only become
// ±Inf or 0 when the result is written out).
func (w *Workspace) square(s, k, eL int) (eF, eLout int) {
	n := w.n
	expm1 := true
	// The iterate is exp(2^(k+j) X) after j squarings (k = -s).
	w.fixTriangular(k, expm1)
	for i := 0; i < s; i++ {
		if expm1 && !smallG(w.f, n) {
			addIdentity(w.f, n)
			expm1 = false
		}
		if w.tangent {
			gemm(n, n, n, w.f, n, w.df, n, w.dg, n, false)
			gemm(n, n, n, w.df, n, w.f, n, w.dg, n, true)
			if expm1 {
				axpy(2, w.df, w.dg)
			}
			eL = clampExp(eL + eF + normalizeIfFar(w.dg, eL != 0))
			w.df, w.dg = w.dg, w.df
		}
		gemm(n, n, n, w.f, n, w.f, n, w.g, n, false)
		if expm1 {
			axpy(2, w.f, w.g)
		} else {
			eF = clampExp(2*eF + normalizeIfFar(w.g, eF != 0))
		}
		w.f, w.g = w.g, w.f
		if eF == 0 {
			w.fixTriangular(k+i+1, expm1)
		}
	}
	if expm1 {
		addIdentity(w.f, n)
	}
	return eF, eL
}

// noteTriangular records whether X in w.x (before any scaling) is upper or
// lower triangular, with its diagonal and first off-diagonal, for
// fixTriangular.
func (w *Workspace) noteTriangular() {
	n := w.n
	x := w.x
	w.tri = 0
	if n < 2 {
		return
	}
	upper, lower := true, true
	for i := 0; i < n && (upper || lower); i++ {
		for j := 0; j < i; j++ {
			if x[i*n+j] != 0 {
				upper = false
			}
			if x[j*n+i] != 0 {
				lower = false
			}
		}
	}
	if !upper && !lower {
		return
	}
	if len(w.triDiag) < n {
		w.triDiag = make([]float64, n)
		w.triOff = make([]float64, n)
	}
	w.tri = 1
	if !upper {
		w.tri = 2
	}
	for i := 0; i < n; i++ {
		w.triDiag[i] = x[i*n+i]
		if i+1 < n {
			if upper {
				w.triOff[i] = x[i*n+i+1]
			} else {
				w.triOff[i] = x[(i+1)*n+i]
			}
		}
	}
}

// fixTriangular overwrites, for a triangular X, the diagonal and first
// off-diagonal of the current iterate exp(2^k X) (or its expm1 form) with
// their exact values: exp (expm1) of the scaled diagonal entries and the
// closed form of each 2×2 block (Al-Mohy and Higham 2009, Code Fragment 2.1).
// Those entries are the ones the squarings would otherwise carry with the
// largest relative errors.
func (w *Workspace) fixTriangular(k int, expm1 bool) {
	if w.tri == 0 {
		return
	}
	n := w.n
	f := w.f
	// Exact values that leave the plain range (beyond 2^400) are left to
	// the squarings and their exponent bookkeeping, and so are all later
	// ones.
	ok := func(v float64) bool {
		if math.Abs(v) <= 0x1p400 {
			return true
		}
		w.tri = 0
		return false
	}
	for i := 0; i < n; i++ {
		li := math.Ldexp(w.triDiag[i], k)
		v := math.Exp(li)
		if expm1 {
			v = math.Expm1(li)
		}
		if !ok(v) {
			return
		}
		f[i*n+i] = v
		if i+1 == n {
			break
		}
		lj := math.Ldexp(w.triDiag[i+1], k)
		o := math.Ldexp(w.triOff[i], k)
		if w.tri == 1 {
			if _, f12, _, _, good := exp2(li, o, 0, lj); good {
				if !ok(f12) {
					return
				}
				f[i*n+i+1] = f12
			}
		} else if _, _, f21, _, good := exp2(li, 0, o, lj); good {
			if !ok(f21) {
				return
			}
			f[(i+1)*n+i] = f21
		}
	}
}

// smallG reports whether G is small enough for the expm1 form: diagonal
// entries within 1/4 (so 1 + G_ii does not cancel) and no entry beyond 2^20.
func smallG(g []float64, n int) bool {
	for i := 0; i < n; i++ {
		if abs(g[i*n+i]) > 0.25 {
			return false
		}
	}
	return maxAbs(g) <= 0x1p20
}

func addIdentity(m []float64, n int) {
	for i := 0; i < n; i++ {
		m[i*n+i]++
	}
}

// clampExp keeps a binary exponent far beyond the float64 range from
// overflowing int arithmetic; 2^(1<<24) is already ±Inf for every mantissa.
func clampExp(e int) int {
	const lim = 1 << 24
	return max(-lim, min(lim, e))
}

// normalizeIfFar rescales m by a power of two when its largest entry leaves
// [2^-400, 2^400], or always when scaled is set (a matrix already carried
// with an exponent), and returns the exponent k with old m = new m·2^k. The
// largest entry is put near 2^500, not 1: the next squaring doubles every
// entry's binary exponent, and centring the range keeps entries down to
// 2^-1000 of the largest from underflowing in the product (and the largest
// from overflowing).
func normalizeIfFar(m []float64, scaled bool) int {
	a := maxAbs(m)
	if a == 0 || !scaled && a >= 0x1p-400 && a <= 0x1p400 {
		return 0
	}
	_, k := math.Frexp(a)
	k -= 500
	scalePow2(m, -k)
	return k
}

// normalize scales m by a power of two so its largest entry lies in
// [0.5, 1) and returns k with old m = new m·2^k (0 for a zero matrix).
func normalize(m []float64) int {
	a := maxAbs(m)
	if a == 0 {
		return 0
	}
	_, k := math.Frexp(a)
	scalePow2(m, -k)
	return k
}

// scalePow2 multiplies m by 2^k, exactly except where entries leave the
// normal range.
func scalePow2(m []float64, k int) {
	if k == 0 {
		return
	}
	if k >= -1000 && k <= 1000 {
		f := math.Ldexp(1, k)
		for i := range m {
			m[i] *= f
		}
		return
	}
	for i := range m {
		m[i] = math.Ldexp(m[i], k)
	}
}

// maxAbs returns the largest magnitude in m (finite entries).
func maxAbs(m []float64) float64 {
	var hi, lo float64
	for _, v := range m {
		if v > hi {
			hi = v
		}
		if v < lo {
			lo = v
		}
	}
	return max(hi, -lo)
}

// norm1 is the 1-norm (largest column sum of magnitudes) of an n×n matrix.
// The column sums are accumulated row by row, in memory order, in blocks of
// 16 columns held in registers.
func norm1(m []float64, n int) float64 {
	var best float64
	var sums [16]float64
	for j0 := 0; j0 < n; j0 += len(sums) {
		w := min(len(sums), n-j0)
		clear(sums[:])
		for i := 0; i < n; i++ {
			row := m[i*n+j0 : i*n+j0+w]
			for j, v := range row {
				sums[j] += math.Abs(v)
			}
		}
		for _, s := range sums[:w] {
			best = max(best, s)
		}
	}
	return best
}

func firstNonFinite(m []float64) int {
	for i, v := range m {
		if v-v != 0 { // NaN for ±Inf and NaN, 0 otherwise
			return i
		}
	}
	return -1
}

func fillNaN(m []float64) {
	for i := range m {
		m[i] = math.NaN()
	}
}

// transposeInto sets dst = srcᵀ for n×n matrices (dst must not be src).
func transposeInto(dst, src []float64, n int) {
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			dst[j*n+i] = src[i*n+j]
		}
	}
}
