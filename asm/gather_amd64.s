//go:build amd64 && !purego

#include "textflag.h"

// func gatherPanelsAVX512(dst, src *float32, idx *int32, panels, nr, stride, srcLen int)
//
// Gathers panels * nr values, nr a multiple of 16, storing each run of nr
// values stride values after the previous run's start (one run of n values
// for a plain Gather). Lanes whose index is not below srcLen as an unsigned
// number (negative or too large) are masked out of the gather and stay zero.
TEXT ·gatherPanelsAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ idx+16(FP), DX
	MOVQ panels+24(FP), CX
	MOVQ nr+32(FP), R8
	SHRQ $4, R8
	MOVQ stride+40(FP), R9
	SHLQ $2, R9
	MOVQ srcLen+48(FP), AX
	VPBROADCASTD AX, Z3
	TESTQ CX, CX
	JZ   pdone
	TESTQ R8, R8
	JZ   pdone

panel:
	MOVQ DI, R10
	MOVQ R8, BX

chunk:
	VMOVDQU32 (DX), Z1
	VPCMPUD $1, Z3, Z1, K1 // K1 = idx < srcLen, unsigned
	VPXORD Z2, Z2, Z2
	VGATHERDPS (SI)(Z1*4), K1, Z2
	VMOVUPS Z2, (R10)
	ADDQ $64, DX
	ADDQ $64, R10
	DECQ BX
	JNZ  chunk
	ADDQ R9, DI
	DECQ CX
	JNZ  panel

pdone:
	VZEROUPPER
	RET
