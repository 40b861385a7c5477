//go:build amd64 && !purego

#include "textflag.h"

// func cutPanels16AVX2(dst, src *float32, groups, panels, lds, stride int)
//
// Copies 4*groups rows of panels*16 values (rows lds apart) into panels
// stride apart: for each group of four rows, each panel receives the
// group's 64 values as 256 contiguous bytes; see CutPanels.
TEXT ·cutPanels16AVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ panels+24(FP), DX
	MOVQ lds+32(FP), R8
	SHLQ $2, R8
	MOVQ stride+40(FP), R9
	SHLQ $2, R9
	LEAQ (R8)(R8*2), R13 // three rows

group16:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ DX, R12

panel16:
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVUPS (R10)(R8*1), Y2
	VMOVUPS 32(R10)(R8*1), Y3
	VMOVUPS (R10)(R8*2), Y4
	VMOVUPS 32(R10)(R8*2), Y5
	VMOVUPS (R10)(R13*1), Y6
	VMOVUPS 32(R10)(R13*1), Y7
	VMOVUPS Y0, (R11)
	VMOVUPS Y1, 32(R11)
	VMOVUPS Y2, 64(R11)
	VMOVUPS Y3, 96(R11)
	VMOVUPS Y4, 128(R11)
	VMOVUPS Y5, 160(R11)
	VMOVUPS Y6, 192(R11)
	VMOVUPS Y7, 224(R11)
	ADDQ $64, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  panel16

	LEAQ (SI)(R8*4), SI
	ADDQ $256, DI
	DECQ CX
	JNZ  group16
	VZEROUPPER
	RET

// func cutPanels32AVX2(dst, src *float32, groups, panels, lds, stride int)
//
// Copies 4*groups rows of panels*32 values (rows lds apart) into panels
// stride apart: for each group of four rows, each panel receives the
// group's 128 values as 512 contiguous bytes; see CutPanels.
TEXT ·cutPanels32AVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ groups+16(FP), CX
	MOVQ panels+24(FP), DX
	MOVQ lds+32(FP), R8
	SHLQ $2, R8
	MOVQ stride+40(FP), R9
	SHLQ $2, R9
	LEAQ (R8)(R8*2), R13 // three rows

group32:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ DX, R12

panel32:
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVUPS 64(R10), Y2
	VMOVUPS 96(R10), Y3
	VMOVUPS (R10)(R8*1), Y4
	VMOVUPS 32(R10)(R8*1), Y5
	VMOVUPS 64(R10)(R8*1), Y6
	VMOVUPS 96(R10)(R8*1), Y7
	VMOVUPS (R10)(R8*2), Y8
	VMOVUPS 32(R10)(R8*2), Y9
	VMOVUPS 64(R10)(R8*2), Y10
	VMOVUPS 96(R10)(R8*2), Y11
	VMOVUPS (R10)(R13*1), Y12
	VMOVUPS 32(R10)(R13*1), Y13
	VMOVUPS 64(R10)(R13*1), Y14
	VMOVUPS 96(R10)(R13*1), Y15
	VMOVUPS Y0, (R11)
	VMOVUPS Y1, 32(R11)
	VMOVUPS Y2, 64(R11)
	VMOVUPS Y3, 96(R11)
	VMOVUPS Y4, 128(R11)
	VMOVUPS Y5, 160(R11)
	VMOVUPS Y6, 192(R11)
	VMOVUPS Y7, 224(R11)
	VMOVUPS Y8, 256(R11)
	VMOVUPS Y9, 288(R11)
	VMOVUPS Y10, 320(R11)
	VMOVUPS Y11, 352(R11)
	VMOVUPS Y12, 384(R11)
	VMOVUPS Y13, 416(R11)
	VMOVUPS Y14, 448(R11)
	VMOVUPS Y15, 480(R11)
	ADDQ $128, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  panel32

	LEAQ (SI)(R8*4), SI
	ADDQ $512, DI
	DECQ CX
	JNZ  group32
	VZEROUPPER
	RET
