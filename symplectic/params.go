package symplectic

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// The parameterisations map free parameters to Hamiltonian matrices H = J M
// (M symmetric), so that exp(H) is symplectic for every parameter value, and
// their Grad functions map a gradient with respect to H back to the
// parameters (the vector-Jacobian product of the linear map).
//
//	Sp(2d):        A (2d×2d, free)  ->  M = (A + Aᵀ)/2,                 H = J M
//	SpO(2d):       B (d×d, free)    ->  S = (B + Bᵀ)/2, W = (B - Bᵀ)/2,
//	                                    M = [[S, W], [-W, S]],           H = [[-W, S], [-S, -W]]
//	SpO narrow:    B (d×d, free)    ->  S = (B + Bᵀ)/2, W = 0,           H = [[0, S], [-S, 0]]
//
// SpO's H is skew-symmetric as well as Hamiltonian, so exp(H) is a rotation
// that is also symplectic; its d² degrees of freedom are those of the
// symmetric S and the skew W packed into one d×d matrix B = S + W.

// Sp sets dst = J (A + Aᵀ)/2 for a free 2d×2d parameter A. dst is sized as
// in Exp; dst may be a.
func Sp(dst *mat.Dense, a mat.Matrix) {
	n := squareSize("Sp", "a", a)
	if n%2 != 0 {
		panic(fmt.Sprintf("symplectic: Sp: a is %d×%d, want even order 2d", n, n))
	}
	reuseAs("Sp", dst, n)
	d := n / 2
	m := symmetricPart(a)
	for i := 0; i < d; i++ {
		for j := 0; j < n; j++ {
			dst.Set(i, j, m.At(d+i, j))
			dst.Set(d+i, j, -m.At(i, j))
		}
	}
}

// SpGrad sets dst = ∂ℓ/∂A from g = ∂ℓ/∂H for the map of Sp: since
// <G, J sym(dA)> = <sym(Jᵀ G), dA>, dst = sym(Jᵀ G).
func SpGrad(dst *mat.Dense, g mat.Matrix) {
	n := squareSize("SpGrad", "g", g)
	if n%2 != 0 {
		panic(fmt.Sprintf("symplectic: SpGrad: g is %d×%d, want even order 2d", n, n))
	}
	reuseAs("SpGrad", dst, n)
	d := n / 2
	// Jᵀ G = [[-G21, -G22], [G11, G12]]: row i of the top is -row d+i of G.
	jg := mat.NewDense(n, n, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < n; j++ {
			jg.Set(i, j, -g.At(d+i, j))
			jg.Set(d+i, j, g.At(i, j))
		}
	}
	dst.Copy(symmetricPart(jg))
}

// SpO sets dst to the 2d×2d Hamiltonian [[-W, S], [-S, -W]] of SpO(2d) with
// S = (B + Bᵀ)/2 and W = (B - Bᵀ)/2 from the free d×d parameter B. dst is
// sized as in Exp.
func SpO(dst *mat.Dense, b mat.Matrix) {
	spo("SpO", dst, b, false)
}

// SpONarrow sets dst to [[0, S], [-S, 0]] with S = (B + Bᵀ)/2: the narrower
// SpO form (W = 0) of the official HALO code, for fidelity.
func SpONarrow(dst *mat.Dense, b mat.Matrix) {
	spo("SpONarrow", dst, b, true)
}

func spo(op string, dst *mat.Dense, b mat.Matrix, narrow bool) {
	d := squareSize(op, "b", b)
	n := 2 * d
	reuseAs(op, dst, n)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			bij, bji := b.At(i, j), b.At(j, i)
			s := (bij + bji) / 2
			w := (bij - bji) / 2
			if narrow {
				w = 0
			}
			dst.Set(i, j, -w)
			dst.Set(i, d+j, s)
			dst.Set(d+i, j, -s)
			dst.Set(d+i, d+j, -w)
		}
	}
}

// SpOGrad sets dst (d×d) = ∂ℓ/∂B from g = ∂ℓ/∂H (2d×2d) for the map of SpO:
// dst = sym(G12 - G21) - skew(G11 + G22).
func SpOGrad(dst *mat.Dense, g mat.Matrix) {
	spoGrad("SpOGrad", dst, g, false)
}

// SpONarrowGrad sets dst = sym(G12 - G21), the gradient for SpONarrow.
func SpONarrowGrad(dst *mat.Dense, g mat.Matrix) {
	spoGrad("SpONarrowGrad", dst, g, true)
}

func spoGrad(op string, dst *mat.Dense, g mat.Matrix, narrow bool) {
	n := squareSize(op, "g", g)
	if n%2 != 0 {
		panic(fmt.Sprintf("symplectic: %s: g is %d×%d, want even order 2d", op, n, n))
	}
	d := n / 2
	if dst.IsEmpty() {
		dst.ReuseAs(d, d)
	} else if r, c := dst.Dims(); r != d || c != d {
		panic(fmt.Sprintf("symplectic: %s: dst is %d×%d, want %d×%d for g %d×%d", op, r, c, d, d, n, n))
	}
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			x := (g.At(i, d+j) - g.At(d+i, j) + g.At(j, d+i) - g.At(d+j, i)) / 2
			if !narrow {
				x -= (g.At(i, j) + g.At(d+i, d+j) - g.At(j, i) - g.At(d+j, d+i)) / 2
			}
			dst.Set(i, j, x)
		}
	}
}

// Hamiltonian sets dst = J M for a symmetric 2d×2d M (the generator whose
// flow conserves the energy sᵀ M s / 2). dst is sized as in Exp.
func Hamiltonian(dst *mat.Dense, m mat.Symmetric) {
	n := m.SymmetricDim()
	if n%2 != 0 {
		panic(fmt.Sprintf("symplectic: Hamiltonian: m is %d×%d, want even order 2d", n, n))
	}
	reuseAs("Hamiltonian", dst, n)
	d := n / 2
	for i := 0; i < d; i++ {
		for j := 0; j < n; j++ {
			dst.Set(i, j, m.At(d+i, j))
			dst.Set(d+i, j, -m.At(i, j))
		}
	}
}

// EnergyMatrix returns the symmetric part of M = -J H = Jᵀ H, the matrix of
// the energy conserved by exp(tH) when H is Hamiltonian.
func EnergyMatrix(h mat.Matrix) *mat.SymDense {
	n := squareSize("EnergyMatrix", "h", h)
	if n%2 != 0 {
		panic(fmt.Sprintf("symplectic: EnergyMatrix: h is %d×%d, want even order 2d", n, n))
	}
	d := n / 2
	m := mat.NewDense(n, n, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < n; j++ {
			m.Set(i, j, -h.At(d+i, j))
			m.Set(d+i, j, h.At(i, j))
		}
	}
	return symmetricPart(m)
}

// symmetricPart returns (A + Aᵀ)/2.
func symmetricPart(a mat.Matrix) *mat.SymDense {
	n, _ := a.Dims()
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, (a.At(i, j)+a.At(j, i))/2)
		}
	}
	return s
}
