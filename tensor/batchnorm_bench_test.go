package tensor

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkBatchNormCPU times the CPU batch-norm kernels at the largest
// batch norm of the rotating-MNIST decoder (128 channels of 28x28, a quarter
// of its 384 frames), beside a copy of the same tensor as the anchor.
func BenchmarkBatchNormCPU(b *testing.B) {
	a := BatchNormArgs{N: 96, C: 128, HW: 28 * 28, Eps: 1e-5, Training: true, Momentum: 0.1}
	n := a.N * a.C * a.HW
	r := rand.New(rand.NewPCG(1, 1))
	x, dy := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	be := CPU()
	gamma, beta, rm, rv := make([]float32, a.C), make([]float32, a.C), make([]float32, a.C), make([]float32, a.C)
	for i := range gamma {
		gamma[i], rv[i] = 1, 1
	}
	sm, si, y, dx := make([]float32, a.C), make([]float32, a.C), make([]float32, n), make([]float32, n)
	dg, db := make([]float32, a.C), make([]float32, a.C)
	bytes := int64(4 * n)
	b.Run("op=copy", func(b *testing.B) {
		b.SetBytes(bytes)
		for range b.N {
			be.Map(MapCopy, 0, HostBuffer(x), HostBuffer(y))
		}
	})
	b.Run("op=forward", func(b *testing.B) {
		b.SetBytes(bytes)
		for range b.N {
			be.BatchNorm(a, HostBuffer(x), HostBuffer(gamma), HostBuffer(beta), HostBuffer(rm), HostBuffer(rv),
				HostBuffer(sm), HostBuffer(si), HostBuffer(y))
		}
	})
	b.Run("op=backward", func(b *testing.B) {
		b.SetBytes(bytes)
		for range b.N {
			be.BatchNormBackward(a, HostBuffer(x), HostBuffer(dy), HostBuffer(gamma), HostBuffer(sm), HostBuffer(si),
				HostBuffer(dx), HostBuffer(dg), HostBuffer(db))
		}
	})
}
