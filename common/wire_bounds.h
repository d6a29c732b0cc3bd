/* wire_bounds.h -- a pass over MessagePack bytes before msgpack-c unpacks
 * them.
 *
 * msgpack-c reserves room for as many elements as an array or map header
 * declares before it reads any of them, so five bytes (an array32 header)
 * can ask for gigabytes, and it has no option to cap that. Every element
 * takes at least one byte, so a container declaring more elements than the
 * bytes left after its header is a lie that can be refused before
 * msgpack-c sees it. */
#ifndef HERALD_WIRE_BOUNDS_H
#define HERALD_WIRE_BOUNDS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether data[0..len) begins with one complete MessagePack object whose
 * every header (container counts, str/bin/ext lengths) fits in the bytes
 * that follow it. Bytes after that object are not looked at. Linear in the
 * length of the object; allocates nothing. */
bool wire_bounds__msgpack(const char *data, size_t len);

#endif
