/* Compiles ecr/webhook.h alone (C99, -pedantic): it must include everything it needs. */
#include <ecr/webhook.h>

/* ISO C forbids an empty translation unit. */
typedef int headertest_ecr_webhook_nonempty;
