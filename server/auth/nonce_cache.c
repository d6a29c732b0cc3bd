/* nonce_cache.c -- replay protection for signed TokenRequests (see
 * nonce_cache.h). Entries expire in insertion order, so a FIFO list beside
 * the map finds the expired ones without scanning. */
#include "auth/nonce_cache.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

struct nonce_entry {
  struct nonce_entry *newer;
  int64_t expires;
  size_t key_len;
  char key[]; /* "keyName\nnonce" */
};

void nonce_cache__init(struct nonce_cache *c, int64_t lifetime_ms) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  hashmap__init(&c->seen);
  c->lifetime_ms = lifetime_ms;
}

/* Forgets entries expired at `now`. Lock held. */
static void expire(struct nonce_cache *c, int64_t now) {
  while (c->oldest && c->oldest->expires <= now) {
    struct nonce_entry *e = c->oldest;
    c->oldest = e->newer;
    hashmap__remove(&c->seen, e->key, e->key_len);
    herald_free(e);
  }
  if (!c->oldest) c->newest = NULL;
}

void nonce_cache__cleanup(struct nonce_cache *c) {
  expire(c, INT64_MAX);
  hashmap__cleanup(&c->seen);
  pthread_mutex_destroy(&c->lock);
}

bool nonce_cache__first_use(struct nonce_cache *c, const char *key_name,
                            const char *nonce, int64_t now) {
  size_t len = strlen(key_name) + 1 + strlen(nonce);
  struct nonce_entry *e = herald_xmalloc(sizeof *e + len + 1);
  snprintf(e->key, len + 1, "%s\n%s", key_name, nonce);
  e->key_len = len;
  e->expires = now + c->lifetime_ms;
  e->newer = NULL;
  pthread_mutex_lock(&c->lock);
  expire(c, now);
  bool first = !hashmap__get(&c->seen, e->key, len);
  if (first) {
    hashmap__put(&c->seen, e->key, len, e);
    if (c->newest) c->newest->newer = e;
    else c->oldest = e;
    c->newest = e;
  }
  pthread_mutex_unlock(&c->lock);
  if (!first) herald_free(e);
  return first;
}
