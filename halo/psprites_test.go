package halo

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func renderSeq(ch Character, action, direction int) []uint8 {
	n := spriteSize * spriteSize * 3
	out := make([]uint8, spriteFrames*n)
	for f := 0; f < spriteFrames; f++ {
		RenderSprite(out[f*n:(f+1)*n], ch, action, direction, f)
	}
	return out
}

func px(img []uint8, x, y int) RGB {
	i := (y*spriteSize + x) * 3
	return RGB{img[i], img[i+1], img[i+2]}
}

// TestPSpritesSelfChecks runs the section 3.5 checks over all 1296 x 9
// sequences: frame 7 == frame 0, left == mirror(right), all sequences
// distinct, every palette colour present on its characters.
func TestPSpritesSelfChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("renders all 11664 sequences")
	}
	const n = spriteSize * spriteSize * 3
	type result struct {
		hashes [][32]byte
		err    string
	}
	workers := runtime.GOMAXPROCS(0)
	results := make([]result, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := &results[w]
			for code := w; code < 1296; code += workers {
				ch := CharacterFromCode(code)
				for a := 0; a < 3; a++ {
					var seqs [3][]uint8
					for d := 0; d < 3; d++ {
						seqs[d] = renderSeq(ch, a, d)
						s := seqs[d]
						if !bytes.Equal(s[:n], s[7*n:]) {
							r.err = "frame 7 != frame 0"
							return
						}
						r.hashes = append(r.hashes, sha256.Sum256(s))
						// Palette presence: the character's own colours.
						want := []RGB{PSpriteSkin[ch.Skin], PSpriteTop[ch.Top], PSpritePants[ch.Pants], PSpriteHair[ch.Hair], PSpriteEyes, PSpriteShoes}
						found := make([]bool, len(want))
						for p := 0; p < len(s); p += 3 {
							c := RGB{s[p], s[p+1], s[p+2]}
							for k, wc := range want {
								if c == wc {
									found[k] = true
								}
							}
						}
						for k, f := range found {
							if !f {
								r.err = fmt.Sprintf("character %d action %d direction %d lacks colour %v", code, a, d, want[k])
								return
							}
						}
					}
					// left == mirror(right), frame by frame.
					for p := 0; p < len(seqs[1]); p += 3 {
						f, rest := p/n, p%n
						x, y := (rest/3)%spriteSize, rest/3/spriteSize
						q := f*n + (y*spriteSize+spriteSize-1-x)*3
						if !bytes.Equal(seqs[1][p:p+3], seqs[2][q:q+3]) {
							r.err = "left is not the mirror of right"
							return
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
	seen := map[[32]byte]bool{}
	for _, r := range results {
		if r.err != "" {
			t.Fatal(r.err)
		}
		for _, h := range r.hashes {
			if seen[h] {
				t.Fatal("two sequences are identical")
			}
			seen[h] = true
		}
	}
	if len(seen) != 1296*9 {
		t.Fatalf("%d distinct sequences, want %d", len(seen), 1296*9)
	}
	// Every character showed its own four palette colours, eyes and shoes,
	// and the codes cover every value of every attribute, so every palette
	// value is present in the set.
}

// TestPSpritesBodyPartColours checks that the requested colours sit at the
// body parts the protocol places them.
func TestPSpritesBodyPartColours(t *testing.T) {
	for _, code := range []int{0, 7, 215, 431, 777, 1000, 1295} {
		ch := CharacterFromCode(code)
		skin, top, pants, hair := PSpriteSkin[ch.Skin], PSpriteTop[ch.Top], PSpritePants[ch.Pants], PSpriteHair[ch.Hair]
		topOK := func(c RGB) bool { return c == top || c == dark(top, 0.6) }
		img := make([]uint8, spriteSize*spriteSize*3)
		// Walk frame 0 (no bob), front view.
		RenderSprite(img, ch, 0, 0, 0)
		if c := px(img, 29, 18); c != PSpriteEyes {
			t.Errorf("%d: left eye %v", code, c)
		}
		if c := px(img, 34, 18); c != PSpriteEyes {
			t.Errorf("%d: right eye %v", code, c)
		}
		if c := px(img, 32, 21); c != skin && !(ch.Hair == 5 && c == hair) {
			t.Errorf("%d: face %v, skin %v", code, c, skin)
		}
		if c := px(img, 31, 24); c != skin {
			t.Errorf("%d: neck %v", code, c)
		}
		if c := px(img, 27, 32); !topOK(c) {
			t.Errorf("%d: torso %v, top %v", code, c, top)
		}
		if c := px(img, 36, 42); c != pants {
			t.Errorf("%d: hips %v, pants %v", code, c, pants)
		}
		// Thigh (pants either way), shin (pants when long, skin for shorts).
		if c := px(img, 28, 47); c != pants {
			t.Errorf("%d: thigh %v", code, c)
		}
		wantShin := pants
		if ch.Pants >= 3 {
			wantShin = skin
		}
		if c := px(img, 28, 56); c != wantShin {
			t.Errorf("%d: shin %v, want %v", code, c, wantShin)
		}
		// Straight legs: ankle at y = 43.5+16 = 59.5, shoe rows 60..61.
		if c := px(img, 28, 60); c != PSpriteShoes {
			t.Errorf("%d: shoe %v", code, c)
		}
		// Upper arm below the left shoulder (top colour), hand at the wrist.
		if c := px(img, 23, 31); !topOK(c) {
			t.Errorf("%d: upper arm %v", code, c)
		}
		// Walk frame 0: left shoulder 0 deg, elbow 15 -> forearm nearly down;
		// wrist at y ~ 28.5+8+7cos15 = 43.3.
		wantHand := skin
		if c := px(img, 23, 43); c != wantHand {
			t.Errorf("%d: hand %v, skin %v", code, c, skin)
		}
		wantFore := skin
		if ch.Top <= 2 {
			wantFore = top
		}
		if c := px(img, 23, 39); c != wantFore && !(ch.Top == 2 && c == dark(top, 0.6)) {
			t.Errorf("%d: forearm %v, want %v", code, c, wantFore)
		}
		// Hair above the forehead for every style but the mohawk; the mohawk
		// at x 31..33.
		if ch.Hair == 3 {
			if c := px(img, 32, 8); c != hair {
				t.Errorf("%d: mohawk %v", code, c)
			}
			if c := px(img, 27, 11); c != (RGB{}) {
				t.Errorf("%d: beside the mohawk %v", code, c)
			}
		} else if c := px(img, 32, 10); c != hair {
			t.Errorf("%d: hair %v, want %v", code, c, hair)
		}
		// Side view (right): eye, nose, background in front of the face.
		RenderSprite(img, ch, 0, 2, 0)
		if c := px(img, 35, 18); c != PSpriteEyes {
			t.Errorf("%d: side eye %v", code, c)
		}
		if c := px(img, 38, 19); c != dark(skin, 0.8) {
			t.Errorf("%d: nose %v", code, c)
		}
		if c := px(img, 45, 18); c != (RGB{}) {
			t.Errorf("%d: background %v", code, c)
		}
		// Left view mirrors it: eye at 63-35 = 28.
		RenderSprite(img, ch, 0, 1, 0)
		if c := px(img, 28, 18); c != PSpriteEyes {
			t.Errorf("%d: left-view eye %v", code, c)
		}
	}
}

func TestPSpritesBobAndSplit(t *testing.T) {
	ch := CharacterFromCode(100)
	a, b := make([]uint8, spriteSize*spriteSize*3), make([]uint8, spriteSize*spriteSize*3)
	// Walk frame 1 has bob 1: the eyes move down one row.
	RenderSprite(a, ch, 0, 0, 1)
	if px(a, 29, 19) != PSpriteEyes || px(a, 29, 18) == PSpriteEyes {
		t.Error("walk frame 1 is not bobbed down one row")
	}
	RenderSprite(b, ch, 1, 0, 3)
	if px(b, 29, 18) != PSpriteEyes {
		t.Error("spellcast is bobbed")
	}
	train, test := PSpritesCharacters()
	f := loadSplitmix(t)
	for i := range train {
		if train[i] != f.Train[i] {
			t.Fatalf("train character %d = %d, Python %d", i, train[i], f.Train[i])
		}
	}
	for i := range test {
		if test[i] != f.Test[i] {
			t.Fatalf("test character %d = %d, Python %d", i, test[i], f.Test[i])
		}
	}
	ds := PSprites()
	if ds.Train.Len() != 9000 || ds.Test.Len() != 2664 {
		t.Fatalf("sizes %d %d", ds.Train.Len(), ds.Test.Len())
	}
	lab := ds.Test.Label(296*5 + 7)
	if lab.Motion != 5 || lab.Factors[4] != 1 || lab.Factors[5] != 2 || lab.Factors[6] != test[7] {
		t.Fatalf("label %+v", lab)
	}
}

// TestPSpritesRoundTripThroughRealLoader writes a few characters in the real
// data's .npy layout and reads them back with the real-data loader.
func TestPSpritesRoundTripThroughRealLoader(t *testing.T) {
	dir := t.TempDir()
	chars := []int{5, 600, 1295}
	if err := WritePSpritesNPY(dir, "test", chars); err != nil {
		t.Fatal(err)
	}
	real, err := LoadSprites(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	gen := NewPSpritesSplit(chars)
	if real.Len() != gen.Len() || real.Dims() != gen.Dims() {
		t.Fatalf("%d %v vs %d %v", real.Len(), real.Dims(), gen.Len(), gen.Dims())
	}
	x, y := make([]float32, gen.Dims().Len()), make([]float32, gen.Dims().Len())
	for i := 0; i < gen.Len(); i++ {
		if err := real.Read(i, x); err != nil {
			t.Fatal(err)
		}
		gen.Read(i, y)
		if MSE(x, y) != 0 {
			t.Fatalf("sequence %d differs after the round trip", i)
		}
		lr, lg := real.Label(i), gen.Label(i)
		if lr.Motion != lg.Motion || len(lr.Factors) != len(lg.Factors) {
			t.Fatalf("labels %+v %+v", lr, lg)
		}
		for k := range lr.Factors {
			if lr.Factors[k] != lg.Factors[k] {
				t.Fatalf("labels %+v %+v", lr, lg)
			}
		}
	}
	if _, err := LoadSprites(filepath.Join(dir, "nope"), "test"); err == nil {
		t.Error("missing folder accepted")
	}
}

// BenchmarkPSpritesFullSet renders all 1296 x 9 sequences on every core,
// the work of generating the set (bar: under 30 s on 2 cores).
func BenchmarkPSpritesFullSet(b *testing.B) {
	for b.Loop() {
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				n := spriteSize * spriteSize * 3
				buf := make([]uint8, spriteFrames*n)
				for code := w; code < 1296; code += workers {
					ch := CharacterFromCode(code)
					for a := 0; a < 3; a++ {
						for d := 0; d < 3; d++ {
							for f := 0; f < spriteFrames; f++ {
								RenderSprite(buf[f*n:(f+1)*n], ch, a, d, f)
							}
						}
					}
				}
			}(w)
		}
		wg.Wait()
	}
}
