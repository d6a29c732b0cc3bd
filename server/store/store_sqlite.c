/* store_sqlite.c -- the SQLite storage engine, heraldd's embedded default.
 *
 * One storage thread owns the connection (WAL mode). Workers queue requests
 * to it; each time it wakes it takes every queued request and runs them in
 * one transaction (group commit), so many publishes share one fsync. Only
 * after COMMIT are the requests completed, which is when a publish is
 * acknowledged: nothing acknowledged is lost, even to kill -9.
 *
 * Batches that hold only appends of non-durable namespaces commit with
 * synchronous=NORMAL: no fsync, still safe from a process crash, but the
 * last batches may be lost if the machine loses power.
 *
 * Mutable messages: a change is a row of messages like any entry (with
 * its version), and what the message then is a row of versions: each
 * update or delete, and the newest state an append made (only the newest:
 * an append is no version). A change is stored only while the message's
 * newest row is the one it was made from (store_append.expected).
 * Annotations are rows of annotations, and each annotated message's
 * summary a row of summaries, beside its versions.
 *
 * Owns: the database file <data-dir>/herald.db (messages, presence
 * events, versions, annotations and summaries, idempotency records,
 * records), the storage thread and its queue. Expired history and
 * idempotency records are deleted in small
 * chunks between batches, so trimming never stalls publishes. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "annotation.h"
#include "clock.h"
#include "core/log.h"
#include "message_version.h"
#include "store/store.h"

extern const struct store_ops store_sqlite__ops;

#define TRIM_INTERVAL_MS 1000
#define TRIM_CHUNK 500

/* Schema migrations: migrations[i] takes the schema from version i to i+1.
 * The database's PRAGMA user_version is its current version. */
static const char *const migrations[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE messages("
    "  app TEXT NOT NULL, channel TEXT NOT NULL, serial TEXT NOT NULL,"
    "  timestamp INTEGER NOT NULL, expires INTEGER NOT NULL,"
    "  id TEXT, name TEXT, client_id TEXT, connection_id TEXT,"
    "  encoding TEXT, data_type INTEGER NOT NULL, data BLOB, extras TEXT,"
    "  action INTEGER NOT NULL,"
    "  PRIMARY KEY(app, channel, serial)) WITHOUT ROWID;"
    "CREATE INDEX messages_by_expiry ON messages(expires);"
    "CREATE TABLE idempotency("
    "  app TEXT NOT NULL, channel TEXT NOT NULL, key TEXT NOT NULL,"
    "  expires INTEGER NOT NULL, message_id TEXT NOT NULL,"
    "  serials TEXT NOT NULL,"
    "  PRIMARY KEY(app, channel, key)) WITHOUT ROWID;"
    "CREATE INDEX idempotency_by_expiry ON idempotency(expires);",
    /* 2: control-plane records (apps made through the API, revocations). */
    "CREATE TABLE records("
    "  app TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,"
    "  value TEXT NOT NULL, expires INTEGER NOT NULL,"
    "  PRIMARY KEY(app, kind, key)) WITHOUT ROWID;"
    "CREATE INDEX records_by_expiry ON records(expires);",
    /* 3: presence history beside message history (enum store_stream). */
    "ALTER TABLE messages ADD COLUMN stream INTEGER NOT NULL DEFAULT 0;",
    /* 4: mutable messages: a change's version, and what messages became. */
    "ALTER TABLE messages ADD COLUMN version TEXT;"
    "CREATE TABLE versions("
    "  app TEXT NOT NULL, channel TEXT NOT NULL, of TEXT NOT NULL,"
    "  serial TEXT NOT NULL, listed INTEGER NOT NULL, expires INTEGER NOT NULL,"
    "  timestamp INTEGER NOT NULL, id TEXT, name TEXT, client_id TEXT,"
    "  connection_id TEXT, encoding TEXT, data_type INTEGER NOT NULL,"
    "  data BLOB, extras TEXT, action INTEGER NOT NULL, version TEXT,"
    "  PRIMARY KEY(app, channel, of, serial)) WITHOUT ROWID;"
    "CREATE INDEX versions_by_expiry ON versions(expires);",
    /* 5: annotations (STORE_ANNOTATIONS; version unused, so that they have
     * MESSAGE_COLUMNS) and each annotated message's summary with the
     * serial of the last annotation it counts. */
    "CREATE TABLE annotations("
    "  app TEXT NOT NULL, channel TEXT NOT NULL, serial TEXT NOT NULL,"
    "  timestamp INTEGER NOT NULL, expires INTEGER NOT NULL,"
    "  id TEXT, name TEXT, client_id TEXT, connection_id TEXT,"
    "  encoding TEXT, data_type INTEGER NOT NULL, data BLOB, extras TEXT,"
    "  action INTEGER NOT NULL, version TEXT, message_serial TEXT NOT NULL,"
    "  type TEXT NOT NULL, count INTEGER,"
    "  PRIMARY KEY(app, channel, serial)) WITHOUT ROWID;"
    "CREATE INDEX annotations_by_message"
    "  ON annotations(app, channel, message_serial, serial);"
    "CREATE INDEX annotations_by_expiry ON annotations(expires);"
    "CREATE TABLE summaries("
    "  app TEXT NOT NULL, channel TEXT NOT NULL, message_serial TEXT NOT NULL,"
    "  summary TEXT NOT NULL, last_annotation TEXT NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  PRIMARY KEY(app, channel, message_serial)) WITHOUT ROWID;"
    "CREATE INDEX summaries_by_expiry ON summaries(expires);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

enum statement {
  SQL_INSERT_MESSAGE,
  SQL_FIND_IDEMPOTENCY,
  SQL_INSERT_IDEMPOTENCY,
  SQL_HISTORY_BACKWARDS,
  SQL_HISTORY_FORWARDS,
  SQL_VERSIONS_BACKWARDS,
  SQL_VERSIONS_FORWARDS,
  SQL_NEWEST_STATE,
  SQL_CREATED,
  SQL_INSERT_VERSION,
  SQL_DROP_UNLISTED,
  SQL_TRIM_VERSIONS,
  SQL_DROP_APP_VERSIONS,
  SQL_CHANNELS,
  SQL_SET_LAST_SERIAL,
  SQL_TRIM_MESSAGES,
  SQL_TRIM_IDEMPOTENCY,
  SQL_TRIM_RECORDS,
  SQL_PUT_RECORD,
  SQL_DELETE_RECORD,
  SQL_LOAD_RECORDS,
  SQL_DROP_APP_MESSAGES,
  SQL_DROP_APP_IDEMPOTENCY,
  SQL_DROP_APP_RECORDS,
  SQL_SAVEPOINT,
  SQL_RELEASE,
  SQL_ROLLBACK_TO,
  SQL_SYNC_FULL,
  SQL_SYNC_NORMAL,
  SQL_BEGIN,
  SQL_COMMIT,
  SQL_ROLLBACK,
  /* annotations */
  SQL_INSERT_ANNOTATION,
  SQL_ANNOTATIONS_BACKWARDS,
  SQL_ANNOTATIONS_FORWARDS,
  SQL_GET_SUMMARY,
  SQL_PUT_SUMMARY,
  SQL_TRIM_ANNOTATIONS,
  SQL_TRIM_SUMMARIES,
  SQL_DROP_APP_ANNOTATIONS,
  SQL_DROP_APP_SUMMARIES,
  SQL_COUNT
};

#define MESSAGE_COLUMNS                                                        \
  "serial, timestamp, id, name, client_id, connection_id, encoding, "         \
  "data_type, data, extras, action, version"

static const char *const statement_sql[SQL_COUNT] = {
    [SQL_INSERT_MESSAGE] =
        "INSERT OR IGNORE INTO messages(app, channel, expires, " MESSAGE_COLUMNS
        ", stream) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [SQL_FIND_IDEMPOTENCY] =
        "SELECT message_id, serials FROM idempotency "
        "WHERE app = ? AND channel = ? AND key = ? AND expires > ?",
    [SQL_INSERT_IDEMPOTENCY] =
        "INSERT OR REPLACE INTO idempotency(app, channel, key, expires, "
        "message_id, serials) VALUES(?,?,?,?,?,?)",
    /* The last parameter but one: 1 leaves changes out (the latest view). */
    [SQL_HISTORY_BACKWARDS] =
        "SELECT " MESSAGE_COLUMNS " FROM messages WHERE app = ? AND channel = ?"
        " AND timestamp BETWEEN ? AND ? AND expires > ? AND serial <= ?"
        " AND stream = ? AND (? = 0 OR version IS NULL)"
        " ORDER BY serial DESC LIMIT ?",
    [SQL_HISTORY_FORWARDS] =
        "SELECT " MESSAGE_COLUMNS " FROM messages WHERE app = ? AND channel = ?"
        " AND timestamp BETWEEN ? AND ? AND expires > ? AND serial >= ?"
        " AND stream = ? AND (? = 0 OR version IS NULL)"
        " ORDER BY serial ASC LIMIT ?",
    /* A message's versions: as created, then its listed states. */
    [SQL_VERSIONS_BACKWARDS] =
        "SELECT * FROM (SELECT " MESSAGE_COLUMNS " FROM messages WHERE"
        " app = ?1 AND channel = ?2 AND serial = ?3 AND stream = 0"
        " AND version IS NULL AND expires > ?4 UNION ALL SELECT "
        MESSAGE_COLUMNS " FROM versions WHERE app = ?1 AND channel = ?2"
        " AND of = ?3 AND listed = 1 AND expires > ?4)"
        " WHERE timestamp BETWEEN ?5 AND ?6 AND serial <= ?7"
        " ORDER BY serial DESC LIMIT ?8",
    [SQL_VERSIONS_FORWARDS] =
        "SELECT * FROM (SELECT " MESSAGE_COLUMNS " FROM messages WHERE"
        " app = ?1 AND channel = ?2 AND serial = ?3 AND stream = 0"
        " AND version IS NULL AND expires > ?4 UNION ALL SELECT "
        MESSAGE_COLUMNS " FROM versions WHERE app = ?1 AND channel = ?2"
        " AND of = ?3 AND listed = 1 AND expires > ?4)"
        " WHERE timestamp BETWEEN ?5 AND ?6 AND serial >= ?7"
        " ORDER BY serial ASC LIMIT ?8",
    [SQL_NEWEST_STATE] =
        "SELECT " MESSAGE_COLUMNS " FROM versions WHERE app = ? AND"
        " channel = ? AND of = ? AND expires > ? ORDER BY serial DESC LIMIT 1",
    [SQL_CREATED] =
        "SELECT " MESSAGE_COLUMNS " FROM messages WHERE app = ? AND"
        " channel = ? AND serial = ? AND stream = 0 AND version IS NULL"
        " AND expires > ?",
    [SQL_INSERT_VERSION] =
        "INSERT OR IGNORE INTO versions(app, channel, of, listed, expires, "
        MESSAGE_COLUMNS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    /* an append's state is kept until the next state of its message */
    [SQL_DROP_UNLISTED] =
        "DELETE FROM versions WHERE app = ? AND channel = ? AND of = ?"
        " AND listed = 0",
    [SQL_TRIM_VERSIONS] =
        "DELETE FROM versions WHERE (app, channel, of, serial) IN (SELECT app,"
        " channel, of, serial FROM versions WHERE expires <= ? LIMIT ?)",
    [SQL_DROP_APP_VERSIONS] = "DELETE FROM versions WHERE app = ?",
    [SQL_CHANNELS] =
        "SELECT DISTINCT channel FROM messages WHERE app = ? AND expires > ?"
        " AND stream = 0"
        " AND channel >= ? AND substr(channel, 1, length(?)) = ?"
        " ORDER BY channel LIMIT ?",
    [SQL_SET_LAST_SERIAL] =
        "INSERT INTO meta(key, value) VALUES('last_serial_ms', ?)"
        " ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
    [SQL_TRIM_MESSAGES] =
        "DELETE FROM messages WHERE (app, channel, serial) IN (SELECT app,"
        " channel, serial FROM messages WHERE expires <= ? LIMIT ?)",
    [SQL_TRIM_IDEMPOTENCY] =
        "DELETE FROM idempotency WHERE (app, channel, key) IN (SELECT app,"
        " channel, key FROM idempotency WHERE expires <= ? LIMIT ?)",
    /* Records that never expire have expires = 0. */
    [SQL_TRIM_RECORDS] =
        "DELETE FROM records WHERE (app, kind, key) IN (SELECT app, kind, key"
        " FROM records WHERE expires BETWEEN 1 AND ? LIMIT ?)",
    [SQL_PUT_RECORD] = "INSERT OR REPLACE INTO records VALUES(?,?,?,?,?)",
    [SQL_DELETE_RECORD] =
        "DELETE FROM records WHERE app = ? AND kind = ? AND key = ?",
    [SQL_LOAD_RECORDS] =
        "SELECT app, key, value FROM records WHERE kind = ?"
        " AND (expires = 0 OR expires > ?) ORDER BY app, key",
    [SQL_DROP_APP_MESSAGES] = "DELETE FROM messages WHERE app = ?",
    [SQL_DROP_APP_IDEMPOTENCY] = "DELETE FROM idempotency WHERE app = ?",
    [SQL_DROP_APP_RECORDS] = "DELETE FROM records WHERE app = ?",
    [SQL_SAVEPOINT] = "SAVEPOINT publish",
    [SQL_RELEASE] = "RELEASE publish",
    [SQL_ROLLBACK_TO] = "ROLLBACK TO publish",
    [SQL_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [SQL_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [SQL_BEGIN] = "BEGIN IMMEDIATE",
    [SQL_COMMIT] = "COMMIT",
    [SQL_ROLLBACK] = "ROLLBACK",
    [SQL_INSERT_ANNOTATION] =
        "INSERT OR IGNORE INTO annotations(app, channel, expires, "
        MESSAGE_COLUMNS ", message_serial, type, count)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [SQL_ANNOTATIONS_BACKWARDS] =
        "SELECT " MESSAGE_COLUMNS ", message_serial, type, count"
        " FROM annotations WHERE app = ? AND channel = ? AND message_serial = ?"
        " AND timestamp BETWEEN ? AND ? AND expires > ? AND serial <= ?"
        " ORDER BY serial DESC LIMIT ?",
    [SQL_ANNOTATIONS_FORWARDS] =
        "SELECT " MESSAGE_COLUMNS ", message_serial, type, count"
        " FROM annotations WHERE app = ? AND channel = ? AND message_serial = ?"
        " AND timestamp BETWEEN ? AND ? AND expires > ? AND serial >= ?"
        " ORDER BY serial ASC LIMIT ?",
    [SQL_GET_SUMMARY] =
        "SELECT summary, last_annotation FROM summaries WHERE app = ?"
        " AND channel = ? AND message_serial = ? AND expires > ?",
    [SQL_PUT_SUMMARY] = "INSERT OR REPLACE INTO summaries VALUES(?,?,?,?,?,?)",
    [SQL_TRIM_ANNOTATIONS] =
        "DELETE FROM annotations WHERE (app, channel, serial) IN (SELECT app,"
        " channel, serial FROM annotations WHERE expires <= ? LIMIT ?)",
    [SQL_TRIM_SUMMARIES] =
        "DELETE FROM summaries WHERE (app, channel, message_serial) IN"
        " (SELECT app, channel, message_serial FROM summaries"
        " WHERE expires <= ? LIMIT ?)",
    [SQL_DROP_APP_ANNOTATIONS] = "DELETE FROM annotations WHERE app = ?",
    [SQL_DROP_APP_SUMMARIES] = "DELETE FROM summaries WHERE app = ?",
};

struct sqlite_store {
  struct store base;
  sqlite3 *db;
  sqlite3_stmt *stmt[SQL_COUNT];
  uv_thread_t thread;
  uv_mutex_t lock;
  uv_cond_t wake;
  uv_cond_t loaded; /* signalled when a synchronous load finished */
  struct store_req *queue_head, *queue_tail;
  bool stopping;
  int64_t last_trim_ms;
  bool trim_backlog; /* the last trim filled a chunk: more may be expired */
  int64_t last_serial_ms;
};

/* ---- Statement helpers ------------------------------------------------- */

static sqlite3_stmt *prepare(struct sqlite_store *s, enum statement which) {
  sqlite3_stmt *st = s->stmt[which];
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *text) {
  if (text) sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

static char *column_dup(sqlite3_stmt *st, int i) {
  const unsigned char *text = sqlite3_column_text(st, i);
  return text ? herald_xstrdup((const char *)text) : NULL;
}

static int fail(struct store_req *req, struct sqlite_store *s,
                const char *what) {
  log_error("sqlite: %s: %s", what, sqlite3_errmsg(s->db));
  return req->rc = herald_error_set(&req->err, HERALD_E_INTERNAL,
                                    "Storage error");
}

/* ---- append -------------------------------------------------------------- */

/* Fills the duplicate outputs when the publish's key was seen in the
 * window. Returns true for a duplicate. */
static bool find_duplicate(struct sqlite_store *s, struct store_append *a,
                           int64_t now) {
  sqlite3_stmt *st = prepare(s, SQL_FIND_IDEMPOTENCY);
  bind_text(st, 1, a->app_id);
  bind_text(st, 2, a->channel);
  bind_text(st, 3, a->idempotency_key);
  sqlite3_bind_int64(st, 4, now);
  if (sqlite3_step(st) != SQLITE_ROW) return false;
  json_t *serials = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
  a->duplicate = true;
  a->original_message_id = column_dup(st, 0);
  a->original_count = json_array_size(serials);
  a->original_serials = herald_xcalloc(a->original_count + 1, sizeof(char *));
  for (size_t i = 0; i < a->original_count; i++)
    a->original_serials[i] =
        herald_xstrdup(json_string_value(json_array_get(serials, i)));
  json_decref(serials);
  return true;
}

static int remember_key(struct sqlite_store *s, struct store_append *a,
                        int64_t now) {
  json_t *serials = json_array();
  for (size_t i = 0; i < a->count; i++)
    json_array_append_new(serials, json_string(a->messages[i]->serial));
  char *text = json_dumps(serials, JSON_COMPACT);
  json_decref(serials);
  sqlite3_stmt *st = prepare(s, SQL_INSERT_IDEMPOTENCY);
  bind_text(st, 1, a->app_id);
  bind_text(st, 2, a->channel);
  bind_text(st, 3, a->idempotency_key);
  sqlite3_bind_int64(st, 4, now + a->idempotency_window_ms);
  bind_text(st, 5, a->message_id);
  bind_text(st, 6, text);
  int rc = sqlite3_step(st);
  free(text);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* Text SQLite copies at once (it is freed before the statement runs). */
static void bind_owned_text(sqlite3_stmt *st, int i, char *text) {
  if (text) sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, i);
  free(text);
}

/* Binds m as MESSAGE_COLUMNS from parameter `first` on. */
static void bind_message(sqlite3_stmt *st, int first, const struct message *m) {
  bind_text(st, first, m->serial);
  sqlite3_bind_int64(st, first + 1, m->timestamp);
  bind_text(st, first + 2, m->id);
  bind_text(st, first + 3, m->name);
  bind_text(st, first + 4, m->client_id);
  bind_text(st, first + 5, m->connection_id);
  bind_text(st, first + 6, m->payload.encoding);
  sqlite3_bind_int(st, first + 7, m->payload.type);
  if (m->payload.type == PAYLOAD_NONE) sqlite3_bind_null(st, first + 8);
  else sqlite3_bind_blob(st, first + 8, m->payload.data, (int)m->payload.len,
                         SQLITE_STATIC);
  bind_owned_text(st, first + 9,
                  m->extras ? json_dumps(m->extras, JSON_COMPACT) : NULL);
  sqlite3_bind_int(st, first + 10, m->action);
  json_t *version = m->version ? message_version__to_json(m->version) : NULL;
  bind_owned_text(st, first + 11,
                  version ? json_dumps(version, JSON_COMPACT) : NULL);
  json_decref(version);
}

static int insert_message(struct sqlite_store *s, const struct store_append *a,
                          const struct message *m) {
  sqlite3_stmt *st = prepare(s, SQL_INSERT_MESSAGE);
  bind_text(st, 1, a->app_id);
  bind_text(st, 2, a->channel);
  sqlite3_bind_int64(st, 3, m->timestamp + a->retention_ms);
  bind_message(st, 4, m);
  sqlite3_bind_int(st, 16, a->stream);
  return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

/* Runs a statement without results (prepared once, like every other:
 * sqlite3_exec would parse it on every call); its result code. */
static int run_statement(struct sqlite_store *s, enum statement which) {
  return sqlite3_step(prepare(s, which));
}

static struct message *row_to_message(sqlite3_stmt *st);

/* The serial of the newest state of the message `of` (a row of versions,
 * else the message as created), or NULL (herald_xmalloc'd). */
static char *newest_serial(struct sqlite_store *s, const struct store_append *a,
                           const char *of, int64_t now) {
  static const enum statement lookups[] = {SQL_NEWEST_STATE, SQL_CREATED};
  for (size_t i = 0; i < 2; i++) {
    sqlite3_stmt *st = prepare(s, lookups[i]);
    bind_text(st, 1, a->app_id);
    bind_text(st, 2, a->channel);
    bind_text(st, 3, of);
    sqlite3_bind_int64(st, 4, now);
    if (sqlite3_step(st) == SQLITE_ROW) return column_dup(st, 0);
  }
  return NULL;
}

/* Keeps a->latest as what its message now is: 0 or -1. */
static int insert_state(struct sqlite_store *s, const struct store_append *a) {
  const struct message *m = a->latest;
  sqlite3_stmt *st = prepare(s, SQL_DROP_UNLISTED);
  bind_text(st, 1, a->app_id);
  bind_text(st, 2, a->channel);
  bind_text(st, 3, m->version->of);
  if (sqlite3_step(st) != SQLITE_DONE) return -1;
  st = prepare(s, SQL_INSERT_VERSION);
  bind_text(st, 1, a->app_id);
  bind_text(st, 2, a->channel);
  bind_text(st, 3, m->version->of);
  sqlite3_bind_int(st, 4, a->new_version);
  sqlite3_bind_int64(st, 5, m->version->created + a->retention_ms);
  bind_message(st, 6, m);
  return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

/* Puts (or deletes) r's row: 0 or -1. */
static int write_record(struct sqlite_store *s, const struct store_record *r) {
  sqlite3_stmt *st = prepare(s, r->value ? SQL_PUT_RECORD : SQL_DELETE_RECORD);
  bind_text(st, 1, r->app_id);
  bind_text(st, 2, r->kind);
  bind_text(st, 3, r->key);
  if (r->value) {
    bind_text(st, 4, r->value);
    sqlite3_bind_int64(st, 5, r->expires);
  }
  return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

/* The append's writes, all or none: 0 or -1. */
static int write_append(struct sqlite_store *s, struct store_append *a,
                        int64_t now) {
  int rc = a->idempotency_key ? remember_key(s, a, now) : 0;
  if (!rc && a->latest) rc = insert_state(s, a);
  for (size_t i = 0; !rc && !a->ephemeral && i < a->count; i++)
    rc = insert_message(s, a, a->messages[i]);
  for (size_t i = 0; !rc && i < a->n_records; i++)
    rc = write_record(s, &a->records[i]);
  return rc;
}

/* The message latest (a change's or an annotation's append) is of: its
 * serial as created. */
static const char *created_serial(const struct message *latest) {
  return latest->version ? latest->version->of : latest->serial;
}

/* Whether a change or an annotation was made from what its message no
 * longer is. */
static bool is_stale(struct sqlite_store *s, const struct store_append *a,
                     int64_t now) {
  char *newest = newest_serial(s, a, created_serial(a->latest), now);
  bool stale = !newest || strcmp(newest, a->expected);
  herald_free(newest);
  return stale;
}

static void run_annotation_append(struct sqlite_store *s,
                                  struct store_append *a, int64_t now);

/* Keeps the newest serial's time (meta last_serial_ms). */
static void note_last_serial(struct sqlite_store *s,
                             const struct store_append *a) {
  int64_t ms = strtoll(a->messages[a->count - 1]->serial, NULL, 10);
  if (ms > s->last_serial_ms) s->last_serial_ms = ms;
}

/* Runs one append inside the batch transaction so that a failure undoes
 * this publish only (all or none of its messages): in a savepoint of its
 * own when it writes more than one row; a single statement is undone by
 * SQLite by itself, and so needs none (a savepoint cost as much again as
 * the insert). */
static void run_append(struct sqlite_store *s, struct store_append *a,
                       int64_t now) {
  if (a->stream == STORE_ANNOTATIONS) {
    run_annotation_append(s, a, now);
    return;
  }
  if (a->idempotency_key && find_duplicate(s, a, now)) return;
  if (a->latest && (a->stale = is_stale(s, a, now))) return;
  size_t writes = (a->idempotency_key ? 1 : 0) + (a->ephemeral ? 0 : a->count) +
                  (a->latest ? 2 : 0) + a->n_records;
  if (writes > 1) run_statement(s, SQL_SAVEPOINT);
  int rc = write_append(s, a, now);
  if (rc) {
    fail(&a->req, s, "append");
    if (writes > 1) run_statement(s, SQL_ROLLBACK_TO);
  }
  if (writes > 1) run_statement(s, SQL_RELEASE);
  if (!rc && a->count) note_last_serial(s, a);
}

/* ---- history and channels ------------------------------------------------ */

static struct message *row_to_message(sqlite3_stmt *st) {
  struct message *m = message__new();
  m->serial = column_dup(st, 0);
  m->timestamp = sqlite3_column_int64(st, 1);
  m->id = column_dup(st, 2);
  m->name = column_dup(st, 3);
  m->client_id = column_dup(st, 4);
  m->connection_id = column_dup(st, 5);
  m->payload.encoding = column_dup(st, 6);
  m->payload.type = (enum payload_type)sqlite3_column_int(st, 7);
  if (m->payload.type != PAYLOAD_NONE) {
    const void *data = sqlite3_column_blob(st, 8);
    m->payload.len = (size_t)sqlite3_column_bytes(st, 8);
    m->payload.data = herald_xstrndup(data ? data : "", m->payload.len);
  }
  const unsigned char *extras = sqlite3_column_text(st, 9);
  if (extras) m->extras = json_loads((const char *)extras, 0, NULL);
  m->action = sqlite3_column_int(st, 10);
  const unsigned char *version = sqlite3_column_text(st, 11);
  if (version) {
    json_t *j = json_loads((const char *)version, 0, NULL);
    m->version = message_version__from_json(j);
    json_decref(j);
  }
  return m;
}

/* The history query of h's view, bound. */
static sqlite3_stmt *history_query(struct sqlite_store *s,
                                   const struct store_history *h, int64_t now) {
  bool forwards = h->direction == STORE_FORWARDS;
  /* Without a cursor, bound the serial by values every serial passes. */
  const char *from = h->cursor ? h->cursor : forwards ? "" : "\x7f";
  sqlite3_stmt *st;
  if (h->view == STORE_VIEW_VERSIONS) {
    st = prepare(s, forwards ? SQL_VERSIONS_FORWARDS : SQL_VERSIONS_BACKWARDS);
    bind_text(st, 3, h->of);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, h->start);
    sqlite3_bind_int64(st, 6, h->end);
    bind_text(st, 7, from);
  } else {
    st = prepare(s, forwards ? SQL_HISTORY_FORWARDS : SQL_HISTORY_BACKWARDS);
    sqlite3_bind_int64(st, 3, h->start);
    sqlite3_bind_int64(st, 4, h->end);
    sqlite3_bind_int64(st, 5, now);
    bind_text(st, 6, from);
    sqlite3_bind_int(st, 7, h->stream);
    sqlite3_bind_int(st, 8, h->view == STORE_VIEW_LATEST);
  }
  bind_text(st, 1, h->app_id);
  bind_text(st, 2, h->channel);
  sqlite3_bind_int64(st, 9 - (h->view == STORE_VIEW_VERSIONS),
                     (sqlite3_int64)h->limit + 1);
  return st;
}

/* The row of the message `serial` as it now is, if it changed: NULL, or
 * the newest row of versions (herald_xmalloc'd message). */
static struct message *newest_state(struct sqlite_store *s,
                                    const struct store_history *h,
                                    const char *serial, int64_t now) {
  sqlite3_stmt *st = prepare(s, SQL_NEWEST_STATE);
  bind_text(st, 1, h->app_id);
  bind_text(st, 2, h->channel);
  bind_text(st, 3, serial);
  sqlite3_bind_int64(st, 4, now);
  return sqlite3_step(st) == SQLITE_ROW ? row_to_message(st) : NULL;
}

/* The message `h->of` as it now is (the latest view of one message). */
static void run_latest_of(struct sqlite_store *s, struct store_history *h,
                          int64_t now) {
  h->messages = herald_xcalloc(1, sizeof *h->messages);
  struct message *m = newest_state(s, h, h->of, now);
  if (!m) {
    sqlite3_stmt *st = prepare(s, SQL_CREATED);
    bind_text(st, 1, h->app_id);
    bind_text(st, 2, h->channel);
    bind_text(st, 3, h->of);
    sqlite3_bind_int64(st, 4, now);
    if (sqlite3_step(st) == SQLITE_ROW) m = row_to_message(st);
  }
  if (m) h->messages[h->count++] = m;
}

/* Collects up to h->limit rows of st (made by row), the one after them
 * becoming the next cursor. */
static void collect_rows(struct sqlite_store *s, struct store_history *h,
                         sqlite3_stmt *st,
                         struct message *(*row)(sqlite3_stmt *st)) {
  h->messages = herald_xcalloc(h->limit, sizeof *h->messages);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (h->count == h->limit) {
      h->next_cursor = column_dup(st, 0);
      break;
    }
    h->messages[h->count++] = row(st);
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(&h->req, s, "history");
}

static void run_annotation_history(struct sqlite_store *s,
                                   struct store_history *h, int64_t now);
static void attach_summaries(struct sqlite_store *s, struct store_history *h,
                             int64_t now);

static void run_history(struct sqlite_store *s, struct store_history *h,
                        int64_t now) {
  if (h->stream == STORE_ANNOTATIONS) {
    run_annotation_history(s, h, now);
    return;
  }
  if (h->view == STORE_VIEW_LATEST && h->of) {
    run_latest_of(s, h, now);
  } else {
    collect_rows(s, h, history_query(s, h, now), row_to_message);
    /* the page is read: the state lookups may reuse statements */
    for (size_t i = 0; h->view == STORE_VIEW_LATEST && i < h->count; i++) {
      struct message *now_is = newest_state(s, h, h->messages[i]->serial, now);
      if (!now_is) continue;
      message__unref(h->messages[i]);
      h->messages[i] = now_is;
    }
  }
  if (h->stream == STORE_MESSAGES) attach_summaries(s, h, now);
}

static void run_channels(struct sqlite_store *s, struct store_channels *c,
                         int64_t now) {
  sqlite3_stmt *st = prepare(s, SQL_CHANNELS);
  const char *prefix = c->prefix ? c->prefix : "";
  bind_text(st, 1, c->app_id);
  sqlite3_bind_int64(st, 2, now);
  bind_text(st, 3, c->cursor ? c->cursor : "");
  bind_text(st, 4, prefix);
  bind_text(st, 5, prefix);
  sqlite3_bind_int64(st, 6, (sqlite3_int64)c->limit + 1);
  c->names = herald_xcalloc(c->limit + 1, sizeof *c->names);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (c->count == c->limit) {
      c->next_cursor = column_dup(st, 0);
      break;
    }
    c->names[c->count++] = column_dup(st, 0);
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(&c->req, s, "channels");
}

/* ---- annotations and summaries ---------------------------------------------- */

static int insert_annotation(struct sqlite_store *s,
                             const struct store_append *a,
                             const struct message *m) {
  sqlite3_stmt *st = prepare(s, SQL_INSERT_ANNOTATION);
  bind_text(st, 1, a->app_id);
  bind_text(st, 2, a->channel);
  sqlite3_bind_int64(st, 3, m->timestamp + a->retention_ms);
  bind_message(st, 4, m);
  bind_text(st, 16, m->annotation->message_serial);
  bind_text(st, 17, m->annotation->type);
  if (m->annotation->has_count) sqlite3_bind_int64(st, 18, m->annotation->count);
  else sqlite3_bind_null(st, 18);
  return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

/* The summary of app's channel's message `serial` into m (summary and
 * summary_serial stay NULL when it has none). */
static void read_summary(struct sqlite_store *s, const char *app_id,
                         const char *channel, const char *serial,
                         struct message *m, int64_t now) {
  sqlite3_stmt *st = prepare(s, SQL_GET_SUMMARY);
  bind_text(st, 1, app_id);
  bind_text(st, 2, channel);
  bind_text(st, 3, serial);
  sqlite3_bind_int64(st, 4, now);
  if (sqlite3_step(st) != SQLITE_ROW) return;
  m->summary = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
  m->summary_serial = column_dup(st, 1);
}

static int put_summary(struct sqlite_store *s, const struct store_append *a) {
  const struct message *latest = a->latest;
  int64_t created = latest->version ? latest->version->created
                                    : latest->timestamp;
  char *summary = json_dumps(latest->summary, JSON_COMPACT);
  sqlite3_stmt *st = prepare(s, SQL_PUT_SUMMARY);
  bind_text(st, 1, a->app_id);
  bind_text(st, 2, a->channel);
  bind_text(st, 3, created_serial(latest));
  bind_text(st, 4, summary);
  bind_text(st, 5, latest->summary_serial);
  sqlite3_bind_int64(st, 6, created + a->retention_ms);
  int rc = sqlite3_step(st);
  free(summary);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* Whether the message's summary still counts up to a->expected_summary. */
static bool summary_unchanged(struct sqlite_store *s,
                              const struct store_append *a, int64_t now) {
  struct message *m = message__new();
  read_summary(s, a->app_id, a->channel, created_serial(a->latest), m, now);
  bool same = m->summary_serial && a->expected_summary
                  ? !strcmp(m->summary_serial, a->expected_summary)
                  : m->summary_serial == a->expected_summary;
  message__unref(m);
  return same;
}

/* An annotation with its message's new summary, both or neither, unless
 * the message or its summary changed meanwhile (stale). */
static void run_annotation_append(struct sqlite_store *s,
                                  struct store_append *a, int64_t now) {
  if (is_stale(s, a, now) || !summary_unchanged(s, a, now)) {
    a->stale = true;
    return;
  }
  run_statement(s, SQL_SAVEPOINT);
  int rc = 0;
  for (size_t i = 0; !rc && i < a->count; i++)
    rc = insert_annotation(s, a, a->messages[i]);
  if (!rc) rc = put_summary(s, a);
  if (rc) {
    fail(&a->req, s, "annotation");
    run_statement(s, SQL_ROLLBACK_TO);
  }
  run_statement(s, SQL_RELEASE);
  if (!rc) note_last_serial(s, a);
}

static struct message *row_to_annotation(sqlite3_stmt *st) {
  struct message *m = row_to_message(st);
  struct annotation *a = m->annotation = herald_xcalloc(1, sizeof *a);
  a->message_serial = column_dup(st, 12);
  a->type = column_dup(st, 13);
  a->has_count = sqlite3_column_type(st, 14) != SQLITE_NULL;
  a->count = a->has_count ? sqlite3_column_int64(st, 14) : 1;
  return m;
}

/* A page of the annotations of the message h->of. */
static void run_annotation_history(struct sqlite_store *s,
                                   struct store_history *h, int64_t now) {
  bool forwards = h->direction == STORE_FORWARDS;
  sqlite3_stmt *st =
      prepare(s, forwards ? SQL_ANNOTATIONS_FORWARDS : SQL_ANNOTATIONS_BACKWARDS);
  bind_text(st, 1, h->app_id);
  bind_text(st, 2, h->channel);
  bind_text(st, 3, h->of);
  sqlite3_bind_int64(st, 4, h->start);
  sqlite3_bind_int64(st, 5, h->end);
  sqlite3_bind_int64(st, 6, now);
  bind_text(st, 7, h->cursor ? h->cursor : forwards ? "" : "\x7f");
  sqlite3_bind_int64(st, 8, (sqlite3_int64)h->limit + 1);
  collect_rows(s, h, st, row_to_annotation);
}

/* Gives each message of a messages page its summary. */
static void attach_summaries(struct sqlite_store *s, struct store_history *h,
                             int64_t now) {
  for (size_t i = 0; i < h->count; i++) {
    struct message *m = h->messages[i];
    read_summary(s, h->app_id, h->channel,
                 m->version ? m->version->of : m->serial, m, now);
  }
}

/* ---- records and apps ------------------------------------------------------ */

static void run_put_record(struct sqlite_store *s, struct store_record *r) {
  if (write_record(s, r)) fail(&r->req, s, "record");
}

static void run_drop_app(struct sqlite_store *s, struct store_drop_app *d) {
  static const enum statement drops[] = {
      SQL_DROP_APP_MESSAGES, SQL_DROP_APP_VERSIONS, SQL_DROP_APP_IDEMPOTENCY,
      SQL_DROP_APP_RECORDS, SQL_DROP_APP_ANNOTATIONS, SQL_DROP_APP_SUMMARIES};
  for (size_t i = 0; i < sizeof drops / sizeof drops[0]; i++) {
    sqlite3_stmt *st = prepare(s, drops[i]);
    bind_text(st, 1, d->app_id);
    if (sqlite3_step(st) != SQLITE_DONE) {
      fail(&d->req, s, "dropping an app");
      return;
    }
  }
}

/* A synchronous records query, run by the storage thread like any request
 * and waited for by the caller. */
struct store_load {
  struct store_req req;
  const char *kind;
  store_record_fn fn;
  void *ctx;
  bool finished;
};

static void run_load(struct sqlite_store *s, struct store_load *l,
                     int64_t now) {
  sqlite3_stmt *st = prepare(s, SQL_LOAD_RECORDS);
  bind_text(st, 1, l->kind);
  sqlite3_bind_int64(st, 2, now);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    l->fn(l->ctx, (const char *)sqlite3_column_text(st, 0),
          (const char *)sqlite3_column_text(st, 1),
          (const char *)sqlite3_column_text(st, 2));
  if (rc != SQLITE_DONE) fail(&l->req, s, "loading records");
}

/* ---- The storage thread ---------------------------------------------------- */

/* Deletes one chunk of expired rows per table. While chunks come back
 * full, the storage thread trims again after every batch (and does not
 * sleep), so trimming keeps pace with the publish rate in small steps. */
static void trim_expired(struct sqlite_store *s, int64_t now) {
  static const enum statement trims[] = {
      SQL_TRIM_MESSAGES, SQL_TRIM_VERSIONS, SQL_TRIM_IDEMPOTENCY,
      SQL_TRIM_RECORDS, SQL_TRIM_ANNOTATIONS, SQL_TRIM_SUMMARIES};
  s->last_trim_ms = now;
  s->trim_backlog = false;
  for (size_t i = 0; i < sizeof trims / sizeof trims[0]; i++) {
    sqlite3_stmt *st = prepare(s, trims[i]);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, TRIM_CHUNK);
    if (sqlite3_step(st) != SQLITE_DONE)
      log_warn("sqlite: trimming: %s", sqlite3_errmsg(s->db));
    else if (sqlite3_changes(s->db) == TRIM_CHUNK)
      s->trim_backlog = true;
  }
}

/* Whether the batch holds a write that must reach the disk before it is
 * acknowledged: anything but an append to a non-durable namespace. */
static bool needs_fsync(const struct store_req *batch) {
  for (const struct store_req *r = batch; r; r = r->queued_next)
    if ((r->op == STORE_OP_APPEND &&
         ((const struct store_append *)r)->durable) ||
        r->op == STORE_OP_PUT_RECORD || r->op == STORE_OP_DROP_APP)
      return true;
  return false;
}

static void run_request(struct sqlite_store *s, struct store_req *r,
                        int64_t now) {
  switch (r->op) {
  case STORE_OP_APPEND: run_append(s, (struct store_append *)r, now); break;
  case STORE_OP_HISTORY: run_history(s, (struct store_history *)r, now); break;
  case STORE_OP_CHANNELS:
    run_channels(s, (struct store_channels *)r, now);
    break;
  case STORE_OP_PUT_RECORD: run_put_record(s, (struct store_record *)r); break;
  case STORE_OP_DROP_APP: run_drop_app(s, (struct store_drop_app *)r); break;
  case STORE_OP_LOAD_RECORDS: run_load(s, (struct store_load *)r, now); break;
  case STORE_OP_WATCH:
  case STORE_OP_MEMBERS:
  case STORE_OP_CONNECTION:
  case STORE_OP_ONCE:
  case STORE_OP_USAGE:
  case STORE_OP_OCCUPANCY:
  case STORE_OP_OUTBOX_DONE: abort(); /* shared engines only */
  }
}

/* Whether a request changes what is stored (and so fails with its batch). */
static bool is_write(const struct store_req *r) {
  return r->op == STORE_OP_APPEND || r->op == STORE_OP_PUT_RECORD ||
         r->op == STORE_OP_DROP_APP;
}

static void run_batch(struct sqlite_store *s, struct store_req *batch) {
  int64_t now = clock__now_ms();
  run_statement(s, needs_fsync(batch) ? SQL_SYNC_FULL : SQL_SYNC_NORMAL);
  run_statement(s, SQL_BEGIN);
  for (struct store_req *r = batch; r; r = r->queued_next) {
    r->rc = 0;
    run_request(s, r, now);
  }
  sqlite3_stmt *st = prepare(s, SQL_SET_LAST_SERIAL);
  sqlite3_bind_int64(st, 1, s->last_serial_ms);
  sqlite3_step(st);
  bool committed = run_statement(s, SQL_COMMIT) == SQLITE_DONE;
  for (struct store_req *r = batch, *next; r; r = next) {
    next = r->queued_next;
    if (!committed && is_write(r)) fail(r, s, "commit");
    store_req__complete(r);
  }
  if (!committed) run_statement(s, SQL_ROLLBACK);
}

/* Takes every queued request, waiting up to the next trim when idle. */
static struct store_req *take_batch(struct sqlite_store *s) {
  uv_mutex_lock(&s->lock);
  if (!s->queue_head && !s->stopping && !s->trim_backlog)
    uv_cond_timedwait(&s->wake, &s->lock, TRIM_INTERVAL_MS * 1000000ull);
  struct store_req *batch = s->queue_head;
  s->queue_head = s->queue_tail = NULL;
  uv_mutex_unlock(&s->lock);
  return batch;
}

static void storage_thread(void *arg) {
  struct sqlite_store *s = arg;
  for (;;) {
    struct store_req *batch = take_batch(s);
    if (batch) run_batch(s, batch);
    int64_t now = clock__now_ms();
    if (s->trim_backlog || now - s->last_trim_ms >= TRIM_INTERVAL_MS)
      trim_expired(s, now);
    uv_mutex_lock(&s->lock);
    bool done = s->stopping && !s->queue_head;
    uv_mutex_unlock(&s->lock);
    if (done) break;
  }
}

static void enqueue(struct store *base, struct store_req *req) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  req->queued_next = NULL;
  uv_mutex_lock(&s->lock);
  if (s->queue_tail) s->queue_tail->queued_next = req;
  else s->queue_head = req;
  s->queue_tail = req;
  uv_cond_signal(&s->wake);
  uv_mutex_unlock(&s->lock);
}

static void sqlite_append(struct store *s, struct store_append *a) {
  enqueue(s, &a->req);
}

static void sqlite_history(struct store *s, struct store_history *h) {
  enqueue(s, &h->req);
}

static void sqlite_channels(struct store *s, struct store_channels *c) {
  enqueue(s, &c->req);
}

static void sqlite_put_record(struct store *s, struct store_record *r) {
  enqueue(s, &r->req);
}

static void sqlite_drop_app(struct store *s, struct store_drop_app *d) {
  enqueue(s, &d->req);
}

static void finish_load(struct store_req *req) {
  struct sqlite_store *s = req->engine;
  uv_mutex_lock(&s->lock);
  ((struct store_load *)req)->finished = true;
  uv_cond_broadcast(&s->loaded);
  uv_mutex_unlock(&s->lock);
}

static int sqlite_load_records(struct store *base, const char *kind,
                               store_record_fn fn, void *ctx,
                               herald_error *err) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  struct store_load load = {.req = {.op = STORE_OP_LOAD_RECORDS,
                                    .done = finish_load,
                                    .engine = s},
                            .kind = kind, .fn = fn, .ctx = ctx};
  enqueue(base, &load.req);
  uv_mutex_lock(&s->lock);
  while (!load.finished) uv_cond_wait(&s->loaded, &s->lock);
  uv_mutex_unlock(&s->lock);
  if (load.req.rc && err) *err = load.req.err;
  return load.req.rc;
}

/* ---- Opening: schema, migrations, statements -------------------------------- */

static int migrate(struct sqlite_store *s, const char *path, herald_error *err) {
  sqlite3_stmt *st;
  int version = 0;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) ==
      SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  if (version > SCHEMA_VERSION)
    return herald_error_set(err, HERALD_E_INTERNAL,
                            "%s has schema version %d, newer than this heraldd "
                            "supports (%d): upgrade heraldd or use another "
                            "--data-dir", path, version, SCHEMA_VERSION);
  for (int v = version; v < SCHEMA_VERSION; v++) {
    char bump[64];
    snprintf(bump, sizeof bump, "PRAGMA user_version=%d", v + 1);
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, bump, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
      return herald_error_set(err, HERALD_E_INTERNAL,
                              "migrating %s to schema %d: %s", path, v + 1,
                              sqlite3_errmsg(s->db));
  }
  return 0;
}

static int load_last_serial(struct sqlite_store *s) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT value FROM meta WHERE key = 'last_serial_ms'",
                         -1, &st, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW) s->last_serial_ms = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return 0;
}

static int open_database(struct sqlite_store *s, const char *data_dir,
                         herald_error *err) {
  char path[4096];
  if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
    return herald_error_set(err, HERALD_E_INTERNAL,
                            "cannot create data directory %s: %s", data_dir,
                            strerror(errno));
  snprintf(path, sizeof path, "%s/herald.db", data_dir);
  if (sqlite3_open_v2(path, &s->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK)
    return herald_error_set(err, HERALD_E_INTERNAL, "cannot open %s: %s", path,
                            sqlite3_errmsg(s->db));
  sqlite3_busy_timeout(s->db, 5000);
  if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) !=
      SQLITE_OK)
    return herald_error_set(err, HERALD_E_INTERNAL, "cannot use WAL for %s: %s",
                            path, sqlite3_errmsg(s->db));
  int rc = migrate(s, path, err);
  if (rc) return rc;
  for (int i = 0; i < SQL_COUNT; i++)
    if (sqlite3_prepare_v3(s->db, statement_sql[i], -1,
                           SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                           NULL) != SQLITE_OK)
      return herald_error_set(err, HERALD_E_INTERNAL,
                              "preparing statement %d: %s", i,
                              sqlite3_errmsg(s->db));
  if (load_last_serial(s))
    return herald_error_set(err, HERALD_E_INTERNAL, "reading %s: %s", path,
                            sqlite3_errmsg(s->db));
  return 0;
}

static void release(struct sqlite_store *s) {
  for (int i = 0; i < SQL_COUNT; i++) sqlite3_finalize(s->stmt[i]);
  sqlite3_close(s->db);
  uv_cond_destroy(&s->wake);
  uv_cond_destroy(&s->loaded);
  uv_mutex_destroy(&s->lock);
  herald_free(s);
}

static int sqlite_open(struct store **out, const struct config *cfg,
                       herald_error *err) {
  struct sqlite_store *s = herald_xcalloc(1, sizeof *s);
  s->base.ops = &store_sqlite__ops;
  uv_mutex_init(&s->lock);
  uv_cond_init(&s->wake);
  uv_cond_init(&s->loaded);
  int rc = open_database(s, cfg->data_dir, err);
  if (!rc && uv_thread_create(&s->thread, storage_thread, s) != 0)
    rc = herald_error_set(err, HERALD_E_INTERNAL,
                          "cannot start the storage thread");
  if (rc) {
    release(s);
    return rc;
  }
  *out = &s->base;
  return 0;
}

/* Finishes every queued request, then closes the database. */
static void sqlite_close(struct store *base) {
  struct sqlite_store *s = (struct sqlite_store *)base;
  uv_mutex_lock(&s->lock);
  s->stopping = true;
  uv_cond_signal(&s->wake);
  uv_mutex_unlock(&s->lock);
  uv_thread_join(&s->thread);
  release(s);
}

static int64_t sqlite_last_serial_ms(struct store *base) {
  return ((struct sqlite_store *)base)->last_serial_ms;
}

const struct store_ops store_sqlite__ops = {
    .name = "sqlite",
    .keeps_records = true,
    .open = sqlite_open,
    .close = sqlite_close,
    .last_serial_ms = sqlite_last_serial_ms,
    .append = sqlite_append,
    .history = sqlite_history,
    .channels = sqlite_channels,
    .put_record = sqlite_put_record,
    .drop_app = sqlite_drop_app,
    .load_records = sqlite_load_records,
};
