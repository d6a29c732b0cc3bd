/* message_filter.h -- subscription filters: the expression of a
 * "[filter=<base64>]name" channel, which decides which of the channel's
 * messages an attachment receives.
 *
 * The language is the part of JMESPath Ably documents for subscription
 * filters (ably.com/docs/pub-sub/advanced#subscription-filters), over three
 * fields of a message:
 *
 *   expr    := or
 *   or      := and ( "||" and )*
 *   and     := compare ( "&&" compare )*
 *   compare := unary ( ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) unary )*
 *   unary   := "!" unary | "(" expr ")" | literal | field
 *   field   := "name" | "clientId" | "headers" "." key
 *   key     := identifier | "quoted identifier" (a JSON string)
 *   literal := `json` (a JSON string, number, true, false or null in
 *              backticks; \` is a backtick) | 'raw string' (\' and \\)
 *
 * Semantics are JMESPath's: a field the message lacks is null; == and !=
 * compare type and value (numbers by value: `35` == `35.0`); <, <=, >, >=
 * compare numbers and are null for anything else; a && b is a when a is
 * false-like, else b; a || b is a when a is true-like, else b; !a is a
 * boolean. false, null and "" are false-like, everything else (0 too) is
 * true-like. A message matches when the whole expression is true-like.
 *
 * A compiled filter is immutable: matching allocates nothing and needs no
 * lock. */
#ifndef HERALD_MESSAGE_FILTER_H
#define HERALD_MESSAGE_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "herald/errors.h"
#include "message.h"

/* The longest expression taken (decoded), and the deepest nesting. */
#define MESSAGE_FILTER_MAX_LEN 1024
#define MESSAGE_FILTER_MAX_DEPTH 32

struct message_filter;

/* Compiles the expression text[0..len) (UTF-8). Returns 0 with *out set, or
 * -40010 with err set ("Invalid filter expression: ..."): a syntax error,
 * an unknown field, a literal that is not a string, number, boolean or
 * null, more than MESSAGE_FILTER_MAX_LEN bytes or MESSAGE_FILTER_MAX_DEPTH
 * levels. */
int message_filter__compile(const char *text, size_t len,
                            struct message_filter **out, herald_error *err);

/* As message_filter__compile, for the base64 text of a filter qualifier
 * (-40010 too when it is not base64 or not UTF-8). */
int message_filter__compile_base64(const char *b64, size_t len,
                                   struct message_filter **out,
                                   herald_error *err);

/* Whether m matches f. */
bool message_filter__matches(const struct message_filter *f,
                             const struct message *m);

void message_filter__free(struct message_filter *f);

#endif
