/* protocol.c -- the table of protocols (see protocol.h). */
#include "protocol.h"

#include <string.h>

static const struct protocol protocols[] = {
    {"herald", "ably-json", ABLY_FORMAT_JSON, &ably_peer__ops,
     &ably_peer__ops},
    {"herald", "ably-msgpack", ABLY_FORMAT_MSGPACK, &ably_peer__ops,
     &ably_peer__ops},
    {"herald", "sse", ABLY_FORMAT_JSON, &sse_peer__herald_ops,
     &ably_peer__ops},
    {"nchan", "nchan-ws", ABLY_FORMAT_JSON, &nchan_peer__ws_subscriber_ops,
     &nchan_peer__publisher_ops},
    {"nchan", "nchan-sse", ABLY_FORMAT_JSON, &sse_peer__nchan_ops,
     &nchan_peer__publisher_ops},
};

#define N_PROTOCOLS (sizeof protocols / sizeof protocols[0])

const struct protocol *protocol__find(const char *server, const char *name) {
  for (size_t i = 0; i < N_PROTOCOLS; i++)
    if (!strcmp(protocols[i].server, server) &&
        !strcmp(protocols[i].name, name))
      return &protocols[i];
  return NULL;
}

void protocol__list(FILE *out) {
  const char *server = NULL;
  for (size_t i = 0; i < N_PROTOCOLS; i++) {
    if (!server || strcmp(server, protocols[i].server)) {
      server = protocols[i].server;
      fprintf(out, "%s    %s:", i ? "\n" : "", server);
    }
    fprintf(out, " %s", protocols[i].name);
  }
  fputc('\n', out);
}
