/* jwt.c -- Ably JWTs: splitting and decoding the compact form, reading the
 * header and claims Ably defines, and HS256 verification (see jwt.h and
 * shared/spec/auth.md section 8). Owns the strings and signature bytes of
 * a struct jwt. */
#include "jwt.h"

#include <jansson.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "hmac.h"

struct segment {
  const char *text;
  size_t len;
};

/* Splits text at its '.'s; false unless there are exactly three parts. */
static bool split(const char *text, size_t len, struct segment seg[3]) {
  const char *start = text, *end = text + len;
  for (int i = 0; i < 2; i++) {
    const char *dot = memchr(start, '.', (size_t)(end - start));
    if (!dot) return false;
    seg[i] = (struct segment){start, (size_t)(dot - start)};
    start = dot + 1;
  }
  if (memchr(start, '.', (size_t)(end - start))) return false;
  seg[2] = (struct segment){start, (size_t)(end - start)};
  return true;
}

/* The JSON object a segment encodes (base64url or standard base64, padding
 * optional), or NULL. Without JSON_ALLOW_NUL, its strings are C text. */
static json_t *decode_object(struct segment seg) {
  size_t len;
  unsigned char *bytes = base64__decode(seg.text, seg.len, &len);
  if (!bytes) return NULL;
  json_error_t jerr;
  json_t *root =
      json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, &jerr);
  herald_free(bytes);
  if (root && !json_is_object(root)) {
    json_decref(root);
    root = NULL;
  }
  return root;
}

/* The string members read, in order; the first found of a field wins, so
 * x-ably-token in the header takes precedence over the claim. */
static const struct string_member {
  bool in_header;
  const char *name;
  size_t offset;
} string_members[] = {
    {true, "alg", offsetof(struct jwt, alg)},
    {true, "kid", offsetof(struct jwt, kid)},
    {true, "x-ably-token", offsetof(struct jwt, embedded_token)},
    {false, "x-ably-token", offsetof(struct jwt, embedded_token)},
    {false, "x-ably-capability", offsetof(struct jwt, capability)},
    {false, "x-ably-clientId", offsetof(struct jwt, client_id)},
    {false, "x-ably-revocation-key", offsetof(struct jwt, revocation_key)},
};

static const struct time_claim {
  const char *name;
  size_t has_offset, offset;
} time_claims[] = {
    {"iat", offsetof(struct jwt, has_iat), offsetof(struct jwt, iat)},
    {"exp", offsetof(struct jwt, has_exp), offsetof(struct jwt, exp)},
};

/* Reads the members above from header and claims into out. */
static int read_members(const json_t *header, const json_t *claims,
                        struct jwt *out, herald_error *err) {
  for (size_t i = 0; i < sizeof string_members / sizeof string_members[0];
       i++) {
    const struct string_member *m = &string_members[i];
    const json_t *v = json_object_get(m->in_header ? header : claims, m->name);
    if (!v) continue;
    if (!json_is_string(v))
      return herald_error_set(err, HERALD_E_INVALID_JWT,
                              "Invalid JWT: %s %s must be a string",
                              m->in_header ? "header" : "claim", m->name);
    char **slot = (char **)((char *)out + m->offset);
    if (!*slot) *slot = herald_xstrdup(json_string_value(v));
  }
  for (size_t i = 0; i < sizeof time_claims / sizeof time_claims[0]; i++) {
    const struct time_claim *t = &time_claims[i];
    const json_t *v = json_object_get(claims, t->name);
    if (!v) continue;
    if (!json_is_integer(v))
      return herald_error_set(err, HERALD_E_INVALID_JWT,
                              "Invalid JWT: claim %s must be an integer",
                              t->name);
    *(bool *)((char *)out + t->has_offset) = true;
    *(int64_t *)((char *)out + t->offset) = json_integer_value(v);
  }
  return 0;
}

bool jwt__looks_like(const char *text, size_t len) {
  struct segment seg[3];
  if (!split(text, len, seg)) return false;
  json_t *header = decode_object(seg[0]);
  bool found = header != NULL;
  json_decref(header);
  return found;
}

int jwt__parse(const char *text, size_t len, struct jwt *out,
               herald_error *err) {
  memset(out, 0, sizeof *out);
  struct segment seg[3];
  if (!split(text, len, seg))
    return herald_error_set(err, HERALD_E_INVALID_JWT,
                            "Invalid JWT: expected three '.'-separated "
                            "segments");
  json_t *header = decode_object(seg[0]);
  json_t *claims = header ? decode_object(seg[1]) : NULL;
  int rc;
  if (!header)
    rc = herald_error_set(err, HERALD_E_INVALID_JWT,
                          "Invalid JWT: header is not a base64-encoded JSON "
                          "object");
  else if (!claims)
    rc = herald_error_set(err, HERALD_E_INVALID_JWT,
                          "Invalid JWT: claims are not a base64-encoded JSON "
                          "object");
  else
    rc = read_members(header, claims, out, err);
  json_decref(claims);
  json_decref(header);
  if (!rc && !out->kid && !out->embedded_token)
    rc = herald_error_set(err, HERALD_E_INVALID_JWT,
                          "Invalid JWT: header has no kid");
  if (!rc) {
    out->signature = base64__decode(seg[2].text, seg[2].len,
                                    &out->signature_len);
    if (!out->signature)
      rc = herald_error_set(err, HERALD_E_INVALID_JWT,
                            "Invalid JWT: signature is not base64");
  }
  if (rc) {
    jwt__cleanup(out);
    return rc;
  }
  out->signed_len = seg[0].len + 1 + seg[1].len;
  return 0;
}

int jwt__verify(const struct jwt *jwt, const char *text, const char *secret,
                herald_error *err) {
  if (!jwt->alg)
    return herald_error_set(err, HERALD_E_INVALID_JWT,
                            "Invalid JWT: header has no alg (HS256 required)");
  if (strcmp(jwt->alg, "HS256") != 0)
    return herald_error_set(err, HERALD_E_INVALID_JWT,
                            "Invalid JWT: alg \"%.32s\" is not supported "
                            "(HS256 required)",
                            jwt->alg);
  unsigned char digest[HMAC_SHA256_LEN];
  hmac__sha256(secret, strlen(secret), text, jwt->signed_len, digest);
  if (jwt->signature_len != HMAC_SHA256_LEN ||
      !hmac__equal(digest, jwt->signature, HMAC_SHA256_LEN))
    return herald_error_set(err, HERALD_E_INVALID_JWT,
                            "Invalid JWT: signature does not match");
  if (!jwt->has_iat || !jwt->has_exp)
    return herald_error_set(err, HERALD_E_INVALID_JWT,
                            "Invalid JWT: claim %s is required",
                            jwt->has_iat ? "exp" : "iat");
  return 0;
}

void jwt__cleanup(struct jwt *jwt) {
  herald_free(jwt->alg);
  herald_free(jwt->kid);
  herald_free(jwt->embedded_token);
  herald_free(jwt->capability);
  herald_free(jwt->client_id);
  herald_free(jwt->revocation_key);
  herald_free(jwt->signature);
  memset(jwt, 0, sizeof *jwt);
}
