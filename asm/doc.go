// Package asm holds the compute kernels under tensor: the SGEMM
// micro-kernels, the vector primitives of the layers and the data movement
// of convolution packing, each in x86-64 assembly beside a pure-Go twin that
// computes the same thing.
//
// The family in use is chosen once at start-up from the CPU (through
// github.com/klauspost/cpuid/v2): "avx512" (a 12x32 AVX-512F SGEMM kernel,
// the ConvTaps and WeightGradTiles direct-convolution kernels, AVX-512
// Gather, GatherPanels,
// Transpose and ScatterAdd), "avx2fma" (a
// 6x16 AVX2+FMA kernel, the AVX2 vector primitives and CutPanels) or "generic" (the
// twins). HALO_CPU=generic or HALO_CPU=avx2 asks for a lesser family, the
// purego build tag leaves the assembly out, and Impl and Why report the
// choice. Every kernel is tested against its twin or its definition in the
// same test binary, in every family the machine can run (SetImpl), with
// guard bands around the outputs.
//
// Kernels:
//
//   - SgemmKernel: one tile of C from packed A and B micro-panels.
//   - Axpy, Scale, Dot, Sum, Add, Mul, Relu, LeakyRelu and their backward
//     forms: the elementwise work of the layers.
//   - Gather and GatherPanels: values looked up through an index table,
//     padding as a negative index; im2col of narrow images.
//   - ScatterAdd: its adjoint, col2im through the same table.
//   - Transpose: the packing of transposed GEMM operands.
//   - CutPanels: the packing of plain ones, rows cut into micro-panels.
//   - ConvTaps: one tile of a direct convolution, read in place from a
//     channels-last image (HasConvTaps reports whether it is assembly).
//   - WeightGradTiles: a column of tiles of a convolution's weight
//     gradient, its input read in place the same way through a table of
//     pixel offsets.
package asm
