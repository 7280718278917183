/* Compiles ecr/repository.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/repository.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_repository_nonempty;
