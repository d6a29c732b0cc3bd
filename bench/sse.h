/* sse.h -- a Server-Sent Events stream reader (the text/event-stream format
 * of the HTML standard): feed it body bytes as they come, it calls back once
 * per dispatched event with the event name and its data (data lines joined
 * with '\n'). Comments, id and retry lines are skipped.
 * Lines arriving whole are read in place; only a line split across reads
 * and the data of the event being built are copied, into buffers that are
 * reused, so a steady stream does not allocate.
 * Owns: its two buffers. */
#ifndef HERALD_BENCH_SSE_H
#define HERALD_BENCH_SSE_H

#include <stdbool.h>

#include "buf.h"

/* An event: name is "message" unless the stream named it. */
typedef void (*sse_event_cb)(void *ctx, struct span name, struct span data);

struct sse_parser {
  struct byte_buf partial_line; /* a line split across feeds */
  struct byte_buf data;         /* of the event being built */
  char name[32];
  unsigned char name_len;
  bool has_data;
};

/* A zeroed struct is ready too. */
void sse_parser__init(struct sse_parser *p);

/* Frees the buffers. */
void sse_parser__cleanup(struct sse_parser *p);

/* Reads bytes, calling cb for each complete event. Returns 0, or -1 when a
 * line or an event outgrows the limit (64 KiB). */
int sse_parser__feed(struct sse_parser *p, const char *bytes, size_t len,
                     sse_event_cb cb, void *ctx);

#endif
