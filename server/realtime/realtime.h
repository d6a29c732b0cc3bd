/* realtime.h -- Ably's realtime protocol over a transport (realtime.md
 * sections 3-5): connections, their channels and their publishes.
 *
 * A realtime connection (struct rt_conn) is Ably's "connection": an id, a
 * key, credentials and the ACK state, bound to at most one transport at a
 * time. It lives on one worker; when its transport drops it is kept for
 * connectionStateTtl so a client can resume it, and a resume that arrives
 * on another worker moves it there (connection_registry.c).
 *
 * Files: realtime.c (connect, resume, heartbeats, auth, dispatch),
 * realtime_channels.c (ATTACH/DETACH, replay; an attachment is a
 * subscriber of channel/fanout.h), realtime_publish.c (MESSAGE and
 * PRESENCE, ACK/NACK), realtime_presence.c (SYNC, leaving), realtime_sse.c
 * (event streams: subscribe-only connections over HTTP),
 * realtime_revocation.c (revoked tokens' connections). */
#ifndef HERALD_REALTIME_H
#define HERALD_REALTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "auth/auth.h"
#include "channel/channel.h"
#include "core/worker.h"
#include "hashmap.h"
#include "protocol_message.h"
#include "realtime/ack_queue.h"
#include "realtime/connection_registry.h"
#include "transport/comet.h"
#include "transport/http.h"
#include "transport/transport.h"

#define RT_CONNECTION_ID_LEN 10
#define RT_CONNECTION_KEY_MAX 40

struct attachment;
struct channel_name;

/* The realtime layer of the process (server.c makes it). */
struct realtime {
  struct channels *channels; /* with the store, the apps and the config */
  const struct config *cfg;
  struct connection_registry connections; /* every connection, for resume */
  struct comet_registry comets; /* comet transports, by connection key */
};

struct rt_conn {
  struct realtime *realtime;
  struct worker *worker; /* home: only this thread touches the rest */
  struct rt_conn *prev, *next; /* the home worker's list */
  /* Guarded by the registry lock. */
  enum rt_state state;
  struct rt_resume *claim; /* the resume waiting for this connection */
  char id[RT_CONNECTION_ID_LEN + 1];
  char key[RT_CONNECTION_KEY_MAX];
  /* Fixed for the connection's life. */
  const struct app *app;
  char *identity; /* the clientId it was created with, or NULL */
  int64_t opened_ms; /* made here (0: continued from another node) */
  /* The rest: home thread only. */
  struct transport *transport;
  const char *transport_name; /* of the latest one ([meta] events) */
  struct auth auth;
  bool echo;
  int64_t idle_interval_ms;
  int64_t expires_at;      /* RT_DETACHED: when the state is dropped */
  int64_t last_sent_ms;    /* for heartbeats */
  bool resumed;            /* this transport continues a connection */
  bool ephemeral;          /* a stream's: it ends with its transport */
  double inbound_allowance; /* messages the rate limit still allows */
  int64_t inbound_at_ms;
  struct ack_queue acks;
  size_t publishes_in_flight;
  bool handover_waiting; /* moves once publishes_in_flight drops to 0 */
  bool ended;  /* closed or expired: freed once publishes_in_flight is 0 */
  bool slow;   /* fell behind its outbound bound: disconnect at next tick */
  size_t held_bytes; /* live frames held for replaying attachments */
  struct hashmap attachments; /* base name -> struct attachment */
  /* Presence: the channels it may have members on, and when, without a
   * transport, they leave (0: not due). */
  char **presence_channels;
  size_t n_presence_channels;
  int64_t remain_present_ms;
  int64_t presence_leave_at;
  int64_t handover_saved_ms; /* realtime_handover.c: state last saved */
};

/* Per-worker realtime state. */
struct realtime_worker {
  struct realtime *realtime;
  struct worker *worker;
  struct rt_conn *conns;     /* connections homed here */
  uv_timer_t tick;
  uv_timer_t presence_grace; /* due at the earliest presence_leave_at */
  int64_t presence_grace_at;
  struct frame *too_big[2]; /* by wire format: see too_big_frame */
  struct revocation_sweep *revocation_sweeps; /* realtime_revocation.c */
};

void realtime__init(struct realtime *rt, struct channels *channels,
                    const struct config *cfg);
void realtime__cleanup(struct realtime *rt);

/* Gives worker w its realtime state (its connections, its timers), freed
 * when w ends; before w starts. */
void realtime__worker_init(struct realtime *rt, struct worker *w);
/* Worker w's realtime state. */
struct realtime_worker *realtime__worker(struct worker *w);

/* The routes: a WebSocket upgrade carrying Ably's connect parameters, and
 * a comet connect (GET /comet/connect) with the same parameters. */
void realtime__websocket(struct realtime *rt, struct http_request *req);
void realtime__comet(struct realtime *rt, struct http_request *req);

/* On w's thread, as the server stops: every connection homed on w is told
 * (DISCONNECTED) and loses its transport. */
void realtime__drain(struct worker *w);

/* The event-stream routes (realtime.md 8): GET /sse streams Server-Sent
 * Events; GET /event-stream does when Accept asks for text/event-stream,
 * else newline-delimited JSON, with CORS headers as REST's. A request that
 * fails its checks gets an HTTP error (http__fail) before any stream
 * starts. */
void realtime_sse__sse(struct realtime *rt, struct http_request *req);
void realtime_sse__event_stream(struct realtime *rt, struct http_request *req);

/* A connection for a subscribe-only stream on transport t (SSE): for the
 * credentials auth (taken over), heartbeats after idle_interval_ms of
 * silence, over when t closes. It attaches with realtime_channels__attach;
 * with `resumed` set first, an ATTACH's channelSerial is the position
 * to continue after. */
struct rt_conn *realtime__open_stream(struct realtime *rt, struct transport *t,
                                      struct auth *auth,
                                      int64_t idle_interval_ms);

/* ---- Shared by the realtime files ---------------------------------------- */

/* Encodes pm for the connection's transport and queues it. */
void realtime__send(struct rt_conn *c, const struct protocol_message *pm);
/* Queues a frame already built for the transport's kind; channel and
 * serial as for transport->send_frame. */
void realtime__send_frame(struct rt_conn *c, struct frame *f,
                          const char *channel, const char *serial);
/* Live frames of `bytes` held back for one of c's replaying attachments
 * (fanout.h) count toward its outbound bound as if queued. realtime__hold:
 * false when c takes nothing more (it fell behind, now or before). */
bool realtime__hold(struct rt_conn *c, size_t bytes);
void realtime__unhold(struct rt_conn *c, size_t bytes);
/* Sends DISCONNECTED (err) and drops the transport; the connection stays
 * resumable. Its attachments end with the transport. */
void realtime__disconnect(struct rt_conn *c, const herald_error *err);
/* Sends a connection ERROR and closes the transport. */
void realtime__fail(struct rt_conn *c, const herald_error *err);
/* Sends an ERROR for one channel. */
void realtime__channel_error(struct rt_conn *c, const char *channel,
                       const herald_error *err);

/* A publish of c completed (its ACK is queued); may free or move c. */
void realtime__publish_settled(struct rt_conn *c);

/* realtime_handover.c: connections across nodes (a shared engine). */
struct handover {
  char id[RT_CONNECTION_ID_LEN + 1];
  char **channels; /* where it may have members */
  size_t n_channels;
};
/* h: the connection taken over, or NULL with err (80008, 80011, 50005). */
typedef void (*realtime_handover_fn)(void *ctx, const struct handover *h,
                                     const herald_error *err);
void realtime_handover__init(struct realtime *rt);
/* Saves c's state for other nodes (after it starts, a new key, a new
 * presence channel); _refresh saves it again when due (each tick). */
void realtime_handover__save(struct rt_conn *c);
void realtime_handover__refresh(struct rt_conn *c, int64_t now);
/* c closed: no resume may continue it. */
void realtime_handover__forget(struct rt_conn *c);
/* Takes over the connection key names from the node that had it (for
 * auth's app and identity); done runs on this worker. false: not shared,
 * or a key that names no connection (nothing runs). */
bool realtime_handover__take(struct realtime *rt, const char *key,
                             const struct auth *auth, realtime_handover_fn done,
                             void *ctx);
/* Another node took connection id over: it goes, its members stay. */
void realtime__moved(struct realtime *rt, const char *id);
/* The REST layer's connection_keys (rest.h): rt's registry, then the
 * shared engine's state of other nodes' connections. */
void realtime__resolve_key(void *rt, const char *key, const struct auth *auth,
                           const char *client_id,
                           void (*done)(void *arg, const char *id,
                                        const herald_error *err),
                           void *arg);
/* The same for a connection on another node (false: not shared, or a
 * malformed key; nothing runs). */
bool realtime_handover__resolve(struct realtime *rt, const char *key,
                                const struct auth *auth, const char *client_id,
                                void (*done)(void *arg, const char *id,
                                             const herald_error *err),
                                void *arg);

/* realtime_revocation.c: revocations reaching live connections. _watch
 * follows the apps registry's revocations (once every worker can be posted
 * to); _tick runs those of w whose appliesAt came (each tick). */
void realtime_revocation__watch(struct realtime *rt);
void realtime_revocation__tick(struct realtime_worker *rw, int64_t now);
void realtime_revocation__worker_cleanup(struct realtime_worker *rw);

/* realtime_publish.c */
void realtime_publish__message(struct rt_conn *c, struct protocol_message *pm);
/* NACKs a MESSAGE, PRESENCE or ANNOTATION that did not decode. */
void realtime_publish__reject(struct rt_conn *c, const struct protocol_message *pm,
                        const herald_error *err);
void realtime_publish__nack_unsupported(struct rt_conn *c,
                                  const struct protocol_message *pm);
void realtime_publish__presence(struct rt_conn *c, struct protocol_message *pm);
/* An ANNOTATION (annotations.h), ACKed or NACKed as a MESSAGE. */
void realtime_publish__annotation(struct rt_conn *c,
                                  struct protocol_message *pm);

/* realtime_presence.c */
/* c sent a presence change on channel: it may have members there. */
void realtime_presence__entered(struct rt_conn *c, const char *channel);
/* c's members leave channel (DETACH), or every channel (the end of c). */
void realtime_presence__leave_channel(struct rt_conn *c, const char *channel);
void realtime_presence__leave_all(struct rt_conn *c);
/* c lost its transport: its members leave after the grace period unless
 * it comes back first (then realtime_presence__transport_back: members on the
 * channels it has not attached again within the re-attach window leave). */
void realtime_presence__transport_lost(struct rt_conn *c);
void realtime_presence__transport_back(struct rt_conn *c);
/* c (newly homed here without a transport) keeps its grace deadline. */
void realtime_presence__rearm(struct rt_conn *c);
/* Sends channel's members to c as SYNC pages (after ATTACHED, or when
 * the client asks). */
void realtime_presence__sync(struct rt_conn *c, const char *channel);
void realtime_presence__client_sync(struct rt_conn *c,
                              const struct protocol_message *pm);
void realtime_presence__worker_init(struct realtime_worker *rw);

/* realtime_channels.c */
/* The checks of an ATTACH to channel (its name as asked, qualifier
 * included) for `requested` modes (0: the default ones) and the rewind
 * param (NULL: none), with credentials auth: 0 with *name parsed and
 * *modes the granted ones, or -40010 (the name, or the expression of a
 * "[filter=...]" name: message_filter.h), -40000 (the rewind),
 * -40160 (no mode allowed). */
int realtime_channels__check(const struct auth *auth, const char *channel,
                             uint32_t requested, const char *rewind,
                             struct channel_name *name, uint32_t *modes,
                             herald_error *err);
/* Whether a connection may be attached to n channels: 0, or -90010. */
int realtime_channels__check_count(const struct realtime *rt, size_t n,
                                   herald_error *err);
void realtime_channels__attach(struct rt_conn *c, const struct protocol_message *pm);
void realtime_channels__detach(struct rt_conn *c, const struct protocol_message *pm);
/* Granted modes of the connection on a channel, 0 when not attached. */
bool realtime_channels__attached(const struct rt_conn *c, const char *channel,
                           uint32_t *modes);
/* Re-checks every attachment against new credentials. */
void realtime_channels__recheck(struct rt_conn *c);
void realtime_channels__detach_all(struct rt_conn *c);

#endif
