/* token.c -- Herald token strings: signing, and strict parsing and
 * verification (see token.h). Owns the strings of a struct token_claims.
 *
 * The claims segment is compact JSON, {"iat":..,"exp":..,"c":..,"x":..}
 * ("x" only for an identified token); the signature is HMAC-SHA256 over the
 * exact bytes "<keyName>.<claims segment>". Both segments are base64url
 * without padding. */
#include "token.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "hmac.h"

#define SIGNATURE_LEN 43 /* base64url of HMAC_SHA256_LEN bytes, unpadded */
/* Room base64__encode_url needs for it: base64__encoded_size(32). */
#define SIGNATURE_SIZE (4 * ((HMAC_SHA256_LEN + 2) / 3) + 1)

/* Where each part of a well-shaped token lies. */
struct segments {
  size_t key_name_len;
  const char *claims;
  size_t claims_len;
  const char *signature; /* SIGNATURE_LEN characters, ending the text */
};

static bool is_url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Splits "<appId>.<keyId>.<claims>.<signature>": appId and keyId non-empty
 * (and so '.'-free, the dots being the first two), claims non-empty
 * base64url, signature exactly SIGNATURE_LEN base64url characters. */
static bool split(const char *text, size_t len, struct segments *seg) {
  const char *end = text + len;
  const char *dot1 = memchr(text, '.', len);
  if (!dot1 || dot1 == text) return false;
  const char *dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
  if (!dot2 || dot2 == dot1 + 1) return false;
  const char *p = dot2 + 1;
  while (p < end && is_url_char(*p)) p++;
  if (p == dot2 + 1 || p == end || *p != '.') return false;
  const char *signature = p + 1;
  if (end - signature != SIGNATURE_LEN) return false;
  for (const char *q = signature; q < end; q++)
    if (!is_url_char(*q)) return false;
  seg->key_name_len = (size_t)(dot2 - text);
  seg->claims = dot2 + 1;
  seg->claims_len = (size_t)(p - seg->claims);
  seg->signature = signature;
  return true;
}

/* Whether name is "<appId>.<keyId>", both non-empty and '.'-free. */
static bool key_name_ok(const char *name) {
  const char *dot = strchr(name, '.');
  return dot && dot != name && dot[1] && !strchr(dot + 1, '.');
}

/* base64url of HMAC-SHA256(secret, text[0..len)), NUL-terminated. */
static void sign_bytes(const char *secret, const char *text, size_t len,
                       char out[SIGNATURE_SIZE]) {
  unsigned char digest[HMAC_SHA256_LEN];
  hmac__sha256(secret, strlen(secret), text, len, digest);
  base64__encode_url(digest, sizeof digest, out);
}

char *token__sign(const struct token_claims *claims, const char *secret) {
  if (!key_name_ok(claims->key_name)) return NULL;
  /* json_pack fails on text that is not UTF-8. */
  json_t *obj = json_pack("{sIsIss}", "iat", (json_int_t)claims->issued,
                          "exp", (json_int_t)claims->expires, "c",
                          claims->capability);
  if (obj && claims->client_id &&
      json_object_set_new(obj, "x", json_string(claims->client_id))) {
    json_decref(obj);
    obj = NULL;
  }
  char *json = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
  json_decref(obj);
  if (!json) return NULL;
  size_t key_name_len = strlen(claims->key_name), json_len = strlen(json);
  char *token = herald_xmalloc(key_name_len + 1 +
                               base64__encoded_size(json_len) + 1 +
                               SIGNATURE_SIZE);
  memcpy(token, claims->key_name, key_name_len);
  size_t at = key_name_len;
  token[at++] = '.';
  at += base64__encode_url(json, json_len, token + at);
  free(json); /* from jansson's allocator */
  token[at] = '.';
  sign_bytes(secret, token, at, token + at + 1);
  return token;
}

bool token__key_name(const char *text, size_t len, size_t *key_name_len) {
  struct segments seg;
  if (!split(text, len, &seg)) return false;
  *key_name_len = seg.key_name_len;
  return true;
}

/* Reads the claims JSON into out: exactly integer "iat" and "exp", string
 * "c" and, optionally, string "x". */
static bool decode_claims(const json_t *root, struct token_claims *out) {
  const json_t *iat = json_object_get(root, "iat");
  const json_t *exp = json_object_get(root, "exp");
  const json_t *c = json_object_get(root, "c");
  const json_t *x = json_object_get(root, "x");
  if (!json_is_integer(iat) || !json_is_integer(exp) || !json_is_string(c) ||
      (x && !json_is_string(x)) ||
      json_object_size(root) != (x ? 4u : 3u))
    return false;
  out->issued = json_integer_value(iat);
  out->expires = json_integer_value(exp);
  out->capability = herald_xstrdup(json_string_value(c));
  out->client_id = x ? herald_xstrdup(json_string_value(x)) : NULL;
  return true;
}

int token__verify(const char *text, size_t len, const char *secret,
                  struct token_claims *out, herald_error *err) {
  memset(out, 0, sizeof *out);
  struct segments seg;
  if (!split(text, len, &seg))
    return herald_error_set(err, HERALD_E_INVALID_TOKEN,
                            "Invalid token: not a Herald token string");
  size_t json_len;
  unsigned char *json = base64__decode(seg.claims, seg.claims_len, &json_len);
  json_error_t jerr;
  /* Without JSON_ALLOW_NUL, strings hold no NUL and read as C text. */
  json_t *root = json ? json_loadb((const char *)json, json_len,
                                   JSON_REJECT_DUPLICATES, &jerr)
                      : NULL;
  herald_free(json);
  bool ok = json_is_object(root) && decode_claims(root, out);
  json_decref(root);
  if (!ok)
    return herald_error_set(err, HERALD_E_INVALID_TOKEN,
                            "Invalid token: malformed claims");
  char expected[SIGNATURE_SIZE];
  sign_bytes(secret, text, (size_t)(seg.signature - 1 - text), expected);
  if (!hmac__equal(expected, seg.signature, SIGNATURE_LEN)) {
    token_claims__cleanup(out);
    return herald_error_set(err, HERALD_E_TOKEN_UNRECOGNIZED,
                            "Token not recognised: invalid signature");
  }
  out->key_name = herald_xstrndup(text, seg.key_name_len);
  return 0;
}

void token_claims__cleanup(struct token_claims *c) {
  herald_free(c->key_name);
  herald_free(c->capability);
  herald_free(c->client_id);
  memset(c, 0, sizeof *c);
}
