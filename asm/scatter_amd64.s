//go:build amd64 && !purego

#include "textflag.h"

// func scatterAddAVX512(dst, src *float32, idx *int32, n, dstLen int, check bool) (done int)
//
// n is a multiple of 16. For sixteen values at a time: the lanes whose
// index is below dstLen as an unsigned number are gathered from dst, added
// to and scattered back. A vector in which two such lanes share an index
// would lose one of the additions, so with check the loop looks for one
// (VPCONFLICTD, which costs as much as the rest of the loop), stops before
// it and returns how many values it has done; the caller adds that vector
// in order and calls again.
TEXT ·scatterAddAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ idx+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ dstLen+32(FP), AX
	MOVBQZX check+40(FP), R8
	VPBROADCASTD AX, Z3
	XORQ BX, BX
	SHRQ $4, CX
	JZ   done

loop:
	VMOVDQU32 (DX), Z1
	VPCMPUD $1, Z3, Z1, K1 // K1 = idx < dstLen, unsigned
	TESTQ R8, R8
	JZ   add
	VPCONFLICTD Z1, Z4
	VPTESTMD Z4, Z4, K1, K2 // in-range lanes that repeat an earlier lane's index
	KORTESTW K2, K2
	JNZ  done

add:
	KMOVW K1, K3 // the gather and the scatter each clear their mask
	VPXORD Z2, Z2, Z2
	VGATHERDPS (DI)(Z1*4), K3, Z2
	VADDPS (SI), Z2, Z2
	VSCATTERDPS Z2, K1, (DI)(Z1*4)
	ADDQ $64, DX
	ADDQ $64, SI
	ADDQ $16, BX
	DECQ CX
	JNZ  loop

done:
	MOVQ BX, done+48(FP)
	VZEROUPPER
	RET
