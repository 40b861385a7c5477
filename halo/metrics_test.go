package halo

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/halo-ml/halo/tensor"
)

const metricsDir = "../testdata/metrics"

func readNPY32(t testing.TB, path string) ([]float32, []int) {
	t.Helper()
	a, err := tensor.ReadNPY(path)
	if err != nil {
		t.Fatal(err)
	}
	return a.Float32s(), a.Shape
}

type metricsFixture struct {
	Pairs []struct {
		Name            string
		MSE, PSNR, SSIM float64
	}
	Set struct {
		PerFrame  [][][3]float64 `json:"per_frame"`
		Mean      [3]float64
		Std       [3]float64
		MeanFrom1 [3]float64 `json:"mean_from1"`
		StdFrom1  [3]float64 `json:"std_from1"`
	}
}

func loadMetricsFixture(t *testing.T) metricsFixture {
	raw, err := os.ReadFile(filepath.Join(metricsDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f metricsFixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestMetricsMatchSkimage compares MSE, PSNR and SSIM with scikit-image on
// the committed frame pairs; the bar is 1e-6 absolute.
func TestMetricsMatchSkimage(t *testing.T) {
	f := loadMetricsFixture(t)
	if len(f.Pairs) < 10 {
		t.Fatalf("%d pairs", len(f.Pairs))
	}
	var worst [3]float64
	for _, p := range f.Pairs {
		x, shape := readNPY32(t, filepath.Join(metricsDir, p.Name+"_x.npy"))
		y, _ := readNPY32(t, filepath.Join(metricsDir, p.Name+"_y.npy"))
		got := ScoreFrame(x, y, shape[0], shape[1], shape[2])
		for k, pair := range [][2]float64{{got.MSE, p.MSE}, {got.PSNR, p.PSNR}, {got.SSIM, p.SSIM}} {
			e := math.Abs(pair[0] - pair[1])
			worst[k] = max(worst[k], e)
			if !(e <= 1e-6) {
				t.Errorf("%s: metric %d = %.12g, skimage %.12g (|diff| %.3g)", p.Name, k, pair[0], pair[1], e)
			}
		}
	}
	t.Logf("largest |diff| from skimage: MSE %.3g, PSNR %.3g, SSIM %.3g", worst[0], worst[1], worst[2])
}

func TestSetScoresMatchNumPy(t *testing.T) {
	f := loadMetricsFixture(t)
	truth, shape := readNPY32(t, filepath.Join(metricsDir, "set_truth.npy"))
	pred, _ := readNPY32(t, filepath.Join(metricsDir, "set_pred.npy"))
	d := Dims{T: shape[1], C: shape[2], H: shape[3], W: shape[4]}
	var s SetScores
	for n := 0; n < shape[0]; n++ {
		s.Add(pred[n*d.Len():(n+1)*d.Len()], truth[n*d.Len():(n+1)*d.Len()], d)
	}
	for n, seq := range f.Set.PerFrame {
		for tt, want := range seq {
			got := s.Frames[n][tt]
			if math.Abs(got.MSE-want[0]) > 1e-6 || math.Abs(got.PSNR-want[1]) > 1e-6 || math.Abs(got.SSIM-want[2]) > 1e-6 {
				t.Errorf("sequence %d frame %d: %+v, want %v", n, tt, got, want)
			}
		}
	}
	check := func(name string, sum SetSummary, mean, std [3]float64) {
		got := [][2]float64{{sum.MSE.Mean, mean[0]}, {sum.PSNR.Mean, mean[1]}, {sum.SSIM.Mean, mean[2]},
			{sum.MSE.Std, std[0]}, {sum.PSNR.Std, std[1]}, {sum.SSIM.Std, std[2]}}
		for k, g := range got {
			if math.Abs(g[0]-g[1]) > 1e-6 {
				t.Errorf("%s: value %d = %.12g, numpy %.12g", name, k, g[0], g[1])
			}
		}
	}
	check("all frames", s.Summary(0, 0), f.Set.Mean, f.Set.Std)
	check("frames 1..", s.Summary(1, 0), f.Set.MeanFrom1, f.Set.StdFrom1)
	if pf := s.PerFrame(); len(pf) != d.T {
		t.Errorf("PerFrame has %d frames", len(pf))
	}
}

func TestSSIMPanicsOnSmallFrames(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("no panic for a 6x6 frame")
		}
	}()
	SSIM(make([]float32, 36), make([]float32, 36), 1, 6, 6)
}

func BenchmarkSSIM64x64x3(b *testing.B) {
	x, _ := readNPY32(b, filepath.Join(metricsDir, "smooth_noise_x.npy"))
	y, _ := readNPY32(b, filepath.Join(metricsDir, "smooth_noise_y.npy"))
	for b.Loop() {
		SSIM(x, y, 3, 64, 64)
	}
}
