//go:build go1.25 && (goexperiment.swissmap || go1.26)

package main

const hasTombstonePossible = true
