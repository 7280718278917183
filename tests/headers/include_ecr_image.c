/* Compiles ecr/image.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/image.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_image_nonempty;
