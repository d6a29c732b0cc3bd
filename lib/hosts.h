/* hosts.h -- where a client's requests go (RSC15): the primary host, the
 * fallback hosts in random order, and a fallback that worked, remembered
 * for fallbackRetryTimeout before the primary is tried again (RSC15f).
 * Thread-safe: its own mutex. Hosts are "host:port". */
#ifndef HERALD_LIB_HOSTS_H
#define HERALD_LIB_HOSTS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct hosts {
  pthread_mutex_t lock;
  char *primary;
  char **fallbacks;
  size_t n_fallbacks;
  char *remembered; /* a fallback, or NULL */
  int64_t remembered_until; /* monotonic ms */
  long retry_timeout_ms;
};

void hosts__init(struct hosts *h, const char *primary,
                 const char *const *fallbacks, size_t n_fallbacks,
                 long retry_timeout_ms);
void hosts__cleanup(struct hosts *h);

/* The hosts to try in order: the current one (remembered fallback or the
 * primary), then at most max_retries others in random order. *out is a
 * herald_xmalloc'd array of copies; hosts__free_plan frees it. */
size_t hosts__plan(struct hosts *h, int max_retries, char ***out);
void hosts__free_plan(char **plan, size_t n);

/* host answered (a response that is no reason to try another host): a
 * fallback is remembered, the primary ends any remembering. */
void hosts__answered(struct hosts *h, const char *host);
/* host failed: a remembered fallback is forgotten. */
void hosts__failed(struct hosts *h, const char *host);

/* The current host, herald_xmalloc'd. */
char *hosts__current(struct hosts *h);

#endif
