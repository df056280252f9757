module mapzoo

go 1.21
