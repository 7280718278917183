/* Compiles ecr/auth.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/auth.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_auth_nonempty;
