/*
 * The preaccess phase handler: one decision per main request over the location's
 * sluice_req limits, then pass, delay (limit_req's `write->delayed` plus a timer) or reject.
 *
 * limit_req's arithmetic in GCRA terms. A zone of rate r has emission interval T = 1/r; a
 * limit with burst=B is a GCRA policy of burst B + 1 (a fresh key gets B + 1 requests at once,
 * as limit_req's excess starts at 0). limit_req's "excess" of an admitted request is
 * (max(TAT, now) - now) / T before it, i.e. reset_after / T - 1 after it, so a request admitted
 * with delay=D waits reset_after - (D + 1) * T when that is positive: exact in ns, where
 * limit_req rounds to its cached millisecond clock.
 */
#include "ngx_http_sluice.h"

static void ngx_http_sluice_delay_handler(ngx_http_request_t* r);

/* The wait a delayed request owes under `limit` (0: none). */
static int64_t ngx_http_sluice_delay_ns(const ngx_http_sluice_limit_t* limit,
                                        const sluice_decision* d) {
  if (limit->delay > limit->burst) return 0; /* nodelay, or delay= above the burst */
  int64_t free_ns = (int64_t)(limit->delay + 1) * limit->zone->interval_ns;
  return d->reset_after_ns > free_ns ? d->reset_after_ns - free_ns : 0;
}

ngx_int_t ngx_http_sluice_handler(ngx_http_request_t* r) {
  ngx_http_sluice_loc_conf_t* lcf = ngx_http_get_module_loc_conf(r, ngx_http_sluice_module);
  if (lcf->limits.nelts == 0) return NGX_DECLINED;
  ngx_http_sluice_ctx_t* ctx = ngx_http_sluice_get_ctx(r);
  if (ctx != NULL && ctx->status != 0) return NGX_DECLINED; /* decided once per main request */

  ngx_http_sluice_limit_t* limits = lcf->limits.elts;
  ngx_http_sluice_limit_t* active[NGX_HTTP_SLUICE_MAX_LIMITS];
  ngx_str_t keys[NGX_HTTP_SLUICE_MAX_LIMITS];
  sluice_decision d[NGX_HTTP_SLUICE_MAX_LIMITS];
  ngx_uint_t n = 0;
  for (ngx_uint_t i = 0; i < lcf->limits.nelts; i++) {
    if (ngx_http_complex_value(r, &limits[i].zone->key, &keys[n]) != NGX_OK) {
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (keys[n].len == 0) { /* limit_req: an empty key is not accounted */
      ngx_http_sluice_count(limits[i].zone, 0);
      continue;
    }
    active[n++] = &limits[i];
  }
  if (n == 0) return NGX_DECLINED;

  /* One decision over every zone, in the location's order: sluice_check_multi decides each
   * zone's table in turn and, when one denies, refunds what the earlier ones admitted at the
   * same `now`, so a denied request is charged nowhere. Exact whatever other workers do
   * meanwhile when the key already had state; for a fresh key that another worker decided
   * between our admission and our refund with a later clock reading t, up to (t - now) / T of
   * a request too much is given back: microseconds against T (engine/src/table_refund.cc). */
  sluice_limit_check checks[NGX_HTTP_SLUICE_MAX_LIMITS];
  for (ngx_uint_t j = 0; j < n; j++) {
    checks[j].limiter = active[j]->limiter;
    checks[j].policy = 0;
    checks[j].flags = 0;
    checks[j].key = keys[j].data;
    checks[j].key_len = keys[j].len;
    checks[j].cost = 1;
  }
  sluice_multi_decision multi;
  if (sluice_check_multi(checks, n, sluice_now_ns(), d, &multi) < 0) {
    return NGX_HTTP_INTERNAL_SERVER_ERROR; /* cannot happen: every limiter and key is valid */
  }
  const ngx_int_t denied = multi.allowed ? -1 : (ngx_int_t)multi.reported;

  if (ctx == NULL) ctx = ngx_http_sluice_create_ctx(r);
  if (ctx == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  ctx->headers = lcf->headers;

  if (denied >= 0) {
    ngx_http_sluice_limit_t* limit = active[denied];
    ctx->status = lcf->dry_run ? NGX_HTTP_SLUICE_REJECTED_DRY_RUN : NGX_HTTP_SLUICE_REJECTED;
    ctx->reported = limit;
    ctx->decision = d[denied];
    ngx_http_sluice_count(limit->zone, ctx->status);
    const int64_t ms = (d[denied].retry_after_ns + 999999) / 1000000;
    ngx_log_error(lcf->log_level, r->connection->log, 0,
                  "limiting requests%s, retry after %L.%03Ls by zone \"%V\"",
                  lcf->dry_run ? ", dry run" : "", ms / 1000, ms % 1000, &limit->zone->name);
    return lcf->dry_run ? NGX_DECLINED : (ngx_int_t)lcf->status_code;
  }

  /* Admitted everywhere: report the tightest limit (sluice_check_multi's choice: fewest
   * remaining, then longest reset), and wait for the longest delay any of them owes. */
  const ngx_uint_t reported = (ngx_uint_t)multi.reported;
  int64_t delay_ns = 0;
  for (ngx_uint_t j = 0; j < n; j++) {
    int64_t w = ngx_http_sluice_delay_ns(active[j], &d[j]);
    if (w > delay_ns) delay_ns = w;
  }
  ctx->reported = active[reported];
  ctx->decision = d[reported];
  if (delay_ns == 0) {
    ctx->status = NGX_HTTP_SLUICE_PASSED;
  } else {
    ctx->status = lcf->dry_run ? NGX_HTTP_SLUICE_DELAYED_DRY_RUN : NGX_HTTP_SLUICE_DELAYED;
  }
  for (ngx_uint_t j = 0; j < n; j++) ngx_http_sluice_count(active[j]->zone, ctx->status);
  if (ctx->status != NGX_HTTP_SLUICE_DELAYED) return NGX_DECLINED;

  const ngx_msec_t delay_ms = (ngx_msec_t)((delay_ns + 999999) / 1000000);
  ngx_log_error(lcf->delay_log_level, r->connection->log, 0,
                "delaying request, %M ms by zone \"%V\"", delay_ms, &active[reported]->zone->name);
  if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
  /* Park the request: a timer on the write event, reading only watches for the client going
   * away; the phase engine resumes in ngx_http_sluice_delay_handler. */
  r->read_event_handler = ngx_http_test_reading;
  r->write_event_handler = ngx_http_sluice_delay_handler;
  r->connection->write->delayed = 1;
  ngx_add_timer(r->connection->write, delay_ms);
  return NGX_AGAIN;
}

static void ngx_http_sluice_delay_handler(ngx_http_request_t* r) {
  ngx_event_t* wev = r->connection->write;
  if (wev->delayed) { /* a write event before the timer: keep waiting */
    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
      ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
    return;
  }
  if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    return;
  }
  r->read_event_handler = ngx_http_block_reading;
  r->write_event_handler = ngx_http_core_run_phases;
  ngx_http_core_run_phases(r); /* back in preaccess: the decided ctx makes it pass */
}
