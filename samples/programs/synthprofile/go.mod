module synthprofile

go 1.21
