/* Compiles ecr/errors.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/errors.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_errors_nonempty;
