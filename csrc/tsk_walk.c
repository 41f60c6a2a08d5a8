/* hashsift's walk over a disk image with The Sleuth Kit (libtsk).
 *
 * The image's bytes come from hashsift (a callback: hashsift opens the evidence itself, without
 * moving its access time, and decodes EWF); TSK finds the volumes (MBR, GPT...) or takes the
 * image as one file system, and every file system's names, allocated and deleted. Each name is
 * handed to hashsift, which answers whether it wants the content; the content of each data
 * stream (NTFS alternate streams included) is then handed over in order.
 *
 * This runs in a child process (`hashsift __image-worker`): a crash in TSK on a crafted image
 * ends the child, never the scan. Nothing here writes anywhere. */

#include <stdint.h>
#include <string.h>
#include <tsk/libtsk.h>

/* Exported by libtsk, declared in a header it does not install. */
extern void tsk_deinit_lock(tsk_lock_t *);

typedef ssize_t (*hs_read_fn)(void *ctx, uint64_t offset, char *buf, size_t len);

enum {
    HS_DELETED = 1,   /* the name is not allocated */
    HS_REALLOC = 2,   /* ... and its metadata is in use again: by another file */
    HS_NO_META = 4,   /* a name whose metadata could not be read */
    HS_STREAM = 8,    /* a named data stream (NTFS alternate data stream) */
    HS_META_FREE = 16 /* the metadata is not allocated (deleted, or never used) */
};

/* One name of a file system, and one of its data streams when it has several. */
typedef struct {
    const char *parent; /* the directory's path from the file system's root, "" or "a/b/" */
    const char *name;
    const char *stream; /* the stream's name, or NULL */
    uint64_t inode;
    uint32_t attr_type; /* TSK_FS_ATTR_TYPE_*, 0 with no stream */
    uint32_t attr_id;
    uint32_t meta_type; /* TSK_FS_META_TYPE_*, 0 with no metadata */
    uint32_t flags;     /* HS_* */
    int64_t size;       /* the stream's (or the file's) size, -1 when unknown */
    int64_t mtime, atime, ctime, crtime, dtime; /* seconds since 1970 UTC, 0 when not known */
    uint32_t mtime_nano, atime_nano, ctime_nano, crtime_nano;
} hs_entry;

/* One run of a stream's content (see `runs` below). */
typedef struct {
    uint64_t offset;
    uint64_t addr;
    uint64_t len;
    uint32_t flags;
} hs_run;

typedef struct {
    void *ctx;
    /* A file system about to be walked: the volume's number (-1: the image itself), its
     * start and length in bytes, its description, and the file system's type or why none
     * opens. Returns nonzero to stop. */
    int (*volume)(void *ctx, int64_t index, uint64_t start, uint64_t length, const char *desc,
                  const char *fs_type, const char *error);
    /* A name: returns 1 to be given its content, 0 not, -1 to stop. */
    int (*entry)(void *ctx, const hs_entry *e);
    /* A piece of the content, in order. Returns 0 for more, 2 when enough of this content was
     * given (its end follows), anything else to stop. */
    int (*data)(void *ctx, const char *buf, size_t len);
    /* Where the content lies instead of the content itself: its runs, each `len` bytes at
     * `offset` of the file stored at `addr` of the media (flag 1: reads as zeros), the
     * stream's size and initialised size (bytes past it read as zeros). Returns 1 when taken
     * (no data and no end follow), 0 to be given the data, anything else to stop. */
    int (*runs)(void *ctx, const hs_run *runs, size_t n, uint64_t size, uint64_t initsize);
    /* The end of the content: the bytes given, and why it ended early (NULL when whole).
     * Returns nonzero to stop. */
    int (*end)(void *ctx, uint64_t bytes, const char *error);
} hs_callbacks;

typedef struct {
    TSK_IMG_INFO img; /* first: TSK takes a pointer to this for the whole */
    void *ctx;
    hs_read_fn read;
} hs_image;

static ssize_t image_read(TSK_IMG_INFO *img, TSK_OFF_T off, char *buf, size_t len)
{
    hs_image *h = (hs_image *)img;
    if (off < 0)
        return -1;
    return h->read(h->ctx, (uint64_t)off, buf, len);
}

static void image_close(TSK_IMG_INFO *img)
{
    tsk_deinit_lock(&img->cache_lock);
    tsk_error_reset();
    free(img);
}

static void image_stat(TSK_IMG_INFO *img, FILE *out)
{
    (void)img;
    (void)out;
}

typedef struct {
    const hs_callbacks *cb;
    int stopped;
    char buf[1 << 20];
} walk_state;

static const char *tsk_reason(void)
{
    const char *e = tsk_error_get();
    return e && *e ? e : "unknown error";
}

/* Hands one stream of `f` (or the name alone when `a` is NULL) to the callbacks. */
static int one(walk_state *w, TSK_FS_FILE *f, const char *parent, const TSK_FS_ATTR *a)
{
    const TSK_FS_NAME *n = f->name;
    const TSK_FS_META *m = f->meta;
    hs_entry e;
    memset(&e, 0, sizeof e);
    e.parent = parent ? parent : "";
    e.name = n->name ? n->name : "";
    e.inode = m ? m->addr : n->meta_addr;
    e.size = -1;
    if (n->flags & TSK_FS_NAME_FLAG_UNALLOC) {
        e.flags |= HS_DELETED;
        /* The rule of TSK's own fls: a deleted name whose metadata is in use again. */
        if (m && (m->flags & TSK_FS_META_FLAG_ALLOC))
            e.flags |= HS_REALLOC;
    }
    if (!m) {
        e.flags |= HS_NO_META;
    } else {
        e.meta_type = (uint32_t)m->type;
        if (m->flags & TSK_FS_META_FLAG_UNALLOC)
            e.flags |= HS_META_FREE;
        e.size = (int64_t)m->size;
        e.mtime = (int64_t)m->mtime;
        e.atime = (int64_t)m->atime;
        e.ctime = (int64_t)m->ctime;
        e.crtime = (int64_t)m->crtime;
        e.mtime_nano = m->mtime_nano;
        e.atime_nano = m->atime_nano;
        e.ctime_nano = m->ctime_nano;
        e.crtime_nano = m->crtime_nano;
        if (TSK_FS_TYPE_ISEXT(f->fs_info->ftype))
            e.dtime = (int64_t)m->time2.ext2.dtime;
    }
    if (a) {
        e.attr_type = (uint32_t)a->type;
        e.attr_id = a->id;
        e.size = (int64_t)a->size;
        if (a->name && *a->name && a->type == TSK_FS_ATTR_TYPE_NTFS_DATA) {
            e.stream = a->name;
            e.flags |= HS_STREAM;
        }
    }
    int want = w->cb->entry(w->cb->ctx, &e);
    if (want < 0)
        return -1;
    if (want == 0 || !a)
        return 0;
    /* A stream stored plainly in blocks: its runs, for hashsift to read from the media. */
    if ((a->flags & TSK_FS_ATTR_NONRES) && !f->fs_info->decrypt_block
        && !(a->flags & (TSK_FS_ATTR_COMP | TSK_FS_ATTR_ENC | TSK_FS_ATTR_SPARSE))) {
        size_t n = 0, cap = 64;
        hs_run *runs = (hs_run *)malloc(cap * sizeof *runs);
        int plain = runs != NULL;
        uint64_t bs = f->fs_info->block_size;
        for (const TSK_FS_ATTR_RUN *r = a->nrd.run; r && plain; r = r->next) {
            if (r->flags & ~(TSK_FS_ATTR_RUN_FLAG_SPARSE | TSK_FS_ATTR_RUN_FLAG_FILLER)) {
                plain = 0;
                break;
            }
            if (n == cap) {
                hs_run *more = n < (1u << 20) ? (hs_run *)realloc(runs, 2 * cap * sizeof *runs)
                                              : NULL;
                if (!more) {
                    plain = 0;
                    break;
                }
                runs = more;
                cap *= 2;
            }
            runs[n].offset = (uint64_t)r->offset * bs;
            runs[n].addr = (uint64_t)f->fs_info->offset + (uint64_t)r->addr * bs;
            runs[n].len = (uint64_t)r->len * bs;
            runs[n].flags = (r->flags & (TSK_FS_ATTR_RUN_FLAG_SPARSE | TSK_FS_ATTR_RUN_FLAG_FILLER))
                                ? 1 : 0;
            n++;
        }
        if (plain) {
            int taken = w->cb->runs(w->cb->ctx, runs, n, (uint64_t)a->size,
                                    (uint64_t)a->nrd.initsize);
            free(runs);
            if (taken == 1)
                return 0;
            if (taken != 0)
                return -1;
        } else {
            free(runs);
        }
    }
    /* The content, as the file system describes it now. */
    TSK_OFF_T off = 0;
    const char *error = NULL;
    while (off < a->size) {
        size_t len = sizeof w->buf;
        if ((TSK_OFF_T)len > a->size - off)
            len = (size_t)(a->size - off);
        ssize_t got = tsk_fs_attr_read(a, off, w->buf, len, TSK_FS_FILE_READ_FLAG_NONE);
        if (got == 0 && (a->flags & TSK_FS_ATTR_NONRES) && off >= a->nrd.initsize) {
            /* Past the runs TSK holds, and past the initialised size: the stream reads as
             * zeros there (NTFS's sparse $BadClus:$Bad is all such). */
            memset(w->buf, 0, len);
            got = (ssize_t)len;
        }
        if (got <= 0) {
            error = got < 0 ? tsk_reason() : "the file system gives no more of it";
            break;
        }
        int more = w->cb->data(w->cb->ctx, w->buf, (size_t)got);
        off += got;
        if (more == 2)
            break;
        if (more)
            return -1;
    }
    int stop = w->cb->end(w->cb->ctx, (uint64_t)off, error);
    tsk_error_reset();
    return stop ? -1 : 0;
}

static TSK_WALK_RET_ENUM visit(TSK_FS_FILE *f, const char *parent, void *ptr)
{
    walk_state *w = (walk_state *)ptr;
    if (!f->name || !f->name->name || TSK_FS_ISDOT(f->name->name))
        return TSK_WALK_CONT;
    int streams = 0;
    if (f->meta && f->meta->type == TSK_FS_META_TYPE_REG) {
        int count = tsk_fs_file_attr_getsize(f);
        for (int i = 0; i < count; i++) {
            const TSK_FS_ATTR *a = tsk_fs_file_attr_get_idx(f, i);
            if (!a || !(a->type == TSK_FS_ATTR_TYPE_DEFAULT
                        || a->type == TSK_FS_ATTR_TYPE_NTFS_DATA
                        || a->type == TSK_FS_ATTR_TYPE_HFS_DATA))
                continue;
            streams++;
            if (one(w, f, parent, a) < 0) {
                w->stopped = 1;
                return TSK_WALK_STOP;
            }
        }
        tsk_error_reset();
    }
    if (!streams && one(w, f, parent, NULL) < 0) {
        w->stopped = 1;
        return TSK_WALK_STOP;
    }
    return TSK_WALK_CONT;
}

/* Walks one file system; nonzero when stopped. */
static int walk_fs(walk_state *w, TSK_FS_INFO *fs)
{
    TSK_FS_DIR_WALK_FLAG_ENUM flags = (TSK_FS_DIR_WALK_FLAG_ENUM)(
        TSK_FS_DIR_WALK_FLAG_ALLOC | TSK_FS_DIR_WALK_FLAG_UNALLOC | TSK_FS_DIR_WALK_FLAG_RECURSE);
    if (tsk_fs_dir_walk(fs, fs->root_inum, flags, visit, w) && !w->stopped) {
        /* The walk broke off (a damaged directory): said as a volume-level error. */
        w->stopped = w->cb->volume(w->cb->ctx, -2, 0, 0, "", "", tsk_reason());
        tsk_error_reset();
    }
    return w->stopped;
}

/* Walks the image of `size` bytes read through `read`. Returns 0 when walked (errors of
 * volumes and files having been handed over), 1 when no volume or file system opens (`err`
 * says why), 2 when a callback stopped it, 3 when out of memory. */
int hs_walk(void *read_ctx, hs_read_fn read, uint64_t size, const hs_callbacks *cb, char *err,
            size_t errlen)
{
    hs_image *h = (hs_image *)calloc(1, sizeof *h);
    walk_state *w = (walk_state *)calloc(1, sizeof *w);
    if (!h || !w) {
        free(h);
        free(w);
        return 3;
    }
    h->ctx = read_ctx;
    h->read = read;
    w->cb = cb;
    TSK_IMG_INFO *img = tsk_img_open_external(h, (TSK_OFF_T)size, 512, image_read,
                                              image_close, image_stat);
    if (!img) {
        snprintf(err, errlen, "%s", tsk_reason());
        free(h);
        free(w);
        return 1;
    }
    int result = 0;
    TSK_VS_INFO *vs = tsk_vs_open(img, 0, TSK_VS_TYPE_DETECT);
    if (vs) {
        for (TSK_PNUM_T i = 0; i < vs->part_count && !w->stopped; i++) {
            const TSK_VS_PART_INFO *p = tsk_vs_part_get(vs, i);
            if (!p || !(p->flags & TSK_VS_PART_FLAG_ALLOC))
                continue;
            uint64_t start = (uint64_t)p->start * vs->block_size;
            uint64_t length = (uint64_t)p->len * vs->block_size;
            TSK_FS_INFO *fs = tsk_fs_open_vol(p, TSK_FS_TYPE_DETECT);
            if (!fs) {
                w->stopped = cb->volume(cb->ctx, (int64_t)p->addr, start, length,
                                        p->desc ? p->desc : "", "", tsk_reason());
                tsk_error_reset();
                continue;
            }
            w->stopped = cb->volume(cb->ctx, (int64_t)p->addr, start, length,
                                    p->desc ? p->desc : "", tsk_fs_type_toname(fs->ftype), NULL);
            if (!w->stopped)
                walk_fs(w, fs);
            tsk_fs_close(fs);
        }
        tsk_vs_close(vs);
    } else {
        tsk_error_reset();
        TSK_FS_INFO *fs = tsk_fs_open_img(img, 0, TSK_FS_TYPE_DETECT);
        if (!fs) {
            snprintf(err, errlen, "no partition table and no file system found: %s",
                     tsk_reason());
            result = 1;
        } else {
            w->stopped = cb->volume(cb->ctx, -1, 0, size, "", tsk_fs_type_toname(fs->ftype),
                                    NULL);
            if (!w->stopped)
                walk_fs(w, fs);
            tsk_fs_close(fs);
        }
    }
    if (w->stopped)
        result = 2;
    tsk_img_close(img);
    free(w);
    tsk_error_reset();
    return result;
}
