/* subscribe.h -- a live stream of channels' messages over Ably's
 * event-stream endpoint (GET /sse, SSE v1.2), for clients without a
 * realtime connection. */
#ifndef HERALD_SUBSCRIBE_H
#define HERALD_SUBSCRIBE_H

#include <signal.h>
#include <stddef.h>

#include "herald/channel.h"
#include "herald/client.h"
#include "herald/errors.h"
#include "herald/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called on the subscribing thread for each message as it arrives (its
 * strings valid during the call). Nonzero ends the subscription. */
typedef int (*herald_message_callback)(const char *channel,
                                       const herald_message *msg,
                                       void *userdata);

typedef struct herald_subscribe_options {
  const herald_cipher_params *cipher; /* decrypts every channel's data */
  /* When *cancel becomes nonzero (a signal handler may set it) the
   * subscription ends within about 100 ms and herald_subscribe returns 0. */
  volatile sig_atomic_t *cancel;
  /* Called once when the stream is open (every channel attached). */
  void (*on_open)(void *userdata);
} herald_subscribe_options;

/* Subscribes to channels (NULL-terminated) and calls cb for each message
 * until cb returns nonzero, *cancel is set or the stream ends. Blocks.
 * Returns 0 then, or a negative Ably code with err filled (the server's
 * refusal, or the connection lost). opts may be NULL. */
int herald_subscribe(herald_client *c, const char *const *channels,
                     const herald_subscribe_options *opts,
                     herald_message_callback cb, void *userdata,
                     herald_error *err);

#ifdef __cplusplus
}
#endif

#endif
