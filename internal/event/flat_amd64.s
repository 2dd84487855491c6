#include "textflag.h"

// func scanBlocks(p []byte, quotes []uint64) (odd bool)
//
// SSE2 is in every amd64 CPU, so this needs no feature check. Each 64-byte
// block of p sets one word of quotes: bit j for a '"' at byte j. odd is
// whether any byte is a backslash or below 0x20.
TEXT ·scanBlocks(SB), NOSPLIT, $0-49
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), CX
	MOVQ quotes_base+24(FP), DI

	MOVQ $0x2222222222222222, AX
	MOVQ AX, X8
	PUNPCKLQDQ X8, X8 // '"' in every byte
	MOVQ $0x5c5c5c5c5c5c5c5c, AX
	MOVQ AX, X9
	PUNPCKLQDQ X9, X9 // '\\' in every byte
	MOVQ $0x8080808080808080, AX
	MOVQ AX, X10
	PUNPCKLQDQ X10, X10 // the sign bit of every byte
	MOVQ $0xa0a0a0a0a0a0a0a0, AX
	MOVQ AX, X11
	PUNPCKLQDQ X11, X11 // 0x20 with the sign bit flipped
	PXOR X12, X12 // odd bytes seen

loop:
	CMPQ CX, $64
	JB   done
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3

	// Quotes: one mask bit per byte, four 16-bit masks into one word.
	MOVO     X0, X4
	PCMPEQB  X8, X4
	PMOVMSKB X4, AX
	MOVO     X1, X4
	PCMPEQB  X8, X4
	PMOVMSKB X4, BX
	SHLQ     $16, BX
	ORQ      BX, AX
	MOVO     X2, X4
	PCMPEQB  X8, X4
	PMOVMSKB X4, BX
	SHLQ     $32, BX
	ORQ      BX, AX
	MOVO     X3, X4
	PCMPEQB  X8, X4
	PMOVMSKB X4, BX
	SHLQ     $48, BX
	ORQ      BX, AX
	MOVQ     AX, 0(DI)

	// Backslashes.
	MOVO    X0, X4
	PCMPEQB X9, X4
	POR     X4, X12
	MOVO    X1, X4
	PCMPEQB X9, X4
	POR     X4, X12
	MOVO    X2, X4
	PCMPEQB X9, X4
	POR     X4, X12
	MOVO    X3, X4
	PCMPEQB X9, X4
	POR     X4, X12

	// Control characters: x < 0x20 unsigned is x^0x80 < 0xa0 signed.
	PXOR    X10, X0
	MOVO    X11, X5
	PCMPGTB X0, X5
	POR     X5, X12
	PXOR    X10, X1
	MOVO    X11, X5
	PCMPGTB X1, X5
	POR     X5, X12
	PXOR    X10, X2
	MOVO    X11, X5
	PCMPGTB X2, X5
	POR     X5, X12
	PXOR    X10, X3
	MOVO    X11, X5
	PCMPGTB X3, X5
	POR     X5, X12

	ADDQ $64, SI
	ADDQ $8, DI
	SUBQ $64, CX
	JMP  loop

done:
	PMOVMSKB X12, AX
	TESTL    AX, AX
	SETNE    odd+48(FP)
	RET
