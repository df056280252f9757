module growgarbage

go 1.21
