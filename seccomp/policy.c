/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Seccomp policies as data: the parser of the policy files
 * (the format is in policy.h), the compiler to a libseccomp filter, and the
 * loader. The parser takes text with a length (an embedded file is not a C
 * string), bounds every length and never trusts the text: the build's
 * checker and a fuzzer run it on anything.
 */
#include "policy.h"

#include <errno.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "internal.h"

/* A placeholder and its values (several when the same name is bound several times). */
struct placeholder {
	char name[POLICY_MAX_NAME];
	size_t nvalues;
	uint64_t values[POLICY_MAX_VALUES];
};

struct parser {
	const struct policy_file *files;
	size_t nfiles;
	struct placeholder *ph;
	size_t nph;
	int dummy; /* every placeholder is POLICY_DUMMY_VALUE */
	struct policy_set *set;
	unsigned char included[POLICY_MAX_FILES];
	size_t cur; /* index of the file being parsed */
	const char *file; /* its name, for messages */
	unsigned int line; /* 0: the message is about the whole file */
	char *err;
	size_t errlen;
	int failed;
};

enum tok_kind {
	TOK_END,
	TOK_IDENT, /* [A-Za-z_][A-Za-z0-9_]* */
	TOK_NUM, /* decimal, 0x hex, optionally negative */
	TOK_PH, /* @NAME */
	TOK_CMP, /* == != < <= > >= */
	TOK_AMP, /* & */
	TOK_ANDAND, /* && */
	TOK_BAR, /* | */
	TOK_OROR, /* || */
	TOK_COLON, /* : */
};

struct tok {
	enum tok_kind kind;
	const char *s;
	size_t len;
	uint64_t num; /* TOK_NUM */
	enum policy_op op; /* TOK_CMP */
};

struct lexer {
	const char *p;
	const char *end;
};

/* One comparison as written, before placeholders with several values are expanded. */
struct cmp_src {
	struct policy_cmp cmp;
	const struct placeholder *multi; /* "argN == @NAME" with NAME bound several times */
};

static int perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->failed)
		return -EINVAL;
	ps->failed = 1;
	if (!ps->err || ps->errlen == 0)
		return -EINVAL;
	if (ps->line)
		n = snprintf(ps->err, ps->errlen, "%s:%u: ", ps->file, ps->line);
	else
		n = snprintf(ps->err, ps->errlen, "%s: ", ps->file);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* A token as it appears in a message: quoted and cut short. */
static const char *tok_desc(const struct tok *t, char *buf, size_t len)
{
	if (t->kind == TOK_END)
		return "end of line";
	snprintf(buf, len, "'%.*s'", t->len > 40 ? 40 : (int)t->len, t->s);
	return buf;
}

static int parse_number(struct parser *ps, const char *s, size_t len, uint64_t *out)
{
	int neg = 0;
	uint64_t v = 0;
	size_t i = 0;

	if (s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (len - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		i += 2;
		if (i == len)
			return perr(ps, "bad number '%.*s'", (int)len, s);
		for (; i < len; i++) {
			char c = s[i];
			unsigned int d;

			if (c >= '0' && c <= '9')
				d = (unsigned int)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned int)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned int)(c - 'A' + 10);
			else
				return perr(ps, "bad number '%.*s'", (int)len, s);
			if (v > (UINT64_MAX >> 4))
				return perr(ps, "number '%.*s' does not fit in 64 bits", (int)len, s);
			v = (v << 4) | d;
		}
	} else {
		if (len - i > 1 && s[i] == '0')
			return perr(ps, "number '%.*s' has a leading zero (octal is not supported)",
				    (int)len, s);
		for (; i < len; i++) {
			char c = s[i];

			if (c < '0' || c > '9')
				return perr(ps, "bad number '%.*s'", (int)len, s);
			if (v > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
				return perr(ps, "number '%.*s' does not fit in 64 bits", (int)len, s);
			v = v * 10 + (uint64_t)(c - '0');
		}
	}
	if (neg) {
		if (v > (1ull << 63))
			return perr(ps, "number '%.*s' does not fit in 64 bits", (int)len, s);
		v = 0 - v; /* two's complement, as a sign-extended int arrives in the register */
	}
	*out = v;
	return 0;
}

static int lex_next(struct parser *ps, struct lexer *lx, struct tok *t)
{
	const char *p = lx->p;
	const char *start;

	while (p < lx->end && is_space(*p))
		p++;
	memset(t, 0, sizeof(*t));
	t->s = p;
	if (p == lx->end) {
		lx->p = p;
		t->kind = TOK_END;
		return 0;
	}
	start = p;
	if (is_ident_start(*p)) {
		while (p < lx->end && is_ident_char(*p))
			p++;
		t->kind = TOK_IDENT;
	} else if ((*p >= '0' && *p <= '9') ||
		   (*p == '-' && p + 1 < lx->end && p[1] >= '0' && p[1] <= '9')) {
		p++;
		while (p < lx->end && is_ident_char(*p))
			p++;
		t->kind = TOK_NUM;
	} else if (*p == '@') {
		p++;
		while (p < lx->end && is_ident_char(*p))
			p++;
		if (p - start == 1)
			return perr(ps, "'@' must be followed by a placeholder name");
		t->kind = TOK_PH;
	} else if (p + 1 < lx->end && p[1] == '=' && (*p == '=' || *p == '!' || *p == '<' || *p == '>')) {
		t->kind = TOK_CMP;
		t->op = *p == '=' ? POLICY_OP_EQ
			: *p == '!' ? POLICY_OP_NE
			: *p == '<' ? POLICY_OP_LE
				    : POLICY_OP_GE;
		p += 2;
	} else if (*p == '<' || *p == '>') {
		t->kind = TOK_CMP;
		t->op = *p == '<' ? POLICY_OP_LT : POLICY_OP_GT;
		p++;
	} else if (*p == '&' || *p == '|') {
		int twice = p + 1 < lx->end && p[1] == *p;

		t->kind = *p == '&' ? (twice ? TOK_ANDAND : TOK_AMP) : (twice ? TOK_OROR : TOK_BAR);
		p += twice ? 2 : 1;
	} else if (*p == ':') {
		t->kind = TOK_COLON;
		p++;
	} else if (*p == '=') {
		return perr(ps, "unexpected '=' (comparisons use '==')");
	} else {
		return perr(ps, "unexpected character '%c'", *p);
	}
	t->len = (size_t)(p - start);
	lx->p = p;
	if ((t->kind == TOK_IDENT || t->kind == TOK_PH) && t->len >= POLICY_MAX_NAME)
		return perr(ps, "name '%.*s...' is longer than %d characters", 20, t->s,
			    POLICY_MAX_NAME - 1);
	if (t->kind == TOK_NUM)
		return parse_number(ps, t->s, t->len, &t->num);
	return 0;
}

static int lex_peek(struct parser *ps, const struct lexer *lx, struct tok *t)
{
	struct lexer copy = *lx;

	return lex_next(ps, &copy, t);
}

static struct placeholder *ph_find(const struct parser *ps, const char *name, size_t len)
{
	for (size_t i = 0; i < ps->nph; i++) {
		if (strlen(ps->ph[i].name) == len && memcmp(ps->ph[i].name, name, len) == 0)
			return &ps->ph[i];
	}
	return NULL;
}

static const struct placeholder dummy_ph = {
	.name = "(dummy)",
	.nvalues = 1,
	.values = { POLICY_DUMMY_VALUE },
};

/*
 * VALUE: terms joined by '|', each a number, a constant or a placeholder. A
 * placeholder with several values may only stand alone, and only where
 * allow_multi says so ("argN == @NAME").
 */
static int parse_value(struct parser *ps, struct lexer *lx, int allow_multi, uint64_t *value,
		       const struct placeholder **multi, int *has_ph)
{
	const struct placeholder *m = NULL;
	const struct placeholder *ph;
	unsigned int nterms = 0;
	char desc[48];
	struct tok t;
	uint64_t v;

	*value = 0;
	for (;;) {
		if (lex_next(ps, lx, &t) < 0)
			return -EINVAL;
		if (t.kind == TOK_NUM) {
			v = t.num;
		} else if (t.kind == TOK_IDENT) {
			if (policy_const_lookup(t.s, t.len, &v) < 0)
				return perr(ps, "unknown constant '%.*s'", (int)t.len, t.s);
		} else if (t.kind == TOK_PH) {
			ph = ps->dummy ? &dummy_ph : ph_find(ps, t.s + 1, t.len - 1);
			if (!ph)
				return perr(ps, "unbound placeholder '%.*s'", (int)t.len, t.s);
			if (ph->nvalues > 1)
				m = ph;
			v = ph->values[0];
			*has_ph = 1;
		} else {
			return perr(ps, "expected a number, a constant or a @placeholder, found %s",
				    tok_desc(&t, desc, sizeof(desc)));
		}
		*value |= v;
		if (++nterms > POLICY_MAX_TERMS)
			return perr(ps, "more than %d terms joined by '|'", POLICY_MAX_TERMS);
		if (lex_peek(ps, lx, &t) < 0)
			return -EINVAL;
		if (t.kind != TOK_BAR)
			break;
		(void)lex_next(ps, lx, &t);
	}
	if (m && (!allow_multi || nterms > 1))
		return perr(ps, "placeholder '@%s' is bound to %zu values: only 'argN == @%s' may use it",
			    m->name, m->nvalues, m->name);
	*multi = m;
	return 0;
}

/* COMPARISON: argN OP VALUE, or argN & MASK == VALUE. */
static int parse_cmp(struct parser *ps, struct lexer *lx, struct cmp_src *c)
{
	char desc[48];
	struct tok t;
	int has_ph = 0;

	memset(c, 0, sizeof(*c));
	if (lex_next(ps, lx, &t) < 0)
		return -EINVAL;
	if (t.kind != TOK_IDENT || t.len != 4 || memcmp(t.s, "arg", 3) != 0 || t.s[3] < '0' ||
	    t.s[3] > '5')
		return perr(ps, "expected an argument arg0 to arg5, found %s",
			    tok_desc(&t, desc, sizeof(desc)));
	c->cmp.arg = (unsigned int)(t.s[3] - '0');
	if (lex_next(ps, lx, &t) < 0)
		return -EINVAL;
	if (t.kind == TOK_AMP) {
		const struct placeholder *m = NULL;

		if (parse_value(ps, lx, 0, &c->cmp.mask, &m, &has_ph) < 0)
			return -EINVAL;
		if (lex_next(ps, lx, &t) < 0)
			return -EINVAL;
		if (t.kind != TOK_CMP || t.op != POLICY_OP_EQ)
			return perr(ps, "expected '==' after the mask, found %s",
				    tok_desc(&t, desc, sizeof(desc)));
		if (parse_value(ps, lx, 0, &c->cmp.value, &m, &has_ph) < 0)
			return -EINVAL;
		c->cmp.op = POLICY_OP_MASKED_EQ;
		if (has_ph)
			return 0;
		if (c->cmp.mask == 0)
			return perr(ps, "arg%u & 0 is always 0: the mask selects no bit", c->cmp.arg);
		if (c->cmp.value & ~c->cmp.mask)
			return perr(ps, "arg%u & 0x%llx can never be 0x%llx: the value has bits outside the mask",
				    c->cmp.arg, (unsigned long long)c->cmp.mask,
				    (unsigned long long)c->cmp.value);
		return 0;
	}
	if (t.kind != TOK_CMP)
		return perr(ps, "expected a comparison (== != < <= > >=) or '&' after arg%u, found %s",
			    c->cmp.arg, tok_desc(&t, desc, sizeof(desc)));
	c->cmp.op = t.op;
	return parse_value(ps, lx, t.op == POLICY_OP_EQ, &c->cmp.value, &c->multi, &has_ph);
}

/* Add the rules of one conjunction, one per combination of multi-valued placeholders. */
static int emit_conj(struct parser *ps, int nr, const struct cmp_src *c, unsigned int n)
{
	struct policy_set *set = ps->set;
	size_t count = 1;

	for (unsigned int i = 0; i < n; i++) {
		if (c[i].multi)
			count *= c[i].multi->nvalues;
		if (count > POLICY_MAX_RULES)
			break;
	}
	if (count > POLICY_MAX_RULES - set->nrules)
		return perr(ps, "too many rules: a policy has at most %d once placeholders are expanded",
			    POLICY_MAX_RULES);
	for (size_t k = 0; k < count; k++) {
		struct policy_rule *r = &set->rules[set->nrules++];
		size_t rest = k;

		memset(r, 0, sizeof(*r));
		r->nr = nr;
		r->ncmp = n;
		r->file = ps->file;
		r->line = ps->line;
		for (unsigned int i = 0; i < n; i++) {
			r->cmp[i] = c[i].cmp;
			if (c[i].multi) {
				r->cmp[i].value = c[i].multi->values[rest % c[i].multi->nvalues];
				rest /= c[i].multi->nvalues;
			}
		}
	}
	return 0;
}

/* FILTER: conjunctions (&&) of comparisons, joined by ||. */
static int parse_filter(struct parser *ps, struct lexer *lx, int nr)
{
	unsigned int nconj = 0;
	char desc[48];
	struct tok t;

	for (;;) {
		struct cmp_src c[POLICY_NARGS];
		unsigned int n = 0;

		if (++nconj > POLICY_MAX_CONJ)
			return perr(ps, "more than %d alternatives joined by '||'", POLICY_MAX_CONJ);
		for (;;) {
			struct cmp_src one;

			if (parse_cmp(ps, lx, &one) < 0)
				return -EINVAL;
			for (unsigned int i = 0; i < n; i++) {
				if (c[i].cmp.arg == one.cmp.arg)
					return perr(ps, "arg%u is compared twice in one conjunction (libseccomp takes one comparison per argument and rule: use a mask or '||')",
						    one.cmp.arg);
			}
			c[n++] = one; /* n <= POLICY_NARGS: each argument at most once */
			if (lex_next(ps, lx, &t) < 0)
				return -EINVAL;
			if (t.kind != TOK_ANDAND)
				break;
		}
		if (emit_conj(ps, nr, c, n) < 0)
			return -EINVAL;
		if (t.kind == TOK_END)
			return 0;
		if (t.kind != TOK_OROR)
			return perr(ps, "expected '&&', '||' or end of line, found %s",
				    tok_desc(&t, desc, sizeof(desc)));
	}
}

static int parse_file(struct parser *ps, size_t idx, int depth);

static int parse_include(struct parser *ps, const char *s, size_t len, int depth)
{
	const char *name;
	size_t nlen, saved_cur = ps->cur, idx;
	const char *saved_file = ps->file;
	unsigned int saved_line = ps->line;
	int err;

	if (len < 8 || memcmp(s, "@include", 8) != 0 || (len > 8 && !is_space(s[8]))) {
		size_t w = 1;

		while (w < len && !is_space(s[w]))
			w++;
		return perr(ps, "unknown directive '%.*s' (the only one is @include)",
			    w > 40 ? 40 : (int)w, s);
	}
	name = s + 8;
	nlen = len - 8;
	while (nlen && is_space(*name)) {
		name++;
		nlen--;
	}
	for (size_t i = 0; i < nlen; i++) {
		char c = name[i];

		if (!is_ident_char(c) && c != '.' && c != '-')
			return perr(ps, "@include takes one file name ending in .policy");
	}
	if (nlen <= 7 || nlen >= POLICY_MAX_NAME || memcmp(name + nlen - 7, ".policy", 7) != 0)
		return perr(ps, "@include takes one file name ending in .policy");
	if (depth > 0)
		return perr(ps, "@include in an included file: policies include one level only");
	for (idx = 0; idx < ps->nfiles; idx++) {
		if (strlen(ps->files[idx].name) == nlen && memcmp(ps->files[idx].name, name, nlen) == 0)
			break;
	}
	if (idx == ps->nfiles)
		return perr(ps, "@include %.*s: no such policy file", (int)nlen, name);
	if (idx == ps->cur)
		return perr(ps, "a policy cannot include itself");
	if (ps->included[idx])
		return perr(ps, "%.*s is included twice", (int)nlen, name);
	ps->included[idx] = 1;
	err = parse_file(ps, idx, depth + 1);
	ps->cur = saved_cur;
	ps->file = saved_file;
	ps->line = saved_line;
	return err;
}

/* One line without its comment, trimmed, not empty. */
static int parse_line(struct parser *ps, const char *s, size_t len, int depth)
{
	char name[POLICY_MAX_NAME];
	struct lexer lx = { s, s + len };
	char desc[48];
	struct tok t;
	int nr;

	if (s[0] == '@')
		return parse_include(ps, s, len, depth);
	if (lex_next(ps, &lx, &t) < 0)
		return -EINVAL;
	if (t.kind != TOK_IDENT)
		return perr(ps, "expected a syscall name, found %s", tok_desc(&t, desc, sizeof(desc)));
	memcpy(name, t.s, t.len); /* t.len < POLICY_MAX_NAME (lex_next) */
	name[t.len] = '\0';
	nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return perr(ps, "unknown syscall '%s'", name);
	if (nr < 0)
		return perr(ps, "'%s' is not a system call of this architecture", name);
	if (lex_next(ps, &lx, &t) < 0)
		return -EINVAL;
	if (t.kind == TOK_END)
		return emit_conj(ps, nr, NULL, 0);
	if (t.kind != TOK_COLON)
		return perr(ps, "expected ':' or end of line after '%s', found %s", name,
			    tok_desc(&t, desc, sizeof(desc)));
	return parse_filter(ps, &lx, nr);
}

static int parse_file(struct parser *ps, size_t idx, int depth)
{
	const struct policy_file *f = &ps->files[idx];
	size_t pos = 0;

	ps->cur = idx;
	ps->file = f->name;
	ps->line = 0;
	if (f->len > POLICY_MAX_FILE_BYTES)
		return perr(ps, "larger than %d bytes", POLICY_MAX_FILE_BYTES);
	if (f->len && !f->text)
		return perr(ps, "no text");
	while (pos < f->len) {
		const char *s = f->text + pos;
		const char *nl = memchr(s, '\n', f->len - pos);
		size_t len = nl ? (size_t)(nl - s) : f->len - pos;
		size_t end;

		pos += len + 1;
		ps->line++;
		if (len > POLICY_MAX_LINE)
			return perr(ps, "line longer than %d bytes", POLICY_MAX_LINE);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];

			if ((c < 0x20 && c != '\t') || c > 0x7e)
				return perr(ps, "unexpected byte 0x%02x (policies are printable ASCII)", c);
		}
		for (end = 0; end < len && s[end] != '#'; end++)
			;
		while (end > 0 && is_space(s[end - 1]))
			end--;
		while (end > 0 && is_space(*s)) {
			s++;
			end--;
		}
		if (end > 0 && parse_line(ps, s, end, depth) < 0)
			return -EINVAL;
	}
	return 0;
}

static int binding_name_ok(const char *name)
{
	size_t len;

	if (!name)
		return 0;
	len = strnlen(name, POLICY_MAX_NAME);
	if (len == 0 || len >= POLICY_MAX_NAME)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_ident_char(name[i]))
			return 0;
	}
	return 1;
}

static int bind_all(struct parser *ps, const struct policy_binding *b, size_t n)
{
	if (n > POLICY_MAX_BINDINGS)
		return perr(ps, "more than %d bindings", POLICY_MAX_BINDINGS);
	if (n && !b)
		return perr(ps, "no bindings");
	if (n == 0)
		return 0;
	ps->ph = calloc(n, sizeof(*ps->ph));
	if (!ps->ph)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct placeholder *ph;

		if (!binding_name_ok(b[i].name))
			return perr(ps, "binding %zu: a placeholder name is letters, digits and '_'", i);
		ph = ph_find(ps, b[i].name, strlen(b[i].name));
		if (!ph) {
			ph = &ps->ph[ps->nph++];
			memcpy(ph->name, b[i].name, strlen(b[i].name) + 1);
		}
		if (ph->nvalues == POLICY_MAX_VALUES)
			return perr(ps, "placeholder '@%s' is bound more than %d times", ph->name,
				    POLICY_MAX_VALUES);
		ph->values[ph->nvalues++] = b[i].value;
	}
	return 0;
}

static int process_name_ok(const char *p)
{
	size_t len;

	if (!p)
		return 0;
	len = strnlen(p, 33);
	if (len == 0 || len > 32)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_' ||
		      p[i] == '-'))
			return 0;
	}
	return 1;
}

void policy_set_free(struct policy_set *set)
{
	/* mmap rather than malloc: freeing a large block must not move malloc's
	 * thresholds, so that libseccomp's own frees after the load stay small. */
	if (set->rules)
		munmap(set->rules, POLICY_MAX_RULES * sizeof(*set->rules));
	set->rules = NULL;
	set->nrules = 0;
}

int policy_parse(const char *process, const struct policy_file *files, size_t nfiles,
		 const struct policy_binding *bindings, size_t nbindings, int dummy,
		 struct policy_set *set, char *err, size_t errlen)
{
	struct parser ps = { .files = files, .nfiles = nfiles, .dummy = dummy, .set = set,
			     .err = err, .errlen = errlen, .file = "policy" };
	char fname[48];
	size_t idx;
	void *p;
	int ret;

	set->rules = NULL;
	set->nrules = 0;
	if (err && errlen)
		err[0] = '\0';
	if (!process_name_ok(process))
		return perr(&ps, "bad process name (letters a-z, digits, '_' and '-', at most 32)");
	snprintf(fname, sizeof(fname), "%s.policy", process);
	ps.file = fname;
	if (nfiles > POLICY_MAX_FILES)
		return perr(&ps, "more than %d policy files", POLICY_MAX_FILES);
	if (nfiles && !files)
		return perr(&ps, "no policy files");
	for (idx = 0; idx < nfiles; idx++) {
		if (!files[idx].name || strnlen(files[idx].name, POLICY_MAX_NAME) >= POLICY_MAX_NAME)
			return perr(&ps, "policy file %zu has no name or a name too long", idx);
	}
	for (idx = 0; idx < nfiles; idx++) {
		if (strcmp(files[idx].name, fname) == 0)
			break;
	}
	if (idx == nfiles)
		return perr(&ps, "no such policy file");
	if (!dummy) {
		ret = bind_all(&ps, bindings, nbindings);
		if (ret < 0)
			goto out;
	}
	p = mmap(NULL, POLICY_MAX_RULES * sizeof(*set->rules), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	set->rules = p;
	ps.included[idx] = 1;
	ret = parse_file(&ps, idx, 0);
	if (ret == 0 && set->nrules == 0) {
		ps.file = fname;
		ps.line = 0;
		ret = perr(&ps, "no rules: a policy may not be empty");
	}
out:
	if (ret < 0)
		policy_set_free(set);
	free(ps.ph);
	return ret;
}

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static int has_unconditional(const struct policy_set *set, int nr)
{
	for (size_t i = 0; i < set->nrules; i++) {
		if (set->rules[i].nr == nr && set->rules[i].ncmp == 0)
			return 1;
	}
	return 0;
}

static enum scmp_compare scmp_op(enum policy_op op)
{
	switch (op) {
	case POLICY_OP_NE:
		return SCMP_CMP_NE;
	case POLICY_OP_LT:
		return SCMP_CMP_LT;
	case POLICY_OP_LE:
		return SCMP_CMP_LE;
	case POLICY_OP_GT:
		return SCMP_CMP_GT;
	case POLICY_OP_GE:
		return SCMP_CMP_GE;
	case POLICY_OP_MASKED_EQ:
		return SCMP_CMP_MASKED_EQ;
	case POLICY_OP_EQ:
		break;
	}
	return SCMP_CMP_EQ;
}

/* policy_compile: a libseccomp filter of set with default action def; 0 or -errno with a reason. */
static int policy_compile(const struct policy_set *set, uint32_t def, const char *process,
			  scmp_filter_ctx *out, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(def);
	int ret;

	if (!ctx)
		return fail(err, errlen, -EOPNOTSUPP,
			    "%s.policy: libseccomp cannot make a filter with this default action (kernel too old?)",
			    process);
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (ret == 0)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (ret == 0)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (ret == 0)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (ret < 0) {
		seccomp_release(ctx);
		return fail(err, errlen, ret, "%s.policy: filter attributes: %s", process,
			    strerror(-ret));
	}
	/* A binary tree of syscalls rather than a list: fewer jumps on every call. Only
	 * a speed-up, so a libseccomp without it is no error. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (size_t i = 0; i < set->nrules; i++) {
		const struct policy_rule *r = &set->rules[i];
		struct scmp_arg_cmp a[POLICY_NARGS];

		/* "read" alone allows any read; filtered rules for it would only add code. */
		if (r->ncmp && has_unconditional(set, r->nr))
			continue;
		memset(a, 0, sizeof(a));
		for (unsigned int k = 0; k < r->ncmp && k < POLICY_NARGS; k++) {
			const struct policy_cmp *c = &r->cmp[k];

			a[k].arg = c->arg;
			a[k].op = scmp_op(c->op);
			a[k].datum_a = c->op == POLICY_OP_MASKED_EQ ? c->mask : c->value;
			a[k].datum_b = c->op == POLICY_OP_MASKED_EQ ? c->value : 0;
		}
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, r->nr, r->ncmp, a);
		if (ret == -EEXIST)
			continue;
		if (ret < 0) {
			char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, r->nr);

			fail(err, errlen, ret, "%s:%u: libseccomp refused the rule for '%s': %s",
			     r->file, r->line, name ? name : "?", strerror(-ret));
			free(name);
			seccomp_release(ctx);
			return ret;
		}
	}
	*out = ctx;
	return 0;
}

int policy_load(const char *process, const struct policy_file *files, size_t nfiles,
		const struct policy_binding *bindings, size_t nbindings, enum policy_mode mode,
		char *err, size_t errlen)
{
	struct policy_set set;
	scmp_filter_ctx ctx;
	uint32_t def;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	switch (mode) {
	case POLICY_OFF:
		return 0;
	case POLICY_KILL:
		def = SCMP_ACT_KILL_PROCESS;
		break;
	case POLICY_LOG:
		def = SCMP_ACT_LOG;
		break;
	default:
		return fail(err, errlen, -EINVAL, "unknown policy mode %d", (int)mode);
	}
	ret = policy_parse(process, files, nfiles, bindings, nbindings, 0, &set, err, errlen);
	if (ret < 0)
		return ret;
	ret = policy_compile(&set, def, process, &ctx, err, errlen);
	policy_set_free(&set);
	if (ret < 0)
		return ret;
	ret = seccomp_load(ctx);
	if (ret < 0)
		fail(err, errlen, ret, "%s.policy: loading the filter: %s", process, strerror(-ret));
	/* Small frees only from here on (malloc's chunks, no munmap or brk). */
	seccomp_release(ctx);
	return ret < 0 ? ret : 0;
}

/* The filter's length in BPF instructions, from libseccomp's own export. */
static int filter_insns(scmp_filter_ctx ctx, size_t *n)
{
	struct stat st;
	int fd = memfd_create("policy-check", MFD_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = seccomp_export_bpf(ctx, fd);
	if (ret == 0 && fstat(fd, &st) < 0)
		ret = -errno;
	if (ret == 0)
		*n = (size_t)st.st_size / 8; /* sizeof(struct sock_filter) */
	close(fd);
	return ret;
}

int policy_filter_insns(const char *process, const struct policy_file *files, size_t nfiles,
			size_t *insns, char *err, size_t errlen)
{
	struct policy_set set;
	scmp_filter_ctx ctx;
	int ret;

	ret = policy_parse(process, files, nfiles, NULL, 0, 1, &set, err, errlen);
	if (ret < 0)
		return ret;
	ret = policy_compile(&set, SCMP_ACT_KILL_PROCESS, process, &ctx, err, errlen);
	policy_set_free(&set);
	if (ret < 0)
		return -EINVAL;
	ret = filter_insns(ctx, insns);
	seccomp_release(ctx);
	if (ret < 0)
		return fail(err, errlen, -EINVAL, "%s.policy: exporting the filter: %s", process,
			    strerror(-ret));
	return 0;
}

int policy_check(const char *process, const struct policy_file *files, size_t nfiles, char *err,
		 size_t errlen)
{
	size_t insns = 0;
	int ret;

	ret = policy_filter_insns(process, files, nfiles, &insns, err, errlen);
	if (ret < 0)
		return ret;
	if (insns > POLICY_MAX_INSNS)
		return fail(err, errlen, -EINVAL,
			    "%s.policy: the filter has %zu BPF instructions; the kernel takes at most %d",
			    process, insns, POLICY_MAX_INSNS);
	return 0;
}

/*
 * The files embedded in this binary: seccomp-policies/embed.S defines both
 * symbols, once per process binary. A binary (the checker, a unit test)
 * without it has none, and policy_load then says the policy is missing.
 */
extern const struct policy_file policy_embedded_files[] __attribute__((weak));
extern const size_t policy_embedded_nfiles __attribute__((weak));

const struct policy_file *policy_embedded(size_t *nfiles)
{
	if (!policy_embedded_files || !&policy_embedded_nfiles) {
		*nfiles = 0;
		return NULL;
	}
	*nfiles = policy_embedded_nfiles;
	return policy_embedded_files;
}
