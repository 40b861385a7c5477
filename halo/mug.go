package halo

import (
	"fmt"
	"image"
	_ "image/jpeg" // MUG frames are JPEG files
	_ "image/png"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// MUG facial expressions (PROTOCOLS.md section 4), for users who hold the
// licensed data. Layout read: root/<subject>/[session*/]<expression>/
// [<take>/]<frames>.jpg|png, frames ordered by the last number in their
// names. Frames should already be face crops: each is centre-cropped to a
// square and area-averaged to Size x Size (no face detection is done here).

// MUGExpressions are the six expressions used, in motion-label order.
var MUGExpressions = []string{"anger", "disgust", "fear", "happiness", "sadness", "surprise"}

// MUGConfig sets how clips are cut from the takes.
type MUGConfig struct {
	Frames       int // frames per clip; 0 = 8 (16 for the Table 1 evaluation)
	Every        int // take every n-th frame; 0 = 2
	Stride       int // frames between clip starts; 0 = Frames*Every
	Size         int // output side; 0 = 64
	TestSubjects int // the last n subjects in sorted order are the test split; 0 = 10
}

func (c *MUGConfig) defaults() {
	if c.Frames <= 0 {
		c.Frames = 8
	}
	if c.Every <= 0 {
		c.Every = 2
	}
	if c.Stride <= 0 {
		c.Stride = c.Frames * c.Every
	}
	if c.Size <= 0 {
		c.Size = 64
	}
	if c.TestSubjects <= 0 {
		c.TestSubjects = 10
	}
}

type mugClip struct {
	frames  []string // the clip's frame files
	subject int
	expr    int
	take    int
}

type mugSplit struct {
	cfg   MUGConfig
	clips []mugClip
}

var lastNumber = regexp.MustCompile(`(\d+)\D*$`)

// LoadMUG indexes the MUG folder root and returns its clips split by
// subject (sorted subject names; the last TestSubjects are the test split).
// Frames are decoded when a sequence is read. Labels: Motion = expression
// index; Factors = [subject index in sorted order, take index].
func LoadMUG(root string, cfg MUGConfig) (*Dataset, error) {
	cfg.defaults()
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var subjects []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			subjects = append(subjects, e.Name())
		}
	}
	sort.Strings(subjects)
	if len(subjects) <= cfg.TestSubjects {
		return nil, fmt.Errorf("%s: %d subject folders, need more than the %d test subjects", root, len(subjects), cfg.TestSubjects)
	}
	var train, test []mugClip
	for si, subj := range subjects {
		clips, err := mugSubjectClips(filepath.Join(root, subj), si, cfg)
		if err != nil {
			return nil, err
		}
		if si < len(subjects)-cfg.TestSubjects {
			train = append(train, clips...)
		} else {
			test = append(test, clips...)
		}
	}
	if len(train) == 0 || len(test) == 0 {
		return nil, fmt.Errorf("%s: no clips of %d frames (every %d) in the train or test subjects", root, cfg.Frames, cfg.Every)
	}
	return &Dataset{
		Name:    "mug",
		Scale:   Symmetric,
		Motions: MUGExpressions,
		Factors: []string{"subject", "take"},
		Train:   &mugSplit{cfg, train},
		Test:    &mugSplit{cfg, test},
		Info: map[string]any{
			"protocol": "PROTOCOLS.md section 4", "subjects": subjects, "test_subjects": subjects[len(subjects)-cfg.TestSubjects:],
			"frames": cfg.Frames, "every": cfg.Every, "stride": cfg.Stride, "size": cfg.Size,
		},
	}, nil
}

func mugSubjectClips(dir string, subject int, cfg MUGConfig) ([]mugClip, error) {
	// Expression folders directly below the subject or below session* folders.
	exprDirs := map[int][]string{}
	var walk func(d string, depth int) error
	walk = func(d string, depth int) error {
		ents, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			name := strings.ToLower(e.Name())
			if k := indexOf(MUGExpressions, name); k >= 0 {
				exprDirs[k] = append(exprDirs[k], filepath.Join(d, e.Name()))
			} else if depth == 0 && strings.HasPrefix(name, "session") {
				if err := walk(filepath.Join(d, e.Name()), 1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(dir, 0); err != nil {
		return nil, err
	}
	var clips []mugClip
	for expr := range MUGExpressions {
		take := 0
		for _, ed := range exprDirs[expr] {
			takes, err := mugTakes(ed)
			if err != nil {
				return nil, err
			}
			for _, frames := range takes {
				span := (cfg.Frames-1)*cfg.Every + 1
				for start := 0; start+span <= len(frames); start += cfg.Stride {
					c := mugClip{subject: subject, expr: expr, take: take}
					for f := 0; f < cfg.Frames; f++ {
						c.frames = append(c.frames, frames[start+f*cfg.Every])
					}
					clips = append(clips, c)
				}
				take++
			}
		}
	}
	return clips, nil
}

// mugTakes returns the frame lists of an expression folder: its own images
// as one take, and each sub-folder's images as further takes.
func mugTakes(dir string) ([][]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var takes [][]string
	own, err := mugFrames(dir)
	if err != nil {
		return nil, err
	}
	if len(own) > 0 {
		takes = append(takes, own)
	}
	for _, e := range ents {
		if e.IsDir() {
			f, err := mugFrames(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			if len(f) > 0 {
				takes = append(takes, f)
			}
		}
	}
	return takes, nil
}

func mugFrames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type fr struct {
		path string
		n    int
	}
	var frames []fr
	for _, e := range ents {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".jpg" && ext != ".jpeg" && ext != ".png") {
			continue
		}
		m := lastNumber.FindStringSubmatch(strings.TrimSuffix(e.Name(), filepath.Ext(e.Name())))
		if m == nil {
			return nil, fmt.Errorf("%s: frame name has no number to order it by", filepath.Join(dir, e.Name()))
		}
		n, _ := strconv.Atoi(m[1])
		frames = append(frames, fr{filepath.Join(dir, e.Name()), n})
	}
	sort.Slice(frames, func(i, j int) bool { return frames[i].n < frames[j].n })
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = f.path
	}
	return out, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func (s *mugSplit) Len() int { return len(s.clips) }
func (s *mugSplit) Dims() Dims {
	return Dims{T: s.cfg.Frames, C: 3, H: s.cfg.Size, W: s.cfg.Size}
}

func (s *mugSplit) Label(i int) Label {
	c := s.clips[i]
	return Label{Motion: c.expr, Factors: []int{c.subject, c.take}}
}

func (s *mugSplit) Read(i int, dst []float32) error {
	d := s.Dims()
	checkDst("Read", dst, d.Len())
	for t, path := range s.clips[i].frames {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		ResizeSquare(dst[t*d.FrameLen():(t+1)*d.FrameLen()], img, d.H)
	}
	return nil
}

// ResizeSquare centre-crops img to a square and area-averages it to size x
// size, writing [3, size, size] float32 on [0, 1] into dst. Each output pixel
// is the mean of the source area it covers, fractional pixels weighted by
// their overlap.
func ResizeSquare(dst []float32, img image.Image, size int) {
	if len(dst) != 3*size*size {
		panic(fmt.Sprintf("halo: ResizeSquare: dst has %d values, want %d", len(dst), 3*size*size))
	}
	b := img.Bounds()
	s := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-s)/2, b.Min.Y+(b.Dy()-s)/2
	src := make([]float64, 3*s*s)
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			r, g, bl, _ := img.At(x0+x, y0+y).RGBA()
			src[y*s+x], src[s*s+y*s+x], src[2*s*s+y*s+x] = float64(r)/65535, float64(g)/65535, float64(bl)/65535
		}
	}
	w := areaWeights(s, size)
	tmp := make([]float64, s*size)
	for c := 0; c < 3; c++ {
		plane := src[c*s*s:]
		for y := 0; y < s; y++ {
			for o, ws := range w {
				var v float64
				for _, e := range ws {
					v += e.w * plane[y*s+e.i]
				}
				tmp[y*size+o] = v
			}
		}
		for oy, ws := range w {
			for ox := 0; ox < size; ox++ {
				var v float64
				for _, e := range ws {
					v += e.w * tmp[e.i*size+ox]
				}
				dst[c*size*size+oy*size+ox] = float32(v)
			}
		}
	}
}

type weight struct {
	i int
	w float64
}

// areaWeights returns, per output index, the source indices and overlap
// weights (summing to 1) of a 1-D area resampling from n to m samples.
func areaWeights(n, m int) [][]weight {
	out := make([][]weight, m)
	scale := float64(n) / float64(m)
	for o := range out {
		lo, hi := float64(o)*scale, float64(o+1)*scale
		for i := int(lo); i < n && float64(i) < hi; i++ {
			ov := min(hi, float64(i+1)) - max(lo, float64(i))
			if ov > 0 {
				out[o] = append(out[o], weight{i, ov / scale})
			}
		}
	}
	return out
}
