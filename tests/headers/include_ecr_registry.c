/* Compiles ecr/registry.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/registry.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_registry_nonempty;
