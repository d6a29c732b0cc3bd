/* address_limit.c -- per-address connection counts (see address_limit.h). */
#include "transport/address_limit.h"

#include <netinet/in.h>
#include <string.h>

#include "alloc.h"

struct address_slot {
  uint64_t count;
  size_t key_len;
  unsigned char key[16];
};

void address_limit__init(struct address_limit *l, int64_t max) {
  pthread_mutex_init(&l->lock, NULL);
  hashmap__init(&l->slots);
  l->max = max;
}

void address_limit__cleanup(struct address_limit *l) {
  size_t i;
  for (struct hashmap_entry *e = hashmap__first(&l->slots, &i); e;
       e = hashmap__next(&l->slots, e, &i))
    herald_free(e->value);
  hashmap__cleanup(&l->slots);
  pthread_mutex_destroy(&l->lock);
}

/* The bytes an address is counted by: IPv4 (also IPv4-mapped IPv6) whole,
 * IPv6 by its /64. Returns their length, 0 for other families. */
static size_t address_key(const struct sockaddr_storage *addr,
                          unsigned char key[16]) {
  if (addr->ss_family == AF_INET) {
    memcpy(key, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    return 4;
  }
  if (addr->ss_family != AF_INET6) return 0;
  const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(a6)) {
    memcpy(key, a6->s6_addr + 12, 4);
    return 4;
  }
  memcpy(key, a6->s6_addr, 8);
  return 8;
}

int address_limit__acquire(struct address_limit *l,
                           const struct sockaddr_storage *addr,
                           struct address_slot **slot) {
  unsigned char key[16];
  size_t key_len = address_key(addr, key);
  *slot = NULL;
  if (l->max <= 0 || key_len == 0) return 0;
  int rc = 0;
  pthread_mutex_lock(&l->lock);
  struct address_slot *s = hashmap__get(&l->slots, (const char *)key, key_len);
  if (!s) {
    s = herald_xcalloc(1, sizeof *s);
    memcpy(s->key, key, key_len);
    s->key_len = key_len;
    hashmap__put(&l->slots, (const char *)key, key_len, s);
  }
  if (s->count >= (uint64_t)l->max) rc = -1;
  else s->count++, *slot = s;
  pthread_mutex_unlock(&l->lock);
  return rc;
}

void address_limit__release(struct address_limit *l, struct address_slot *slot) {
  if (!slot) return;
  pthread_mutex_lock(&l->lock);
  if (--slot->count == 0) {
    hashmap__remove(&l->slots, (const char *)slot->key, slot->key_len);
    herald_free(slot);
  }
  pthread_mutex_unlock(&l->lock);
}
