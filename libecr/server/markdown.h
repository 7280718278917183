/* Markdown (the catalog data's aboutText and usageText) to HTML that is safe
 * to put into a gallery page, and the HTML escaping the gallery uses. */
#ifndef ECR_SERVER_MARKDOWN_H
#define ECR_SERVER_MARKDOWN_H

#include "../core/core.h"

/* Bytes of Markdown accepted: ECR Public's 25600 characters, 4 bytes each at most. */
#define ECR__MARKDOWN_IN_MAX (4 * 25600)
/* Bytes of HTML produced at most (tables can multiply their input). */
#define ECR__MARKDOWN_OUT_MAX (2 * 1024 * 1024)

/*
 * Append the HTML rendering of md (CommonMark with GitHub's tables,
 * strikethrough, task lists and autolinks) to out. Raw HTML in the input is
 * shown as text; every text is escaped; links and images keep only http:,
 * https:, mailto: and relative URLs (others are shown as their text); images
 * become links (nothing is fetched by the page showing them).
 * @return 0; ECR_EINVALID (md longer than ECR__MARKDOWN_IN_MAX); ECR_ELIMIT
 *         (the HTML would exceed ECR__MARKDOWN_OUT_MAX; out is left as it was).
 */
int ecr__markdown_html(ecr_buf *out, const char *md, size_t len);

/*
 * Append s (len bytes) to out, escaped for HTML text and quoted attribute
 * values: & < > " ' become entities, NUL and invalid UTF-8 become U+FFFD.
 */
int ecr__html_escape(ecr_buf *out, const char *s, size_t len);

/* Whether a link target (already decoded) may be used as an href: http:,
 * https:, mailto: (any case) or no scheme; no whitespace or control characters. */
bool ecr__markdown_url_ok(const char *url, size_t len);

#endif
