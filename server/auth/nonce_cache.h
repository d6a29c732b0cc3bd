/* nonce_cache.h -- the nonces of recent signed TokenRequests, so a
 * captured request cannot be replayed (auth.md section 6, step 5).
 *
 * A nonce is remembered per key for twice the timestamp window: any
 * replay after that carries a timestamp the window already rejects.
 * Shared by all workers behind one mutex. */
#ifndef HERALD_NONCE_CACHE_H
#define HERALD_NONCE_CACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hashmap.h"

struct nonce_cache {
  pthread_mutex_t lock;
  struct hashmap seen; /* "keyName\nnonce" -> its nonce_entry */
  struct nonce_entry *oldest, *newest; /* expiry order */
  int64_t lifetime_ms;
};

void nonce_cache__init(struct nonce_cache *c, int64_t lifetime_ms);
void nonce_cache__cleanup(struct nonce_cache *c);

/* Remembers (key_name, nonce) at `now`. Returns false when it was already
 * remembered: a replay. */
bool nonce_cache__first_use(struct nonce_cache *c, const char *key_name,
                            const char *nonce, int64_t now);

#endif
