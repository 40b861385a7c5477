package halo

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// A small SVG line-plot writer, enough for the energy-over-time figure of
// the paper's appendix (Figure 3). We write SVG ourselves instead of using
// gonum.org/v1/plot, whose dependency tree (fonts, PDF and LaTeX writers,
// golang.org/x/image) is far larger than one figure warrants.

// Series is one line of a plot.
type Series struct {
	Name  string
	X, Y  []float64 // equal lengths; non-finite points break the line
	Color string    // any SVG colour; "" picks from a default cycle
	Dash  bool
}

// LinePlot is a plot of one or more series against shared axes.
type LinePlot struct {
	Title, XLabel, YLabel string
	Series                []Series
	Width, Height         int // pixels; 0 = 640 x 400
}

var plotColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#000000", "#9467bd", "#ff7f0e"}

// EnergyPlot returns the figure of the energy components along a latent
// trajectory, one value per time step: kinetic, potential, non-separable
// (cross) terms and their total.
func EnergyPlot(kinetic, potential, nonSeparable, total []float64) *LinePlot {
	steps := func(n int) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(i)
		}
		return x
	}
	return &LinePlot{
		Title:  "Energy along the latent trajectory",
		XLabel: "time step",
		YLabel: "energy",
		Series: []Series{
			{Name: "kinetic", X: steps(len(kinetic)), Y: kinetic, Color: "#1f77b4"},
			{Name: "potential", X: steps(len(potential)), Y: potential, Color: "#d62728"},
			{Name: "non-separable", X: steps(len(nonSeparable)), Y: nonSeparable, Color: "#2ca02c"},
			{Name: "total", X: steps(len(total)), Y: total, Color: "#000000", Dash: true},
		},
	}
}

// niceTicks returns about n round tick values (1, 2 or 5 times a power of
// ten apart) covering [lo, hi], and the widened range.
func niceTicks(lo, hi float64, n int) (ticks []float64, a, b float64) {
	if !(hi > lo) {
		pad := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-pad, hi+pad
	}
	raw := (hi - lo) / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := p
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	a, b = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	for v := a; v <= b+step/2; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, v)
	}
	return ticks, a, b
}

func fmtTick(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// WriteSVG renders the plot as a standalone SVG document.
func (p *LinePlot) WriteSVG(w io.Writer) error {
	W, H := p.Width, p.Height
	if W <= 0 || H <= 0 {
		W, H = 640, 400
	}
	const ml, mr, mt, mb = 70, 150, 40, 50
	pw, ph := float64(W-ml-mr), float64(H-mt-mb)
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
		if len(s.X) != len(s.Y) {
			panic(fmt.Sprintf("halo: LinePlot: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y)))
		}
		for i := range s.X {
			if finite(s.X[i]) && finite(s.Y[i]) {
				xlo, xhi = math.Min(xlo, s.X[i]), math.Max(xhi, s.X[i])
				ylo, yhi = math.Min(ylo, s.Y[i]), math.Max(yhi, s.Y[i])
			}
		}
	}
	if math.IsInf(xlo, 1) {
		xlo, xhi, ylo, yhi = 0, 1, 0, 1
	}
	xt, x0, x1 := niceTicks(xlo, xhi, 8)
	yt, y0, y1 := niceTicks(ylo, yhi, 6)
	sx := func(v float64) float64 { return ml + (v-x0)/(x1-x0)*pw }
	sy := func(v float64) float64 { return mt + (1-(v-y0)/(y1-y0))*ph }

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(bw, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	for _, v := range yt {
		fmt.Fprintf(bw, `<line x1="%d" y1="%.2f" x2="%.2f" y2="%.2f" stroke="#ddd"/>`+"\n", ml, sy(v), ml+pw, sy(v))
		fmt.Fprintf(bw, `<text x="%d" y="%.2f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", ml-6, sy(v), fmtTick(v))
	}
	for _, v := range xt {
		fmt.Fprintf(bw, `<line x1="%.2f" y1="%d" x2="%.2f" y2="%.2f" stroke="#eee"/>`+"\n", sx(v), mt, sx(v), mt+ph)
		fmt.Fprintf(bw, `<text x="%.2f" y="%.2f" text-anchor="middle">%s</text>`+"\n", sx(v), mt+ph+16, fmtTick(v))
	}
	fmt.Fprintf(bw, `<rect x="%d" y="%d" width="%.2f" height="%.2f" fill="none" stroke="black"/>`+"\n", ml, mt, pw, ph)
	fmt.Fprintf(bw, `<text x="%.2f" y="%d" text-anchor="middle" font-size="15">%s</text>`+"\n", ml+pw/2, mt-14, esc(p.Title))
	fmt.Fprintf(bw, `<text x="%.2f" y="%d" text-anchor="middle">%s</text>`+"\n", ml+pw/2, H-10, esc(p.XLabel))
	fmt.Fprintf(bw, `<text x="16" y="%.2f" text-anchor="middle" transform="rotate(-90 16 %.2f)">%s</text>`+"\n", mt+ph/2, mt+ph/2, esc(p.YLabel))
	for i, s := range p.Series {
		col := s.Color
		if col == "" {
			col = plotColors[i%len(plotColors)]
		}
		dash := ""
		if s.Dash {
			dash = ` stroke-dasharray="6 4"`
		}
		var path strings.Builder
		pen := false
		for k := range s.X {
			if !finite(s.X[k]) || !finite(s.Y[k]) {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.2f %.2f ", cmd, sx(s.X[k]), sy(s.Y[k]))
			pen = true
		}
		fmt.Fprintf(bw, `<path d="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.TrimSpace(path.String()), esc(col), dash)
		ly := float64(mt + 10 + 20*i)
		fmt.Fprintf(bw, `<line x1="%.2f" y1="%.2f" x2="%.2f" y2="%.2f" stroke="%s" stroke-width="2"%s/>`+"\n", ml+pw+12, ly, ml+pw+36, ly, esc(col), dash)
		fmt.Fprintf(bw, `<text x="%.2f" y="%.2f" dominant-baseline="middle">%s</text>`+"\n", ml+pw+42, ly, esc(s.Name))
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

// WriteSVGFile writes the plot to path atomically.
func (p *LinePlot) WriteSVGFile(path string) error {
	return writeAtomic(path, p.WriteSVG)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
