/* fuzz_token.c -- libFuzzer target for Herald token strings (common/token.c).
 *
 * Two checks on every input:
 *  - as a token: token__verify with a known secret ends in claims, -40145
 *    (not a token) or -40143 (bad signature) without a crash or leak; when
 *    it gets past the shape, token__key_name agrees and names the same
 *    keyName it decoded;
 *  - as claims: the input becomes a keyName, a capability and a clientId
 *    (split at NULs) and two times; when token__sign makes a token of
 *    them, it has the shape token__key_name wants, verify(sign(x)) == x
 *    with the same secret, another secret gets -40143, and with one byte of
 *    the claims or signature changed it no longer verifies. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fuzz_input.h"
#include "token.h"

static const char secret[] = "fuzz-secret";

static void fail(const char *what) {
  fprintf(stderr, "token: %s\n", what);
  abort();
}

static void check_as_token(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  struct token_claims claims;
  herald_error err;
  size_t key_name_len;
  bool shaped = token__key_name(text, size, &key_name_len);
  int rc = token__verify(text, size, secret, &claims, &err);
  if (rc == 0) {
    if (!shaped || strlen(claims.key_name) != key_name_len ||
        memcmp(claims.key_name, text, key_name_len) != 0)
      fail("a verified token has another keyName than token__key_name");
    token_claims__cleanup(&claims);
  } else if (rc == -HERALD_E_TOKEN_UNRECOGNIZED) {
    if (!shaped) fail("a token without the shape got as far as its signature");
  } else if (rc != -HERALD_E_INVALID_TOKEN) {
    fail("an unexpected error code");
  }
}

static bool same(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

static void check_verifies(const char *token, const struct token_claims *in) {
  size_t len = strlen(token), key_name_len;
  if (!token__key_name(token, len, &key_name_len) ||
      key_name_len != strlen(in->key_name))
    fail("a signed token does not have the token shape");
  struct token_claims out;
  herald_error err;
  if (token__verify(token, len, secret, &out, &err)) fail("verify(sign(x)) fails");
  if (!same(out.key_name, in->key_name) || out.issued != in->issued ||
      out.expires != in->expires || !same(out.capability, in->capability) ||
      !same(out.client_id, in->client_id))
    fail("verify(sign(x)) != x");
  token_claims__cleanup(&out);
  if (token__verify(token, len, "another-secret", &out, &err) !=
      -HERALD_E_TOKEN_UNRECOGNIZED)
    fail("a token verifies with another secret");
}

/* Changes one character after the keyName to another base64url one. */
static void check_tampered(char *token, size_t at) {
  size_t len = strlen(token);
  char was = token[at];
  token[at] = was == 'A' ? 'B' : 'A';
  struct token_claims out;
  herald_error err;
  if (token__verify(token, len, secret, &out, &err) == 0)
    fail("a changed token verifies");
  token[at] = was;
}

static void check_signed(const uint8_t *data, size_t size) {
  struct token_claims in = {0};
  if (size >= 8) {
    memcpy(&in.issued, data, sizeof in.issued);
    data += 8;
    size -= 8;
  }
  in.expires = in.issued ^ (int64_t)size;
  in.key_name = fuzz_input__next_piece(&data, &size);
  in.capability = fuzz_input__next_piece(&data, &size);
  in.client_id = size ? fuzz_input__next_piece(&data, &size) : NULL;
  char *token = token__sign(&in, secret);
  if (token) {
    check_verifies(token, &in);
    size_t key_name_len = strlen(in.key_name), len = strlen(token);
    check_tampered(token, key_name_len + 1 + (size_t)in.issued % (len - key_name_len - 1));
    herald_free(token);
  }
  token_claims__cleanup(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_as_token(data, size);
  check_signed(data, size);
  return 0;
}
