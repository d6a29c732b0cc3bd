/* annotation_summary.c -- summaries of annotations (see
 * annotation_summary.h). */
#include "annotation_summary.h"

#include <stdbool.h>
#include <string.h>

#include "annotation.h"

int annotation_summary__check(const struct message *a, herald_error *err) {
  enum annotation_method method = annotation__method(a->annotation->type);
  if (!a->client_id && method != ANNOTATION_TOTAL &&
      method != ANNOTATION_MULTIPLE)
    return herald_error_set(err, HERALD_E_IDENTIFIED_CLIENT_REQUIRED,
                            "Annotations of type %s need an identified "
                            "client", a->annotation->type);
  if (!a->name && a->action == ANNOTATION_CREATE &&
      method != ANNOTATION_TOTAL && method != ANNOTATION_FLAG)
    return herald_error_set(err, HERALD_E_INVALID_PARAMETER_VALUE,
                            "Invalid annotation: annotations of type %s "
                            "need a name", a->annotation->type);
  return 0;
}

/* ---- Client lists ({total, clientIds: [...], clipped}) ------------------- */

static json_t *new_list(void) {
  return json_pack("{s:i, s:[], s:b}", "total", 0, "clientIds", "clipped", 0);
}

static size_t index_of(const json_t *ids, const char *client_id) {
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id)
    if (!strcmp(json_string_value(id), client_id)) return i;
  return (size_t)-1;
}

/* Adds (or, with remove, takes away) client_id in list; its total follows. */
static void list_set(json_t *list, const char *client_id, bool remove) {
  json_t *ids = json_object_get(list, "clientIds");
  size_t at = index_of(ids, client_id);
  if (remove && at != (size_t)-1) json_array_remove(ids, at);
  if (!remove && at == (size_t)-1)
    json_array_append_new(ids, json_string(client_id));
  json_object_set_new(list, "total", json_integer((json_int_t)json_array_size(ids)));
}

static json_int_t total_of(const json_t *entry) {
  return json_integer_value(json_object_get(entry, "total"));
}

/* by_name[name], made by make when absent. */
static json_t *entry_of(json_t *by_name, const char *name, json_t *(*make)(void)) {
  json_t *e = json_object_get(by_name, name);
  if (!e) {
    e = make();
    json_object_set_new(by_name, name, e);
  }
  return e;
}

/* Drops the names of by_name whose total is 0. */
static void drop_empty(json_t *by_name) {
  const char *name;
  json_t *e;
  void *tmp;
  json_object_foreach_safe(by_name, tmp, name, e)
    if (total_of(e) <= 0) json_object_del(by_name, name);
}

/* ---- Per method ------------------------------------------------------------ */

static void apply_total(json_t *entry, const struct message *a) {
  json_int_t total = total_of(entry) + (a->action == ANNOTATION_CREATE ? 1 : -1);
  json_object_set_new(entry, "total", json_integer(total < 0 ? 0 : total));
}

static void apply_flag(json_t *entry, const struct message *a) {
  if (!json_object_get(entry, "clientIds")) {
    json_t *list = new_list();
    json_object_update(entry, list);
    json_decref(list);
  }
  list_set(entry, a->client_id, a->action == ANNOTATION_DELETE);
}

/* Takes client_id away from every name of by_name but keep (NULL: all). */
static void remove_from_names(json_t *by_name, const char *client_id,
                              const char *keep) {
  const char *name;
  json_t *e;
  json_object_foreach(by_name, name, e)
    if (!keep || strcmp(name, keep)) list_set(e, client_id, true);
}

/* distinct and unique: a delete without a name takes the client away from
 * every name; a unique create moves it from the others. */
static void apply_names(json_t *by_name, const struct message *a, bool unique) {
  bool remove = a->action == ANNOTATION_DELETE;
  if (remove && !a->name) {
    remove_from_names(by_name, a->client_id, NULL);
  } else {
    if (unique && !remove) remove_from_names(by_name, a->client_id, a->name);
    list_set(entry_of(by_name, a->name, new_list), a->client_id, remove);
  }
  drop_empty(by_name);
}

static json_t *new_counts(void) {
  return json_pack("{s:i, s:{}, s:i, s:b, s:i}", "total", 0, "clientIds",
                   "totalUnidentified", 0, "clipped", 0, "totalClientIds", 0);
}

/* total and totalClientIds of a multiple.v1 entry from its counts. */
static void recount(json_t *e) {
  json_t *ids = json_object_get(e, "clientIds");
  json_int_t total = json_integer_value(json_object_get(e, "totalUnidentified"));
  const char *id;
  json_t *n;
  json_object_foreach(ids, id, n) total += json_integer_value(n);
  json_object_set_new(e, "total", json_integer(total));
  json_object_set_new(e, "totalClientIds",
                      json_integer((json_int_t)json_object_size(ids)));
}

static void count_in(json_t *e, const struct message *a) {
  json_t *ids = json_object_get(e, "clientIds");
  if (a->action == ANNOTATION_DELETE) {
    if (a->client_id) json_object_del(ids, a->client_id);
  } else {
    const char *key = a->client_id ? a->client_id : NULL;
    json_t *holder = key ? ids : e;
    if (!key) key = "totalUnidentified";
    json_int_t n = json_integer_value(json_object_get(holder, key));
    json_object_set_new(holder, key, json_integer(n + a->annotation->count));
  }
  recount(e);
}

static void apply_multiple(json_t *by_name, const struct message *a) {
  if (a->name) {
    count_in(entry_of(by_name, a->name, new_counts), a);
  } else { /* a delete of every name's */
    const char *name;
    json_t *e;
    json_object_foreach(by_name, name, e) count_in(e, a);
  }
  drop_empty(by_name);
}

json_t *annotation_summary__apply(const json_t *summary,
                                  const struct message *a) {
  json_t *out = summary ? json_deep_copy(summary) : json_object();
  const char *type = a->annotation->type;
  json_t *entry = json_object_get(out, type);
  if (!entry) {
    entry = json_object();
    json_object_set_new(out, type, entry);
  }
  enum annotation_method method = annotation__method(type);
  switch (method) {
  case ANNOTATION_TOTAL: apply_total(entry, a); break;
  case ANNOTATION_FLAG: apply_flag(entry, a); break;
  case ANNOTATION_DISTINCT: apply_names(entry, a, false); break;
  case ANNOTATION_UNIQUE: apply_names(entry, a, true); break;
  case ANNOTATION_MULTIPLE: apply_multiple(entry, a); break;
  case ANNOTATION_METHOD_INVALID: break; /* annotation__decode refuses it */
  }
  bool counted = method == ANNOTATION_TOTAL || method == ANNOTATION_FLAG;
  bool empty = counted ? total_of(entry) <= 0 : json_object_size(entry) == 0;
  if (empty) json_object_del(out, type);
  return out;
}
