/* Compiles ecr/sys/transport.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/sys/transport.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_sys_transport_nonempty;
