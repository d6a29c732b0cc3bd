/* data.c -- the encoding chain and encryption of message data (see
 * data.h). */
#include "data.h"

#include <jansson.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "cipher.h"
#include "utf8.h"

herald_data herald_string(const char *text) {
  return (herald_data){HERALD_DATA_STRING, text, text ? strlen(text) : 0};
}

herald_data herald_binary(const void *bytes, size_t len) {
  return (herald_data){HERALD_DATA_BINARY, bytes, len};
}

herald_data herald_json(const char *json_text) {
  return (herald_data){HERALD_DATA_JSON, json_text,
                       json_text ? strlen(json_text) : 0};
}

static void push_step(struct payload *p, const char *step) {
  size_t old = p->encoding ? strlen(p->encoding) : 0;
  char *enc = herald_xmalloc(old + strlen(step) + 2);
  if (old) memcpy(enc, p->encoding, old);
  strcpy(enc + old + (old ? 1 : 0), step);
  if (old) enc[old] = '/';
  herald_free(p->encoding);
  p->encoding = enc;
}

/* JSON data is an object or an array (RSL4c3: what ably-js stringifies). */
static bool json_container(const char *text, size_t len) {
  json_error_t e;
  json_t *v = json_loadb(text, len, 0, &e);
  bool ok = v && (json_is_object(v) || json_is_array(v));
  json_decref(v);
  return ok;
}

static void encrypt(struct payload *p, const herald_cipher_params *cipher,
                    const unsigned char *iv) {
  unsigned char random_iv[CIPHER_IV_LEN];
  if (!iv) {
    cipher__random_iv(random_iv);
    iv = random_iv;
  }
  size_t len;
  unsigned char *bytes =
      cipher__encrypt(cipher->key, cipher->key_len, iv, p->data, p->len, &len);
  herald_free(p->data);
  p->data = (char *)bytes;
  p->len = len;
  p->type = PAYLOAD_BINARY;
  push_step(p, cipher__encoding(cipher->key_len));
}

int data__encode(const herald_data *d, const herald_cipher_params *cipher,
                 const unsigned char *iv, struct payload *p,
                 herald_error *err) {
  memset(p, 0, sizeof *p);
  if (d->type == HERALD_DATA_NONE) return 0;
  if (d->type < HERALD_DATA_NONE || d->type > HERALD_DATA_JSON || !d->bytes)
    return herald_error_set(err, HERALD_E_INVALID_DATA,
                            "Invalid message data");
  if (d->type == HERALD_DATA_JSON && !json_container(d->bytes, d->len))
    return herald_error_set(err, HERALD_E_INVALID_DATA,
                            "Invalid JSON data: an object or an array");
  p->type = d->type == HERALD_DATA_BINARY ? PAYLOAD_BINARY : PAYLOAD_STRING;
  p->data = herald_xstrndup(d->bytes, d->len);
  p->len = d->len;
  if (d->type == HERALD_DATA_JSON) push_step(p, "json");
  if (!cipher) return 0;
  if (p->type == PAYLOAD_STRING) push_step(p, "utf-8");
  encrypt(p, cipher, iv);
  return 0;
}

/* The last step of p->encoding (after its last '/'). */
static const char *last_step(const struct payload *p) {
  const char *slash = strrchr(p->encoding, '/');
  return slash ? slash + 1 : p->encoding;
}

static void pop_step(struct payload *p) {
  char *slash = strrchr(p->encoding, '/');
  if (slash) *slash = '\0';
  else {
    herald_free(p->encoding);
    p->encoding = NULL;
  }
}

static void replace_data(struct payload *p, unsigned char *bytes, size_t len,
                         enum payload_type type) {
  herald_free(p->data);
  p->data = (char *)bytes;
  p->len = len;
  p->type = type;
}

/* Undoes one step; false when it cannot. */
static bool undo(struct payload *p, const char *step,
                 const herald_cipher_params *cipher, herald_data_type *type) {
  if (strcmp(step, "base64") == 0 && p->type == PAYLOAD_STRING) {
    size_t len;
    unsigned char *bytes = base64__decode(p->data, p->len, &len);
    if (!bytes) return false;
    replace_data(p, bytes, len, PAYLOAD_BINARY);
    *type = HERALD_DATA_BINARY;
    return true;
  }
  if (strncmp(step, "cipher+", 7) == 0 && p->type == PAYLOAD_BINARY) {
    if (!cipher || strcmp(step, cipher__encoding(cipher->key_len)) != 0)
      return false;
    size_t len;
    unsigned char *plain =
        cipher__decrypt(cipher->key, cipher->key_len, p->data, p->len, &len);
    if (!plain) return false;
    replace_data(p, plain, len, PAYLOAD_BINARY);
    *type = HERALD_DATA_BINARY;
    return true;
  }
  if (strcmp(step, "utf-8") == 0 && p->type == PAYLOAD_BINARY) {
    if (!utf8__valid(p->data, p->len)) return false;
    p->type = PAYLOAD_STRING;
    *type = HERALD_DATA_STRING;
    return true;
  }
  if (strcmp(step, "json") == 0 && p->type == PAYLOAD_STRING) {
    *type = HERALD_DATA_JSON;
    return true;
  }
  return false;
}

void data__decode(struct payload *p, const herald_cipher_params *cipher,
                  herald_data_type *type) {
  *type = p->type == PAYLOAD_NONE     ? HERALD_DATA_NONE
          : p->type == PAYLOAD_BINARY ? HERALD_DATA_BINARY
                                      : HERALD_DATA_STRING;
  while (p->encoding && undo(p, last_step(p), cipher, type)) pop_step(p);
}
