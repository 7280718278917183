/* libmicrohttpd through a table (mhd.h): the bundled one without TLS, or
 * Debian's libmicrohttpd.so.12, opened on first need, for TLS. */
#include "../core/core.h"

#include <dlfcn.h>

#include "../core/lazy.h"
#include "ecr_config.h"
#include "mhd.h"

#if ECR_MHD_BUNDLED

/* The bundled libmicrohttpd: its MHD_x are ecr__mhd_x (subprojects/packagefiles/libmicrohttpd/ecr_build_mhd.sh). */
#define DECLARE(f) extern __typeof__(MHD_##f) ecr__mhd_##f;
ECR__MHD_FUNCS(DECLARE)
#undef DECLARE

#define ENTRY(f) .f = ecr__mhd_##f,
static const ecr__mhd bundled = {.name = "the bundled libmicrohttpd (without TLS)", ECR__MHD_FUNCS(ENTRY)};
#undef ENTRY

/* libmicrohttpd.so.12, for TLS: opened by core/lazy.c, resolved here. */
static ecr__mhd tls_mhd;

static const char *tls_resolve(void *h)
{
#define RESOLVE(f)                                                                                                     \
	if (!(tls_mhd.f = (__typeof__(tls_mhd.f))dlsym(h, "MHD_" #f)))                                                 \
		return "MHD_" #f;
	ECR__MHD_FUNCS(RESOLVE)
#undef RESOLVE
	tls_mhd.name = "libmicrohttpd.so.12";
	return NULL;
}

static void tls_clear(void)
{
	memset(&tls_mhd, 0, sizeof(tls_mhd));
}

int ecr__server_mhd(const ecr__mhd **out, bool tls)
{
	int rc;
	*out = NULL;
	if (!tls) {
		*out = &bundled;
		return 0;
	}
	if ((rc = ecr__lazy_load_with(ECR__LAZY_MHD, tls_resolve, tls_clear)) < 0)
		return rc;
	*out = &tls_mhd;
	return 0;
}

bool ecr__server_mhd_bundled(void) { return true; }

#else /* the system libmicrohttpd, linked */

#define ENTRY(f) .f = MHD_##f,
static const ecr__mhd linked = {.name = "libmicrohttpd", ECR__MHD_FUNCS(ENTRY)};
#undef ENTRY

int ecr__server_mhd(const ecr__mhd **out, bool tls)
{
	(void)tls;
	*out = &linked;
	return 0;
}

bool ecr__server_mhd_bundled(void) { return false; }

#endif
