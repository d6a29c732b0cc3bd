/* msgid.c -- publish id rules and random ids (see msgid.h). */
#include "msgid.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* Whether id ends with ":<index>" (decimal, no sign, no leading zeros but
 * "0") and its base (the part before the last ':') has length base_len. */
static bool has_index(const char *id, size_t index, size_t *base_len) {
  const char *colon = strrchr(id, ':');
  if (!colon || colon == id) return false;
  char expected[24];
  snprintf(expected, sizeof expected, "%zu", index);
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

void msgid__random(char *out, size_t len) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  unsigned char bytes[64];
  for (size_t done = 0; done < len;) {
    size_t chunk = len - done < sizeof bytes ? len - done : sizeof bytes;
    if (RAND_bytes(bytes, (int)chunk) != 1) abort();
    for (size_t i = 0; i < chunk; i++) out[done + i] = alphabet[bytes[i] & 63];
    done += chunk;
  }
  out[len] = '\0';
}

void msgid__assign(struct message *const *messages, size_t count,
                   const char *base) {
  size_t base_len = strlen(base);
  for (size_t i = 0; i < count; i++) {
    if (messages[i]->id) continue;
    char *id = herald_xmalloc(base_len + 24);
    snprintf(id, base_len + 24, "%s:%zu", base, i);
    messages[i]->id = id;
  }
}
