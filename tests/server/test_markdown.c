/* libecr/server/markdown.c: Markdown to the gallery's HTML. Rendering of the
 * usual constructs, and XSS vectors that must come out inert (exact output). */
#include <stdio.h>
#include <stdlib.h>

#include "../helpers/helpers.h"

#include "libecr/server/markdown.h"

static void expect(const char *md, const char *html)
{
	ecr_buf out = ECR_BUF_INIT;
	assert_ok(ecr__markdown_html(&out, md, strlen(md)));
	assert_string_equal(out.ptr ? out.ptr : "", html);
	ecr_buf_dispose(&out);
}

#define A_REL "\" rel=\"nofollow noopener noreferrer\">"

static void test_server_markdown__headings_emphasis(void **state)
{
	(void)state;
	expect("# Title *one*\n\n## Two **b** ~~old~~ `x<y`\n\ntext\nmore  \nbreak\n",
		"<h1>Title <em>one</em></h1>\n<h2>Two <strong>b</strong> <del>old</del> <code>x&lt;y</code></h2>\n"
		"<p>text\nmore<br>\nbreak</p>\n");
	expect("---\n", "<hr>\n");
	expect("", "");
}

static void test_server_markdown__lists_quotes_code(void **state)
{
	(void)state;
	expect("- a\n- b\n\n3. c\n4. d\n", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n<ol start=\"3\">\n<li>c</li>\n<li>d</li>\n</ol>\n");
	expect("- [x] done\n- [ ] todo\n",
		"<ul>\n<li><input type=\"checkbox\" disabled checked> done</li>\n<li><input type=\"checkbox\" disabled> todo</li>\n</ul>\n");
	expect("> quoted\n", "<blockquote>\n<p>quoted</p>\n</blockquote>\n");
	expect("```sh\ndocker pull <img> && echo \"ok\"\n```\n",
		"<pre><code>docker pull &lt;img&gt; &amp;&amp; echo &quot;ok&quot;\n</code></pre>\n");
	expect("    indented\n", "<pre><code>indented\n</code></pre>\n");
}

static void test_server_markdown__tables(void **state)
{
	(void)state;
	expect("| a | b | c |\n|:---|---:|:---:|\n| 1 | <i>2</i> | 3 |\n",
		"<div class=\"md-table\"><table>\n<thead>\n<tr><th class=\"al\">a</th><th class=\"ar\">b</th><th class=\"ac\">c</th></tr>\n"
		"</thead>\n<tbody>\n<tr><td class=\"al\">1</td><td class=\"ar\">&lt;i&gt;2&lt;/i&gt;</td><td class=\"ac\">3</td></tr>\n"
		"</tbody>\n</table></div>\n");
}

static void test_server_markdown__links(void **state)
{
	(void)state;
	expect("[docs](https://example.com/a?b=1&c=2 \"The \\\"docs\\\"\")",
		"<p><a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow noopener noreferrer\" "
		"title=\"The &quot;docs&quot;\">docs</a></p>\n");
	expect("[m](mailto:a@example.com) [f](#frag) [r](/rel/path) [q](?x=1) [h](HTTP://X.ORG)",
		"<p><a href=\"mailto:a@example.com" A_REL "m</a> <a href=\"#frag" A_REL "f</a> "
		"<a href=\"/rel/path" A_REL "r</a> <a href=\"?x=1" A_REL "q</a> <a href=\"HTTP://X.ORG" A_REL "h</a></p>\n");
	expect("<https://example.com/x> and www.example.org and https://e.com/y",
		"<p><a href=\"https://example.com/x" A_REL "https://example.com/x</a> and "
		"<a href=\"http://www.example.org" A_REL "www.example.org</a> and <a href=\"https://e.com/y" A_REL
		"https://e.com/y</a></p>\n");
	/* images are links, never <img>; nested link in link is not produced */
	expect("![logo *x*](https://e.com/l.png) [![i](a.png)](b)",
		"<p><a href=\"https://e.com/l.png" A_REL "logo x</a> <a href=\"b" A_REL "i</a></p>\n");
}

static void test_server_markdown__raw_html_inert(void **state)
{
	(void)state;
	expect("a <script>alert(1)</script> b", "<p>a &lt;script&gt;alert(1)&lt;/script&gt; b</p>\n");
	expect("<script>\nalert(1)\n</script>\n", "<p>&lt;script&gt;\nalert(1)\n&lt;/script&gt;</p>\n");
	expect("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n");
	expect("<div onmouseover='x'>\n\nhi\n\n</div>",
		"<p>&lt;div onmouseover=&#39;x&#39;&gt;</p>\n<p>hi</p>\n<p>&lt;/div&gt;</p>\n");
	expect("<!-- c --> <?php x ?> <![CDATA[y]]>",
		"<p>&lt;!-- c --&gt; &lt;?php x ?&gt; &lt;![CDATA[y]]&gt;</p>\n");
	/* entities decode to text, never to markup */
	expect("&lt;script&gt; &#60;b&#62; &#x3C;i&#x3e; &copy; &bogus; &#0;",
		"<p>&lt;script&gt; &lt;b&gt; &lt;i&gt; \xC2\xA9 &amp;bogus; \xEF\xBF\xBD</p>\n");
}

static void test_server_markdown__javascript_links(void **state)
{
	(void)state;
	/* every spelling: the text stays, no link */
	expect("[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](&#106;avascript:alert(1)) "
	       "[d](java&#x09;script:x) [e](jav&#x61;script&colon;x) [f](<javascript:x>) [g](< javascript:x>) "
	       "[h](vbscript:x) [i](data:text/html;base64,PHNjcmlwdD4=) [j](&#0;javascript:x) [k](&unknown;x)",
		"<p>a b c d e f g h i j k</p>\n");
	expect("<javascript:alert(1)>", "<p>javascript:alert(1)</p>\n");
	expect("![x](javascript:alert(1)) ![y](data:image/png;base64,AAAA)", "<p>x y</p>\n");
	expect("[a](javascript:alert(1) \"t\")", "<p>a</p>\n");
	expect("[x]: javascript:alert(1)\n\n[x]", "<p>x</p>\n");
	/* a javascript: text in a good link's title is only text */
	expect("[a](/x \"\\\"><script>\")", "<p><a href=\"/x\" rel=\"nofollow noopener noreferrer\" title=\"&quot;&gt;&lt;script&gt;\">a</a></p>\n");
	/* attribute break-out attempts in the URL are escaped */
	expect("[a](https://e.com/\"onmouseover=alert(1))",
		"<p><a href=\"https://e.com/&quot;onmouseover=alert(1)" A_REL "a</a></p>\n");
	assert_false(ecr__markdown_url_ok("java\tscript:x", 13));
	assert_false(ecr__markdown_url_ok(" http://x", 9));
	assert_true(ecr__markdown_url_ok("a/b:c", 5));
	assert_false(ecr__markdown_url_ok("file:///etc/passwd", 18));
}

static void test_server_markdown__unterminated(void **state)
{
	(void)state;
	expect("[[[a](b", "<p>[[[a](b</p>\n");
	expect("[a]([b](c))", "<p><a href=\"[b](c)" A_REL "a</a></p>\n");
	expect("```\n<script>", "<pre><code>&lt;script&gt;\n</code></pre>\n");
	expect("*a **b", "<p>*a **b</p>\n");
	expect("<a href=\"javascript:x\">", "<p>&lt;a href=&quot;javascript:x&quot;&gt;</p>\n");
	expect("a\0b", "<p>a</p>\n"); /* strlen stops: C strings */
	ecr_buf out = ECR_BUF_INIT;
	assert_ok(ecr__markdown_html(&out, "a\0<b>\xff", 6));
	assert_string_equal(out.ptr, "<p>a\xEF\xBF\xBD&lt;b&gt;\xEF\xBF\xBD</p>\n");
	ecr_buf_dispose(&out);
}

static void test_server_markdown__limits(void **state)
{
	(void)state;
	ecr_buf out = ECR_BUF_INIT;
	size_t n = ECR__MARKDOWN_IN_MAX + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, 'a', n);
	assert_int_equal(ecr__markdown_html(&out, big, n), ECR_EINVALID);
	assert_int_equal(out.size, 0);
	/* a wide table whose rows multiply: bounded, or refused, never more */
	size_t at = 0;
	at += (size_t)snprintf(big + at, n - at, "|");
	while (at < 12000)
		at += (size_t)snprintf(big + at, n - at, "a|");
	at += (size_t)snprintf(big + at, n - at, "\n|");
	while (at < 24000)
		at += (size_t)snprintf(big + at, n - at, "-|");
	while (at < ECR__MARKDOWN_IN_MAX - 4)
		at += (size_t)snprintf(big + at, n - at, "\nx");
	int rc = ecr__markdown_html(&out, big, at);
	assert_true(rc == 0 || rc == ECR_ELIMIT);
	assert_true(out.size <= ECR__MARKDOWN_OUT_MAX);
	if (rc)
		assert_int_equal(out.size, 0);
	ecr_buf_dispose(&out);
	/* appends to what out holds */
	assert_ok(ecr__buf_puts(&out, "<x>"));
	assert_ok(ecr__markdown_html(&out, "*e*", 3));
	assert_string_equal(out.ptr, "<x><p><em>e</em></p>\n");
	ecr_buf_dispose(&out);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_markdown__headings_emphasis),
		cmocka_unit_test(test_server_markdown__lists_quotes_code),
		cmocka_unit_test(test_server_markdown__tables),
		cmocka_unit_test(test_server_markdown__links),
		cmocka_unit_test(test_server_markdown__raw_html_inert),
		cmocka_unit_test(test_server_markdown__javascript_links),
		cmocka_unit_test(test_server_markdown__unterminated),
		cmocka_unit_test(test_server_markdown__limits),
	};
	return cmocka_run_group_tests_name("server/markdown", tests, NULL, NULL);
}
