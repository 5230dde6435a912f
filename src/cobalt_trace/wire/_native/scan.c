/* cobalt_trace.wire._scan: OTLP trace wire checks and span header reads over raw bytes.
 *
 * validate_request(data) -> int
 *     Walks the whole ExportTraceServiceRequest (every message down to attribute values) with a
 *     table of the OTLP trace schema, creating no Python object per span, and returns the span
 *     count.  Rules (kept identical to the pure-Python walker in validate.py):
 *       - tags, varints (<= 10 bytes), fixed-width values and lengths stay inside their message;
 *       - a known field must have its declared wire type; groups (3/4) and 6/7 are rejected;
 *       - strings are valid UTF-8 (upb, which our full decodes use, rejects anything else);
 *       - trace ids are 0 or 16 bytes, span ids 0 or 8 (the Go collector's pdata rule);
 *       - messages nest at most 100 levels below the request (upb's decode limit).
 *     Errors raise ValueError "<path>: <what> (byte N)"; validate.py turns it into WireError.
 *
 * scan_spans(spans) -> list
 *     For each serialized Span, one tuple (trace_id, span_id, parent_span_id, start, end,
 *     status_code, flags, trace_state), of the type set with set_fields_type() if any.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 100

/* ---- schema ------------------------------------------------------------------------------- */

enum kind { K_UNKNOWN = 0, K_MSG, K_STR, K_BYTES, K_ID16, K_ID8, K_VARINT, K_I64, K_I32 };
enum msg {
    M_REQUEST, M_RESOURCE_SPANS, M_RESOURCE, M_ENTITY_REF, M_SCOPE_SPANS, M_SCOPE, M_SPAN,
    M_EVENT, M_LINK, M_STATUS, M_KEY_VALUE, M_ANY_VALUE, M_ARRAY_VALUE, M_KV_LIST, M_COUNT
};
#define MAX_FIELD 16

typedef struct {
    uint8_t kind, sub, repeated;
    const char *name;
} field_desc;

/* wire type each kind must arrive with */
static const int KIND_WIRE[] = {-1, 2, 2, 2, 2, 2, 0, 1, 5};
static const char *WIRE_NAME[] = {"varint", "fixed64", "length-delimited", "start-group",
                                  "end-group", "fixed32", "6", "7"};

#define F(num, k, s, r, n) [num] = {k, s, r, n}
static const field_desc SCHEMA[M_COUNT][MAX_FIELD + 1] = {
    [M_REQUEST] = {F(1, K_MSG, M_RESOURCE_SPANS, 1, "resource_spans")},
    [M_RESOURCE_SPANS] = {F(1, K_MSG, M_RESOURCE, 0, "resource"),
                          F(2, K_MSG, M_SCOPE_SPANS, 1, "scope_spans"),
                          F(3, K_STR, 0, 0, "schema_url")},
    [M_RESOURCE] = {F(1, K_MSG, M_KEY_VALUE, 1, "attributes"),
                    F(2, K_VARINT, 0, 0, "dropped_attributes_count"),
                    F(3, K_MSG, M_ENTITY_REF, 1, "entity_refs")},
    [M_ENTITY_REF] = {F(1, K_STR, 0, 0, "schema_url"), F(2, K_STR, 0, 0, "type"),
                      F(3, K_STR, 0, 1, "id_keys"), F(4, K_STR, 0, 1, "description_keys")},
    [M_SCOPE_SPANS] = {F(1, K_MSG, M_SCOPE, 0, "scope"), F(2, K_MSG, M_SPAN, 1, "spans"),
                       F(3, K_STR, 0, 0, "schema_url")},
    [M_SCOPE] = {F(1, K_STR, 0, 0, "name"), F(2, K_STR, 0, 0, "version"),
                 F(3, K_MSG, M_KEY_VALUE, 1, "attributes"),
                 F(4, K_VARINT, 0, 0, "dropped_attributes_count")},
    [M_SPAN] = {F(1, K_ID16, 0, 0, "trace_id"), F(2, K_ID8, 0, 0, "span_id"),
                F(3, K_STR, 0, 0, "trace_state"), F(4, K_ID8, 0, 0, "parent_span_id"),
                F(5, K_STR, 0, 0, "name"), F(6, K_VARINT, 0, 0, "kind"),
                F(7, K_I64, 0, 0, "start_time_unix_nano"), F(8, K_I64, 0, 0, "end_time_unix_nano"),
                F(9, K_MSG, M_KEY_VALUE, 1, "attributes"),
                F(10, K_VARINT, 0, 0, "dropped_attributes_count"),
                F(11, K_MSG, M_EVENT, 1, "events"), F(12, K_VARINT, 0, 0, "dropped_events_count"),
                F(13, K_MSG, M_LINK, 1, "links"), F(14, K_VARINT, 0, 0, "dropped_links_count"),
                F(15, K_MSG, M_STATUS, 0, "status"), F(16, K_I32, 0, 0, "flags")},
    [M_EVENT] = {F(1, K_I64, 0, 0, "time_unix_nano"), F(2, K_STR, 0, 0, "name"),
                 F(3, K_MSG, M_KEY_VALUE, 1, "attributes"),
                 F(4, K_VARINT, 0, 0, "dropped_attributes_count")},
    [M_LINK] = {F(1, K_ID16, 0, 0, "trace_id"), F(2, K_ID8, 0, 0, "span_id"),
                F(3, K_STR, 0, 0, "trace_state"), F(4, K_MSG, M_KEY_VALUE, 1, "attributes"),
                F(5, K_VARINT, 0, 0, "dropped_attributes_count"), F(6, K_I32, 0, 0, "flags")},
    [M_STATUS] = {F(2, K_STR, 0, 0, "message"), F(3, K_VARINT, 0, 0, "code")},
    [M_KEY_VALUE] = {F(1, K_STR, 0, 0, "key"), F(2, K_MSG, M_ANY_VALUE, 0, "value"),
                     F(3, K_VARINT, 0, 0, "key_strindex")},
    [M_ANY_VALUE] = {F(1, K_STR, 0, 0, "string_value"), F(2, K_VARINT, 0, 0, "bool_value"),
                     F(3, K_VARINT, 0, 0, "int_value"), F(4, K_I64, 0, 0, "double_value"),
                     F(5, K_MSG, M_ARRAY_VALUE, 0, "array_value"),
                     F(6, K_MSG, M_KV_LIST, 0, "kvlist_value"), F(7, K_BYTES, 0, 0, "bytes_value"),
                     F(8, K_VARINT, 0, 0, "string_value_strindex")},
    [M_ARRAY_VALUE] = {F(1, K_MSG, M_ANY_VALUE, 1, "values")},
    [M_KV_LIST] = {F(1, K_MSG, M_KEY_VALUE, 1, "values")},
};
#undef F

/* ---- primitives ------------------------------------------------------------------------- */

/* 0 ok, 1 truncated, 2 longer than 10 bytes */
static inline int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) { /* the common one-byte case */
        *out = *p;
        *pp = p + 1;
        return 0;
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (p >= end) return 1;
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *out = v;
            *pp = p;
            return 0;
        }
    }
    return 2;
}

static int utf8_valid_slow(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        while (i + 8 <= n) { /* ASCII, a word at a time */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
        } else if (b < 0xC2) {
            return 0; /* stray continuation byte or overlong 2-byte form */
        } else if (b < 0xE0) {
            if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80) return 0;
            i += 2;
        } else if (b < 0xF0) {
            if (i + 2 >= n) return 0;
            uint8_t b1 = s[i + 1], b2 = s[i + 2];
            if ((b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80) return 0;
            if ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 >= 0xA0)) return 0; /* overlong, surrogate */
            i += 3;
        } else if (b < 0xF5) {
            if (i + 3 >= n) return 0;
            uint8_t b1 = s[i + 1], b2 = s[i + 2], b3 = s[i + 3];
            if ((b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80 || (b3 & 0xC0) != 0x80) return 0;
            if ((b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 >= 0x90)) return 0; /* overlong, > U+10FFFF */
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* Almost every string on the wire is ASCII: OR all bytes together without branching first. */
static inline int utf8_valid(const uint8_t *s, size_t n) {
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= s[i];
    return (acc & 0x8080808080808080ULL) ? utf8_valid_slow(s, n) : 1;
}

/* ---- validation ------------------------------------------------------------------------- */

typedef struct {
    const field_desc *fd; /* the field being read at this depth */
    const uint8_t *msg;   /* where the message holding it starts */
    const uint8_t *at;    /* where the field's tag starts */
} frame;

typedef struct {
    const uint8_t *base;
    Py_ssize_t spans;
    frame path[MAX_DEPTH + 2];
} walker;

/* Skip one already-validated field at *pp; returns its field number. */
static uint64_t skip_field(const uint8_t **pp, const uint8_t *end) {
    uint64_t tag = 0, v = 0;
    read_varint(pp, end, &tag);
    switch (tag & 7) {
    case 0: read_varint(pp, end, &v); break;
    case 1: *pp += 8; break;
    case 5: *pp += 4; break;
    case 2: read_varint(pp, end, &v); *pp += v; break;
    }
    return tag >> 3;
}

/* Index of a repeated field occurrence, counted only when an error is reported. */
static Py_ssize_t occurrence(const frame *f) {
    const uint8_t *p = f->msg, *q = f->at;
    uint64_t tag = 0;
    read_varint(&q, f->at + 10, &tag);
    Py_ssize_t n = 0;
    while (p < f->at) {
        if (skip_field(&p, f->at) == tag >> 3) n++;
    }
    return n;
}

/* Raise ValueError("<path of the first `depth` frames>: <what> (byte N)"); returns -1. */
static int fail(walker *w, int depth, const uint8_t *at, const char *fmt, ...) {
    char what[160], path[4096];
    size_t len = 0;
    va_list ap;
    va_start(ap, fmt);
    PyOS_vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    path[0] = 0;
    for (int i = 0; i < depth && len < sizeof path - 64; i++) {
        const frame *f = &w->path[i];
        int n;
        if (f->fd->repeated)
            n = PyOS_snprintf(path + len, sizeof path - len, "%s%s[%zd]", i ? "." : "", f->fd->name,
                              occurrence(f));
        else
            n = PyOS_snprintf(path + len, sizeof path - len, "%s%s", i ? "." : "", f->fd->name);
        if (n > 0) len += (size_t)n;
    }
    PyErr_Format(PyExc_ValueError, "%s: %s (byte %zd)", depth ? path : "request", what,
                 (Py_ssize_t)(at - w->base));
    return -1;
}

/* Fast check of the common attribute shape: key string, then a scalar or bytes AnyValue.  Returns
 * 1 only for what walk() accepts too; anything else (0) is left to walk() for the verdict. */
static inline int len_field(const uint8_t **pp, const uint8_t *end, const uint8_t **v, size_t *n) {
    uint64_t len;
    if (read_varint(pp, end, &len) || len > (uint64_t)(end - *pp)) return 0;
    *v = *pp;
    *n = (size_t)len;
    *pp += len;
    return 1;
}

static int any_value_fast(const uint8_t *p, const uint8_t *end) {
    const uint8_t *v;
    size_t n;
    uint64_t x;
    while (p < end) {
        switch (*p++) {
        case 0x0a: /* string_value */
            if (!len_field(&p, end, &v, &n) || !utf8_valid(v, n)) return 0;
            break;
        case 0x10: /* bool_value */
        case 0x18: /* int_value */
            if (read_varint(&p, end, &x)) return 0;
            break;
        case 0x21: /* double_value */
            if (end - p < 8) return 0;
            p += 8;
            break;
        case 0x3a: /* bytes_value */
            if (!len_field(&p, end, &v, &n)) return 0;
            break;
        default:
            return 0;
        }
    }
    return 1;
}

static int key_value_fast(const uint8_t *p, const uint8_t *end) {
    const uint8_t *v;
    size_t n;
    while (p < end) {
        switch (*p++) {
        case 0x0a: /* key */
            if (!len_field(&p, end, &v, &n) || !utf8_valid(v, n)) return 0;
            break;
        case 0x12: /* value */
            if (!len_field(&p, end, &v, &n) || !any_value_fast(v, v + n)) return 0;
            break;
        default:
            return 0;
        }
    }
    return 1;
}

static int walk(walker *w, int msg, const uint8_t *p, const uint8_t *end, int depth) {
    const field_desc *fields = SCHEMA[msg];
    const uint8_t *msg_start = p;
    while (p < end) {
        const uint8_t *at = p;
        uint64_t tag, value;
        int r = read_varint(&p, end, &tag);
        if (r) return fail(w, depth, at, r == 1 ? "truncated tag" : "tag varint longer than 10 bytes");
        uint64_t number = tag >> 3;
        int wire = (int)(tag & 7);
        if (number == 0 || number > 0x1FFFFFFF)
            return fail(w, depth, at, "invalid field number %llu", (unsigned long long)number);
        const field_desc *fd = number <= MAX_FIELD ? &fields[number] : NULL;
        int kind = fd ? fd->kind : K_UNKNOWN;
        int here = depth; /* path length for errors in this field's value */
        if (kind != K_UNKNOWN) {
            w->path[depth].fd = fd;
            w->path[depth].msg = msg_start;
            w->path[depth].at = at;
            here = depth + 1;
            if (wire != KIND_WIRE[kind])
                return fail(w, here, at, "wrong wire type %s (expected %s)", WIRE_NAME[wire],
                            WIRE_NAME[KIND_WIRE[kind]]);
        }
        switch (wire) {
        case 0:
            r = read_varint(&p, end, &value);
            if (r) return fail(w, here, p, r == 1 ? "truncated varint" : "varint longer than 10 bytes");
            break;
        case 1:
            if (end - p < 8) return fail(w, here, p, "truncated fixed64");
            p += 8;
            break;
        case 5:
            if (end - p < 4) return fail(w, here, p, "truncated fixed32");
            p += 4;
            break;
        case 2: {
            r = read_varint(&p, end, &value);
            if (r) return fail(w, here, p, r == 1 ? "truncated length" : "length varint longer than 10 bytes");
            if (value > (uint64_t)(end - p))
                return fail(w, here, p, "length %llu exceeds the %zd bytes left in the message",
                            (unsigned long long)value, (Py_ssize_t)(end - p));
            const uint8_t *v = p;
            size_t n = (size_t)value;
            p += n;
            switch (kind) {
            case K_STR:
                if (!utf8_valid(v, n)) return fail(w, here, v, "invalid UTF-8 in string");
                break;
            case K_ID16:
                if (n != 0 && n != 16) return fail(w, here, v, "must be 16 bytes, got %zu", n);
                break;
            case K_ID8:
                if (n != 0 && n != 8) return fail(w, here, v, "must be 8 bytes, got %zu", n);
                break;
            case K_MSG:
                if (depth + 1 > MAX_DEPTH)
                    return fail(w, here, v, "messages nested deeper than %d levels", MAX_DEPTH);
                if (fd->sub == M_SPAN) w->spans++;
                if (fd->sub == M_KEY_VALUE && depth + 2 <= MAX_DEPTH && key_value_fast(v, v + n)) break;
                if (walk(w, fd->sub, v, v + n, depth + 1)) return -1;
                break;
            }
            break;
        }
        case 3:
        case 4:
            return fail(w, here, at, "groups (wire type %d) are not supported", wire);
        default:
            return fail(w, here, at, "invalid wire type %d", wire);
        }
    }
    return 0;
}

static PyObject *validate_request(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    walker w;
    w.base = view.buf;
    w.spans = 0;
    int r = walk(&w, M_REQUEST, view.buf, (const uint8_t *)view.buf + view.len, 0);
    PyBuffer_Release(&view);
    return r ? NULL : PyLong_FromSsize_t(w.spans);
}

/* ---- span header scan ------------------------------------------------------------------- */

static PyTypeObject *fields_type = NULL; /* a tuple subclass (NamedTuple) or NULL for tuple */
#define N_FIELDS 8

static PyObject *scan_error(Py_ssize_t i, const char *what) {
    PyErr_Format(PyExc_ValueError, "spans[%zd]: %s", i, what);
    return NULL;
}

static inline uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

/* The Status code inside a serialized Status (merge semantics: the last code seen wins). */
static int status_code(const uint8_t *q, const uint8_t *end, uint64_t *code) {
    while (q < end) {
        uint64_t t, x;
        if (read_varint(&q, end, &t)) return -1;
        switch (t & 7) {
        case 0:
            if (read_varint(&q, end, &x)) return -1;
            if ((t >> 3) == 3) *code = x;
            break;
        case 1:
            if (end - q < 8) return -1;
            q += 8;
            break;
        case 5:
            if (end - q < 4) return -1;
            q += 4;
            break;
        case 2:
            if (read_varint(&q, end, &x) || x > (uint64_t)(end - q)) return -1;
            q += x;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

static PyObject *scan_one(const uint8_t *p, const uint8_t *end, Py_ssize_t i) {
    const uint8_t *tid = p, *sid = p, *pid = p, *ts = p;
    size_t tid_n = 0, sid_n = 0, pid_n = 0, ts_n = 0;
    uint64_t start = 0, stop = 0, code = 0, flags = 0;
    while (p < end) {
        uint64_t tag, v;
        if (read_varint(&p, end, &tag)) return scan_error(i, "truncated tag");
        uint64_t number = tag >> 3;
        int wire = (int)(tag & 7);
        if (number == 0 || number > 0x1FFFFFFF) return scan_error(i, "invalid field number");
        int kind = number <= MAX_FIELD ? SCHEMA[M_SPAN][number].kind : K_UNKNOWN;
        if (kind != K_UNKNOWN && wire != KIND_WIRE[kind]) return scan_error(i, "wrong wire type");
        switch (wire) {
        case 0:
            if (read_varint(&p, end, &v)) return scan_error(i, "truncated varint");
            break;
        case 1:
            if (end - p < 8) return scan_error(i, "truncated fixed64");
            if (number == 7) start = le64(p);
            else if (number == 8) stop = le64(p);
            p += 8;
            break;
        case 5:
            if (end - p < 4) return scan_error(i, "truncated fixed32");
            if (number == 16) flags = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            p += 4;
            break;
        case 2:
            if (read_varint(&p, end, &v)) return scan_error(i, "truncated length");
            if (v > (uint64_t)(end - p)) return scan_error(i, "length exceeds the span");
            switch (number) {
            case 1: tid = p; tid_n = (size_t)v; break;
            case 2: sid = p; sid_n = (size_t)v; break;
            case 3: ts = p; ts_n = (size_t)v; break;
            case 4: pid = p; pid_n = (size_t)v; break;
            case 15:
                if (status_code(p, p + v, &code)) return scan_error(i, "malformed status");
                break;
            }
            p += v;
            break;
        default:
            return scan_error(i, "invalid wire type");
        }
    }
    PyObject *item = fields_type ? fields_type->tp_alloc(fields_type, N_FIELDS) : PyTuple_New(N_FIELDS);
    if (!item) return NULL;
    PyObject *vals[N_FIELDS] = {
        PyBytes_FromStringAndSize((const char *)tid, (Py_ssize_t)tid_n),
        PyBytes_FromStringAndSize((const char *)sid, (Py_ssize_t)sid_n),
        PyBytes_FromStringAndSize((const char *)pid, (Py_ssize_t)pid_n),
        PyLong_FromUnsignedLongLong(start),
        PyLong_FromUnsignedLongLong(stop),
        PyLong_FromLong((long)(int32_t)(uint32_t)code), /* an int32 enum, as upb reads it */
        PyLong_FromUnsignedLongLong(flags),
        PyUnicode_DecodeUTF8((const char *)ts, (Py_ssize_t)ts_n, "strict"),
    };
    int ok = 1;
    for (int k = 0; k < N_FIELDS; k++) {
        if (!vals[k]) ok = 0;
        PyTuple_SET_ITEM(item, k, vals[k] ? vals[k] : Py_NewRef(Py_None));
    }
    if (!ok) {
        Py_DECREF(item);
        if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
            return scan_error(i, "invalid UTF-8 in trace_state");
        }
        return NULL;
    }
    return item;
}

static PyObject *scan_spans(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "scan_spans expects a sequence of bytes");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *out = PyList_New(n);
    if (!out) goto error;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *span = items[i], *fields;
        if (PyBytes_Check(span)) {
            const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(span);
            fields = scan_one(p, p + PyBytes_GET_SIZE(span), i);
        } else {
            Py_buffer view;
            if (PyObject_GetBuffer(span, &view, PyBUF_SIMPLE) < 0) goto error;
            fields = scan_one(view.buf, (const uint8_t *)view.buf + view.len, i);
            PyBuffer_Release(&view);
        }
        if (!fields) goto error;
        PyList_SET_ITEM(out, i, fields);
    }
    Py_DECREF(seq);
    return out;
error:
    Py_XDECREF(out);
    Py_DECREF(seq);
    return NULL;
}

static PyObject *set_fields_type(PyObject *self, PyObject *arg) {
    if (arg == Py_None) {
        Py_CLEAR(fields_type);
        Py_RETURN_NONE;
    }
    if (!PyType_Check(arg) || !PyType_IsSubtype((PyTypeObject *)arg, &PyTuple_Type) ||
        ((PyTypeObject *)arg)->tp_dictoffset != 0) {
        PyErr_SetString(PyExc_TypeError, "set_fields_type expects a tuple subclass without __dict__");
        return NULL;
    }
    Py_INCREF(arg);
    Py_XSETREF(fields_type, (PyTypeObject *)arg);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"validate_request", validate_request, METH_O,
     "validate_request(data) -> span count; ValueError naming the first bad place."},
    {"scan_spans", scan_spans, METH_O,
     "scan_spans(spans) -> [(trace_id, span_id, parent_span_id, start, end, status_code, flags, "
     "trace_state)]"},
    {"set_fields_type", set_fields_type, METH_O, "Tuple subclass scan_spans returns (None: tuple)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", "OTLP trace wire scanner.", -1, methods};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
