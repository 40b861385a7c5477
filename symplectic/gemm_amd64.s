//go:build amd64 && !purego

#include "textflag.h"

// Registers in both kernels:
//   CX  k (loop counter)
//   AX  &A[0][p], R9 = &A[3][p], R8 = lda in bytes (rows 1, 2 at AX+R8, AX+2*R8)
//   BX  &B[p][0], R10 = ldb in bytes
//   DI  &C[r][0], SI = ldc in bytes
// Each k step broadcasts A[r][p] for the six rows and accumulates it times
// row p of B into the tile.

// Broadcast row R's A value into Yb and accumulate into the row's registers.
#define ROW8(ADDR, YB, C0, C1) \
	VBROADCASTSD ADDR, YB \
	VFMADD231PD Y12, YB, C0 \
	VFMADD231PD Y13, YB, C1

#define ROW4(ADDR, YB, C0) \
	VBROADCASTSD ADDR, YB \
	VFMADD231PD Y12, YB, C0

// Store one row of an 8-wide tile, adding the old C first when DX != 0.
#define STORE8(C0, C1) \
	TESTQ DX, DX \
	JZ 3(PC) \
	VADDPD (DI), C0, C0 \
	VADDPD 32(DI), C1, C1 \
	VMOVUPD C0, (DI) \
	VMOVUPD C1, 32(DI) \
	ADDQ SI, DI

#define STORE4(C0) \
	TESTQ DX, DX \
	JZ 2(PC) \
	VADDPD (DI), C0, C0 \
	VMOVUPD C0, (DI) \
	ADDQ SI, DI

#define SETUP \
	MOVQ k+0(FP), CX \
	MOVQ a+8(FP), AX \
	MOVQ lda+16(FP), R8 \
	SHLQ $3, R8 \
	LEAQ (AX)(R8*2), R9 \
	ADDQ R8, R9 \
	MOVQ b+24(FP), BX \
	MOVQ ldb+32(FP), R10 \
	SHLQ $3, R10 \
	MOVQ c+40(FP), DI \
	MOVQ ldc+48(FP), SI \
	SHLQ $3, SI \
	MOVQ acc+56(FP), DX

// func kernel6x8AVX2(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int, acc int)
TEXT ·kernel6x8AVX2(SB), NOSPLIT, $0-64
	SETUP
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	TESTQ CX, CX
	JZ store8

loop8:
	VMOVUPD (BX), Y12
	VMOVUPD 32(BX), Y13
	ROW8((AX), Y14, Y0, Y1)
	ROW8((AX)(R8*1), Y15, Y2, Y3)
	ROW8((AX)(R8*2), Y14, Y4, Y5)
	ROW8((R9), Y15, Y6, Y7)
	ROW8((R9)(R8*1), Y14, Y8, Y9)
	ROW8((R9)(R8*2), Y15, Y10, Y11)
	ADDQ $8, AX
	ADDQ $8, R9
	ADDQ R10, BX
	DECQ CX
	JNZ loop8

store8:
	STORE8(Y0, Y1)
	STORE8(Y2, Y3)
	STORE8(Y4, Y5)
	STORE8(Y6, Y7)
	STORE8(Y8, Y9)
	STORE8(Y10, Y11)
	VZEROUPPER
	RET

// func kernel6x4AVX2(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int, acc int)
TEXT ·kernel6x4AVX2(SB), NOSPLIT, $0-64
	SETUP
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	TESTQ CX, CX
	JZ store4

loop4:
	VMOVUPD (BX), Y12
	ROW4((AX), Y14, Y0)
	ROW4((AX)(R8*1), Y15, Y1)
	ROW4((AX)(R8*2), Y14, Y2)
	ROW4((R9), Y15, Y3)
	ROW4((R9)(R8*1), Y14, Y4)
	ROW4((R9)(R8*2), Y15, Y5)
	ADDQ $8, AX
	ADDQ $8, R9
	ADDQ R10, BX
	DECQ CX
	JNZ loop4

store4:
	STORE4(Y0)
	STORE4(Y1)
	STORE4(Y2)
	STORE4(Y3)
	STORE4(Y4)
	STORE4(Y5)
	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET
