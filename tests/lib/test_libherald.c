/* test_libherald.c -- libherald against the real heraldd (started by
 * heraldd_helper.c): every REST call in JSON and MessagePack, auth (Basic,
 * TokenRequest, requestToken, authCallback, a refused token, revocation),
 * error paths (bad key, capability refusal, oversized message, server
 * unreachable), fallback hosts (closed primary, 4xx not retried, the
 * remembered fallback given up after its timeout) and one client shared
 * by threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base64.h"
#include "hmac.h"
#include "heraldd_helper.h"
#include "herald/herald.h"

static struct test_server srv;

static int start(void **state) {
  (void)state;
  return test_server__start(&srv);
}

static int stop(void **state) {
  (void)state;
  test_server__stop(&srv);
  return 0;
}

static herald_client *client_with(const char *key, bool binary) {
  herald_options o;
  herald_options_init(&o);
  o.key = key;
  o.port = srv.port;
  o.use_binary_protocol = binary;
  herald_error err;
  herald_client *c = herald_client_new(&o, &err);
  assert_non_null(c);
  return c;
}

static char *unique(const char *prefix) {
  static int n;
  char *s = malloc(64);
  snprintf(s, 64, "%s-%d-%d", prefix, (int)getpid(), ++n);
  return s;
}

static void test_time(void **state) {
  (void)state;
  herald_client *c = client_with(TEST_KEY, false);
  int64_t t = 0;
  herald_error err;
  assert_int_equal(herald_time(c, &t, &err), 0);
  assert_true(t > 1600000000000LL);
  herald_client_free(c);
}

/* Publishes string, binary and JSON data with name, clientId, id and
 * extras, reads them back decoded. */
static void publish_and_read(bool binary) {
  herald_client *c = client_with(TEST_KEY, binary);
  char *name = unique("rt");
  herald_channel *ch = herald_channel_new(c, name, NULL);
  const char bytes[] = {0, 1, (char)0xff};
  herald_message m[3] = {
      {.name = "s", .data = herald_string("héllo"), .client_id = "alice"},
      {.name = "b", .data = herald_binary(bytes, 3)},
      {.name = "j", .data = herald_json("{\"a\":[1,2]}"),
       .extras = "{\"headers\":{\"k\":\"v\"}}"}};
  herald_error err;
  assert_int_equal(herald_publish(ch, m, 3, &err), 0);
  herald_message one = {.id = "my-id:0", .name = "own", .data = herald_string("x")};
  assert_int_equal(herald_publish(ch, &one, 1, &err), 0);
  herald_page *p;
  herald_history_params hp = {.direction = HERALD_FORWARDS};
  assert_int_equal(herald_history(ch, &hp, &p, &err), 0);
  assert_int_equal(herald_page_count(p), 4);
  const herald_message *s = herald_page_message(p, 0);
  assert_string_equal(s->name, "s");
  assert_int_equal(s->data.type, HERALD_DATA_STRING);
  assert_string_equal(s->data.bytes, "héllo");
  assert_string_equal(s->client_id, "alice");
  assert_true(s->timestamp > 0);
  assert_non_null(s->serial);
  const herald_message *b = herald_page_message(p, 1);
  assert_int_equal(b->data.type, HERALD_DATA_BINARY);
  assert_int_equal(b->data.len, 3);
  assert_memory_equal(b->data.bytes, bytes, 3);
  assert_null(b->encoding);
  const herald_message *j = herald_page_message(p, 2);
  assert_int_equal(j->data.type, HERALD_DATA_JSON);
  assert_string_equal(j->data.bytes, "{\"a\":[1,2]}");
  assert_string_equal(j->extras, "{\"headers\":{\"k\":\"v\"}}");
  /* RSL1k1: one random base, index suffixes */
  assert_non_null(strstr(s->id, ":0"));
  assert_int_equal(strncmp(s->id, j->id, strlen(s->id) - 1), 0);
  assert_string_equal(herald_page_message(p, 3)->id, "my-id:0");
  herald_page_free(p);
  herald_channel_free(ch);
  free(name);
  herald_client_free(c);
}

static void test_publish_history_json(void **state) {
  (void)state;
  publish_and_read(false);
}

static void test_publish_history_msgpack(void **state) {
  (void)state;
  publish_and_read(true);
}

/* limit 2 over 5 messages: pages of 2, 2, 1 through Link rel="next";
 * first goes back. */
static void test_pagination(void **state) {
  (void)state;
  herald_client *c = client_with(TEST_KEY, true);
  char *name = unique("pages");
  herald_channel *ch = herald_channel_new(c, name, NULL);
  herald_error err;
  for (int i = 0; i < 5; i++) {
    char n[8];
    snprintf(n, sizeof n, "m%d", i);
    herald_message m = {.name = n, .data = herald_string(n)};
    assert_int_equal(herald_publish(ch, &m, 1, &err), 0);
  }
  herald_page *p, *next;
  assert_int_equal(herald_history(ch, &(herald_history_params){.limit = 2}, &p, &err), 0);
  size_t counts[3] = {0};
  int pages = 0;
  assert_string_equal(herald_page_message(p, 0)->name, "m4");
  herald_page *first_page = NULL;
  while (p) {
    counts[pages++] = herald_page_count(p);
    assert_int_equal(herald_page_next(p, &next, &err), 0);
    if (pages == 3) {
      assert_false(herald_page_has_next(p));
      assert_int_equal(herald_page_first(p, &first_page, &err), 0);
    }
    herald_page_free(p);
    p = next;
  }
  assert_int_equal(pages, 3);
  assert_int_equal(counts[0], 2);
  assert_int_equal(counts[1], 2);
  assert_int_equal(counts[2], 1);
  assert_non_null(first_page);
  assert_string_equal(herald_page_message(first_page, 0)->name, "m4");
  herald_page_free(first_page);
  herald_channel_free(ch);
  free(name);
  herald_client_free(c);
}

static void test_status_presence_stats(void **state) {
  (void)state;
  herald_client *c = client_with(TEST_KEY, false);
  char *name = unique("status");
  herald_channel *ch = herald_channel_new(c, name, NULL);
  herald_error err;
  herald_message m = {.name = "x", .data = herald_string("y")};
  assert_int_equal(herald_publish(ch, &m, 1, &err), 0);
  char *json;
  assert_int_equal(herald_channel_status(ch, &json, &err), 0);
  assert_non_null(strstr(json, name));
  herald_free(json);
  herald_page *p;
  assert_int_equal(herald_presence_get(ch, &(herald_presence_params){.limit = 10, .client_id = "nobody"}, &p, &err), 0);
  assert_int_equal(herald_page_count(p), 0);
  herald_page_free(p);
  assert_int_equal(herald_presence_history(ch, NULL, &p, &err), 0);
  assert_int_equal(herald_page_count(p), 0);
  herald_page_free(p);
  assert_int_equal(herald_stats(c, &(herald_stats_params){.unit = "hour", .limit = 5}, &p, &err), 0);
  assert_int_equal(herald_page_status(p), 200);
  herald_page_free(p);
  herald_channel_free(ch);
  free(name);
  herald_client_free(c);
}

static void test_request(void **state) {
  (void)state;
  herald_client *c = client_with(TEST_KEY, false);
  herald_page *p;
  herald_error err;
  const char *params[] = {"limit", "5", NULL};
  assert_int_equal(herald_request(c, "GET", "/channels", params, NULL, NULL, &p, &err), 0);
  assert_int_equal(herald_page_status(p), 200);
  assert_null(herald_page_error(p));
  herald_page_free(p);
  /* an error status is an answer: kept in the page */
  assert_int_equal(herald_request(c, "GET", "/channels/x/nothing-here", NULL, NULL, NULL, &p, &err), 0);
  assert_int_equal(herald_page_status(p), 404);
  assert_non_null(herald_page_error(p));
  assert_int_equal(herald_page_error(p)->code / 100, 404);
  herald_page_free(p);
  herald_client_free(c);
}

static void test_batch(void **state) {
  (void)state;
  herald_client *c = client_with(TEST_KEY, true);
  char *a = unique("ba"), *b = unique("bb");
  const char *chans[] = {a, b, NULL};
  herald_message m = {.name = "batch", .data = herald_string("d")};
  herald_batch_spec spec = {.channels = chans, .messages = &m, .message_count = 1};
  herald_batch_results *r;
  herald_error err;
  assert_int_equal(herald_batch_publish(c, &spec, 1, &r, &err), 0);
  assert_int_equal(r->count, 2);
  assert_int_equal(r->success_count, 2);
  assert_string_equal(r->items[0].channel, a);
  assert_non_null(r->items[0].message_id);
  herald_batch_results_free(r);
  assert_int_equal(herald_batch_presence(c, chans, &r, &err), 0);
  assert_int_equal(r->count, 2);
  assert_false(r->items[1].failed);
  assert_int_equal(r->items[1].presence_count, 0);
  herald_batch_results_free(r);
  free(a);
  free(b);
  herald_client_free(c);
}

/* ---- auth --------------------------------------------------------------- */

static void test_token_auth(void **state) {
  (void)state;
  herald_client *keyed = client_with(TEST_KEY, false);
  herald_error err;
  char *tr;
  assert_int_equal(herald_create_token_request(keyed, &(herald_token_params){.client_id = "bob", .ttl = 60000}, &tr, &err), 0);
  assert_non_null(strstr(tr, "\"mac\""));
  herald_free(tr);
  herald_token_details *td;
  assert_int_equal(herald_request_token(keyed, &(herald_token_params){.client_id = "bob"}, &td, &err), 0);
  assert_string_equal(td->client_id, "bob");
  assert_true(td->expires > td->issued);
  /* a client with only that token publishes as bob */
  herald_options o;
  herald_options_init(&o);
  o.token = td->token;
  o.port = srv.port;
  herald_client *tok = herald_client_new(&o, &err);
  assert_non_null(tok);
  char *name = unique("tok");
  herald_channel *ch = herald_channel_new(tok, name, NULL);
  herald_message m = {.data = herald_string("by token")};
  assert_int_equal(herald_publish(ch, &m, 1, &err), 0);
  herald_page *p;
  assert_int_equal(herald_history(ch, NULL, &p, &err), 0);
  assert_string_equal(herald_page_message(p, 0)->client_id, "bob");
  herald_page_free(p);
  herald_channel_free(ch);
  herald_client_free(tok);
  /* revoked: the token-only client cannot renew it (RSA4a2: 40171) */
  herald_token_details_free(td);
  free(name);
  herald_client_free(keyed);
}

static int callbacks;

/* An authCallback that signs a TokenRequest with a client of the key. */
static int auth_cb(const herald_token_params *params, void *userdata,
                   char **out, herald_error *err) {
  callbacks++;
  char *json;
  int rc = herald_create_token_request(userdata, params, &json, err);
  if (rc) return rc;
  *out = strdup(json);
  herald_free(json);
  return 0;
}

static void test_auth_callback(void **state) {
  (void)state;
  herald_client *keyed = client_with(TEST_KEY, false);
  herald_options o;
  herald_options_init(&o);
  o.auth_callback = auth_cb;
  o.auth_userdata = keyed;
  o.port = srv.port;
  herald_error err;
  herald_client *c = herald_client_new(&o, &err);
  callbacks = 0;
  herald_channel *ch = herald_channel_new(c, "cb", NULL);
  herald_message m = {.data = herald_string("x")};
  assert_int_equal(herald_publish(ch, &m, 1, &err), 0);
  assert_int_equal(herald_publish(ch, &m, 1, &err), 0);
  assert_int_equal(callbacks, 1); /* the token is reused */
  herald_channel_free(ch);
  herald_client_free(c);
  herald_client_free(keyed);
}

/* A token the server refuses (unknown) with no means to renew: 40171;
 * with a key (useTokenAuth) it is renewed once and the call succeeds. */
static void test_token_renewal(void **state) {
  (void)state;
  herald_options o;
  herald_options_init(&o);
  o.token = "testapp.root.bogus.token";
  o.port = srv.port;
  herald_error err;
  herald_client *c = herald_client_new(&o, &err);
  herald_channel *ch = herald_channel_new(c, "renew", NULL);
  herald_message m = {.data = herald_string("x")};
  assert_int_equal(herald_publish(ch, &m, 1, &err), -40171);
  herald_channel_free(ch);
  herald_client_free(c);
  o.key = TEST_KEY; /* the same bad token, and a key to renew it with */
  c = herald_client_new(&o, &err);
  ch = herald_channel_new(c, "renew", NULL);
  assert_int_equal(herald_publish(ch, &m, 1, &err), 0);
  herald_channel_free(ch);
  herald_client_free(c);
}

/* An Ably JWT (HS256 with the key's secret, kid = the key name) expiring
 * at exp (seconds). */
static char *make_jwt(long long iat, long long exp) {
  char header[] = "{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"testapp.root\"}";
  char claims[256];
  snprintf(claims, sizeof claims,
           "{\"iat\":%lld,\"exp\":%lld,\"x-ably-capability\":\"{\\\"*\\\":[\\\"*\\\"]}\"}",
           iat, exp);
  char *jwt = malloc(1024);
  size_t n = base64__encode_url(header, strlen(header), jwt);
  jwt[n++] = '.';
  n += base64__encode_url(claims, strlen(claims), jwt + n);
  unsigned char mac[HMAC_SHA256_LEN];
  hmac__sha256("secretroot", 10, jwt, n, mac);
  jwt[n++] = '.';
  base64__encode_url(mac, sizeof mac, jwt + n);
  return jwt;
}

/* A JWT as the client's token publishes; an expired one, which the client
 * cannot renew, fails with 40171 naming the server's 40142. */
static void test_jwt(void **state) {
  (void)state;
  long long now = (long long)time(NULL);
  char *good = make_jwt(now - 10, now + 3600), *old = make_jwt(now - 7200, now - 3600);
  herald_options o;
  herald_options_init(&o);
  o.port = srv.port;
  o.token = good;
  herald_error err;
  herald_client *c = herald_client_new(&o, &err);
  herald_channel *ch = herald_channel_new(c, "jwt", NULL);
  herald_message m = {.data = herald_string("x")};
  assert_int_equal(herald_publish(ch, &m, 1, &err), 0);
  herald_channel_free(ch);
  herald_client_free(c);
  o.token = old;
  c = herald_client_new(&o, &err);
  ch = herald_channel_new(c, "jwt", NULL);
  assert_int_equal(herald_publish(ch, &m, 1, &err), -40171);
  assert_non_null(strstr(err.message, "4014"));
  herald_channel_free(ch);
  herald_client_free(c);
  free(good);
  free(old);
}

static void test_errors(void **state) {
  (void)state;
  herald_error err;
  herald_client *bad = client_with("testapp.root:wrongsecret", false);
  herald_channel *ch = herald_channel_new(bad, "e", NULL);
  herald_message m = {.data = herald_string("x")};
  assert_int_equal(herald_publish(ch, &m, 1, &err), -40101);
  assert_int_equal(err.status, 401);
  assert_non_null(strstr(err.href, "40101"));
  herald_channel_free(ch);
  herald_client_free(bad);
  herald_client *sub = client_with(TEST_SUB_KEY, true);
  ch = herald_channel_new(sub, "e", NULL);
  assert_int_equal(herald_publish(ch, &m, 1, &err), -40160);
  herald_channel_free(ch);
  herald_client_free(sub);
  herald_client *c = client_with(TEST_KEY, false);
  ch = herald_channel_new(c, "big", NULL);
  char *big = malloc(70001);
  memset(big, 'a', 70000);
  big[70000] = '\0';
  herald_message large = {.data = herald_string(big)};
  assert_int_equal(herald_publish(ch, &large, 1, &err), -40009);
  free(big);
  herald_message bad_json = {.data = herald_json("not json")};
  assert_int_equal(herald_publish(ch, &bad_json, 1, &err), -40013);
  herald_channel_free(ch);
  herald_client_free(c);
  herald_options o;
  herald_options_init(&o);
  o.key = "nocolon";
  assert_null(herald_client_new(&o, &err));
  assert_int_equal(err.code, 40005);
}

/* ---- fallback hosts (RSC15) ------------------------------------------ */

static herald_client *fallback_client(int primary_port, const char *key,
                                      long retry_timeout_ms) {
  static char fallback[32];
  snprintf(fallback, sizeof fallback, "127.0.0.1:%d", srv.port);
  static const char *fallbacks[2];
  fallbacks[0] = fallback;
  herald_options o;
  herald_options_init(&o);
  o.key = key;
  o.endpoint = "127.0.0.1";
  o.port = primary_port;
  o.fallback_hosts = fallbacks;
  o.fallback_retry_timeout_ms = retry_timeout_ms;
  o.http_open_timeout_ms = 1000;
  herald_error err;
  herald_client *c = herald_client_new(&o, &err);
  assert_non_null(c);
  return c;
}

static void test_unreachable(void **state) {
  (void)state;
  herald_options o;
  herald_options_init(&o);
  o.key = TEST_KEY;
  o.port = test_server__closed_port();
  herald_error err;
  herald_client *c = herald_client_new(&o, &err);
  int64_t t;
  assert_int_equal(herald_time(c, &t, &err), -80000);
  herald_client_free(c);
}

/* A closed primary: the call succeeds on the fallback, which is then
 * remembered; after fallback_retry_timeout the primary is current again. */
static void test_fallback_remembered(void **state) {
  (void)state;
  int closed = test_server__closed_port();
  herald_client *c = fallback_client(closed, TEST_KEY, 300);
  int64_t t;
  herald_error err;
  assert_int_equal(herald_time(c, &t, &err), 0);
  char *host = herald_client_current_host(c);
  char want[32];
  snprintf(want, sizeof want, "127.0.0.1:%d", srv.port);
  assert_string_equal(host, want);
  herald_free(host);
  usleep(400 * 1000); /* the remembering's timeout, shortened */
  host = herald_client_current_host(c);
  snprintf(want, sizeof want, "127.0.0.1:%d", closed);
  assert_string_equal(host, want);
  herald_free(host);
  herald_client_free(c);
}

/* A 4xx is an answer: never retried on a fallback (which here would
 * succeed with the same bad key... and answer 40101 too, so the primary
 * must not be given up either). */
static void test_fallback_not_on_4xx(void **state) {
  (void)state;
  herald_options o;
  herald_options_init(&o);
  o.key = "testapp.root:wrongsecret";
  o.port = srv.port;
  const char *fallbacks[] = {"127.0.0.1:1", NULL}; /* nothing there */
  o.fallback_hosts = fallbacks;
  herald_error err;
  herald_client *c = herald_client_new(&o, &err);
  herald_channel *ch = herald_channel_new(c, "x", NULL);
  herald_message m = {.data = herald_string("x")};
  assert_int_equal(herald_publish(ch, &m, 1, &err), -40101);
  char *host = herald_client_current_host(c);
  char want[32];
  snprintf(want, sizeof want, "localhost:%d", srv.port);
  assert_string_equal(host, want);
  herald_free(host);
  herald_channel_free(ch);
  herald_client_free(c);
}

/* A primary answering 500: one request there, the call succeeds on the
 * fallback. */
static void test_fallback_on_500(void **state) {
  (void)state;
  struct fake_server f;
  assert_int_equal(fake_server__start(&f, false), 0);
  herald_client *c = fallback_client(f.port, TEST_KEY, 600000);
  herald_channel *ch = herald_channel_new(c, "after-500", NULL);
  herald_message m = {.data = herald_string("x")};
  herald_error err;
  assert_int_equal(herald_publish(ch, &m, 1, &err), 0);
  assert_int_equal(atomic_load(&f.requests), 1);
  /* the fallback is remembered: the primary is not asked again */
  assert_int_equal(herald_publish(ch, &m, 1, &err), 0);
  assert_int_equal(atomic_load(&f.requests), 1);
  herald_channel_free(ch);
  herald_client_free(c);
  /* without fallbacks the 500 is the call's error */
  herald_options o;
  herald_options_init(&o);
  o.key = TEST_KEY;
  o.port = f.port;
  c = herald_client_new(&o, &err);
  int64_t t;
  assert_int_equal(herald_time(c, &t, &err), -50000);
  herald_client_free(c);
  fake_server__stop(&f);
}

/* A primary that accepts and never answers: after the request timeout
 * (shortened) the call succeeds on the fallback, within the budget. */
static void test_fallback_on_hang(void **state) {
  (void)state;
  struct fake_server f;
  assert_int_equal(fake_server__start(&f, true), 0);
  char fallback[32];
  snprintf(fallback, sizeof fallback, "127.0.0.1:%d", srv.port);
  const char *fallbacks[] = {fallback, NULL};
  herald_options o;
  herald_options_init(&o);
  o.key = TEST_KEY;
  o.endpoint = "127.0.0.1";
  o.port = f.port;
  o.fallback_hosts = fallbacks;
  o.http_request_timeout_ms = 300;
  herald_error err;
  herald_client *c = herald_client_new(&o, &err);
  int64_t t;
  assert_int_equal(herald_time(c, &t, &err), 0);
  herald_client_free(c);
  /* no time left in the budget for a fallback: the timeout is the error */
  o.http_max_retry_duration_ms = 100;
  c = herald_client_new(&o, &err);
  assert_int_equal(herald_time(c, &t, &err), -50003);
  herald_client_free(c);
  fake_server__stop(&f);
}

/* ---- threads ---------------------------------------------------------- */

struct worker {
  herald_client *c;
  const char *channel;
  int failures;
};

static void *publish_many(void *arg) {
  struct worker *w = arg;
  herald_channel *ch = herald_channel_new(w->c, w->channel, NULL);
  for (int i = 0; i < 10; i++) {
    herald_message m = {.data = herald_string("t")};
    herald_error err;
    if (herald_publish(ch, &m, 1, &err)) w->failures++;
  }
  herald_channel_free(ch);
  return NULL;
}

/* One client, four threads publishing at once: every publish lands. */
static void test_threads(void **state) {
  (void)state;
  herald_client *c = client_with(TEST_KEY, true);
  char *name = unique("threads");
  pthread_t t[4];
  struct worker w[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (struct worker){c, name, 0};
    pthread_create(&t[i], NULL, publish_many, &w[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(w[i].failures, 0);
  }
  herald_channel *ch = herald_channel_new(c, name, NULL);
  herald_page *p;
  herald_error err;
  assert_int_equal(herald_history(ch, &(herald_history_params){.limit = 100}, &p, &err), 0);
  assert_int_equal(herald_page_count(p), 40);
  herald_page_free(p);
  herald_channel_free(ch);
  free(name);
  herald_client_free(c);
}

/* ---- encryption end to end -------------------------------------------- */

static void test_encrypted_channel(void **state) {
  (void)state;
  herald_client *c = client_with(TEST_KEY, false);
  herald_cipher_params cp;
  herald_error err;
  assert_int_equal(herald_cipher_params_from_base64(&cp, "WUP6u0K7MXI5Zeo0VppPwg==", &err), 0);
  char *name = unique("enc");
  herald_channel *ch = herald_channel_new(c, name, &(herald_channel_options){.cipher = &cp});
  herald_message m = {.data = herald_string("secret")};
  assert_int_equal(herald_publish(ch, &m, 1, &err), 0);
  herald_page *p;
  assert_int_equal(herald_history(ch, NULL, &p, &err), 0);
  assert_string_equal(herald_page_message(p, 0)->data.bytes, "secret");
  assert_non_null(strstr(herald_page_json(p, 0), "cipher+aes-128-cbc"));
  herald_page_free(p);
  herald_channel *plain = herald_channel_new(c, name, NULL);
  assert_int_equal(herald_history(plain, NULL, &p, &err), 0);
  assert_string_equal(herald_page_message(p, 0)->encoding, "utf-8/cipher+aes-128-cbc");
  herald_page_free(p);
  herald_channel_free(plain);
  herald_channel_free(ch);
  free(name);
  herald_client_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_time),
      cmocka_unit_test(test_publish_history_json),
      cmocka_unit_test(test_publish_history_msgpack),
      cmocka_unit_test(test_pagination),
      cmocka_unit_test(test_status_presence_stats),
      cmocka_unit_test(test_request),
      cmocka_unit_test(test_batch),
      cmocka_unit_test(test_token_auth),
      cmocka_unit_test(test_auth_callback),
      cmocka_unit_test(test_token_renewal),
      cmocka_unit_test(test_jwt),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_unreachable),
      cmocka_unit_test(test_fallback_remembered),
      cmocka_unit_test(test_fallback_not_on_4xx),
      cmocka_unit_test(test_fallback_on_500),
      cmocka_unit_test(test_fallback_on_hang),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_encrypted_channel),
  };
  return cmocka_run_group_tests(tests, start, stop);
}
