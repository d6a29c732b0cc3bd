/* messages.h -- Messages and PresenceMessages between the public
 * herald_message and the wire: a publish's body, and the decoded items of
 * an answer (history, presence, a batch result, an event stream). The
 * fields are read and written by common/message.c; this adds what a client
 * reads that a server does not (connectionId, serial, timestamp, action)
 * and the data's decoding. */
#ifndef HERALD_LIB_MESSAGES_H
#define HERALD_LIB_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "herald/herald.h"
#include "message.h"
#include "wire.h"

/* Items of an answer: each as compact JSON text, and as messages when
 * decoded so (views[i] points into messages[i] and extras[i]). */
struct item_list {
  size_t n;
  char **json;
  herald_message *views; /* NULL: not messages */
  struct message **messages;
  char **extras;
};

/* Reads v (an array of items, or one item; nil or absent: none) into *out.
 * With as_messages each item is decoded as a message, its data through
 * cipher (NULL: none). 0, or -40013 / -40001 for an item that is not one. */
int messages__read(struct wire_value v, bool as_messages,
                   const herald_cipher_params *cipher, struct item_list *out,
                   herald_error *err);
void messages__free(struct item_list *l);

/* The body publishing messages[0..n) in format: an array of them, data
 * encoded with cipher, ids "<id_base>:<i>" for messages without one when
 * id_base is not NULL. herald_xmalloc'd, *len bytes. 40013 / 40032 for
 * bad data or extras. */
int messages__publish_body(const herald_message *messages, size_t n,
                           const herald_cipher_params *cipher,
                           const char *id_base, enum wire_format format,
                           char **body, size_t *len, herald_error *err);

/* Writes messages[0..n) as an array into w (a batch spec's messages). */
int messages__write(const herald_message *messages, size_t n,
                    const herald_cipher_params *cipher, const char *id_base,
                    struct wire_writer *w, herald_error *err);

/* A new id base for idempotent publishing (RSL1k1): base64 of 9 random
 * bytes, herald_xmalloc'd. */
char *messages__id_base(void);

#endif
