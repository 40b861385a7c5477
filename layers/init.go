package layers

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/halo-ml/halo/tensor"
)

// FanIn returns PyTorch's fan-in of a weight of the given shape: dimension 1
// times the product of the dimensions after it (the receptive field).
func FanIn(shape []int) int {
	if len(shape) < 2 {
		panic(fmt.Sprintf("layers: FanIn: shape %s has fewer than 2 dimensions", tensor.ShapeString(shape)))
	}
	n := shape[1]
	for _, d := range shape[2:] {
		n *= d
	}
	return n
}

// Uniform fills t with values drawn uniformly from [-bound, bound).
func Uniform(t *tensor.Tensor, bound float64, rng *rand.Rand) {
	for i := range t.Data() {
		t.Data()[i] = float32((2*rng.Float64() - 1) * bound)
	}
}

// DefaultInit gives a weight and its bias (nil for none) PyTorch's default
// initialisation of Linear and convolution layers: kaiming_uniform with
// a = sqrt(5), that is uniform in ±1/sqrt(fan_in) for both.
func DefaultInit(w, bias *tensor.Tensor, rng *rand.Rand) {
	bound := 1 / math.Sqrt(float64(FanIn(w.Shape())))
	Uniform(w, bound, rng)
	if bias != nil {
		Uniform(bias, bound, rng)
	}
}

// KaimingNormal fills t with N(0, (gain)^2/fan_in), as
// torch.nn.init.kaiming_normal_ in fan-in mode; gain is sqrt(2) for ReLU
// (sqrt(2/(1+a^2)) for a leaky ReLU of slope a).
func KaimingNormal(t *tensor.Tensor, gain float64, rng *rand.Rand) {
	std := gain / math.Sqrt(float64(FanIn(t.Shape())))
	for i := range t.Data() {
		t.Data()[i] = float32(rng.NormFloat64() * std)
	}
}

// Orthogonal fills t, seen as a matrix [dim 0, rest], with a random
// (semi-)orthogonal matrix times gain, as torch.nn.init.orthogonal_: the Q
// of the QR decomposition of a Gaussian matrix, with the signs fixed so that
// R has a positive diagonal.
func Orthogonal(t *tensor.Tensor, gain float64, rng *rand.Rand) {
	if t.Rank() < 2 {
		panic(fmt.Sprintf("layers: Orthogonal: shape %s has fewer than 2 dimensions", tensor.ShapeString(t.Shape())))
	}
	rows := t.Dim(0)
	cols := t.Len() / max(rows, 1)
	// Orthonormalise the columns of a tall m x n Gaussian matrix by modified
	// Gram-Schmidt (which leaves R with a positive diagonal); transpose for
	// a wide t.
	m, n := rows, cols
	if rows < cols {
		m, n = cols, rows
	}
	a := make([]float64, m*n) // column-major: column j at a[j*m:]
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for j := range n {
		cj := a[j*m : (j+1)*m]
		for k := range j {
			ck := a[k*m : (k+1)*m]
			var d float64
			for i := range cj {
				d += ck[i] * cj[i]
			}
			for i := range cj {
				cj[i] -= d * ck[i]
			}
		}
		var s float64
		for _, v := range cj {
			s += v * v
		}
		s = math.Sqrt(s)
		for i := range cj {
			cj[i] /= s
		}
	}
	d := t.Data()
	for j := range n {
		for i := range m {
			v := float32(gain * a[j*m+i])
			if rows < cols {
				d[j*cols+i] = v // t[j][i] = Q[i][j]
			} else {
				d[i*cols+j] = v
			}
		}
	}
}
