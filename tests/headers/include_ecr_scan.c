/* Compiles ecr/scan.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/scan.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_scan_nonempty;
