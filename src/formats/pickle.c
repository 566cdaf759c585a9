/* The restricted unpickler (pickle.h): a stack machine over the opcodes torch.save's pickles
 * use, with every other opcode refused. Opcode meanings as in CPython's Lib/pickletools.py.
 *
 * Values live in one array (pickle.obj) and are named by their index, so the memo, the stack and
 * containers share them by reference as Python's do (a dict fetched from the memo and then given
 * SETITEMS is the same dict), and freeing never walks a graph (a list may contain itself).
 * Nothing here recurses. Every count is bounded (pickle.h), every read is checked against the
 * bytes, and pops never reach below the innermost MARK (as in CPython, where MARK starts a new
 * stack). */
#include "formats/pickle.h"
#include "core/ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The callables and classes a state_dict may name; GLOBAL of anything else is refused. */
enum { G_ORDERED_DICT, G_REBUILD_TENSOR_V2, G_REBUILD_TENSOR, G_REBUILD_PARAMETER, G_DEVICE, G_STORAGE };

static const struct {
    const char *module, *name;
    int kind;
    pk_dtype dtype;  /* G_STORAGE */
} allowed[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2, 0},
    {"torch._utils", "_rebuild_tensor", G_REBUILD_TENSOR, 0},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER, 0},
    {"torch", "device", G_DEVICE, 0},
    {"torch", "FloatStorage", G_STORAGE, PK_DT_F32},
    {"torch", "HalfStorage", G_STORAGE, PK_DT_F16},
    {"torch", "BFloat16Storage", G_STORAGE, PK_DT_BF16},
    {"torch", "DoubleStorage", G_STORAGE, PK_DT_F64},
    {"torch", "LongStorage", G_STORAGE, PK_DT_I64},
    {"torch", "IntStorage", G_STORAGE, PK_DT_I32},
    {"torch", "ShortStorage", G_STORAGE, PK_DT_I16},
    {"torch", "CharStorage", G_STORAGE, PK_DT_I8},
    {"torch", "ByteStorage", G_STORAGE, PK_DT_U8},
    {"torch", "BoolStorage", G_STORAGE, PK_DT_BOOL},
};
#define NUM_ALLOWED (sizeof allowed / sizeof allowed[0])

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [PK_DT_F32] = {"float32", 4}, [PK_DT_F16] = {"float16", 2}, [PK_DT_BF16] = {"bfloat16", 2},
    [PK_DT_F64] = {"float64", 8}, [PK_DT_I64] = {"int64", 8},   [PK_DT_I32] = {"int32", 4},
    [PK_DT_I16] = {"int16", 2},   [PK_DT_I8] = {"int8", 1},     [PK_DT_U8] = {"uint8", 1},
    [PK_DT_BOOL] = {"bool", 1},
};

const char *pk_dtype_name(pk_dtype d) { return dtypes[d].name; }
size_t pk_dtype_size(pk_dtype d) { return dtypes[d].size; }

/* Every opcode of protocols 0-5 by name, so a refusal can say which it was. */
static const struct {
    unsigned char op;
    const char *name;
} opnames[] = {
    {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"},
    {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"},
    {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"},
    {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"},
    {'c', "GLOBAL"}, {'d', "DICT"}, {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"},
    {'i', "INST"}, {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
    {'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"},
    {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"},
    {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"},
    {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"},
    {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
    {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
    {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
};

static const char *opname(unsigned char op) {
    for (size_t i = 0; i < sizeof opnames / sizeof opnames[0]; i++)
        if (opnames[i].op == op) return opnames[i].name;
    return "an unknown opcode";
}

const char *pk_type_name(pk_type t) {
    static const char *const names[] = {"None", "a boolean", "an integer", "a large integer", "a float",
                                        "a string", "a tuple", "a list", "a dict", "a class or function",
                                        "a storage", "a tensor", "a device"};
    return names[t];
}

/* ---- the machine ---------------------------------------------------------------------------- */

#define NO_MEMO UINT32_MAX

typedef struct vm {
    impasto_ctx *ctx;
    const char *file;
    const unsigned char *p;
    size_t n, pos;
    size_t op_pos;      /* where the current opcode starts, for messages */
    pickle *pk;
    uint32_t *stack;
    size_t sp, cap_stack;
    size_t marks[PK_MAX_MARKS];
    int nmarks;
    uint32_t *memo;     /* cap_memo slots, NO_MEMO when unset */
    size_t cap_memo, memo_len;
    size_t items;       /* in all containers, against PK_MAX_ITEMS */
} vm;

static impasto_status fail(vm *m, impasto_status s, const char *what) {
    return ctx_fail(m->ctx, s, "%s (pickle byte %zu): %s", m->file, m->op_pos, what);
}

/* Up to cap - 1 bytes of s with anything but printable ASCII shown as '?', for messages. */
static const char *printable(const unsigned char *s, size_t len, char *buf, size_t cap) {
    size_t k = 0;
    for (; k < len && k + 1 < cap; k++) buf[k] = s[k] >= 0x20 && s[k] < 0x7f ? (char)s[k] : '?';
    buf[k] = 0;
    return buf;
}

static impasto_status grow(vm *m, void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return IMPASTO_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = realloc(*arr, c * elem);
    if (!q) return ctx_fail(m->ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", m->file);
    *arr = q;
    *cap = c;
    return IMPASTO_OK;
}

/* A new value of type t; its id in *id. */
static impasto_status new_obj(vm *m, pk_type t, uint32_t *id) {
    pickle *pk = m->pk;
    if (pk->nobj >= PK_MAX_OBJECTS) return fail(m, IMPASTO_ERR_FORMAT, "too many values in the pickle");
    impasto_status s = grow(m, (void **)&pk->obj, &pk->cap_obj, pk->nobj + 1, sizeof *pk->obj);
    if (s != IMPASTO_OK) return s;
    memset(&pk->obj[pk->nobj], 0, sizeof *pk->obj);
    pk->obj[pk->nobj].type = t;
    *id = (uint32_t)pk->nobj++;
    return IMPASTO_OK;
}

static pk_obj *obj(vm *m, uint32_t id) { return &m->pk->obj[id]; }

static size_t base(const vm *m) { return m->nmarks ? m->marks[m->nmarks - 1] : 0; }

static impasto_status push(vm *m, uint32_t id) {
    if (m->sp >= PK_MAX_STACK) return fail(m, IMPASTO_ERR_FORMAT, "the pickle's stack grows past its limit");
    impasto_status s = grow(m, (void **)&m->stack, &m->cap_stack, m->sp + 1, sizeof *m->stack);
    if (s != IMPASTO_OK) return s;
    m->stack[m->sp++] = id;
    return IMPASTO_OK;
}

static impasto_status push_new(vm *m, pk_type t, uint32_t *id) {
    impasto_status s = new_obj(m, t, id);
    return s == IMPASTO_OK ? push(m, *id) : s;
}

static impasto_status pop(vm *m, uint32_t *id) {
    if (m->sp <= base(m)) return fail(m, IMPASTO_ERR_FORMAT, "the pickle takes a value from an empty stack");
    *id = m->stack[--m->sp];
    return IMPASTO_OK;
}

/* Appends n ids to container c. */
static impasto_status add_items(vm *m, uint32_t c, const uint32_t *ids, size_t n) {
    pk_obj *o = obj(m, c);
    if (n > PK_MAX_ITEMS - m->items) return fail(m, IMPASTO_ERR_FORMAT, "the pickle's containers grow past their limit");
    m->items += n;
    size_t cap = o->cap;
    impasto_status s = grow(m, (void **)&o->items, &cap, (size_t)o->n + n, sizeof *o->items);
    if (s != IMPASTO_OK) return s;
    o->cap = (uint32_t)cap;
    memcpy(o->items + o->n, ids, n * sizeof *ids);
    o->n += (uint32_t)n;
    return IMPASTO_OK;
}

/* Reads n bytes of the opcode's argument. */
static impasto_status take(vm *m, size_t n, const unsigned char **out) {
    if (n > m->n - m->pos) return fail(m, IMPASTO_ERR_FORMAT, "the pickle ends in the middle of an opcode: truncated");
    *out = m->p + m->pos;
    m->pos += n;
    return IMPASTO_OK;
}

static uint64_t le(const unsigned char *b, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

static impasto_status push_int(vm *m, int64_t v) {
    uint32_t id;
    impasto_status s = push_new(m, PK_INT, &id);
    if (s == IMPASTO_OK) obj(m, id)->i = v;
    return s;
}

/* A string opcode: `lenbytes` of little-endian length, then the bytes. */
static impasto_status op_string(vm *m, int lenbytes) {
    const unsigned char *b = NULL;
    impasto_status s = take(m, (size_t)lenbytes, &b);
    if (s != IMPASTO_OK) return s;
    uint64_t len = le(b, lenbytes);
    if (len > PK_MAX_STRING) return fail(m, IMPASTO_ERR_FORMAT, "a string longer than 1 MB");
    if ((s = take(m, (size_t)len, &b)) != IMPASTO_OK) return s;
    uint32_t id;
    if ((s = push_new(m, PK_STR, &id)) != IMPASTO_OK) return s;
    obj(m, id)->s = b;
    obj(m, id)->len = (size_t)len;
    return IMPASTO_OK;
}

/* LONG1: a length byte, then that many bytes of little-endian two's complement. Up to 8 bytes is
 * an integer; longer ones (torch's legacy magic number) are kept as bytes. */
static impasto_status op_long1(vm *m) {
    const unsigned char *b = NULL;
    impasto_status s = take(m, 1, &b);
    if (s != IMPASTO_OK) return s;
    size_t n = b[0];
    if (n > PK_MAX_BIGINT) return fail(m, IMPASTO_ERR_FORMAT, "an integer too large for a checkpoint");
    if ((s = take(m, n, &b)) != IMPASTO_OK) return s;
    if (n > 8) {
        uint32_t id;
        if ((s = push_new(m, PK_BIGINT, &id)) != IMPASTO_OK) return s;
        obj(m, id)->s = b;
        obj(m, id)->len = n;
        return IMPASTO_OK;
    }
    uint64_t u = n ? le(b, (int)n) : 0;
    if (n && n < 8 && (b[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);  /* sign-extend */
    return push_int(m, (int64_t)u);
}

/* Pops the values above the innermost MARK into a new tuple. */
static impasto_status op_tuple_mark(vm *m) {
    if (!m->nmarks) return fail(m, IMPASTO_ERR_FORMAT, "TUPLE without a MARK");
    size_t b = m->marks[--m->nmarks], k = m->sp - b;
    uint32_t id;
    impasto_status s = new_obj(m, PK_TUPLE, &id);
    if (s == IMPASTO_OK && k) s = add_items(m, id, m->stack + b, k);
    m->sp = b;
    return s == IMPASTO_OK ? push(m, id) : s;
}

static impasto_status op_tuple_n(vm *m, size_t k) {
    if (m->sp - base(m) < k) return fail(m, IMPASTO_ERR_FORMAT, "the pickle takes a value from an empty stack");
    uint32_t id;
    impasto_status s = new_obj(m, PK_TUPLE, &id);
    if (s == IMPASTO_OK && k) s = add_items(m, id, m->stack + m->sp - k, k);
    m->sp -= k;
    return s == IMPASTO_OK ? push(m, id) : s;
}

/* SETITEMS and APPENDS: the values above the innermost MARK go into the dict or list just below
 * it. */
static impasto_status op_fill_mark(vm *m, pk_type want) {
    if (!m->nmarks) return fail(m, IMPASTO_ERR_FORMAT, want == PK_DICT ? "SETITEMS without a MARK" : "APPENDS without a MARK");
    size_t b = m->marks[--m->nmarks], k = m->sp - b;
    if (b <= base(m)) return fail(m, IMPASTO_ERR_FORMAT, "the pickle fills a container that is not on the stack");
    uint32_t c = m->stack[b - 1];
    if (obj(m, c)->type != want)
        return fail(m, IMPASTO_ERR_FORMAT, want == PK_DICT ? "SETITEMS on something that is not a dict"
                                                           : "APPENDS on something that is not a list");
    if (want == PK_DICT && k % 2) return fail(m, IMPASTO_ERR_FORMAT, "SETITEMS with a key and no value");
    impasto_status s = k ? add_items(m, c, m->stack + b, k) : IMPASTO_OK;
    m->sp = b;
    return s;
}

static impasto_status op_fill_one(vm *m, pk_type want) {
    size_t k = want == PK_DICT ? 2 : 1;
    if (m->sp - base(m) < k + 1) return fail(m, IMPASTO_ERR_FORMAT, "the pickle takes a value from an empty stack");
    uint32_t c = m->stack[m->sp - k - 1];
    if (obj(m, c)->type != want)
        return fail(m, IMPASTO_ERR_FORMAT, want == PK_DICT ? "SETITEM on something that is not a dict"
                                                           : "APPEND on something that is not a list");
    impasto_status s = add_items(m, c, m->stack + m->sp - k, k);
    m->sp -= k;
    return s;
}

static impasto_status op_put(vm *m, uint64_t idx) {
    if (m->sp <= base(m)) return fail(m, IMPASTO_ERR_FORMAT, "the pickle memoizes from an empty stack");
    if (idx >= PK_MAX_MEMO) return fail(m, IMPASTO_ERR_FORMAT, "a memo index past the limit");
    size_t old = m->cap_memo;
    impasto_status s = grow(m, (void **)&m->memo, &m->cap_memo, (size_t)idx + 1, sizeof *m->memo);
    if (s != IMPASTO_OK) return s;
    for (size_t i = old; i < m->cap_memo; i++) m->memo[i] = NO_MEMO;
    if (m->memo[idx] == NO_MEMO) m->memo_len++;
    m->memo[idx] = m->stack[m->sp - 1];
    return IMPASTO_OK;
}

static impasto_status op_get(vm *m, uint64_t idx) {
    if (idx >= m->cap_memo || m->memo[idx] == NO_MEMO)
        return fail(m, IMPASTO_ERR_FORMAT, "the pickle fetches a memo entry it never stored");
    return push(m, m->memo[idx]);
}

/* GLOBAL and STACK_GLOBAL: only the allowed names become values. */
static impasto_status push_global(vm *m, const unsigned char *mod, size_t mlen, const unsigned char *name,
                                  size_t nlen) {
    for (size_t i = 0; i < NUM_ALLOWED; i++) {
        if (strlen(allowed[i].module) != mlen || memcmp(allowed[i].module, mod, mlen) != 0 ||
            strlen(allowed[i].name) != nlen || memcmp(allowed[i].name, name, nlen) != 0)
            continue;
        uint32_t id;
        impasto_status s = push_new(m, PK_GLOBAL, &id);
        if (s == IMPASTO_OK) obj(m, id)->i = (int64_t)i;
        return s;
    }
    /* A class (by Python's naming) is most often a whole model saved instead of its weights. */
    char a[PK_MAX_NAME + 1], b[PK_MAX_NAME + 1];
    const int cls = nlen && name[0] >= 'A' && name[0] <= 'Z';
    return ctx_fail(m->ctx, IMPASTO_ERR_UNSUPPORTED, "%s (pickle byte %zu): the pickle asks for %s.%s, which is not "
                    "part of a state_dict: refused, nothing was run%s", m->file, m->op_pos,
                    printable(mod, mlen, a, sizeof a), printable(name, nlen, b, sizeof b),
                    cls ? " (a whole saved model? save its state_dict() instead)" : "");
}

/* One "\n"-terminated line of GLOBAL's argument. */
static impasto_status read_line(vm *m, const unsigned char **s, size_t *len) {
    const unsigned char *start = m->p + m->pos;
    size_t avail = m->n - m->pos, lim = avail < PK_MAX_NAME + 1 ? avail : PK_MAX_NAME + 1;
    const unsigned char *nl = memchr(start, '\n', lim);
    if (!nl)
        return fail(m, IMPASTO_ERR_FORMAT, avail <= PK_MAX_NAME ? "the pickle ends inside a GLOBAL: truncated"
                                                                : "a GLOBAL name longer than 128 bytes");
    *s = start;
    *len = (size_t)(nl - start);
    m->pos += *len + 1;
    return IMPASTO_OK;
}

static impasto_status op_global(vm *m) {
    const unsigned char *mod = NULL, *name = NULL;
    size_t mlen = 0, nlen = 0;
    impasto_status s = read_line(m, &mod, &mlen);
    if (s == IMPASTO_OK) s = read_line(m, &name, &nlen);
    return s == IMPASTO_OK ? push_global(m, mod, mlen, name, nlen) : s;
}

static impasto_status op_stack_global(vm *m) {
    uint32_t nm = 0, md = 0;
    impasto_status s = pop(m, &nm);
    if (s == IMPASTO_OK) s = pop(m, &md);
    if (s != IMPASTO_OK) return s;
    const pk_obj *a = obj(m, md), *b = obj(m, nm);
    if (a->type != PK_STR || b->type != PK_STR || a->len > PK_MAX_NAME || b->len > PK_MAX_NAME)
        return fail(m, IMPASTO_ERR_FORMAT, "STACK_GLOBAL without a module and a name");
    return push_global(m, a->s, a->len, b->s, b->len);
}

/* ---- what REDUCE and BINPERSID may build -------------------------------------------------- */

static int is_key_char(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* A non-negative integer item, else 0. */
static int nonneg(const pk_obj *o, int64_t *v) {
    if (o->type != PK_INT || o->i < 0) return 0;
    *v = o->i;
    return 1;
}

/* BINPERSID: the storage tuple (pickle.h) becomes a storage value. */
static impasto_status op_persid(vm *m) {
    uint32_t pid = 0;
    impasto_status s = pop(m, &pid);
    if (s != IMPASTO_OK) return s;
    const pk_obj *t = obj(m, pid);
    if (t->type != PK_TUPLE || t->n < 1 || !pk_str_is(obj(m, t->items[0]), "storage")) {
        char buf[40];
        const pk_obj *k = t->type == PK_TUPLE && t->n ? obj(m, t->items[0]) : NULL;
        if (k && k->type == PK_STR) {
            char what[160];
            snprintf(what, sizeof what, "a reference to a '%s', not to a storage (a whole saved model? save its "
                     "state_dict() instead)", printable(k->s, k->len, buf, sizeof buf));
            return fail(m, IMPASTO_ERR_UNSUPPORTED, what);
        }
        return fail(m, IMPASTO_ERR_FORMAT, "a persistent reference that is not a storage");
    }
    if (t->n != 5 && t->n != 6) return fail(m, IMPASTO_ERR_FORMAT, "a storage reference of the wrong length");
    const pk_obj *type = obj(m, t->items[1]), *key = obj(m, t->items[2]), *loc = obj(m, t->items[3]);
    int64_t numel;
    if (type->type != PK_GLOBAL || allowed[type->i].kind != G_STORAGE)
        return fail(m, IMPASTO_ERR_FORMAT, "a storage reference without a storage type");
    if (key->type != PK_STR || key->len == 0 || key->len > PK_MAX_KEY)
        return fail(m, IMPASTO_ERR_FORMAT, "a storage reference without a plain key");
    for (size_t i = 0; i < key->len; i++)
        if (!is_key_char(key->s[i])) return fail(m, IMPASTO_ERR_FORMAT, "a storage key that is not a plain name");
    if (loc->type != PK_STR) return fail(m, IMPASTO_ERR_FORMAT, "a storage reference without a device name");
    if (!nonneg(obj(m, t->items[4]), &numel)) return fail(m, IMPASTO_ERR_FORMAT, "a storage of a negative or non-integer size");
    pk_dtype dt = allowed[type->i].dtype;
    if ((uint64_t)numel > PK_MAX_STORAGE_BYTES / pk_dtype_size(dt))
        return fail(m, IMPASTO_ERR_FORMAT, "a storage of an absurd size");
    pk_storage st = {key->s, key->len, dt, (uint64_t)numel, 0, (uint64_t)numel};
    if (t->n == 6 && obj(m, t->items[5])->type != PK_NONE) {
        /* Legacy view (view_key, offset, numel): a window of the storage. */
        const pk_obj *v = obj(m, t->items[5]);
        int64_t off, cnt;
        if (v->type != PK_TUPLE || v->n != 3 || obj(m, v->items[0])->type != PK_STR ||
            !nonneg(obj(m, v->items[1]), &off) || !nonneg(obj(m, v->items[2]), &cnt))
            return fail(m, IMPASTO_ERR_FORMAT, "a storage view that is not (key, offset, size)");
        if ((uint64_t)off > st.numel || (uint64_t)cnt > st.numel - (uint64_t)off)
            return fail(m, IMPASTO_ERR_FORMAT, "a storage view that runs past its storage");
        st.view_offset = (uint64_t)off;
        st.view_numel = (uint64_t)cnt;
    }
    pickle *pk = m->pk;
    if ((s = grow(m, (void **)&pk->storages, &pk->cap_storages, pk->nstorages + 1, sizeof st)) != IMPASTO_OK)
        return s;
    uint32_t id;
    if ((s = push_new(m, PK_STORAGE, &id)) != IMPASTO_OK) return s;
    obj(m, id)->i = (int64_t)pk->nstorages;
    pk->storages[pk->nstorages++] = st;
    return IMPASTO_OK;
}

/* A tuple of at most TENSOR_MAX_DIMS non-negative integers into v; its length in *n. */
static int int_tuple(vm *m, const pk_obj *t, int64_t *v, int *n) {
    if (t->type != PK_TUPLE || t->n > TENSOR_MAX_DIMS) return 0;
    for (uint32_t i = 0; i < t->n; i++)
        if (!nonneg(obj(m, t->items[i]), &v[i])) return 0;
    *n = (int)t->n;
    return 1;
}

/* _rebuild_tensor(_v2): (storage, offset, size, stride, ...) -> a tensor value. */
static impasto_status rebuild_tensor(vm *m, const pk_obj *args, int v2) {
    if (v2 ? args->n != 6 && args->n != 7 : args->n != 4)
        return fail(m, IMPASTO_ERR_FORMAT, "a tensor rebuilt from the wrong number of arguments");
    const pk_obj *st = obj(m, args->items[0]);
    pk_tensor t;
    memset(&t, 0, sizeof t);
    int nstride = -1;
    if (st->type != PK_STORAGE) return fail(m, IMPASTO_ERR_FORMAT, "a tensor rebuilt from something that is not a storage");
    if (!nonneg(obj(m, args->items[1]), &t.offset) || !int_tuple(m, obj(m, args->items[2]), t.shape, &t.ndim) ||
        !int_tuple(m, obj(m, args->items[3]), t.stride, &nstride) || nstride != t.ndim)
        return fail(m, IMPASTO_ERR_FORMAT, "a tensor whose offset, size or strides are not non-negative integers "
                    "(at most 8 dimensions)");
    if (v2) {
        pk_type rg = obj(m, args->items[4])->type, hooks = obj(m, args->items[5])->type;
        if (rg != PK_BOOL || (hooks != PK_DICT && hooks != PK_NONE))
            return fail(m, IMPASTO_ERR_FORMAT, "a tensor rebuilt with a bad requires_grad or hooks argument");
    }
    t.storage = (uint32_t)st->i;
    pickle *pk = m->pk;
    impasto_status s = grow(m, (void **)&pk->tensors, &pk->cap_tensors, pk->ntensors + 1, sizeof t);
    uint32_t id;
    if (s == IMPASTO_OK) s = push_new(m, PK_TENSOR, &id);
    if (s != IMPASTO_OK) return s;
    obj(m, id)->i = (int64_t)pk->ntensors;
    pk->tensors[pk->ntensors++] = t;
    return IMPASTO_OK;
}

/* OrderedDict() or, from Python 2, OrderedDict([[key, value], ...]). */
static impasto_status make_dict(vm *m, const pk_obj *args) {
    /* Read before new_obj, which may move every value (args among them). */
    const uint32_t nargs = args->n, lst = nargs ? args->items[0] : 0;
    uint32_t id;
    impasto_status s = new_obj(m, PK_DICT, &id);
    if (s != IMPASTO_OK) return s;
    if (nargs == 1) {
        if (obj(m, lst)->type != PK_LIST && obj(m, lst)->type != PK_TUPLE)
            return fail(m, IMPASTO_ERR_FORMAT, "an OrderedDict made from something that is not a list of pairs");
        for (uint32_t i = 0; i < obj(m, lst)->n && s == IMPASTO_OK; i++) {
            const pk_obj *pair = obj(m, obj(m, lst)->items[i]);
            if ((pair->type != PK_LIST && pair->type != PK_TUPLE) || pair->n != 2)
                return fail(m, IMPASTO_ERR_FORMAT, "an OrderedDict made from something that is not a list of pairs");
            uint32_t kv[2] = {pair->items[0], pair->items[1]};
            s = add_items(m, id, kv, 2);
        }
    } else if (nargs != 0) {
        return fail(m, IMPASTO_ERR_FORMAT, "an OrderedDict made from more than one argument");
    }
    return s == IMPASTO_OK ? push(m, id) : s;
}

/* REDUCE: callable(*args), for the allowed callables only. */
static impasto_status op_reduce(vm *m) {
    uint32_t a = 0, f = 0;
    impasto_status s = pop(m, &a);
    if (s == IMPASTO_OK) s = pop(m, &f);
    if (s != IMPASTO_OK) return s;
    const pk_obj *fn = obj(m, f), *args = obj(m, a);
    if (fn->type != PK_GLOBAL) {
        char what[160];
        snprintf(what, sizeof what, "the pickle calls %s, which a state_dict never does: refused, nothing was run",
                 pk_type_name(fn->type));
        return fail(m, IMPASTO_ERR_UNSUPPORTED, what);
    }
    if (args->type != PK_TUPLE) return fail(m, IMPASTO_ERR_FORMAT, "a call whose arguments are not a tuple");
    switch (allowed[fn->i].kind) {
    case G_ORDERED_DICT: return make_dict(m, args);
    case G_REBUILD_TENSOR_V2: return rebuild_tensor(m, args, 1);
    case G_REBUILD_TENSOR: return rebuild_tensor(m, args, 0);
    case G_REBUILD_PARAMETER:
        if (args->n != 3 || obj(m, args->items[0])->type != PK_TENSOR || obj(m, args->items[1])->type != PK_BOOL)
            return fail(m, IMPASTO_ERR_FORMAT, "a parameter rebuilt from something that is not a tensor");
        return push(m, args->items[0]);
    case G_DEVICE: {
        uint32_t id;
        if (args->n < 1 || args->n > 2 || obj(m, args->items[0])->type != PK_STR)
            return fail(m, IMPASTO_ERR_FORMAT, "a device made from something that is not its name");
        return push_new(m, PK_DEVICE, &id);
    }
    default: {
        char what[160];
        snprintf(what, sizeof what, "the pickle calls %s.%s, which a state_dict never does: refused, nothing was run",
                 allowed[fn->i].module, allowed[fn->i].name);
        return fail(m, IMPASTO_ERR_UNSUPPORTED, what);
    }
    }
}

/* BUILD: only a dict's attributes (an OrderedDict's _metadata), which nothing here reads. */
static impasto_status op_build(vm *m) {
    uint32_t state = 0;
    impasto_status s = pop(m, &state);
    if (s != IMPASTO_OK) return s;
    if (m->sp <= base(m)) return fail(m, IMPASTO_ERR_FORMAT, "the pickle takes a value from an empty stack");
    pk_type t = obj(m, m->stack[m->sp - 1])->type;
    if (t != PK_DICT) {
        char what[160];
        snprintf(what, sizeof what, "the pickle sets the state of %s, which a state_dict never does: refused",
                 pk_type_name(t));
        return fail(m, IMPASTO_ERR_UNSUPPORTED, what);
    }
    return IMPASTO_OK;
}

/* Runs one opcode; *stop set by STOP. */
static impasto_status step(vm *m, int *stop) {
    const unsigned char *b = NULL;
    m->op_pos = m->pos;
    impasto_status s = take(m, 1, &b);
    if (s != IMPASTO_OK) return s;
    unsigned char op = b[0];
    uint32_t id = 0, v = 0;
    switch (op) {
    case 0x80: /* PROTO */
        if ((s = take(m, 1, &b)) != IMPASTO_OK) return s;
        if (b[0] < 2 || b[0] > 5) return fail(m, IMPASTO_ERR_UNSUPPORTED, "a pickle protocol other than 2 to 5");
        return IMPASTO_OK;
    case 0x95: /* FRAME: a length only; the frame's opcodes follow as usual */
        return take(m, 8, &b);
    case '.': /* STOP */
        if ((s = pop(m, &id)) != IMPASTO_OK) return s;
        m->pk->root = id;
        *stop = 1;
        return IMPASTO_OK;
    case '(': /* MARK */
        if (m->nmarks >= PK_MAX_MARKS) return fail(m, IMPASTO_ERR_FORMAT, "the pickle nests deeper than 256 levels");
        m->marks[m->nmarks++] = m->sp;
        return IMPASTO_OK;
    case '}': return push_new(m, PK_DICT, &id);
    case ']': return push_new(m, PK_LIST, &id);
    case ')': return push_new(m, PK_TUPLE, &id);
    case 'N': return push_new(m, PK_NONE, &id);
    case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
        if ((s = push_new(m, PK_BOOL, &id)) == IMPASTO_OK) obj(m, id)->i = op == 0x88;
        return s;
    case 't': return op_tuple_mark(m);
    case 0x85: return op_tuple_n(m, 1);
    case 0x86: return op_tuple_n(m, 2);
    case 0x87: return op_tuple_n(m, 3);
    case 'X': return op_string(m, 4);    /* BINUNICODE */
    case 0x8c: return op_string(m, 1);   /* SHORT_BINUNICODE */
    case 0x8d: return op_string(m, 8);   /* BINUNICODE8 */
    case 'T': return op_string(m, 4);    /* BINSTRING (Python 2) */
    case 'U': return op_string(m, 1);    /* SHORT_BINSTRING (Python 2) */
    case 'J': /* BININT: signed 32-bit */
        if ((s = take(m, 4, &b)) != IMPASTO_OK) return s;
        return push_int(m, (int32_t)(uint32_t)le(b, 4));
    case 'K':
        if ((s = take(m, 1, &b)) != IMPASTO_OK) return s;
        return push_int(m, b[0]);
    case 'M':
        if ((s = take(m, 2, &b)) != IMPASTO_OK) return s;
        return push_int(m, (int64_t)le(b, 2));
    case 0x8a: return op_long1(m);
    case 'G': { /* BINFLOAT: big-endian IEEE double */
        if ((s = take(m, 8, &b)) != IMPASTO_OK) return s;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = u << 8 | b[i];
        double d;
        memcpy(&d, &u, sizeof d);
        if ((s = push_new(m, PK_FLOAT, &id)) == IMPASTO_OK) obj(m, id)->f = d;
        return s;
    }
    case 'c': return op_global(m);
    case 0x93: return op_stack_global(m);
    case 'R': return op_reduce(m);
    case 'Q': return op_persid(m);
    case 'b': return op_build(m);
    case 'q':
        if ((s = take(m, 1, &b)) != IMPASTO_OK) return s;
        return op_put(m, b[0]);
    case 'r':
        if ((s = take(m, 4, &b)) != IMPASTO_OK) return s;
        return op_put(m, le(b, 4));
    case 0x94: return op_put(m, m->memo_len); /* MEMOIZE */
    case 'h':
        if ((s = take(m, 1, &b)) != IMPASTO_OK) return s;
        return op_get(m, b[0]);
    case 'j':
        if ((s = take(m, 4, &b)) != IMPASTO_OK) return s;
        return op_get(m, le(b, 4));
    case 's': return op_fill_one(m, PK_DICT);
    case 'u': return op_fill_mark(m, PK_DICT);
    case 'a': return op_fill_one(m, PK_LIST);
    case 'e': return op_fill_mark(m, PK_LIST);
    case '0': /* POP */
        return pop(m, &v);
    default: {
        char what[160];
        snprintf(what, sizeof what, "the pickle uses %s (opcode 0x%02x), which a state_dict never needs: refused, "
                 "nothing was run", opname(op), op);
        return fail(m, IMPASTO_ERR_UNSUPPORTED, what);
    }
    }
}

void pickle_free(pickle *pk) {
    if (!pk) return;
    for (size_t i = 0; i < pk->nobj; i++) free(pk->obj[i].items);
    free(pk->obj);
    free(pk->storages);
    free(pk->tensors);
    memset(pk, 0, sizeof *pk);
}

impasto_status pickle_load(impasto_ctx *ctx, const unsigned char *bytes, size_t size, const char *file,
                           pickle *pk) {
    memset(pk, 0, sizeof *pk);
    vm m;
    memset(&m, 0, sizeof m);
    m.ctx = ctx;
    m.file = file;
    m.p = bytes;
    m.n = size;
    m.pk = pk;
    impasto_status s = IMPASTO_OK;
    int stop = 0;
    if (size == 0) s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the pickle is empty", file);
    while (s == IMPASTO_OK && !stop) {
        if (m.pos >= m.n) {
            m.op_pos = m.pos;
            s = fail(&m, IMPASTO_ERR_FORMAT, "the pickle ends before its STOP: truncated");
            break;
        }
        s = step(&m, &stop);
    }
    pk->end = m.pos;
    free(m.stack);
    free(m.memo);
    if (s != IMPASTO_OK) pickle_free(pk);
    return s;
}

const pk_obj *pk_get(const pickle *pk, uint32_t id) { return id < pk->nobj ? &pk->obj[id] : NULL; }

int pk_str_is(const pk_obj *o, const char *s) {
    return o && o->type == PK_STR && o->len == strlen(s) && memcmp(o->s, s, o->len) == 0;
}

const pk_obj *pk_dict_get(const pickle *pk, const pk_obj *d, const char *key) {
    if (!d || d->type != PK_DICT) return NULL;
    for (uint32_t i = 0; i + 1 < d->n; i += 2)
        if (pk_str_is(pk_get(pk, d->items[i]), key)) return pk_get(pk, d->items[i + 1]);
    return NULL;
}
