module libecr.dev/examples

go 1.19

require libecr.dev/ecr v0.0.0

replace libecr.dev/ecr => ../../bindings/go
