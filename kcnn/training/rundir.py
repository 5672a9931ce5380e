"""Writing a run directory safely: every file through `replacing` (a temporary file in the same
directory, flushed to disk, then renamed over the final name, so a kill or a full disk never
leaves a half-written file under a final name), one trainer at a time (`locked`), and file-system
errors said in one line (`RunDirError`).
"""

import contextlib
import errno
import glob
import json
import os
import tempfile

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None

LOCK = ".lock"  # holds the process id of the trainer using the directory
PARTIAL = ".partial"  # in the names of the temporary files `replacing` writes


class RunDirError(OSError, ValueError):
    """The run directory cannot be used or written: an OSError that reads as one line (and,
    as a ValueError, ends `kcnn train` with exit status 2)."""

    def __str__(self):
        return self.args[0] if self.args else ""


class RunDirBusy(RunDirError):
    """Another trainer holds the run directory's lock."""


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path in `path`'s directory with the same extension; when the block ends
    without an error, flush that file to disk and rename it to `path` (an atomic replace), else
    remove it. Readers see the old file or the new one, never a part of one.

        with replacing("run/model.keras") as tmp:
            model.save(tmp)
    """
    directory, name = os.path.split(os.path.abspath(path))
    extension = ".weights.h5" if name.endswith(".weights.h5") else os.path.splitext(name)[1]
    handle, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=PARTIAL + extension, dir=directory)
    os.close(handle)
    os.chmod(tmp, 0o666 & ~_umask())  # what open() would give, not mkstemp's 0o600
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync(directory)  # the rename itself


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path):
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_text(path, text):
    """Write `text` to `path` through `replacing`."""
    with replacing(path) as tmp, open(tmp, "w") as f:
        f.write(text)
    return path


def write_json(path, value, **options):
    """Write `value` as JSON (json.dumps' `options`, then a newline) through `replacing`."""
    return write_text(path, json.dumps(value, **options) + "\n")


def remove_partial_files(directory):
    """Remove the temporary files a killed writer left in `directory` and its subfolders one
    level down; returns their paths."""
    found = glob.glob(os.path.join(directory, f".*{PARTIAL}*")) + \
        glob.glob(os.path.join(directory, "*", f".*{PARTIAL}*"))
    for path in found:
        with contextlib.suppress(OSError):
            os.remove(path)
    return found


@contextlib.contextmanager
def locked(run_dir):
    """Create `run_dir` if needed and hold its lock while the block runs: an flock on
    run_dir/.lock, which holds the process id. The kernel releases an flock when its process
    dies, so a lock left by a dead process is simply taken; the file is removed at the end, and
    so is `run_dir` if this call created it and the block left nothing in it (a run that failed
    before it wrote anything, such as a data set that was not found, leaves no empty folder).

    Raises:
        RunDirBusy: another process holds the lock (the message names its process id).
        RunDirError: `run_dir` is a file, or cannot be created or written.
    """
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise RunDirError(f"the run directory {run_dir} is a file; choose a directory "
                          "(--run-dir DIR)")
    path = os.path.join(run_dir, LOCK)
    created = not os.path.exists(run_dir)
    try:
        os.makedirs(run_dir, exist_ok=True)
        handle = _take(path, run_dir)
    except OSError as error:
        raise describe(error, run_dir) from error
    try:
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        yield run_dir
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)  # still locked: a trainer that opened it now sees it was replaced
        os.close(handle)  # releases the lock
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(run_dir)  # fails, as it should, unless the run left the folder empty


def _take(path, run_dir):
    """An open, flocked descriptor of `path` (the file that is there now, not one removed by
    the holder that just finished)."""
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:
            return handle
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"
            os.close(handle)
            raise RunDirBusy(
                f"{run_dir} is in use by another kcnn train (process {holder}); wait for it "
                "to end or choose another --run-dir") from None
        try:
            if os.stat(path).st_ino == os.fstat(handle).st_ino:
                return handle
        except FileNotFoundError:
            pass
        os.close(handle)  # locked a file its holder removed on the way out: take the new one


FULL_OR_READ_ONLY = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                     errno.EFBIG: "the file is too large for the file system",
                     errno.EROFS: "the file system is read-only"}
REFUSED = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
           errno.ENOTDIR: "a part of the path is a file, not a directory",
           errno.EISDIR: "a directory stands where a file is written"}


def concerns(error, run_dir):
    """True if the OSError `error` is about writing in `run_dir`: a full or read-only disk, or
    a file inside `run_dir` (not, say, an unreadable input image)."""
    if isinstance(error, RunDirError) or error.errno in FULL_OR_READ_ONLY:
        return True
    if error.filename:
        inside = os.path.abspath(os.fsdecode(error.filename))
        return os.path.commonpath([inside, os.path.abspath(run_dir)]) == os.path.abspath(run_dir)
    return "No space left" in str(error) or "Read-only file system" in str(error)


def _final_name(path):
    """The file a `replacing` temporary file stands for (other paths as they are)."""
    directory, name = os.path.split(path)
    if name.startswith(".") and PARTIAL in name:
        return os.path.join(directory, name[1:].split(PARTIAL)[0].rsplit(".", 1)[0])
    return path


def describe(error, run_dir):
    """A RunDirError that says in one line what went wrong writing in `run_dir` (an OSError)."""
    if isinstance(error, RunDirError):
        return error
    what = {**FULL_OR_READ_ONLY, **REFUSED}.get(error.errno) or (
        "the disk is full" if "No space left" in str(error) else
        "the file system is read-only" if "Read-only file system" in str(error) else
        error.strerror or str(error).splitlines()[0])
    where = f" ({_final_name(os.fsdecode(error.filename))})" if error.filename else ""
    return RunDirError(f"cannot write to the run directory {run_dir}: {what}{where}; the run "
                       "so far is kept: fix this and run the same command again")
