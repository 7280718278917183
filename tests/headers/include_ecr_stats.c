/* Compiles ecr/stats.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/stats.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_stats_nonempty;
