/* capability.h -- Ably capabilities (shared/spec/auth.md section 9).
 *
 * A capability maps resource specifiers to operation sets:
 * {"channel1":["publish","subscribe"],"ns:*":["*"],"[meta]*":["subscribe"]}.
 * This module parses and validates capability JSON text, answers whether an
 * operation on a channel is allowed (resource wildcards by ':' segments,
 * [qualifier] forms), renders the canonical text (sorted resources and
 * operations, no whitespace) and intersects a requested capability with a
 * key's. A parsed capability is immutable and may be shared across threads. */
#ifndef HERALD_CAPABILITY_H
#define HERALD_CAPABILITY_H

#include <stdbool.h>
#include <stddef.h>

#include "herald/errors.h"

/* Operations as bits, so an operation set is one integer. */
#define CAPABILITY_OPS(XX)                                                     \
  XX(PUBLISH, "publish")                                                       \
  XX(SUBSCRIBE, "subscribe")                                                   \
  XX(PRESENCE, "presence")                                                     \
  XX(HISTORY, "history")                                                       \
  XX(STATS, "stats")                                                           \
  XX(CHANNEL_METADATA, "channel-metadata")                                     \
  XX(PUSH_SUBSCRIBE, "push-subscribe")                                         \
  XX(PUSH_ADMIN, "push-admin")                                                 \
  XX(PRIVILEGED_HEADERS, "privileged-headers")                                 \
  XX(OBJECT_SUBSCRIBE, "object-subscribe")                                     \
  XX(OBJECT_PUBLISH, "object-publish")                                         \
  XX(ANNOTATION_SUBSCRIBE, "annotation-subscribe")                             \
  XX(ANNOTATION_PUBLISH, "annotation-publish")                                 \
  XX(MESSAGE_UPDATE_OWN, "message-update-own")                                 \
  XX(MESSAGE_UPDATE_ANY, "message-update-any")                                 \
  XX(MESSAGE_DELETE_OWN, "message-delete-own")                                 \
  XX(MESSAGE_DELETE_ANY, "message-delete-any")

enum capability_op_bit {
#define XX(name, text) CAPABILITY_BIT_##name,
  CAPABILITY_OPS(XX)
#undef XX
  CAPABILITY_BIT_COUNT
};

enum capability_op {
#define XX(name, text) CAPABILITY_OP_##name = 1u << CAPABILITY_BIT_##name,
  CAPABILITY_OPS(XX)
#undef XX
};

/* The set meaning "*": every operation. */
#define CAPABILITY_OP_ALL ((1u << CAPABILITY_BIT_COUNT) - 1u)

struct capability;

/* Parses capability JSON text (an object of resource -> array of operation
 * names). Rejects with -40000 and err set: non-object or empty object,
 * non-array values, empty arrays, non-string or unknown operations, and "*"
 * combined with other operations. On success *out is a new capability. */
int capability__parse(const char *json, size_t len, struct capability **out,
                      herald_error *err);

/* A capability granting every operation on "*" ({"*":["*"]}). */
struct capability *capability__new_all(void);

void capability__free(struct capability *cap);

/* Whether `op` (one CAPABILITY_OP_* bit) is allowed on channel
 * name[0..len). The name may carry a qualifier ("[meta]x", "[?p=1]x",
 * "[meta?p=1]x"); params qualifiers are ignored for matching. */
bool capability__allows(const struct capability *cap, const char *name,
                        size_t len, unsigned op);

/* Whether `op` is allowed on some resource matching every channel ("*" or
 * "[*]*"): the rule for app-wide operations such as stats and enumeration. */
bool capability__allows_all_channels(const struct capability *cap, unsigned op);

/* The canonical JSON text (herald_xmalloc'd). */
char *capability__canonical(const struct capability *cap);

/* requested ∩ key, as auth.md section 9.5. Returns 0 with *out set, or
 * -40160 when the intersection is empty. */
int capability__intersect(const struct capability *requested,
                          const struct capability *key,
                          struct capability **out, herald_error *err);

#endif
