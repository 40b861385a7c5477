package symplectic

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// splitMix64 is the generator of scripts/symplectic_refs.py, so that the
// random families are rebuilt here bit for bit.
type splitMix64 struct{ state uint64 }

func (g *splitMix64) next() uint64 {
	g.state += 0x9E3779B97F4A7C15
	z := g.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// dyadic returns k/1024 with k uniform in -1024..1023.
func (g *splitMix64) dyadic() float64 { return float64(int64(g.next()>>53)-1024) / 1024 }

func (g *splitMix64) matrix(r, c int) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m.Set(i, j, g.dyadic())
		}
	}
	return m
}

// jmul returns J·m (exact: a signed permutation of rows).
func jmul(m mat.Matrix) *mat.Dense {
	n, c := m.Dims()
	d := n / 2
	out := mat.NewDense(n, c, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < c; j++ {
			out.Set(i, j, m.At(d+i, j))
			out.Set(d+i, j, -m.At(i, j))
		}
	}
	return out
}

// family builds the unscaled matrix of a random family exactly as the script
// does (all operations are exact in float64).
func family(name string, n int, seed uint64) *mat.Dense {
	g := &splitMix64{state: seed}
	d := n / 2
	switch name {
	case "sp":
		a := g.matrix(n, n)
		m := mat.NewDense(n, n, nil)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				m.Set(i, j, (a.At(i, j)+a.At(j, i))/2)
			}
		}
		return jmul(m)
	case "pd":
		b := g.matrix(n, n)
		m := mat.NewDense(n, n, nil)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for k := 0; k < n; k++ {
					s += b.At(i, k) * b.At(j, k)
				}
				if i == j {
					s += 0.25
				}
				m.Set(i, j, s)
			}
		}
		return jmul(m)
	case "spo", "spo_narrow":
		a := g.matrix(d, d)
		c := g.matrix(d, d)
		m := mat.NewDense(n, n, nil)
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				s := (a.At(i, j) + a.At(j, i)) / 2
				w := (c.At(i, j) - c.At(j, i)) / 2
				if name == "spo_narrow" {
					w = 0
				}
				m.Set(i, j, s)
				m.Set(i, d+j, w)
				m.Set(d+i, j, -w)
				m.Set(d+i, d+j, s)
			}
		}
		return jmul(m)
	case "embed":
		a := g.matrix(d, d)
		m := mat.NewDense(n, n, nil)
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				m.Set(i, j, a.At(i, j))
				m.Set(d+i, d+j, -a.At(j, i))
			}
		}
		return m
	case "dir":
		return g.matrix(n, n)
	}
	panic("unknown family " + name)
}

type refCase struct {
	Name       string   `json:"name"`
	Family     string   `json:"family"`
	N          int      `json:"n"`
	Seed       uint64   `json:"seed"`
	ESeed      uint64   `json:"e_seed"`
	Scale      float64  `json:"scale"`
	HSum       float64  `json:"h_sum"`
	Norm2      float64  `json:"norm2"`
	H          *int     `json:"h"`
	Hi         int      `json:"hi"`
	Lo         int      `json:"lo"`
	ScipyErr   *float64 `json:"scipy_err"`
	Hamiltonan bool     `json:"hamiltonian"`
}

type refIndex struct {
	Thetas  []float64 `json:"thetas"`
	Expm    []refCase `json:"expm"`
	Frechet []refCase `json:"frechet"`

	data []float64
}

var refsDir = filepath.Join("..", "testdata", "symplectic")

func loadRefs(t *testing.T) *refIndex {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(refsDir, "refs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx refIndex
	if err := json.Unmarshal(js, &idx); err != nil {
		t.Fatalf("refs.json: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(refsDir, "refs.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw)%8 != 0 {
		t.Fatalf("refs.bin: length %d is not a multiple of 8", len(raw))
	}
	idx.data = make([]float64, len(raw)/8)
	for i := range idx.data {
		idx.data[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return &idx
}

func (r *refIndex) matrix(t *testing.T, off, n int) *mat.Dense {
	t.Helper()
	if off < 0 || off+n*n > len(r.data) {
		t.Fatalf("refs.bin: matrix at %d of %d×%d outside the file", off, n, n)
	}
	return mat.NewDense(n, n, append([]float64(nil), r.data[off:off+n*n]...))
}

// input rebuilds the case's H (and, for derivative cases, E).
func (r *refIndex) input(t *testing.T, c refCase) (h, e *mat.Dense) {
	t.Helper()
	if c.H != nil {
		return r.matrix(t, *c.H, c.N), nil
	}
	h = family(c.Family, c.N, c.Seed)
	h.Scale(c.Scale, h)
	var sum float64
	for _, v := range h.RawMatrix().Data {
		sum += v
	}
	if sum != c.HSum {
		t.Fatalf("%s: rebuilt H has entry sum %v, the script's has %v", c.Name, sum, c.HSum)
	}
	if c.ESeed != 0 {
		e = family("dir", c.N, c.ESeed)
	}
	return h, e
}

// relErrDD returns ||x - (hi + lo)||_F / ||hi + lo||_F with the reference a
// double-double pair, so the result resolves errors far below u.
func relErrDD(x, hi, lo mat.Matrix) float64 {
	r, c := hi.Dims()
	// Scale by the largest entry so that squares cannot overflow.
	var big float64
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			big = max(big, math.Abs(hi.At(i, j)))
		}
	}
	if big == 0 {
		big = 1
	}
	var num, den float64
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			d := ((x.At(i, j) - hi.At(i, j)) - lo.At(i, j)) / big
			v := hi.At(i, j) / big
			num += d * d
			den += v * v
		}
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func name(c refCase) string { return fmt.Sprintf("%s/n=%d", c.Name, c.N) }
