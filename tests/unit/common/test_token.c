/* test_token.c -- Herald's self-signed token strings: signing, the shape
 * check that finds the key name, strict verification (every malformed shape
 * is 40145, every signature mismatch 40143) and the constraints of
 * shared/spec/auth.md section 3. Every test checks that the live allocation
 * count returns to where it started. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "base64.h"
#include "hmac.h"
#include "jwt.h"
#include "leak_check.h"
#include "token.h"

#define SECRET "secretValue123"
#define KEY_NAME "xVLyHw.A1b2C3"
#define CAPABILITY "{\"*\":[\"subscribe\"],\"private\":[\"publish\"]}"
/* Four segments, but a signature far shorter than an HMAC-SHA256. */
#define SHORT_SIGNATURE "app.key.claims.sig"

/* ---------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------- */

static char *sign(const char *client_id) {
  struct token_claims claims = {
      .key_name = KEY_NAME,
      .issued = 1700000000000LL,
      .expires = 1700003600000LL,
      .capability = CAPABILITY,
      .client_id = (char *)client_id,
  };
  char *token = token__sign(&claims, SECRET);
  assert_non_null(token);
  return token;
}

/* A token of the given key name and claims JSON, signed as token.c signs:
 * for claims token__sign would never write. */
static char *forge(const char *key_name, const char *claims_json,
                   const char *secret) {
  size_t key_len = strlen(key_name), json_len = strlen(claims_json);
  char *token = herald_xmalloc(key_len + base64__encoded_size(json_len) +
                               base64__encoded_size(HMAC_SHA256_LEN) + 2);
  memcpy(token, key_name, key_len);
  size_t at = key_len;
  token[at++] = '.';
  at += base64__encode_url(claims_json, json_len, token + at);
  token[at] = '.';
  unsigned char digest[HMAC_SHA256_LEN];
  hmac__sha256(secret, strlen(secret), token, at, digest);
  base64__encode_url(digest, sizeof digest, token + at + 1);
  return token;
}

static void verify_ok(const char *text, struct token_claims *out) {
  herald_error err = {0};
  int rc = token__verify(text, strlen(text), SECRET, out, &err);
  if (rc) print_error("token__verify(%s): %s\n", text, err.message);
  assert_int_equal(rc, 0);
}

/* Expects verification to fail with code, *out left empty. */
static void assert_verify_fails_len(const char *text, size_t len,
                                    const char *secret, int code) {
  struct token_claims claims, empty;
  memset(&claims, 0xab, sizeof claims);
  memset(&empty, 0, sizeof empty);
  herald_error err = {0};
  int rc = token__verify(text, len, secret, &claims, &err);
  if (rc != -code)
    print_error("token__verify(%.*s) = %d\n", (int)len, text, rc);
  assert_int_equal(rc, -code);
  assert_int_equal(err.code, code);
  assert_int_equal(err.status, 401);
  assert_true(err.message[0] != '\0');
  assert_memory_equal(&claims, &empty, sizeof claims);
}

static void assert_verify_fails(const char *text, int code) {
  assert_verify_fails_len(text, strlen(text), SECRET, code);
}

static void assert_malformed(const char *text) {
  assert_verify_fails(text, HERALD_E_INVALID_TOKEN);
  size_t key_name_len = 12345;
  assert_false(token__key_name(text, strlen(text), &key_name_len));
  assert_int_equal(key_name_len, 12345);
}

static void assert_forged_malformed(const char *claims_json) {
  char *text = forge(KEY_NAME, claims_json, SECRET);
  assert_verify_fails(text, HERALD_E_INVALID_TOKEN);
  herald_free(text);
}

/* Start of segment i (0: appId ... 3: signature) of text. */
static char *segment(char *text, int i) {
  while (i--) text = strchr(text, '.') + 1;
  return text;
}

/* ---------------------------------------------------------------------------
 * Round trips
 * ------------------------------------------------------------------------- */

static void assert_round_trip(const char *client_id) {
  char *token = sign(client_id);
  struct token_claims claims;
  verify_ok(token, &claims);
  assert_string_equal(claims.key_name, KEY_NAME);
  assert_int_equal(claims.issued, 1700000000000LL);
  assert_int_equal(claims.expires, 1700003600000LL);
  assert_string_equal(claims.capability, CAPABILITY);
  if (client_id) assert_string_equal(claims.client_id, client_id);
  else assert_null(claims.client_id);
  token_claims__cleanup(&claims);
  assert_null(claims.capability);
  herald_free(token);
}

static void test_round_trip(void **state) {
  assert_round_trip(NULL);
  assert_round_trip("bob");
  assert_round_trip("*");
  assert_round_trip("caf\xc3\xa9 \"quoted\" \\ / : {x}");
}

/* The claims segment is the compact JSON the header describes. */
static void test_claims_json(void **state) {
  char *token = sign("bob");
  char *claims = segment(token, 2);
  size_t len;
  unsigned char *json =
      base64__decode(claims, (size_t)(strchr(claims, '.') - claims), &len);
  assert_non_null(json);
  assert_string_equal((char *)json,
                      "{\"iat\":1700000000000,\"exp\":1700003600000,"
                      "\"c\":\"{\\\"*\\\":[\\\"subscribe\\\"],"
                      "\\\"private\\\":[\\\"publish\\\"]}\",\"x\":\"bob\"}");
  herald_free(json);
  herald_free(token);
  /* forge() signs exactly as token__sign does. */
  char *forged = forge(KEY_NAME,
                       "{\"iat\":1700000000000,\"exp\":1700003600000,"
                       "\"c\":\"{\\\"*\\\":[\\\"subscribe\\\"],"
                       "\\\"private\\\":[\\\"publish\\\"]}\"}",
                       SECRET);
  token = sign(NULL);
  assert_string_equal(forged, token);
  herald_free(token);
  herald_free(forged);
}

/* auth.md section 3: no ':', no whitespace, no leading '{', four segments,
 * never mistaken for a JWT. */
static void test_token_alphabet(void **state) {
  const char *client_ids[] = {NULL, "bob", "*", "a b:c{d}"};
  for (size_t i = 0; i < sizeof client_ids / sizeof client_ids[0]; i++) {
    char *token = sign(client_ids[i]);
    assert_null(strchr(token, ':'));
    for (const char *p = token; *p; p++) {
      assert_false(isspace((unsigned char)*p));
      assert_true(isalnum((unsigned char)*p) || *p == '.' || *p == '-' ||
                  *p == '_');
    }
    assert_int_not_equal(token[0], '{');
    assert_int_equal(strlen(segment(token, 3)), 43);
    assert_null(strchr(segment(token, 3), '.'));
    assert_false(jwt__looks_like(token, strlen(token)));
    herald_free(token);
  }
}

static void test_sign_rejects(void **state) {
  const char *key_names[] = {"nodot", "a.b.c", ".b", "a.", ".", ""};
  for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++) {
    struct token_claims claims = {.key_name = (char *)key_names[i],
                                  .capability = "{}"};
    assert_null(token__sign(&claims, SECRET));
  }
  struct token_claims claims = {.key_name = KEY_NAME,
                                .capability = "{\"\xff\":[\"*\"]}"};
  assert_null(token__sign(&claims, SECRET));
  claims.capability = "{}";
  claims.client_id = "\xc3";
  assert_null(token__sign(&claims, SECRET));
}

/* ---------------------------------------------------------------------------
 * key_name
 * ------------------------------------------------------------------------- */

static void test_key_name(void **state) {
  char *token = sign("bob");
  size_t key_name_len = 0;
  assert_true(token__key_name(token, strlen(token), &key_name_len));
  assert_int_equal(key_name_len, strlen(KEY_NAME));
  assert_memory_equal(token, KEY_NAME, key_name_len);
  /* Only the given length is read. */
  assert_false(token__key_name(token, strlen(token) - 1, &key_name_len));
  herald_free(token);
  char *other = forge("a.b", "{}", "s");
  assert_true(token__key_name(other, strlen(other), &key_name_len));
  assert_int_equal(key_name_len, 3);
  herald_free(other);
  assert_false(token__key_name("abc", 3, &key_name_len));
  assert_false(token__key_name(SHORT_SIGNATURE, strlen(SHORT_SIGNATURE), &key_name_len));
  assert_false(token__key_name("", 0, &key_name_len));
  const char *jwt =
      "eyJhbGciOiJIUzI1NiJ9.e30.2SGGeKCGl7Ee8l7Nvsh-gBCR39Md0LmAwnEB4hRzz54";
  assert_false(token__key_name(jwt, strlen(jwt), &key_name_len));
}

/* ---------------------------------------------------------------------------
 * Verification failures
 * ------------------------------------------------------------------------- */

static void test_wrong_secret(void **state) {
  char *token = sign("bob");
  assert_verify_fails_len(token, strlen(token), "secretValue124",
                          HERALD_E_TOKEN_UNRECOGNIZED);
  assert_verify_fails_len(token, strlen(token), "",
                          HERALD_E_TOKEN_UNRECOGNIZED);
  herald_free(token);
}

/* A changed appId, keyId or signature character still has the shape of a
 * token, but no longer matches its signature. */
static void test_tamper_signed_bytes(void **state) {
  const int segments[] = {0, 1, 3};
  for (size_t i = 0; i < sizeof segments / sizeof segments[0]; i++) {
    int seg = segments[i];
    char *token = sign("bob");
    char *c = segment(token, seg);
    *c = *c == 'A' ? 'B' : 'A';
    assert_verify_fails(token, HERALD_E_TOKEN_UNRECOGNIZED);
    herald_free(token);
  }
  /* The last signature character (only 4 of its bits carry the MAC). */
  char *token = sign("bob");
  char *last = token + strlen(token) - 1;
  *last = *last == 'A' ? 'B' : 'A';
  assert_verify_fails(token, HERALD_E_TOKEN_UNRECOGNIZED);
  herald_free(token);
}

/* Well-formed claims other than those signed: a forgery. */
static void test_tamper_claims(void **state) {
  char *token = sign("bob");
  char *forged = forge(KEY_NAME,
                       "{\"iat\":1700000000000,\"exp\":4000000000000,"
                       "\"c\":\"{\\\"*\\\":[\\\"*\\\"]}\",\"x\":\"bob\"}",
                       "attacker's guess");
  /* Forged claims with the genuine signature. */
  char *claims = segment(forged, 2);
  size_t claims_len = (size_t)(strchr(claims, '.') - claims);
  size_t size = strlen(forged) + strlen(token);
  char *spliced = herald_xmalloc(size);
  snprintf(spliced, size, "%s.%.*s.%s", KEY_NAME, (int)claims_len, claims,
           segment(token, 3));
  assert_verify_fails(spliced, HERALD_E_TOKEN_UNRECOGNIZED);
  /* Or with their own. */
  assert_verify_fails(forged, HERALD_E_TOKEN_UNRECOGNIZED);
  herald_free(spliced);
  herald_free(forged);
  herald_free(token);
}

static void test_malformed_shape(void **state) {
  char *token = sign("bob");
  size_t len = strlen(token);
  size_t size = 2 * len + 16;
  char *buf = herald_xmalloc(size);
  /* Truncated and extended signatures. */
  assert_verify_fails_len(token, len - 1, SECRET, HERALD_E_INVALID_TOKEN);
  snprintf(buf, size, "%sA", token);
  assert_malformed(buf);
  /* A non-base64url character in the signature or the claims. */
  for (int seg = 2; seg < 4; seg++) {
    const char bad[] = {'+', '/', '=', ':', ' ', '\0'};
    for (size_t i = 0; i < sizeof bad; i++) {
      strcpy(buf, token);
      segment(buf, seg)[1] = bad[i];
      assert_verify_fails_len(buf, len, SECRET, HERALD_E_INVALID_TOKEN);
    }
  }
  /* Claims garbled into bytes that are not JSON. */
  strcpy(buf, token);
  segment(buf, 2)[0] = 'A';
  assert_verify_fails(buf, HERALD_E_INVALID_TOKEN);
  /* Empty segments, missing segments, an extra one. */
  const char *sig = segment(token, 3);
  const char *claims = segment(token, 2);
  int claims_len = (int)(sig - 1 - claims);
  snprintf(buf, size, ".A1b2C3.%.*s.%s", claims_len, claims, sig);
  assert_malformed(buf);
  snprintf(buf, size, "xVLyHw..%.*s.%s", claims_len, claims, sig);
  assert_malformed(buf);
  snprintf(buf, size, "%s..%s", KEY_NAME, sig);
  assert_malformed(buf);
  snprintf(buf, size, "%s.%.*s.", KEY_NAME, claims_len, claims);
  assert_malformed(buf);
  snprintf(buf, size, "%s.%s", KEY_NAME, sig);
  assert_malformed(buf);
  snprintf(buf, size, "xVLyHw.%.*s.%s", claims_len, claims, sig);
  assert_malformed(buf);
  snprintf(buf, size, "x.%s", token);
  assert_malformed(buf);
  snprintf(buf, size, "%s.%s", token, sig);
  assert_malformed(buf);
  assert_malformed("");
  assert_malformed("abc");
  assert_malformed(SHORT_SIGNATURE);
  herald_free(buf);
  herald_free(token);
}

/* Signed with the right key, but not claims this module writes. */
static void test_malformed_claims(void **state) {
  assert_forged_malformed("");
  assert_forged_malformed("not json");
  assert_forged_malformed("[]");
  assert_forged_malformed("\"claims\"");
  assert_forged_malformed("{}");
  assert_forged_malformed("{\"iat\":1,\"exp\":2}");
  assert_forged_malformed("{\"iat\":1,\"c\":\"{}\"}");
  assert_forged_malformed("{\"exp\":2,\"c\":\"{}\"}");
  assert_forged_malformed("{\"iat\":\"1\",\"exp\":2,\"c\":\"{}\"}");
  assert_forged_malformed("{\"iat\":1.0,\"exp\":2,\"c\":\"{}\"}");
  assert_forged_malformed("{\"iat\":1,\"exp\":null,\"c\":\"{}\"}");
  assert_forged_malformed("{\"iat\":1,\"exp\":2,\"c\":{}}");
  assert_forged_malformed("{\"iat\":1,\"exp\":2,\"c\":\"{}\",\"x\":5}");
  assert_forged_malformed("{\"iat\":1,\"exp\":2,\"c\":\"{}\",\"x\":null}");
  assert_forged_malformed("{\"iat\":1,\"exp\":2,\"c\":\"{}\",\"z\":0}");
  assert_forged_malformed("{\"iat\":1,\"exp\":2,\"c\":\"{}\",\"iat\":1}");
  assert_forged_malformed(
      "{\"iat\":1,\"exp\":2,\"c\":\"{}\",\"x\":\"a\\u0000b\"}");
  assert_forged_malformed("{\"iat\":1,\"exp\":2,\"c\":\"{}\"} trailing");
  /* Claims of the right shape verify: the cases above fail for their
   * claims alone. */
  char *text = forge(KEY_NAME, "{\"c\":\"{}\",\"x\":\"\",\"exp\":2,\"iat\":1}",
                     SECRET);
  struct token_claims claims;
  verify_ok(text, &claims);
  assert_int_equal(claims.issued, 1);
  assert_int_equal(claims.expires, 2);
  assert_string_equal(claims.capability, "{}");
  assert_string_equal(claims.client_id, "");
  token_claims__cleanup(&claims);
  herald_free(text);
}

/* Shape is judged before the signature: malformed claims are 40145 even
 * with a signature from another key. */
static void test_malformed_before_signature(void **state) {
  char *text = forge(KEY_NAME, "[]", "another secret");
  assert_verify_fails(text, HERALD_E_INVALID_TOKEN);
  herald_free(text);
}

#define TEST(f) \
  cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_round_trip),
      TEST(test_claims_json),
      TEST(test_token_alphabet),
      TEST(test_sign_rejects),
      TEST(test_key_name),
      TEST(test_wrong_secret),
      TEST(test_tamper_signed_bytes),
      TEST(test_tamper_claims),
      TEST(test_malformed_shape),
      TEST(test_malformed_claims),
      TEST(test_malformed_before_signature),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
