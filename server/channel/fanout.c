/* fanout.c -- channel positions on owners, subscriptions on workers, and
 * deliveries encoded once per frame kind (see fanout.h).
 * Owns: struct fanout_worker (a worker's fan-out state), struct
 * owned_channel (owner side), struct local_channel (worker side).
 * Subscribers belong to their implementations. */
#include "channel/fanout.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "channel/occupancy_events.h"
#include "channel/presence.h"
#include "clock.h"

#define OWNED_IDLE_MS 1000 /* an unsubscribed channel's record outlives its
                              last message by this much */

struct fanout_note;

/* On the owner: a channel some worker subscribes to (or did lately). With
 * a shared engine the owner watches the channel meanwhile, and its
 * position is the engine's answer: registrations wait for it. */
struct owned_channel {
  char position[SERIAL_MAX];
  size_t presence_members; /* as of position */
  uint64_t workers; /* bit i: worker i has subscribers */
  int64_t last_ms;  /* of the last message or registration */
  bool pending;     /* watched, position not known yet */
  struct fanout_note *waiting; /* registrations to answer then */
};

/* A worker's fan-out state (in its slot). */
struct fanout_worker {
  struct worker *worker;
  struct channels *channels;
  struct hashmap subscribed; /* key -> struct local_channel */
  struct hashmap owned;      /* key -> struct owned_channel */
};

/* On a worker: its subscribers to one channel. */
struct local_channel {
  struct fanout_worker *fw;
  char *key;
  size_t key_len;
  struct subscriber *head;
  bool positioned; /* the owner answered the registration */
  char position[SERIAL_MAX];
  size_t presence_members; /* as of position */
};

/* A registration (or its end) travelling to the owner, and its answer
 * travelling back. */
struct fanout_note {
  struct worker_task task;
  struct fanout_note *next_waiting;
  int worker; /* the subscribing worker's index */
  bool subscribe;
  bool interrupted; /* the answer: the channel's feed ended (err) */
  herald_error err;
  char position[SERIAL_MAX];
  size_t presence_members;
  size_t key_len;
  char key[];
};

struct delivery_task {
  struct worker_task task;
  struct delivery *delivery;
};

char *fanout__channel_key(const char *app_id, const char *name, size_t *len) {
  size_t a = strlen(app_id), n = strlen(name);
  char *key = herald_xmalloc(a + 1 + n + 1);
  memcpy(key, app_id, a);
  key[a] = '\n';
  memcpy(key + a + 1, name, n + 1);
  *len = a + 1 + n;
  return key;
}

static int slot = -1;

static struct fanout_worker *state_of(struct worker *w) {
  return w->locals[slot];
}

static struct fanout_worker *self_state(void) {
  return state_of(worker__self());
}

/* ---- Owner side ------------------------------------------------------------ */

/* Starts or ends the watch of the channel with that key (shared
 * engines). */
static void watch(struct fanout_worker *fw, const char *key, size_t len,
                  bool on) {
  const char *newline = memchr(key, '\n', len);
  char *app_id = herald_xstrndup(key, (size_t)(newline - key));
  store__watch(fw->channels->store, app_id, newline + 1, on);
  herald_free(app_id);
}

static struct owned_channel *owned_get(struct fanout_worker *fw,
                                       const char *key, size_t len) {
  struct owned_channel *oc = hashmap__get(&fw->owned, key, len);
  if (!oc) {
    struct channel_table *table = channel__table(fw->worker);
    oc = herald_xcalloc(1, sizeof *oc);
    oc->last_ms = clock__now_ms();
    oc->presence_members =
        presence__count(channel__presence(table), key, len);
    hashmap__put(&fw->owned, key, len, oc);
    oc->pending = store__shared(fw->channels->store);
    if (oc->pending) watch(fw, key, len, true);
    else channel__next_position(table, oc->position);
  }
  return oc;
}

static void owned_free(struct fanout_worker *fw, const char *key, size_t len,
                       struct owned_channel *oc) {
  occupancy_events__forget(fw->worker, key, len);
  hashmap__remove(&fw->owned, key, len);
  herald_free(oc);
}

static void on_position(struct worker_task *task);

/* Tells a registering worker the channel's position. */
static void answer(struct fanout_worker *fw, const struct owned_channel *oc,
                   struct fanout_note *note) {
  memcpy(note->position, oc->position, SERIAL_MAX);
  note->presence_members = oc->presence_members;
  worker__post(&fw->worker->pool->workers[note->worker], &note->task,
               on_position);
}

static void note_on_owner(struct worker_task *task) {
  struct fanout_note *note = (struct fanout_note *)task;
  struct fanout_worker *fw = self_state();
  uint64_t bit = UINT64_C(1) << note->worker;
  if (!note->subscribe) {
    struct owned_channel *oc = hashmap__get(&fw->owned, note->key, note->key_len);
    if (oc) oc->workers &= ~bit; /* else its feed was interrupted */
    herald_free(note);
    return;
  }
  struct owned_channel *oc = owned_get(fw, note->key, note->key_len);
  oc->workers |= bit;
  oc->last_ms = clock__now_ms();
  if (oc->pending) {
    note->next_waiting = oc->waiting;
    oc->waiting = note;
    return;
  }
  answer(fw, oc, note);
}

static void post_note(struct local_channel *lc, bool subscribe) {
  struct fanout_note *note = herald_xcalloc(1, sizeof *note + lc->key_len + 1);
  note->worker = lc->fw->worker->index;
  note->subscribe = subscribe;
  note->key_len = lc->key_len;
  memcpy(note->key, lc->key, lc->key_len);
  const char *newline = memchr(lc->key, '\n', lc->key_len);
  char *app_id = herald_xstrndup(lc->key, (size_t)(newline - lc->key));
  struct worker *owner = channel__owner(lc->fw->channels, app_id, newline + 1);
  herald_free(app_id);
  worker__post(owner, &note->task, note_on_owner);
}

static void on_delivery(struct worker_task *task);

/* Posts d (taken over) to every worker with subscribers to oc. */
static void post_delivery(struct worker *owner, struct owned_channel *oc,
                          struct delivery *d) {
  for (int i = 0; i < owner->pool->n; i++) {
    if (!(oc->workers & (UINT64_C(1) << i))) continue;
    struct delivery_task *dt = herald_xmalloc(sizeof *dt);
    dt->delivery = delivery__ref(d);
    worker__post(&owner->pool->workers[i], &dt->task, on_delivery);
  }
  delivery__unref(d);
}

/* Moves the channel's position to d and posts d (taken over) to every
 * worker with subscribers; a presence change changes its occupancy. */
static void fan_out(struct worker *owner, struct owned_channel *oc,
                    struct delivery *d) {
  snprintf(oc->position, SERIAL_MAX, "%s", d->channel_serial);
  oc->presence_members = d->presence_members;
  oc->last_ms = clock__now_ms();
  if (d->action == PM_PRESENCE)
    occupancy_events__touch(owner, d->key, strlen(d->key));
  post_delivery(owner, oc, d);
}

bool fanout__owns(struct worker *owner, const char *key, size_t key_len) {
  return hashmap__get(&state_of(owner)->owned, key, key_len) != NULL;
}

size_t fanout__owned_members(struct worker *owner, const char *key,
                             size_t key_len) {
  const struct owned_channel *oc = hashmap__get(&state_of(owner)->owned, key,
                                                key_len);
  return oc ? oc->presence_members : 0;
}

void fanout__announce(struct worker *owner, const char *key, size_t key_len,
                      struct delivery *d) {
  struct owned_channel *oc = hashmap__get(&state_of(owner)->owned, key, key_len);
  if (oc && !oc->pending) post_delivery(owner, oc, d);
  else delivery__unref(d);
}

/* Whether p was stamped before oc's position: oc was made while p was
 * being stored, and channel__next_position handed its registrations a
 * position past p's serial. They read p from history (queued after p's
 * append), so it is not theirs live: sent, it would reach a resume twice. */
static bool stamped_before(const struct owned_channel *oc,
                           const struct publish *p) {
  return strcmp(p->messages[p->count - 1]->serial, oc->position) <= 0;
}

void fanout__published(struct worker *owner, const struct publish *p) {
  struct fanout_worker *fw = state_of(owner);
  size_t key_len;
  char *key = fanout__channel_key(p->app->id, p->channel, &key_len);
  struct owned_channel *oc = hashmap__get(&fw->owned, key, key_len);
  if (!oc || p->count == 0 || stamped_before(oc, p)) {
    herald_free(key);
    return;
  }
  size_t app_id_len = strlen(p->app->id);
  if (p->annotation) { /* the annotation, then its message's summary */
    char *again = herald_xstrdup(key);
    post_delivery(owner, oc, delivery__new(p, again, app_id_len,
                                           oc->presence_members));
    fan_out(owner, oc, delivery__summary(p, key, app_id_len,
                                         oc->presence_members));
    return;
  }
  fan_out(owner, oc, delivery__new(p, key, app_id_len,
                                    p->presence ? p->presence_members
                                                : oc->presence_members));
}

void fanout__sweep(struct worker *w, int64_t now) {
  struct fanout_worker *fw = state_of(w);
  size_t bucket;
  struct hashmap_entry *e = hashmap__first(&fw->owned, &bucket);
  while (e) {
    struct hashmap_entry *next = hashmap__next(&fw->owned, e, &bucket);
    struct owned_channel *oc = e->value;
    if (!oc->workers && now - oc->last_ms > OWNED_IDLE_MS) {
      if (store__shared(fw->channels->store))
        watch(fw, e->key, e->key_len, false);
      owned_free(fw, e->key, e->key_len, oc);
    }
    e = next;
  }
  occupancy_events__sweep(w, now);
}

/* ---- Deliveries -------------------------------------------------------------- */

static void on_delivery(struct worker_task *task) {
  struct delivery_task *dt = (struct delivery_task *)task;
  struct delivery *d = dt->delivery;
  herald_free(dt);
  struct fanout_worker *fw = self_state();
  size_t key_len = strlen(d->key);
  struct local_channel *lc = hashmap__get(&fw->subscribed, d->key, key_len);
  if (!lc || !lc->positioned) { /* unsubscribed, or from before we asked */
    delivery__unref(d);
    return;
  }
  if (d->kind == DELIVERY_STORED) {
    snprintf(lc->position, SERIAL_MAX, "%s", d->channel_serial);
    lc->presence_members = d->presence_members;
  }
  struct delivery_frames frames = {.delivery = d};
  for (struct subscriber *s = lc->head; s; s = s->next)
    s->ops->deliver(s, d, &frames);
  for (int k = 0; k < FRAME_KINDS; k++) frame__unref(frames.by_kind[k]);
  delivery__unref(d);
}

/* ---- A shared engine's feed (on the owner) -------------------------------------- */

/* Tells every worker registered for oc (and those waiting) that its feed
 * ended, and forgets oc: the next registration watches it again. */
static void interrupt_owned(struct fanout_worker *fw, const char *key,
                            size_t len, struct owned_channel *oc,
                            const herald_error *err) {
  for (int i = 0; i < fw->worker->pool->n; i++) {
    if (!(oc->workers & (UINT64_C(1) << i))) continue;
    struct fanout_note *note = oc->waiting;
    while (note && note->worker != i) note = note->next_waiting;
    if (note) { /* answers its registration */
      struct fanout_note **link = &oc->waiting;
      while (*link != note) link = &(*link)->next_waiting;
      *link = note->next_waiting;
    } else {
      note = herald_xcalloc(1, sizeof *note + len + 1);
      note->worker = i;
      note->key_len = len;
      memcpy(note->key, key, len);
    }
    note->interrupted = true;
    note->err = *err;
    worker__post(&fw->worker->pool->workers[i], &note->task, on_position);
  }
  owned_free(fw, key, len, oc);
}

static void positioned(struct fanout_worker *fw, struct owned_channel *oc,
                       const struct store_feed_item *it) {
  if (!oc->pending) return;
  snprintf(oc->position, SERIAL_MAX, "%s", it->position);
  oc->presence_members = it->members;
  oc->pending = false;
  for (struct fanout_note *note = oc->waiting, *next; note; note = next) {
    next = note->next_waiting;
    answer(fw, oc, note);
  }
  oc->waiting = NULL;
}

static void feed_on_owner(struct worker_task *task) {
  struct store_feed_item *it = (struct store_feed_item *)task;
  struct fanout_worker *fw = self_state();
  size_t len;
  char *key = fanout__channel_key(it->app_id, it->channel, &len);
  struct owned_channel *oc = hashmap__get(&fw->owned, key, len);
  if (oc && (it->event == STORE_FEED_POSITIONED || it->event == STORE_FEED_USAGE))
    occupancy_events__remote(fw->worker, key, len, &it->usage);
  if (oc && it->event == STORE_FEED_POSITIONED) {
    positioned(fw, oc, it);
  } else if (oc && it->event == STORE_FEED_INTERRUPTED) {
    interrupt_owned(fw, key, len, oc, &it->err);
  } else if (oc && !oc->pending && it->count && it->latest) {
    /* an annotation, then its message's summary, as fanout__published */
    struct delivery *summary = delivery__feed_summary(it, herald_xstrdup(key),
                                                      oc->presence_members);
    post_delivery(fw->worker, oc,
                  delivery__from_feed(it, key, oc->presence_members));
    fan_out(fw->worker, oc, summary);
    key = NULL; /* the deliveries' now */
  } else if (oc && !oc->pending && it->count) {
    size_t members = it->stream == STORE_PRESENCE ? it->members
                                                  : oc->presence_members;
    fan_out(fw->worker, oc, delivery__from_feed(it, key, members));
    key = NULL; /* the delivery's now */
  }
  herald_free(key);
  store__feed_item_free(it);
}

/* On the engine's thread: to the channel's owner on this node. */
static void on_feed(void *ctx, struct store_feed_item *it) {
  struct channels *ch = ctx;
  worker__post(channel__owner(ch, it->app_id, it->channel), &it->task,
               feed_on_owner);
}

void fanout__init(struct channels *ch) {
  if (store__shared(ch->store))
    store__set_watcher(ch->store, (struct store_watcher){on_feed, ch});
}

/* ---- Worker side ----------------------------------------------------------- */

static void free_local(struct local_channel *lc) {
  hashmap__remove(&lc->fw->subscribed, lc->key, lc->key_len);
  herald_free(lc->key);
  herald_free(lc);
}

/* The channel's feed ended: its subscribers here are told and dropped
 * (they go on from their own positions, e.g. by a resume). */
static void interrupt_local(struct local_channel *lc, const herald_error *err) {
  struct subscriber *s = lc->head;
  occupancy__changed(lc->key, lc->key_len);
  free_local(lc);
  for (struct subscriber *next; s; s = next) {
    next = s->next;
    s->local = NULL;
    s->prev = s->next = NULL;
    s->ops->interrupted(s, err);
  }
}

static void on_position(struct worker_task *task) {
  struct fanout_note *note = (struct fanout_note *)task;
  struct fanout_worker *fw = self_state();
  struct local_channel *lc = hashmap__get(&fw->subscribed, note->key,
                                          note->key_len);
  if (lc && note->interrupted) {
    interrupt_local(lc, &note->err);
  } else if (lc) {
    lc->positioned = true;
    memcpy(lc->position, note->position, SERIAL_MAX);
    lc->presence_members = note->presence_members;
    if (!lc->head) {
      post_note(lc, false);
      free_local(lc);
    } else {
      for (struct subscriber *s = lc->head, *next; s; s = next) {
        next = s->next;
        snprintf(s->position, SERIAL_MAX, "%s", lc->position);
        s->ops->positioned(s);
      }
    }
  }
  herald_free(note);
}

void fanout__subscribe(const char *app_id, struct subscriber *s) {
  struct fanout_worker *fw = self_state();
  size_t key_len;
  char *key = fanout__channel_key(app_id, s->name, &key_len);
  struct local_channel *lc = hashmap__get(&fw->subscribed, key, key_len);
  if (!lc) {
    lc = herald_xcalloc(1, sizeof *lc);
    lc->fw = fw;
    lc->key = key;
    lc->key_len = key_len;
    hashmap__put(&fw->subscribed, key, key_len, lc);
    post_note(lc, true);
  } else {
    herald_free(key);
  }
  s->local = lc;
  s->prev = NULL;
  s->next = lc->head;
  if (lc->head) lc->head->prev = s;
  lc->head = s;
  occupancy__changed(lc->key, lc->key_len);
  if (lc->positioned) {
    snprintf(s->position, SERIAL_MAX, "%s", lc->position);
    s->ops->positioned(s);
  }
}

void fanout__unsubscribe(struct subscriber *s) {
  struct local_channel *lc = s->local;
  if (!lc) return;
  if (s->prev) s->prev->next = s->next;
  else lc->head = s->next;
  if (s->next) s->next->prev = s->prev;
  s->local = NULL;
  occupancy__changed(lc->key, lc->key_len);
  if (!lc->head && lc->positioned) {
    post_note(lc, false);
    free_local(lc);
  }
}

void fanout__set_modes(struct subscriber *s, uint32_t modes) {
  if (s->modes == modes) return;
  s->modes = modes;
  if (s->local) occupancy__changed(s->local->key, s->local->key_len);
}

void fanout__set_occupancy(struct subscriber *s, bool occupancy) {
  if (s->occupancy == occupancy) return;
  s->occupancy = occupancy;
  if (s->local) occupancy__changed(s->local->key, s->local->key_len);
}

const char *fanout__position(const struct subscriber *s) {
  return s->local->position;
}

size_t fanout__presence_members(const struct subscriber *s) {
  return s->local->presence_members;
}

const char *fanout__key_channel(const char *key, size_t key_len,
                                const char *app_id) {
  size_t app_len = strlen(app_id);
  if (key_len <= app_len || key[app_len] != '\n' || memcmp(key, app_id, app_len))
    return NULL;
  return key + app_len + 1;
}

void fanout__each_channel(struct worker *w, const char *app_id,
                          void (*fn)(const char *name, void *arg), void *arg) {
  struct fanout_worker *fw = state_of(w);
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&fw->subscribed, &bucket); e;
       e = hashmap__next(&fw->subscribed, e, &bucket)) {
    const struct local_channel *lc = e->value;
    const char *name = fanout__key_channel(e->key, e->key_len, app_id);
    if (name && lc->head) fn(name, arg);
  }
}

size_t fanout__count_subscribers(struct worker *w, const char *key,
                                 size_t key_len, struct occupancy *o) {
  struct local_channel *lc = hashmap__get(&state_of(w)->subscribed, key, key_len);
  size_t wanting = 0;
  for (struct subscriber *a = lc ? lc->head : NULL; a; a = a->next) {
    wanting += a->occupancy;
    o->connections++;
    o->publishers += (a->modes & PM_FLAG_MODE_PUBLISH) != 0;
    o->subscribers += (a->modes & PM_FLAG_MODE_SUBSCRIBE) != 0;
    o->presence_connections += (a->modes & PM_FLAG_MODE_PRESENCE) != 0;
    o->presence_subscribers +=
        (a->modes & PM_FLAG_MODE_PRESENCE_SUBSCRIBE) != 0;
    o->object_publishers += (a->modes & PM_FLAG_MODE_OBJECT_PUBLISH) != 0;
    o->object_subscribers += (a->modes & PM_FLAG_MODE_OBJECT_SUBSCRIBE) != 0;
  }
  return wanting;
}

static void free_state(void *arg) {
  struct fanout_worker *fw = arg;
  size_t bucket;
  for (struct hashmap_entry *e = hashmap__first(&fw->owned, &bucket); e;
       e = hashmap__next(&fw->owned, e, &bucket))
    herald_free(e->value);
  for (struct hashmap_entry *e = hashmap__first(&fw->subscribed, &bucket); e;
       e = hashmap__next(&fw->subscribed, e, &bucket)) {
    struct local_channel *lc = e->value;
    herald_free(lc->key);
    herald_free(lc);
  }
  hashmap__cleanup(&fw->owned);
  hashmap__cleanup(&fw->subscribed);
  herald_free(fw);
}

void fanout__worker_init(struct channels *ch, struct worker *w) {
  struct fanout_worker *fw = herald_xcalloc(1, sizeof *fw);
  fw->worker = w;
  fw->channels = ch;
  hashmap__init(&fw->subscribed);
  hashmap__init(&fw->owned);
  w->locals[worker__slot(&slot)] = fw;
  worker__at_exit(w, free_state, fw);
}
