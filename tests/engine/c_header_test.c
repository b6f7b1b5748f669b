/* sluice/c.h is C99: this file is compiled as C99 with -pedantic -Werror, links against
 * libsluice.so.1 and decides one request. */
#include <sluice/c.h>
#include <stdio.h>

int main(void) {
  sluice_table *t = NULL;
  sluice_limiter *l = NULL;
  sluice_policy p;
  sluice_decision d;
  char err[128];
  int rc;
  sluice_policy_init(&p, sizeof p);
  p.name = "c99";
  p.count = 1;
  p.period_ns = 1000000000;
  if (sluice_table_create(NULL, &t, err, sizeof err) != SLUICE_OK) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  if (sluice_limiter_create(t, &p, 1, &l, err, sizeof err) != SLUICE_OK) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  rc = sluice_check(l, 0, "key", 3, sluice_now_ns(), 1, &d);
  sluice_limiter_destroy(l);
  sluice_table_close(t);
  return rc == 1 && d.allowed == 1 ? 0 : 1;
}
