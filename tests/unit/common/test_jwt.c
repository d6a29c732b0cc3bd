/* test_jwt.c -- Ably JWTs (shared/spec/auth.md section 8): telling a JWT
 * from an Ably token, parsing header and claims, lenient segment decoding,
 * embedded tokens, and HS256 verification, with the spec's worked example
 * as the vector. Every test checks that the live allocation count returns
 * to where it started. */
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

#define SECRET "secretValue123"

/* auth.md section 8: kid xVLyHw.A1b2C3, iat 1700000000, exp 1700003600,
 * capability {"*":["*"]}, clientId bob, signed with SECRET. */
#define EXAMPLE_HEADER                                              \
  "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiIsImtpZCI6InhWTHlIdy5BMWIyQzMifQ"
#define EXAMPLE_CLAIMS                                                  \
  "eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMCwieC1hYmx5LWNhcGFiaWxp" \
  "dHkiOiJ7XCIqXCI6W1wiKlwiXX0iLCJ4LWFibHktY2xpZW50SWQiOiJib2IifQ"
#define EXAMPLE_SIGNATURE "2SGGeKCGl7Ee8l7Nvsh-gBCR39Md0LmAwnEB4hRzz54"
#define EXAMPLE EXAMPLE_HEADER "." EXAMPLE_CLAIMS "." EXAMPLE_SIGNATURE

#define HEADER "{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"xVLyHw.A1b2C3\"}"
#define CLAIMS                                                         \
  "{\"iat\":1700000000,\"exp\":1700003600,"                            \
  "\"x-ably-capability\":\"{\\\"*\\\":[\\\"*\\\"]}\","                 \
  "\"x-ably-clientId\":\"bob\"}"

/* ---------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------- */

/* Appends the encoding of bytes[0..len) at *at. */
static void put_segment(char *out, size_t *at, const void *bytes, size_t len,
                        bool standard) {
  *at += standard ? base64__encode(bytes, len, out + *at)
                  : base64__encode_url(bytes, len, out + *at);
}

/* A JWT of the given header and claims JSON, signed with secret over the
 * segments as transmitted (empty signature when secret is NULL). standard:
 * every segment in padded standard base64 instead of base64url. */
static char *make_jwt(const char *header, const char *claims,
                      const char *secret, bool standard) {
  size_t header_len = strlen(header), claims_len = strlen(claims);
  char *jwt = herald_xmalloc(base64__encoded_size(header_len) +
                             base64__encoded_size(claims_len) +
                             base64__encoded_size(HMAC_SHA256_LEN) + 2);
  size_t at = 0;
  put_segment(jwt, &at, header, header_len, standard);
  jwt[at++] = '.';
  put_segment(jwt, &at, claims, claims_len, standard);
  jwt[at] = '.';
  unsigned char digest[HMAC_SHA256_LEN];
  if (secret) hmac__sha256(secret, strlen(secret), jwt, at, digest);
  at++;
  put_segment(jwt, &at, digest, secret ? sizeof digest : 0, standard);
  return jwt;
}

static void parse_ok(const char *text, struct jwt *out) {
  herald_error err = {0};
  int rc = jwt__parse(text, strlen(text), out, &err);
  if (rc) print_error("jwt__parse(%s): %s\n", text, err.message);
  assert_int_equal(rc, 0);
}

static void assert_error(const herald_error *err, const char *needle) {
  assert_int_equal(err->code, HERALD_E_INVALID_JWT);
  assert_int_equal(err->status, 401);
  if (!strstr(err->message, needle))
    print_error("\"%s\" does not mention \"%s\"\n", err->message, needle);
  assert_non_null(strstr(err->message, needle));
}

/* Expects jwt__parse to fail with 40144 mentioning needle, *out left empty. */
static void assert_parse_fails(const char *text, const char *needle) {
  struct jwt jwt, empty;
  memset(&jwt, 0xab, sizeof jwt);
  memset(&empty, 0, sizeof empty);
  herald_error err = {0};
  assert_int_equal(jwt__parse(text, strlen(text), &jwt, &err),
                   -HERALD_E_INVALID_JWT);
  assert_error(&err, needle);
  assert_memory_equal(&jwt, &empty, sizeof jwt);
}

/* Builds a JWT from header and claims (signed with SECRET) and expects
 * parsing to fail. */
static void assert_made_parse_fails(const char *header, const char *claims,
                                    const char *needle) {
  char *text = make_jwt(header, claims, SECRET, false);
  assert_parse_fails(text, needle);
  herald_free(text);
}

/* Expects text to parse and then fail verification with secret. */
static void assert_verify_fails(const char *text, const char *secret,
                                const char *needle) {
  struct jwt jwt;
  parse_ok(text, &jwt);
  herald_error err = {0};
  assert_int_equal(jwt__verify(&jwt, text, secret, &err),
                   -HERALD_E_INVALID_JWT);
  assert_error(&err, needle);
  jwt__cleanup(&jwt);
}

static void assert_made_verify_fails(const char *header, const char *claims,
                                     const char *needle) {
  char *text = make_jwt(header, claims, SECRET, false);
  assert_verify_fails(text, SECRET, needle);
  herald_free(text);
}

static void assert_verifies(const char *text, const char *secret) {
  struct jwt jwt;
  parse_ok(text, &jwt);
  herald_error err = {0};
  int rc = jwt__verify(&jwt, text, secret, &err);
  if (rc) print_error("jwt__verify(%s): %s\n", text, err.message);
  assert_int_equal(rc, 0);
  jwt__cleanup(&jwt);
}

/* ---------------------------------------------------------------------------
 * The worked example
 * ------------------------------------------------------------------------- */

static void test_example(void **state) {
  struct jwt jwt;
  parse_ok(EXAMPLE, &jwt);
  assert_string_equal(jwt.alg, "HS256");
  assert_string_equal(jwt.kid, "xVLyHw.A1b2C3");
  assert_true(jwt.has_iat);
  assert_true(jwt.has_exp);
  assert_int_equal(jwt.iat, 1700000000);
  assert_int_equal(jwt.exp, 1700003600);
  assert_string_equal(jwt.capability, "{\"*\":[\"*\"]}");
  assert_string_equal(jwt.client_id, "bob");
  assert_null(jwt.embedded_token);
  assert_null(jwt.revocation_key);
  assert_int_equal(jwt.signed_len,
                   strlen(EXAMPLE_HEADER) + 1 + strlen(EXAMPLE_CLAIMS));
  assert_int_equal(jwt.signature_len, HMAC_SHA256_LEN);
  herald_error err = {0};
  assert_int_equal(jwt__verify(&jwt, EXAMPLE, SECRET, &err), 0);
  jwt__cleanup(&jwt);
  assert_null(jwt.kid);
  assert_null(jwt.signature);
}

/* The helper reproduces the example byte for byte. */
static void test_make_jwt_matches_example(void **state) {
  char *text = make_jwt(HEADER, CLAIMS, SECRET, false);
  assert_string_equal(text, EXAMPLE);
  herald_free(text);
}

static void test_wrong_secret(void **state) {
  assert_verify_fails(EXAMPLE, "secretValue124", "signature");
  assert_verify_fails(EXAMPLE, "", "signature");
}

/* ---------------------------------------------------------------------------
 * Algorithm and signature
 * ------------------------------------------------------------------------- */

static void test_alg_none(void **state) {
  char *text = make_jwt("{\"alg\":\"none\",\"kid\":\"xVLyHw.A1b2C3\"}", CLAIMS,
                        NULL, false);
  assert_int_equal(text[strlen(text) - 1], '.'); /* empty signature */
  assert_verify_fails(text, SECRET, "alg \"none\"");
  herald_free(text);
  /* Signed with the secret, but still not HS256. */
  assert_made_verify_fails("{\"alg\":\"none\",\"kid\":\"xVLyHw.A1b2C3\"}",
                           CLAIMS, "HS256");
}

static void test_alg_not_hs256(void **state) {
  assert_made_verify_fails("{\"alg\":\"RS256\",\"kid\":\"xVLyHw.A1b2C3\"}",
                           CLAIMS, "alg \"RS256\"");
  assert_made_verify_fails("{\"alg\":\"HS512\",\"kid\":\"xVLyHw.A1b2C3\"}",
                           CLAIMS, "alg \"HS512\"");
  assert_made_verify_fails("{\"alg\":\"hs256\",\"kid\":\"xVLyHw.A1b2C3\"}",
                           CLAIMS, "alg \"hs256\"");
  assert_made_verify_fails("{\"alg\":\"HS256 \",\"kid\":\"xVLyHw.A1b2C3\"}",
                           CLAIMS, "HS256");
  assert_made_verify_fails("{\"typ\":\"JWT\",\"kid\":\"xVLyHw.A1b2C3\"}",
                           CLAIMS, "no alg");
}

static void test_tampered_claims(void **state) {
  /* Claims of another client, with the example's header and signature. */
  char *other = make_jwt(HEADER,
                         "{\"iat\":1700000000,\"exp\":1700003600,"
                         "\"x-ably-capability\":\"{\\\"*\\\":[\\\"*\\\"]}\","
                         "\"x-ably-clientId\":\"eve\"}",
                         SECRET, false);
  char *claims = strchr(other, '.') + 1;
  *strchr(claims, '.') = '\0';
  size_t len = strlen(EXAMPLE_HEADER) + 1 + strlen(claims) + 1 +
               strlen(EXAMPLE_SIGNATURE) + 1;
  char *text = herald_xmalloc(len);
  snprintf(text, len, "%s.%s.%s", EXAMPLE_HEADER, claims, EXAMPLE_SIGNATURE);
  herald_free(other);
  assert_verify_fails(text, SECRET, "signature");
  herald_free(text);
}

static void test_tampered_signature(void **state) {
  char text[] = EXAMPLE;
  text[strlen(text) - 10] = 'N'; /* was 'n' */
  assert_verify_fails(text, SECRET, "signature");
  /* A truncated signature. */
  text[strlen(text) - 4] = '\0';
  assert_verify_fails(text, SECRET, "signature");
  /* No signature at all. */
  assert_verify_fails(EXAMPLE_HEADER "." EXAMPLE_CLAIMS ".", SECRET,
                      "signature");
}

/* The header is signed too: a changed kid breaks the signature. */
static void test_tampered_header(void **state) {
  char *text = make_jwt(
      "{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"xVLyHw.A1b2C4\"}", CLAIMS,
      SECRET, false);
  char *header_end = strchr(text, '.');
  char *forged = herald_xmalloc(strlen(EXAMPLE) + 8);
  snprintf(forged, strlen(EXAMPLE) + 8, "%.*s.%s.%s",
           (int)(header_end - text), text, EXAMPLE_CLAIMS, EXAMPLE_SIGNATURE);
  assert_verify_fails(forged, SECRET, "signature");
  herald_free(forged);
  herald_free(text);
}

/* Segments in padded standard base64 decode, and the signature covers them
 * exactly as sent. */
static void test_standard_base64(void **state) {
  /* Chosen so that the header encoding has '+' or '/' and padding. */
  const char *header =
      "{\"alg\":\"HS256\",\"kid\":\"xVLyHw.A1b2C3\",\"typ\":\"JWT>>?\"}";
  char *text = make_jwt(header, CLAIMS, SECRET, true);
  assert_true(strchr(text, '=') != NULL);
  assert_true(strpbrk(text, "+/") != NULL);
  assert_verifies(text, SECRET);
  struct jwt jwt;
  parse_ok(text, &jwt);
  assert_string_equal(jwt.kid, "xVLyHw.A1b2C3");
  assert_string_equal(jwt.client_id, "bob");
  jwt__cleanup(&jwt);
  herald_free(text);
  /* Padding added to the example's claims decodes to the same claims but
   * changes the bytes signed, so the signature no longer matches. */
  assert_verify_fails(EXAMPLE_HEADER "." EXAMPLE_CLAIMS "==." EXAMPLE_SIGNATURE,
                      SECRET, "signature");
  /* The signature segment is decoded leniently too. */
  char copy[] = EXAMPLE;
  char *dash = strchr(copy + strlen(EXAMPLE_HEADER EXAMPLE_CLAIMS) + 2, '-');
  assert_non_null(dash);
  *dash = '+';
  assert_verifies(copy, SECRET);
  assert_verifies(EXAMPLE "=", SECRET);
}

static void test_missing_times(void **state) {
  assert_made_verify_fails(HEADER, "{\"exp\":1700003600}", "iat");
  assert_made_verify_fails(HEADER, "{\"iat\":1700000000}", "exp");
  assert_made_verify_fails(HEADER, "{}", "iat");
  assert_made_verify_fails(HEADER, "{\"x-ably-clientId\":\"bob\"}", "iat");
}

/* ---------------------------------------------------------------------------
 * Malformed tokens
 * ------------------------------------------------------------------------- */

static void test_segment_count(void **state) {
  assert_parse_fails(EXAMPLE_HEADER "." EXAMPLE_CLAIMS, "three");
  assert_parse_fails(EXAMPLE ".x", "three");
  assert_parse_fails(EXAMPLE ".", "three");
  assert_parse_fails(EXAMPLE_HEADER, "three");
  assert_parse_fails("", "three");
  assert_parse_fails("..", "header");
}

static void test_bad_base64(void **state) {
  assert_parse_fails("!!!." EXAMPLE_CLAIMS "." EXAMPLE_SIGNATURE, "header");
  assert_parse_fails(EXAMPLE_HEADER ".e*J." EXAMPLE_SIGNATURE, "claims");
  assert_parse_fails(EXAMPLE_HEADER "." EXAMPLE_CLAIMS ".2SGG$eKCG",
                     "signature");
  assert_parse_fails(EXAMPLE_HEADER "." EXAMPLE_CLAIMS ".A", "signature");
}

static void test_not_objects(void **state) {
  assert_made_parse_fails("[]", CLAIMS, "header");
  assert_made_parse_fails("\"HS256\"", CLAIMS, "header");
  assert_made_parse_fails("{\"alg\":\"HS256\"", CLAIMS, "header");
  assert_made_parse_fails("{\"alg\":\"HS256\"} x", CLAIMS, "header");
  assert_made_parse_fails(HEADER, "[1700000000]", "claims");
  assert_made_parse_fails(HEADER, "null", "claims");
  assert_made_parse_fails(HEADER, "not json", "claims");
  assert_made_parse_fails(HEADER, "{\"iat\":1,\"iat\":2}", "claims");
  assert_made_parse_fails(HEADER, "{\"x-ably-clientId\":\"b\\u0000ob\"}",
                          "claims");
}

static void test_wrongly_typed_members(void **state) {
  assert_made_parse_fails(HEADER, "{\"iat\":\"1700000000\",\"exp\":1}",
                          "iat must be an integer");
  assert_made_parse_fails(HEADER, "{\"iat\":1,\"exp\":1700003600.5}",
                          "exp must be an integer");
  assert_made_parse_fails(HEADER, "{\"iat\":1,\"exp\":1700003600.0}",
                          "exp must be an integer");
  assert_made_parse_fails(HEADER, "{\"iat\":null,\"exp\":1}",
                          "iat must be an integer");
  assert_made_parse_fails(HEADER, "{\"x-ably-capability\":{\"*\":[\"*\"]}}",
                          "x-ably-capability must be a string");
  assert_made_parse_fails(HEADER, "{\"x-ably-clientId\":7}",
                          "x-ably-clientId must be a string");
  assert_made_parse_fails(HEADER, "{\"x-ably-revocation-key\":[]}",
                          "x-ably-revocation-key must be a string");
  assert_made_parse_fails(HEADER, "{\"x-ably-token\":true}",
                          "x-ably-token must be a string");
  assert_made_parse_fails("{\"alg\":\"HS256\",\"kid\":5}", CLAIMS,
                          "header kid must be a string");
  assert_made_parse_fails("{\"alg\":256,\"kid\":\"k.n\"}", CLAIMS,
                          "header alg must be a string");
  assert_made_parse_fails("{\"alg\":\"HS256\",\"x-ably-token\":{}}", CLAIMS,
                          "header x-ably-token must be a string");
}

static void test_no_kid(void **state) {
  assert_made_parse_fails("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", CLAIMS,
                          "kid");
}

static void test_revocation_key(void **state) {
  char *text = make_jwt(HEADER,
                        "{\"iat\":1,\"exp\":2,\"x-ably-revocation-key\":"
                        "\"users.bob\"}",
                        SECRET, false);
  struct jwt jwt;
  parse_ok(text, &jwt);
  assert_string_equal(jwt.revocation_key, "users.bob");
  assert_null(jwt.capability);
  assert_null(jwt.client_id);
  assert_int_equal(jwt.iat, 1);
  assert_int_equal(jwt.exp, 2);
  jwt__cleanup(&jwt);
  assert_verifies(text, SECRET);
  herald_free(text);
}

/* ---------------------------------------------------------------------------
 * Embedded tokens
 * ------------------------------------------------------------------------- */

static void test_embedded_in_header(void **state) {
  char *text = make_jwt("{\"typ\":\"JWT\",\"alg\":\"RS256\","
                        "\"x-ably-token\":\"xVLyHw.inner-token\"}",
                        "{\"iat\":1700000000,\"exp\":1700000600}", NULL,
                        false);
  struct jwt jwt;
  parse_ok(text, &jwt);
  assert_string_equal(jwt.embedded_token, "xVLyHw.inner-token");
  assert_null(jwt.kid);
  assert_string_equal(jwt.alg, "RS256");
  assert_int_equal(jwt.exp, 1700000600);
  assert_int_equal(jwt.signature_len, 0);
  jwt__cleanup(&jwt);
  herald_free(text);
}

static void test_embedded_in_claims(void **state) {
  char *text = make_jwt("{\"alg\":\"HS256\"}",
                        "{\"exp\":1700000600,\"x-ably-token\":\"" EXAMPLE
                        "\"}",
                        "outer secret", false);
  struct jwt jwt;
  parse_ok(text, &jwt);
  assert_string_equal(jwt.embedded_token, EXAMPLE);
  assert_null(jwt.kid);
  assert_false(jwt.has_iat);
  jwt__cleanup(&jwt);
  herald_free(text);
}

/* The header's x-ably-token takes precedence over the claim. */
static void test_embedded_header_wins(void **state) {
  char *text = make_jwt("{\"alg\":\"HS256\",\"x-ably-token\":\"from-header\"}",
                        "{\"x-ably-token\":\"from-claims\"}", SECRET, false);
  struct jwt jwt;
  parse_ok(text, &jwt);
  assert_string_equal(jwt.embedded_token, "from-header");
  jwt__cleanup(&jwt);
  herald_free(text);
}

/* ---------------------------------------------------------------------------
 * looks_like
 * ------------------------------------------------------------------------- */

static bool looks_like(const char *text) {
  return jwt__looks_like(text, strlen(text));
}

static void test_looks_like(void **state) {
  assert_true(looks_like(EXAMPLE));
  assert_true(looks_like(EXAMPLE_HEADER ".."));
  char *text = make_jwt(HEADER, CLAIMS, NULL, true);
  assert_true(looks_like(text));
  herald_free(text);
  assert_false(looks_like("app.key.claims.signature"));
  assert_false(looks_like(EXAMPLE_HEADER ".a.b.c"));
  assert_false(looks_like("abc"));
  assert_false(looks_like(""));
  assert_false(looks_like("a.b.c"));
  assert_false(looks_like(EXAMPLE_HEADER "." EXAMPLE_CLAIMS));
  /* Its first segment must decode to an object, not any JSON. */
  assert_false(looks_like("W10.e30.x")); /* [] */
  assert_true(looks_like("e30.x.x"));    /* {} */
  /* A length shorter than the text bounds the check. */
  assert_false(jwt__looks_like(EXAMPLE, strlen(EXAMPLE_HEADER) + 1));
}

#define TEST(f) \
  cmocka_unit_test_setup_teardown(f, leak_check__setup, leak_check__teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_example),
      TEST(test_make_jwt_matches_example),
      TEST(test_wrong_secret),
      TEST(test_alg_none),
      TEST(test_alg_not_hs256),
      TEST(test_tampered_claims),
      TEST(test_tampered_signature),
      TEST(test_tampered_header),
      TEST(test_standard_base64),
      TEST(test_missing_times),
      TEST(test_segment_count),
      TEST(test_bad_base64),
      TEST(test_not_objects),
      TEST(test_wrongly_typed_members),
      TEST(test_no_kid),
      TEST(test_revocation_key),
      TEST(test_embedded_in_header),
      TEST(test_embedded_in_claims),
      TEST(test_embedded_header_wins),
      TEST(test_looks_like),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
