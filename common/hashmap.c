/* hashmap.c -- chained string-keyed hash map (see hashmap.h). Keyed
 * SipHash-2-4 hashing (libsodium); the table doubles when the load factor
 * passes 1. */
#include "hashmap.h"

#include <sodium.h>
#include <string.h>

#include "alloc.h"

_Static_assert(HASHMAP_SEED_BYTES == crypto_shorthash_KEYBYTES,
               "the seed is a crypto_shorthash key");

/* Written once before any thread starts, then only read. */
static unsigned char hash_key[crypto_shorthash_KEYBYTES];

int hashmap__seed_random(void) {
  if (sodium_init() < 0) return -1;
  randombytes_buf(hash_key, sizeof hash_key);
  return 0;
}

void hashmap__seed(const unsigned char seed[HASHMAP_SEED_BYTES]) {
  memcpy(hash_key, seed, sizeof hash_key);
}

void hashmap__init(struct hashmap *m) { memset(m, 0, sizeof *m); }

void hashmap__cleanup(struct hashmap *m) {
  for (size_t i = 0; i < m->n_buckets; i++)
    for (struct hashmap_entry *e = m->buckets[i], *next; e; e = next) {
      next = e->next;
      herald_free(e);
    }
  herald_free(m->buckets);
  memset(m, 0, sizeof *m);
}

uint64_t hashmap__hash(const char *key, size_t len) {
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, (const unsigned char *)key, len, hash_key);
  uint64_t h;
  memcpy(&h, out, sizeof h);
  return h;
}

static struct hashmap_entry **find_slot(const struct hashmap *m,
                                        const char *key, size_t len,
                                        uint64_t hash) {
  if (!m->n_buckets) return NULL;
  struct hashmap_entry **slot = &m->buckets[hash & (m->n_buckets - 1)];
  for (; *slot; slot = &(*slot)->next)
    if ((*slot)->hash == hash && (*slot)->key_len == len &&
        !memcmp((*slot)->key, key, len))
      return slot;
  return slot;
}

static void grow(struct hashmap *m) {
  size_t n = m->n_buckets ? m->n_buckets * 2 : 16;
  struct hashmap_entry **buckets = herald_xcalloc(n, sizeof *buckets);
  for (size_t i = 0; i < m->n_buckets; i++)
    for (struct hashmap_entry *e = m->buckets[i], *next; e; e = next) {
      next = e->next;
      e->next = buckets[e->hash & (n - 1)];
      buckets[e->hash & (n - 1)] = e;
    }
  herald_free(m->buckets);
  m->buckets = buckets;
  m->n_buckets = n;
}

void *hashmap__get(const struct hashmap *m, const char *key, size_t len) {
  struct hashmap_entry **slot = find_slot(m, key, len, hashmap__hash(key, len));
  return slot && *slot ? (*slot)->value : NULL;
}

void *hashmap__put(struct hashmap *m, const char *key, size_t len, void *value) {
  uint64_t hash = hashmap__hash(key, len);
  struct hashmap_entry **slot = find_slot(m, key, len, hash);
  if (slot && *slot) {
    void *old = (*slot)->value;
    (*slot)->value = value;
    return old;
  }
  if (m->count >= m->n_buckets) {
    grow(m);
    slot = find_slot(m, key, len, hash);
  }
  struct hashmap_entry *e = herald_xmalloc(sizeof *e + len + 1);
  e->next = NULL;
  e->hash = hash;
  e->value = value;
  e->key_len = len;
  memcpy(e->key, key, len);
  e->key[len] = '\0';
  *slot = e;
  m->count++;
  return NULL;
}

void *hashmap__remove(struct hashmap *m, const char *key, size_t len) {
  struct hashmap_entry **slot = find_slot(m, key, len, hashmap__hash(key, len));
  if (!slot || !*slot) return NULL;
  struct hashmap_entry *e = *slot;
  void *value = e->value;
  *slot = e->next;
  herald_free(e);
  m->count--;
  return value;
}

struct hashmap_entry *hashmap__first(const struct hashmap *m, size_t *bucket) {
  for (*bucket = 0; *bucket < m->n_buckets; (*bucket)++)
    if (m->buckets[*bucket]) return m->buckets[*bucket];
  return NULL;
}

struct hashmap_entry *hashmap__next(const struct hashmap *m,
                                    struct hashmap_entry *e, size_t *bucket) {
  if (e->next) return e->next;
  for ((*bucket)++; *bucket < m->n_buckets; (*bucket)++)
    if (m->buckets[*bucket]) return m->buckets[*bucket];
  return NULL;
}
