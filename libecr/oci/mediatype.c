/* Media types: manifest kinds, comparison ignoring parameters, the
 * image-spec's descriptor media type grammar. */
#include "oci.h"

/* The "essence" of a media type: s without leading blanks, cut at ';' and
 * without trailing blanks. */
static const char *essence(const char *s, size_t *len_out)
{
	const char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = strchr(s, ';');
	if (!end)
		end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*len_out = (size_t)(end - s);
	return s;
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive comparison of the essence of s with the literal lit. */
static bool essence_is(const char *s, const char *lit)
{
	size_t len, i;
	const char *e;

	if (!s)
		return false;
	e = essence(s, &len);
	if (len != strlen(lit))
		return false;
	for (i = 0; i < len; i++)
		if (ascii_lower(e[i]) != lit[i])
			return false;
	return true;
}

bool ecr__oci_media_type_equal(const char *a, const char *b)
{
	size_t la, lb, i;
	const char *ea, *eb;

	if (!a || !b)
		return false;
	ea = essence(a, &la);
	eb = essence(b, &lb);
	if (la != lb)
		return false;
	for (i = 0; i < la; i++)
		if (ascii_lower(ea[i]) != ascii_lower(eb[i]))
			return false;
	return true;
}

ecr__manifest_kind ecr__oci_manifest_kind(const char *media_type)
{
	if (essence_is(media_type, ECR__MT_DOCKER_MANIFEST_V2))
		return ECR__MANIFEST_DOCKER_V2;
	if (essence_is(media_type, ECR__MT_DOCKER_MANIFEST_LIST))
		return ECR__MANIFEST_DOCKER_LIST;
	if (essence_is(media_type, ECR__MT_OCI_MANIFEST))
		return ECR__MANIFEST_OCI;
	if (essence_is(media_type, ECR__MT_OCI_INDEX))
		return ECR__MANIFEST_OCI_INDEX;
	return ECR__MANIFEST_UNKNOWN;
}

bool ecr__oci_kind_is_index(ecr__manifest_kind kind)
{
	return kind == ECR__MANIFEST_DOCKER_LIST || kind == ECR__MANIFEST_OCI_INDEX;
}

const char *ecr__oci_kind_media_type(ecr__manifest_kind kind)
{
	switch (kind) {
	case ECR__MANIFEST_DOCKER_V2:
		return ECR__MT_DOCKER_MANIFEST_V2;
	case ECR__MANIFEST_DOCKER_LIST:
		return ECR__MT_DOCKER_MANIFEST_LIST;
	case ECR__MANIFEST_OCI:
		return ECR__MT_OCI_MANIFEST;
	case ECR__MANIFEST_OCI_INDEX:
		return ECR__MT_OCI_INDEX;
	case ECR__MANIFEST_UNKNOWN:
		break;
	}
	return NULL;
}

bool ecr__oci_media_type_is_schema1(const char *media_type)
{
	return essence_is(media_type, ECR__MT_DOCKER_MANIFEST_V1) ||
	       essence_is(media_type, ECR__MT_DOCKER_MANIFEST_V1_SIGNED);
}

static bool restricted_first(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool restricted_char(char c)
{
	return restricted_first(c) || (c != '\0' && strchr("!#$&^_.+-", c) != NULL);
}

/* One restricted-name of 1..127 characters; returns its length or 0. */
static size_t restricted_name(const char *s)
{
	size_t n = 0;

	if (!restricted_first(s[0]))
		return 0;
	for (n = 1; restricted_char(s[n]); n++)
		if (n >= 127)
			return 0;
	return n;
}

bool ecr__oci_media_type_valid(const char *media_type)
{
	size_t n;

	if (!media_type)
		return false;
	n = restricted_name(media_type);
	if (n == 0 || media_type[n] != '/')
		return false;
	media_type += n + 1;
	n = restricted_name(media_type);
	return n > 0 && media_type[n] == '\0';
}
