/* Compiles ecr/blob.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/blob.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_blob_nonempty;
