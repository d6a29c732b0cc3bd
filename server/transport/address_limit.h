/* address_limit.h -- how many connections one source address may hold
 * open before they authenticate: a client opening connections and never
 * finishing a request (slowloris) runs into this cap, not into the
 * process's descriptor limit, and other addresses keep being served.
 *
 * IPv4 addresses count one by one; IPv6 addresses by /64 prefix (what one
 * host is usually given). Shared by all workers behind one mutex, taken
 * once when a connection is accepted and once when it leaves the count. */
#ifndef HERALD_ADDRESS_LIMIT_H
#define HERALD_ADDRESS_LIMIT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hashmap.h"

struct address_slot;

struct address_limit {
  pthread_mutex_t lock;
  struct hashmap slots; /* address bytes -> its struct address_slot */
  int64_t max;          /* connections per address; 0: no limit */
};

void address_limit__init(struct address_limit *l, int64_t max);
void address_limit__cleanup(struct address_limit *l);

/* Counts one more connection from addr. Returns 0 with *slot set (NULL
 * when nothing is counted: no limit, or not an IP address), or -1 when
 * the address holds max connections already. */
int address_limit__acquire(struct address_limit *l,
                           const struct sockaddr_storage *addr,
                           struct address_slot **slot);

/* Counts one connection less (slot from acquire; NULL does nothing). */
void address_limit__release(struct address_limit *l, struct address_slot *slot);

#endif
