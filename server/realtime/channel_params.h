/* channel_params.h -- the params of an ATTACH (realtime.md 5.3) that
 * Herald applies: modes, rewind, delta, occupancy and echo, each checked.
 * ATTACHED echoes exactly these, as the client gave them, so that an
 * SDK's channel.params equals what it asked for; any other param (agent,
 * or one Herald does not know) is dropped, as Ably drops it.
 *
 * Owns: the copies of the applied params. */
#ifndef HERALD_CHANNEL_PARAMS_H
#define HERALD_CHANNEL_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"
#include "protocol_message.h"

#define CHANNEL_PARAMS_MAX 5 /* one of each known param */

struct channel_params {
  char *keys[CHANNEL_PARAMS_MAX]; /* herald_xmalloc'd, as the values */
  char *values[CHANNEL_PARAMS_MAX];
  size_t n;
  uint32_t modes; /* PM_FLAG_MODE_* named by "modes", 0 when not given */
};

/* Reads pm's params into *out (zeroed first): 0, or -40000 naming the
 * first param with a value Herald cannot apply (out is then empty). */
int channel_params__read(const struct protocol_message *pm,
                         struct channel_params *out, herald_error *err);
/* The value of an applied param, or NULL. */
const char *channel_params__get(const struct channel_params *p, const char *key);
void channel_params__free(struct channel_params *p);

/* A rewind param: "10" (messages, at most max) or "30s" / "2m" (*ms, a
 * time). Returns false when invalid. */
bool channel_params__rewind(const char *text, size_t max, size_t *count,
                            int64_t *ms);

#endif
