/* cobalt_trace.store._rowbinary: OTLP trace request bytes -> ClickHouse RowBinary rows.
 *
 * encode_request(data) -> (bytes, int)
 *     Walks a serialized ExportTraceServiceRequest (or TracesData) and writes one RowBinary row
 *     per span with the columns of `ddl.INSERT_COLUMNS`, in that order, plus the span count.
 *     Resources and scopes are converted once per ResourceSpans/ScopeSpans and copied per span.
 *     String forms match the pure-Python path (`store.decode` + `store.rowbinary`): hex ids, kind
 *     and status names, attribute values as pdata's AsString() (ints in decimal, bools
 *     true/false, doubles in Go's 'f' -1 form, bytes in base64), duplicate keys keep the first
 *     position with the last value.
 *     Malformed protobuf raises ValueError.  What this encoder leaves to Python (array and kvlist
 *     values, which need JSON, and a ResourceSpans/ScopeSpans that repeats its resource/scope
 *     field) raises NotImplementedError; the caller then uses the pure-Python path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

/* The walk runs without the GIL, so errors are recorded here and raised once it is back. */
enum { ERR_NONE, ERR_MEMORY, ERR_MALFORMED, ERR_UNSUPPORTED };
static _Thread_local int err_kind;
static _Thread_local const char *err_what;

static int fail(int kind, const char *what) {
    err_kind = kind;
    err_what = what;
    return -1;
}

static int buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return fail(ERR_MEMORY, "out of memory");
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_put(buf_t *b, const void *src, size_t n) {
    if (buf_reserve(b, n)) return -1;
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

static int buf_varint(buf_t *b, uint64_t v) {
    if (buf_reserve(b, 10)) return -1;
    while (v >= 0x80) {
        b->p[b->len++] = (char)(v | 0x80);
        v >>= 7;
    }
    b->p[b->len++] = (char)v;
    return 0;
}

static int buf_str(buf_t *b, const char *s, size_t n) {
    if (buf_varint(b, n)) return -1;
    return buf_put(b, s, n);
}

static int buf_u64(buf_t *b, uint64_t v) {
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(v >> (8 * i));
    return buf_put(b, le, 8);
}

static int buf_hex(buf_t *b, const unsigned char *s, size_t n) {
    static const char HEX[] = "0123456789abcdef";
    if (buf_varint(b, 2 * n) || buf_reserve(b, 2 * n)) return -1;
    char *o = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = HEX[s[i] >> 4];
        o[2 * i + 1] = HEX[s[i] & 15];
    }
    b->len += 2 * n;
    return 0;
}

/* ---- protobuf reading ------------------------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
} rd_t;

static int malformed(const char *what) { return fail(ERR_MALFORMED, what); }

static int unsupported(const char *what) { return fail(ERR_UNSUPPORTED, what); }

static int rd_varint(rd_t *r, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) return malformed("truncated varint");
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return malformed("varint too long");
}

/* one field: tag, and for LEN a slice, for VARINT/I64/I32 the value */
typedef struct {
    uint32_t num;
    int wire;
    uint64_t v;
    const unsigned char *s;
    size_t n;
} fld_t;

/* 1 = got a field, 0 = end of message, -1 = error */
static int rd_field(rd_t *r, fld_t *f) {
    if (r->p >= r->end) return 0;
    uint64_t tag;
    if (rd_varint(r, &tag)) return -1;
    f->num = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    if (f->num == 0) return malformed("field number 0");
    switch (f->wire) {
    case 0:
        return rd_varint(r, &f->v) ? -1 : 1;
    case 1:
        if (r->end - r->p < 8) return malformed("truncated fixed64");
        f->v = 0;
        for (int i = 7; i >= 0; i--) f->v = (f->v << 8) | r->p[i];
        r->p += 8;
        return 1;
    case 5:
        if (r->end - r->p < 4) return malformed("truncated fixed32");
        f->v = (uint64_t)r->p[0] | ((uint64_t)r->p[1] << 8) | ((uint64_t)r->p[2] << 16) |
               ((uint64_t)r->p[3] << 24);
        r->p += 4;
        return 1;
    case 2: {
        uint64_t n;
        if (rd_varint(r, &n)) return -1;
        if (n > (uint64_t)(r->end - r->p)) return malformed("length past the end of its message");
        f->s = r->p;
        f->n = (size_t)n;
        r->p += n;
        return 1;
    }
    default:
        return malformed("unsupported wire type");
    }
}

/* a known field arriving with another wire type is malformed (upb rejects it too) */
#define EXPECT(f, w)                                                                             \
    do {                                                                                         \
        if ((f).wire != (w)) return malformed("field with the wrong wire type");                 \
    } while (0)

/* ---- attribute values ------------------------------------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int put_base64(buf_t *b, const unsigned char *s, size_t n) {
    size_t out = 4 * ((n + 2) / 3);
    if (buf_varint(b, out) || buf_reserve(b, out)) return -1;
    char *o = b->p + b->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8) | s[i + 2];
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = B64[(v >> 6) & 63];
        *o++ = B64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len += out;
    return 0;
}

/* Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that read back as v, written
 * without an exponent */
static int put_double(buf_t *b, double v) {
    char tmp[64], out[400];
    if (isnan(v)) return buf_str(b, "NaN", 3);
    if (isinf(v)) return v > 0 ? buf_str(b, "+Inf", 4) : buf_str(b, "-Inf", 4);
    /* 15 significant digits round-trip for every double whose shortest form has at most 15
     * (then the trailing zeros stripped below give that form); else 16, else 17 */
    int prec;
    for (prec = fabs(v) < 2.2250738585072014e-308 ? 0 : 14; prec < 16; prec++) { /* subnormals: all */
        snprintf(tmp, sizeof tmp, "%.*e", prec, v);
        if (strtod(tmp, NULL) == v) break;
    }
    if (prec == 16) snprintf(tmp, sizeof tmp, "%.16e", v);
    /* tmp = [-]d[.ddd]e[+-]XX */
    char digits[32];
    int nd = 0, neg = 0;
    const char *c = tmp;
    if (*c == '-') {
        neg = 1;
        c++;
    }
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9') digits[nd++] = *c;
    int exp10 = atoi(c + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    size_t k = 0;
    if (neg) out[k++] = '-';
    int point = exp10 + 1; /* digits before the decimal point */
    if (point <= 0) {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -point; i++) out[k++] = '0';
        for (int i = 0; i < nd; i++) out[k++] = digits[i];
    } else {
        for (int i = 0; i < point; i++) out[k++] = i < nd ? digits[i] : '0';
        if (nd > point) {
            out[k++] = '.';
            for (int i = point; i < nd; i++) out[k++] = digits[i];
        }
    }
    if (nd == 1 && digits[0] == '0') { /* zero, with the sign Go keeps ("-0") */
        k = 0;
        if (neg) out[k++] = '-';
        out[k++] = '0';
    }
    return buf_str(b, out, k);
}

/* AnyValue -> its string form; the last oneof member set wins, as in protobuf */
static int put_any_value(buf_t *b, const unsigned char *s, size_t n) {
    rd_t r = {s, s + n};
    fld_t f, last = {0};
    int got, have = 0;
    while ((got = rd_field(&r, &f)) > 0) {
        if (f.num >= 1 && f.num <= 7) {
            static const int WIRE[8] = {0, 2, 0, 0, 1, 2, 2, 2};
            EXPECT(f, WIRE[f.num]);
            last = f;
            have = 1;
        }
    }
    if (got < 0) return -1;
    if (!have) return buf_str(b, "", 0);
    char tmp[32];
    switch (last.num) {
    case 1:
        return buf_str(b, (const char *)last.s, last.n);
    case 2:
        return last.v ? buf_str(b, "true", 4) : buf_str(b, "false", 5);
    case 3: {
        /* decimal, written backwards */
        int64_t iv = (int64_t)last.v;
        uint64_t u = iv < 0 ? 0 - (uint64_t)iv : (uint64_t)iv;
        char *o = tmp + sizeof tmp;
        do {
            *--o = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (iv < 0) *--o = '-';
        return buf_str(b, o, (size_t)(tmp + sizeof tmp - o));
    }
    case 4: {
        double d;
        memcpy(&d, &last.v, 8);
        return put_double(b, d);
    }
    case 7:
        return put_base64(b, last.s, last.n);
    default: /* array / kvlist: JSON, left to the Python path */
        return unsupported("array or kvlist attribute value");
    }
}

/* ---- attribute maps ----------------------------------------------------------------------- */

/* Map(String, String) of repeated KeyValue fields `num` in message [s, s+n).
 * Duplicate keys: first position, last value (a Python dict built in order). */
#define MAX_KEYS 256

typedef struct {
    const unsigned char *key;
    size_t key_n;
    const unsigned char *val;
    size_t val_n;
    int has_val;
} kv_t;

static int read_kv(const unsigned char *s, size_t n, kv_t *kv) {
    rd_t r = {s, s + n};
    fld_t f;
    int got;
    kv->key = (const unsigned char *)"";
    kv->key_n = 0;
    kv->val = NULL;
    kv->val_n = 0;
    kv->has_val = 0;
    while ((got = rd_field(&r, &f)) > 0) {
        if (f.num == 1) {
            EXPECT(f, 2);
            kv->key = f.s;
            kv->key_n = f.n;
        } else if (f.num == 2) {
            EXPECT(f, 2);
            if (kv->has_val) return unsupported("repeated AnyValue field");
            kv->val = f.s;
            kv->val_n = f.n;
            kv->has_val = 1;
        }
    }
    return got;
}

static int put_map(buf_t *b, const unsigned char *s, size_t n, uint32_t num) {
    kv_t kvs[MAX_KEYS];
    size_t count = 0;
    rd_t r = {s, s + n};
    fld_t f;
    int got;
    while ((got = rd_field(&r, &f)) > 0) {
        if (f.num != num) continue;
        EXPECT(f, 2);
        kv_t kv;
        if (read_kv(f.s, f.n, &kv) < 0) return -1;
        size_t i;
        for (i = 0; i < count; i++)
            if (kvs[i].key_n == kv.key_n && memcmp(kvs[i].key, kv.key, kv.key_n) == 0) break;
        if (i < count) {
            kvs[i].val = kv.val;
            kvs[i].val_n = kv.val_n;
            kvs[i].has_val = kv.has_val;
        } else {
            if (count == MAX_KEYS) return unsupported("more than 256 attributes");
            kvs[count++] = kv;
        }
    }
    if (got < 0) return -1;
    if (buf_varint(b, count)) return -1;
    for (size_t i = 0; i < count; i++) {
        if (buf_str(b, (const char *)kvs[i].key, kvs[i].key_n)) return -1;
        if (kvs[i].has_val) {
            if (put_any_value(b, kvs[i].val, kvs[i].val_n)) return -1;
        } else if (buf_str(b, "", 0)) {
            return -1;
        }
    }
    return 0;
}

/* the service.name value of a resource, stringified (empty if absent) */
static int put_service(buf_t *b, const unsigned char *s, size_t n) {
    rd_t r = {s, s + n};
    fld_t f;
    int got;
    kv_t found = {0};
    int have = 0;
    while ((got = rd_field(&r, &f)) > 0) {
        if (f.num != 1) continue;
        EXPECT(f, 2);
        kv_t kv;
        if (read_kv(f.s, f.n, &kv) < 0) return -1;
        if (kv.key_n == 12 && memcmp(kv.key, "service.name", 12) == 0) {
            found = kv;
            have = 1;
        }
    }
    if (got < 0) return -1;
    if (!have || !found.has_val) return buf_str(b, "", 0);
    return put_any_value(b, found.val, found.val_n);
}

/* ---- spans ---------------------------------------------------------------------------------- */

static const char *KINDS[] = {"Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"};
static const char *STATUSES[] = {"Unset", "Ok", "Error"};

typedef struct {
    const char *res_map; /* ServiceName + ResourceAttributes, already encoded */
    size_t res_map_n;
    const char *scope; /* ScopeName + ScopeVersion, already encoded */
    size_t scope_n;
} ctx_t;

/* Events (field 11) or Links (field 13) as their Nested array columns */
static int put_events(buf_t *b, const unsigned char **ev, size_t *ev_n, size_t count) {
    /* Events.Timestamp, Events.Name, Events.Attributes */
    if (buf_varint(b, count)) return -1;
    for (size_t i = 0; i < count; i++) {
        rd_t r = {ev[i], ev[i] + ev_n[i]};
        fld_t f;
        int got;
        uint64_t t = 0;
        while ((got = rd_field(&r, &f)) > 0)
            if (f.num == 1) {
                EXPECT(f, 1);
                t = f.v;
            }
        if (got < 0 || buf_u64(b, t)) return -1;
    }
    if (buf_varint(b, count)) return -1;
    for (size_t i = 0; i < count; i++) {
        rd_t r = {ev[i], ev[i] + ev_n[i]};
        fld_t f;
        int got;
        const unsigned char *name = (const unsigned char *)"";
        size_t name_n = 0;
        while ((got = rd_field(&r, &f)) > 0)
            if (f.num == 2) {
                EXPECT(f, 2);
                name = f.s;
                name_n = f.n;
            }
        if (got < 0 || buf_str(b, (const char *)name, name_n)) return -1;
    }
    if (buf_varint(b, count)) return -1;
    for (size_t i = 0; i < count; i++)
        if (put_map(b, ev[i], ev_n[i], 3)) return -1;
    return 0;
}

static int put_links(buf_t *b, const unsigned char **ln, size_t *ln_n, size_t count) {
    /* Links.TraceId, Links.SpanId, Links.TraceState: fields 1, 2 (hex) and 3 */
    for (uint32_t num = 1; num <= 3; num++) {
        if (buf_varint(b, count)) return -1;
        for (size_t i = 0; i < count; i++) {
            rd_t r = {ln[i], ln[i] + ln_n[i]};
            fld_t f;
            int got;
            const unsigned char *v = (const unsigned char *)"";
            size_t v_n = 0;
            while ((got = rd_field(&r, &f)) > 0)
                if (f.num == num) {
                    EXPECT(f, 2);
                    v = f.s;
                    v_n = f.n;
                }
            if (got < 0) return -1;
            if (num == 3 ? buf_str(b, (const char *)v, v_n) : buf_hex(b, v, v_n)) return -1;
        }
    }
    if (buf_varint(b, count)) return -1;
    for (size_t i = 0; i < count; i++)
        if (put_map(b, ln[i], ln_n[i], 4)) return -1;
    return 0;
}

#define MAX_CHILDREN 1024

static int put_span(buf_t *b, const ctx_t *ctx, const unsigned char *s, size_t n) {
    static const unsigned char EMPTY[1] = {0};
    const unsigned char *trace = EMPTY, *sid = EMPTY, *parent = EMPTY, *state = EMPTY, *name = EMPTY;
    size_t trace_n = 0, sid_n = 0, parent_n = 0, state_n = 0, name_n = 0;
    const unsigned char *msg = EMPTY;
    size_t msg_n = 0;
    uint64_t start = 0, end = 0;
    int64_t kind = 0, code = 0;
    const unsigned char *ev[MAX_CHILDREN], *ln[MAX_CHILDREN];
    size_t ev_n[MAX_CHILDREN], ln_n[MAX_CHILDREN], n_ev = 0, n_ln = 0;
    rd_t r = {s, s + n};
    fld_t f;
    int got;
    while ((got = rd_field(&r, &f)) > 0) {
        switch (f.num) {
        case 1: EXPECT(f, 2); trace = f.s; trace_n = f.n; break;
        case 2: EXPECT(f, 2); sid = f.s; sid_n = f.n; break;
        case 3: EXPECT(f, 2); state = f.s; state_n = f.n; break;
        case 4: EXPECT(f, 2); parent = f.s; parent_n = f.n; break;
        case 5: EXPECT(f, 2); name = f.s; name_n = f.n; break;
        case 6: EXPECT(f, 0); kind = (int32_t)f.v; break;
        case 7: EXPECT(f, 1); start = f.v; break;
        case 8: EXPECT(f, 1); end = f.v; break;
        case 9: EXPECT(f, 2); break;
        case 11:
            EXPECT(f, 2);
            if (n_ev == MAX_CHILDREN) return unsupported("more than 1024 events");
            ev[n_ev] = f.s;
            ev_n[n_ev++] = f.n;
            break;
        case 13:
            EXPECT(f, 2);
            if (n_ln == MAX_CHILDREN) return unsupported("more than 1024 links");
            ln[n_ln] = f.s;
            ln_n[n_ln++] = f.n;
            break;
        case 15: { /* Status; repeated occurrences merge field by field */
            EXPECT(f, 2);
            rd_t sr = {f.s, f.s + f.n};
            fld_t sf;
            int sg;
            while ((sg = rd_field(&sr, &sf)) > 0) {
                if (sf.num == 2) {
                    EXPECT(sf, 2);
                    msg = sf.s;
                    msg_n = sf.n;
                } else if (sf.num == 3) {
                    EXPECT(sf, 0);
                    code = (int32_t)sf.v;
                }
            }
            if (sg < 0) return -1;
            break;
        }
        default: break;
        }
    }
    if (got < 0) return -1;
    const char *kind_s = kind >= 0 && kind < 6 ? KINDS[kind] : "Unspecified";
    const char *status_s = code >= 0 && code < 3 ? STATUSES[code] : "Unset";
    if (buf_u64(b, start) || buf_hex(b, trace, trace_n) || buf_hex(b, sid, sid_n) ||
        buf_hex(b, parent, parent_n) || buf_str(b, (const char *)state, state_n) ||
        buf_str(b, (const char *)name, name_n) || buf_str(b, kind_s, strlen(kind_s)) ||
        buf_put(b, ctx->res_map, ctx->res_map_n) || buf_put(b, ctx->scope, ctx->scope_n) ||
        put_map(b, s, n, 9) || buf_u64(b, end > start ? end - start : 0) ||
        buf_str(b, status_s, strlen(status_s)) || buf_str(b, (const char *)msg, msg_n) ||
        put_events(b, ev, ev_n, n_ev) || put_links(b, ln, ln_n, n_ln))
        return -1;
    return 0;
}

/* ServiceName, ResourceAttributes (adjacent columns) for one resource */
static int encode_resource(buf_t *rb, const unsigned char *s, size_t n) {
    rb->len = 0;
    if (put_service(rb, s, n)) return -1;
    return put_map(rb, s, n, 1);
}

static int encode_scope(buf_t *sb, const unsigned char *s, size_t n) {
    rd_t r = {s, s + n};
    fld_t f;
    int got;
    const unsigned char *name = (const unsigned char *)"", *version = (const unsigned char *)"";
    size_t name_n = 0, version_n = 0;
    while ((got = rd_field(&r, &f)) > 0) {
        if (f.num == 1) {
            EXPECT(f, 2);
            name = f.s;
            name_n = f.n;
        } else if (f.num == 2) {
            EXPECT(f, 2);
            version = f.s;
            version_n = f.n;
        }
    }
    if (got < 0) return -1;
    sb->len = 0;
    if (buf_str(sb, (const char *)name, name_n)) return -1;
    return buf_str(sb, (const char *)version, version_n);
}

static int encode_scope_spans(buf_t *b, ctx_t *ctx, buf_t *sb, const unsigned char *s, size_t n,
                              long long *count) {
    rd_t r = {s, s + n};
    fld_t f;
    int got, seen = 0;
    /* the scope first (it may follow the spans on the wire) */
    sb->len = 0;
    if (buf_str(sb, "", 0) || buf_str(sb, "", 0)) return -1;
    while ((got = rd_field(&r, &f)) > 0) {
        if (f.num == 1) {
            EXPECT(f, 2);
            if (seen++) return unsupported("ScopeSpans with a repeated scope field");
            if (encode_scope(sb, f.s, f.n)) return -1;
        }
    }
    if (got < 0) return -1;
    ctx->scope = sb->p;
    ctx->scope_n = sb->len;
    r.p = s;
    while ((got = rd_field(&r, &f)) > 0) {
        if (f.num == 2) {
            EXPECT(f, 2);
            if (put_span(b, ctx, f.s, f.n)) return -1;
            (*count)++;
        }
    }
    return got;
}

static int encode_resource_spans(buf_t *b, buf_t *rb, buf_t *sb, const unsigned char *s, size_t n,
                                 long long *count) {
    rd_t r = {s, s + n};
    fld_t f;
    int got, seen = 0;
    rb->len = 0;
    if (buf_str(rb, "", 0) || buf_varint(rb, 0)) return -1;
    while ((got = rd_field(&r, &f)) > 0) {
        if (f.num == 1) {
            EXPECT(f, 2);
            if (seen++) return unsupported("ResourceSpans with a repeated resource field");
            if (encode_resource(rb, f.s, f.n)) return -1;
        }
    }
    if (got < 0) return -1;
    ctx_t ctx = {rb->p, rb->len, NULL, 0};
    r.p = s;
    while ((got = rd_field(&r, &f)) > 0) {
        if (f.num == 2) {
            EXPECT(f, 2);
            if (encode_scope_spans(b, &ctx, sb, f.s, f.n, count)) return -1;
        }
    }
    return got;
}

static PyObject *encode_request(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    buf_t b = {0}, rb = {0}, sb = {0};
    long long count = 0;
    int rc;
    err_kind = ERR_NONE;
    Py_BEGIN_ALLOW_THREADS;
    rc = buf_reserve(&b, (size_t)view.len * 2 + 64);
    if (rc == 0) {
        rd_t r = {view.buf, (const unsigned char *)view.buf + view.len};
        fld_t f;
        while ((rc = rd_field(&r, &f)) > 0) {
            if (f.num != 1) continue;
            if (f.wire != 2) {
                rc = malformed("field with the wrong wire type");
                break;
            }
            if (encode_resource_spans(&b, &rb, &sb, f.s, f.n, &count)) {
                rc = -1;
                break;
            }
        }
    }
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&view);
    free(rb.p);
    free(sb.p);
    if (rc < 0) {
        free(b.p);
        if (err_kind == ERR_UNSUPPORTED)
            PyErr_SetString(PyExc_NotImplementedError, err_what);
        else if (err_kind == ERR_MALFORMED)
            PyErr_Format(PyExc_ValueError, "malformed span data: %s", err_what);
        else
            PyErr_NoMemory();
        return NULL;
    }
    PyObject *out = Py_BuildValue("(y#L)", b.p ? b.p : "", (Py_ssize_t)b.len, count);
    free(b.p);
    return out;
}

static PyMethodDef METHODS[] = {
    {"encode_request", encode_request, METH_O,
     "encode_request(data) -> (rowbinary bytes, span count) for the otel_traces insert columns"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_rowbinary", NULL, -1, METHODS};

PyMODINIT_FUNC PyInit__rowbinary(void) { return PyModule_Create(&MODULE); }
