package halo

import (
	"bytes"
	"encoding/xml"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testSeqs(n int, d Dims, seed uint64) [][]float32 {
	r := NewSplitMix64(seed)
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, d.Len())
		for k := range out[i] {
			out[i][k] = float32(r.Intn(256)) / 255
		}
	}
	return out
}

func TestGridPNG(t *testing.T) {
	d := Dims{T: 3, C: 3, H: 5, W: 4}
	seqs := testSeqs(2, d, 1)
	p := filepath.Join(t.TempDir(), "grid.png")
	if err := WriteGridPNG(p, seqs, d, GridOptions{Zoom: 2, Gap: 1}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1+3*(8+1) || b.Dy() != 1+2*(10+1) {
		t.Fatalf("size %v", b)
	}
	// Row i, column t, pixel (x, y) of the frame sits at zoom 2 after the gaps.
	for i := range seqs {
		for tt := 0; tt < d.T; tt++ {
			for y := 0; y < d.H; y++ {
				for x := 0; x < d.W; x++ {
					c := color.RGBAModel.Convert(img.At(1+tt*9+2*x+1, 1+i*11+2*y+1)).(color.RGBA)
					f := seqs[i][tt*d.FrameLen():]
					want := color.RGBA{toByte(f[y*4+x]), toByte(f[20+y*4+x]), toByte(f[40+y*4+x]), 255}
					if c != want {
						t.Fatalf("seq %d frame %d pixel (%d,%d): %v, want %v", i, tt, x, y, c, want)
					}
				}
			}
		}
	}
	// Labels add a left margin with text in it.
	lab := GridImage(seqs, d, GridOptions{Zoom: 6, RowLabels: []string{"walk 1", "slash"}})
	if lab.Bounds().Dx() <= 1+3*(24+1) {
		t.Fatalf("no room for labels: %v", lab.Bounds())
	}
	lit := 0
	for y := 0; y < lab.Bounds().Dy(); y++ {
		for x := 0; x < 20; x++ {
			if lab.RGBAAt(x, y) == (color.RGBA{230, 230, 230, 255}) {
				lit++
			}
		}
	}
	if lit < 20 {
		t.Errorf("label text has %d pixels", lit)
	}
}

func TestGIFExactAndQuantised(t *testing.T) {
	// Few colours: exact palette, pixels preserved.
	d := Dims{T: 4, C: 1, H: 6, W: 6}
	seqs := make([][]float32, 3)
	for i := range seqs {
		seqs[i] = make([]float32, d.Len())
		for k := range seqs[i] {
			seqs[i][k] = float32((k*7+i*3)%11) / 10
		}
	}
	p := filepath.Join(t.TempDir(), "a.gif")
	if err := WriteGIF(p, seqs, d, GridOptions{Columns: 2}, 10); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	g, err := gif.DecodeAll(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != d.T || g.Delay[0] != 10 {
		t.Fatalf("%d frames, delay %v", len(g.Image), g.Delay)
	}
	// Sequence 2 sits in row 1, column 0: origin (1, 1+6+1).
	for tt := 0; tt < d.T; tt++ {
		for y := 0; y < 6; y++ {
			for x := 0; x < 6; x++ {
				c := color.RGBAModel.Convert(g.Image[tt].At(1+x, 8+y)).(color.RGBA)
				v := toByte(seqs[2][tt*36+y*6+x])
				if c != (color.RGBA{v, v, v, 255}) {
					t.Fatalf("frame %d (%d,%d): %v, want grey %d", tt, x, y, c, v)
				}
			}
		}
	}
	// Many colours: median cut keeps every pixel near its colour.
	dc := Dims{T: 2, C: 3, H: 32, W: 32}
	many := testSeqs(2, dc, 5)
	imgs := GIFImages(many, dc, GridOptions{Gap: -1})
	var worst float64
	for tt, im := range imgs {
		if len(im.Palette) > 256 {
			t.Fatalf("palette of %d", len(im.Palette))
		}
		for y := 0; y < 32; y++ {
			for x := 0; x < 32; x++ {
				c := color.RGBAModel.Convert(im.At(x, y)).(color.RGBA)
				f := many[0][tt*dc.FrameLen():]
				for k, v := range []uint8{c.R, c.G, c.B} {
					e := math.Abs(float64(v) - float64(toByte(f[k*1024+y*32+x])))
					worst = max(worst, e)
				}
			}
		}
	}
	// 256 boxes over uniform random RGB: each box spans about 256/6.3 per channel.
	if worst > 80 {
		t.Errorf("median cut error up to %v levels", worst)
	}
	t.Logf("median cut: largest channel error %v of 255", worst)
}

func TestEnergySVG(t *testing.T) {
	k := []float64{1, 1.5, 2, 1.5, 1}
	pot := []float64{2, 1.5, 1, 1.5, 2}
	ns := []float64{0, 0.1, math.NaN(), -0.1, 0}
	tot := []float64{3, 3, 3, 3, 3}
	var buf bytes.Buffer
	if err := EnergyPlot(k, pot, ns, tot).WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML with one path per series and the legend names.
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	var paths []string
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "path" {
			for _, a := range se.Attr {
				if a.Name.Local == "d" {
					paths = append(paths, a.Value)
				}
			}
		}
	}
	if len(paths) != 4 {
		t.Fatalf("%d paths", len(paths))
	}
	if strings.Count(paths[2], "M") != 2 {
		t.Errorf("NaN does not break the line: %s", paths[2])
	}
	// The total (constant 3) is a horizontal line.
	f := strings.Fields(paths[3])
	if f[1] != f[len(f)-1] {
		t.Errorf("total not flat: %s", paths[3])
	}
	for _, name := range []string{"kinetic", "potential", "non-separable", "total"} {
		if !strings.Contains(buf.String(), ">"+name+"<") {
			t.Errorf("legend lacks %s", name)
		}
	}
	ticks, a, b := niceTicks(0.03, 0.97, 5)
	if a != 0 || b != 1 || len(ticks) != 6 {
		t.Errorf("ticks %v over [%v, %v]", ticks, a, b)
	}
}
