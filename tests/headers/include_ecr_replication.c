/* Compiles ecr/replication.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/replication.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_replication_nonempty;
