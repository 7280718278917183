/* libmicrohttpd through a table (mhd.h): the bundled one without TLS, or
 * Debian's libmicrohttpd.so.12, opened on first need, for TLS. */
#include "../core/core.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

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

#define TLS_SONAME "libmicrohttpd.so.12"

static ecr__mhd tls_mhd;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_state; /* under tls_once: 1 loaded, -1 failed */
static char tls_err[512];

/* Open libmicrohttpd.so.12 and resolve the table; on failure keep the message and close it. */
static void load_tls(void)
{
	void *h = dlopen(TLS_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;
	if (!h) {
		const char *e = dlerror();
		snprintf(tls_err, sizeof(tls_err), "%s", e ? e : TLS_SONAME);
		tls_state = -1;
		return;
	}
	dlerror();
#define RESOLVE(f)                                                                                                     \
	if (!missing && !(tls_mhd.f = (__typeof__(tls_mhd.f))dlsym(h, "MHD_" #f)))                                     \
		missing = "MHD_" #f;
	ECR__MHD_FUNCS(RESOLVE)
#undef RESOLVE
	if (missing) {
		snprintf(tls_err, sizeof(tls_err), "%s: no symbol %s", TLS_SONAME, missing);
		memset(&tls_mhd, 0, sizeof(tls_mhd));
		dlclose(h);
		tls_state = -1;
		return;
	}
	tls_mhd.name = TLS_SONAME;
	/* never closed: the library stays for the life of the process */
	tls_state = 1;
}

int ecr__server_mhd(const ecr__mhd **out, bool tls)
{
	*out = NULL;
	if (!tls) {
		*out = &bundled;
		return 0;
	}
	pthread_once(&tls_once, load_tls); /* its end orders tls_state and the table before what follows */
	if (tls_state < 0)
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_INTERNAL,
			"libmicrohttpd with TLS (%s, needed for HTTPS; libecr's own has none) could not be loaded: %s",
			TLS_SONAME, tls_err);
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
