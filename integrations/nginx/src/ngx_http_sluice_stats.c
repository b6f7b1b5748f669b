/*
 * `sluice_req_stats;` in a location: every zone's counters in Prometheus text (format 0.0.4).
 * Outcomes are summed over the zone's worker stripes; table counters come from the table's
 * shared header, so every worker answers the same totals.
 */
#include "ngx_http_sluice.h"

static const char* ngx_http_sluice_outcome_label[NGX_HTTP_SLUICE_OUTCOMES] = {
    "empty_key", "passed", "delayed", "rejected", "delayed_dry_run", "rejected_dry_run"};

/* An upper bound of one zone's lines (names at most 255 bytes, numbers at most 20 digits). */
#define NGX_HTTP_SLUICE_ZONE_TEXT (16 * (128 + 255 + 20))

static ngx_int_t ngx_http_sluice_stats_handler(ngx_http_request_t* r) {
  if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
  ngx_int_t rc = ngx_http_discard_request_body(r);
  if (rc != NGX_OK) return rc;

  ngx_http_sluice_main_conf_t* mcf = ngx_http_get_module_main_conf(r, ngx_http_sluice_module);
  ngx_http_sluice_zone_t** zones = mcf->zones.elts;
  size_t cap = 1024 + mcf->zones.nelts * NGX_HTTP_SLUICE_ZONE_TEXT;
  ngx_buf_t* b = ngx_create_temp_buf(r->pool, cap);
  if (b == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  u_char* p = b->last;
  u_char* end = b->end;

  p = ngx_slprintf(p, end,
                   "# HELP sluice_nginx_requests_total Requests decided per zone, by outcome "
                   "($sluice_req_status; empty_key: not accounted).\n"
                   "# TYPE sluice_nginx_requests_total counter\n");
  for (ngx_uint_t i = 0; i < mcf->zones.nelts; i++) {
    if (zones[i]->sh == NULL) continue;
    for (ngx_uint_t o = 0; o < NGX_HTTP_SLUICE_OUTCOMES; o++) {
      uint64_t sum = 0;
      for (ngx_uint_t s = 0; s < NGX_HTTP_SLUICE_STRIPES; s++) {
        sum += (uint64_t)zones[i]->sh->stripe[s].outcome[o];
      }
      p = ngx_slprintf(p, end, "sluice_nginx_requests_total{zone=\"%V\",outcome=\"%s\"} %uL\n",
                       &zones[i]->name, ngx_http_sluice_outcome_label[o], sum);
    }
  }

  static const struct {
    const char *name, *type, *help;
  } kTable[] = {
      {"sluice_nginx_zone_capacity_keys", "gauge", "Keys the zone's table holds at once."},
      {"sluice_nginx_zone_memory_bytes", "gauge", "Bytes of the table (slots and header)."},
      {"sluice_nginx_zone_occupied_keys", "gauge", "Slots holding a key, live or expired."},
      {"sluice_nginx_zone_installs_total", "counter", "Keys installed."},
      {"sluice_nginx_zone_reused_expired_total", "counter", "Installs into an expired slot."},
      {"sluice_nginx_zone_evictions_total", "counter", "Live keys evicted (when_full=evict)."},
      {"sluice_nginx_zone_full_denied_total", "counter", "Requests denied: bucket full."},
      {"sluice_nginx_zone_full_allowed_total", "counter", "Requests allowed without state."},
      {"sluice_nginx_zone_stale_pending_total", "counter", "Half-done installs reclaimed."},
      {"sluice_nginx_zone_shared", "gauge", "1: the table is in the zone's shared memory."},
  };
  for (ngx_uint_t k = 0; k < sizeof(kTable) / sizeof(kTable[0]); k++) {
    p = ngx_slprintf(p, end, "# HELP %s %s\n# TYPE %s %s\n", kTable[k].name, kTable[k].help,
                     kTable[k].name, kTable[k].type);
    for (ngx_uint_t i = 0; i < mcf->zones.nelts; i++) {
      sluice_table_stats st;
      if (zones[i]->table == NULL ||
          sluice_table_get_stats(zones[i]->table, &st, sizeof(st)) != SLUICE_OK) {
        continue;
      }
      const uint64_t values[] = {
          st.capacity,    st.memory_bytes,   (uint64_t)(st.occupied < 0 ? 0 : st.occupied),
          st.installs,    st.reused_expired, st.evictions,
          st.full_denied, st.full_allowed,   st.stale_pending,
          st.shared};
      p = ngx_slprintf(p, end, "%s{zone=\"%V\"} %uL\n", kTable[k].name, &zones[i]->name, values[k]);
    }
  }
  b->last = p;
  b->last_buf = (r == r->main) ? 1 : 0;
  b->last_in_chain = 1;

  r->headers_out.status = NGX_HTTP_OK;
  r->headers_out.content_length_n = b->last - b->pos;
  ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4; charset=utf-8");
  r->headers_out.content_type_len = r->headers_out.content_type.len;
  rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
  ngx_chain_t out = {b, NULL};
  return ngx_http_output_filter(r, &out);
}

char* ngx_http_sluice_stats(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  ngx_http_sluice_loc_conf_t* lcf = conf;
  (void)cmd;
  if (lcf->stats) return "is duplicate";
  lcf->stats = 1;
  ngx_http_core_loc_conf_t* clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
  clcf->handler = ngx_http_sluice_stats_handler;
  return NGX_CONF_OK;
}
