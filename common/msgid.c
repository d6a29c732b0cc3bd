/* msgid.c -- publish id rules and random ids (see msgid.h). */
#include "msgid.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "decimal.h"

/* Whether id ends with ":<index>" (decimal, no sign, no leading zeros but
 * "0") and its base (the part before the last ':') has length base_len. */
static bool has_index(const char *id, size_t index, size_t *base_len) {
  const char *colon = strrchr(id, ':');
  if (!colon || colon == id) return false;
  char expected[DECIMAL_MAX + 1];
  expected[decimal__write(expected, index, 1)] = '\0';
  if (strcmp(colon + 1, expected) != 0) return false;
  *base_len = (size_t)(colon - id);
  return true;
}

int msgid__publish_key(struct message *const *messages, size_t count,
                       char **key, herald_error *err) {
  size_t with_id = 0;
  for (size_t i = 0; i < count; i++) {
    if (!messages[i]->id) continue;
    if (!messages[i]->id[0])
      return herald_error_set(err, HERALD_E_INVALID_MESSAGE_ID,
                              "Invalid message id: must not be empty");
    with_id++;
  }
  *key = NULL;
  if (with_id == 0) return 0;
  if (count == 1) {
    *key = herald_xstrdup(messages[0]->id);
    return 0;
  }
  size_t base_len = 0;
  if (with_id != count || !has_index(messages[0]->id, 0, &base_len))
    return herald_error_set(err, HERALD_E_INVALID_MESSAGE_ID, NULL);
  for (size_t i = 1; i < count; i++) {
    size_t len;
    if (!has_index(messages[i]->id, i, &len) || len != base_len ||
        memcmp(messages[i]->id, messages[0]->id, base_len) != 0)
      return herald_error_set(err, HERALD_E_INVALID_MESSAGE_ID, NULL);
  }
  *key = herald_xstrndup(messages[0]->id, base_len);
  return 0;
}

/* Random bytes for ids, drawn from the CSPRNG in blocks: one RAND_bytes
 * call (which costs a getpid and a DRBG round) serves many ids. Per thread,
 * so no lock; the bytes are as unpredictable as RAND_bytes' own. */
#define RANDOM_POOL_SIZE 4096
static _Thread_local struct {
  unsigned char bytes[RANDOM_POOL_SIZE];
  size_t left; /* unused bytes, at the end of bytes[] */
} random_pool;

static unsigned char random_byte(void) {
  if (random_pool.left == 0) {
    if (RAND_bytes(random_pool.bytes, RANDOM_POOL_SIZE) != 1) abort();
    random_pool.left = RANDOM_POOL_SIZE;
  }
  unsigned char *b = &random_pool.bytes[RANDOM_POOL_SIZE - random_pool.left--];
  unsigned char value = *b;
  *b = 0; /* a byte handed out does not linger */
  return value;
}

void msgid__random(char *out, size_t len) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < len; i++) out[i] = alphabet[random_byte() & 63];
  out[len] = '\0';
}

void msgid__assign(struct message *const *messages, size_t count,
                   const char *base) {
  size_t base_len = strlen(base);
  for (size_t i = 0; i < count; i++) {
    if (messages[i]->id) continue;
    char *id = herald_xmalloc(base_len + 1 + DECIMAL_MAX + 1);
    memcpy(id, base, base_len);
    id[base_len] = ':';
    id[base_len + 1 + decimal__write(id + base_len + 1, i, 1)] = '\0';
    messages[i]->id = id;
  }
}
