/* Compiles ecr/cache.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/cache.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_cache_nonempty;
