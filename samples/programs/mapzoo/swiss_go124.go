//go:build goexperiment.swissmap && !go1.25

package main

// Go 1.24's maps.Map has no tombstonePossible field (the byte is padding).
const hasTombstonePossible = false
