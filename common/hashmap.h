/* hashmap.h -- a string-keyed hash map with separate chaining.
 *
 * Keys are copied into the map; values are borrowed pointers the caller
 * owns. Not thread-safe: each user guards its own map (or keeps it on one
 * thread). */
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
