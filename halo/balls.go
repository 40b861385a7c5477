package halo

import (
	"fmt"
	"math"
)

// Rotating balls (PROTOCOLS.md section 1, our defaults): a ball of radius 3
// px circling the centre (16, 16) of a 32x32 black RGB frame on an orbit of
// radius 9 px, one counter-clockwise revolution per 16 frames from a uniform
// random start angle; half of the sequences red, half blue.

// BallsConfig sets up one split of the balls data set.
type BallsConfig struct {
	N           int     // sequences
	Seed        uint64  // splitmix64 seed
	MultiRadius bool    // orbit radius uniform in {6, ..., 12} per sequence (balls-multi)
	Size        int     // frame side; 0 = 32
	T           int     // frames; 0 = 16
	Orbit       float64 // orbit radius when not MultiRadius; 0 = 9
	Radius      float64 // ball radius; 0 = 3
}

func (c *BallsConfig) defaults() {
	if c.Size == 0 {
		c.Size = 32
	}
	if c.T == 0 {
		c.T = 16
	}
	if c.Orbit == 0 {
		c.Orbit = 9
	}
	if c.Radius == 0 {
		c.Radius = 3
	}
}

// Ball colours, as Label.Factors[0].
const (
	BallRed  = 0
	BallBlue = 1
)

// GenerateBalls renders one split. The draws, in order: for each sequence i
// the start angle 2*pi*Float64() (and with MultiRadius the orbit 6 +
// Intn(7)); sequence i is red when i is even; then the sequences are put in
// the order of Perm(N) from the same stream. Labels: Factors = [colour,
// orbit radius], Values = [start angle].
func GenerateBalls(cfg BallsConfig) Split {
	cfg.defaults()
	maxOrbit := cfg.Orbit
	if cfg.MultiRadius {
		maxOrbit = 12
	}
	if cfg.N <= 0 || maxOrbit+cfg.Radius > float64(cfg.Size)/2 {
		panic(fmt.Sprintf("halo: GenerateBalls: bad config %+v", cfg))
	}
	rng := NewSplitMix64(cfg.Seed)
	type seq struct {
		theta0 float64
		orbit  int
		colour int
	}
	base := make([]seq, cfg.N)
	for i := range base {
		base[i].theta0 = 2 * math.Pi * rng.Float64()
		base[i].orbit = int(cfg.Orbit)
		if cfg.MultiRadius {
			base[i].orbit = 6 + rng.Intn(7)
		}
		base[i].colour = i % 2
	}
	perm := rng.Perm(cfg.N)
	d := Dims{T: cfg.T, C: 3, H: cfg.Size, W: cfg.Size}
	data := make([]uint8, cfg.N*d.Len())
	labels := make([]Label, cfg.N)
	for k, p := range perm {
		s := base[p]
		labels[k] = Label{Factors: []int{s.colour, s.orbit}, Values: []float64{s.theta0}}
		orbit := float64(s.orbit)
		if !cfg.MultiRadius {
			orbit = cfg.Orbit
		}
		for t := 0; t < d.T; t++ {
			frame := data[k*d.Len()+t*d.FrameLen():][:d.FrameLen()]
			th := s.theta0 + 2*math.Pi*float64(t)/float64(d.T)
			c := float64(cfg.Size) / 2
			drawBall(frame[s.colour*2*d.H*d.W:][:d.H*d.W], d.W, d.H, c+orbit*math.Cos(th), c-orbit*math.Sin(th), cfg.Radius)
		}
	}
	return NewSplitUint8(d, data, 16, labels)
}

// drawBall writes into one colour plane, per pixel, how many of its 4x4
// sub-pixel points (at offsets (a+0.5)/4) lie in the disc: value/16 is the
// covered fraction.
func drawBall(plane []uint8, w, h int, cx, cy, r float64) {
	x0, x1 := max(0, int(math.Floor(cx-r))), min(w-1, int(math.Floor(cx+r)))
	y0, y1 := max(0, int(math.Floor(cy-r))), min(h-1, int(math.Floor(cy+r)))
	r2 := r * r
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			n := 0
			for b := 0; b < 4; b++ {
				dy := float64(y) + (float64(b)+0.5)/4 - cy
				for a := 0; a < 4; a++ {
					dx := float64(x) + (float64(a)+0.5)/4 - cx
					if dx*dx+dy*dy <= r2 {
						n++
					}
				}
			}
			plane[y*w+x] = uint8(n)
		}
	}
}

// Balls returns the rotating-balls data set: 1000 training sequences from
// seed 1 and 200 test sequences from seed 2; with multi, the balls-multi
// variant whose orbit radius varies per sequence.
func Balls(multi bool) *Dataset {
	name := "balls"
	if multi {
		name = "balls-multi"
	}
	return &Dataset{
		Name:    name,
		Scale:   Unit,
		Motions: []string{"rotate"},
		Factors: []string{"colour", "orbit_radius"},
		Values:  []string{"theta0"},
		Train:   GenerateBalls(BallsConfig{N: 1000, Seed: 1, MultiRadius: multi}),
		Test:    GenerateBalls(BallsConfig{N: 200, Seed: 2, MultiRadius: multi}),
		Info: map[string]any{
			"protocol": "PROTOCOLS.md section 1", "train_seed": 1, "test_seed": 2,
			"colours": []string{"red", "blue"}, "pixel": "covered fraction of a 4x4 sub-pixel grid times the colour",
		},
	}
}
