#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Differential test: ktailor against the kernel's own C Kconfig.

Every case runs the same configuration step twice on a real kernel tree:
once with the kernel's C `conf` (through `make`, as a user would: the
*oracle*) and once with `ktailor kconfig`, then compares the files they wrote
byte for byte, and their exit status (zero against non-zero).

What this is not: a unit test of ktailor, a judge of ktailor's diagnostics
(when both sides fail, the messages are not compared), or a builder of trees
(scripts/setup-trees.sh prepares the trees, Debian's configs and the oracle's
object directories).

The matrix (case names are stable, e.g. `6.12/x86/olddefconfig/config.amd64_none_amd64`):

  olddefconfig    Debian's configs through olddefconfig on their own tree
  savedefconfig   Debian's configs through savedefconfig (the written defconfig)
  defconfig       arch/*/configs/*defconfig through defconfig, and `default`:
                  the arch's default defconfig (`make defconfig`)
  allnoconfig, allyesconfig, allmodconfig, alldefconfig, tinyconfig
                  per arch
  randconfig      the oracle's `make randconfig` with KCONFIG_SEED=N, then both
                  sides run olddefconfig on that config
  randconfig-self both sides run randconfig with KCONFIG_SEED=N (full only)
  kconfig-tests   the scenarios of scripts/kconfig/tests, mirroring the
                  invocations of their pytest files, with the C conf run directly

Oracle results are cached under TREES/oracle-cache (see `oracle_key` for what
the key covers), so a second run spends its time in ktailor only.

Exit status: 0 nothing failed, 1 some case failed, 2 the harness could not run.
The last line of stdout is always `difftest: N passed, M failed[, K not-run]`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import difflib
import fcntl
import gzip
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from binpath import release_bin

REPO = Path(__file__).resolve().parent.parent
TREE_VERSIONS = ("6.12", "6.1")

# Bump when the oracle invocation or the cached record changes meaning.
CACHE_PROTOCOL = 1

ORACLE_TIMEOUT = 900
KTAILOR_TIMEOUT = 600
DIFF_LINES = 60
STDERR_LINES = 60

CI_SEEDS = range(1, 41)
FULL_SEEDS = range(1, 201)
SELF_SEEDS = range(1, 21)
CI_ALL_TARGETS = ("allnoconfig", "allyesconfig", "tinyconfig")
FULL_ALL_TARGETS = ("allnoconfig", "allyesconfig", "allmodconfig", "alldefconfig", "tinyconfig")
CI_ARCHES = ("x86", "arm64")

# Variables that would make the two sides see different worlds, or let make
# inherit a parent make's jobserver. Everything else is passed through as is.
STRIPPED_ENV_PREFIXES = ("KCONFIG_",)
STRIPPED_ENV = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS",
                "MAKE_TERMOUT", "MAKE_TERMERR"}

# Environment that can change what make + Kconfig compute (Kconfig files call
# $(CC), $(LD), $(RUSTC), ... and kbuild reads the rest); part of the cache key.
KEYED_ENV = {"PATH", "CC", "HOSTCC", "CXX", "HOSTCXX", "LD", "HOSTLD", "AR", "NM", "AS", "CPP",
             "OBJCOPY", "OBJDUMP", "READELF", "STRIP", "CROSS_COMPILE", "LLVM", "LLVM_IAS",
             "RUSTC", "HOSTRUSTC", "BINDGEN", "PAHOLE", "RUSTFMT", "CLIPPY_DRIVER", "SUBARCH",
             "SRCARCH", "ARCH", "LOCALVERSION", "KERNELRELEASE", "KERNELVERSION", "LANG",
             "LC_ALL", "LC_CTYPE", "PYTHON3", "PERL", "srctree", "objtree"}
KEYED_ENV_PREFIXES = ("KBUILD_", "KCONFIG_", "KCFLAGS", "KCPPFLAGS", "KAFLAGS", "KRUSTFLAGS",
                      "HOSTCFLAGS", "HOSTLDFLAGS", "HOSTRUSTFLAGS", "CONFIG_")

# ktailor's answer to a mode it does not implement (clap's wording and ours).
UNSUPPORTED_RE = re.compile(
    r"unsupported|not supported|unrecognized|unknown|invalid value|not (yet )?implemented",
    re.IGNORECASE)
INTERACTIVE_MODES = ("oldaskconfig", "oldconfig")


def log(msg: str) -> None:
    print(f"difftest: {msg}", file=sys.stderr, flush=True)


# --- trees ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Tree:
    """One unpacked kernel source tree and its prepared oracle object dir."""

    version: str  # "6.12"
    src: Path
    obj: Path  # holds the built scripts/kconfig/conf; copied for each worker
    configs: Path  # Debian's configs for this tree, decompressed
    fingerprint: str  # identifies the tree's content for the oracle cache

    @property
    def conf(self) -> Path:
        return self.obj / "scripts" / "kconfig" / "conf"

    def arches(self) -> list[str]:
        return sorted(p.parent.name for p in (self.src / "arch").glob("*/Kconfig"))


def load_tree(trees: Path, version: str) -> Tree:
    src = trees / f"linux-source-{version}"
    obj = trees / f"obj-{version}"
    tree = Tree(version, src, obj, trees / "configs" / version, "")
    if not (src / "Makefile").is_file() or not tree.conf.is_file():
        raise SetupError(f"{src} or {tree.conf} is missing; run scripts/setup-trees.sh "
                         f"(with KTAILOR_TREES={trees} if that is not the default)")
    makefile = src / "Makefile"
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION) = ?(.*)$",
                             makefile.read_text(errors="replace"), re.MULTILINE))
    release = "{VERSION}.{PATCHLEVEL}.{SUBLEVEL}{EXTRAVERSION}".format(**{
        k: fields.get(k, "") for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION")})
    stamp = trees / f".linux-source-{version}.unpacked"
    stamp_text = stamp.read_text() if stamp.is_file() else ""
    fingerprint = f"{release} {makefile.stat().st_mtime_ns} {stamp_text.strip()}"
    return dataclasses.replace(tree, fingerprint=fingerprint)


class SetupError(Exception):
    """The harness cannot run (missing trees, binary, ...): exit 2."""


# --- cases ----------------------------------------------------------------------


@dataclasses.dataclass
class KTest:
    """One invocation of conf by a scripts/kconfig/tests scenario (see conftest.py)."""

    testdir: Path
    mode: str  # conf's long option without dashes: oldaskconfig, defconfig, ...
    dot_config: str | None = None  # copied to .config before running
    in_keys: str | None = None
    defconfig: str | None = None
    all_config: str | None = None  # KCONFIG_ALLCONFIG
    seed: int | None = None  # KCONFIG_SEED, as hex() like conftest.py
    # Upstream assertions after this invocation: (method, expected file name).
    checks: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def interactive(self) -> bool:
        return self.mode in INTERACTIVE_MODES

    @property
    def out_file(self) -> str | None:
        return {"savedefconfig": "defconfig", "listnewconfig": None}.get(self.mode, ".config")


@dataclasses.dataclass
class Case:
    name: str
    category: str
    tree: Tree
    arch: str = ""
    target: str = ""  # the kconfig target both sides run
    input: Path | None = None  # config copied into the case's config file first
    defconfig: str | None = None  # file name in arch/ARCH/configs; None = arch default
    seed: int | None = None
    ktest: KTest | None = None
    not_run: str | None = None  # reason, when known before running


def debian_configs(tree: Tree) -> list[Path]:
    return sorted(p for p in tree.configs.glob("config.*") if not p.name.endswith(".xz"))


def arch_defconfigs(tree: Tree, arch: str) -> list[str]:
    """Top-level arch/ARCH/configs/*defconfig files (subdirectories are not listed)."""
    configs = tree.src / "arch" / arch / "configs"
    return sorted(p.name for p in configs.glob("*defconfig") if p.is_file())


def build_matrix(trees: dict[str, Tree], slice_name: str) -> list[Case]:
    full = slice_name == "full"
    cases: list[Case] = []
    for ver, tree in trees.items():
        for cfg in debian_configs(tree):
            for target in ("olddefconfig", "savedefconfig"):
                cases.append(Case(f"{ver}/x86/{target}/{cfg.name}", target, tree, "x86",
                                  target, input=cfg))

    for ver, tree in trees.items():
        for arch in tree.arches():
            if full or ver == "6.12":
                cases.append(Case(f"{ver}/{arch}/defconfig/default", "defconfig", tree, arch,
                                  "defconfig"))
            for name in arch_defconfigs(tree, arch):
                # `make defconfig` is the arch default, covered above.
                if name == "defconfig":
                    continue
                if full or (ver == "6.1" and arch == "x86" and name == "x86_64_defconfig"):
                    cases.append(Case(f"{ver}/{arch}/defconfig/{name}", "defconfig", tree, arch,
                                      "defconfig", defconfig=name))

    for ver, tree in trees.items():
        for arch in tree.arches():
            if not full and arch not in CI_ARCHES:
                continue
            for target in FULL_ALL_TARGETS if full else CI_ALL_TARGETS:
                cases.append(Case(f"{ver}/{arch}/{target}", target, tree, arch, target))

    for ver, tree in trees.items():
        for arch in ("x86", "arm64"):
            if not full and (ver, arch) != ("6.12", "x86"):
                continue
            for seed in FULL_SEEDS if full else CI_SEEDS:
                cases.append(Case(f"{ver}/{arch}/randconfig/seed-{seed}", "randconfig", tree,
                                  arch, "olddefconfig", seed=seed))
            if full:
                for seed in SELF_SEEDS:
                    cases.append(Case(f"{ver}/{arch}/randconfig-self/seed-{seed}",
                                      "randconfig-self", tree, arch, "randconfig", seed=seed))

    for ver, tree in trees.items():
        cases.extend(kconfig_test_cases(tree))
    return cases


# --- scripts/kconfig/tests --------------------------------------------------------


class _AnyStatus:
    """An exit status equal and unequal to everything, so that a test's
    `assert conf.oldaskconfig() == 0` passes while we only record the call."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = None  # type: ignore[assignment]


class _Recorder:
    """Stands in for conftest.py's `Conf`: records each conf invocation and
    the assertions that follow it instead of running anything. Mirrors the
    conftest.py of 6.1 and 6.12 (6.12 added randconfig's `seed`)."""

    def __init__(self, testdir: Path):
        self.testdir = testdir
        self.calls: list[KTest] = []

    def _run(self, mode: str, **kw: object) -> _AnyStatus:
        self.calls.append(KTest(self.testdir, mode, **kw))  # type: ignore[arg-type]
        return _AnyStatus()

    def oldaskconfig(self, dot_config=None, in_keys=None):
        return self._run("oldaskconfig", dot_config=dot_config, in_keys=in_keys)

    def oldconfig(self, dot_config=None, in_keys=None):
        return self._run("oldconfig", dot_config=dot_config, in_keys=in_keys)

    def olddefconfig(self, dot_config=None):
        return self._run("olddefconfig", dot_config=dot_config)

    def defconfig(self, defconfig):
        return self._run("defconfig", defconfig=defconfig)

    def allyesconfig(self, all_config=None):
        return self._run("allyesconfig", all_config=all_config)

    def allmodconfig(self, all_config=None):
        return self._run("allmodconfig", all_config=all_config)

    def allnoconfig(self, all_config=None):
        return self._run("allnoconfig", all_config=all_config)

    def alldefconfig(self, all_config=None):
        return self._run("alldefconfig", all_config=all_config)

    def randconfig(self, all_config=None, seed=None):
        return self._run("randconfig", all_config=all_config, seed=seed)

    def savedefconfig(self, dot_config):
        return self._run("savedefconfig", dot_config=dot_config)

    def listnewconfig(self, dot_config=None):
        return self._run("listnewconfig", dot_config=dot_config)

    def _check(self, method: str, expected: str) -> bool:
        if self.calls:
            self.calls[-1].checks.append((method, expected))
        return True

    def config_contains(self, expected):
        return self._check("config_contains", expected)

    def config_matches(self, expected):
        return self._check("config_matches", expected)

    def stdout_contains(self, expected):
        return self._check("stdout_contains", expected)

    def stdout_matches(self, expected):
        return self._check("stdout_matches", expected)

    def stderr_contains(self, expected):
        return self._check("stderr_contains", expected)

    def stderr_matches(self, expected):
        return self._check("stderr_matches", expected)


def kconfig_test_cases(tree: Tree) -> list[Case]:
    """One case per conf invocation of each test function in scripts/kconfig/tests.

    The test modules are run (they are the tree's own pytest files) with a
    recorder in place of the `conf` fixture. A loop that stops early on a
    result (choice_randomize) runs all its iterations here, which only adds
    seeds. A test function that cannot be mirrored becomes a not-run case.
    """
    root = tree.src / "scripts" / "kconfig" / "tests"
    cases: list[Case] = []
    for init in sorted(root.rglob("__init__.py")):
        testdir = init.parent
        rel = testdir.relative_to(root).as_posix()
        source = init.read_text()
        namespace: dict[str, object] = {"__name__": f"kconfig_tests.{rel.replace('/', '.')}"}
        base = f"{tree.version}/kconfig-tests/{rel}"
        try:
            exec(compile(source, str(init), "exec"), namespace)  # noqa: S102 - the tree's own tests
        except Exception as e:  # noqa: BLE001 - any failure becomes a visible not-run case
            cases.append(Case(base, "kconfig-tests", tree, not_run=f"cannot load {init}: {e!r}"))
            continue
        funcs = [(name, f) for name, f in namespace.items()
                 if name.startswith("test") and callable(f)]
        for func, test in funcs:
            recorder = _Recorder(testdir)
            problem = None
            try:
                test(recorder)
            except AssertionError:
                pass  # a final assert about results we did not produce
            except Exception as e:  # noqa: BLE001
                problem = f"cannot mirror {rel}:{func}: {e!r}"
            if problem or not recorder.calls:
                cases.append(Case(f"{base}/{func}", "kconfig-tests", tree,
                                  not_run=problem or f"{rel}:{func} runs no conf"))
                continue
            seen: dict[str, int] = {}
            for call in recorder.calls:
                name = f"{base}/{func}/{call.mode}"
                if call.seed is not None:
                    name += f"-seed-{call.seed}"
                seen[name] = seen.get(name, 0) + 1
                if seen[name] > 1:
                    name += f"-{seen[name]}"
                cases.append(Case(name, "kconfig-tests", tree, target=call.mode, ktest=call))
    return cases


# --- running things -----------------------------------------------------------------


@dataclasses.dataclass
class Run:
    """One finished process and what it wrote."""

    argv: list[str]
    env_shown: dict[str, str]  # the case-specific environment, shown in reports
    cwd: str
    rc: int
    stdout: str
    stderr: str
    output: bytes | None  # the compared file, None when not written
    seconds: float
    cached: bool = False
    conf_calls: list[str] = dataclasses.field(default_factory=list)

    def command(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env_shown.items())
        cmd = shlex.join(self.argv)
        return f"(cd {shlex.quote(self.cwd)} && {env + ' ' if env else ''}{cmd})"


_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()


def run_process(argv: list[str], env: dict[str, str], shown: dict[str, str], cwd: Path,
                timeout: float, stdin: bytes | None = None) -> Run:
    """Run argv in its own process group, so that a timeout or Ctrl-C can stop
    make together with the conf it started."""
    start = time.monotonic()
    try:
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, process_group=0,
                             stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
    except OSError as e:
        return Run([str(a) for a in argv], shown, str(cwd), -1, "",
                   f"[cannot run {argv[0]}: {e}]", None, 0.0)
    with _live_lock:
        _live.add(p)
    try:
        out, err = p.communicate(stdin, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        kill_group(p)
        out, err = p.communicate()
        rc, err = -1, err + f"\n[killed after {timeout} s]".encode()
    finally:
        with _live_lock:
            _live.discard(p)
    return Run([str(a) for a in argv], shown, str(cwd), rc,
               out.decode(errors="replace"), err.decode(errors="replace"), None,
               time.monotonic() - start)


def kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, 9)
    except ProcessLookupError:
        pass


def kill_all() -> None:
    with _live_lock:
        for p in _live:
            kill_group(p)


def read_if(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class Context:
    """Everything shared by the workers of one run."""

    def __init__(self, args: argparse.Namespace, trees_dir: Path, trees: dict[str, Tree]):
        self.args = args
        self.trees_dir = trees_dir
        self.trees = trees
        self.ktailor = args.ktailor
        self.use_cache = not args.no_oracle_cache
        self.cache_dir = trees_dir / "oracle-cache"
        self.tmp = Path(tempfile.mkdtemp(prefix="ktailor-difftest-"))
        self.base_env = {k: v for k, v in os.environ.items()
                         if k not in STRIPPED_ENV and not k.startswith(STRIPPED_ENV_PREFIXES)}
        self.toolchain = toolchain_fingerprint(self.base_env)
        self._local = threading.local()
        self._memo: dict[str, Run] = {}
        self._memo_lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    # Each worker thread owns one object dir per tree (a copy of TREES/obj-X
    # with conf already built), locked with flock so that concurrent difftest
    # runs do not share one.
    def worker_obj(self, tree: Tree) -> Path:
        slots = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {}
        if tree.version in slots:
            return slots[tree.version][0]
        base = self.trees_dir / "oracle-obj"
        base.mkdir(parents=True, exist_ok=True)
        i = 0
        while True:
            lock = open(base / f"{tree.version}-{i}.lock", "w")  # noqa: SIM115 - held until exit
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                i += 1
                continue
            break
        obj = base / f"{tree.version}-{i}"
        built = (tree.obj / ".ktailor-conf-built")
        want = built.read_text() if built.is_file() else str(tree.conf.stat().st_mtime_ns)
        marker = obj / ".ktailor-conf-built"
        if not (marker.is_file() and marker.read_text() == want
                and (obj / "scripts" / "kconfig" / "conf").is_file()):
            shutil.rmtree(obj, ignore_errors=True)
            # copy2 keeps mtimes, so make sees conf as up to date.
            shutil.copytree(tree.obj, obj, symlinks=True)
            marker.write_text(want)
        slots[tree.version] = (obj, lock)
        return obj

    def key_lock(self, key: str) -> threading.Lock:
        with self._memo_lock:
            return self._key_locks.setdefault(key, threading.Lock())


def toolchain_fingerprint(env: dict[str, str]) -> list[str]:
    """Versions of the tools Kconfig asks about ($(CC) --version and friends)."""
    cross = env.get("CROSS_COMPILE", "")
    llvm = env.get("LLVM", "")
    tools = [env.get("CC") or ("clang" if llvm else f"{cross}gcc"),
             env.get("LD") or ("ld.lld" if llvm else f"{cross}ld"),
             env.get("RUSTC", "rustc"), env.get("BINDGEN", "bindgen"),
             env.get("PAHOLE", "pahole"), env.get("HOSTCC", "gcc")]
    out = [platform.machine(), platform.release()]
    for tool in tools:
        path = shutil.which(tool, path=env.get("PATH"))
        if not path:
            out.append(f"{tool}: absent")
            continue
        try:
            p = subprocess.run([path, "--version"], capture_output=True, timeout=30, env=env,
                               stdin=subprocess.DEVNULL)
            version = (p.stdout or p.stderr).decode(errors="replace").splitlines()[:1]
        except (OSError, subprocess.TimeoutExpired):
            version = ["?"]
        out.append(f"{tool}: {path} {os.stat(path).st_mtime_ns} {' '.join(version)}")
    return out


def oracle_key(ctx: Context, tree: Tree, arch: str, make_target: str, input_hash: str | None,
               extra_env: dict[str, str]) -> str:
    env = {k: v for k, v in {**ctx.base_env, **extra_env}.items()
           if k in KEYED_ENV or k.startswith(KEYED_ENV_PREFIXES)}
    blob = json.dumps({"protocol": CACHE_PROTOCOL, "tree": tree.fingerprint,
                       "version": tree.version, "arch": arch, "target": make_target,
                       "input": input_hash, "env": env, "toolchain": ctx.toolchain},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def oracle_make(ctx: Context, tree: Tree, arch: str, make_target: str, config: bytes | None,
                extra_env: dict[str, str], output: str = "config") -> Run:
    """`make -C SRC O=OBJ ARCH=A KCONFIG_CONFIG=FILE TARGET`, cached.

    output: "config" compares FILE afterwards, "defconfig" compares OBJ/defconfig
    (what savedefconfig writes).
    """
    input_hash = hashlib.sha256(config).hexdigest() if config is not None else None
    key = oracle_key(ctx, tree, arch, make_target, input_hash, extra_env) + "-" + output
    with ctx.key_lock(key):
        with ctx._memo_lock:
            if key in ctx._memo:
                return dataclasses.replace(ctx._memo[key], cached=True)
        path = ctx.cache_dir / key[:2] / f"{key}.json.gz"
        if ctx.use_cache and path.is_file():
            try:
                run = load_run(path)
                with ctx._memo_lock:
                    ctx._memo[key] = run
                return run
            except (OSError, ValueError, KeyError, EOFError) as e:
                log(f"ignoring unreadable cache entry {path}: {e}")
        run = _oracle_make(ctx, tree, arch, make_target, config, extra_env, output)
        # A run that was killed (timeout, signal) or did not start says
        # nothing about Kconfig: never cache it.
        if ctx.use_cache and run.rc >= 0:
            store_run(path, run)
        with ctx._memo_lock:
            ctx._memo[key] = run
        return run


def _oracle_make(ctx: Context, tree: Tree, arch: str, make_target: str, config: bytes | None,
                 extra_env: dict[str, str], output: str) -> Run:
    obj = ctx.worker_obj(tree)
    with tempfile.TemporaryDirectory(dir=ctx.tmp, prefix="oracle-") as td:
        cfg = Path(td) / "config"
        if config is not None:
            cfg.write_bytes(config)
        defconfig_out = obj / "defconfig"
        defconfig_out.unlink(missing_ok=True)
        # V=1 makes make echo the conf command lines, which tells a plain
        # `conf --defconfig=FILE` from an arch rule that merges fragments.
        argv = ["make", "-C", str(tree.src), f"O={obj}", f"ARCH={arch}",
                f"KCONFIG_CONFIG={cfg}", "V=1", make_target]
        run = run_process(argv, {**ctx.base_env, **extra_env}, extra_env, Path(td),
                          ORACLE_TIMEOUT)
        if run.rc == 0:
            run.output = read_if(defconfig_out if output == "defconfig" else cfg)
        defconfig_out.unlink(missing_ok=True)
    run.conf_calls = [m.group(1).strip() for m in
                      re.finditer(r"^\S*scripts/kconfig/conf\s+(.*)$", run.stdout, re.MULTILINE)]
    run.stdout = tail(run.stdout, 40)
    run.stderr = tail(run.stderr, 40)
    return run


def tail(text: str, lines: int) -> str:
    parts = text.splitlines(keepends=True)
    if len(parts) <= lines:
        return text
    return f"[... {len(parts) - lines} lines cut]\n" + "".join(parts[-lines:])


def store_run(path: Path, run: Run) -> None:
    record = dataclasses.asdict(run)
    record["output"] = run.output.decode("latin-1") if run.output is not None else None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        json.dump(record, f)
    os.replace(tmp, path)


def load_run(path: Path) -> Run:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        record = json.load(f)
    if record["output"] is not None:
        record["output"] = record["output"].encode("latin-1")
    record["cached"] = True
    return Run(**record)


def run_ktailor(ctx: Context, argv_tail: list[str], extra_env: dict[str, str], cwd: Path,
                output: Path, stdin: bytes | None = None) -> Run:
    argv = [str(ctx.ktailor), "kconfig", *argv_tail]
    run = run_process(argv, {**ctx.base_env, **extra_env}, extra_env, cwd, KTAILOR_TIMEOUT,
                      stdin)
    run.output = read_if(output)
    return run


# --- cases, one by one ---------------------------------------------------------------


@dataclasses.dataclass
class Result:
    case: Case
    status: str  # "pass", "fail", "not-run"
    report: str = ""  # what to print for fail and not-run
    oracle_seconds: float = 0.0
    oracle_runs: int = 0
    oracle_cached: int = 0
    ktailor_seconds: float = 0.0
    oracle_failed: bool = False
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)  # for --keep


def run_case(ctx: Context, case: Case) -> Result:
    if case.not_run:
        return Result(case, "not-run", case.not_run)
    try:
        if case.ktest is not None:
            return run_ktest_case(ctx, case)
        return run_make_case(ctx, case)
    except Exception as e:  # noqa: BLE001 - a harness bug fails one case, not the run
        import traceback
        return Result(case, "fail", "harness error:\n" + traceback.format_exc().rstrip()
                      + f"\n{e!r}")


def account(result: Result, run: Run) -> None:
    result.oracle_runs += 1
    if run.cached:
        result.oracle_cached += 1
    else:
        result.oracle_seconds += run.seconds


def run_make_case(ctx: Context, case: Case) -> Result:
    tree, arch = case.tree, case.arch
    result = Result(case, "pass")
    config = case.input.read_bytes() if case.input else None
    env: dict[str, str] = {}

    if case.category == "randconfig":
        seed_env = {"KCONFIG_SEED": str(case.seed)}
        gen = oracle_make(ctx, tree, arch, "randconfig", None, seed_env)
        account(result, gen)
        if gen.rc != 0 or gen.output is None:
            result.status = "fail"
            result.report = (f"the oracle's randconfig failed, nothing to compare\n"
                             f"  oracle: {gen.command()}\n{indent(gen.stdout + gen.stderr)}")
            return result
        config = gen.output
        result.files["input"] = config
    elif case.category == "randconfig-self":
        env = {"KCONFIG_SEED": str(case.seed)}

    output = "defconfig" if case.target == "savedefconfig" else "config"
    make_target = case.target
    if case.target == "defconfig" and case.defconfig:
        make_target = case.defconfig
    orc = oracle_make(ctx, tree, arch, make_target, config, env, output)
    account(result, orc)
    target_args = [case.target]
    if case.target == "defconfig":
        base, why = defconfig_file(case, orc)
        if base is None:
            result.status, result.report = "not-run", why
            return result
        target_args.append(str(tree.src / "arch" / arch / "configs" / base))
    result.oracle_failed = orc.rc != 0

    with tempfile.TemporaryDirectory(dir=ctx.tmp, prefix="ktailor-") as td:
        kdir = Path(td)
        (kdir / "obj").mkdir()
        cfg = kdir / "config"
        if config is not None:
            cfg.write_bytes(config)
        out_path = cfg
        if case.target == "savedefconfig":
            out_path = kdir / "defconfig"
            target_args += ["--output", str(out_path)]
        argv = [*target_args, "-C", str(tree.src), "--arch", arch, "-O", str(kdir / "obj"),
                "--config", str(cfg)]
        kt = run_ktailor(ctx, argv, env, kdir, out_path)
    result.ktailor_seconds = kt.seconds
    what = "defconfig" if output == "defconfig" else "config"
    return compare(result, orc, kt, what)


def defconfig_file(case: Case, orc: Run) -> tuple[str | None, str]:
    """The file in arch/ARCH/configs that the oracle's make target fed to conf.

    None when the target is an arch Makefile rule (merge_config of fragments,
    a refusal, ...) rather than a plain `conf --defconfig=FILE`: there is then
    no single file to give ktailor.
    """
    prefix = f"--defconfig=arch/{case.arch}/configs/"
    files = [c.split()[0][len(prefix):] for c in orc.conf_calls if c.startswith(prefix)]
    plain = len(orc.conf_calls) == 1 and len(files) == 1
    if case.defconfig is None and plain:
        return files[0], ""
    if case.defconfig is not None and plain and files[0] == case.defconfig:
        return case.defconfig, ""
    name = case.defconfig or "defconfig"
    calls = "; ".join(orc.conf_calls) or "none"
    return None, (f"`make ARCH={case.arch} {name}` is an arch Makefile rule, not a plain "
                  f"defconfig of one file (conf calls: {calls}; oracle exit {orc.rc})")


def compare(result: Result, orc: Run, kt: Run, what: str) -> Result:
    """Exit status zero/non-zero must agree; when both succeed, outputs must be equal."""
    result.files.update({f"oracle.{what}": orc.output or b"", f"ktailor.{what}": kt.output or b"",
                         "oracle.log": (orc.stdout + orc.stderr).encode(),
                         "ktailor.log": (kt.stdout + kt.stderr).encode(),
                         "commands": f"{orc.command()}\n{kt.command()}\n".encode()})
    head = commands_text(orc, kt)
    if (orc.rc == 0) != (kt.rc == 0):
        result.status = "fail"
        if orc.rc == 0:
            result.report = (f"ktailor exited {kt.rc}, the oracle 0\n{head}"
                             f"  ktailor's stderr:\n{indent(tail(kt.stderr, STDERR_LINES))}")
        else:
            result.report = (f"the oracle exited {orc.rc} (failure expected), ktailor 0\n{head}"
                             f"  oracle's output:\n{indent(tail(orc.stdout + orc.stderr, 20))}")
        return result
    if orc.rc != 0:
        return result  # both failed, as expected
    if kt.output is None:
        result.status = "fail"
        result.report = f"ktailor exited 0 but wrote no {what} file\n{head}"
        return result
    if orc.output != kt.output:
        result.status = "fail"
        result.report = (f"{what} differs\n{head}"
                         + unified_diff(orc.output or b"", kt.output, what))
    return result


def commands_text(orc: Run, kt: Run) -> str:
    cached = " (result from the oracle cache)" if orc.cached else ""
    return f"  oracle{cached}:\n    {orc.command()}\n  ktailor:\n    {kt.command()}\n"


def unified_diff(a: bytes, b: bytes, what: str, a_label: str = "oracle") -> str:
    lines = list(difflib.unified_diff(
        a.decode("latin-1").splitlines(keepends=True), b.decode("latin-1").splitlines(keepends=True),
        f"{a_label}/{what}", f"ktailor/{what}"))
    out: list[str] = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    shown = "".join(out).splitlines(keepends=True)
    more = len(shown) - DIFF_LINES
    text = "".join(shown[:DIFF_LINES])
    if more > 0:
        text += f"[... {more} more diff lines]\n"
    return text


def indent(text: str) -> str:
    return "".join(f"    {line}" for line in text.splitlines(keepends=True)) or "    (empty)\n"


def run_ktest_case(ctx: Context, case: Case) -> Result:
    """Run one scripts/kconfig/tests invocation with the C conf and with ktailor.

    Mirrors conftest.py's Conf._run_conf: srctree is the test dir, conf runs in
    a fresh directory with the optional .config, KCONFIG_DEFCONFIG_LIST is empty,
    interactive modes get the given keys and then Enter until the end.
    """
    t = case.ktest
    assert t is not None
    tree = case.tree
    result = Result(case, "pass")
    env = {"srctree": str(t.testdir), "KCONFIG_DEFCONFIG_LIST": ""}
    if t.all_config:
        env["KCONFIG_ALLCONFIG"] = str(t.testdir / t.all_config)
    if t.seed is not None:
        env["KCONFIG_SEED"] = hex(t.seed)
    stdin = ((t.in_keys or "") + "\n" * 4096).encode() if t.interactive else None

    conf_mode = f"--{t.mode}"
    k_target = [t.mode]
    if t.mode == "defconfig":
        conf_mode += f"={t.testdir / str(t.defconfig)}"
        k_target.append(str(t.testdir / str(t.defconfig)))
    elif t.mode == "savedefconfig":
        conf_mode += "=defconfig"

    with tempfile.TemporaryDirectory(dir=ctx.tmp, prefix="ktest-") as td:
        odir, kdir = Path(td) / "oracle", Path(td) / "ktailor"
        odir.mkdir()
        kdir.mkdir()
        if t.dot_config:
            shutil.copyfile(t.testdir / t.dot_config, odir / ".config")
            shutil.copyfile(t.testdir / t.dot_config, kdir / ".config")
        out_name = t.out_file
        orc = run_process([str(tree.conf), conf_mode, "Kconfig"], {**ctx.base_env, **env}, env,
                          odir, ORACLE_TIMEOUT, stdin)
        orc.output = read_if(odir / out_name) if out_name else orc.stdout.encode()
        account(result, orc)
        result.oracle_failed = orc.rc != 0

        if t.mode == "savedefconfig":
            k_target += ["--output", str(kdir / "defconfig")]
        argv = [*k_target, "-C", str(t.testdir), "--kconfig", "Kconfig",
                "--config", str(kdir / ".config"), "--kconfig-dialect", tree.version]
        kt = run_ktailor(ctx, argv, env, kdir, kdir / (out_name or ".none"), stdin)
        if not out_name:
            kt.output = kt.stdout.encode()
    result.ktailor_seconds = kt.seconds

    if (t.interactive and kt.rc != 0 and UNSUPPORTED_RE.search(kt.stderr)
            and t.mode in kt.stderr):
        first = kt.stderr.strip().splitlines()[0] if kt.stderr.strip() else ""
        result.status = "not-run"
        result.report = f"ktailor does not support interactive mode {t.mode} ({first})"
        return result

    compare(result, orc, kt, {".config": "config", None: "stdout"}.get(out_name, out_name))
    if result.status != "pass" or orc.rc != 0:
        return result
    # Both succeeded and agree: ktailor must also pass the upstream test's own
    # assertions on stdout and stderr (for the preprocess tests they are the
    # whole point). Assertions on the config are left out, the comparison
    # above is stricter (and choice_randomize's are alternatives, not a
    # conjunction); so are error tests, where only failing matters, not the
    # wording.
    problems = []
    for method, expected_file in t.checks:
        if method.startswith("config_"):
            continue
        want = (t.testdir / expected_file).read_text()
        if not upstream_check(method, want, orc):
            log(f"warning: {case.name}: the C conf itself fails {method}('{expected_file}')")
            continue
        if not upstream_check(method, want, kt):
            stream = method.split("_")[0]
            got = kt.output.decode(errors="replace") if stream == "config" else getattr(kt, stream)
            problems.append(f"  {method}('{expected_file}') is false for ktailor "
                            f"(diff from the expected file):\n"
                            + unified_diff(want.encode(), got.encode(), stream, "expected"))
    if problems:
        result.status = "fail"
        result.report = (f"ktailor fails the upstream test's assertions\n"
                         + commands_text(orc, kt) + "".join(problems))
    return result


def upstream_check(method: str, want: str, run: Run) -> bool:
    stream, how = method.split("_")
    if stream == "config":
        got = run.output.decode(errors="replace") if run.output is not None else ""
    else:
        got = getattr(run, stream)
    return want in got if how == "contains" else want == got


# --- driver ------------------------------------------------------------------------


CATEGORY_ORDER = ["olddefconfig", "savedefconfig", "defconfig", "allnoconfig", "allyesconfig",
                  "allmodconfig", "alldefconfig", "tinyconfig", "randconfig", "randconfig-self",
                  "kconfig-tests"]


def keep_files(keep: Path, result: Result) -> None:
    where = keep / result.case.name
    where.mkdir(parents=True, exist_ok=True)
    if result.case.input:
        shutil.copyfile(result.case.input, where / "input")
    for name, data in result.files.items():
        (where / name).write_bytes(data)
    (where / "report").write_text(result.report)


def print_timing(results: list[Result], wall: float, jobs: int) -> None:
    rows: dict[str, list[float]] = {}
    for r in results:
        row = rows.setdefault(r.case.category, [0, 0, 0, 0.0, 0.0])
        row[0] += 1
        row[1] += r.oracle_runs
        row[2] += r.oracle_cached
        row[3] += r.oracle_seconds
        row[4] += r.ktailor_seconds
    print(f"timing (seconds summed over cases; {wall:.1f} s wall clock with -j {jobs}):")
    print(f"  {'category':<16}{'cases':>7}{'oracle runs':>13}{'cached':>8}"
          f"{'oracle s':>10}{'ktailor s':>11}")
    for cat in sorted(rows, key=lambda c: CATEGORY_ORDER.index(c) if c in CATEGORY_ORDER else 99):
        n, runs, cached, o, k = rows[cat]
        print(f"  {cat:<16}{n:>7}{runs:>13}{cached:>8}{o:>10.1f}{k:>11.1f}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Compare ktailor kconfig with the kernel's C conf on real trees.",
        epilog="Prepare the trees first with scripts/setup-trees.sh. "
               "Exit status: 0 all passed, 1 some case failed, 2 the harness could not run.")
    p.add_argument("--slice", choices=("ci", "full"), default="ci",
                   help="which part of the matrix to run (default: ci)")
    p.add_argument("--only", metavar="REGEX", help="run only cases whose name matches REGEX")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                   help="parallel workers (default: number of CPUs)")
    p.add_argument("--trees", type=Path,
                   default=Path(os.environ.get("KTAILOR_TREES",
                                               Path.home() / ".cache" / "ktailor" / "trees")),
                   help="trees directory (default: $KTAILOR_TREES or ~/.cache/ktailor/trees)")
    p.add_argument("--ktailor", type=Path, default=release_bin(),
                   help="ktailor binary (default: the release build, see scripts/binpath.py)")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="keep inputs, outputs and logs of failing cases under DIR/CASE/")
    p.add_argument("--no-oracle-cache", action="store_true",
                   help="neither read nor write TREES/oracle-cache")
    p.add_argument("--oracle-only", action="store_true",
                   help="run (and cache) the oracle side only; ktailor is not needed")
    p.add_argument("--list", action="store_true", help="print the selected case names and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="also print passing cases")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except SetupError as e:
        print(f"difftest: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("difftest: interrupted", file=sys.stderr)
        return 130


def run(args: argparse.Namespace) -> int:
    trees_dir = args.trees.expanduser().resolve()
    trees = {v: load_tree(trees_dir, v) for v in TREE_VERSIONS}
    cases = build_matrix(trees, args.slice)
    if args.only:
        try:
            only = re.compile(args.only)
        except re.error as e:
            raise SetupError(f"--only: bad regular expression: {e}") from e
        cases = [c for c in cases if only.search(c.name)]
    if args.list:
        for c in cases:
            print(c.name + (f"  [not-run: {c.not_run}]" if c.not_run else ""))
        print(f"difftest: {len(cases)} cases")
        return 0
    if args.oracle_only:
        cases = [c for c in cases if c.ktest is None and not c.not_run]
    elif not (args.ktailor.is_file() and os.access(args.ktailor, os.X_OK)):
        raise SetupError(f"ktailor binary not found at {args.ktailor}; build it with "
                         "`cargo build --release` or pass --ktailor PATH")
    if args.jobs < 1:
        raise SetupError("-j must be at least 1")
    args.ktailor = args.ktailor.resolve() if args.ktailor.exists() else args.ktailor

    ctx = Context(args, trees_dir, trees)
    start = time.monotonic()
    results: list[Result] = []
    last_progress = start
    print_lock = threading.Lock()

    def work(case: Case) -> Result:
        if args.oracle_only:
            return oracle_only_case(ctx, case)
        return run_case(ctx, case)

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(work, c) for c in cases]
            try:
                for fut in concurrent.futures.as_completed(futures):
                    r = fut.result()
                    results.append(r)
                    with print_lock:
                        report_result(args, r)
                    now = time.monotonic()
                    if now - last_progress > 30 or len(results) == len(cases):
                        last_progress = now
                        failed = sum(r.status == "fail" for r in results)
                        log(f"[{len(results)}/{len(cases)}] {failed} failed, "
                            f"{now - start:.0f} s")
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                kill_all()
                raise
    finally:
        shutil.rmtree(ctx.tmp, ignore_errors=True)

    wall = time.monotonic() - start
    results.sort(key=lambda r: r.case.name)
    passed = sum(r.status == "pass" for r in results)
    failed = sum(r.status == "fail" for r in results)
    not_run = [r for r in results if r.status == "not-run"]

    print()
    print_timing(results, wall, args.jobs)
    # kconfig-tests that expect an error are left out: failing is their point.
    oracle_failed = [r.case.name for r in results
                     if r.oracle_failed and r.case.category != "kconfig-tests"]
    if oracle_failed:
        print(f"the oracle itself failed in {len(oracle_failed)} cases "
              "(ktailor is expected to fail there too):")
        for name in oracle_failed:
            print(f"  {name}")
    for r in not_run:
        print(f"not-run: {r.case.name}: {r.report}")
    if failed and not args.keep:
        print("(the paths above were temporary; --keep DIR keeps the files of failing cases)")
    if args.oracle_only:
        print(f"difftest: oracle-only, {len(results)} cases prepared")
        return 0
    summary = f"difftest: {passed} passed, {failed} failed"
    if not_run:
        summary += f", {len(not_run)} not-run"
    print(summary)
    return 1 if failed else 0


def oracle_only_case(ctx: Context, case: Case) -> Result:
    """Run the oracle side of a make case, to fill the cache and time it."""
    result = Result(case, "pass")
    config = case.input.read_bytes() if case.input else None
    env: dict[str, str] = {}
    if case.category in ("randconfig", "randconfig-self"):
        gen = oracle_make(ctx, case.tree, case.arch, "randconfig", None,
                          {"KCONFIG_SEED": str(case.seed)})
        account(result, gen)
        result.oracle_failed = gen.rc != 0
        if case.category == "randconfig-self" or gen.output is None:
            return result
        config = gen.output
    output = "defconfig" if case.target == "savedefconfig" else "config"
    make_target = case.defconfig if case.target == "defconfig" and case.defconfig else case.target
    orc = oracle_make(ctx, case.tree, case.arch, make_target, config, env, output)
    account(result, orc)
    if case.target == "defconfig":
        base, why = defconfig_file(case, orc)
        if base is None:
            result.status, result.report = "not-run", why
            return result
    result.oracle_failed = orc.rc != 0
    return result


def report_result(args: argparse.Namespace, r: Result) -> None:
    if r.status == "fail":
        print(f"FAIL {r.case.name}: {r.report}", end="" if r.report.endswith("\n") else "\n")
        if args.keep:
            keep_files(args.keep, r)
            print(f"  kept in {args.keep / r.case.name}")
        sys.stdout.flush()
    elif args.verbose:
        print(f"{'ok  ' if r.status == 'pass' else 'skip'} {r.case.name}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
