package halo

import (
	"fmt"
	"math"
)

// Procedural Sprites-like characters ("psprites", PROTOCOLS.md section 3.5):
// 64x64 RGB pixel-art figures on black, 4 attributes with 6 values each, 3
// actions seen from 3 directions over 8 frames. Every image is a pure
// function of (skin, pants, top, hair, action, direction, frame).
//
// Where section 3.5 leaves a detail open, the choice made here is:
//   - limb "L" of the walk is the near limb in side view and the image-left
//     limb in front view (as the slash's "near/image-left");
//   - the slash's other arm, in front view, swings sagittally (projected);
//   - a foot is the 5x2 rectangle of columns xa-2..xa+2 (front) or
//     xa-1..xa+3 (side, 3 px toward the facing side) and rows ya+1..ya+2,
//     where (xa, ya) is the pixel holding the ankle point;
//   - y-conditions of hair and stripes use pixel rows, relative to the body
//     before the bob, which shifts the finished figure down by b rows;
//   - horizontal stripes mark every top-coloured pixel (torso and sleeves),
//     the centre stripe only the torso; far-side limbs darken the final
//     colour (stripe included) by 0.75.

// Attribute palettes, indexed by value 0..5.
var (
	PSpriteSkin  = [6]RGB{{255, 224, 196}, {234, 192, 134}, {198, 134, 66}, {141, 85, 36}, {92, 58, 30}, {120, 170, 100}}
	PSpriteTop   = [6]RGB{{225, 225, 225}, {200, 40, 40}, {40, 80, 200}, {50, 160, 70}, {230, 200, 40}, {130, 60, 160}}
	PSpritePants = [6]RGB{{60, 60, 60}, {30, 50, 120}, {170, 130, 80}, {190, 190, 190}, {120, 30, 30}, {70, 110, 50}}
	PSpriteHair  = [6]RGB{{30, 30, 30}, {230, 200, 90}, {180, 50, 30}, {60, 170, 60}, {220, 220, 220}, {120, 70, 30}}
	PSpriteEyes  = RGB{20, 20, 30}
	PSpriteShoes = RGB{70, 45, 25}
)

// RGB is an 8-bit colour.
type RGB [3]uint8

// dark returns round(k*c) per channel.
func dark(c RGB, k float64) RGB {
	return RGB{uint8(math.Round(k * float64(c[0]))), uint8(math.Round(k * float64(c[1]))), uint8(math.Round(k * float64(c[2])))}
}

// Sprites actions and directions, in the order of the real data's files;
// the 9-way motion label is 3*action + direction.
var (
	SpriteActions    = []string{"walk", "spellcard", "slash"}
	SpriteDirections = []string{"front", "left", "right"}
)

// Sprite attributes in label order [body(skin), bottom(pants), top, hair].
var SpriteAttributes = []string{"skin", "pants", "top", "hair"}

// Character is one combination of the four attributes, each 0..5.
type Character struct{ Skin, Pants, Top, Hair int }

// CharacterFromCode decodes c in 0..1295 as the real data does:
// skin = c/216, pants = (c%216)/36, top = (c%36)/6, hair = c%6.
func CharacterFromCode(c int) Character {
	return Character{Skin: c / 216, Pants: c % 216 / 36, Top: c % 36 / 6, Hair: c % 6}
}

// Code is the inverse of CharacterFromCode.
func (c Character) Code() int { return c.Skin*216 + c.Pants*36 + c.Top*6 + c.Hair }

const (
	spriteSize   = 64
	spriteFrames = 8
	eps          = 1e-9 // boundary slack, so a centre on a shape's edge is inside on every platform
)

type vec struct{ x, y float64 }

func (a vec) add(b vec) vec       { return vec{a.x + b.x, a.y + b.y} }
func (a vec) scale(k float64) vec { return vec{a.x * k, a.y * k} }
func (a vec) sub(b vec) vec       { return vec{a.x - b.x, a.y - b.y} }
func (a vec) dot(b vec) float64   { return a.x*b.x + a.y*b.y }
func round01(deg float64) float64 { return math.Round(deg*10) / 10 }
func rad(deg float64) float64     { return round01(deg) * math.Pi / 180 }
func clampInt(v, lo, hi int) int  { return min(max(v, lo), hi) }
func floorInt(v float64) int      { return int(math.Floor(v)) }
func inEllipse(x, y int, cx, cy, rx, ry float64) bool {
	dx, dy := (float64(x)+0.5-cx)/rx, (float64(y)+0.5-cy)/ry
	return dx*dx+dy*dy <= 1+eps
}

// paint gives the colour of a pixel of a shape.
type paint func(x, y int) RGB

func solid(c RGB) paint { return func(int, int) RGB { return c } }

// canvas is a 64x64 RGB image in row-major HWC order.
type canvas [spriteSize * spriteSize * 3]uint8

func (c *canvas) set(x, y int, col RGB) {
	if x < 0 || y < 0 || x >= spriteSize || y >= spriteSize {
		return
	}
	copy(c[(y*spriteSize+x)*3:], col[:])
}

func (c *canvas) rect(x0, x1, y0, y1 int, p paint) {
	for y := max(y0, 0); y <= min(y1, spriteSize-1); y++ {
		for x := max(x0, 0); x <= min(x1, spriteSize-1); x++ {
			c.set(x, y, p(x, y))
		}
	}
}

// ellipse paints the pixels whose centres lie in the ellipse and satisfy keep
// (nil keeps all).
func (c *canvas) ellipse(cx, cy, rx, ry float64, p paint, keep func(x, y int) bool) {
	for y := clampInt(floorInt(cy-ry), 0, spriteSize-1); y <= clampInt(floorInt(cy+ry), 0, spriteSize-1); y++ {
		for x := clampInt(floorInt(cx-rx), 0, spriteSize-1); x <= clampInt(floorInt(cx+rx), 0, spriteSize-1); x++ {
			if inEllipse(x, y, cx, cy, rx, ry) && (keep == nil || keep(x, y)) {
				c.set(x, y, p(x, y))
			}
		}
	}
}

// capsule paints the pixels whose centres lie within w/2 of segment a-b.
func (c *canvas) capsule(a, b vec, w float64, p paint) {
	r := w / 2
	ab := b.sub(a)
	l2 := ab.dot(ab)
	for y := clampInt(floorInt(math.Min(a.y, b.y)-r), 0, spriteSize-1); y <= clampInt(floorInt(math.Max(a.y, b.y)+r), 0, spriteSize-1); y++ {
		for x := clampInt(floorInt(math.Min(a.x, b.x)-r), 0, spriteSize-1); x <= clampInt(floorInt(math.Max(a.x, b.x)+r), 0, spriteSize-1); x++ {
			q := vec{float64(x) + 0.5, float64(y) + 0.5}
			t := 0.0
			if l2 > 0 {
				t = math.Min(1, math.Max(0, q.sub(a).dot(ab)/l2))
			}
			d := q.sub(a.add(ab.scale(t)))
			if d.dot(d) <= r*r+eps {
				c.set(x, y, p(x, y))
			}
		}
	}
}

// triangle paints the pixels whose centres lie in triangle abc.
func (c *canvas) triangle(a, b, d vec, p paint) {
	cross := func(o, u, v vec) float64 { return (u.x-o.x)*(v.y-o.y) - (u.y-o.y)*(v.x-o.x) }
	for y := clampInt(floorInt(math.Min(a.y, math.Min(b.y, d.y))), 0, spriteSize-1); y <= clampInt(floorInt(math.Max(a.y, math.Max(b.y, d.y))), 0, spriteSize-1); y++ {
		for x := clampInt(floorInt(math.Min(a.x, math.Min(b.x, d.x))), 0, spriteSize-1); x <= clampInt(floorInt(math.Max(a.x, math.Max(b.x, d.x))), 0, spriteSize-1); x++ {
			q := vec{float64(x) + 0.5, float64(y) + 0.5}
			s1, s2, s3 := cross(a, b, q), cross(b, d, q), cross(d, a, q)
			if (s1 >= -eps && s2 >= -eps && s3 >= -eps) || (s1 <= eps && s2 <= eps && s3 <= eps) {
				c.set(x, y, p(x, y))
			}
		}
	}
}

// pose holds a frame's joint angles in degrees.
type pose struct {
	// Per limb: index 0 = near (side) / image-left (front), 1 = the other.
	shoulder, elbow, hip, knee [2]float64
	coronal                    [2]bool // front view: arm angles are coronal
	bob                        int
}

func spritePose(action, f int) pose {
	phi := 2 * math.Pi * float64(f) / 7
	var p pose
	switch action {
	case 0: // walk
		s := math.Sin(phi)
		p.hip = [2]float64{25 * s, -25 * s}
		p.knee = [2]float64{10 * (1 - math.Cos(phi)), 10 * (1 + math.Cos(phi))}
		p.shoulder = [2]float64{-20 * s, 20 * s}
		p.elbow = [2]float64{15, 15}
		p.bob = int(math.Round(math.Abs(s)))
	case 1: // spellcast
		r := (1 - math.Cos(phi)) / 2
		p.shoulder = [2]float64{160 * r, 160 * r}
		p.elbow = [2]float64{30 * (1 - r), 30 * (1 - r)}
		p.coronal = [2]bool{true, true}
	case 2: // slash
		S := [8]float64{0, 70, 140, 165, 60, -20, 30, 0}
		E := [8]float64{10, 40, 60, 20, 0, 0, 10, 10}
		H := [8]float64{0, 0, -5, -10, 15, 20, 10, 0}
		p.shoulder = [2]float64{S[f], 10}
		p.elbow = [2]float64{E[f], 10}
		p.hip = [2]float64{H[f], 0}
		p.coronal = [2]bool{true, false}
	default:
		panic(fmt.Sprintf("halo: sprite action %d", action))
	}
	return p
}

// limbEnd returns P + L*direction(alpha) for the view.
func limbEnd(p vec, l, deg float64, side, coronal bool, s float64) vec {
	a := rad(deg)
	switch {
	case side:
		return p.add(vec{l * math.Sin(a), l * math.Cos(a)})
	case coronal:
		return p.add(vec{l * s * math.Sin(a), l * math.Cos(a)})
	default:
		return p.add(vec{0, l * math.Cos(a)})
	}
}

// spriteStyle holds the garment and hair styles of a character.
func topLong(top int) bool     { return top <= 2 }
func pantsLong(pants int) bool { return pants <= 2 }

// RenderSprite draws one frame (0..7) of a character performing action
// (0..2) seen from direction (0 front, 1 left, 2 right) into dst, 64*64*3
// bytes in row-major HWC order (the real data's layout).
func RenderSprite(dst []uint8, ch Character, action, direction, frame int) {
	if len(dst) != spriteSize*spriteSize*3 {
		panic(fmt.Sprintf("halo: RenderSprite: dst has %d bytes, want %d", len(dst), spriteSize*spriteSize*3))
	}
	if frame < 0 || frame >= spriteFrames || direction < 0 || direction > 2 || action < 0 || action > 2 ||
		ch.Skin < 0 || ch.Skin > 5 || ch.Pants < 0 || ch.Pants > 5 || ch.Top < 0 || ch.Top > 5 || ch.Hair < 0 || ch.Hair > 5 {
		panic(fmt.Sprintf("halo: RenderSprite: bad arguments %+v action %d direction %d frame %d", ch, action, direction, frame))
	}
	var c canvas
	p := spritePose(action, frame)
	side := direction != 0
	drawFigure(&c, ch, p, side)
	// Bob: shift the finished figure down by b rows.
	for i := range dst {
		dst[i] = 0
	}
	copy(dst[p.bob*spriteSize*3:], c[:len(c)-p.bob*spriteSize*3])
	if direction == 1 { // left = mirror of right
		for y := 0; y < spriteSize; y++ {
			row := dst[y*spriteSize*3 : (y+1)*spriteSize*3]
			for x := 0; x < spriteSize/2; x++ {
				for k := 0; k < 3; k++ {
					row[x*3+k], row[(spriteSize-1-x)*3+k] = row[(spriteSize-1-x)*3+k], row[x*3+k]
				}
			}
		}
	}
}

func drawFigure(c *canvas, ch Character, p pose, side bool) {
	skin, top, pants, hair := PSpriteSkin[ch.Skin], PSpriteTop[ch.Top], PSpritePants[ch.Pants], PSpriteHair[ch.Hair]
	// Top colour with the style's stripes; centre marks the torso's centre stripe.
	topPaint := func(far, torso bool) paint {
		return func(x, y int) RGB {
			col := top
			if ch.Top == 2 && ((y-26)%4+4)%4 >= 2 {
				col = dark(top, 0.6)
			}
			if ch.Top == 4 && torso && (!side && (x == 31 || x == 32) || side && x == 33) {
				col = dark(top, 0.6)
			}
			if far {
				col = dark(col, 0.75)
			}
			return col
		}
	}
	shade := func(col RGB, far bool) paint {
		if far {
			return solid(dark(col, 0.75))
		}
		return solid(col)
	}
	var shoulders, hips [2]vec
	if side {
		shoulders = [2]vec{{32.5, 28.5}, {32.5, 28.5}}
		hips = [2]vec{{32.5, 43.5}, {32.5, 43.5}}
	} else {
		shoulders = [2]vec{{23.5, 28.5}, {40.5, 28.5}}
		hips = [2]vec{{29, 43.5}, {35, 43.5}}
	}
	sgn := [2]float64{-1, 1} // front view: image-left limb, image-right limb
	arm := func(i int, far bool) {
		el := limbEnd(shoulders[i], 8, p.shoulder[i], side, p.coronal[i], sgn[i])
		wr := limbEnd(el, 7, p.shoulder[i]+p.elbow[i], side, p.coronal[i], sgn[i])
		c.capsule(shoulders[i], el, 4, topPaint(far, false))
		if topLong(ch.Top) {
			c.capsule(el, wr, 4, topPaint(far, false))
			c.ellipse(wr.x, wr.y, 2, 2, shade(skin, far), nil)
		} else {
			c.capsule(el, wr, 4, shade(skin, far))
		}
	}
	ankles := [2]vec{}
	leg := func(i int, far bool) {
		kn := limbEnd(hips[i], 8, p.hip[i], side, false, sgn[i])
		an := limbEnd(kn, 8, p.hip[i]-p.knee[i], side, false, sgn[i])
		ankles[i] = an
		c.capsule(hips[i], kn, 5, shade(pants, far))
		if pantsLong(ch.Pants) {
			c.capsule(kn, an, 5, shade(pants, far))
		} else {
			c.capsule(kn, an, 5, shade(skin, far))
		}
	}
	foot := func(i int, far bool) {
		xa, ya := floorInt(ankles[i].x), floorInt(ankles[i].y)
		if side {
			c.rect(xa-1, xa+3, ya+1, ya+2, shade(PSpriteShoes, far))
		} else {
			c.rect(xa-2, xa+2, ya+1, ya+2, solid(PSpriteShoes))
		}
	}
	var hx, hy, hrx, hry float64
	if side {
		hx, hy, hrx, hry = 32.5, 17, 6, 7.5
	} else {
		hx, hy, hrx, hry = 32, 17, 6.5, 7.5
	}
	head := func() { c.ellipse(hx, hy, hrx, hry, solid(skin), nil) }
	drawHair := func() {
		hp := solid(hair)
		capShape := func() {
			c.ellipse(hx, hy, hrx+1, hry+1, hp, func(x, y int) bool { return float64(y) < hy-2 })
		}
		switch ch.Hair {
		case 0:
			capShape()
		case 1:
			capShape()
			if side {
				c.rect(26, 29, 12, 32, hp)
			} else {
				c.rect(25, 26, 15, 32, hp)
				c.rect(37, 38, 15, 32, hp)
			}
		case 2:
			capShape()
			apex := [3]vec{{27, 6}, {32, 5}, {37, 6}}
			if side {
				apex = [3]vec{{29, 6}, {33, 5}, {37, 6}}
			}
			for _, a := range apex {
				c.triangle(a, vec{a.x - 2, 10}, vec{a.x + 2, 10}, hp)
			}
		case 3:
			if side {
				c.rect(27, 35, 7, 11, hp)
			} else {
				c.rect(31, 33, 7, 14, hp)
			}
		case 4:
			capShape()
			if side {
				c.ellipse(27, 11, 3, 3, hp, nil)
			} else {
				c.ellipse(32, 8, 3, 3, hp, nil)
			}
		case 5:
			capShape()
			c.ellipse(hx, hy, hrx, hry, hp, func(x, y int) bool {
				d := float64(x) + 0.5 - hx
				if side {
					return y <= 22 && d <= -1
				}
				return y <= 22 && math.Abs(d) >= 5
			})
		}
	}
	if side {
		arm(1, true)
		leg(1, true)
		foot(1, true)
		leg(0, false)
		foot(0, false)
		c.rect(28, 37, 41, 43, solid(pants))
		c.rect(28, 37, 26, 40, topPaint(false, true))
		c.rect(31, 33, 24, 26, solid(skin))
		head()
		c.set(35, 18, PSpriteEyes)
		c.set(38, 19, dark(skin, 0.8))
		drawHair()
		arm(0, false)
		return
	}
	leg(0, false)
	leg(1, false)
	foot(0, false)
	foot(1, false)
	c.rect(25, 38, 41, 43, solid(pants))
	c.rect(24, 39, 26, 40, topPaint(false, true))
	arm(0, false)
	arm(1, false)
	c.rect(30, 33, 24, 26, solid(skin))
	head()
	c.set(29, 18, PSpriteEyes)
	c.set(34, 18, PSpriteEyes)
	drawHair()
}

// PSprites split of the characters chars: sequence i shows character
// chars[i % N] performing motion i / N (= 3*action + direction), the order of
// the real data's nine files concatenated. Frames are rendered on demand.
type pspritesSplit struct{ chars []int }

// NewPSpritesSplit returns the split of the given character codes.
func NewPSpritesSplit(chars []int) Split {
	for _, c := range chars {
		if c < 0 || c >= 1296 {
			panic(fmt.Sprintf("halo: NewPSpritesSplit: character code %d out of range", c))
		}
	}
	return &pspritesSplit{chars: append([]int(nil), chars...)}
}

func (s *pspritesSplit) Len() int   { return 9 * len(s.chars) }
func (s *pspritesSplit) Dims() Dims { return Dims{T: spriteFrames, C: 3, H: spriteSize, W: spriteSize} }

func (s *pspritesSplit) Label(i int) Label {
	code := s.chars[i%len(s.chars)]
	m := i / len(s.chars)
	ch := CharacterFromCode(code)
	return Label{Motion: m, Factors: []int{ch.Skin, ch.Pants, ch.Top, ch.Hair, m / 3, m % 3, code}}
}

// RenderSequence draws sequence i as 8 HWC frames of bytes.
func (s *pspritesSplit) renderSequence(i int, dst []uint8) {
	lab := s.Label(i)
	ch := CharacterFromCode(lab.Factors[6])
	n := spriteSize * spriteSize * 3
	for f := 0; f < spriteFrames; f++ {
		RenderSprite(dst[f*n:(f+1)*n], ch, lab.Factors[4], lab.Factors[5], f)
	}
}

func (s *pspritesSplit) Read(i int, dst []float32) error {
	d := s.Dims()
	checkDst("Read", dst, d.Len())
	var buf [spriteFrames * spriteSize * spriteSize * 3]uint8
	s.renderSequence(i, buf[:])
	hwcToCHW(dst, buf[:], d, 255)
	return nil
}

// hwcToCHW converts T frames of HWC bytes to CHW float32 byte/div (a
// division, so values equal float32(b)/div exactly, as NumPy computes them).
func hwcToCHW(dst []float32, src []uint8, d Dims, div float32) {
	hw := d.H * d.W
	for t := 0; t < d.T; t++ {
		s := src[t*d.FrameLen():]
		o := dst[t*d.FrameLen():]
		for p := 0; p < hw; p++ {
			for c := 0; c < d.C; c++ {
				o[c*hw+p] = float32(s[p*d.C+c]) / div
			}
		}
	}
}

// PSpritesSplitSeed seeds the Fisher-Yates split of the 1296 characters.
const PSpritesSplitSeed = 423

// PSpritesCharacters returns the character codes of the training (1000) and
// test (296) splits: Perm(1296) of splitmix64 seeded 423, first 1000 train.
func PSpritesCharacters() (train, test []int) {
	p := NewSplitMix64(PSpritesSplitSeed).Perm(1296)
	return p[:1000], p[1000:]
}

// PSprites returns the procedural Sprites-like data set: 9000 training and
// 2664 test sequences rendered on demand (nothing is held in memory).
// Labels: Motion = 3*action + direction; Factors = [skin, pants, top, hair,
// action, direction, character code].
func PSprites() *Dataset {
	train, test := PSpritesCharacters()
	return &Dataset{
		Name:    "psprites",
		Scale:   Symmetric,
		Motions: spriteMotionNames(),
		Factors: []string{"skin", "pants", "top", "hair", "action", "direction", "character"},
		Train:   NewPSpritesSplit(train),
		Test:    NewPSpritesSplit(test),
		Info: map[string]any{
			"protocol": "PROTOCOLS.md section 3.5", "split_seed": PSpritesSplitSeed,
			"actions": SpriteActions, "directions": SpriteDirections, "attributes": SpriteAttributes,
			"pixel": "uint8/255",
		},
	}
}

func spriteMotionNames() []string {
	var out []string
	for _, a := range SpriteActions {
		for _, d := range SpriteDirections {
			out = append(out, a+"_"+d)
		}
	}
	return out
}
