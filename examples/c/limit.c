/* The sluice C ABI in one file: a table, two policies, single, batch (as an array of requests
 * and as a described packed batch) and multi-policy checks, and the HTTP header values of a
 * denial.
 *
 *   cc -std=c99 -o limit limit.c $(pkg-config --cflags --libs sluice) && ./limit
 *
 * Time is passed in: this example uses a fixed clock so its output is the same on every run
 * (a server passes sluice_now_ns()). It exits non-zero if the library answers other than the
 * GCRA rule says, so the project's tests build and run it against the installed package. */
#include <sluice/c.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000LL

static int fail(const char *what, int rc, const char *err) {
  fprintf(stderr, "%s: %s%s%s\n", what, sluice_strerror(rc), err[0] ? ": " : "", err);
  return 1;
}

int main(void) {
  char err[256] = "";
  sluice_table_options topts;
  sluice_table *table = NULL;
  sluice_policy policies[2];
  sluice_limiter *limiter = NULL;
  sluice_decision d;
  const char *ip = "192.0.2.7";
  const int64_t t0 = 1000 * NS_PER_S;
  int rc, i, admitted = 0;

  if (sluice_version_number() / 100 != SLUICE_VERSION_NUMBER / 100) {
    fprintf(stderr, "built against sluice %s, running %s\n", SLUICE_VERSION_STRING,
            sluice_version_string());
    return 1;
  }
  printf("sluice %s\n", sluice_version_string());

  /* 65536 keys in private memory (sluice_table_create_shared() shares one across fork()). */
  sluice_table_options_init(&topts, sizeof topts);
  topts.capacity = 65536;
  rc = sluice_table_create(&topts, &table, err, sizeof err);
  if (rc != SLUICE_OK) return fail("sluice_table_create", rc, err);

  /* per-ip: 10 requests per second, 5 at once; global: 1000/s, 100 at once. */
  for (i = 0; i < 2; ++i) sluice_policy_init(&policies[i], sizeof policies[i]);
  policies[0].name = "per-ip";
  policies[0].count = 10;
  policies[0].period_ns = NS_PER_S;
  policies[0].burst = 5;
  policies[1].name = "global";
  rc = sluice_rate_parse("1000/s", 6, &policies[1].count, &policies[1].period_ns, err, sizeof err);
  if (rc != SLUICE_OK) return fail("sluice_rate_parse", rc, err);
  policies[1].burst = 100;
  rc = sluice_limiter_create(table, policies, 2, &limiter, err, sizeof err);
  if (rc != SLUICE_OK) return fail("sluice_limiter_create", rc, err);

  /* One key, seven requests at the same instant: the burst of 5 is admitted, then denied. */
  for (i = 0; i < 7; ++i) {
    rc = sluice_check(limiter, 0, ip, strlen(ip), t0, 1, &d);
    if (rc < 0) return fail("sluice_check", rc, "");
    admitted += rc;
    printf("request %d: %s remaining=%lld retry_after=%lldns\n", i + 1,
           d.allowed ? "allowed" : "denied", (long long)d.remaining, (long long)d.retry_after_ns);
  }
  if (admitted != 5 || d.allowed || d.retry_after_ns != NS_PER_S / 10) {
    fprintf(stderr, "expected 5 admitted and a 100 ms wait\n");
    return 1;
  }

  /* What a 429 carries. */
  {
    char value[SLUICE_HEADER_VALUE_MAX(6)];
    const int which[3] = {SLUICE_HEADER_RETRY_AFTER, SLUICE_HEADER_RATELIMIT_POLICY,
                          SLUICE_HEADER_RATELIMIT};
    const char *names[3] = {"Retry-After", "RateLimit-Policy", "RateLimit"};
    for (i = 0; i < 3; ++i) {
      rc = sluice_format_header(limiter, 0, &d, which[i], value, sizeof value);
      if (rc < 0) return fail("sluice_format_header", rc, "");
      printf("%s: %s\n", names[i], value);
    }
    if (strcmp(value, "\"per-ip\";r=0;t=1") != 0) return 1;
  }

  /* 100 ms later exactly one more request fits (T = 100 ms); 1 ns earlier it does not. */
  if (sluice_check(limiter, 0, ip, strlen(ip), t0 + NS_PER_S / 10 - 1, 1, &d) != 0) return 1;
  if (sluice_check(limiter, 0, ip, strlen(ip), t0 + NS_PER_S / 10, 1, &d) != 1) return 1;

  /* A batch: eight clients in one call (what a binding uses to pay its call cost once). */
  {
    char keys[8][16];
    sluice_request batch[8];
    sluice_decision out[8];
    for (i = 0; i < 8; ++i) {
      snprintf(keys[i], sizeof keys[i], "198.51.100.%d", i);
      batch[i].policy = 0;
      batch[i].flags = 0;
      batch[i].key = keys[i];
      batch[i].key_len = strlen(keys[i]);
      batch[i].cost = 1;
    }
    rc = sluice_check_batch(limiter, batch, 8, t0, out);
    printf("batch: %d of 8 admitted\n", rc);
    if (rc != 8) return 1;
  }

  /* The same clients described once by a sluice_batch over packed keys, decided with a call
   * of two arguments (what an FFI binding such as examples/python reuses for every batch):
   * each client's second request is admitted too, and `allowed` says so per key. */
  {
    char packed[8 * 16];
    uint32_t lens[8];
    uint8_t allowed[8];
    sluice_decision out[8];
    sluice_batch b;
    size_t at = 0;
    for (i = 0; i < 8; ++i) {
      lens[i] = (uint32_t)sprintf(packed + at, "198.51.100.%d", i);
      at += lens[i];
    }
    sluice_batch_init(&b, sizeof b);
    b.limiter = limiter;
    b.policy = 0;
    b.keys = packed;
    b.key_lens = lens;
    b.n = 8;
    b.out = out;
    b.allowed = allowed;
    rc = sluice_batch_check(&b, t0);
    printf("described batch: %d of 8 admitted\n", rc);
    if (rc != 8 || allowed[7] != 1 || out[7].remaining != 3) return 1;
  }

  /* Two policies decided together: the per-ip denial refunds what "global" admitted. */
  {
    sluice_request both[2];
    sluice_decision out[2];
    sluice_multi_decision m;
    sluice_table_stats stats;
    uint32_t global = 0;
    if (sluice_limiter_find(limiter, "global", 6, &global) != SLUICE_OK) return 1;
    memset(both, 0, sizeof both);
    both[0].policy = global;
    both[0].key = "all";
    both[0].key_len = 3;
    both[0].cost = 1;
    both[1].policy = 0;
    both[1].key = ip;
    both[1].key_len = strlen(ip);
    both[1].cost = 1;
    rc = sluice_check_all(limiter, both, 2, t0 + NS_PER_S / 10, out, &m);
    printf("multi: %s, reported policy %zu, global remaining %lld\n",
           m.allowed ? "allowed" : "denied", m.reported, (long long)out[0].remaining);
    if (rc != 0 || m.reported != 1) return 1;
    /* The refund left "global" as if it had never been asked: 100 of 100 still there. */
    if (sluice_check(limiter, global, "all", 3, t0 + NS_PER_S / 10, 0, &d) != 1) return 1;
    printf("global after the refund: remaining %lld\n", (long long)d.remaining);
    if (d.remaining != 100) return 1;

    if (sluice_table_get_stats(table, &stats, sizeof stats) != SLUICE_OK) return 1;
    printf("table: %llu keys of capacity %llu installed\n", (unsigned long long)stats.installs,
           (unsigned long long)stats.capacity);
  }

  sluice_limiter_destroy(limiter);
  sluice_table_close(table);
  return 0;
}
