/* token_request.c -- TokenRequest decoding and its MAC (see token_request.h
 * and shared/spec/auth.md section 5). Owns the strings of a struct
 * token_request; every field is kept as the text that is signed. */
#include "token_request.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "hmac.h"

enum field_type {
  FIELD_STRING,     /* a string, as given */
  FIELD_MS,         /* an integer (rendered in decimal) or a string */
  FIELD_CAPABILITY, /* a string, or an object rendered as compact JSON */
};

/* The fields, the six signed ones first in the order they are signed. */
static const struct field {
  const char *name;
  size_t offset;
  enum field_type type;
} fields[] = {
    {"keyName", offsetof(struct token_request, key_name), FIELD_STRING},
    {"ttl", offsetof(struct token_request, ttl), FIELD_MS},
    {"capability", offsetof(struct token_request, capability),
     FIELD_CAPABILITY},
    {"clientId", offsetof(struct token_request, client_id), FIELD_STRING},
    {"timestamp", offsetof(struct token_request, timestamp), FIELD_MS},
    {"nonce", offsetof(struct token_request, nonce), FIELD_STRING},
    {"mac", offsetof(struct token_request, mac), FIELD_STRING},
};
#define SIGNED_FIELDS 6

static char **slot(struct token_request *tr, const struct field *f) {
  return (char **)((char *)tr + f->offset);
}

static const char *value_of(const struct token_request *tr,
                            const struct field *f) {
  return *(const char *const *)((const char *)tr + f->offset);
}

/* The text of one field, or NULL when v has the wrong type for it. A string
 * holding a NUL is refused too: it could not be kept as C text unchanged. */
static char *field_text(struct wire_value v, enum field_type type) {
  size_t len;
  const char *bytes =
      wire_value__kind(v) == WIRE_STR ? wire_value__bytes(v, &len) : NULL;
  if (bytes)
    return memchr(bytes, '\0', len) ? NULL : herald_xstrndup(bytes, len);
  int64_t n;
  if (type == FIELD_MS && wire_value__int(v, &n)) {
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, n);
    return herald_xstrdup(text);
  }
  if (type == FIELD_CAPABILITY && wire_value__kind(v) == WIRE_MAP) {
    json_t *tree = wire_value__to_json(v);
    char *json = tree ? json_dumps(tree, JSON_COMPACT) : NULL;
    json_decref(tree);
    char *text = json ? herald_xstrdup(json) : NULL;
    free(json); /* from jansson's allocator */
    return text;
  }
  return NULL;
}

static const char *const expected[] = {
    [FIELD_STRING] = "a string",
    [FIELD_MS] = "an integer or a string",
    [FIELD_CAPABILITY] = "a string or an object",
};

int token_request__decode(struct wire_value v, struct token_request *out,
                          herald_error *err) {
  memset(out, 0, sizeof *out);
  if (wire_value__kind(v) != WIRE_MAP)
    return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                            "TokenRequest must be an object");
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    const struct field *f = &fields[i];
    struct wire_value member = wire_value__get(v, f->name);
    enum wire_kind kind = wire_value__kind(member);
    /* null signs as an absent field does (ably-js: `value || ''`). */
    if (kind == WIRE_ABSENT || kind == WIRE_NIL) continue;
    *slot(out, f) = field_text(member, f->type);
    if (!*slot(out, f)) {
      token_request__cleanup(out);
      return herald_error_set(err, HERALD_E_INVALID_REQUEST_BODY,
                              "TokenRequest %s must be %s", f->name,
                              expected[f->type]);
    }
  }
  return 0;
}

void token_request__cleanup(struct token_request *tr) {
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    herald_free(*slot(tr, &fields[i]));
  memset(tr, 0, sizeof *tr);
}

void token_request__mac(const struct token_request *tr, const char *secret,
                        char out[TOKEN_REQUEST_MAC_LEN + 1]) {
  size_t len = 0;
  for (size_t i = 0; i < SIGNED_FIELDS; i++) {
    const char *value = value_of(tr, &fields[i]);
    len += (value ? strlen(value) : 0) + 1;
  }
  char *text = herald_xmalloc(len);
  size_t at = 0;
  for (size_t i = 0; i < SIGNED_FIELDS; i++) {
    const char *value = value_of(tr, &fields[i]);
    size_t n = value ? strlen(value) : 0;
    memcpy(text + at, value ? value : "", n);
    at += n;
    text[at++] = '\n';
  }
  unsigned char digest[HMAC_SHA256_LEN];
  hmac__sha256(secret, strlen(secret), text, len, digest);
  herald_free(text);
  base64__encode(digest, sizeof digest, out);
}

bool token_request__mac_matches(const struct token_request *tr,
                                const char *secret) {
  if (!tr->mac || strlen(tr->mac) != TOKEN_REQUEST_MAC_LEN) return false;
  char mac[TOKEN_REQUEST_MAC_LEN + 1];
  token_request__mac(tr, secret, mac);
  return hmac__equal(mac, tr->mac, TOKEN_REQUEST_MAC_LEN);
}

bool token_request__parse_ms(const char *text, int64_t *out) {
  if (!text || !*text) return false;
  int64_t n = 0;
  for (const char *p = text; *p; p++) {
    if (*p < '0' || *p > '9') return false;
    int digit = *p - '0';
    if (n > (INT64_MAX - digit) / 10) return false;
    n = n * 10 + digit;
  }
  *out = n;
  return true;
}
