module libecr.dev/ecr

go 1.19
