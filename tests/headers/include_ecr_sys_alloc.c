/* Compiles ecr/sys/alloc.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/sys/alloc.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_sys_alloc_nonempty;
