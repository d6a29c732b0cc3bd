/* realtime_publish.c -- MESSAGE, PRESENCE and ANNOTATION from a realtime
 * client:
 * checks, the publish through the channel's owner, and ACK/NACK in
 * msgSerial order (realtime.md 4, 6.1-6.2). A resent msgSerial is
 * answered, never republished (ack_queue.h). */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "capability.h"
#include "channel/annotations.h"
#include "channel/changes.h"
#include "channel/channel.h"
#include "channel/meta_channels.h"
#include "channel/stats.h"
#include "channel_name.h"
#include "realtime/realtime.h"

struct rt_publish {
  struct publish publish;
  struct rt_conn *conn;
  int64_t msg_serial;
};

/* ---- Answers ------------------------------------------------------------- */

static void emit(void *ctx, const struct ack_entry *first, size_t count,
                 const herald_error *err) {
  struct rt_conn *c = ctx;
  struct protocol_message pm = {.action = err ? PM_NACK : PM_ACK,
                                .has_msg_serial = true,
                                .msg_serial = first->msg_serial,
                                .count = (int64_t)count};
  struct publish_result res[count];
  if (err) {
    pm.has_error = true;
    pm.error = *err;
  } else {
    for (size_t i = 0; i < count; i++)
      res[i] = (struct publish_result){(const char *const *)first[i].serials,
                                       first[i].n_serials};
    pm.res = res;
    pm.n_res = count;
  }
  realtime__send(c, &pm);
}

static void flush_acks(struct rt_conn *c) {
  if (c->transport) ack_queue__flush(&c->acks, emit, c);
}

/* Answers msg_serial with err (unless it is a resend, answered as before). */
static void nack(struct rt_conn *c, int64_t msg_serial, const herald_error *err) {
  if (ack_queue__receive(&c->acks, msg_serial) == ACK_NEW)
    ack_queue__complete(&c->acks, msg_serial, NULL, 0, err);
  flush_acks(c);
}

void realtime_publish__reject(struct rt_conn *c, const struct protocol_message *pm,
                        const herald_error *err) {
  nack(c, pm->msg_serial, err);
}

void realtime_publish__nack_unsupported(struct rt_conn *c,
                                  const struct protocol_message *pm) {
  herald_error err;
  herald_error_set(&err, HERALD_E_BAD_REQUEST,
                   "Objects are not supported");
  if (pm->has_msg_serial) nack(c, pm->msg_serial, &err);
  else realtime__fail(c, &err);
}

/* ---- Checks --------------------------------------------------------------- */

/* The ProtocolMessage's action, for errors. */
static const char *action_name(int action) {
  return action == PM_PRESENCE     ? "PRESENCE"
         : action == PM_ANNOTATION ? "ANNOTATION"
                                   : "MESSAGE";
}

/* A token bucket of messages: max_inbound_rate a second, bursts of as
 * many. A publish is taken while the bucket holds at least one and costs
 * all its messages, so one bigger than the burst passes and leaves a debt
 * the rate pays back before the next. */
static bool within_rate(struct rt_conn *c, size_t messages) {
  double rate = (double)c->realtime->cfg->max_inbound_rate;
  int64_t now = (int64_t)uv_now(&c->worker->loop);
  c->inbound_allowance += (double)(now - c->inbound_at_ms) * rate / 1000.0;
  if (c->inbound_allowance > rate) c->inbound_allowance = rate;
  c->inbound_at_ms = now;
  if (c->inbound_allowance < 1.0) return false;
  c->inbound_allowance -= (double)(messages ? messages : 1);
  return true;
}

/* The channel pm names (its base name parsed into *name) and whether c
 * has it attached, with which modes; -40160 for a filtered name. */
static int find_channel(struct rt_conn *c, const struct protocol_message *pm,
                        struct channel_name *name, bool *attached,
                        uint32_t *modes, herald_error *err) {
  if (!pm->channel)
    return herald_error_set(err, HERALD_E_INVALID_CHANNEL_NAME,
                            "%s without a channel", action_name(pm->action));
  int rc = channel_name__parse(pm->channel, strlen(pm->channel), name, err);
  if (rc) return rc;
  if (name->filter) /* derived channels are subscribe-only, as Ably's */
    return herald_error_set(err, HERALD_E_CAPABILITY_DENIED,
                            "%s is not permitted on a channel with a "
                            "subscription filter; use the unfiltered channel",
                            pm->action == PM_PRESENCE ? "Presence" : "Publishing");
  rc = meta_channels__refuse_write(
      name, pm->action == PM_PRESENCE ? "Presence" : "Publishing", err);
  if (rc) return rc;
  char *base = channel_name__base_dup(name);
  *modes = 0;
  *attached = realtime_channels__attached(c, base, modes);
  herald_free(base);
  return 0;
}

/* A message: publish capability, and the publish mode if attached. */
static int check_channel(struct rt_conn *c, const struct protocol_message *pm,
                         struct channel_name *name, herald_error *err) {
  bool attached;
  uint32_t modes;
  int rc = find_channel(c, pm, name, &attached, &modes, err);
  if (!rc) rc = auth__check(&c->auth, name->base, name->base_len,
                            CAPABILITY_OP_PUBLISH, err);
  if (!rc && attached && !(modes & PM_FLAG_MODE_PUBLISH))
    rc = herald_error_set(err, HERALD_E_MODE_NOT_GRANTED,
                          "Channel attached without the publish mode");
  return rc;
}

/* A presence change: on an attached channel, with the presence capability
 * and mode, each item with a clientId the connection may
 * use (realtime.md 6.2 steps 1-3), within the message size limit. */
static int check_presence(struct rt_conn *c, const struct protocol_message *pm,
                          struct publish *p, struct channel_name *name,
                          herald_error *err) {
  bool attached;
  uint32_t modes;
  int rc = find_channel(c, pm, name, &attached, &modes, err);
  if (rc) return rc;
  if (!attached)
    return herald_error_set(err, HERALD_E_CHANNEL_NOT_ATTACHED,
                            "Channel %s is not currently attached",
                            pm->channel);
  rc = auth__check(&c->auth, name->base, name->base_len,
                   CAPABILITY_OP_PRESENCE, err);
  if (!rc && !(modes & PM_FLAG_MODE_PRESENCE))
    rc = herald_error_set(err, HERALD_E_MODE_NOT_GRANTED,
                          "Channel attached without the presence mode");
  if (!rc)
    rc = channel__check_items(p, &c->auth,
                              (size_t)c->realtime->cfg->max_message_size, err);
  return rc;
}

/* ---- Publishing ------------------------------------------------------------ */

static void on_published(struct publish *p) {
  struct rt_publish *rp = (struct rt_publish *)p;
  struct rt_conn *c = rp->conn;
  stats__published(p, METRIC_REALTIME);
  ack_queue__complete(&c->acks, rp->msg_serial, p->serials, p->n_serials,
                      p->rc ? &p->err : NULL);
  if (!c->ended) flush_acks(c);
  channel__publish_cleanup(p);
  herald_free(rp);
  realtime__publish_settled(c);
}

static void refuse(struct rt_publish *rp, const herald_error *err);

/* A publish for msgSerial pm->msg_serial taking pm's items (*items,
 * *count), or NULL when it is answered already: no msgSerial fails the
 * connection, a resend is answered as before, a publish over the rate is
 * NACKed. */
static struct rt_publish *begin(struct rt_conn *c,
                                const struct protocol_message *pm,
                                struct message ***items, size_t *count) {
  herald_error err;
  if (!pm->has_msg_serial) {
    herald_error_set(&err, HERALD_E_BAD_REQUEST, "%s without msgSerial",
                     action_name(pm->action));
    realtime__fail(c, &err);
    return NULL;
  }
  if (ack_queue__receive(&c->acks, pm->msg_serial) == ACK_DUPLICATE) {
    flush_acks(c);
    return NULL;
  }
  struct rt_publish *rp = herald_xcalloc(1, sizeof *rp);
  rp->conn = c;
  rp->msg_serial = pm->msg_serial;
  rp->publish.messages = *items;
  rp->publish.count = *count;
  *items = NULL;
  *count = 0;
  if (!within_rate(c, rp->publish.count)) {
    herald_error_set(&err, HERALD_E_PUBLISH_RATE_EXCEEDED, NULL);
    refuse(rp, &err);
    return NULL;
  }
  return rp;
}

/* NACKs a publish that failed its checks. */
static void refuse(struct rt_publish *rp, const herald_error *err) {
  struct rt_conn *c = rp->conn;
  channel__publish_cleanup(&rp->publish);
  ack_queue__complete(&c->acks, rp->msg_serial, NULL, 0, err);
  herald_free(rp);
  flush_acks(c);
}

/* Sends a checked publish to the channel's owner; ids are
 * "<connectionId>:<msgSerial>:<index>". */
static void start(struct rt_publish *rp, const struct channel_name *name) {
  struct rt_conn *c = rp->conn;
  struct publish *p = &rp->publish;
  struct publisher from = {.channels = c->realtime->channels,
                           .origin = c->worker,
                           .app = c->auth.app,
                           .connection_id = c->id,
                           .msg_serial = (long long)rp->msg_serial};
  channel__publish_init(p, &from, channel_name__base_dup(name), on_published);
  c->publishes_in_flight++;
  channel__publish(p);
}

/* An operation on one message (a change, changes__check, or an
 * annotation, annotations__check): the channel pm names, with check's
 * rules on its base name; whether c has it attached, with which modes. */
typedef int (*operation_check)(struct publish *p, const struct auth *auth,
                               const char *channel, size_t max_size,
                               herald_error *err);

static int check_operation(struct rt_conn *c, const struct protocol_message *pm,
                           struct publish *p, operation_check check,
                           struct channel_name *name, bool *attached,
                           uint32_t *modes, herald_error *err) {
  int rc = find_channel(c, pm, name, attached, modes, err);
  if (rc) return rc;
  char *base = channel_name__base_dup(name);
  rc = check(p, &c->auth, base, (size_t)c->realtime->cfg->max_message_size,
             err);
  herald_free(base);
  return rc;
}

/* A change of a message: its own capabilities, no publish mode needed. */
static int check_change(struct rt_conn *c, const struct protocol_message *pm,
                        struct publish *p, struct channel_name *name,
                        herald_error *err) {
  bool attached;
  uint32_t modes;
  return check_operation(c, pm, p, changes__check, name, &attached, &modes,
                         err);
}

void realtime_publish__message(struct rt_conn *c, struct protocol_message *pm) {
  struct rt_publish *rp = begin(c, pm, &pm->messages, &pm->n_messages);
  if (!rp) return;
  herald_error err;
  struct channel_name name;
  struct publish *p = &rp->publish;
  size_t max_size = (size_t)c->realtime->cfg->max_message_size;
  int rc;
  if (changes__is_change(p)) {
    rc = check_change(c, pm, p, &name, &err);
  } else {
    rc = check_channel(c, pm, &name, &err);
    if (!rc) rc = channel__check_publish(p, &c->auth, max_size, &err);
  }
  if (rc) refuse(rp, &err);
  else start(rp, &name);
}

void realtime_publish__presence(struct rt_conn *c, struct protocol_message *pm) {
  struct rt_publish *rp = begin(c, pm, &pm->presence, &pm->n_presence);
  if (!rp) return;
  rp->publish.presence = true;
  herald_error err;
  struct channel_name name;
  if (check_presence(c, pm, &rp->publish, &name, &err)) {
    refuse(rp, &err);
    return;
  }
  char *base = channel_name__base_dup(&name);
  realtime_presence__entered(c, base);
  herald_free(base);
  start(rp, &name);
}

/* An annotation: its own checks (annotations__check), and the
 * annotation_publish mode if attached. */
static int check_annotation(struct rt_conn *c, const struct protocol_message *pm,
                            struct publish *p, struct channel_name *name,
                            herald_error *err) {
  bool attached;
  uint32_t modes;
  int rc = check_operation(c, pm, p, annotations__check, name, &attached,
                           &modes, err);
  if (!rc && attached && !(modes & PM_FLAG_MODE_ANNOTATION_PUBLISH))
    rc = herald_error_set(err, HERALD_E_MODE_NOT_GRANTED,
                          "Channel attached without the annotation_publish "
                          "mode");
  return rc;
}

void realtime_publish__annotation(struct rt_conn *c,
                                  struct protocol_message *pm) {
  struct rt_publish *rp = begin(c, pm, &pm->annotations, &pm->n_annotations);
  if (!rp) return;
  herald_error err;
  struct channel_name name;
  if (check_annotation(c, pm, &rp->publish, &name, &err)) refuse(rp, &err);
  else start(rp, &name);
}
