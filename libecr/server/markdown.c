/* Markdown to safe HTML: md4c parses, this file renders. Every text is
 * escaped; raw HTML never passes (md4c is told to see none, and anything it
 * still reports as HTML is escaped); link and image targets are decoded and
 * their scheme checked; images become links so that a gallery page never
 * fetches anything from elsewhere. */
#include "markdown.h"

#include <md4c.h>
#include <stdio.h>
#include <strings.h>

/* --- escaping --- */

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

int ecr__html_escape(ecr_buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0; /* bytes [run, i) are copied as they are */
	int rc = 0;
	while (i < len) {
		const char *rep = NULL;
		size_t n = 1;
		switch (p[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '\0': rep = "\xEF\xBF\xBD"; break;
		default:
			if (p[i] >= 0x80) {
				n = utf8_len(p + i, len - i);
				if (!n) {
					rep = "\xEF\xBF\xBD";
					n = 1;
				}
			}
		}
		if (rep) {
			if ((rc = ecr__buf_put(out, s + run, i - run)) || (rc = ecr__buf_puts(out, rep)))
				return rc;
			run = i + n;
		}
		i += n;
	}
	return ecr__buf_put(out, s + run, i - run);
}

/* --- URLs --- */

bool ecr__markdown_url_ok(const char *url, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c == 0x7F)
			return false;
	}
	for (i = 0; i < len; i++) {
		char c = url[i];
		if (c == '/' || c == '?' || c == '#')
			return true; /* no scheme: relative, or a fragment */
		if (c == ':')
			break;
	}
	if (i == len)
		return true;
	return (i == 4 && strncasecmp(url, "http", 4) == 0) || (i == 5 && strncasecmp(url, "https", 5) == 0) ||
		(i == 6 && strncasecmp(url, "mailto", 6) == 0);
}

/* Named entities decoded; any other is kept as its text. */
static const struct {
	const char *name, *utf8;
} entities[] = {
	{ "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" }, { "apos", "'" }, { "colon", ":" },
	{ "sol", "/" }, { "num", "#" }, { "quest", "?" }, { "equals", "=" }, { "period", "." }, { "percnt", "%" },
	{ "lpar", "(" }, { "rpar", ")" }, { "Tab", "\t" }, { "NewLine", "\n" }, { "nbsp", "\xC2\xA0" },
	{ "copy", "\xC2\xA9" }, { "reg", "\xC2\xAE" }, { "trade", "\xE2\x84\xA2" }, { "mdash", "\xE2\x80\x94" },
	{ "ndash", "\xE2\x80\x93" }, { "hellip", "\xE2\x80\xA6" }, { "times", "\xC3\x97" },
};

/* Decode the entity text e ("&...;") into out (UTF-8). 0 when decoded, 1
 * when it is a named entity this file does not know (nothing appended). */
static int entity_decode(ecr_buf *out, const char *e, size_t len, int *rc)
{
	*rc = 0;
	if (len < 3 || e[0] != '&' || e[len - 1] != ';')
		return 1;
	if (e[1] == '#') {
		uint32_t cp = 0;
		bool hex = len > 3 && (e[2] == 'x' || e[2] == 'X');
		size_t i = hex ? 3 : 2, digits = 0;
		for (; i < len - 1; i++, digits++) {
			char c = e[i];
			uint32_t d;
			if (c >= '0' && c <= '9')
				d = (uint32_t)(c - '0');
			else if (hex && c >= 'a' && c <= 'f')
				d = (uint32_t)(c - 'a' + 10);
			else if (hex && c >= 'A' && c <= 'F')
				d = (uint32_t)(c - 'A' + 10);
			else
				return 1;
			if (cp <= 0x10FFFF)
				cp = cp * (hex ? 16 : 10) + d;
		}
		if (!digits)
			return 1;
		if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			cp = 0xFFFD;
		char u[4];
		size_t n;
		if (cp < 0x80) {
			u[0] = (char)cp;
			n = 1;
		} else if (cp < 0x800) {
			u[0] = (char)(0xC0 | (cp >> 6));
			u[1] = (char)(0x80 | (cp & 0x3F));
			n = 2;
		} else if (cp < 0x10000) {
			u[0] = (char)(0xE0 | (cp >> 12));
			u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
			u[2] = (char)(0x80 | (cp & 0x3F));
			n = 3;
		} else {
			u[0] = (char)(0xF0 | (cp >> 18));
			u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
			u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
			u[3] = (char)(0x80 | (cp & 0x3F));
			n = 4;
		}
		*rc = ecr__buf_put(out, u, n);
		return 0;
	}
	for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
		if (strlen(entities[i].name) == len - 2 && memcmp(entities[i].name, e + 1, len - 2) == 0) {
			*rc = ecr__buf_puts(out, entities[i].utf8);
			return 0;
		}
	}
	return 1;
}

/* The decoded text of an attribute into out. 1 when it holds an entity that
 * cannot be decoded (the attribute is then not used as a URL). */
static int attr_decode(ecr_buf *out, const MD_ATTRIBUTE *a, int *rc)
{
	*rc = 0;
	if (!a->text)
		return 0;
	for (int i = 0; a->substr_offsets[i] < a->size; i++) {
		const char *s = a->text + a->substr_offsets[i];
		size_t n = a->substr_offsets[i + 1] - a->substr_offsets[i];
		switch (a->substr_types[i]) {
		case MD_TEXT_ENTITY:
			if (entity_decode(out, s, n, rc))
				return 1;
			break;
		case MD_TEXT_NULLCHAR:
			*rc = ecr__buf_puts(out, "\xEF\xBF\xBD");
			break;
		default:
			*rc = ecr__buf_put(out, s, n);
		}
		if (*rc)
			return 0;
	}
	return 0;
}

/* --- rendering --- */

#define MD_SLACK 64 /* zero bytes after the input given to md4c */

typedef struct md_ctx {
	ecr_buf *out;
	size_t start;  /* out->size on entry */
	int rc;        /* the first failure */
	uint8_t *opened; /* per enclosing link or image: whether an <a> was written */
	size_t depth, cap;
	const char *base; /* the input md4c parses, and its length */
	size_t len;
	int a_open;    /* <a> elements open */
	int in_img;    /* images open: their content is alt text, no tags */
} md_ctx;

static int put(md_ctx *c, const char *s)
{
	if (!c->rc)
		c->rc = ecr__buf_puts(c->out, s);
	return c->rc;
}

static int esc(md_ctx *c, const char *s, size_t n)
{
	if (!c->rc)
		c->rc = ecr__html_escape(c->out, s, n);
	return c->rc;
}

/* Callbacks return non-zero (and md4c stops) on the first failure or when
 * the output grows past its limit. */
static int check(md_ctx *c)
{
	if (!c->rc && c->out->size - c->start > ECR__MARKDOWN_OUT_MAX)
		c->rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "the Markdown's HTML exceeds %d bytes", ECR__MARKDOWN_OUT_MAX);
	return c->rc ? 1 : 0;
}

static const char *align_class(MD_ALIGN a)
{
	switch (a) {
	case MD_ALIGN_LEFT: return " class=\"al\"";
	case MD_ALIGN_CENTER: return " class=\"ac\"";
	case MD_ALIGN_RIGHT: return " class=\"ar\"";
	default: return "";
	}
}

static int enter_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
	md_ctx *c = userdata;
	char tmp[64];
	switch (type) {
	case MD_BLOCK_DOC: break;
	case MD_BLOCK_QUOTE: put(c, "<blockquote>\n"); break;
	case MD_BLOCK_UL: put(c, "<ul>\n"); break;
	case MD_BLOCK_OL: {
		const MD_BLOCK_OL_DETAIL *d = detail;
		if (d->start == 1) {
			put(c, "<ol>\n");
		} else {
			snprintf(tmp, sizeof(tmp), "<ol start=\"%u\">\n", d->start);
			put(c, tmp);
		}
		break;
	}
	case MD_BLOCK_LI: {
		const MD_BLOCK_LI_DETAIL *d = detail;
		put(c, "<li>");
		if (d->is_task)
			put(c, (d->task_mark == 'x' || d->task_mark == 'X') ? "<input type=\"checkbox\" disabled checked> "
									    : "<input type=\"checkbox\" disabled> ");
		break;
	}
	case MD_BLOCK_HR: put(c, "<hr>\n"); break;
	case MD_BLOCK_H: {
		const MD_BLOCK_H_DETAIL *d = detail;
		snprintf(tmp, sizeof(tmp), "<h%u>", d->level >= 1 && d->level <= 6 ? d->level : 6);
		put(c, tmp);
		break;
	}
	case MD_BLOCK_CODE: put(c, "<pre><code>"); break;
	case MD_BLOCK_HTML: put(c, "<pre>"); break; /* not produced with MD_FLAG_NOHTML; escaped if it were */
	case MD_BLOCK_P: put(c, "<p>"); break;
	case MD_BLOCK_TABLE: put(c, "<div class=\"md-table\"><table>\n"); break;
	case MD_BLOCK_THEAD: put(c, "<thead>\n"); break;
	case MD_BLOCK_TBODY: put(c, "<tbody>\n"); break;
	case MD_BLOCK_TR: put(c, "<tr>"); break;
	case MD_BLOCK_TH:
	case MD_BLOCK_TD: {
		const MD_BLOCK_TD_DETAIL *d = detail;
		snprintf(tmp, sizeof(tmp), "<%s%s>", type == MD_BLOCK_TH ? "th" : "td", align_class(d->align));
		put(c, tmp);
		break;
	}
	}
	return check(c);
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
	md_ctx *c = userdata;
	char tmp[16];
	switch (type) {
	case MD_BLOCK_DOC: break;
	case MD_BLOCK_QUOTE: put(c, "</blockquote>\n"); break;
	case MD_BLOCK_UL: put(c, "</ul>\n"); break;
	case MD_BLOCK_OL: put(c, "</ol>\n"); break;
	case MD_BLOCK_LI: put(c, "</li>\n"); break;
	case MD_BLOCK_HR: break;
	case MD_BLOCK_H: {
		const MD_BLOCK_H_DETAIL *d = detail;
		snprintf(tmp, sizeof(tmp), "</h%u>\n", d->level >= 1 && d->level <= 6 ? d->level : 6);
		put(c, tmp);
		break;
	}
	case MD_BLOCK_CODE: put(c, "</code></pre>\n"); break;
	case MD_BLOCK_HTML: put(c, "</pre>\n"); break;
	case MD_BLOCK_P: put(c, "</p>\n"); break;
	case MD_BLOCK_TABLE: put(c, "</table></div>\n"); break;
	case MD_BLOCK_THEAD: put(c, "</thead>\n"); break;
	case MD_BLOCK_TBODY: put(c, "</tbody>\n"); break;
	case MD_BLOCK_TR: put(c, "</tr>\n"); break;
	case MD_BLOCK_TH: put(c, "</th>"); break;
	case MD_BLOCK_TD: put(c, "</td>"); break;
	}
	return check(c);
}

/* Open <a> for a link or image target when it is allowed and no <a> is open
 * (HTML has no links in links); note on the stack whether it was. */
static void open_link(md_ctx *c, const MD_ATTRIBUTE *href, const MD_ATTRIBUTE *title)
{
	ecr_buf url = ECR_BUF_INIT, t = ECR_BUF_INIT;
	bool opened = false;
	int rc = 0;
	if (c->depth == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		uint8_t *p = ecr__realloc(c->opened, cap);
		if (!p) {
			c->rc = ECR_ENOMEM;
			goto done;
		}
		c->opened = p;
		c->cap = cap;
	}
	if (c->a_open == 0 && c->in_img == 0) {
		int bad = attr_decode(&url, href, &rc);
		if (rc) {
			c->rc = rc;
			goto done;
		}
		if (!bad && ecr__markdown_url_ok(url.ptr ? url.ptr : "", url.size)) {
			put(c, "<a href=\"");
			esc(c, url.ptr ? url.ptr : "", url.size);
			put(c, "\" rel=\"nofollow noopener noreferrer\"");
			if (title && title->size) {
				if (attr_decode(&t, title, &rc) && !rc) {
					ecr__buf_clear(&t);
					rc = ecr__buf_put(&t, title->text, title->size); /* shown as it was written */
				}
				if (rc) {
					c->rc = rc;
					goto done;
				}
				put(c, " title=\"");
				esc(c, t.ptr, t.size);
				put(c, "\"");
			}
			put(c, ">");
			opened = true;
			c->a_open++;
		}
	}
done:
	if (c->depth < c->cap)
		c->opened[c->depth++] = opened;
	ecr_buf_dispose(&url);
	ecr_buf_dispose(&t);
}

static void close_link(md_ctx *c)
{
	if (c->depth == 0)
		return;
	if (c->opened[--c->depth]) {
		put(c, "</a>");
		c->a_open--;
	}
}

static int enter_span(MD_SPANTYPE type, void *detail, void *userdata)
{
	md_ctx *c = userdata;
	if (type == MD_SPAN_A) {
		const MD_SPAN_A_DETAIL *d = detail;
		open_link(c, &d->href, &d->title);
	} else if (type == MD_SPAN_IMG) {
		const MD_SPAN_IMG_DETAIL *d = detail;
		open_link(c, &d->src, &d->title);
		c->in_img++;
	} else if (c->in_img == 0) {
		switch (type) {
		case MD_SPAN_EM: put(c, "<em>"); break;
		case MD_SPAN_STRONG: put(c, "<strong>"); break;
		case MD_SPAN_CODE: put(c, "<code>"); break;
		case MD_SPAN_DEL: put(c, "<del>"); break;
		case MD_SPAN_U: put(c, "<u>"); break;
		default: break; /* math and wiki links are not enabled: their text only */
		}
	}
	return check(c);
}

static int leave_span(MD_SPANTYPE type, void *detail, void *userdata)
{
	md_ctx *c = userdata;
	(void)detail;
	if (type == MD_SPAN_A) {
		close_link(c);
	} else if (type == MD_SPAN_IMG) {
		c->in_img--;
		close_link(c);
	} else if (c->in_img == 0) {
		switch (type) {
		case MD_SPAN_EM: put(c, "</em>"); break;
		case MD_SPAN_STRONG: put(c, "</strong>"); break;
		case MD_SPAN_CODE: put(c, "</code>"); break;
		case MD_SPAN_DEL: put(c, "</del>"); break;
		case MD_SPAN_U: put(c, "</u>"); break;
		default: break;
		}
	}
	return check(c);
}

static int text(MD_TEXTTYPE type, const MD_CHAR *s, MD_SIZE size, void *userdata)
{
	md_ctx *c = userdata;
	/* md4c 0.4.8 can report a text range that runs past the end of the input
	 * (seen with permissive autolinks at the very end): only the input is used */
	if (s >= c->base && s <= c->base + c->len && size > (size_t)(c->base + c->len - s))
		size = (MD_SIZE)(c->base + c->len - s);
	switch (type) {
	case MD_TEXT_NULLCHAR: put(c, "\xEF\xBF\xBD"); break;
	case MD_TEXT_BR: put(c, c->in_img ? " " : "<br>\n"); break;
	case MD_TEXT_SOFTBR: put(c, c->in_img ? " " : "\n"); break;
	case MD_TEXT_ENTITY: {
		ecr_buf d = ECR_BUF_INIT;
		int rc = 0;
		if (entity_decode(&d, s, size, &rc) == 0 && !rc)
			esc(c, d.ptr, d.size);
		else if (!rc)
			esc(c, s, size);
		else
			c->rc = rc;
		ecr_buf_dispose(&d);
		break;
	}
	default: esc(c, s, size); break; /* normal, code, (raw) HTML, math: all text */
	}
	return check(c);
}

int ecr__markdown_html(ecr_buf *out, const char *md, size_t len)
{
	md_ctx c = { 0 };
	MD_PARSER parser = { 0 };
	char *copy = NULL;
	int rc = 0;
	if (len > ECR__MARKDOWN_IN_MAX)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "Markdown text of %zu bytes (at most %d)", len,
			ECR__MARKDOWN_IN_MAX);
	/* a copy with zeroed slack: md4c's own reads past the end stay in it */
	if (!(copy = ecr__calloc(1, len + MD_SLACK)))
		return ECR_ENOMEM;
	if (len)
		memcpy(copy, md, len);
	c.base = copy;
	c.len = len;
	c.out = out;
	c.start = out->size;
	parser.abi_version = 0;
	parser.flags = MD_DIALECT_GITHUB | MD_FLAG_NOHTML;
	parser.enter_block = enter_block;
	parser.leave_block = leave_block;
	parser.enter_span = enter_span;
	parser.leave_span = leave_span;
	parser.text = text;
	int prc = md_parse(copy, (MD_SIZE)len, &parser, &c);
	if (c.rc) {
		rc = c.rc;
		goto done;
	}
	if (prc != 0) {
		rc = ecr__fail(ECR_ENOMEM, ECR_ERROR_NOMEMORY, "the Markdown parser failed");
		goto done;
	}
done:
	if (rc && out->reserved) {
		out->size = c.start;
		out->ptr[out->size] = '\0';
	}
	ecr__free(c.opened);
	ecr__free(copy);
	return rc;
}
