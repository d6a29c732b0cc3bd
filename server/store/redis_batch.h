/* redis_batch.h -- one publish as the redis engine keeps and broadcasts it.
 *
 * A publish is one entry of its channel's Redis stream and one pub/sub
 * payload: the MessagePack array [node, message_id, connection_id,
 * [Message...]], each Message a map of its stored fields. Serial and
 * timestamp are not in it: Redis assigns the entry id "<ms>-<seq>" when it
 * stores the publish, and the messages' timestamp is ms and their serials
 * (ms, seq, node, index) -- so stamping is one atomic step in Redis.
 * An annotation is [node, message_id, connection_id, [Annotation],
 * {serial, timestamp, summary}]: the annotated message's serial, creation
 * time and new summary, which counts up to the annotation.
 *
 * Owns: nothing beyond the buffers and messages it returns. The bytes come
 * from Redis, i.e. from any node: decoding checks everything (fuzzed by
 * tests/fuzz/fuzz_redis_batch.c). */
#ifndef HERALD_REDIS_BATCH_H
#define HERALD_REDIS_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "herald/errors.h"
#include "message.h"

/* The publish's messages with the publish's identity, as MessagePack
 * (herald_xmalloc'd, *len bytes). node: the serials' node part. */
char *redis_batch__encode(const char *node, const char *message_id,
                          const char *connection_id,
                          struct message *const *messages, size_t count,
                          size_t *len);

/* An annotation a (one) with latest, its message with the new summary. */
char *redis_batch__encode_annotation(const char *node, const char *message_id,
                                     const char *connection_id,
                                     const struct message *a,
                                     const struct message *latest,
                                     size_t *len);

struct redis_batch {
  char *message_id;    /* herald_xmalloc'd */
  char *connection_id; /* herald_xmalloc'd */
  struct message **messages; /* stamped; herald_xmalloc'd array */
  size_t count;
  /* An annotation's message: serial, timestamp (its creation), summary and
   * summary_serial (the annotation's); NULL for a publish. */
  struct message *latest;
};

/* Decodes a batch stored as entry "<ms>-<seq>". 0, or a negative Ably code
 * (nothing to free then). */
int redis_batch__decode(const char *data, size_t len, int64_t ms,
                        unsigned seq, struct redis_batch *out,
                        herald_error *err);
void redis_batch__cleanup(struct redis_batch *b);

/* A state of a mutable message (its newest, or one of its versions) as
 * the channel's keys hold it: "<id> <batch>", a batch (redis_batch__encode)
 * of that one message, to which Redis prefixes the id of the change's
 * stream entry, whose first serial the state takes. Decodes it into *out.
 * 0 or a negative Ably code. */
int redis_batch__decode_state(const char *value, size_t len,
                              struct message **out, herald_error *err);

/* A message's summary as the channel's summaries hash keeps it: "<id>
 * <batch>", the batch of the last annotation it counts
 * (redis_batch__encode_annotation), stored as entry <id>. Decodes the
 * batch's message into *out (serial, timestamp, summary, summary_serial).
 * 0 or a negative Ably code. */
int redis_batch__decode_summary(const char *value, size_t len,
                                struct message **out, herald_error *err);

/* A presence member as the channel's member hash keeps it: the value
 * "<node>|<PRESENT item>" (herald_xmalloc'd), to which Redis prefixes the
 * id "<ms>-<seq>" of the entry that made it ("<id>|<node>|<item>"). */
char *redis_batch__encode_member(const char *node, const struct message *m,
                                 size_t *len);
/* Decodes "<id>|<node>|<item>": the member (timestamp from the id) and,
 * if node is not NULL, its node (herald_xmalloc'd). 0 or a negative Ably
 * code. */
int redis_batch__decode_member(const char *value, size_t len,
                               struct message **out, char **node,
                               herald_error *err);

/* Parses an entry id "<ms>-<seq>" (seq below 1000, as serials have). */
bool redis_batch__parse_id(const char *id, size_t len, int64_t *ms,
                           unsigned *seq);

#endif
