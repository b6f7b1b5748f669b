/*
 * What a decision shows the client and the logs: the header filter (Retry-After on denials,
 * the IETF RateLimit-Policy / RateLimit fields with sluice_req_headers) and the variables
 * $sluice_req_status (limit_req's values), $sluice_req_remaining, $sluice_req_retry_after,
 * $sluice_req_reset and $sluice_req_zone. Header values come from sluice_format_header, the
 * same text sluiced writes.
 */
#include "ngx_http_sluice.h"

static ngx_http_output_header_filter_pt ngx_http_next_header_filter;

static ngx_int_t ngx_http_sluice_push_header(ngx_http_request_t* r, const char* name, size_t len,
                                             const ngx_http_sluice_ctx_t* ctx, int which) {
  size_t cap = SLUICE_HEADER_VALUE_MAX(ctx->reported->zone->name.len);
  u_char* buf = ngx_pnalloc(r->pool, cap);
  if (buf == NULL) return NGX_ERROR;
  int n = sluice_format_header(ctx->reported->limiter, 0, &ctx->decision, which, (char*)buf, cap);
  if (n <= 0) return NGX_OK; /* does not apply (e.g. Retry-After of a request never admitted) */
  ngx_table_elt_t* h = ngx_list_push(&r->headers_out.headers);
  if (h == NULL) return NGX_ERROR;
  h->hash = 1;
  h->key.data = (u_char*)name;
  h->key.len = len;
  h->value.data = buf;
  h->value.len = (size_t)n;
  h->lowcase_key = NULL;
  return NGX_OK;
}

static ngx_int_t ngx_http_sluice_header_filter(ngx_http_request_t* r) {
  if (r != r->main) return ngx_http_next_header_filter(r);
  ngx_http_sluice_ctx_t* ctx = ngx_http_sluice_get_ctx(r);
  if (ctx == NULL || ctx->status == 0 || ctx->reported == NULL || ctx->reported->limiter == NULL) {
    return ngx_http_next_header_filter(r);
  }
  const ngx_uint_t denied = ctx->status == NGX_HTTP_SLUICE_REJECTED;
  if (denied && ngx_http_sluice_push_header(r, "Retry-After", sizeof("Retry-After") - 1, ctx,
                                            SLUICE_HEADER_RETRY_AFTER) != NGX_OK) {
    return NGX_ERROR;
  }
  if (ctx->headers == NGX_HTTP_SLUICE_HEADERS_ALWAYS ||
      (denied && ctx->headers == NGX_HTTP_SLUICE_HEADERS_ON)) {
    if (ngx_http_sluice_push_header(r, "RateLimit-Policy", sizeof("RateLimit-Policy") - 1, ctx,
                                    SLUICE_HEADER_RATELIMIT_POLICY) != NGX_OK ||
        ngx_http_sluice_push_header(r, "RateLimit", sizeof("RateLimit") - 1, ctx,
                                    SLUICE_HEADER_RATELIMIT) != NGX_OK) {
      return NGX_ERROR;
    }
  }
  return ngx_http_next_header_filter(r);
}

ngx_int_t ngx_http_sluice_init_header_filter(ngx_conf_t* cf) {
  (void)cf;
  ngx_http_next_header_filter = ngx_http_top_header_filter;
  ngx_http_top_header_filter = ngx_http_sluice_header_filter;
  return NGX_OK;
}

/* ---- variables ---- */

enum { kVarStatus, kVarRemaining, kVarRetryAfter, kVarReset, kVarZone };

static ngx_str_t ngx_http_sluice_status_names[] = {
    ngx_null_string,        ngx_string("PASSED"),          ngx_string("DELAYED"),
    ngx_string("REJECTED"), ngx_string("DELAYED_DRY_RUN"), ngx_string("REJECTED_DRY_RUN")};

static int64_t ngx_http_sluice_ceil_s(int64_t ns) {
  return ns <= 0 ? 0 : (ns + 999999999) / 1000000000;
}

static ngx_int_t ngx_http_sluice_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v,
                                          uintptr_t data) {
  ngx_http_sluice_ctx_t* ctx = ngx_http_sluice_get_ctx(r);
  if (ctx == NULL || ctx->status == 0) {
    v->not_found = 1;
    return NGX_OK;
  }
  v->valid = 1;
  v->no_cacheable = 0;
  v->not_found = 0;
  if (data == kVarStatus) {
    v->len = ngx_http_sluice_status_names[ctx->status].len;
    v->data = ngx_http_sluice_status_names[ctx->status].data;
    return NGX_OK;
  }
  if (data == kVarZone) {
    v->len = ctx->reported->zone->name.len;
    v->data = ctx->reported->zone->name.data;
    return NGX_OK;
  }
  u_char* p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
  if (p == NULL) return NGX_ERROR;
  int64_t x = 0;
  if (data == kVarRemaining) {
    x = ctx->decision.remaining;
  } else if (data == kVarRetryAfter) {
    x = ctx->decision.allowed ? 0 : ngx_http_sluice_ceil_s(ctx->decision.retry_after_ns);
    if (!ctx->decision.allowed && x < 1) x = 1;
  } else {
    x = ngx_http_sluice_ceil_s(ctx->decision.reset_after_ns);
  }
  v->len = (unsigned)(ngx_sprintf(p, "%L", x) - p);
  v->data = p;
  return NGX_OK;
}

ngx_int_t ngx_http_sluice_add_variables(ngx_conf_t* cf) {
  static ngx_str_t names[] = {ngx_string("sluice_req_status"), ngx_string("sluice_req_remaining"),
                              ngx_string("sluice_req_retry_after"), ngx_string("sluice_req_reset"),
                              ngx_string("sluice_req_zone")};
  for (ngx_uint_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    ngx_http_variable_t* var = ngx_http_add_variable(cf, &names[i], NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) return NGX_ERROR;
    var->get_handler = ngx_http_sluice_variable;
    var->data = i;
  }
  return NGX_OK;
}
