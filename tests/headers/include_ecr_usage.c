/* Compiles ecr/usage.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/usage.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_usage_nonempty;
