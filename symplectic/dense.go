package symplectic

import (
	"fmt"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// Exp sets dst = exp(h), the matrix exponential of the square matrix h,
// by scaling and squaring with Taylor polynomials (see the package
// documentation). If dst is empty it is resized to h's size, as gonum does;
// otherwise its size must match h's or Exp panics. dst may be h.
//
// For finite h the result has no NaN; entries of exp(h) beyond the float64
// range are ±Inf. Non-finite h gives NaN throughout. ExpChecked reports both
// cases as errors.
func Exp(dst *mat.Dense, h mat.Matrix) {
	_ = ExpChecked(dst, h)
}

// ExpChecked is Exp that also returns an error wrapping ErrNonFinite when h
// holds NaN or Inf, or one wrapping ErrOverflow when exp(h) has entries
// beyond the float64 range, so that a caller can stop with a clear message.
func ExpChecked(dst *mat.Dense, h mat.Matrix) error {
	n := squareSize("Exp", "h", h)
	reuseAs("Exp", dst, n)
	w := getWorkspace(n)
	defer putWorkspace(w)
	hb := w.scratchIn(0, h)
	out, direct := outBuf(dst, w.scratchOut())
	err := w.Exp(out, hb)
	if !direct {
		copyOut(dst, out)
	}
	return err
}

// ExpFrechet sets dst = L(h, e), the Fréchet derivative of the matrix
// exponential at h applied to e: the derivative of exp(h + t e) at t = 0.
// dst is sized as in Exp; h and e must have the same square size. The result
// is exact to rounding: the derivative pass differentiates every product of
// the Taylor scheme and every squaring (Al-Mohy and Higham's method), so it
// is the derivative of exp at a matrix within the backward error of Exp.
func ExpFrechet(dst *mat.Dense, h, e mat.Matrix) {
	_ = ExpFrechetChecked(nil, dst, h, e)
}

// ExpFrechetChecked sets dst = L(h, e) and, when exp is not nil, exp =
// exp(h). Errors are as for ExpChecked.
func ExpFrechetChecked(exp, dst *mat.Dense, h, e mat.Matrix) error {
	n := squareSize("ExpFrechet", "h", h)
	sameSize("ExpFrechet", "h", h, "e", e)
	reuseAs("ExpFrechet", dst, n)
	if exp != nil {
		reuseAs("ExpFrechet", exp, n)
	}
	w := getWorkspace(n)
	defer putWorkspace(w)
	hb, eb := w.scratchIn(0, h), w.scratchIn(1, e)
	out, direct := outBuf(dst, w.scratchOut())
	var ex []float64
	exDirect := true
	if exp != nil {
		ex, exDirect = outBuf(exp, w.scratchOut2())
	}
	err := w.ExpFrechet(ex, out, hb, eb)
	if !direct {
		copyOut(dst, out)
	}
	if !exDirect {
		copyOut(exp, ex)
	}
	return err
}

// ExpFrechetAdjoint sets dst = L(hᵀ, g), the adjoint of the Fréchet
// derivative: the gradient with respect to h of <g, exp(h)> = Σ g_ij exp(h)_ij.
// Back-propagation through exp uses it with g the gradient of the loss with
// respect to exp(h).
func ExpFrechetAdjoint(dst *mat.Dense, h, g mat.Matrix) {
	n := squareSize("ExpFrechetAdjoint", "h", h)
	sameSize("ExpFrechetAdjoint", "h", h, "g", g)
	reuseAs("ExpFrechetAdjoint", dst, n)
	w := getWorkspace(n)
	defer putWorkspace(w)
	hb, gb := w.scratchIn(0, h), w.scratchIn(1, g)
	out, direct := outBuf(dst, w.scratchOut())
	_ = w.ExpAdjoint(nil, out, hb, gb)
	if !direct {
		copyOut(dst, out)
	}
}

// J returns the 2d×2d matrix [[0, I], [-I, 0]]. It panics if d < 1.
func J(d int) *mat.Dense {
	if d < 1 {
		panic(fmt.Sprintf("symplectic: J: d = %d < 1", d))
	}
	j := mat.NewDense(2*d, 2*d, nil)
	for i := 0; i < d; i++ {
		j.Set(i, d+i, 1)
		j.Set(d+i, i, -1)
	}
	return j
}

func squareSize(op, name string, m mat.Matrix) int {
	r, c := m.Dims()
	if r != c {
		panic(fmt.Sprintf("symplectic: %s: %s is %d×%d, not square", op, name, r, c))
	}
	return r
}

func sameSize(op, an string, a mat.Matrix, bn string, b mat.Matrix) {
	ar, ac := a.Dims()
	br, bc := b.Dims()
	if ar != br || ac != bc {
		panic(fmt.Sprintf("symplectic: %s: %s is %d×%d but %s is %d×%d", op, an, ar, ac, bn, br, bc))
	}
}

// reuseAs sizes an empty dst to n×n and panics if a non-empty dst differs.
func reuseAs(op string, dst *mat.Dense, n int) {
	if dst.IsEmpty() {
		dst.ReuseAs(n, n)
		return
	}
	if r, c := dst.Dims(); r != n || c != n {
		panic(fmt.Sprintf("symplectic: %s: dst is %d×%d, want %d×%d", op, r, c, n, n))
	}
}

// Scratch for the gonum-facing functions, on top of a pooled Workspace.
type denseScratch struct {
	in   [2][]float64
	out  []float64
	out2 []float64
}

var (
	poolsMu sync.Mutex
	pools   = map[int]*sync.Pool{}
)

func getWorkspace(n int) *Workspace {
	poolsMu.Lock()
	p := pools[n]
	if p == nil {
		p = &sync.Pool{New: func() any {
			w := NewWorkspace(n)
			w.dense = &denseScratch{}
			return w
		}}
		pools[n] = p
	}
	poolsMu.Unlock()
	return p.Get().(*Workspace)
}

func putWorkspace(w *Workspace) {
	poolsMu.Lock()
	p := pools[w.n]
	poolsMu.Unlock()
	p.Put(w)
}

func grow(s *[]float64, n int) []float64 {
	if cap(*s) < n {
		*s = make([]float64, n)
	}
	*s = (*s)[:n]
	return *s
}

// scratchIn returns m's entries row-major, without copying when m is a
// *mat.Dense with contiguous rows.
func (w *Workspace) scratchIn(i int, m mat.Matrix) []float64 {
	n := w.n
	if d, ok := m.(*mat.Dense); ok {
		raw := d.RawMatrix()
		if raw.Stride == n {
			return raw.Data[:n*n]
		}
	}
	buf := grow(&w.dense.in[i], n*n)
	if d, ok := m.(mat.RawMatrixer); ok {
		raw := d.RawMatrix()
		for r := 0; r < n; r++ {
			copy(buf[r*n:(r+1)*n], raw.Data[r*raw.Stride:r*raw.Stride+n])
		}
		return buf
	}
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			buf[r*n+c] = m.At(r, c)
		}
	}
	return buf
}

func (w *Workspace) scratchOut() []float64  { return grow(&w.dense.out, w.n*w.n) }
func (w *Workspace) scratchOut2() []float64 { return grow(&w.dense.out2, w.n*w.n) }

// outBuf returns dst's storage when its rows are contiguous (direct) and
// scratch otherwise.
func outBuf(dst *mat.Dense, scratch []float64) ([]float64, bool) {
	raw := dst.RawMatrix()
	if raw.Stride == raw.Cols {
		return raw.Data[:raw.Rows*raw.Cols], true
	}
	return scratch, false
}

func copyOut(dst *mat.Dense, src []float64) {
	raw := dst.RawMatrix()
	for r := 0; r < raw.Rows; r++ {
		copy(raw.Data[r*raw.Stride:r*raw.Stride+raw.Cols], src[r*raw.Cols:(r+1)*raw.Cols])
	}
}
