/* Compiles ecr/policy.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/policy.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_policy_nonempty;
