/* Compiles ecr/fsck.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/fsck.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_fsck_nonempty;
