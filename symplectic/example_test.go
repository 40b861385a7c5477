package symplectic_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/halo-ml/halo/symplectic"
	"gonum.org/v1/gonum/mat"
)

// A property test of one's own operator: draw random parameters, build the
// Hamiltonian with Sp (or SpO), and check that its exponential is
// symplectic, that a long trajectory keeps its energy, and that running it
// backwards returns to the start. The bounds are multiples of the unit
// roundoff u scaled by the sizes involved; in a real test, loop over many
// seeds, sizes and norms and call t.Errorf instead of printing.
func Example_propertyTest() {
	const u = 0x1p-53
	rng := rand.New(rand.NewPCG(1, 2))
	d := 3
	a := mat.NewDense(2*d, 2*d, nil)
	for i := 0; i < 2*d; i++ {
		for j := 0; j < 2*d; j++ {
			a.Set(i, j, rng.NormFloat64()/4)
		}
	}
	var h, e mat.Dense
	symplectic.Sp(&h, a) // H = J (A + Aᵀ)/2
	if err := symplectic.ExpChecked(&e, &h); err != nil {
		fmt.Println(err)
		return
	}

	// Symplecticity: Eᵀ J E = J up to rounding.
	fe := mat.Norm(&e, 2)
	fmt.Println("symplectic:", symplectic.Defect(&e) <= 50*u*fe*fe)

	// Energy sᵀ M s / 2 along 1000 steps forwards and backwards from s0,
	// for an M that is positive definite (a bounded orbit): M = BᵀB + I/4.
	b := mat.NewDense(2*d, 2*d, nil)
	for i := 0; i < 2*d; i++ {
		for j := 0; j < 2*d; j++ {
			b.Set(i, j, rng.NormFloat64())
		}
	}
	m := mat.NewSymDense(2*d, nil)
	m.SymOuterK(1, b.T())
	for i := 0; i < 2*d; i++ {
		m.SetSym(i, i, m.At(i, i)+0.25)
	}
	var hm mat.Dense
	symplectic.Hamiltonian(&hm, m)
	s0 := []float64{1, 0, 0, 0, 0.5, 0}
	states := symplectic.Trajectory(&hm, s0, 1000, 2001) // t = -1000 .. 1000
	fmt.Println("energy kept:", symplectic.EnergyDrift(m, states, 1000) < 1e-12)

	// Reversibility: 500 steps forwards, 500 backwards.
	fmt.Println("reversible:", symplectic.Reversibility(&hm, s0, 500) < 1e-10)

	// The checks do detect a broken operator: perturb E by 1e-9.
	e.Set(0, 1, e.At(0, 1)+1e-9)
	fmt.Println("perturbed still symplectic:", symplectic.Defect(&e) <= 50*u*fe*fe, math.Abs(e.At(0, 1)) > 0)
	// Output:
	// symplectic: true
	// energy kept: true
	// reversible: true
	// perturbed still symplectic: false true
}

// The exponential and its gradient: the gradient of a loss ℓ(exp(H)) with
// respect to the free parameter A of H = Sp(A) is SpGrad(L(Hᵀ, ∂ℓ/∂exp(H))).
func ExampleExpFrechetAdjoint() {
	a := mat.NewDense(2, 2, []float64{0.1, 0.7, -0.3, 0.2})
	var h, e mat.Dense
	symplectic.Sp(&h, a)
	symplectic.Exp(&e, &h)
	// ℓ = sum of the entries of exp(H): ∂ℓ/∂exp(H) is all ones.
	g := mat.NewDense(2, 2, []float64{1, 1, 1, 1})
	var gh, ga mat.Dense
	symplectic.ExpFrechetAdjoint(&gh, &h, g)
	symplectic.SpGrad(&ga, &gh)
	// The values agree with scipy.linalg.expm and with central differences.
	fmt.Printf("exp(H) = %.6f\n", mat.Formatted(&e, mat.Prefix("         ")))
	fmt.Printf("∂ℓ/∂A  = %.6f\n", mat.Formatted(&ga, mat.Prefix("         ")))
	// Output:
	// exp(H) = ⎡ 1.210684   0.200667⎤
	//          ⎣-0.100334   0.809349⎦
	// ∂ℓ/∂A  = ⎡-1.207344   0.204007⎤
	//          ⎣ 0.204007   0.901333⎦
}
