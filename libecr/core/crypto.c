/* HMAC (mbedTLS), base64 (mbedTLS, with a strict RFC 4648 check in front),
 * base64url on top of it, hex, random bytes and UUIDs (getrandom). */
#include "core.h"

#include <errno.h>
#include <sys/random.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>

#include "crypto.h"

/* ---- HMAC ---- */

static int hmac(unsigned char *out, mbedtls_md_type_t type, const void *key, size_t keylen, const void *msg,
		size_t msglen)
{
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(type);
	static const unsigned char empty[1] = { 0 };
	int rc;

	if (!info)
		return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "mbedTLS has no %s", type == MBEDTLS_MD_SHA512 ? "SHA-512" : "SHA-256");
	rc = mbedtls_md_hmac(info, keylen ? key : empty, keylen, msglen ? msg : empty, msglen, out);
	if (rc)
		return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "mbedtls_md_hmac failed (-0x%04x)", (unsigned)-rc);
	return 0;
}

int ecr__hmac_sha256(unsigned char out[32], const void *key, size_t keylen, const void *msg, size_t msglen)
{
	return hmac(out, MBEDTLS_MD_SHA256, key, keylen, msg, msglen);
}

int ecr__hmac_sha512(unsigned char out[64], const void *key, size_t keylen, const void *msg, size_t msglen)
{
	return hmac(out, MBEDTLS_MD_SHA512, key, keylen, msg, msglen);
}

int ecr__memeq_ct(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *pa = a, *pb = b;
	unsigned char diff = 0;
	for (size_t i = 0; i < len; i++)
		diff |= (unsigned char)(pa[i] ^ pb[i]);
	return diff != 0;
}

/* ---- base64 ---- */

/* Length of the padded encoding of len bytes, or SIZE_MAX on overflow. */
static size_t b64_encoded_len(size_t len)
{
	size_t groups = len / 3 + (len % 3 != 0), n;
	if (ecr__mul_overflow(groups, 4, &n))
		return SIZE_MAX;
	return n;
}

int ecr__base64_encode(ecr_buf *out, const void *data, size_t len)
{
	size_t n = b64_encoded_len(len), target, olen = 0;
	int rc;

	if (n == SIZE_MAX || ecr__add_overflow(out->size, n, &target))
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "base64 input too large");
	if ((rc = ecr__buf_grow(out, target)) != 0)
		return rc;
	if (len == 0)
		return 0;
	/* mbedTLS writes a NUL after the text: the buffer has room (grow adds 1). */
	rc = mbedtls_base64_encode((unsigned char *)out->ptr + out->size, n + 1, &olen, data, len);
	if (rc || olen != n) {
		out->ptr[out->size] = '\0';
		return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "mbedtls_base64_encode failed (-0x%04x)", (unsigned)-rc);
	}
	out->size = target;
	out->ptr[out->size] = '\0';
	return 0;
}

static int b64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Strict RFC 4648 check (mbedTLS accepts line breaks and spaces): a multiple
 * of 4 characters of the alphabet, at most two '=' at the very end. */
static int b64_check(const char *s, size_t len)
{
	size_t pad = 0;
	if (len % 4 != 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid base64: length %zu is not a multiple of 4", len);
	if (len >= 1 && s[len - 1] == '=')
		pad++;
	if (len >= 2 && s[len - 2] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++) {
		if (b64_value((unsigned char)s[i], false) < 0)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid base64: bad character at offset %zu", i);
	}
	return 0;
}

/* Decode padded standard base64 of s (already checked) and append to out. */
static int b64_decode_append(ecr_buf *out, const char *s, size_t len)
{
	size_t n = len / 4 * 3, target, olen = 0, old = out->size;
	int rc;

	if (len == 0)
		return ecr__buf_grow(out, out->size);
	if (ecr__add_overflow(out->size, n, &target))
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "base64 input too large");
	if ((rc = ecr__buf_grow(out, target)) != 0)
		return rc;
	rc = mbedtls_base64_decode((unsigned char *)out->ptr + old, n, &olen, (const unsigned char *)s, len);
	if (rc) {
		out->ptr[old] = '\0';
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid base64 (mbedTLS -0x%04x)", (unsigned)-rc);
	}
	out->size = old + olen;
	out->ptr[out->size] = '\0';
	return 0;
}

int ecr__base64_decode(ecr_buf *out, const char *s, size_t len)
{
	int rc = b64_check(s, len);
	if (rc)
		return rc;
	return b64_decode_append(out, s, len);
}

int ecr__base64url_encode(ecr_buf *out, const void *data, size_t len)
{
	size_t start = out->size;
	int rc = ecr__base64_encode(out, data, len);
	if (rc)
		return rc;
	for (size_t i = start; i < out->size; i++) {
		if (out->ptr[i] == '+')
			out->ptr[i] = '-';
		else if (out->ptr[i] == '/')
			out->ptr[i] = '_';
	}
	while (out->size > start && out->ptr[out->size - 1] == '=')
		out->size--;
	if (out->reserved)
		out->ptr[out->size] = '\0';
	return 0;
}

int ecr__base64url_decode(ecr_buf *out, const char *s, size_t len)
{
	char *tmp = NULL;
	size_t padded;
	int rc;

	if (len % 4 == 1)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid base64url: impossible length %zu", len);
	if (ecr__add_overflow(len, 3, &padded))
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "base64url input too large");
	padded &= ~(size_t)3;
	/* translate into the standard alphabet, with padding, for mbedTLS */
	if (!(tmp = ecr__malloc(padded ? padded : 1)))
		return ECR_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)s[i], true);
		if (v < 0) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid base64url: bad character at offset %zu", i);
			goto done;
		}
		tmp[i] = v == 62 ? '+' : v == 63 ? '/' : s[i];
	}
	for (size_t i = len; i < padded; i++)
		tmp[i] = '=';
	rc = b64_decode_append(out, tmp, padded);
done:
	ecr__free(tmp);
	return rc;
}

void ecr__hex_encode(char *out, const unsigned char *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 15];
	}
	out[2 * len] = '\0';
}

/* ---- randomness ---- */

int ecr__random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ecr__fail_os(ECR_ERROR, errno, "getrandom failed");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ecr__uuid_v4(char out[37])
{
	unsigned char b[16];
	char hex[33];
	int rc = ecr__random_bytes(b, sizeof(b));
	if (rc)
		return rc;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	ecr__hex_encode(hex, b, sizeof(b));
	memcpy(out, hex, 8);
	out[8] = '-';
	memcpy(out + 9, hex + 8, 4);
	out[13] = '-';
	memcpy(out + 14, hex + 12, 4);
	out[18] = '-';
	memcpy(out + 19, hex + 16, 4);
	out[23] = '-';
	memcpy(out + 24, hex + 20, 12);
	out[36] = '\0';
	return 0;
}
