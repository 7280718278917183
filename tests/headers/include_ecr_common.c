/* Compiles ecr/common.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/common.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_common_nonempty;
