package halo

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeMUGFrame writes a 6x4 PNG whose pixel (x, y) encodes the frame
// number n: R = 10n+x, G = 10y, B = subject.
func writeMUGFrame(t *testing.T, path string, n, subject int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 6, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 6; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(10*n + x), uint8(10 * y), uint8(subject), 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMUG(t *testing.T) {
	root := t.TempDir()
	// Subject 001: anger in a take folder with 10 frames (names sort
	// numerically, not as text); happiness with 6 frames directly inside.
	for n := 1; n <= 10; n++ {
		writeMUGFrame(t, filepath.Join(root, "001", "anger", "take000", fmt.Sprintf("img_%d.png", n)), n, 1)
	}
	for n := 1; n <= 6; n++ {
		writeMUGFrame(t, filepath.Join(root, "001", "happiness", fmt.Sprintf("%03d.png", n)), n, 1)
	}
	// Subject 002: a session folder; subject 010 is the test subject.
	for n := 0; n < 5; n++ {
		writeMUGFrame(t, filepath.Join(root, "002", "session1", "surprise", "t", fmt.Sprintf("f%d.png", n)), n, 2)
		writeMUGFrame(t, filepath.Join(root, "010", "fear", fmt.Sprintf("f%d.png", n)), n, 10)
	}
	os.MkdirAll(filepath.Join(root, "002", "neutral"), 0o755)
	ds, err := LoadMUG(root, MUGConfig{Frames: 3, Every: 2, Size: 4, TestSubjects: 1})
	if err != nil {
		t.Fatal(err)
	}
	// anger: 10 frames, span 5, stride 6 -> starts 0 (and 6? 6+5=11 > 10: no) = 1 clip;
	// happiness: 6 frames -> 1 clip; surprise: 5 frames -> 1 clip.
	if ds.Train.Len() != 3 || ds.Test.Len() != 1 {
		t.Fatalf("train %d clips, test %d", ds.Train.Len(), ds.Test.Len())
	}
	d := ds.Train.Dims()
	if d != (Dims{T: 3, C: 3, H: 4, W: 4}) {
		t.Fatalf("dims %v", d)
	}
	x := make([]float32, d.Len())
	wantMotion := []int{0, 3, 5}
	wantFirst := []int{1, 1, 0}
	for i := 0; i < 3; i++ {
		lab := ds.Train.Label(i)
		if lab.Motion != wantMotion[i] {
			t.Fatalf("clip %d: motion %d, want %d", i, lab.Motion, wantMotion[i])
		}
		if err := ds.Train.Read(i, x); err != nil {
			t.Fatal(err)
		}
		for tt := 0; tt < 3; tt++ {
			n := wantFirst[i] + 2*tt
			for y := 0; y < 4; y++ {
				for xx := 0; xx < 4; xx++ {
					// The 6x4 frame is centre-cropped to columns 1..4.
					r := x[tt*48+y*4+xx]
					if want := float32(10*n+xx+1) / 255; math.Abs(float64(r-want)) > 1e-6 {
						t.Fatalf("clip %d frame %d (%d,%d): R %v, want %v", i, tt, xx, y, r, want)
					}
					if g := x[tt*48+16+y*4+xx]; math.Abs(float64(g-float32(10*y)/255)) > 1e-6 {
						t.Fatalf("G %v", g)
					}
				}
			}
		}
	}
	if lab := ds.Test.Label(0); lab.Motion != 2 || lab.Factors[0] != 2 {
		t.Errorf("test label %+v", lab)
	}
	// A broken frame is reported with its file name.
	bad := filepath.Join(root, "010", "fear", "f2.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	if err := ds.Test.Read(0, x); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("broken frame: %v", err)
	}
	if _, err := LoadMUG(filepath.Join(root, "001"), MUGConfig{}); err == nil {
		t.Error("a folder with too few subjects was accepted")
	}
}

func TestResizeSquareAreaAverage(t *testing.T) {
	// 6x6 grey ramp down to 4x4: each output covers 1.5 source pixels a side.
	img := image.NewGray(image.Rect(0, 0, 6, 6))
	for y := 0; y < 6; y++ {
		for x := 0; x < 6; x++ {
			img.SetGray(x, y, color.Gray{uint8(40*x + 3*y)})
		}
	}
	dst := make([]float32, 3*16)
	ResizeSquare(dst, img, 4)
	// Output o covers source [1.5o, 1.5o+1.5); pixel i covers [i, i+1), so
	// the mean index is the overlap-weighted mean of i.
	meanIndex := func(o int) float64 {
		lo, hi := 1.5*float64(o), 1.5*float64(o)+1.5
		var s float64
		for i := 0; i < 6; i++ {
			ov := math.Min(hi, float64(i+1)) - math.Max(lo, float64(i))
			if ov > 0 {
				s += ov * float64(i)
			}
		}
		return s / 1.5
	}
	for oy := 0; oy < 4; oy++ {
		for ox := 0; ox < 4; ox++ {
			want := (40*meanIndex(ox) + 3*meanIndex(oy)) / 255
			if got := float64(dst[oy*4+ox]); math.Abs(got-want) > 1e-6 {
				t.Fatalf("(%d,%d): %v, want %v", ox, oy, got, want)
			}
		}
	}
}
