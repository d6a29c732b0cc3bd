/* ws_client.h -- a WebSocket client connection (RFC 6455) on tcp_client:
 * the opening handshake (request written here, the 101 response read with
 * http-parser and its Sec-WebSocket-Accept checked), then wslay's frame API
 * to read and write frames (header parsing, masking).
 * Why the frame API and not wslay's event API: the event API checks UTF-8
 * byte by byte in every text frame and copies every message into a fresh
 * allocation (or, unbuffered, still validates), which made it the largest
 * cost of receiving JSON; a load generator trusts the server's text. What
 * the event API would add is done here in a few lines: answering pings,
 * answering and sending close frames, joining fragments.
 * A data message that arrives whole in one read is handed over in place;
 * one split across reads is gathered in a per-connection buffer that is
 * reused, so steady reception does not allocate; sending a frame copies it
 * (masked) straight into the socket queue.
 * Owns: the tcp_client (embedded, first member), the wslay frame context
 * (from the 101 on) and the reassembly buffer. */
#ifndef HERALD_BENCH_WS_CLIENT_H
#define HERALD_BENCH_WS_CLIENT_H

#include <http_parser.h>
#include <stdbool.h>
#include <stdint.h>
#include <wslay/wslay.h>

#include "tcp_client.h"

struct ws_client;

struct ws_client_events {
  /* The server accepted the upgrade. */
  void (*open)(struct ws_client *ws);
  /* A complete data message; data is valid during the call only. */
  void (*message)(struct ws_client *ws, const char *data, size_t len,
                  bool binary);
  /* The connection is gone and the struct may be reused. why says what
   * ended it, NULL after ws_client__close. */
  void (*closed)(struct ws_client *ws, const char *why);
};

struct ws_client {
  struct tcp_client tcp; /* first: code handling any transport reaches it */
  const struct ws_client_events *events;
  wslay_frame_context_ptr frames; /* NULL until the 101 */
  http_parser parser;             /* reads the handshake response */
  char accept_expected[32];
  char accept_received[32];
  char header_name[24];
  unsigned char header_name_len;
  unsigned char accept_received_len;
  bool header_in_value;
  const char *input; /* bytes being fed to wslay */
  size_t input_len;
  bool in_frame;          /* a frame's payload is being received */
  uint8_t frame_opcode;   /* of that frame */
  uint64_t frame_received; /* of its payload so far */
  struct byte_buf message; /* a data message split across reads */
  bool message_binary;
  uint8_t control[125]; /* payload of the control frame being received */
  uint8_t control_len;
  bool close_sent;
  bool closing_by_us;
  const char *why;
};

/* Connects to addr and asks for an upgrade of GET target with this Host.
 * Always ends in events->open or events->closed (a failure to even start is
 * reported through closed too). */
void ws_client__connect(struct ws_client *ws, uv_loop_t *loop,
                        const struct sockaddr *addr, const char *host,
                        const char *target,
                        const struct ws_client_events *events);

/* Queues one data message (text, or binary) as one frame. Nothing leaves
 * before ws_client__flush, except when called from a message callback,
 * after which the connection flushes by itself. Returns 0 or -1 (not open,
 * closing, or too much queued). */
int ws_client__send(struct ws_client *ws, bool binary, const void *data,
                    size_t len);

/* Hands the queued frames to the socket. */
void ws_client__flush(struct ws_client *ws);

/* Sends a close frame (when open) and closes; events->closed follows with
 * why NULL. */
void ws_client__close(struct ws_client *ws);

#endif
