/* placeholder: the web gallery (helper D replaces this file) */
#include "http.h"

enum MHD_Result ecr__gallery_begin(http_request *r) { return ecr__http_error(r, 404, "NOT_FOUND", "no such route"); }

enum MHD_Result ecr__gallery_body(http_request *r, const char *data, size_t len)
{
	(void)r;
	(void)data;
	(void)len;
	return MHD_YES;
}

enum MHD_Result ecr__gallery_finish(http_request *r) { return ecr__http_error(r, 404, "NOT_FOUND", "no such route"); }
