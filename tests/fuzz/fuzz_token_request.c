/* fuzz_token_request.c -- libFuzzer target for TokenRequests as POST
 * /keys/:key/requestToken receives them (common/token_request.c): the body
 * in either wire format (the first input byte picks JSON or MessagePack),
 * through wire_doc__parse and token_request__decode.
 *
 * For every input: decoding ends in a request or a -40001 error without a
 * crash or leak. A decoded request
 *  - survives the way back: its fields written as a map in both formats
 *    decode to the same texts, with the same MAC;
 *  - carries its MAC: with the MAC token_request__mac computes, it
 *    matches; with one character of that MAC changed, or another secret,
 *    it does not;
 *  - reads ttl and timestamp as token_request__parse_ms says: exactly the
 *    non-empty digit strings whose value fits an int64, and that value. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "token_request.h"
#include "wire.h"

static const char secret[] = "fuzz-secret";

static void fail(const char *what) {
  fprintf(stderr, "token request: %s\n", what);
  abort();
}

static bool same(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

/* The request's fields, as the members of one map. */
static const struct member {
  const char *name;
  size_t offset;
} members[] = {
    {"keyName", offsetof(struct token_request, key_name)},
    {"ttl", offsetof(struct token_request, ttl)},
    {"capability", offsetof(struct token_request, capability)},
    {"clientId", offsetof(struct token_request, client_id)},
    {"timestamp", offsetof(struct token_request, timestamp)},
    {"nonce", offsetof(struct token_request, nonce)},
    {"mac", offsetof(struct token_request, mac)},
};
#define N_MEMBERS (sizeof members / sizeof members[0])

static const char *field(const struct token_request *tr, size_t i) {
  return *(const char *const *)((const char *)tr + members[i].offset);
}

static void check_round_trip(const struct token_request *tr, enum wire_format format) {
  size_t present = 0;
  for (size_t i = 0; i < N_MEMBERS; i++) present += field(tr, i) != NULL;
  struct wire_writer w;
  wire_writer__init(&w, format);
  wire_writer__map(&w, present);
  for (size_t i = 0; i < N_MEMBERS; i++)
    if (field(tr, i)) wire_writer__kv_str(&w, members[i].name, field(tr, i));
  size_t len;
  char *bytes = wire_writer__finish(&w, &len);
  wire_writer__cleanup(&w);
  /* MessagePack strings need not be UTF-8, and then are no JSON text. */
  if (!bytes && format == WIRE_JSON) return;
  if (!bytes) fail("a decoded TokenRequest could not be written");
  struct wire_doc doc;
  herald_error err;
  struct token_request again;
  if (wire_doc__parse(&doc, format, bytes, len, &err) ||
      token_request__decode(wire_doc__root(&doc), &again, &err))
    fail("what was written does not decode");
  for (size_t i = 0; i < N_MEMBERS; i++)
    if (!same(field(tr, i), field(&again, i))) fail("a field changed on the way back");
  char mac[TOKEN_REQUEST_MAC_LEN + 1], mac2[TOKEN_REQUEST_MAC_LEN + 1];
  token_request__mac(tr, secret, mac);
  token_request__mac(&again, secret, mac2);
  if (strcmp(mac, mac2) != 0) fail("the MAC changed on the way back");
  token_request__cleanup(&again);
  wire_doc__cleanup(&doc);
  herald_free(bytes);
}

static void check_mac(struct token_request *tr) {
  char mac[TOKEN_REQUEST_MAC_LEN + 1];
  token_request__mac(tr, secret, mac);
  if (strlen(mac) != TOKEN_REQUEST_MAC_LEN) fail("a MAC of the wrong length");
  char *sent = tr->mac;
  tr->mac = mac;
  if (!token_request__mac_matches(tr, secret)) fail("its own MAC does not match");
  if (token_request__mac_matches(tr, "another-secret"))
    fail("a MAC matches with another secret");
  size_t at = (sent ? strlen(sent) : 0) % TOKEN_REQUEST_MAC_LEN;
  mac[at] = mac[at] == 'A' ? 'B' : 'A';
  if (token_request__mac_matches(tr, secret)) fail("a changed MAC matches");
  tr->mac = sent;
}

/* parse_ms against its rule: digits only, non-empty, within int64. */
static void check_ms(const char *text) {
  if (!text) return;
  int64_t v;
  bool ok = token_request__parse_ms(text, &v);
  bool digits = *text != '\0';
  for (const char *p = text; *p; p++) digits = digits && *p >= '0' && *p <= '9';
  const char *first = text;
  while (first[0] == '0' && first[1]) first++; /* leading zeros */
  bool fits = strlen(first) < 19 ||
              (strlen(first) == 19 && strcmp(first, "9223372036854775807") <= 0);
  if (ok != (digits && fits)) fail("parse_ms decided wrongly");
  char back[24];
  snprintf(back, sizeof back, "%" PRId64, ok ? v : 0);
  if (ok && strcmp(back, first) != 0) fail("parse_ms read another value");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  enum wire_format format = data[0] & 1 ? WIRE_MSGPACK : WIRE_JSON;
  struct wire_doc doc;
  herald_error err;
  if (wire_doc__parse(&doc, format, (const char *)data + 1, size - 1, &err)) return 0;
  struct token_request tr;
  if (token_request__decode(wire_doc__root(&doc), &tr, &err) == 0) {
    check_round_trip(&tr, WIRE_JSON);
    check_round_trip(&tr, WIRE_MSGPACK);
    check_mac(&tr);
    check_ms(tr.ttl);
    check_ms(tr.timestamp);
    token_request__cleanup(&tr);
  } else if (err.code != HERALD_E_INVALID_REQUEST_BODY) {
    fail("a refused TokenRequest got another code than 40001");
  }
  wire_doc__cleanup(&doc);
  return 0;
}
