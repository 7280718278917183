/* Compiles ecr/event.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/event.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_event_nonempty;
