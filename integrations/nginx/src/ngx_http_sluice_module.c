/*
 * ngx_http_sluice_module: directives, configuration and zones (see ngx_http_sluice.h).
 *
 *   sluice_req_zone $key zone=name:size rate=Nr/s|Nr/m [when_full=evict|deny|allow];   http
 *   sluice_req zone=name [burst=B] [nodelay | delay=D];                 http, server, location
 *   sluice_req_status 429;  sluice_req_headers off|on|always;  sluice_req_dry_run off;
 *   sluice_req_log_level info|notice|warn|error;  sluice_req_stats;  (location)
 */
#include "ngx_http_sluice.h"

static void* ngx_http_sluice_create_main_conf(ngx_conf_t* cf);
static void* ngx_http_sluice_create_loc_conf(ngx_conf_t* cf);
static char* ngx_http_sluice_merge_loc_conf(ngx_conf_t* cf, void* parent, void* child);
static char* ngx_http_sluice_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
static char* ngx_http_sluice_req(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
static ngx_int_t ngx_http_sluice_preconfiguration(ngx_conf_t* cf);
static ngx_int_t ngx_http_sluice_postconfiguration(ngx_conf_t* cf);
static ngx_int_t ngx_http_sluice_init_zone(ngx_shm_zone_t* shm_zone, void* data);
static void ngx_http_sluice_zone_cleanup(void* data);
static void ngx_http_sluice_ctx_cleanup(void* data);

static ngx_conf_enum_t ngx_http_sluice_log_levels[] = {{ngx_string("info"), NGX_LOG_INFO},
                                                       {ngx_string("notice"), NGX_LOG_NOTICE},
                                                       {ngx_string("warn"), NGX_LOG_WARN},
                                                       {ngx_string("error"), NGX_LOG_ERR},
                                                       {ngx_null_string, 0}};

static ngx_conf_enum_t ngx_http_sluice_header_modes[] = {
    {ngx_string("off"), NGX_HTTP_SLUICE_HEADERS_OFF},
    {ngx_string("on"), NGX_HTTP_SLUICE_HEADERS_ON},
    {ngx_string("always"), NGX_HTTP_SLUICE_HEADERS_ALWAYS},
    {ngx_null_string, 0}};

/* limit_req's bounds for its status code. */
static ngx_conf_num_bounds_t ngx_http_sluice_status_bounds = {ngx_conf_check_num_bounds, 400, 599};

static ngx_command_t ngx_http_sluice_commands[] = {
    {ngx_string("sluice_req_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_2MORE, ngx_http_sluice_zone, 0, 0,
     NULL},
    {ngx_string("sluice_req"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_1MORE,
     ngx_http_sluice_req, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    {ngx_string("sluice_req_log_level"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_enum_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_sluice_loc_conf_t, log_level), &ngx_http_sluice_log_levels},
    {ngx_string("sluice_req_status"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_num_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_sluice_loc_conf_t, status_code), &ngx_http_sluice_status_bounds},
    {ngx_string("sluice_req_dry_run"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_FLAG,
     ngx_conf_set_flag_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_sluice_loc_conf_t, dry_run), NULL},
    {ngx_string("sluice_req_headers"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_enum_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_sluice_loc_conf_t, headers), &ngx_http_sluice_header_modes},
    {ngx_string("sluice_req_stats"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, ngx_http_sluice_stats,
     NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    ngx_null_command};

static ngx_http_module_t ngx_http_sluice_module_ctx = {
    ngx_http_sluice_preconfiguration,  /* preconfiguration */
    ngx_http_sluice_postconfiguration, /* postconfiguration */
    ngx_http_sluice_create_main_conf,  /* create main configuration */
    NULL,                              /* init main configuration */
    NULL,                              /* create server configuration */
    NULL,                              /* merge server configuration */
    ngx_http_sluice_create_loc_conf,   /* create location configuration */
    ngx_http_sluice_merge_loc_conf     /* merge location configuration */
};

ngx_module_t ngx_http_sluice_module = {NGX_MODULE_V1,
                                       &ngx_http_sluice_module_ctx, /* module context */
                                       ngx_http_sluice_commands,    /* module directives */
                                       NGX_HTTP_MODULE,             /* module type */
                                       NULL,                        /* init master */
                                       NULL,                        /* init module */
                                       NULL,                        /* init process */
                                       NULL,                        /* init thread */
                                       NULL,                        /* exit thread */
                                       NULL,                        /* exit process */
                                       NULL,                        /* exit master */
                                       NGX_MODULE_V1_PADDING};

static void* ngx_http_sluice_create_main_conf(ngx_conf_t* cf) {
  ngx_http_sluice_main_conf_t* mcf = ngx_pcalloc(cf->pool, sizeof(*mcf));
  if (mcf == NULL) return NULL;
  if (ngx_array_init(&mcf->zones, cf->pool, 4, sizeof(ngx_http_sluice_zone_t*)) != NGX_OK ||
      ngx_array_init(&mcf->limits, cf->pool, 8, sizeof(ngx_http_sluice_limit_t*)) != NGX_OK) {
    return NULL;
  }
  return mcf;
}

static void* ngx_http_sluice_create_loc_conf(ngx_conf_t* cf) {
  ngx_http_sluice_loc_conf_t* conf = ngx_pcalloc(cf->pool, sizeof(*conf));
  if (conf == NULL) return NULL;
  /* conf->limits.elts = NULL (pcalloc): "no sluice_req here", inherited by merge. */
  conf->log_level = NGX_CONF_UNSET_UINT;
  conf->status_code = NGX_CONF_UNSET_UINT;
  conf->dry_run = NGX_CONF_UNSET;
  conf->headers = NGX_CONF_UNSET_UINT;
  return conf;
}

static char* ngx_http_sluice_merge_loc_conf(ngx_conf_t* cf, void* parent, void* child) {
  ngx_http_sluice_loc_conf_t* prev = parent;
  ngx_http_sluice_loc_conf_t* conf = child;
  (void)cf;
  /* limit_req's rule: a level with no sluice_req of its own inherits all of the outer level's;
   * one sluice_req replaces them all. */
  if (conf->limits.elts == NULL) conf->limits = prev->limits;
  ngx_conf_merge_uint_value(conf->log_level, prev->log_level, NGX_LOG_ERR);
  conf->delay_log_level = (conf->log_level == NGX_LOG_INFO) ? NGX_LOG_INFO : conf->log_level + 1;
  ngx_conf_merge_uint_value(conf->status_code, prev->status_code, NGX_HTTP_TOO_MANY_REQUESTS);
  ngx_conf_merge_value(conf->dry_run, prev->dry_run, 0);
  ngx_conf_merge_uint_value(conf->headers, prev->headers, NGX_HTTP_SLUICE_HEADERS_OFF);
  return NGX_CONF_OK;
}

/* "10r/s", "30r/m": limit_req's grammar (an integer rate per second or per minute). */
static char* ngx_http_sluice_parse_rate(ngx_str_t* v, uint64_t* count, int64_t* period_ns) {
  size_t len = v->len;
  if (len < 4 || v->data[len - 3] != 'r' || v->data[len - 2] != '/') return "is invalid";
  if (v->data[len - 1] == 's') {
    *period_ns = 1000000000LL;
  } else if (v->data[len - 1] == 'm') {
    *period_ns = 60LL * 1000000000LL;
  } else {
    return "is invalid";
  }
  ngx_int_t n = ngx_atoi(v->data, len - 3);
  if (n <= 0) return "is invalid";
  *count = (uint64_t)n;
  return NGX_CONF_OK;
}

static char* ngx_http_sluice_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  ngx_http_sluice_main_conf_t* mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_sluice_module);
  ngx_str_t* value = cf->args->elts;
  ngx_http_compile_complex_value_t ccv;
  ngx_http_sluice_zone_t* zone;
  ngx_str_t name = ngx_null_string;
  ssize_t size = 0;
  uint64_t count = 0;
  int64_t period_ns = 0;
  (void)cmd;
  (void)conf;

  zone = ngx_pcalloc(cf->pool, sizeof(*zone));
  if (zone == NULL) return NGX_CONF_ERROR;
  zone->when_full = SLUICE_WHEN_FULL_EVICT;

  ngx_memzero(&ccv, sizeof(ccv));
  ccv.cf = cf;
  ccv.value = &value[1];
  ccv.complex_value = &zone->key;
  if (ngx_http_compile_complex_value(&ccv) != NGX_OK) return NGX_CONF_ERROR;

  for (ngx_uint_t i = 2; i < cf->args->nelts; i++) {
    if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
      u_char* p = (u_char*)ngx_strchr(value[i].data + 5, ':');
      if (p == NULL || p == value[i].data + 5) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid zone size \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
      }
      name.data = value[i].data + 5;
      name.len = (size_t)(p - name.data);
      ngx_str_t s = {(size_t)(value[i].data + value[i].len - (p + 1)), p + 1};
      size = ngx_parse_size(&s);
      if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid zone size \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
      }
      continue;
    }
    if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {
      ngx_str_t r = {value[i].len - 5, value[i].data + 5};
      if (ngx_http_sluice_parse_rate(&r, &count, &period_ns) != NGX_CONF_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid rate \"%V\" (expected Nr/s or Nr/m)",
                           &value[i]);
        return NGX_CONF_ERROR;
      }
      continue;
    }
    if (ngx_strncmp(value[i].data, "when_full=", 10) == 0) {
      u_char* w = value[i].data + 10;
      size_t wl = value[i].len - 10;
      if (wl == 5 && ngx_strncmp(w, "evict", 5) == 0) {
        zone->when_full = SLUICE_WHEN_FULL_EVICT;
      } else if (wl == 4 && ngx_strncmp(w, "deny", 4) == 0) {
        zone->when_full = SLUICE_WHEN_FULL_DENY;
      } else if (wl == 5 && ngx_strncmp(w, "allow", 5) == 0) {
        zone->when_full = SLUICE_WHEN_FULL_ALLOW;
      } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" (expected when_full=evict, deny or allow)", &value[i]);
        return NGX_CONF_ERROR;
      }
      continue;
    }
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
  }
  if (name.len == 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" must have \"zone\" parameter", &cmd->name);
    return NGX_CONF_ERROR;
  }
  if (count == 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" must have \"rate\" parameter", &cmd->name);
    return NGX_CONF_ERROR;
  }

  /* The zone's size is its key memory: the largest power of two of 16-byte slots that fits
   * (sluice tables have power-of-two capacities), so 1m holds 65536 keys. The segment adds
   * the table's 4 KiB header and the slab pool's page bookkeeping on top. */
  uint64_t capacity = 256;
  while (capacity * 2 * 16 <= (uint64_t)size) capacity *= 2;
  if ((uint64_t)size < 256 * 16) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "zone \"%V\" is too small (at least 4k: 256 keys)",
                       &name);
    return NGX_CONF_ERROR;
  }
  size_t table_bytes = sluice_table_bytes(capacity);
  if (table_bytes == 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "zone \"%V\" is too large", &name);
    return NGX_CONF_ERROR;
  }
  /* The slab pool's pages: the table's, one for the counters (a small allocation), one for
   * the log context; plus the pool header and one ngx_slab_page_t per page, and the page the
   * pool's start is aligned to. */
  size_t pages = table_bytes / ngx_pagesize + 2;
  size_t shm_size = (pages + 3) * ngx_pagesize + pages * sizeof(ngx_slab_page_t);

  zone->name = name;
  zone->count = count;
  zone->period_ns = period_ns;
  zone->interval_ns = period_ns / (int64_t)count;
  if (zone->interval_ns < 1) zone->interval_ns = 1;
  zone->capacity = capacity;
  if (ngx_array_init(&zone->limits, cf->pool, 4, sizeof(ngx_http_sluice_limit_t*)) != NGX_OK) {
    return NGX_CONF_ERROR;
  }

  zone->shm_zone = ngx_shared_memory_add(cf, &name, shm_size, &ngx_http_sluice_module);
  if (zone->shm_zone == NULL) return NGX_CONF_ERROR;
  if (zone->shm_zone->data) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V \"%V\" is already bound to key \"%V\"", &cmd->name,
                       &name, &((ngx_http_sluice_zone_t*)zone->shm_zone->data)->key.value);
    return NGX_CONF_ERROR;
  }
  zone->shm_zone->init = ngx_http_sluice_init_zone;
  zone->shm_zone->data = zone;

  ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(cf->pool, 0);
  if (cln == NULL) return NGX_CONF_ERROR;
  cln->handler = ngx_http_sluice_zone_cleanup;
  cln->data = zone;

  ngx_http_sluice_zone_t** slot = ngx_array_push(&mcf->zones);
  if (slot == NULL) return NGX_CONF_ERROR;
  *slot = zone;
  return NGX_CONF_OK;
}

static char* ngx_http_sluice_req(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  ngx_http_sluice_loc_conf_t* lcf = conf;
  ngx_http_sluice_main_conf_t* mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_sluice_module);
  ngx_str_t* value = cf->args->elts;
  ngx_shm_zone_t* shm_zone = NULL;
  ngx_int_t burst = 0;
  ngx_int_t delay = 0;

  for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
    if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
      ngx_str_t s = {value[i].len - 5, value[i].data + 5};
      shm_zone = ngx_shared_memory_add(cf, &s, 0, &ngx_http_sluice_module);
      if (shm_zone == NULL) return NGX_CONF_ERROR;
      continue;
    }
    if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
      burst = ngx_atoi(value[i].data + 6, value[i].len - 6);
      if (burst <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid burst value \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
      }
      continue;
    }
    if (ngx_strncmp(value[i].data, "delay=", 6) == 0) {
      delay = ngx_atoi(value[i].data + 6, value[i].len - 6);
      if (delay <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid delay value \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
      }
      continue;
    }
    if (ngx_strcmp(value[i].data, "nodelay") == 0) {
      delay = NGX_MAX_INT_T_VALUE;
      continue;
    }
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
  }
  if (shm_zone == NULL) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" must have \"zone\" parameter", &cmd->name);
    return NGX_CONF_ERROR;
  }

  /* Room for every limit up front: mcf->limits points into this array, so it never moves. */
  if (lcf->limits.elts == NULL && ngx_array_init(&lcf->limits, cf->pool, NGX_HTTP_SLUICE_MAX_LIMITS,
                                                 sizeof(ngx_http_sluice_limit_t)) != NGX_OK) {
    return NGX_CONF_ERROR;
  }
  ngx_http_sluice_limit_t* limits = lcf->limits.elts;
  for (ngx_uint_t i = 0; i < lcf->limits.nelts; i++) {
    if (shm_zone == limits[i].shm_zone) return "is duplicate";
  }
  if (lcf->limits.nelts >= NGX_HTTP_SLUICE_MAX_LIMITS) return "is one too many (at most 16)";

  ngx_http_sluice_limit_t* limit = ngx_array_push(&lcf->limits);
  if (limit == NULL) return NGX_CONF_ERROR;
  ngx_memzero(limit, sizeof(*limit));
  limit->shm_zone = shm_zone;
  limit->burst = (ngx_uint_t)burst;
  limit->delay = (ngx_uint_t)delay;
  /* Registered with its zone in postconfiguration: the zone may be declared further down. */
  ngx_http_sluice_limit_t** all = ngx_array_push(&mcf->limits);
  if (all == NULL) return NGX_CONF_ERROR;
  *all = limit;
  return NGX_CONF_OK;
}

static ngx_int_t ngx_http_sluice_preconfiguration(ngx_conf_t* cf) {
  return ngx_http_sluice_add_variables(cf);
}

static ngx_int_t ngx_http_sluice_postconfiguration(ngx_conf_t* cf) {
  ngx_http_sluice_main_conf_t* mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_sluice_module);
  ngx_http_sluice_limit_t** limits = mcf->limits.elts;
  for (ngx_uint_t i = 0; i < mcf->limits.nelts; i++) {
    ngx_http_sluice_zone_t* zone = limits[i]->shm_zone->data;
    if (zone == NULL) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "unknown sluice_req_zone \"%V\"",
                         &limits[i]->shm_zone->shm.name);
      return NGX_ERROR;
    }
    limits[i]->zone = zone;
    ngx_http_sluice_limit_t** slot = ngx_array_push(&zone->limits);
    if (slot == NULL) return NGX_ERROR;
    *slot = limits[i];
  }
  if (mcf->limits.nelts > 0) {
    ngx_http_core_main_conf_t* cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    ngx_http_handler_pt* h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) return NGX_ERROR;
    *h = ngx_http_sluice_handler;
  }
  return ngx_http_sluice_init_header_filter(cf);
}

/* The zone's init, in the master while it reads a configuration: formats the table in a new
 * segment, or attaches to the one a reload kept (nginx hands the old cycle's zone as `data`),
 * then makes one limiter per sluice_req. Workers inherit all of it at fork. */
static ngx_int_t ngx_http_sluice_init_zone(ngx_shm_zone_t* shm_zone, void* data) {
  ngx_http_sluice_zone_t* old = data;
  ngx_http_sluice_zone_t* zone = shm_zone->data;
  ngx_slab_pool_t* shpool = (ngx_slab_pool_t*)shm_zone->shm.addr;
  size_t table_bytes = sluice_table_bytes(zone->capacity);
  char err[256] = "";
  int rc;

  if (old != NULL) {
    if (old->key.value.len != zone->key.value.len ||
        ngx_strncmp(old->key.value.data, zone->key.value.data, zone->key.value.len) != 0) {
      ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                    "sluice_req_zone \"%V\" uses the \"%V\" key while previously it used the "
                    "\"%V\" key",
                    &shm_zone->shm.name, &zone->key.value, &old->key.value);
      return NGX_ERROR;
    }
    zone->sh = old->sh;
  } else {
    zone->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_sluice_sh_t));
    u_char* mem = zone->sh ? ngx_slab_alloc(shpool, table_bytes) : NULL;
    if (mem == NULL) {
      ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                    "sluice_req_zone \"%V\": no room for the table in the segment",
                    &shm_zone->shm.name);
      return NGX_ERROR;
    }
    sluice_table_options o;
    sluice_table_options_init(&o, sizeof(o));
    o.capacity = zone->capacity;
    o.when_full = (int32_t)zone->when_full;
    sluice_table* t = NULL;
    rc = sluice_table_format(mem, table_bytes, &o, &t, err, sizeof(err));
    if (rc < 0) {
      ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                    "sluice_req_zone \"%V\": formatting the table failed: %s (%s)",
                    &shm_zone->shm.name, sluice_strerror(rc), err);
      return NGX_ERROR;
    }
    sluice_table_close(t); /* attached below like on a reload */
    zone->sh->table_offset = (uint64_t)(mem - (u_char*)shpool);
    zone->sh->table_bytes = table_bytes;
    zone->sh->magic = NGX_HTTP_SLUICE_SH_MAGIC;
    shpool->data = zone->sh;
    /* Where nginx's slab errors say they happened. */
    size_t len = sizeof(" in sluice_req_zone \"\"") + shm_zone->shm.name.len;
    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx != NULL) {
      ngx_sprintf(shpool->log_ctx, " in sluice_req_zone \"%V\"%Z", &shm_zone->shm.name);
    }
  }

  if (zone->sh->magic != NGX_HTTP_SLUICE_SH_MAGIC || zone->sh->table_bytes != table_bytes) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "sluice_req_zone \"%V\": the kept segment holds another layout (restart nginx)",
                  &shm_zone->shm.name);
    return NGX_ERROR;
  }
  rc = sluice_table_attach((u_char*)shpool + zone->sh->table_offset, table_bytes, &zone->table, err,
                           sizeof(err));
  if (rc < 0) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "sluice_req_zone \"%V\": attaching to the table failed: %s (%s)",
                  &shm_zone->shm.name, sluice_strerror(rc), err);
    return NGX_ERROR;
  }
  if (old != NULL) {
    sluice_table_stats st;
    if (sluice_table_get_stats(zone->table, &st, sizeof(st)) == SLUICE_OK &&
        st.when_full != (int32_t)zone->when_full) {
      ngx_log_error(NGX_LOG_WARN, shm_zone->shm.log, 0,
                    "sluice_req_zone \"%V\": when_full applies to a new zone only; the kept "
                    "zone goes on with its own until nginx restarts",
                    &shm_zone->shm.name);
    }
  }

  ngx_http_sluice_limit_t** limits = zone->limits.elts;
  for (ngx_uint_t i = 0; i < zone->limits.nelts; i++) {
    /* NUL-terminated copy of the zone name: the policy's name in the RateLimit fields. */
    char name[256];
    size_t n = ngx_min(zone->name.len, sizeof(name) - 1);
    ngx_memcpy(name, zone->name.data, n);
    name[n] = '\0';
    sluice_policy p;
    sluice_policy_init(&p, sizeof(p));
    p.name = name;
    p.count = zone->count;
    p.period_ns = zone->period_ns;
    p.burst = limits[i]->burst + 1;
    /* One key space per zone (and rate), whatever the burst: every sluice_req on this zone
     * decides the same state per key with its own burst, as limit_req's zone does, and a
     * reload that changes only a burst keeps the state. */
    p.key_space = name;
    rc = sluice_limiter_create(zone->table, &p, 1, &limits[i]->limiter, err, sizeof(err));
    if (rc < 0) {
      ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0, "sluice_req zone=%V burst=%ui: %s (%s)",
                    &shm_zone->shm.name, limits[i]->burst, sluice_strerror(rc), err);
      return NGX_ERROR;
    }
  }
  return NGX_OK;
}

/* The configuration's pool is going (the master after a reload, or a failed reload): free
 * this process's handles. The shared memory and every key's state are untouched. */
static void ngx_http_sluice_zone_cleanup(void* data) {
  ngx_http_sluice_zone_t* zone = data;
  ngx_http_sluice_limit_t** limits = zone->limits.elts;
  for (ngx_uint_t i = 0; i < zone->limits.nelts; i++) {
    sluice_limiter_destroy(limits[i]->limiter);
    limits[i]->limiter = NULL;
  }
  sluice_table_close(zone->table);
  zone->table = NULL;
}

void ngx_http_sluice_count(ngx_http_sluice_zone_t* zone, ngx_uint_t outcome) {
  /* A respawned worker reuses its predecessor's stripe, and during a reload old and new
   * workers share stripes: an atomic add, uncontended in the common case. */
  ngx_http_sluice_stripe_t* s = &zone->sh->stripe[(ngx_uint_t)ngx_worker % NGX_HTTP_SLUICE_STRIPES];
  (void)ngx_atomic_fetch_add(&s->outcome[outcome], 1);
}

/* The request's decision lives in a pool cleanup as well as in r->ctx: an internal redirect
 * (error_page 429 ...) clears r->ctx but keeps the pool, and subrequests share it (the same
 * way ngx_http_realip_module keeps its state). */
static void ngx_http_sluice_ctx_cleanup(void* data) { (void)data; }

ngx_http_sluice_ctx_t* ngx_http_sluice_get_ctx(ngx_http_request_t* r) {
  ngx_http_sluice_ctx_t* ctx = ngx_http_get_module_ctx(r->main, ngx_http_sluice_module);
  /* Only an internal redirect (which sets r->internal) clears r->ctx: other requests without
   * a ctx were never decided, and the header filter asks for every answer. */
  if (ctx != NULL || !r->main->internal) return ctx;
  for (ngx_pool_cleanup_t* cln = r->main->pool->cleanup; cln; cln = cln->next) {
    if (cln->handler == ngx_http_sluice_ctx_cleanup) {
      ctx = cln->data;
      ngx_http_set_ctx(r->main, ctx, ngx_http_sluice_module);
      return ctx;
    }
  }
  return NULL;
}

ngx_http_sluice_ctx_t* ngx_http_sluice_create_ctx(ngx_http_request_t* r) {
  ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(r->main->pool, sizeof(ngx_http_sluice_ctx_t));
  if (cln == NULL) return NULL;
  ngx_memzero(cln->data, sizeof(ngx_http_sluice_ctx_t));
  cln->handler = ngx_http_sluice_ctx_cleanup;
  ngx_http_set_ctx(r->main, cln->data, ngx_http_sluice_module);
  return cln->data;
}
