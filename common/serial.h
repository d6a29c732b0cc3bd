/* serial.h -- message serials: "<ms>-<seq>@<node>:<index>", e.g.
 * "01700000000000-000@srv1ab:002" (zero-padded time, sequence within that
 * millisecond, the node that stamped it, index within the publish). Serials
 * of one channel sort in publish order as plain strings, which is what
 * history cursors rely on. */
#ifndef HERALD_SERIAL_H
#define HERALD_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_MAX 64

/* Writes the serial into out (SERIAL_MAX bytes; node has fewer than 24
 * characters). */
void serial__format(char *out, int64_t ms, unsigned seq, const char *node,
                    size_t index);

/* Writes the position just before every serial (ms, seq, ...) and after
 * every earlier one ("<ms>-<seq>"), into out (SERIAL_MAX bytes). Channel
 * positions (channelSerial) are serials or such floors. */
void serial__floor(char *out, int64_t ms, unsigned seq);

/* Whether text is a serial or a floor; *ms receives its time part. */
bool serial__position(const char *text, int64_t *ms);

/* Whether text has the serial shape (used to validate history cursors). */
bool serial__valid(const char *text);

#endif
