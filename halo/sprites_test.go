package halo

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halo-ml/halo/tensor"
)

const spritesFixture = "../testdata/data/sprites"

// TestLoadSpritesNumPyFixture reads a miniature of the real layout written
// by NumPy and compares every sequence with NumPy's NTHWC -> NTCHW transpose.
func TestLoadSpritesNumPyFixture(t *testing.T) {
	s, err := LoadSprites(spritesFixture, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer s.(*spritesSplit).Close()
	// The fixture has no test split: the data set loader names the file.
	if _, err := LoadSpritesDataset(spritesFixture); err == nil || !strings.Contains(err.Error(), "walk_front_frames_test.npy") {
		t.Errorf("missing test split: %v", err)
	}
	want, shape := readNPY32(t, filepath.Join(spritesFixture, "expected_ntchw_train.npy"))
	if s.Len() != shape[0] || s.Len() != 18 {
		t.Fatalf("%d sequences, NumPy has %d", s.Len(), shape[0])
	}
	d := s.Dims()
	if d != (Dims{T: 8, C: 3, H: 4, W: 4}) {
		t.Fatalf("dims %v", d)
	}
	x := make([]float32, d.Len())
	for i := 0; i < s.Len(); i++ {
		if err := s.Read(i, x); err != nil {
			t.Fatal(err)
		}
		for k, v := range x {
			if v != want[i*d.Len()+k] {
				t.Fatalf("sequence %d element %d = %v, NumPy %v", i, k, v, want[i*d.Len()+k])
			}
		}
		lab := s.Label(i)
		attrs := [2][4]int{{1, 4, 0, 5}, {3, 2, 5, 0}}[i%2]
		if lab.Motion != i/2 || lab.Factors[4] != i/2/3 || lab.Factors[5] != i/2%3 {
			t.Fatalf("sequence %d: label %+v", i, lab)
		}
		for k := 0; k < 4; k++ {
			if lab.Factors[k] != attrs[k] {
				t.Fatalf("sequence %d: attributes %v, want %v", i, lab.Factors[:4], attrs)
			}
		}
		if lab.Factors[6] != (Character{attrs[0], attrs[1], attrs[2], attrs[3]}).Code() {
			t.Fatalf("character code %d", lab.Factors[6])
		}
	}
}

func copyDir(t *testing.T, from string) string {
	dir := t.TempDir()
	ents, _ := os.ReadDir(from)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	return dir
}

func TestLoadSpritesBadFiles(t *testing.T) {
	// Attributes that are not one-hot.
	dir := copyDir(t, spritesFixture)
	p := filepath.Join(dir, "slash_left_attributes_train.npy")
	a, _ := tensor.ReadNPY(p)
	a.Data.([]float32)[3] = 1
	tensor.WriteNPY(p, a)
	if _, err := LoadSprites(dir, "train"); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "one-hot") {
		t.Errorf("bad attributes: %v", err)
	}
	// NaN in the frames is caught when the sequence is read.
	dir = copyDir(t, spritesFixture)
	p = filepath.Join(dir, "walk_right_frames_train.npy")
	f, _ := tensor.ReadNPY(p)
	f.Data.([]float32)[100] = float32(math.NaN())
	tensor.WriteNPY(p, f)
	s, err := LoadSprites(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, s.Dims().Len())
	if err := s.Read(2*2, x); err == nil || !strings.Contains(err.Error(), "walk_right_frames_train.npy") || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN frame: %v", err)
	}
	if err := s.Read(2*2+1, x); err != nil {
		t.Errorf("clean sequence: %v", err)
	}
	// Truncated frames file.
	dir = copyDir(t, spritesFixture)
	p = filepath.Join(dir, "spellcard_front_frames_train.npy")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-10], 0o644)
	if _, err := LoadSprites(dir, "train"); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated frames: %v", err)
	}
}
