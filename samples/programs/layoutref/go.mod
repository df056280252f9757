module layoutref

go 1.21
