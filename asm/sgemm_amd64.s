//go:build amd64 && !purego

#include "textflag.h"

// One k step of the 6x16 micro-kernel: load a 16-wide row of packed B into
// Y12:Y13, broadcast each of the 6 packed A values and accumulate into
// Y0..Y11 (row r in Y(2r), Y(2r+1)). AO and BO are byte offsets into the
// A and B panels.
#define STEP(AO, BO) \
	VMOVUPS BO(BX), Y12 \
	VMOVUPS (BO+32)(BX), Y13 \
	VBROADCASTSS AO(AX), Y14 \
	VFMADD231PS Y12, Y14, Y0 \
	VFMADD231PS Y13, Y14, Y1 \
	VBROADCASTSS (AO+4)(AX), Y15 \
	VFMADD231PS Y12, Y15, Y2 \
	VFMADD231PS Y13, Y15, Y3 \
	VBROADCASTSS (AO+8)(AX), Y14 \
	VFMADD231PS Y12, Y14, Y4 \
	VFMADD231PS Y13, Y14, Y5 \
	VBROADCASTSS (AO+12)(AX), Y15 \
	VFMADD231PS Y12, Y15, Y6 \
	VFMADD231PS Y13, Y15, Y7 \
	VBROADCASTSS (AO+16)(AX), Y14 \
	VFMADD231PS Y12, Y14, Y8 \
	VFMADD231PS Y13, Y14, Y9 \
	VBROADCASTSS (AO+20)(AX), Y15 \
	VFMADD231PS Y12, Y15, Y10 \
	VFMADD231PS Y13, Y15, Y11

// Store one row of the tile: C[row] = acc (beta == 0).
#define STORE(R0, R1) \
	VMOVUPS R0, (DI) \
	VMOVUPS R1, 32(DI) \
	ADDQ SI, DI

// Update one row of the tile: C[row] = acc + beta*C[row] (beta in Y15).
#define UPDATE(R0, R1) \
	VFMADD231PS (DI), Y15, R0 \
	VFMADD231PS 32(DI), Y15, R1 \
	VMOVUPS R0, (DI) \
	VMOVUPS R1, 32(DI) \
	ADDQ SI, DI

// func sgemmKernel6x16AVX2(k int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel6x16AVX2(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), SI
	SHLQ $2, SI

	// Start fetching the C tile now: it is needed only after the k loop,
	// and for large C its rows are far apart and out of cache.
	MOVQ DI, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ SI, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ SI, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ SI, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ SI, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)
	ADDQ SI, R8
	PREFETCHT0 (R8)
	PREFETCHT0 60(R8)

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, DX
	SHRQ $2, DX
	ANDQ $3, CX
	TESTQ DX, DX
	JZ   tail

loop4:
	PREFETCHT0 1024(BX)
	PREFETCHT0 384(AX)
	STEP(0, 0)
	STEP(24, 64)
	PREFETCHT0 1088(BX)
	STEP(48, 128)
	STEP(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	DECQ DX
	JNZ  loop4

tail:
	TESTQ CX, CX
	JZ    epilogue

loop1:
	STEP(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  loop1

epilogue:
	VBROADCASTSS alpha+40(FP), Y14
	VMULPS Y14, Y0, Y0
	VMULPS Y14, Y1, Y1
	VMULPS Y14, Y2, Y2
	VMULPS Y14, Y3, Y3
	VMULPS Y14, Y4, Y4
	VMULPS Y14, Y5, Y5
	VMULPS Y14, Y6, Y6
	VMULPS Y14, Y7, Y7
	VMULPS Y14, Y8, Y8
	VMULPS Y14, Y9, Y9
	VMULPS Y14, Y10, Y10
	VMULPS Y14, Y11, Y11

	// beta == 0 must not read C (it may hold NaN); a NaN beta is not zero.
	VBROADCASTSS beta+44(FP), Y15
	VXORPS  X13, X13, X13
	UCOMISS X13, X15
	JPS     update
	JNE     update

	STORE(Y0, Y1)
	STORE(Y2, Y3)
	STORE(Y4, Y5)
	STORE(Y6, Y7)
	STORE(Y8, Y9)
	STORE(Y10, Y11)
	VZEROUPPER
	RET

update:
	UPDATE(Y0, Y1)
	UPDATE(Y2, Y3)
	UPDATE(Y4, Y5)
	UPDATE(Y6, Y7)
	UPDATE(Y8, Y9)
	UPDATE(Y10, Y11)
	VZEROUPPER
	RET
