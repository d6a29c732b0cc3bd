/* channel.h -- channels (RSN, RSL): publish, history, status, presence
 * (RSP) and batch publish / batch presence (RSC22, RSC24). */
#ifndef HERALD_CHANNEL_H
#define HERALD_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/client.h"
#include "herald/crypto.h"
#include "herald/errors.h"
#include "herald/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct herald_channel herald_channel;

typedef struct herald_channel_options {
  const herald_cipher_params *cipher; /* NULL: unencrypted (RSL5) */
} herald_channel_options;

/* A handle on a channel of the client (the client must outlive it). The
 * name and options are copied; opts may be NULL. */
herald_channel *herald_channel_new(herald_client *c, const char *name,
                                   const herald_channel_options *opts);
void herald_channel_free(herald_channel *ch);
const char *herald_channel_name(const herald_channel *ch);

/* Publishes n messages in one request (RSL1). A message without an id gets
 * one "<base>:<index>" when idempotent_rest_publishing is on (RSL1k1), so a
 * retry on a fallback host is not a second publish. */
int herald_publish(herald_channel *ch, const herald_message *messages,
                   size_t n, herald_error *err);

enum herald_direction { HERALD_BACKWARDS = 0, HERALD_FORWARDS = 1 };

/* History and stats query (RSL2b): 0 fields are not sent. */
typedef struct herald_history_params {
  int64_t start, end; /* ms */
  enum herald_direction direction;
  int limit; /* 0: the server's default (100) */
} herald_history_params;

/* Message history (RSL2), newest first unless FORWARDS. params may be NULL. */
int herald_history(herald_channel *ch, const herald_history_params *params,
                   herald_page **out, herald_error *err);

/* The channel's ChannelDetails (RSL8) as JSON text (herald_free it). */
int herald_channel_status(herald_channel *ch, char **json_out,
                          herald_error *err);

typedef struct herald_presence_params {
  int limit;
  const char *client_id;
  const char *connection_id;
} herald_presence_params;

/* The members present (RSP3) and presence history (RSP4). */
int herald_presence_get(herald_channel *ch,
                        const herald_presence_params *params,
                        herald_page **out, herald_error *err);
int herald_presence_history(herald_channel *ch,
                            const herald_history_params *params,
                            herald_page **out, herald_error *err);

/* One result of a batch call, per channel (or per revocation target). */
typedef struct herald_batch_result {
  const char *channel; /* or the target "type:value" */
  bool failed;
  herald_error error;     /* when failed */
  const char *message_id; /* batch publish: the id prefix */
  const herald_message *presence; /* batch presence: the members */
  size_t presence_count;
  const char *json; /* the result as the server sent it */
} herald_batch_result;

typedef struct herald_batch_results {
  size_t count;
  herald_batch_result *items;
  int success_count, failure_count;
} herald_batch_results;

void herald_batch_results_free(herald_batch_results *r);

/* A BatchPublishSpec (BSP): messages to channels, unencrypted. */
typedef struct herald_batch_spec {
  const char *const *channels; /* NULL-terminated */
  const herald_message *messages;
  size_t message_count;
} herald_batch_spec;

/* Batch publish (RSC22): one result per channel of each spec. A partial
 * failure returns 0 with failed results (the server's 40020 is not an
 * error of the call). */
int herald_batch_publish(herald_client *c, const herald_batch_spec *specs,
                         size_t n, herald_batch_results **out,
                         herald_error *err);

/* Batch presence (RSC24): the members of each channel (NULL-terminated). */
int herald_batch_presence(herald_client *c, const char *const *channels,
                          herald_batch_results **out, herald_error *err);

#ifdef __cplusplus
}
#endif

#endif
