/* hello.c -- publish one message and read it back (the README's quick
 * start). HERALD_KEY and HERALD_PORT (default 8080) say where. */
#include <herald/herald.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  herald_options o;
  herald_options_init(&o);
  o.key = getenv("HERALD_KEY");
  o.port = getenv("HERALD_PORT") ? atoi(getenv("HERALD_PORT")) : 8080;
  herald_error err;
  herald_client *c = herald_client_new(&o, &err);
  herald_channel *ch = c ? herald_channel_new(c, "greetings", NULL) : NULL;
  herald_message m = {.name = "hello", .data = herald_string("world")};
  herald_page *page = NULL;
  if (!ch || herald_publish(ch, &m, 1, &err) || herald_history(ch, NULL, &page, &err)) {
    fprintf(stderr, "error %d: %s\n", err.code, err.message);
    return 1;
  }
  printf("%s: %s\n", herald_page_message(page, 0)->name,
         herald_page_message(page, 0)->data.bytes);
  herald_page_free(page);
  herald_channel_free(ch);
  herald_client_free(c);
  return 0;
}
