//go:build go1.24

package main

// resetProfileSampler: from Go 1.24 mallocgc notices a changed
// MemProfileRate (mcache.memProfRate) and redraws the sampling point itself.
func resetProfileSampler() {}
