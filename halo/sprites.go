package halo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/halo-ml/halo/tensor"
)

// The real Sprites data (PROTOCOLS.md section 3.1): in a folder, for each
// action a, direction d and split s, the files
//
//	{a}_{d}_frames_{s}.npy      float32 [N, 8, H, W, 3]  (uint8/256 in DSVAE's files)
//	{a}_{d}_attributes_{s}.npy  float32 [N, 8, 4, 6]     one-hot [skin, pants, top, hair]
//
// The frames are stored NTHWC; sequences are transposed (not reshaped, the
// bug of HALO's loader) to [T, C, H, W].

// SpritesFileName returns the name of one file of the layout; kind is
// "frames", "attributes", "directions" or "motion".
func SpritesFileName(action, direction int, kind, split string) string {
	return fmt.Sprintf("%s_%s_%s_%s.npy", SpriteActions[action], SpriteDirections[direction], kind, split)
}

// spritesSplit reads sequences from the nine frame files on demand.
type spritesSplit struct {
	files  [9]*tensor.NPYFile
	n      int
	dims   Dims
	attrs  [][4]int // per character row
	name   string
	scaled bool
}

// LoadSprites opens split ("train" or "test") of the real Sprites files in
// dir. Frames are read from disk when a sequence is read, so the 3.5 GB of
// float32 training frames never sit in memory. Labels: Motion = 3*action +
// direction; Factors = [skin, pants, top, hair, action, direction, character
// code]; the attributes must agree across the nine files.
func LoadSprites(dir, split string) (Split, error) {
	s := &spritesSplit{name: filepath.Join(dir, split)}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	for a := range SpriteActions {
		for d := range SpriteDirections {
			k := 3*a + d
			path := filepath.Join(dir, SpritesFileName(a, d, "frames", split))
			f, err := tensor.OpenNPY(path)
			if err != nil {
				return nil, err
			}
			s.files[k] = f
			sh := f.Header.Shape
			if len(sh) != 5 || sh[1] < 1 || sh[4] != 3 {
				return nil, fmt.Errorf("%s: frames have shape %v, want [N, T, H, W, 3]", path, sh)
			}
			dims := Dims{T: sh[1], C: 3, H: sh[2], W: sh[3]}
			if k == 0 {
				s.n, s.dims = sh[0], dims
			} else if sh[0] != s.n || dims != s.dims {
				return nil, fmt.Errorf("%s: frames have shape %v, the first file %v", path, sh, s.files[0].Header.Shape)
			}
			attrs, err := readSpriteAttributes(filepath.Join(dir, SpritesFileName(a, d, "attributes", split)), s.n)
			if err != nil {
				return nil, err
			}
			if k == 0 {
				s.attrs = attrs
			} else {
				for i := range attrs {
					if attrs[i] != s.attrs[i] {
						return nil, fmt.Errorf("%s: character %d has attributes %v, %v in %s", SpritesFileName(a, d, "attributes", split), i, attrs[i], s.attrs[i], SpritesFileName(0, 0, "attributes", split))
					}
				}
			}
		}
	}
	ok = true
	return s, nil
}

// LoadSpritesDataset opens both splits of the real Sprites files in dir as a
// data set; Close releases the open files.
func LoadSpritesDataset(dir string) (*Dataset, error) {
	train, err := LoadSprites(dir, "train")
	if err != nil {
		return nil, err
	}
	test, err := LoadSprites(dir, "test")
	if err != nil {
		train.(*spritesSplit).Close()
		return nil, err
	}
	return &Dataset{
		Name:    "sprites",
		Scale:   Symmetric,
		Motions: spriteMotionNames(),
		Factors: []string{"skin", "pants", "top", "hair", "action", "direction", "character"},
		Train:   train,
		Test:    test,
		Info:    map[string]any{"protocol": "PROTOCOLS.md section 3.1", "source": dir, "pixel": "as stored (DSVAE: uint8/256)"},
	}, nil
}

// readSpriteAttributes reads a one-hot [N, T, 4, 6] array and returns each
// character's four values from frame 0, checking every frame agrees.
func readSpriteAttributes(path string, n int) ([][4]int, error) {
	a, err := tensor.ReadNPY(path)
	if err != nil {
		return nil, err
	}
	sh := a.Shape
	if len(sh) != 4 || sh[0] != n || sh[2] != 4 || sh[3] != 6 {
		return nil, fmt.Errorf("%s: attributes have shape %v, want [%d, T, 4, 6]", path, sh, n)
	}
	v := a.Float32s()
	out := make([][4]int, n)
	for i := 0; i < n; i++ {
		for t := 0; t < sh[1]; t++ {
			for k := 0; k < 4; k++ {
				row := v[((i*sh[1]+t)*4+k)*6:][:6]
				hot := -1
				for j, x := range row {
					switch {
					case x == 1 && hot < 0:
						hot = j
					case x != 0:
						return nil, fmt.Errorf("%s: sequence %d frame %d attribute %d is not one-hot: %v", path, i, t, k, row)
					}
				}
				if hot < 0 {
					return nil, fmt.Errorf("%s: sequence %d frame %d attribute %d is all zero", path, i, t, k)
				}
				if t == 0 {
					out[i][k] = hot
				} else if out[i][k] != hot {
					return nil, fmt.Errorf("%s: sequence %d changes attribute %d at frame %d", path, i, k, t)
				}
			}
		}
	}
	return out, nil
}

func (s *spritesSplit) Len() int   { return 9 * s.n }
func (s *spritesSplit) Dims() Dims { return s.dims }

func (s *spritesSplit) Label(i int) Label {
	m, r := i/s.n, i%s.n
	a := s.attrs[r]
	code := Character{a[0], a[1], a[2], a[3]}.Code()
	return Label{Motion: m, Factors: []int{a[0], a[1], a[2], a[3], m / 3, m % 3, code}}
}

func (s *spritesSplit) Read(i int, dst []float32) error {
	d := s.dims
	checkDst("Read", dst, d.Len())
	if i < 0 || i >= s.Len() {
		panic(fmt.Sprintf("halo: Sprites Read: index %d out of range [0, %d)", i, s.Len()))
	}
	f := s.files[i/s.n]
	buf := make([]float32, d.Len())
	if err := f.ReadRowsFloat32(i%s.n, 1, buf); err != nil {
		return err
	}
	// NTHWC -> TCHW, checking the values are real pixels.
	hw := d.H * d.W
	for t := 0; t < d.T; t++ {
		for p := 0; p < hw; p++ {
			for c := 0; c < 3; c++ {
				v := buf[(t*hw+p)*3+c]
				if !(v >= 0 && v <= 1) {
					return fmt.Errorf("%s: sequence %d frame %d holds %v, outside [0, 1]", SpritesFileName((i/s.n)/3, (i/s.n)%3, "frames", filepath.Base(s.name)), i%s.n, t, v)
				}
				dst[(t*3+c)*hw+p] = v
			}
		}
	}
	return nil
}

// Close closes the frame files.
func (s *spritesSplit) Close() error {
	var errs []error
	for _, f := range s.files {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}

// WritePSpritesNPY writes the characters chars in the real data's layout
// into dir as split: per action and direction the frames (float32 [N, 8,
// 64, 64, 3], value/255), the one-hot attributes [N, 8, 4, 6], the one-hot
// directions [N, 8, 3] and our addition, the 9-way motion label (int64
// [N]). Frames are streamed, one sequence at a time.
func WritePSpritesNPY(dir, split string, chars []int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	n := len(chars)
	src := NewPSpritesSplit(chars).(*pspritesSplit)
	raw := make([]uint8, spriteFrames*spriteSize*spriteSize*3)
	vals := make([]float32, len(raw))
	for a := range SpriteActions {
		for d := range SpriteDirections {
			m := 3*a + d
			w, err := tensor.CreateNPY(filepath.Join(dir, SpritesFileName(a, d, "frames", split)), tensor.Float32, n, spriteFrames, spriteSize, spriteSize, 3)
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				src.renderSequence(m*n+i, raw)
				for k, b := range raw {
					vals[k] = float32(b) / 255
				}
				if err := w.Write(vals); err != nil {
					w.Abort()
					return err
				}
			}
			if err := w.Close(); err != nil {
				return err
			}
			attrs := make([]float32, n*spriteFrames*4*6)
			dirs := make([]float32, n*spriteFrames*3)
			motion := make([]int64, n)
			for i, code := range chars {
				ch := CharacterFromCode(code)
				for t := 0; t < spriteFrames; t++ {
					for k, v := range []int{ch.Skin, ch.Pants, ch.Top, ch.Hair} {
						attrs[((i*spriteFrames+t)*4+k)*6+v] = 1
					}
					dirs[(i*spriteFrames+t)*3+d] = 1
				}
				motion[i] = int64(m)
			}
			for _, f := range []struct {
				kind string
				a    *tensor.Array
			}{
				{"attributes", tensor.NewArray(attrs, n, spriteFrames, 4, 6)},
				{"directions", tensor.NewArray(dirs, n, spriteFrames, 3)},
				{"motion", tensor.NewArray(motion, n)},
			} {
				if err := tensor.WriteNPY(filepath.Join(dir, SpritesFileName(a, d, f.kind, split)), f.a); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
