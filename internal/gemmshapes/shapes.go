// Package gemmshapes lists the GEMM shapes of the side-by-side anchor
// script (bench/gemm.py), for halo's GEMM benchmarks and the OpenBLAS
// comparison command.
package gemmshapes

import "fmt"

// Shape is one product C[M,N] = A[M,K] B[K,N].
type Shape struct {
	Name    string
	M, N, K int
}

// List returns the square sizes 128-2048, the rotating-MNIST and Sprites
// encoder convolutions as im2col GEMMs (M = Cout, K = Cin*k*k,
// N = frames*Hout*Wout, frames reduced so that one product is at most
// maxGflop GFLOP; 0 keeps them all) and two linear layers.
func List(maxGflop float64) []Shape {
	var out []Shape
	for _, n := range []int{128, 256, 512, 1024, 2048} {
		out = append(out, Shape{fmt.Sprintf("square_%d", n), n, n, n})
	}
	convs := []struct {
		name                             string
		frames, h, w, cin, cout, k, s, p int
	}{
		{"rotmnist_conv1", 384, 28, 28, 1, 32, 5, 2, 2},
		{"rotmnist_conv2", 384, 14, 14, 32, 64, 5, 2, 2},
		{"rotmnist_conv3", 384, 7, 7, 64, 128, 5, 2, 2},
		{"sprites_conv1", 192, 64, 64, 3, 256, 5, 1, 2},
		{"sprites_conv2", 192, 64, 64, 256, 256, 5, 2, 2},
		{"sprites_conv3", 192, 32, 32, 256, 256, 5, 2, 2},
		{"sprites_conv4", 192, 16, 16, 256, 256, 5, 2, 2},
		{"sprites_conv5", 192, 8, 8, 256, 256, 5, 1, 2},
	}
	for _, c := range convs {
		ho, wo := (c.h+2*c.p-c.k)/c.s+1, (c.w+2*c.p-c.k)/c.s+1
		m, k := c.cout, c.cin*c.k*c.k
		perFrame := 2 * float64(m) * float64(k) * float64(ho*wo) / 1e9
		frames := c.frames
		if maxGflop > 0 && perFrame*float64(frames) > maxGflop {
			frames = max(1, int(maxGflop/perFrame))
		}
		out = append(out, Shape{c.name, m, frames * ho * wo, k})
	}
	return append(out,
		Shape{"linear_384x2048x4096", 384, 4096, 2048},
		Shape{"linear_384x4096x256", 384, 256, 4096})
}
