/* Compiles ecr/server.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/server.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_server_nonempty;
