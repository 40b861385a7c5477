package halo

import (
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Pictures of sequences: PNG grids (rows = sequences, columns = frames) and
// animated GIFs. Sequences are float32 [T, C, H, W] on [0, 1] with C = 1
// (grey) or 3 (RGB); values outside [0, 1] are clipped.

// GridOptions sets the look of a grid.
type GridOptions struct {
	Zoom      int      // pixels per image pixel; 0 = 1
	Gap       int      // background pixels between cells; 0 = 1, -1 = none
	RowLabels []string // optional text left of each row
	ColLabels []string // optional text above each column
	// Columns is the number of sequences side by side in a GIF grid; 0 = all.
	Columns int
}

func (o GridOptions) zoom() int {
	if o.Zoom <= 0 {
		return 1
	}
	return o.Zoom
}

func (o GridOptions) gap() int {
	switch {
	case o.Gap < 0:
		return 0
	case o.Gap == 0:
		return 1
	}
	return o.Gap
}

var gridBackground = color.RGBA{40, 40, 40, 255}

func checkSeqs(op string, seqs [][]float32, d Dims) {
	if d.C != 1 && d.C != 3 {
		panic(fmt.Sprintf("halo: %s: %d channels; pictures need 1 or 3", op, d.C))
	}
	for i, s := range seqs {
		if len(s) != d.Len() {
			panic(fmt.Sprintf("halo: %s: sequence %d has %d values, %v needs %d", op, i, len(s), d, d.Len()))
		}
	}
}

func toByte(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(math.Round(float64(v) * 255))
}

// drawFrame copies frame t of seq to img at (x0, y0), zoomed.
func drawFrame(img *image.RGBA, seq []float32, d Dims, t, x0, y0, zoom int) {
	hw := d.H * d.W
	f := seq[t*d.FrameLen():]
	for y := 0; y < d.H; y++ {
		for x := 0; x < d.W; x++ {
			p := y*d.W + x
			var c color.RGBA
			if d.C == 1 {
				g := toByte(f[p])
				c = color.RGBA{g, g, g, 255}
			} else {
				c = color.RGBA{toByte(f[p]), toByte(f[hw+p]), toByte(f[2*hw+p]), 255}
			}
			for dy := 0; dy < zoom; dy++ {
				for dx := 0; dx < zoom; dx++ {
					img.SetRGBA(x0+x*zoom+dx, y0+y*zoom+dy, c)
				}
			}
		}
	}
}

// GridImage draws the sequences as rows of frames.
func GridImage(seqs [][]float32, d Dims, opt GridOptions) *image.RGBA {
	checkSeqs("GridImage", seqs, d)
	z, g := opt.zoom(), opt.gap()
	fz := 1 + z*d.H/128 // label text grows with large frames
	left, top := 0, 0
	if len(opt.RowLabels) > 0 {
		left = textWidth(opt.RowLabels, fz) + 2*g + 2*fz
	}
	if len(opt.ColLabels) > 0 {
		top = glyphH*fz + 2*fz + g
	}
	cw, ch := d.W*z, d.H*z
	w := left + g + d.T*(cw+g)
	h := top + g + len(seqs)*(ch+g)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), gridBackground)
	for i, s := range seqs {
		y0 := top + g + i*(ch+g)
		for t := 0; t < d.T; t++ {
			drawFrame(img, s, d, t, left+g+t*(cw+g), y0, z)
		}
		if i < len(opt.RowLabels) {
			drawText(img, opt.RowLabels[i], g+fz, y0+(ch-glyphH*fz)/2, fz, color.RGBA{230, 230, 230, 255})
		}
	}
	for t, l := range opt.ColLabels {
		if t < d.T {
			drawText(img, l, left+g+t*(cw+g), fz, fz, color.RGBA{230, 230, 230, 255})
		}
	}
	return img
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// WritePNG encodes img as PNG to path atomically.
func WritePNG(path string, img image.Image) error {
	return writeAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// WriteGridPNG draws a grid and writes it as PNG.
func WriteGridPNG(path string, seqs [][]float32, d Dims, opt GridOptions) error {
	return WritePNG(path, GridImage(seqs, d, opt))
}

// GIFImages returns one paletted image per frame: the sequences laid out
// opt.Columns per row (one sequence gives one small animation).
func GIFImages(seqs [][]float32, d Dims, opt GridOptions) []*image.Paletted {
	checkSeqs("GIFImages", seqs, d)
	cols := opt.Columns
	if cols <= 0 || cols > len(seqs) {
		cols = len(seqs)
	}
	rows := (len(seqs) + cols - 1) / cols
	z, g := opt.zoom(), opt.gap()
	if len(seqs) == 1 {
		g = 0
	}
	w, h := g+cols*(d.W*z+g), g+rows*(d.H*z+g)
	frames := make([]*image.RGBA, d.T)
	for t := range frames {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		fill(img, img.Bounds(), gridBackground)
		for i, s := range seqs {
			drawFrame(img, s, d, t, g+(i%cols)*(d.W*z+g), g+(i/cols)*(d.H*z+g), z)
		}
		frames[t] = img
	}
	pal := makePalette(frames)
	out := make([]*image.Paletted, d.T)
	index := map[color.RGBA]uint8{}
	for t, img := range frames {
		p := image.NewPaletted(img.Bounds(), pal)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := img.RGBAAt(x, y)
				k, ok := index[c]
				if !ok {
					k = uint8(pal.Index(c))
					index[c] = k
				}
				p.Pix[y*p.Stride+x] = k
			}
		}
		out[t] = p
	}
	return out
}

// WriteGIF writes an animated GIF of the sequences (looping, delay in
// hundredths of a second per frame; 0 = 12).
func WriteGIF(path string, seqs [][]float32, d Dims, opt GridOptions, delay int) error {
	if delay <= 0 {
		delay = 12
	}
	imgs := GIFImages(seqs, d, opt)
	anim := &gif.GIF{Image: imgs, Delay: make([]int, len(imgs))}
	for i := range anim.Delay {
		anim.Delay[i] = delay
	}
	return writeAtomic(path, func(w io.Writer) error { return gif.EncodeAll(w, anim) })
}

// makePalette returns the exact colours when there are at most 256 (the
// generated sets have few), else a median-cut palette of 256.
func makePalette(frames []*image.RGBA) color.Palette {
	count := map[color.RGBA]int{}
	for _, img := range frames {
		for i := 0; i < len(img.Pix); i += 4 {
			count[color.RGBA{img.Pix[i], img.Pix[i+1], img.Pix[i+2], 255}]++
		}
	}
	type entry struct {
		c color.RGBA
		n int
	}
	all := make([]entry, 0, len(count))
	for c, n := range count {
		all = append(all, entry{c, n})
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].c, all[j].c
		if a.R != b.R {
			return a.R < b.R
		}
		if a.G != b.G {
			return a.G < b.G
		}
		return a.B < b.B
	})
	if len(all) <= 256 {
		pal := make(color.Palette, len(all))
		for i, e := range all {
			pal[i] = e.c
		}
		return pal
	}
	// Median cut: split the box with the widest channel range at the
	// population median until there are 256 boxes.
	boxes := [][]entry{all}
	chanOf := func(c color.RGBA, k int) uint8 { return [3]uint8{c.R, c.G, c.B}[k] }
	for len(boxes) < 256 {
		best, bestK, bestRange := -1, 0, -1
		for i, b := range boxes {
			if len(b) < 2 {
				continue
			}
			for k := 0; k < 3; k++ {
				lo, hi := uint8(255), uint8(0)
				for _, e := range b {
					v := chanOf(e.c, k)
					lo, hi = min(lo, v), max(hi, v)
				}
				if int(hi)-int(lo) > bestRange {
					best, bestK, bestRange = i, k, int(hi)-int(lo)
				}
			}
		}
		if best < 0 {
			break
		}
		b := boxes[best]
		sort.Slice(b, func(i, j int) bool { return chanOf(b[i].c, bestK) < chanOf(b[j].c, bestK) })
		total := 0
		for _, e := range b {
			total += e.n
		}
		cut, acc := 1, 0
		for i, e := range b[:len(b)-1] {
			acc += e.n
			if 2*acc >= total {
				cut = i + 1
				break
			}
		}
		boxes[best] = b[:cut]
		boxes = append(boxes, b[cut:])
	}
	pal := make(color.Palette, len(boxes))
	for i, b := range boxes {
		var r, g, bl, n float64
		for _, e := range b {
			w := float64(e.n)
			r += w * float64(e.c.R)
			g += w * float64(e.c.G)
			bl += w * float64(e.c.B)
			n += w
		}
		pal[i] = color.RGBA{uint8(math.Round(r / n)), uint8(math.Round(g / n)), uint8(math.Round(bl / n)), 255}
	}
	return pal
}

// writeAtomic writes through a temporary file in the target folder and
// renames it into place.
func writeAtomic(path string, write func(w io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// A 5x7 bitmap font for labels: digits, letters (lower case drawn as upper
// case) and a little punctuation. Each glyph is 7 rows of 5 bits, most
// significant bit on the left.
const (
	glyphW = 5
	glyphH = 7
)

var glyphs = map[rune][glyphH]uint8{
	'0': {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, '1': {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
	'2': {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, '3': {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
	'4': {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, '5': {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
	'6': {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, '7': {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
	'8': {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, '9': {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
	'A': {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, 'B': {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},
	'C': {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}, 'D': {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},
	'E': {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, 'F': {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},
	'G': {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}, 'H': {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
	'I': {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, 'J': {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},
	'K': {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, 'L': {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},
	'M': {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}, 'N': {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},
	'O': {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, 'P': {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},
	'Q': {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}, 'R': {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},
	'S': {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, 'T': {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
	'U': {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, 'V': {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},
	'W': {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}, 'X': {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},
	'Y': {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}, 'Z': {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},
	' ': {}, '-': {0, 0, 0, 0x1F, 0, 0, 0}, '_': {0, 0, 0, 0, 0, 0, 0x1F}, '.': {0, 0, 0, 0, 0, 0x0C, 0x0C},
	':': {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0}, ',': {0, 0, 0, 0, 0x0C, 0x04, 0x08}, '/': {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0},
	'=': {0, 0, 0x1F, 0, 0x1F, 0, 0}, '+': {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0}, '(': {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},
	')': {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, '%': {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},
	'#': {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}, '?': {0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04},
}

func textWidth(lines []string, scale int) int {
	w := 0
	for _, l := range lines {
		w = max(w, len([]rune(l))*(glyphW+1)*scale)
	}
	return w
}

// drawText writes s with its top-left corner at (x, y); unknown characters
// are drawn as '?'.
func drawText(img *image.RGBA, s string, x, y, scale int, c color.RGBA) {
	for i, r := range []rune(strings.ToUpper(s)) {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['?']
		}
		for row := 0; row < glyphH; row++ {
			for col := 0; col < glyphW; col++ {
				if g[row]&(1<<(glyphW-1-col)) == 0 {
					continue
				}
				for dy := 0; dy < scale; dy++ {
					for dx := 0; dx < scale; dx++ {
						px, py := x+(i*(glyphW+1)+col)*scale+dx, y+row*scale+dy
						if image.Pt(px, py).In(img.Rect) {
							img.SetRGBA(px, py, c)
						}
					}
				}
			}
		}
	}
}
