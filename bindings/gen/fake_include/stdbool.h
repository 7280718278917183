/* Stand-in for <stdbool.h> when pycparser reads the public headers (bindings/gen). */
#ifndef ECR_FAKE_STDBOOL_H
#define ECR_FAKE_STDBOOL_H
typedef _Bool bool;
#define true 1
#define false 0
#endif
