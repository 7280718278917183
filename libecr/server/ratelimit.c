/* placeholder: per-address rate limits (helper C replaces this file) */
#include "http.h"

int ecr_server_set_anonymous_limit(ecr_server *srv, uint32_t per_second, uint32_t burst)
{
	(void)srv;
	(void)per_second;
	(void)burst;
	return ECR_ENOTSUPPORTED;
}
