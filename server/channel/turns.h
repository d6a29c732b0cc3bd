/* turns.h -- the operations on one message (changes, changes.h; and
 * annotations, annotations.h) take turns on its channel's owner: one at a
 * time, in the order they reached it. Each reads the message, makes what
 * it becomes and stores that with a compare-and-set; run together, all but
 * one would find the message changed and start again, round after round
 * (N at once cost N rounds, and the last ones run out of attempts).
 *
 * Owns: each owner's queues, one per message with operations in flight. */
#ifndef HERALD_TURNS_H
#define HERALD_TURNS_H

#include <stdbool.h>

#include "core/worker.h"

struct publish;

/* On the owner: whether p, an operation on app's channel's message
 * `serial` (p->app and p->channel say which), may go now. Else it waits,
 * and on_turn(p) runs when the operations before it are done. */
bool turns__take(struct publish *p, const char *serial,
                 void (*on_turn)(struct publish *p));

/* On the owner: p (which took its turn) is done; the next one goes. */
void turns__release(struct publish *p);

/* Gives worker w (an owner) its queues, freed when w ends (channel.c
 * calls it for channel__worker_init). */
void turns__worker_init(struct worker *w);

#endif
