//go:build goexperiment.mapsplitgroup

package main

// GOEXPERIMENT=mapsplitgroup (Go 1.27): groups hold 8 keys, then 8 elems.
const splitGroup = true
