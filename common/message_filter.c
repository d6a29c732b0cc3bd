/* message_filter.c -- subscription filter expressions: a recursive-descent
 * parser into a tree of nodes, and its evaluation against a message (see
 * message_filter.h). JSON literals and quoted identifiers are read by
 * jansson, as message extras are.
 * Owns: every struct message_filter (its node array and the texts of its
 * literals and header keys). */
#include "message_filter.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "utf8.h"

enum value_kind { V_NULL, V_FALSE, V_TRUE, V_NUMBER, V_STRING, V_OTHER };

struct value {
  enum value_kind kind;
  double number;    /* V_NUMBER */
  const char *text; /* V_STRING, not NUL-terminated */
  size_t len;
};

enum node_kind {
  N_LITERAL, N_NAME, N_CLIENT_ID, N_HEADER, /* leaves */
  N_NOT,                                    /* left only */
  N_AND, N_OR, N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE,
};

struct node {
  enum node_kind kind;
  unsigned depth;       /* levels below and including this node */
  size_t left, right;   /* children, indices into the node array */
  struct value literal; /* N_LITERAL */
  char *text;           /* owned: a string literal's or a header key's */
  size_t text_len;
};

struct message_filter {
  struct node *nodes;
  size_t n, cap;
  size_t root;
};

/* ---- Values ------------------------------------------------------------- */

static struct value from_json(const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_NULL: return (struct value){.kind = V_NULL};
  case JSON_TRUE: return (struct value){.kind = V_TRUE};
  case JSON_FALSE: return (struct value){.kind = V_FALSE};
  case JSON_INTEGER:
  case JSON_REAL: return (struct value){.kind = V_NUMBER, .number = json_number_value(j)};
  case JSON_STRING:
    return (struct value){.kind = V_STRING, .text = json_string_value(j),
                          .len = json_string_length(j)};
  default: return (struct value){.kind = V_OTHER};
  }
}

static struct value string_value(const char *s) {
  return s ? (struct value){.kind = V_STRING, .text = s, .len = strlen(s)}
           : (struct value){.kind = V_NULL};
}

static struct value boolean(bool b) {
  return (struct value){.kind = b ? V_TRUE : V_FALSE};
}

/* JMESPath's truth: false, null and the empty string are false. */
static bool truthy(struct value v) {
  return v.kind != V_NULL && v.kind != V_FALSE &&
         !(v.kind == V_STRING && v.len == 0);
}

static bool equal(struct value a, struct value b) {
  if (a.kind != b.kind || a.kind == V_OTHER) return false;
  if (a.kind == V_NUMBER) return a.number == b.number;
  if (a.kind == V_STRING)
    return a.len == b.len && memcmp(a.text, b.text, a.len) == 0;
  return true;
}

/* ---- Evaluation ---------------------------------------------------------- */

static struct value header(const struct node *n, const struct message *m) {
  const json_t *headers = m->extras ? json_object_get(m->extras, "headers") : NULL;
  const json_t *v = json_is_object(headers)
                        ? json_object_getn(headers, n->text, n->text_len)
                        : NULL;
  return v ? from_json(v) : (struct value){.kind = V_NULL};
}

/* a <op> b for the ordering operators: numbers only, else null. */
static struct value order(enum node_kind op, struct value a, struct value b) {
  if (a.kind != V_NUMBER || b.kind != V_NUMBER) return (struct value){.kind = V_NULL};
  switch (op) {
  case N_LT: return boolean(a.number < b.number);
  case N_LE: return boolean(a.number <= b.number);
  case N_GT: return boolean(a.number > b.number);
  default: return boolean(a.number >= b.number);
  }
}

static struct value eval(const struct message_filter *f, size_t i,
                         const struct message *m) {
  const struct node *n = &f->nodes[i];
  struct value left;
  switch (n->kind) {
  case N_LITERAL: return n->literal;
  case N_NAME: return string_value(m->name);
  case N_CLIENT_ID: return string_value(m->client_id);
  case N_HEADER: return header(n, m);
  case N_NOT: return boolean(!truthy(eval(f, n->left, m)));
  case N_AND:
    left = eval(f, n->left, m);
    return truthy(left) ? eval(f, n->right, m) : left;
  case N_OR:
    left = eval(f, n->left, m);
    return truthy(left) ? left : eval(f, n->right, m);
  case N_EQ: return boolean(equal(eval(f, n->left, m), eval(f, n->right, m)));
  case N_NE: return boolean(!equal(eval(f, n->left, m), eval(f, n->right, m)));
  default: return order(n->kind, eval(f, n->left, m), eval(f, n->right, m));
  }
}

bool message_filter__matches(const struct message_filter *f,
                             const struct message *m) {
  return truthy(eval(f, f->root, m));
}

/* ---- Parsing --------------------------------------------------------------- */

struct parser {
  const char *s;
  size_t len, pos;
  unsigned nesting; /* "!" and "(" being parsed */
  struct message_filter *f;
  herald_error *err;
};

static bool fail(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool fail(struct parser *p, const char *fmt, ...) {
  char reason[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  herald_error_set(p->err, HERALD_E_INVALID_CHANNEL_NAME,
                   "Invalid filter expression: %s at character %zu", reason,
                   p->pos + 1);
  return false;
}

static void skip_space(struct parser *p) {
  while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                             p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
    p->pos++;
}

/* Consumes tok (after whitespace) when the text continues with it. */
static bool take(struct parser *p, const char *tok) {
  skip_space(p);
  size_t n = strlen(tok);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, tok, n)) return false;
  p->pos += n;
  return true;
}

/* Appends a node (its text taken over) and returns its index, or fails
 * when it would be nested too deeply. */
static bool add(struct parser *p, struct node n, size_t *index) {
  struct message_filter *f = p->f;
  unsigned below = 0;
  if (n.kind >= N_NOT) below = f->nodes[n.left].depth;
  if (n.kind > N_NOT && f->nodes[n.right].depth > below)
    below = f->nodes[n.right].depth;
  n.depth = below + 1;
  if (n.depth > MESSAGE_FILTER_MAX_DEPTH) {
    herald_free(n.text);
    return fail(p, "nested deeper than %d levels", MESSAGE_FILTER_MAX_DEPTH);
  }
  if (f->n == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 16;
    f->nodes = herald_xrealloc(f->nodes, f->cap * sizeof *f->nodes);
  }
  f->nodes[f->n] = n;
  *index = f->n++;
  return true;
}

/* The text between p->pos and the closing `quote` (not escaped with a
 * backslash), with `\<quote>` unescaped and, when raw, `\\` too; p->pos
 * moves past the closing quote. NULL when it is missing. */
static char *quoted(struct parser *p, char quote, bool raw, size_t *len) {
  char *out = herald_xmalloc(p->len - p->pos + 1);
  size_t n = 0;
  for (size_t i = p->pos; i < p->len; i++) {
    char c = p->s[i];
    if (c == quote) {
      p->pos = i + 1;
      out[n] = '\0';
      *len = n;
      return out;
    }
    if (c == '\\' && i + 1 < p->len &&
        (p->s[i + 1] == quote || (raw && p->s[i + 1] == '\\')))
      c = p->s[++i];
    out[n++] = c;
  }
  herald_free(out);
  return NULL;
}

/* Copies the JSON string j into n's text. */
static void take_string(struct node *n, const json_t *j) {
  n->text_len = json_string_length(j);
  n->text = herald_xmalloc(n->text_len + 1);
  memcpy(n->text, json_string_value(j), n->text_len + 1);
}

/* A scalar JSON value (released here) as a literal node. */
static bool json_literal(struct parser *p, json_t *j, size_t *index) {
  if (json_is_object(j) || json_is_array(j)) {
    json_decref(j);
    return fail(p, "only string, number, boolean and null literals are "
                   "supported");
  }
  struct node n = {.kind = N_LITERAL, .literal = from_json(j)};
  if (json_is_string(j)) {
    take_string(&n, j);
    n.literal.text = n.text;
  }
  json_decref(j);
  return add(p, n, index);
}

/* `json`: its text unescaped, read by jansson. */
static bool backtick_literal(struct parser *p, size_t *index) {
  size_t start = p->pos, len;
  char *text = quoted(p, '`', false, &len);
  if (!text) {
    p->pos = start;
    return fail(p, "unterminated literal");
  }
  json_error_t jerr;
  json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
  herald_free(text);
  if (!j) {
    p->pos = start;
    return fail(p, "invalid JSON literal (%s)", jerr.text);
  }
  return json_literal(p, j, index);
}

static bool raw_string(struct parser *p, size_t *index) {
  size_t start = p->pos;
  struct node n = {.kind = N_LITERAL};
  n.text = quoted(p, '\'', true, &n.text_len);
  if (!n.text) {
    p->pos = start;
    return fail(p, "unterminated raw string");
  }
  n.literal = (struct value){.kind = V_STRING, .text = n.text, .len = n.text_len};
  return add(p, n, index);
}

static bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9');
}

static size_t ident_len(const struct parser *p) {
  size_t n = 0;
  if (p->pos < p->len && is_ident_start(p->s[p->pos]))
    while (p->pos + n < p->len && is_ident_char(p->s[p->pos + n])) n++;
  return n;
}

/* A header's key: an identifier, or a quoted one (a JSON string). */
static bool header_key(struct parser *p, struct node *n) {
  size_t len = ident_len(p);
  if (len) {
    n->text = herald_xstrndup(p->s + p->pos, len);
    n->text_len = len;
    p->pos += len;
    return true;
  }
  if (p->pos >= p->len || p->s[p->pos] != '"')
    return fail(p, "expected a header name after 'headers.'");
  size_t end = p->pos + 1;
  while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
  json_t *j = end < p->len ? json_loadb(p->s + p->pos, end + 1 - p->pos,
                                        JSON_DECODE_ANY, NULL)
                           : NULL;
  if (!json_is_string(j)) {
    json_decref(j);
    return fail(p, "invalid quoted header name");
  }
  take_string(n, j);
  json_decref(j);
  p->pos = end + 1;
  return true;
}

static bool field(struct parser *p, size_t *index) {
  static const struct {
    const char *word;
    enum node_kind kind;
  } fields[] = {{"name", N_NAME}, {"clientId", N_CLIENT_ID}, {"headers", N_HEADER}};
  size_t len = ident_len(p);
  const char *word = p->s + p->pos;
  if (!len)
    return p->pos < p->len ? fail(p, "unexpected '%c'", *word)
                           : fail(p, "unexpected end");
  struct node n = {.kind = N_LITERAL}; /* none yet */
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (strlen(fields[i].word) == len && !memcmp(word, fields[i].word, len))
      n.kind = fields[i].kind;
  if (n.kind == N_LITERAL)
    return fail(p, "unknown field '%.*s' (fields are name, clientId and "
                   "headers.<name>)", (int)len, word);
  p->pos += len;
  if (n.kind == N_HEADER) {
    if (p->pos >= p->len || p->s[p->pos] != '.')
      return fail(p, "expected '.' after 'headers'");
    p->pos++;
    if (!header_key(p, &n)) return false;
  }
  return add(p, n, index);
}

static bool expression(struct parser *p, size_t *index);

static bool unary(struct parser *p, size_t *index) {
  if (p->nesting >= MESSAGE_FILTER_MAX_DEPTH)
    return fail(p, "nested deeper than %d levels", MESSAGE_FILTER_MAX_DEPTH);
  skip_space(p);
  if (p->pos < p->len && p->s[p->pos] == '`') {
    p->pos++;
    return backtick_literal(p, index);
  }
  if (p->pos < p->len && p->s[p->pos] == '\'') {
    p->pos++;
    return raw_string(p, index);
  }
  bool ok;
  size_t inner;
  if (take(p, "(")) {
    p->nesting++;
    ok = expression(p, index) && (take(p, ")") || fail(p, "expected ')'"));
    p->nesting--;
    return ok;
  }
  if (!take(p, "!")) return field(p, index);
  p->nesting++;
  ok = unary(p, &inner) && add(p, (struct node){.kind = N_NOT, .left = inner}, index);
  p->nesting--;
  return ok;
}

/* The comparison operator the text continues with, or N_LITERAL. */
static enum node_kind comparator(struct parser *p) {
  static const struct {
    const char *tok;
    enum node_kind kind;
  } ops[] = {{"==", N_EQ}, {"!=", N_NE}, {"<=", N_LE},
             {">=", N_GE}, {"<", N_LT},  {">", N_GT}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (take(p, ops[i].tok)) return ops[i].kind;
  return N_LITERAL;
}

static bool comparison(struct parser *p, size_t *index) {
  size_t right;
  if (!unary(p, index)) return false;
  for (enum node_kind op; (op = comparator(p)) != N_LITERAL;)
    if (!unary(p, &right) ||
        !add(p, (struct node){.kind = op, .left = *index, .right = right}, index))
      return false;
  return true;
}

/* operand ( tok operand )*, left-associative, as nodes of kind. */
static bool chain(struct parser *p, const char *tok, enum node_kind kind,
                  bool (*operand)(struct parser *, size_t *), size_t *index) {
  size_t right;
  if (!operand(p, index)) return false;
  while (take(p, tok))
    if (!operand(p, &right) ||
        !add(p, (struct node){.kind = kind, .left = *index, .right = right}, index))
      return false;
  return true;
}

static bool conjunction(struct parser *p, size_t *index) {
  return chain(p, "&&", N_AND, comparison, index);
}

static bool expression(struct parser *p, size_t *index) {
  return chain(p, "||", N_OR, conjunction, index);
}

int message_filter__compile(const char *text, size_t len,
                            struct message_filter **out, herald_error *err) {
  if (len > MESSAGE_FILTER_MAX_LEN)
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "Invalid filter expression: longer than %d bytes",
                            MESSAGE_FILTER_MAX_LEN);
  struct parser p = {.s = text, .len = len, .err = err,
                     .f = herald_xcalloc(1, sizeof(struct message_filter))};
  bool ok = expression(&p, &p.f->root);
  skip_space(&p);
  if (ok && p.pos < p.len) ok = fail(&p, "unexpected '%c'", text[p.pos]);
  if (!ok) {
    message_filter__free(p.f);
    return -HERALD_E_INVALID_CHANNEL_NAME;
  }
  *out = p.f;
  return 0;
}

int message_filter__compile_base64(const char *b64, size_t len,
                                   struct message_filter **out,
                                   herald_error *err) {
  size_t text_len;
  char *text = (char *)base64__decode(b64, len, &text_len);
  int rc;
  if (!text)
    rc = herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                          "Invalid filter expression: the filter qualifier "
                          "is not base64");
  else if (!utf8__valid(text, text_len) || memchr(text, '\0', text_len))
    rc = herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                          "Invalid filter expression: not UTF-8 text");
  else
    rc = message_filter__compile(text, text_len, out, err);
  herald_free(text);
  return rc;
}

void message_filter__free(struct message_filter *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n; i++) herald_free(f->nodes[i].text);
  herald_free(f->nodes);
  herald_free(f);
}
