/* Compiles ecr/buffer.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/buffer.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_buffer_nonempty;
