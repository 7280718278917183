/* Fuzz target: the gallery's Markdown renderer (catalog data aboutText and
 * usageText, written by any pusher, shown to every visitor). Besides memory
 * safety it checks that the HTML never holds a tag or attribute the renderer
 * does not write (no <script>, no <img>, no on...= handler) and no href whose
 * scheme is not allowed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/server/markdown.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tags[] = { "a", "em", "strong", "code", "del", "u", "p", "h1", "h2", "h3", "h4", "h5", "h6",
	"ul", "ol", "li", "blockquote", "pre", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "div", "input" };

static int tag_ok(const char *p)
{
	if (*p == '/')
		p++;
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		size_t n = strlen(tags[i]);
		if (strncmp(p, tags[i], n) == 0 && (p[n] == '>' || p[n] == ' '))
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ecr_buf out = ECR_BUF_INIT;
	int rc = ecr__markdown_html(&out, (const char *)data, size);
	if (rc != 0) {
		if (rc != ECR_EINVALID && rc != ECR_ELIMIT && rc != ECR_ENOMEM)
			abort();
		if (out.size != 0)
			abort();
		ecr_buf_dispose(&out);
		return 0;
	}
	if (out.size > ECR__MARKDOWN_OUT_MAX || (out.ptr && strlen(out.ptr) != out.size))
		abort();
	for (const char *p = out.ptr; p && (p = strchr(p, '<')) != NULL; p++) {
		if (!tag_ok(p + 1))
			abort();
		/* attributes: only those the renderer writes, values quoted */
		const char *a = p + 1;
		while (*a != ' ' && *a != '>')
			a++;
		while (*a == ' ') {
			a++;
			size_t n = strspn(a, "abcdefghijklmnopqrstuvwxyz");
			static const char *const names[] = { "href", "rel", "title", "class", "start", "type", "disabled",
				"checked" };
			int known = 0;
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
				known |= strlen(names[i]) == n && strncmp(a, names[i], n) == 0;
			if (!known)
				abort();
			int is_href = n == 4 && strncmp(a, "href", 4) == 0;
			a += n;
			if (*a == '=') {
				if (a[1] != '"')
					abort();
				const char *q = strchr(a + 2, '"');
				if (!q || (is_href && !ecr__markdown_url_ok(a + 2, (size_t)(q - a - 2))))
					abort();
				a = q + 1;
			}
		}
		if (*a != '>')
			abort();
	}
	ecr_buf_dispose(&out);
	return 0;
}
