//go:build !goexperiment.mapsplitgroup

package main

// Interleaved slots: ctrl word, then 8 × {key, elem}.
const splitGroup = false
