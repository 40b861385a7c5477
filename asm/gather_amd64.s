//go:build amd64 && !purego

#include "textflag.h"

// func gatherAVX512(dst, src *float32, idx *int32, n, srcLen int)
//
// n is a multiple of 16. Lanes whose index is not below srcLen as an
// unsigned number (negative or too large) are masked out of the gather and
// stay zero.
TEXT ·gatherAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ idx+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ srcLen+32(FP), AX
	VPBROADCASTD AX, Z3
	SHRQ $4, CX
	JZ   done

loop:
	VMOVDQU32 (DX), Z1
	VPCMPUD $1, Z3, Z1, K1 // K1 = idx < srcLen, unsigned
	VPXORD Z2, Z2, Z2
	VGATHERDPS (SI)(Z1*4), K1, Z2
	VMOVUPS Z2, (DI)
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET
