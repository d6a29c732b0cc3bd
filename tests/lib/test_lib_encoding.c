/* test_lib_encoding.c -- libherald's data encoding against ably-common's
 * vectors: messages-encoding.json (decoding each encoding chain),
 * msgpack_test_fixtures.json (ProtocolMessages packed by the SDKs) and
 * crypto-data-128/256.json (decrypting each item in JSON and MessagePack
 * form, and encrypting with the vector's IV to the same bytes). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "base64.h"
#include "data.h"
#include "messages.h"
#include "wire.h"

static json_t *fixture(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", HERALD_FIXTURES, name);
  json_error_t e;
  json_t *root = json_load_file(path, 0, &e);
  assert_non_null(root);
  return root;
}

/* Decodes one wire item (JSON text or MessagePack bytes). */
static void read_one(enum wire_format f, const char *bytes, size_t len,
                     const herald_cipher_params *cipher, struct item_list *out) {
  struct wire_doc doc;
  herald_error err;
  assert_int_equal(wire_doc__parse(&doc, f, bytes, len, &err), 0);
  assert_int_equal(messages__read(wire_doc__root(&doc), true, cipher, out, &err), 0);
  wire_doc__cleanup(&doc);
}

static void read_json_item(json_t *item, const herald_cipher_params *cipher,
                           struct item_list *out) {
  char *text = json_dumps(item, JSON_COMPACT);
  read_one(WIRE_JSON, text, strlen(text), cipher, out);
  free(text);
}

static void assert_json_equal(const char *text, json_t *want) {
  json_error_t e;
  json_t *got = json_loads(text, 0, &e);
  assert_non_null(got);
  assert_true(json_equal(got, want));
  json_decref(got);
}

static void test_messages_encoding(void **state) {
  (void)state;
  json_t *root = fixture("messages-encoding.json");
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(root, "messages"), i, m) {
    json_t *wire = json_pack("{s:O,s:O}", "data", json_object_get(m, "data"),
                             "encoding", json_object_get(m, "encoding"));
    struct item_list l;
    read_json_item(wire, NULL, &l);
    const herald_message *v = &l.views[0];
    const char *type = json_string_value(json_object_get(m, "expectedType"));
    if (strcmp(type, "string") == 0) {
      assert_int_equal(v->data.type, HERALD_DATA_STRING);
      assert_string_equal(v->data.bytes, json_string_value(json_object_get(m, "expectedValue")));
    } else if (strcmp(type, "binary") == 0) {
      assert_int_equal(v->data.type, HERALD_DATA_BINARY);
      const char *hex = json_string_value(json_object_get(m, "expectedHexValue"));
      assert_int_equal(v->data.len * 2, strlen(hex));
      for (size_t k = 0; k < v->data.len; k++) {
        char two[3];
        snprintf(two, sizeof two, "%02x", (unsigned char)v->data.bytes[k]);
        assert_memory_equal(two, hex + 2 * k, 2);
      }
    } else {
      assert_int_equal(v->data.type, HERALD_DATA_JSON);
      assert_json_equal(v->data.bytes, json_object_get(m, "expectedValue"));
    }
    assert_null(v->encoding);
    messages__free(&l);
    json_decref(wire);
  }
  json_decref(root);
}

static void test_msgpack_fixtures(void **state) {
  (void)state;
  json_t *root = fixture("msgpack_test_fixtures.json");
  size_t i;
  json_t *f;
  json_array_foreach(root, i, f) {
    const char *b64 = json_string_value(json_object_get(f, "msgpack"));
    size_t len;
    unsigned char *bytes = base64__decode(b64, strlen(b64), &len);
    struct wire_doc doc;
    herald_error err;
    assert_int_equal(wire_doc__parse(&doc, WIRE_MSGPACK, (char *)bytes, len, &err), 0);
    struct item_list l;
    assert_int_equal(messages__read(wire_value__get(wire_doc__root(&doc), "messages"),
                                    true, NULL, &l, &err), 0);
    const herald_message *v = &l.views[0];
    const char *type = json_string_value(json_object_get(f, "type"));
    json_t *data = json_object_get(f, "data");
    if (!strcmp(type, "string") || !strcmp(type, "binary")) {
      size_t n = (size_t)json_integer_value(json_object_get(f, "numRepeat"));
      const char *unit = json_string_value(data);
      assert_int_equal(v->data.type, strcmp(type, "string") ? HERALD_DATA_BINARY : HERALD_DATA_STRING);
      assert_int_equal(v->data.len, n * strlen(unit));
      for (size_t k = 0; k < n; k++) assert_memory_equal(v->data.bytes + k * strlen(unit), unit, strlen(unit));
    } else {
      assert_int_equal(v->data.type, HERALD_DATA_JSON);
      assert_json_equal(v->data.bytes, data);
    }
    messages__free(&l);
    wire_doc__cleanup(&doc);
    herald_free(bytes);
  }
  json_decref(root);
}

static void crypto_vectors(const char *file) {
  json_t *root = fixture(file);
  herald_cipher_params cp;
  herald_error err;
  assert_int_equal(herald_cipher_params_from_base64(&cp, json_string_value(json_object_get(root, "key")), &err), 0);
  size_t iv_len;
  const char *iv_b64 = json_string_value(json_object_get(root, "iv"));
  unsigned char *iv = base64__decode(iv_b64, strlen(iv_b64), &iv_len);
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(root, "items"), i, item) {
    struct item_list plain, dec, packed;
    read_json_item(json_object_get(item, "encoded"), NULL, &plain);
    read_json_item(json_object_get(item, "encrypted"), &cp, &dec);
    const char *mp = json_string_value(json_object_get(item, "msgpack"));
    size_t mp_len;
    unsigned char *mp_bytes = base64__decode(mp, strlen(mp), &mp_len);
    read_one(WIRE_MSGPACK, (char *)mp_bytes, mp_len, &cp, &packed);
    const herald_data *want = &plain.views[0].data;
    const herald_data *got[] = {&dec.views[0].data, &packed.views[0].data};
    for (int k = 0; k < 2; k++) {
      assert_int_equal(got[k]->type, want->type);
      assert_int_equal(got[k]->len, want->len);
      assert_memory_equal(got[k]->bytes, want->bytes, want->len);
    }
    assert_null(dec.views[0].encoding);
    /* encrypting with the vector's IV gives the vector's bytes */
    struct payload p;
    assert_int_equal(data__encode(want, &cp, iv, &p, &err), 0);
    json_t *enc = json_object_get(item, "encrypted");
    const char *want_b64 = json_string_value(json_object_get(enc, "data"));
    char *got_b64 = herald_xmalloc(base64__encoded_size(p.len));
    base64__encode(p.data, p.len, got_b64);
    assert_string_equal(got_b64, want_b64);
    char want_enc[64];
    snprintf(want_enc, sizeof want_enc, "%s/base64", p.encoding);
    assert_string_equal(want_enc, json_string_value(json_object_get(enc, "encoding")));
    herald_free(got_b64);
    payload__cleanup(&p);
    herald_free(mp_bytes);
    messages__free(&plain);
    messages__free(&dec);
    messages__free(&packed);
  }
  herald_free(iv);
  json_decref(root);
}

static void test_crypto_128(void **state) {
  (void)state;
  crypto_vectors("crypto-data-128.json");
}

static void test_crypto_256(void **state) {
  (void)state;
  crypto_vectors("crypto-data-256.json");
}

/* Without the key, or with another, the cipher step stays. */
static void test_cipher_without_key(void **state) {
  (void)state;
  json_t *root = fixture("crypto-data-256.json");
  json_t *enc = json_object_get(json_array_get(json_object_get(root, "items"), 0), "encrypted");
  struct item_list l;
  read_json_item(enc, NULL, &l);
  assert_string_equal(l.views[0].encoding, "utf-8/cipher+aes-256-cbc");
  assert_int_equal(l.views[0].data.type, HERALD_DATA_BINARY);
  messages__free(&l);
  herald_cipher_params other;
  unsigned char key[32] = {1};
  herald_cipher_params_from_key(&other, key, 32, NULL);
  read_json_item(enc, &other, &l);
  assert_string_equal(l.views[0].encoding, "utf-8/cipher+aes-256-cbc");
  messages__free(&l);
  json_decref(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_messages_encoding),
      cmocka_unit_test(test_msgpack_fixtures),
      cmocka_unit_test(test_crypto_128),
      cmocka_unit_test(test_crypto_256),
      cmocka_unit_test(test_cipher_without_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
