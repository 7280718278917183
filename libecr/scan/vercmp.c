/* Version comparison of the three package formats, written from their
 * documentation:
 * - dpkg: deb-version(7) ([epoch:]upstream[-revision]; letters sort before
 *   non-letters, '~' before everything even the end, digit runs numerically);
 * - apk: apk-tools' version rules (numbers separated by dots, one optional
 *   letter, suffixes _alpha < _beta < _pre < _rc < release < _cvs < _svn <
 *   _git < _hg < _p, each with an optional number, then -rN);
 * - rpm: rpmvercmp (alphanumeric segments, separators ignored, digits beat
 *   letters, '~' sorts before anything, '^' after the end but before any
 *   other segment) on epoch, version and release.
 * Numbers of any length are compared exactly (no integer overflow); every
 * function is total over arbitrary strings. */
#include "scan_internal.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}
static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int sign(int x)
{
	return (x > 0) - (x < 0);
}

/* Compare the digit runs a[0..an) and b[0..bn) as numbers. */
static int numcmp(const char *a, size_t an, const char *b, size_t bn)
{
	while (an && *a == '0')
		a++, an--;
	while (bn && *b == '0')
		b++, bn--;
	if (an != bn)
		return an < bn ? -1 : 1;
	return an ? sign(memcmp(a, b, an)) : 0;
}

/* --- dpkg --- */

typedef struct span {
	const char *p;
	size_t n;
} span;

static int dpkg_order(int c)
{
	if (c == 0 || is_digit((char)c))
		return 0;
	if (is_alpha((char)c))
		return c;
	if (c == '~')
		return -1;
	return c + 256;
}

/* deb-version(7)'s comparison of an upstream version or a revision. */
static int dpkg_verrevcmp(span a, span b)
{
	size_t i = 0, j = 0;
	while (i < a.n || j < b.n) {
		/* the non-digit prefixes, character by character (the end counts as 0) */
		while ((i < a.n && !is_digit(a.p[i])) || (j < b.n && !is_digit(b.p[j]))) {
			int ac = i < a.n ? dpkg_order((unsigned char)a.p[i]) : 0;
			int bc = j < b.n ? dpkg_order((unsigned char)b.p[j]) : 0;
			if (ac != bc)
				return ac < bc ? -1 : 1;
			if (i < a.n && !is_digit(a.p[i]))
				i++;
			if (j < b.n && !is_digit(b.p[j]))
				j++;
		}
		size_t is = i, js = j;
		while (i < a.n && is_digit(a.p[i]))
			i++;
		while (j < b.n && is_digit(b.p[j]))
			j++;
		int r = numcmp(a.p + is, i - is, b.p + js, j - js);
		if (r)
			return r;
	}
	return 0;
}

typedef struct evr {
	span epoch, version, release;
} evr;

/* Split [epoch:]version[-release]: the epoch is the digits before the first ':'
 * (when they are all digits), the release what follows the last '-'. */
static evr split_evr(const char *s)
{
	evr e = {{"", 0}, {s, strlen(s)}, {"", 0}};
	const char *colon = strchr(s, ':');
	if (colon) {
		bool digits = colon > s;
		for (const char *p = s; p < colon; p++)
			digits = digits && is_digit(*p);
		if (digits) {
			e.epoch.p = s;
			e.epoch.n = (size_t)(colon - s);
			e.version.p = colon + 1;
			e.version.n = strlen(colon + 1);
		}
	}
	const char *dash = NULL;
	for (size_t k = 0; k < e.version.n; k++)
		if (e.version.p[k] == '-')
			dash = e.version.p + k;
	if (dash) {
		e.release.p = dash + 1;
		e.release.n = e.version.n - (size_t)(dash - e.version.p) - 1;
		e.version.n = (size_t)(dash - e.version.p);
	}
	return e;
}

int ecr__vercmp_dpkg(const char *a, const char *b)
{
	if (!a || !b)
		return a ? 1 : b ? -1 : 0;
	evr x = split_evr(a), y = split_evr(b);
	int r = numcmp(x.epoch.p, x.epoch.n, y.epoch.p, y.epoch.n);
	if (!r)
		r = dpkg_verrevcmp(x.version, y.version);
	if (!r)
		r = dpkg_verrevcmp(x.release, y.release); /* an absent revision compares like "" (== "0") */
	return r;
}

/* --- rpm --- */

static bool rpm_alnum(char c)
{
	return is_digit(c) || is_alpha(c);
}

/* rpmvercmp over a[0..an) and b[0..bn). */
static int rpmvercmp_span(span a, span b)
{
	size_t i = 0, j = 0;
	if (a.n == b.n && memcmp(a.p, b.p, a.n) == 0)
		return 0;
	while (i < a.n || j < b.n) {
		while (i < a.n && !rpm_alnum(a.p[i]) && a.p[i] != '~' && a.p[i] != '^')
			i++;
		while (j < b.n && !rpm_alnum(b.p[j]) && b.p[j] != '~' && b.p[j] != '^')
			j++;
		bool at = i < a.n, bt = j < b.n;
		/* '~' sorts before everything, the end included */
		if ((at && a.p[i] == '~') || (bt && b.p[j] == '~')) {
			if (!at || a.p[i] != '~')
				return 1;
			if (!bt || b.p[j] != '~')
				return -1;
			i++, j++;
			continue;
		}
		/* '^' sorts after the end, but before any other segment */
		if ((at && a.p[i] == '^') || (bt && b.p[j] == '^')) {
			if (!at)
				return -1;
			if (!bt)
				return 1;
			if (a.p[i] != '^')
				return 1;
			if (b.p[j] != '^')
				return -1;
			i++, j++;
			continue;
		}
		if (!at || !bt)
			break;
		size_t is = i, js = j;
		bool num = is_digit(a.p[i]);
		if (num) {
			while (i < a.n && is_digit(a.p[i]))
				i++;
			while (j < b.n && is_digit(b.p[j]))
				j++;
		} else {
			while (i < a.n && is_alpha(a.p[i]))
				i++;
			while (j < b.n && is_alpha(b.p[j]))
				j++;
		}
		/* segments of different kinds: the numeric one is newer */
		if (j == js)
			return num ? 1 : -1;
		int r;
		if (num) {
			r = numcmp(a.p + is, i - is, b.p + js, j - js);
		} else {
			size_t an = i - is, bn = j - js, m = an < bn ? an : bn;
			r = sign(memcmp(a.p + is, b.p + js, m));
			if (!r && an != bn)
				r = an < bn ? -1 : 1;
		}
		if (r)
			return r;
	}
	bool at = i < a.n, bt = j < b.n;
	if (!at && !bt)
		return 0;
	return at ? 1 : -1; /* the one with something left is newer */
}

int ecr__vercmp_rpm(const char *a, const char *b)
{
	if (!a || !b)
		return a ? 1 : b ? -1 : 0;
	evr x = split_evr(a), y = split_evr(b);
	int r = numcmp(x.epoch.p, x.epoch.n, y.epoch.p, y.epoch.n); /* absent epoch == 0 */
	if (!r)
		r = rpmvercmp_span(x.version, y.version);
	/* An absent release is empty, older than any release (as rpm's labelCompare does); OSV's
	 * events for rpm ecosystems always carry the release. */
	if (!r)
		r = rpmvercmp_span(x.release, y.release);
	return r;
}

/* --- apk --- */

enum apk_tok {
	APK_NUM = 0,    /* a number (the first, or after '.') */
	APK_LETTER = 1, /* one letter after a number */
	APK_SUFFIX = 2, /* _alpha ... _p */
	APK_SUFFIX_NO = 3,
	APK_REVISION = 4, /* -rN */
	APK_END = 5,
	APK_INVALID = 6
};

typedef struct apk_iter {
	const char *p, *end;
	enum apk_tok next; /* the kind of the next token */
	bool first;
} apk_iter;

typedef struct apk_token {
	enum apk_tok kind;
	span text;         /* the digits of a number, the letter */
	int suffix;        /* -4.. -1 pre-release suffixes, 0..4 post-release */
	bool leading_zero; /* a number after '.' starting with 0 */
} apk_token;

static const char *const apk_pre[] = {"alpha", "beta", "pre", "rc"};
static const char *const apk_post[] = {"cvs", "svn", "git", "hg", "p"};

/* Decide the kind of the token at it->p, consuming its separator. */
static void apk_classify(apk_iter *it, enum apk_tok prev)
{
	if (it->p >= it->end) {
		it->next = APK_END;
		return;
	}
	char c = *it->p;
	if ((prev == APK_NUM) && c >= 'a' && c <= 'z') {
		it->next = APK_LETTER;
	} else if (prev == APK_SUFFIX && is_digit(c)) {
		it->next = APK_SUFFIX_NO;
	} else if (c == '.' && (prev == APK_NUM) && it->p + 1 < it->end && is_digit(it->p[1])) {
		it->p++;
		it->next = APK_NUM;
	} else if (c == '_' && prev != APK_REVISION) {
		it->p++;
		it->next = APK_SUFFIX;
	} else if (c == '-' && it->p + 2 < it->end && it->p[1] == 'r' && is_digit(it->p[2]) && prev != APK_REVISION) {
		it->p += 2;
		it->next = APK_REVISION;
	} else {
		it->next = APK_INVALID;
	}
}

static void apk_next(apk_iter *it, apk_token *t)
{
	memset(t, 0, sizeof(*t));
	t->kind = it->next;
	const char *s = it->p;
	switch (it->next) {
	case APK_NUM:
	case APK_SUFFIX_NO:
	case APK_REVISION:
		while (it->p < it->end && is_digit(*it->p))
			it->p++;
		t->text.p = s;
		t->text.n = (size_t)(it->p - s);
		if (t->kind == APK_NUM && !it->first && t->text.n > 1 && s[0] == '0')
			t->leading_zero = true;
		if (t->text.n == 0)
			t->kind = APK_INVALID;
		break;
	case APK_LETTER:
		t->text.p = it->p++;
		t->text.n = 1;
		break;
	case APK_SUFFIX: {
		size_t left = (size_t)(it->end - it->p);
		bool found = false;
		for (int k = 0; k < 4 && !found; k++) {
			size_t l = strlen(apk_pre[k]);
			if (left >= l && memcmp(it->p, apk_pre[k], l) == 0)
				t->suffix = k - 4, it->p += l, found = true;
		}
		for (int k = 0; k < 5 && !found; k++) {
			size_t l = strlen(apk_post[k]);
			if (left >= l && memcmp(it->p, apk_post[k], l) == 0)
				t->suffix = k, it->p += l, found = true;
		}
		if (!found)
			t->kind = APK_INVALID;
		break;
	}
	default:
		return; /* END and INVALID do not advance */
	}
	it->first = false;
	if (t->kind != APK_INVALID)
		apk_classify(it, t->kind);
	else
		it->next = APK_INVALID;
}

/* Two numbers after a '.' where one has a leading zero compare as decimal fractions
 * (trailing zeros stripped, then as strings), as Gentoo-derived version rules do. */
static int apk_fraccmp(span a, span b)
{
	while (a.n && a.p[a.n - 1] == '0')
		a.n--;
	while (b.n && b.p[b.n - 1] == '0')
		b.n--;
	size_t m = a.n < b.n ? a.n : b.n;
	int r = sign(memcmp(a.p, b.p, m));
	if (!r && a.n != b.n)
		r = a.n < b.n ? -1 : 1;
	return r;
}

int ecr__vercmp_apk(const char *a, const char *b)
{
	if (!a || !b)
		return a ? 1 : b ? -1 : 0;
	apk_iter x = {a, a + strlen(a), APK_NUM, true}, y = {b, b + strlen(b), APK_NUM, true};
	if (x.p == x.end)
		x.next = APK_END;
	else if (!is_digit(*x.p))
		x.next = APK_INVALID;
	if (y.p == y.end)
		y.next = APK_END;
	else if (!is_digit(*y.p))
		y.next = APK_INVALID;

	for (;;) {
		if (x.next != y.next)
			break;
		if (x.next == APK_END)
			return 0;
		if (x.next == APK_INVALID)
			break;
		apk_token s, t;
		apk_next(&x, &s);
		apk_next(&y, &t);
		if (s.kind == APK_INVALID || t.kind == APK_INVALID) {
			if (s.kind != t.kind)
				return s.kind == APK_INVALID ? -1 : 1;
			break;
		}
		int r = 0;
		switch (s.kind) {
		case APK_NUM:
			r = (s.leading_zero || t.leading_zero) ? apk_fraccmp(s.text, t.text)
			                                       : numcmp(s.text.p, s.text.n, t.text.p, t.text.n);
			break;
		case APK_SUFFIX_NO:
		case APK_REVISION:
			r = numcmp(s.text.p, s.text.n, t.text.p, t.text.n);
			break;
		case APK_LETTER:
			r = sign((unsigned char)s.text.p[0] - (unsigned char)t.text.p[0]);
			break;
		case APK_SUFFIX:
			r = sign(s.suffix - t.suffix);
			break;
		default:
			break;
		}
		if (r)
			return r;
	}
	/* Same so far and one goes on differently. */
	if (x.next == APK_INVALID || y.next == APK_INVALID) {
		if (x.next != y.next)
			return x.next == APK_INVALID ? -1 : 1;
		/* both unparseable from here: a byte comparison keeps the order total */
		return sign(strcmp(x.p, y.p));
	}
	/* a pre-release suffix is older than whatever the other has (the end included) */
	if (x.next == APK_SUFFIX) {
		apk_iter c = x;
		apk_token t;
		apk_next(&c, &t);
		if (t.kind == APK_SUFFIX && t.suffix < 0)
			return -1;
	}
	if (y.next == APK_SUFFIX) {
		apk_iter c = y;
		apk_token t;
		apk_next(&c, &t);
		if (t.kind == APK_SUFFIX && t.suffix < 0)
			return 1;
	}
	/* otherwise the kind that comes later in the order (the end last) is older */
	return x.next > y.next ? -1 : 1;
}

int ecr__vercmp(ecr__pkg_format format, const char *a, const char *b)
{
	switch (format) {
	case ECR__PKG_DPKG:
		return ecr__vercmp_dpkg(a, b);
	case ECR__PKG_APK:
		return ecr__vercmp_apk(a, b);
	case ECR__PKG_RPM:
		return ecr__vercmp_rpm(a, b);
	default:
		return a && b ? sign(strcmp(a, b)) : ecr__vercmp_dpkg(a, b);
	}
}
