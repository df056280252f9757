module growgarbage

go 1.22
