"""Run a script inside User-Mode Linux (Debian's linux.uml), for kernel features this machine's
own kernel lacks (IPVS).

The guest boots with the machine's root filesystem (hostfs), so the checkout, its virtualenv
and Ansible run inside unchanged. ``uml_init.sh`` mounts tmpfs over /run, /dev/shm and /tmp
first, loads the kernel modules asked for from /usr/lib/uml/modules, runs the script and
writes its output and exit status into a result directory under /var/tmp; then it halts.

UML 6.1 cannot restore the FPU state of its processes on CPUs whose XSAVE area is larger than
it expects (AVX-512, AMX): the guest's init dies with "ptrace set fp regs failed". The LD_PRELOAD
shim in ``uml_xstate_shim.c`` (built here with the system C compiler) completes those
requests; glibc in the guest is kept off AVX-512 so the state the shim carries over is unused.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
UML = "/usr/bin/linux.uml"
MODULES_DIR = "/usr/lib/uml/modules"
INIT = os.path.join(HERE, "uml_init.sh")
SHIM_SOURCE = os.path.join(HERE, "uml_xstate_shim.c")
IPVS_MODULES = ("ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_wlc", "ip_vs_lc", "ip_vs_sh", "veth")
NO_AVX512 = "glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD,-AVX512ER,-AVX512PF"


def problem():
    """Why UML cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "UML tests need root (they create network namespaces inside the guest)"
    if not os.access(UML, os.X_OK):
        return "%s missing: apt-get install user-mode-linux kmod ipvsadm" % UML
    if not os.path.isdir(MODULES_DIR) or not os.listdir(MODULES_DIR):
        return "%s has no module tree (package user-mode-linux)" % MODULES_DIR
    for tool in ("modprobe", "ipvsadm", "gcc"):
        if shutil.which(tool) is None:
            return "%s missing (packages kmod, ipvsadm, gcc)" % tool
    return None


def build_shim(directory):
    """Compile the XSAVE shim into ``directory``; return its path."""
    path = os.path.join(directory, "uml_xstate_shim.so")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", path, SHIM_SOURCE, "-ldl"], check=True,
                   capture_output=True, text=True)
    return path


class Result:
    """What a guest run left: exit status of the script (None if it never finished), its files."""

    def __init__(self, directory, console, seconds):
        self.console = console
        self.seconds = seconds
        self.files = {}
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not name.endswith(".so"):
                with open(path, encoding="utf-8", errors="replace") as handle:
                    self.files[name] = handle.read()
        self.rc = int(self.files["rc"].strip()) if self.files.get("rc", "").strip() else None
        self.log = self.files.get("log", "")

    def explain(self):
        """Everything needed to see why a guest run failed."""
        return "guest exit status %s after %.0f s\n--- guest output ---\n%s\n--- console (tail) ---\n%s" % (
            self.rc, self.seconds, self.log[-20000:], self.console[-4000:])


def _boot(command, env, timeout):
    """Run UML in its own process group; kill the whole group on timeout. Returns console text."""
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=env, start_new_session=True) as proc:
        try:
            output = proc.communicate(timeout=timeout)[0]
            return output.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output = proc.communicate()[0]
            return "TIMEOUT after %s s\n%s" % (timeout, output.decode("utf-8", "replace"))


def run(script, modules=IPVS_MODULES, timeout=300, mem="1G", netns=None, tap=None, directory=None):
    """Boot UML, run shell ``script`` inside (cwd: the checkout), return a Result.

    The script may write files into $VIP_UML_DIR; they come back in Result.files. The
    directory (under /var/tmp) is removed afterwards, unless the caller made it (``directory``).
    ``netns`` and ``tap``: UML runs in that network namespace of the machine (made by the caller) and its
    eth0 is the TAP device ``tap`` there (the guest's link to the machine, tests/lab/uml_controller.py).
    """
    own = directory is None
    directory = directory or tempfile.mkdtemp(prefix="vip-uml-", dir="/var/tmp")
    try:
        with open(os.path.join(directory, "run.sh"), "w", encoding="utf-8") as handle:
            handle.write(script)
        env = dict(os.environ, LD_PRELOAD=build_shim(directory), TMPDIR=directory)
        command = [UML, "mem=%s" % mem, "uml_dir=%s" % directory, "rootfstype=hostfs", "rootflags=/", "rw", "init=%s" % INIT,
                   "con=null", "con0=fd:0,fd:1", "VIP_UML_DIR=%s" % directory, "VIP_UML_CWD=%s" % TOP,
                   "VIP_UML_MODULES=%s" % ",".join(modules), "GLIBC_TUNABLES=%s" % NO_AVX512]
        if tap:
            command.insert(1, "eth0=tuntap,%s" % tap)
        if netns:
            command = ["ip", "netns", "exec", netns] + command
        started = time.monotonic()
        console = _boot(command, env, timeout)
        return Result(directory, console, time.monotonic() - started)
    finally:
        if own:
            shutil.rmtree(directory, ignore_errors=True)
