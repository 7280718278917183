/* Compiles ecr/upload.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/upload.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_upload_nonempty;
