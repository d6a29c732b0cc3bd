/* herald.h -- libherald, a C client of Ably's REST API (heraldd or any
 * Ably-compatible endpoint). This header includes the whole public API.
 *
 *   #include <herald/herald.h>
 *
 *   int main(void) {
 *     herald_options o;
 *     herald_options_init(&o);
 *     o.key = "appId.keyId:secret";
 *     o.endpoint = "localhost";
 *     o.port = 8080;
 *     herald_error err;
 *     herald_client *c = herald_client_new(&o, &err);
 *     if (!c) return fprintf(stderr, "%d %s\n", err.code, err.message), 1;
 *     herald_channel *ch = herald_channel_new(c, "news", NULL);
 *     herald_message m = {.name = "greeting", .data = herald_string("hi")};
 *     int rc = herald_publish(ch, &m, 1, &err);
 *     herald_channel_free(ch);
 *     herald_client_free(c);
 *     return rc ? 1 : 0;
 *   }
 *
 *   cc hello.c $(pkg-config --cflags --libs herald)
 *
 * Conventions (as libcurl's and hiredis's):
 * - Every call that can fail returns 0 on success or a negative Ably error
 *   code (-40142), and fills the herald_error it is given (which may be
 *   NULL) with code, statusCode (status), message and href.
 * - Strings given to the library are copied or used only during the call.
 *   What the library returns is freed with the matching *_free function,
 *   or herald_free for plain strings.
 * - Out of memory aborts the process (the library never returns NULL for
 *   want of memory).
 *
 * Threads: a herald_client may be used from several threads at once. Calls
 * on it take a connection (a libcurl easy handle) from the client's pool for
 * their duration, so concurrent calls run in parallel; the token, the
 * remembered fallback host and the pool are guarded by the client's mutex.
 * A herald_channel and a herald_page are used by one thread at a time (they
 * may be handed between threads). herald_client_free must not race with
 * other calls on the client. */
#ifndef HERALD_HERALD_H
#define HERALD_HERALD_H

#include "herald/errors.h"
#include "herald/types.h"
#include "herald/client.h"
#include "herald/auth.h"
#include "herald/crypto.h"
#include "herald/channel.h"
#include "herald/rest.h"
#include "herald/subscribe.h"

#endif
