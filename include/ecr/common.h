/**
 * @file ecr/common.h
 * @brief Export macros, library version, global init and shutdown.
 * @defgroup ecr_common Common
 *
 * THREAD SAFETY: ecr_init() and ecr_shutdown() may be called from any thread;
 * they are reference counted.
 * @{
 */
#ifndef ECR_COMMON_H
#define ECR_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define ECR_BEGIN_DECL extern "C" {
#define ECR_END_DECL }
#else
#define ECR_BEGIN_DECL
#define ECR_END_DECL
#endif

/** Declares a public function of libecr (the one export macro). */
#if defined(ECR_BINDGEN)
#define ECR_EXTERN(type) extern type
#elif defined(_WIN32)
#define ECR_EXTERN(type) extern __declspec(dllexport) type
#elif defined(__GNUC__) && __GNUC__ >= 4
#define ECR_EXTERN(type) extern __attribute__((visibility("default"))) type
#else
#define ECR_EXTERN(type) extern type
#endif

#define ECR_VERSION_MAJOR 0
#define ECR_VERSION_MINOR 1
#define ECR_VERSION_PATCH 0

ECR_BEGIN_DECL

/**
 * The library version as "MAJOR.MINOR.PATCH", plus the digest provider it was
 * built with, e.g. "0.1.0 (sha256: libcrypto)".
 * @return a static string.
 */
ECR_EXTERN(const char *) ecr_version(void);

/**
 * Initialise the library's global state (the allocator). Reference counted:
 * every call must be matched by ecr_shutdown(). libcurl, libpq, libarchive
 * and libcrypto are loaded (dlopen) and initialised on first use, so a
 * process that never needs them never maps them; a library that cannot be
 * loaded then fails the call that needed it with ECR_ENOTSUPPORTED.
 * @return the new reference count (>= 1), or a negative ECR_E* code.
 */
ECR_EXTERN(int) ecr_init(void);

/**
 * Release one reference taken by ecr_init(); the last one frees the global
 * state.
 * @return the remaining reference count (>= 0), or a negative ECR_E* code when
 *         the library was not initialised.
 */
ECR_EXTERN(int) ecr_shutdown(void);

ECR_END_DECL
/** @} */
#endif
