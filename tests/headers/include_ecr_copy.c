/* Compiles ecr/copy.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/copy.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_copy_nonempty;
