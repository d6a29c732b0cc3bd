/* annotations.h -- annotations of messages (annotation.h) through the
 * publish pipeline.
 *
 * An annotation is a publish of one annotation (struct publish with
 * annotation set). The origin checks it (annotations__check); the owner
 * reads the annotated message as it is now, stamps the annotation, makes
 * the message's new summary (annotation_summary.h) and appends both in
 * one step with the compare-and-set of changes (changes.h: the store
 * answers stale when the message or its summary changed meanwhile, and
 * the owner starts again). Fan-out then sends the annotation to the
 * attachments with the annotation_subscribe mode and the summary to every
 * subscriber (fanout.h). The state is the publish's struct change: op the
 * annotation as published, read the message, latest the message with the
 * new summary. */
#ifndef HERALD_ANNOTATIONS_H
#define HERALD_ANNOTATIONS_H

#include <stddef.h>

#include "auth/auth.h"
#include "herald/errors.h"
#include "store/store.h"

struct publish;

/* The origin's checks of p (its annotations decoded), an annotation on
 * channel (a base name) of auth's app: one annotation, a mutable
 * namespace (else -93002), the annotation-publish capability (else
 * -40160), the clientId rules and
 * what its summary method needs (annotation_summary__check), within
 * max_size. Sets p->annotation. 0 or a negative Ably code. */
int annotations__check(struct publish *p, const struct auth *auth,
                       const char *channel, size_t max_size,
                       herald_error *err);

/* On the owner, p's items prepared (ids, connection): stamps and stores
 * the annotation with its message's new summary (changes__operate). */
void annotations__start(struct publish *p);

#endif
