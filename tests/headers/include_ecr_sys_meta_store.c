/* Compiles ecr/sys/meta_store.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/sys/meta_store.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_sys_meta_store_nonempty;
