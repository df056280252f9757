module allocs

go 1.21
