/* Compiles ecr/public.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/public.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_public_nonempty;
