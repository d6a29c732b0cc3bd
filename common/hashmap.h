/* hashmap.h -- a string-keyed hash map with separate chaining.
 *
 * Keys are copied into the map; values are borrowed pointers the caller
 * owns. Not thread-safe: each user guards its own map (or keeps it on one
 * thread).
 *
 * Keys are often chosen by clients (channel names), so the hash is keyed
 * (SipHash-2-4, libsodium's crypto_shorthash) with a per-process secret:
 * nobody outside can pick names that collide. The process seeds it once,
 * before any thread starts and any map is filled (hashmap__seed_random);
 * until then the key is all zeroes (unit tests). */
#ifndef HERALD_HASHMAP_H
#define HERALD_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct hashmap_entry {
  struct hashmap_entry *next;
  uint64_t hash;
  void *value;
  size_t key_len;
  char key[]; /* NUL-terminated */
};

struct hashmap {
  struct hashmap_entry **buckets;
  size_t n_buckets;
  size_t count;
};

void hashmap__init(struct hashmap *m);
/* Frees the entries (not the values). */
void hashmap__cleanup(struct hashmap *m);

#define HASHMAP_SEED_BYTES 16

/* Sets the hash key: a random one (0, or -1 when libsodium cannot start),
 * or the given one (tests). Only while no map holds entries. */
int hashmap__seed_random(void);
void hashmap__seed(const unsigned char seed[HASHMAP_SEED_BYTES]);

/* The keyed hash of key[0..len), for maps and for anything else that
 * spreads client-chosen names (channel owners). */
uint64_t hashmap__hash(const char *key, size_t len);

void *hashmap__get(const struct hashmap *m, const char *key, size_t len);
/* Inserts or replaces; returns the previous value or NULL. */
void *hashmap__put(struct hashmap *m, const char *key, size_t len, void *value);
/* Removes; returns the removed value or NULL. */
void *hashmap__remove(struct hashmap *m, const char *key, size_t len);

/* Iteration: for (e = hashmap__first(m, &i); e; e = hashmap__next(m, e, &i)). */
struct hashmap_entry *hashmap__first(const struct hashmap *m, size_t *bucket);
struct hashmap_entry *hashmap__next(const struct hashmap *m,
                                    struct hashmap_entry *e, size_t *bucket);

#endif
