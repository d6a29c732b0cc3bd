/* console_assets.h -- the web console's files (server/console/), which
 * cmake/embed_assets.cmake builds into heraldd as console_assets.c. */
#ifndef HERALD_CONSOLE_ASSETS_H
#define HERALD_CONSOLE_ASSETS_H

#include <stddef.h>

struct console_asset {
  const char *name; /* the file name, as served under /console/ */
  const unsigned char *data;
  size_t len;
  const char *etag; /* quoted, from the file's SHA-256 */
};

extern const struct console_asset console_assets__table[];
extern const size_t console_assets__count;

#endif
