/* changes.h -- changes of mutable messages (update, delete, append:
 * message_version.h) through the publish pipeline.
 *
 * A change is a publish of one message whose action is a change. The
 * origin checks it (changes__check: the namespace allows changes, the
 * capability names them); the owner reads the message as it is now,
 * applies the own/any rule, stamps the change, makes the message's new
 * state and appends both, unless another change came first (the store
 * answers stale), when it starts again from the newer state. Subscribers
 * receive an update or delete as the message now is, an append as its
 * fragment. */
#ifndef HERALD_CHANGES_H
#define HERALD_CHANGES_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"
#include "store/store.h"

struct publish;

/* The state of an operation on one message (a change, or an annotation:
 * annotations.h) in its publish. */
struct change {
  struct message *op; /* the operation as the publisher sent it */
  const char *of;     /* the serial of the message (in op) */
  void (*apply)(struct publish *p, const struct message *now);
  bool any;           /* a change: may change any client's message */
  char *client_id;    /* else only this clientId's (NULL: none) */
  struct store_history read; /* the message as it is now */
  struct message *latest;    /* what the message becomes */
  int attempts;
};

/* Whether p (decoded) holds a change. */
bool changes__is_change(const struct publish *p);

/* The origin's checks of p, a change of a message on channel (a base
 * name) of auth's app: alone in its publish, in a mutable namespace (else
 * -93002), with the capability to update or delete some message (else
 * -40160), within max_size. The publisher's clientId goes in the
 * operation when it names none. 0 or a negative Ably code. */
int changes__check(struct publish *p, const struct auth *auth,
                   const char *channel, size_t max_size, herald_error *err);

/* On the owner: makes and stores the change. */
void changes__start(struct publish *p);

/* On the owner, an operation of p (its messages[0]) on the message `of`
 * (a serial in that item): in the message's turn (turns.h) it reads the
 * message as it now is and hands it to apply, which stores the operation
 * (channel__append) or ends p (channel__fail); 40400 when there is no such
 * message. changes__retry reads it again after a stale append, and gives
 * up (50000) on a message that keeps changing. */
void changes__operate(struct publish *p, const char *of,
                      void (*apply)(struct publish *p,
                                    const struct message *now));
void changes__retry(struct publish *p);

void changes__cleanup(struct change *c);

#endif
