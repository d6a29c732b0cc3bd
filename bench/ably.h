/* ably.h -- the few Ably realtime ProtocolMessages herald-bench speaks
 * (../shared/spec/realtime.md sections 2-4), in JSON or MessagePack:
 * encoding ATTACH, MESSAGE and CLOSE, and decoding what comes back into a
 * flat view (action, msgSerial, count, error code, the messages' data).
 * Decoding allocates nothing in steady state: JSON is scanned in place
 * (json_scan.h), MessagePack is unpacked into a zone that is cleared and
 * reused for every frame.
 * Owns: struct ably_codec (one per thread: its zone and output buffer). */
#ifndef HERALD_BENCH_ABLY_H
#define HERALD_BENCH_ABLY_H

#include <msgpack.h>
#include <stdint.h>

#include "buf.h"
#include "protocol_message.h" /* the actions, enum pm_action */

enum ably_format { ABLY_FORMAT_JSON, ABLY_FORMAT_MSGPACK };

#define ABLY_PM_MAX_DATA 16

/* A decoded ProtocolMessage; spans point into the frame or the codec's
 * zone and are valid until the next decode. Absent numbers are -1. */
struct ably_pm {
  int64_t action; /* an enum pm_action */
  int64_t msg_serial;
  int64_t count;
  int64_t error_code;
  size_t n_messages;
  size_t n_data; /* data of the first ABLY_PM_MAX_DATA messages */
  struct span data[ABLY_PM_MAX_DATA];
};

struct ably_codec {
  enum ably_format format;
  msgpack_zone zone;
  struct byte_buf out; /* the last encoded message */
};

/* Returns 0, or -1 when out of memory. */
int ably__init(struct ably_codec *c, enum ably_format format);
void ably__cleanup(struct ably_codec *c);

/* Encoders: each returns 0 and sets *out to the encoded message (valid until
 * the next encode), or -1. */
int ably__encode_attach(struct ably_codec *c, const char *channel,
                        struct span *out);
int ably__encode_message(struct ably_codec *c, const char *channel,
                         int64_t msg_serial, struct span data,
                         struct span *out);
int ably__encode_close(struct ably_codec *c, struct span *out);

/* Decodes one frame. Returns 0, or -1 when it is not a ProtocolMessage. */
int ably__decode(struct ably_codec *c, const char *frame, size_t len,
                 struct ably_pm *pm);

#endif
