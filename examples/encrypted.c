/* encrypted.c -- an encrypted channel (AES-256-CBC) and a token: a key
 * issues a token with a clientId, a token-only client publishes with it,
 * and the history is read back decrypted. HERALD_KEY, HERALD_PORT. */
#include <herald/herald.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const herald_error *e) {
  fprintf(stderr, "error %d (%d): %s\n", e->code, e->status, e->message);
  return 1;
}

int main(void) {
  herald_options o;
  herald_options_init(&o);
  o.key = getenv("HERALD_KEY");
  o.port = getenv("HERALD_PORT") ? atoi(getenv("HERALD_PORT")) : 8080;
  herald_error err;
  herald_client *admin = herald_client_new(&o, &err);
  herald_token_details *td;
  herald_token_params tp = {.client_id = "example", .ttl = 60000};
  if (!admin || herald_request_token(admin, &tp, &td, &err)) return fail(&err);
  o.key = NULL;
  o.token = td->token;
  herald_client *c = herald_client_new(&o, &err);
  unsigned char key[32];
  herald_cipher_params cp;
  herald_cipher_generate_key(key, 256, &err);
  herald_cipher_params_from_key(&cp, key, sizeof key, &err);
  herald_channel_options co = {.cipher = &cp};
  herald_channel *ch = herald_channel_new(c, "secrets", &co);
  herald_message m = {.name = "s", .data = herald_json("{\"pin\":1234}")};
  herald_page *page;
  if (herald_publish(ch, &m, 1, &err) || herald_history(ch, NULL, &page, &err))
    return fail(&err);
  const herald_message *got = herald_page_message(page, 0);
  printf("%s from %s: %s\n", got->name, got->client_id, got->data.bytes);
  int rc = strcmp(got->data.bytes, "{\"pin\":1234}") != 0;
  herald_page_free(page);
  herald_channel_free(ch);
  herald_client_free(c);
  herald_token_details_free(td);
  herald_client_free(admin);
  return rc;
}
