package event

// scanBlocks sets quotes[k] to the quote bitmap of p[64k:64k+64] for every
// whole 64-byte block of p (bit j: a '"' at byte j) and reports whether any
// of those bytes is a backslash or a control character. quotes must have a
// word per block. It is scanBlocksGo in SSE2 (flat_amd64.s).
//
//go:noescape
func scanBlocks(p []byte, quotes []uint64) (odd bool)
