/* Compiles ecr/lifecycle.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/lifecycle.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_lifecycle_nonempty;
