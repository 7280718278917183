/* Stand-in for <stddef.h> when pycparser reads the public headers (bindings/gen). */
#ifndef ECR_FAKE_STDDEF_H
#define ECR_FAKE_STDDEF_H
typedef unsigned long size_t;
typedef long ptrdiff_t;
#define NULL 0
#endif
