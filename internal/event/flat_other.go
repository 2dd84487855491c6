//go:build !amd64

package event

func scanBlocks(p []byte, quotes []uint64) (odd bool) { return scanBlocksGo(p, quotes) }
