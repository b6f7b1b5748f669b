/*
 * ngx_http_sluice_module: limit_req's directives over sluice's lock-free GCRA table.
 *
 * Files: ngx_http_sluice_module.c (directives, configuration, zones), _handler.c (the
 * preaccess decision and delays), _headers.c (Retry-After / RateLimit fields, variables),
 * _stats.c (`sluice_req_stats;`, Prometheus text).
 *
 * A zone is one nginx shared-memory segment (ngx_shared_memory_add): nginx's slab pool at its
 * start, then this module's counters (ngx_http_sluice_sh_t) and one sluice table formatted in
 * the rest. The master formats it when the zone is new and attaches to it when a reload keeps
 * the zone (same name and size): every key's state survives `nginx -s reload`. Workers inherit
 * the master's handles at fork; the table is decided with 16-byte CAS only, so a worker killed
 * at any instruction leaves nothing locked.
 */
#ifndef NGX_HTTP_SLUICE_H_INCLUDED_
#define NGX_HTTP_SLUICE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <sluice/c.h>

/* $sluice_req_status: limit_req's values, in limit_req's order. 0: not decided. */
#define NGX_HTTP_SLUICE_PASSED 1
#define NGX_HTTP_SLUICE_DELAYED 2
#define NGX_HTTP_SLUICE_REJECTED 3
#define NGX_HTTP_SLUICE_DELAYED_DRY_RUN 4
#define NGX_HTTP_SLUICE_REJECTED_DRY_RUN 5
#define NGX_HTTP_SLUICE_OUTCOMES 6 /* index 0 counts requests with an empty key */

/* sluice_req_headers */
#define NGX_HTTP_SLUICE_HEADERS_OFF 0    /* Retry-After on denials only */
#define NGX_HTTP_SLUICE_HEADERS_ON 1     /* + RateLimit-Policy / RateLimit on denials */
#define NGX_HTTP_SLUICE_HEADERS_ALWAYS 2 /* + the RateLimit fields on every answer */

/* Limits (sluice_req directives) one location may hold. */
#define NGX_HTTP_SLUICE_MAX_LIMITS 16

/* Outcome counters in the zone's shared memory, striped by worker so that workers do not
 * bounce one cache line: stripe ngx_worker % STRIPES, one cache line each (16 of them keep
 * the whole struct under half a page: one small slab allocation). */
#define NGX_HTTP_SLUICE_STRIPES 16
#define NGX_HTTP_SLUICE_SH_MAGIC 0x31685345434c5553ULL /* "SULCESh1" */

typedef struct {
  ngx_atomic_t outcome[NGX_HTTP_SLUICE_OUTCOMES];
  ngx_atomic_t pad_[8 - NGX_HTTP_SLUICE_OUTCOMES];
} ngx_http_sluice_stripe_t;

typedef struct {
  uint64_t magic;
  uint64_t table_offset; /* from the slab pool's start: offsets, never pointers */
  uint64_t table_bytes;
  uint64_t pad_[5];
  ngx_http_sluice_stripe_t stripe[NGX_HTTP_SLUICE_STRIPES];
} ngx_http_sluice_sh_t;

typedef struct ngx_http_sluice_limit_s ngx_http_sluice_limit_t;

/* One sluice_req_zone (in the cycle's pool; rebuilt on every reload). */
typedef struct {
  ngx_str_t name;
  ngx_http_complex_value_t key;
  uint64_t count; /* rate: count per period */
  int64_t period_ns;
  int64_t interval_ns; /* T = period / count, as the engine computes it */
  uint64_t capacity;   /* keys */
  ngx_int_t when_full; /* SLUICE_WHEN_FULL_* */
  ngx_shm_zone_t* shm_zone;
  ngx_http_sluice_sh_t* sh; /* in shared memory */
  sluice_table* table;      /* this cycle's handle */
  ngx_array_t limits;       /* ngx_http_sluice_limit_t *: the sluice_req using this zone */
} ngx_http_sluice_zone_t;

/* One sluice_req directive. */
struct ngx_http_sluice_limit_s {
  ngx_shm_zone_t* shm_zone;
  ngx_uint_t burst;        /* limit_req's burst B: B + 1 requests at once */
  ngx_uint_t delay;        /* excess requests not delayed (nodelay: all of them) */
  sluice_limiter* limiter; /* one policy (index 0) named after the zone, burst B + 1 */
  ngx_http_sluice_zone_t* zone;
};

typedef struct {
  ngx_array_t limits; /* ngx_http_sluice_limit_t */
  ngx_uint_t log_level;
  ngx_uint_t delay_log_level;
  ngx_uint_t status_code;
  ngx_flag_t dry_run;
  ngx_uint_t headers;
  ngx_flag_t stats; /* sluice_req_stats: this location answers with the counters */
} ngx_http_sluice_loc_conf_t;

typedef struct {
  ngx_array_t zones;  /* ngx_http_sluice_zone_t * */
  ngx_array_t limits; /* ngx_http_sluice_limit_t *: every sluice_req of the configuration */
} ngx_http_sluice_main_conf_t;

/* What was decided for a request: once per main request, kept across internal redirects
 * (error_page) and shared with subrequests, like limit_req's r->main->limit_req_status. */
typedef struct {
  ngx_uint_t status;                 /* NGX_HTTP_SLUICE_*, 0 while undecided */
  ngx_uint_t headers;                /* sluice_req_headers where it was decided */
  ngx_http_sluice_limit_t* reported; /* the limit the headers describe */
  sluice_decision decision;          /* its decision */
} ngx_http_sluice_ctx_t;

extern ngx_module_t ngx_http_sluice_module;

/* _module.c */
ngx_http_sluice_ctx_t* ngx_http_sluice_get_ctx(ngx_http_request_t* r);
ngx_http_sluice_ctx_t* ngx_http_sluice_create_ctx(ngx_http_request_t* r);
void ngx_http_sluice_count(ngx_http_sluice_zone_t* zone, ngx_uint_t outcome);

/* _handler.c */
ngx_int_t ngx_http_sluice_handler(ngx_http_request_t* r);

/* _headers.c */
ngx_int_t ngx_http_sluice_add_variables(ngx_conf_t* cf);
ngx_int_t ngx_http_sluice_init_header_filter(ngx_conf_t* cf);

/* _stats.c */
char* ngx_http_sluice_stats(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);

#endif /* NGX_HTTP_SLUICE_H_INCLUDED_ */
